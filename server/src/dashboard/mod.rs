//! The dashboard: server-rendered HTML (maud templates; CSS and scripts embedded, no CDN)
//! behind a login with the API token. Overview (queue, throughput chart, recent runs),
//! sync problems (filtered pages with totals, bulk retry or cancel), object search and
//! pages, provider pages with their mappings and a mapping editor that validates through
//! the server. Pages marked live fetch their content again when the server says the queue
//! changed (server-sent events).

mod editor;
mod events;
mod layout;
mod objects;
mod overview;
mod pages;
mod problems;
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
        .route("/dashboard", get(overview::overview))
        .route(
            "/dashboard/problems",
            get(problems::problems).post(problems::act),
        )
        .route("/dashboard/object", get(objects::find))
        .route("/dashboard/object/sync", post(objects::sync_now))
        .route(
            "/dashboard/objects/{object_type}/{object_id}",
            get(objects::by_path),
        )
        .route("/dashboard/providers/{provider}", get(editor::provider))
        .route(
            "/dashboard/providers/{provider}/editor",
            get(editor::editor),
        )
        .route("/dashboard/mappings/validate", post(editor::validate))
        .route(
            "/dashboard/providers/{provider}/versions",
            post(editor::save_version),
        )
        .route(
            "/dashboard/providers/{provider}/versions/{version}/diff",
            get(editor::version_diff),
        )
        .route(
            "/dashboard/providers/{provider}/rollback",
            post(editor::rollback),
        )
        .route(
            "/dashboard/providers/{provider}/preview",
            post(editor::preview),
        )
        .route("/dashboard/events", get(events::events))
        .route("/dashboard/logout", post(pages::logout))
        .route_layer(axum::middleware::from_fn_with_state(state, require_session));
    Router::new()
        .route(
            "/dashboard/login",
            get(pages::login_form).post(pages::login),
        )
        .route("/dashboard/static/{file}", get(layout::static_file))
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
