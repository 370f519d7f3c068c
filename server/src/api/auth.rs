//! Bearer-token authentication with a constant-time comparison.

use super::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::fmt;
use std::sync::Arc;

/// The API token. `Debug` never shows it.
#[derive(Clone)]
pub(crate) struct ApiToken(outsync_core::Secret);

impl ApiToken {
    pub(crate) fn new(token: String) -> Self {
        Self(outsync_core::Secret::new(token))
    }

    /// Compares in time independent of where the inputs differ.
    pub(crate) fn matches(&self, candidate: &str) -> bool {
        let expected = self.0.expose().as_bytes();
        let given = candidate.as_bytes();
        let mut difference = expected.len() ^ given.len();
        for (index, byte) in expected.iter().enumerate() {
            difference |= usize::from(byte ^ given.get(index).copied().unwrap_or(0));
        }
        difference == 0
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(***)")
    }
}

pub(crate) async fn require_token(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    // The scheme is case-insensitive (RFC 9110, 11.1): `bearer` is as good as `Bearer`.
    let given = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match given {
        Some(token) if state.token.matches(token) => next.run(request).await,
        _ => (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Bearer")],
            axum::Json(json!({"error": "unauthorized", "message": "send the API token as `Authorization: Bearer <token>`"})),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::ApiToken;

    #[test]
    fn compares_whole_tokens() {
        let token = ApiToken::new("s3cret".into());
        assert!(token.matches("s3cret"));
        assert!(!token.matches("s3cre"));
        assert!(!token.matches("s3cret!"));
        assert!(!token.matches(""));
        assert_eq!(format!("{token:?}"), "ApiToken(***)");
    }
}
