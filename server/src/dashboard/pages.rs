//! Logging in and out, and what every page shares: the session's CSRF token, error pages.

use super::layout::{login_page, message, respond};
use super::session::{self, COOKIE};
use crate::api::AppState;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use std::sync::Arc;

pub(super) type Shared = State<Arc<AppState>>;

pub(super) fn csrf(state: &AppState, headers: &HeaderMap) -> String {
    session::session_id(headers)
        .and_then(|id| state.sessions.csrf(&id))
        .unwrap_or_default()
}

pub(super) fn csrf_ok(state: &AppState, headers: &HeaderMap, given: Option<&str>) -> bool {
    let expected = csrf(state, headers);
    !expected.is_empty() && given == Some(expected.as_str())
}

pub(super) fn forbidden() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Forbidden",
        "The form's CSRF token is missing or stale: reload the page and try again.",
    )
}

pub(super) fn failure(error: &dyn std::fmt::Display) -> Response {
    message(StatusCode::SERVICE_UNAVAILABLE, "Error", &error.to_string())
}

pub(crate) async fn login_form() -> Html<String> {
    Html(login_page(None).into_string())
}

pub(crate) async fn login(
    State(state): Shared,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let token = fields
        .iter()
        .find(|(key, _)| key == "token")
        .map(|(_, value)| value.as_str());
    if !token.is_some_and(|token| state.token.matches(token)) {
        return respond(
            StatusCode::UNAUTHORIZED,
            login_page(Some("That is not the API token.")),
        );
    }
    let id = state.sessions.open();
    let cookie = format!("{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/dashboard");
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, cookie),
            (header::LOCATION, "/dashboard".to_owned()),
        ],
    )
        .into_response()
}

pub(crate) async fn logout(State(state): Shared, headers: HeaderMap) -> Response {
    if let Some(id) = session::session_id(&headers) {
        state.sessions.close(&id);
    }
    let cookie = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/dashboard; Max-Age=0");
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, cookie),
            (header::LOCATION, "/dashboard/login".to_owned()),
        ],
    )
        .into_response()
}
