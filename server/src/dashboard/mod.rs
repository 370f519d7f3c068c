//! The dashboard: server-rendered HTML (no external CDN) behind a login with the API token.
//! Overview, sync problems (retry or cancel several), object pages, provider pages with
//! their mappings and a mapping editor that validates through the server.

mod editor;
mod html;
mod pages;
mod session;

use crate::api::AppState;
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use std::sync::Arc;

pub(crate) use session::Sessions;

/// Routes under `/dashboard`.
pub(crate) fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    let protected = Router::new()
        .route("/dashboard", get(pages::overview))
        .route(
            "/dashboard/problems",
            get(pages::problems).post(pages::act_on_problems),
        )
        .route(
            "/dashboard/objects/{object_type}/{object_id}",
            get(pages::object),
        )
        .route(
            "/dashboard/objects/{object_type}/{object_id}/sync",
            post(pages::sync_object_now),
        )
        .route("/dashboard/providers/{provider}", get(editor::provider))
        .route(
            "/dashboard/providers/{provider}/editor",
            get(editor::editor),
        )
        .route("/dashboard/mappings/validate", post(editor::validate))
        .route("/dashboard/logout", post(pages::logout))
        .route_layer(axum::middleware::from_fn_with_state(state, require_session));
    Router::new()
        .route(
            "/dashboard/login",
            get(pages::login_form).post(pages::login),
        )
        .merge(protected)
}

/// Sends visitors without a live session to the login page.
async fn require_session(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let live = session::session_id(request.headers()).and_then(|id| state.sessions.csrf(&id));
    match live {
        Some(_) => next.run(request).await,
        None => Redirect::to("/dashboard/login").into_response(),
    }
}
