//! The HTTP API (axum, JSON): enqueue (writes go through the queue, 202), object state
//! (cacheable: ETag and Last-Modified), jobs, sync now, Soukosync-compatible
//! `/api/syncall`, `/api/syncast`, `/api/synlast`, `/healthz` and `/metrics`.

mod auth;
mod handlers;
mod jobs;
mod metrics;

pub(crate) use metrics::install as install_metrics;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch, post};
use outsync_queue::Queue;
use outsync_queue::Worker;
use outsync_queue::sea_orm::DatabaseConnection;
use std::sync::Arc;

pub(crate) use auth::ApiToken;
pub(crate) use handlers::exception;

/// The largest request body accepted (enqueue batches included).
pub(crate) const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// What the handlers share.
pub(crate) struct AppState {
    pub(crate) db: DatabaseConnection,
    pub(crate) queue: Queue,
    pub(crate) worker: Arc<Worker>,
    pub(crate) token: ApiToken,
    /// Dashboard sessions.
    pub(crate) sessions: crate::dashboard::Sessions,
    /// The configured providers.
    pub(crate) providers: Vec<Arc<outsync_core::ConfiguredProvider>>,
    /// The source schema.
    pub(crate) schema: Arc<outsync_core::schema::SourceSchema>,
    /// The configured object sources: an enqueue also enqueues their `related` objects.
    pub(crate) sources: Option<Arc<outsync_sources::Sources>>,
    /// Builds a provider with other mappings (the editor checks a version with it before
    /// saving it).
    pub(crate) reloader: Arc<crate::mapping_versions::SettingsReloader>,
    /// Turns `true` when the service is asked to stop: open event streams end then, so
    /// that they never hold a shutdown up.
    pub(crate) stopping: tokio::sync::watch::Receiver<bool>,
}

/// Completes when `stopping` turns `true` (or its sender is gone).
pub(crate) async fn stopped(mut stopping: tokio::sync::watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
}

/// The router.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/api/enqueue", post(handlers::enqueue))
        .route(
            "/api/objects/{object_type}/{object_id}",
            get(handlers::object),
        )
        .route("/api/jobs", get(jobs::list))
        .route("/api/jobs/retry", post(jobs::retry))
        .route("/api/jobs/cancel", post(jobs::cancel))
        .route("/api/jobs/{id}/retry", post(handlers::retry))
        .route("/api/jobs/{id}/cancel", post(handlers::cancel))
        .route("/api/jobs/{id}/run", post(handlers::run_now))
        .route("/api/sync", post(handlers::sync_now))
        .route("/api/syncall", patch(handlers::syncall))
        .route("/api/syncast", patch(handlers::syncast))
        .route("/api/synlast", get(handlers::synlast))
        .route("/api/mappings/validate", post(handlers::validate_mappings))
        .route("/metrics", get(metrics::metrics))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    Router::new()
        .route("/healthz", get(handlers::healthz))
        .merge(api)
        .merge(crate::dashboard::router(state.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Unknown paths: a JSON body, as every other API error has.
async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    handlers::problem(
        axum::http::StatusCode::NOT_FOUND,
        format!("no such path: {}", uri.path()),
    )
}

/// A known path with a method it does not take.
async fn method_not_allowed(
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> axum::response::Response {
    handlers::problem(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        format!("{} does not take {method}", uri.path()),
    )
}
