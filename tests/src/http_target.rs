//! A provider that pushes each record to an HTTP target (`PUT {base}/objects/{code}` with
//! the mapped properties as JSON and a bearer token), classifying answers the way a real
//! provider does: 429 and 5xx and network errors are recoverable (429 with its
//! `Retry-After`), other 4xx are permanent.

use crate::scripted::record_mappings;
use outsync_core::{
    ConfiguredProvider, OutboundSyncProvider, SyncAction, SyncError, SyncOutcome, SyncRequest,
    async_trait,
};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// The provider (identifier `http_target`).
pub struct HttpTargetProvider {
    base: String,
    token: String,
    client: reqwest::Client,
    max_attempts: u32,
}

impl HttpTargetProvider {
    /// Pushes to `base` with `token`; a request waits at most `timeout`. The provider is
    /// `http_target` with [`record_mappings`].
    pub fn configured(
        base: &str,
        token: &str,
        timeout: Duration,
        max_attempts: u32,
    ) -> Arc<ConfiguredProvider> {
        let provider = Self {
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            client: reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .expect("HTTP client"),
            max_attempts,
        };
        Arc::new(ConfiguredProvider::new(
            "http_target",
            record_mappings(),
            Arc::new(provider),
        ))
    }
}

#[async_trait]
impl OutboundSyncProvider for HttpTargetProvider {
    fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    async fn sync_object_with_properties(
        &self,
        request: SyncRequest<'_>,
    ) -> Result<Option<SyncOutcome>, SyncError> {
        let mut body = Map::new();
        body.insert("code".into(), Value::from(request.id_value));
        for property in &request.properties {
            body.insert(property.external_field.to_string(), property.value.clone());
        }
        let url = format!("{}/objects/{}", self.base, request.id_value);
        let response = self
            .client
            .put(&url)
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .map_err(|error| {
                let message = format!("the target did not answer: {error}");
                if error.is_connect() {
                    SyncError::unavailable(message)
                } else {
                    SyncError::recoverable(message)
                }
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(Some(SyncOutcome::new(SyncAction::Update, &request)));
        }
        let message = format!("the target answered HTTP {}", status.as_u16());
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let wait = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|text| text.trim().parse::<u64>().ok())
                .map_or(Duration::from_secs(1), Duration::from_secs);
            return Err(SyncError::recoverable(message).with_retry_after(wait));
        }
        if matches!(status.as_u16(), 502..=504) {
            return Err(SyncError::unavailable(message));
        }
        if status.is_server_error() {
            return Err(SyncError::recoverable(message));
        }
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(SyncError::config(message));
        }
        Err(SyncError::permanent(message))
    }
}
