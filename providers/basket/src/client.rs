//! HTTP to Basket and the meaning of its answers.

use crate::config::BasketConfig;
use outsync_core::SyncError;
use outsync_http::status::{transient_error, transport_error, truncated};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// Basket's error codes that change what outsync does.
pub(crate) mod codes {
    pub(crate) const INVALID_EMAIL: i64 = 2;
    pub(crate) const UNKNOWN_EMAIL: i64 = 3;
    pub(crate) const USAGE_ERROR: i64 = 5;
    pub(crate) const AUTH_ERROR: i64 = 7;
    pub(crate) const INVALID_NEWSLETTER: i64 = 9;
}

/// What a Basket request was, for messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    pub(crate) what: &'a str,
    pub(crate) path: &'a str,
}

/// A Basket answer that was not an error: the body.
pub(crate) type Answer = Value;

/// An HTTP answer before interpretation.
#[derive(Debug)]
pub(crate) struct RawAnswer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl RawAnswer {
    /// Basket's error code, if the body is its error envelope.
    pub(crate) fn code(&self) -> Option<i64> {
        envelope(&self.body).0
    }
}

/// A client for one Basket.
#[derive(Debug, Clone)]
pub struct BasketClient {
    http: reqwest::Client,
    config: BasketConfig,
}

const BODY_LIMIT: usize = 1000;

impl BasketClient {
    /// A client with `config`'s timeout.
    pub fn new(config: BasketConfig) -> Result<Self, SyncError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("outsync-basket/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| SyncError::config(format!("cannot build the HTTP client: {error}")))?;
        Ok(Self { http, config })
    }

    /// The configuration.
    pub fn config(&self) -> &BasketConfig {
        &self.config
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url)
    }

    pub(crate) async fn post_json(
        &self,
        call: Call<'_>,
        body: &Value,
    ) -> Result<Answer, SyncError> {
        let request = self
            .http
            .post(self.url(call.path))
            .header("X-Api-Key", self.config.api_key.expose())
            .json(body);
        self.send(call, request).await
    }

    pub(crate) async fn post_form(
        &self,
        call: Call<'_>,
        form: &[(&str, String)],
    ) -> Result<Answer, SyncError> {
        let request = self
            .http
            .post(self.url(call.path))
            .header("X-Api-Key", self.config.api_key.expose())
            .form(form);
        self.send(call, request).await
    }

    async fn send(
        &self,
        call: Call<'_>,
        request: reqwest::RequestBuilder,
    ) -> Result<Answer, SyncError> {
        let raw = self.send_raw(call, request).await?;
        classify(call, raw.status, &raw.headers, &raw.body)
    }

    /// Sends and returns the raw answer (transport failures are already errors).
    pub(crate) async fn send_raw(
        &self,
        call: Call<'_>,
        request: reqwest::RequestBuilder,
    ) -> Result<RawAnswer, SyncError> {
        let response = request
            .send()
            .await
            .map_err(|error| self.transport_error(call, error))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .text()
            .await
            .map_err(|error| self.transport_error(call, error))?;
        Ok(RawAnswer {
            status,
            headers,
            body,
        })
    }

    /// A GET with the API key, answered raw.
    pub(crate) async fn get_raw(
        &self,
        call: Call<'_>,
        query: &[(&str, &str)],
    ) -> Result<RawAnswer, SyncError> {
        let request = self
            .http
            .get(self.url(call.path))
            .header("X-Api-Key", self.config.api_key.expose())
            .query(query);
        self.send_raw(call, request).await
    }

    fn transport_error(&self, call: Call<'_>, error: reqwest::Error) -> SyncError {
        // reqwest's messages carry the URL (no credentials: the key travels in a header).
        if error.is_timeout() {
            return SyncError::recoverable(format!(
                "{}: Basket did not answer within {} s",
                call.what,
                self.config.timeout.as_secs_f64()
            ))
            .with_source(error);
        }
        transport_error(call.what, "Basket", &self.config.base_url, error)
    }
}

/// Basket's error envelope: `{"status": "error", "desc": …, "code": N}`.
fn envelope(body: &str) -> (Option<i64>, Option<String>) {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let code = parsed
        .as_ref()
        .and_then(|v| v.get("code"))
        .and_then(Value::as_i64);
    let desc = parsed
        .as_ref()
        .and_then(|v| v.get("desc"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    (code, desc)
}

/// Turns an HTTP answer into the body or the error that says what happens next.
pub(crate) fn classify(
    call: Call<'_>,
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
) -> Result<Answer, SyncError> {
    let (code, desc) = envelope(body);
    let detail = || {
        format!(
            "HTTP {} from {}: {}",
            status.as_u16(),
            call.path,
            truncated(body, BODY_LIMIT)
        )
    };
    let described = |fallback: &str| desc.clone().unwrap_or_else(|| fallback.to_owned());
    if status.is_success() {
        let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        if parsed.get("status").and_then(Value::as_str) == Some("ok") {
            return Ok(parsed);
        }
        return Err(
            error_for_code(call, code, &described("unexpected answer"), status)
                .unwrap_or_else(|| {
                    SyncError::recoverable(format!(
                        "{}: Basket answered {} without status \"ok\"",
                        call.what,
                        status.as_u16()
                    ))
                })
                .with_full_message(detail()),
        );
    }
    if let Some(error) = error_for_code(call, code, &described("error"), status) {
        return Err(error.with_full_message(detail()));
    }
    if let Some(error) = transient_error(call.what, "Basket", status, headers) {
        return Err(error.with_full_message(detail()));
    }
    let error = match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => SyncError::config(format!(
            "{}: Basket refused the API key (HTTP {}); check the provider's api_key setting",
            call.what,
            status.as_u16()
        )),
        StatusCode::NOT_FOUND => SyncError::config(format!(
            "{}: Basket has no endpoint {} (HTTP 404); check the provider's base_url setting",
            call.what, call.path
        )),
        StatusCode::BAD_REQUEST => SyncError::permanent(format!(
            "{}: Basket rejected the data (HTTP 400): {}",
            call.what,
            described("invalid request")
        )),
        status => SyncError::recoverable(format!(
            "{}: unexpected answer from Basket (HTTP {})",
            call.what,
            status.as_u16()
        )),
    };
    Err(error.with_full_message(detail()))
}

/// Errors decided by Basket's error code rather than the HTTP status.
fn error_for_code(
    call: Call<'_>,
    code: Option<i64>,
    desc: &str,
    status: StatusCode,
) -> Option<SyncError> {
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        return None;
    }
    Some(match code? {
        codes::AUTH_ERROR => SyncError::config(format!(
            "{}: Basket refused the API key (code 7: {desc}); check the provider's api_key setting",
            call.what
        )),
        codes::USAGE_ERROR if status == StatusCode::NOT_FOUND => SyncError::config(format!(
            "{}: Basket has no endpoint {} (code 5: {desc}); check the provider's base_url setting",
            call.what, call.path
        )),
        codes::INVALID_EMAIL => SyncError::permanent(format!(
            "{}: Basket says the e-mail address is invalid (code 2: {desc})",
            call.what
        )),
        codes::INVALID_NEWSLETTER => SyncError::config(format!(
            "{}: Basket does not know a newsletter (code 9: {desc}); check the newsletter names",
            call.what
        )),
        _ => return None,
    })
}
