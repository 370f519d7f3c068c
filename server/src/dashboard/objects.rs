//! Object pages: find an object by type and id (or id alone), see its jobs, what each
//! provider stored for it (Basket's error detail, Mailman's membership: the result's
//! info), its runs, and sync it now.

use super::layout::{ago, message, object_href, page, respond};
use super::pages::{Shared, csrf, csrf_ok, failure, forbidden};
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use outsync_core::ObjectRef;
use outsync_queue::{JobFilter, JobState, ObjectState, RunOutcome};
use std::collections::HashMap;

/// `GET /dashboard/object?type=&id=`: the object's page; with the id alone, the object
/// types that have it (or its page, when only one does).
pub(crate) async fn find(
    State(state): Shared,
    headers: HeaderMap,
    Query(fields): Query<HashMap<String, String>>,
) -> Response {
    let id = fields.get("id").map(|id| id.trim()).unwrap_or_default();
    if id.is_empty() {
        return message(
            StatusCode::BAD_REQUEST,
            "Find an object",
            "Give an object id.",
        );
    }
    match fields
        .get("type")
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
    {
        Some(object_type) => show(&state, &headers, ObjectRef::new(object_type, id)).await,
        None => {
            let types = match state.queue.object_types_with_id(&state.db, id).await {
                Ok(types) => types,
                Err(error) => return failure(&error),
            };
            if let [only] = types.as_slice() {
                return Redirect::to(&object_href(&ObjectRef::new(only, id))).into_response();
            }
            let body = html! {
                @if types.is_empty() { p { "No job, result or run names an object with id " code { (id) } "." } }
                @else {
                    p { "Objects with id " code { (id) } ":" }
                    ul { @for object_type in &types {
                        li { a href=(object_href(&ObjectRef::new(object_type, id))) { (object_type) " " (id) } }
                    } }
                }
            };
            respond(StatusCode::OK, page("Find an object", false, body))
        }
    }
}

/// `GET /dashboard/objects/{type}/{id}` (ids without `/`; links use the query form).
pub(crate) async fn by_path(
    State(state): Shared,
    headers: HeaderMap,
    Path((object_type, object_id)): Path<(String, String)>,
) -> Response {
    show(&state, &headers, ObjectRef::new(object_type, object_id)).await
}

fn provider_section(found: &ObjectState, provider: &str, now: i64) -> Markup {
    let jobs: Vec<_> = found
        .jobs
        .iter()
        .filter(|j| j.provider == provider)
        .collect();
    let results: Vec<_> = found
        .results
        .iter()
        .filter(|r| r.provider == provider)
        .collect();
    let runs: Vec<_> = found
        .runs
        .iter()
        .filter(|r| r.provider == provider)
        .collect();
    html! {
        h2 { (provider) }
        h3 { "Jobs" }
        table {
            tr { th { "job" } th { "state" } th { "due" } th { "attempts" } th { "last error" } }
            @for job in &jobs {
                tr {
                    td { (job.id) }
                    td { (job.state.as_str()) }
                    // A time to wait for means something only to a waiting job.
                    td { @if matches!(job.state, JobState::Pending | JobState::Snoozed) { (ago(now, job.not_before)) } }
                    td { @if job.failed_attempts > 0 { (job.failed_attempts) } }
                    td {
                        (job.last_error.as_deref().unwrap_or(""))
                        @if let Some(detail) = job.last_error_detail.as_deref().filter(|d| !d.is_empty()) {
                            details { summary { "detail" } pre { (detail) } }
                        }
                    }
                }
            }
            @if jobs.is_empty() { tr { td.muted colspan="5" { "none waiting" } } }
        }
        h3 { "Stored results" }
        table {
            tr { th { "mapping" } th { "child" } th { "external object" } th { "action" } th { "link" } th { "stored info" } th { "sent" } }
            @for result in &results {
                tr {
                    td { (result.mapping_id) }
                    td { (result.child_id) }
                    td { (result.external_object_type) " " (result.external_id_field) "=" (result.id_value) }
                    td { (result.action.as_str()) }
                    td { @if let Some(href) = &result.external_link_href {
                        a href=(href) { (result.external_link_display_name.as_deref().unwrap_or(href)) }
                    } }
                    td { @if !result.info.is_null() { code { (result.info.to_string()) } } }
                    td { (ago(now, result.transmitted_at)) }
                }
            }
            @if results.is_empty() { tr { td.muted colspan="7" { "none" } } }
        }
        h3 { "Runs" }
        table {
            tr { th { "when" } th { "outcome" } th { "what was sent" } th { "error" } th { "duration" } }
            @for run in &runs {
                tr {
                    td { (ago(now, run.at)) }
                    td.ok[run.outcome == RunOutcome::Success] .bad[run.outcome != RunOutcome::Success] { (run.outcome.as_str()) }
                    td { @for (action, count) in &run.actions { (count) " × " (action) " " } }
                    td { (run.error.as_deref().unwrap_or("")) }
                    td { (run.duration_ms) " ms" }
                }
            }
            @if runs.is_empty() { tr { td.muted colspan="5" { "none" } } }
        }
    }
}

async fn show(state: &crate::api::AppState, headers: &HeaderMap, object: ObjectRef) -> Response {
    let found = match state.queue.object_state(&state.db, &object, 50).await {
        Ok(found) => found,
        Err(error) => return failure(&error),
    };
    let mut providers: Vec<&str> = found
        .results
        .iter()
        .map(|r| r.provider.as_str())
        .chain(found.jobs.iter().map(|j| j.provider.as_str()))
        .chain(found.runs.iter().map(|r| r.provider.as_str()))
        .collect();
    providers.sort_unstable();
    providers.dedup();
    let now = state.queue.now_ms();
    let body = html! {
        form method="post" action="/dashboard/object/sync" {
            input type="hidden" name="csrf" value=(csrf(state, headers));
            input type="hidden" name="type" value=(object.object_type);
            input type="hidden" name="id" value=(object.id);
            button { "Sync now" } " " span.muted { "runs the object's waiting jobs at once" } " "
            button name="force" value="1" { "Force a sync" } " " span.muted { "sends even what the target should already have" }
        }
        @if providers.is_empty() { p.muted { "outsync has no job, result or run of this object." } }
        @for provider in &providers { (provider_section(&found, provider, now)) }
    };
    let title = format!("{} {}", object.object_type, object.id);
    respond(StatusCode::OK, page(&title, true, body))
}

/// `POST /dashboard/object/sync` (`type`, `id`): runs the object's waiting jobs now.
pub(crate) async fn sync_now(
    State(state): Shared,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if !csrf_ok(&state, &headers, field("csrf").as_deref()) {
        return forbidden();
    }
    let (Some(object_type), Some(id)) = (field("type"), field("id")) else {
        return message(
            StatusCode::BAD_REQUEST,
            "Sync now",
            "The form lacks the object's type or id.",
        );
    };
    let object = ObjectRef::new(object_type, id);
    if field("force").is_some()
        && let Err(problem) = force(&state, &object).await
    {
        return message(StatusCode::CONFLICT, "Force a sync", &problem);
    }
    let filter = JobFilter {
        object: Some(object.clone()),
        limit: 100,
        ..JobFilter::default()
    };
    match state.queue.list_jobs(&state.db, &filter).await {
        Ok(jobs) => {
            for job in jobs.iter().filter(|j| j.state != JobState::Running) {
                if let Err(error) = state.worker.run_job_now(job.id).await {
                    tracing::warn!(%error, job = job.id, "sync now failed");
                }
            }
        }
        Err(error) => return failure(&error),
    }
    wait_while_running(&state, &filter).await;
    Redirect::to(&object_href(&object)).into_response()
}

/// Waits (up to [`RUNNING_PATIENCE`]) until no job `filter` selects is running: a job the
/// service's own worker took first ends before the page is shown again, so that the
/// operator sees its run.
async fn wait_while_running(state: &crate::api::AppState, filter: &JobFilter) {
    let deadline = tokio::time::Instant::now() + RUNNING_PATIENCE;
    while tokio::time::Instant::now() < deadline {
        match state.queue.list_jobs(&state.db, filter).await {
            Ok(jobs) if jobs.iter().any(|job| job.state == JobState::Running) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            _ => return,
        }
    }
}

/// How long "Sync now" waits for a job of the object that is running already.
const RUNNING_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// Forces the object's waiting jobs; without any, enqueues a forced job for every provider
/// that has synced the object, loaded from the object source when it runs.
async fn force(state: &crate::api::AppState, object: &ObjectRef) -> Result<(), String> {
    let forced = state
        .queue
        .force_waiting(&state.db, object)
        .await
        .map_err(|e| e.to_string())?;
    if forced > 0 {
        return Ok(());
    }
    if state.sources.is_none() {
        return Err(format!(
            "{object} has no waiting job, and without an object source the service cannot load it: enqueue it with a snapshot and force"
        ));
    }
    let found = state
        .queue
        .object_state(&state.db, object, 1)
        .await
        .map_err(|e| e.to_string())?;
    let mut providers: Vec<String> = found.results.iter().map(|r| r.provider.clone()).collect();
    providers.sort();
    providers.dedup();
    for provider in providers {
        let options = outsync_queue::EnqueueOptions {
            force: true,
            ..outsync_queue::EnqueueOptions::default()
        };
        state
            .queue
            .enqueue(&state.db, &provider, object, "dashboard force", options)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
