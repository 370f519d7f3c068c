//! Exchanging a user and password for a bearer token (Soukosync's credentials mode), for
//! object sources and providers alike: wrap it in a [`TokenSource`](crate::token::TokenSource).

use crate::token::{IssuedToken, TokenError, TokenFetcher};
use outsync_core::Secret;
use serde_json::{Value, json};
use std::time::Duration;

/// `POST {"username", "password"}` to a token endpoint, which answers
/// `{"token" | "access_token": "…", "expires_in": seconds?}`.
pub struct PasswordLogin {
    client: reqwest::Client,
    url: String,
    user: String,
    password: Secret,
}

impl PasswordLogin {
    /// Logs `user` in at `url`.
    pub fn new(client: reqwest::Client, url: String, user: String, password: Secret) -> Self {
        Self {
            client,
            url,
            user,
            password,
        }
    }
}

#[async_trait::async_trait]
impl TokenFetcher for PasswordLogin {
    async fn fetch(&self) -> Result<IssuedToken, TokenError> {
        let body = json!({"username": self.user, "password": self.password.expose()});
        let response = self
            .client
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .map_err(|error| {
                TokenError::Connection(format!(
                    "cannot reach the token endpoint {}: {error}",
                    self.url
                ))
            })?;
        let status = response.status();
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(TokenError::Connection(format!(
                "the token endpoint {} answered HTTP {}",
                self.url,
                status.as_u16()
            )));
        }
        if !status.is_success() {
            return Err(TokenError::Rejected(format!(
                "the token endpoint {} refused user \"{}\" (HTTP {})",
                self.url,
                self.user,
                status.as_u16()
            )));
        }
        let answer: Value = response.json().await.map_err(|error| {
            TokenError::Rejected(format!(
                "the token endpoint {} did not answer JSON: {error}",
                self.url
            ))
        })?;
        let token = ["token", "access_token"]
            .into_iter()
            .find_map(|key| answer.get(key).and_then(Value::as_str))
            .ok_or_else(|| {
                TokenError::Rejected(format!(
                    "the token endpoint {} answered without \"token\" or \"access_token\"",
                    self.url
                ))
            })?;
        Ok(IssuedToken {
            token: Secret::new(token).expose().to_owned(),
            expires_in: answer
                .get("expires_in")
                .and_then(Value::as_f64)
                .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
                .map(Duration::from_secs_f64),
        })
    }
}
