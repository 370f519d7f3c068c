//! Jobs in bulk: `GET /api/jobs` (a filtered page with the total and where the next page
//! starts) and `POST /api/jobs/retry|cancel` (every job a filter selects).

use super::AppState;
use super::handlers::{Problem, body, problem, queue_problem};
use crate::job_filter::{FilterError, parse_filter, selects_everything};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use outsync_queue::{Job, JobFilter, JobState, to_datetime};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

type Shared = State<Arc<AppState>>;

/// The filter fields of `GET /api/jobs` (and of the bulk actions' bodies, but the page
/// fields).
const LIST_FIELDS: [&str; 9] = [
    "state", "failure", "provider", "type", "search", "since", "until", "sort", "after",
];

fn filter_problem(error: &FilterError) -> Problem {
    (StatusCode::BAD_REQUEST, error.to_string())
}

fn unknown_field(name: &str, known: &[&str]) -> Problem {
    (
        StatusCode::BAD_REQUEST,
        format!(
            "unknown filter field \"{name}\"{}; known: {}",
            outsync_core::keys::did_you_mean(name, known.iter().copied()),
            known.join(", ")
        ),
    )
}

fn answer((status, message): Problem) -> Response {
    problem(status, message)
}

fn time(ms: i64) -> Value {
    json!(to_datetime(ms).to_rfc3339())
}

/// A job as the API shows it.
pub(super) fn job_json(job: &Job) -> Value {
    let waiting = matches!(job.state, JobState::Pending | JobState::Snoozed);
    json!({"id": job.id, "provider": job.provider, "object_type": job.object.object_type,
        "object_id": job.object.id, "state": job.state.as_str(), "failed_attempts": job.failed_attempts,
        "failure_mode": job.state.failure_mode().map(|mode| mode.as_str()),
        "running": job.state == JobState::Running, "last_error": job.last_error,
        "triggered_by": job.triggered_by, "triggered_at": time(job.triggered_at), "force": job.force,
        "not_before": waiting.then(|| time(job.not_before))})
}

/// `GET /api/jobs?state=&failure=&provider=&type=&search=&since=&until=&sort=&after=&limit=`:
/// one page (at most 1,000 jobs), `total` (every job that matches) and `next` (pass it as
/// `after` for the next page; `null` on the last).
pub(crate) async fn list(
    State(state): Shared,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(name) = query
        .keys()
        .find(|name| !LIST_FIELDS.contains(&name.as_str()) && *name != "limit")
    {
        let mut known = LIST_FIELDS.to_vec();
        known.push("limit");
        return answer(unknown_field(name, &known));
    }
    let filter = match parse_filter(|name| query.get(name).cloned(), state.queue.now_ms()) {
        Ok(filter) => filter,
        Err(error) => return answer(filter_problem(&error)),
    };
    match state.queue.page_jobs(&state.db, &filter).await {
        Ok(page) => Json(json!({
            "jobs": page.jobs.iter().map(job_json).collect::<Vec<_>>(),
            "total": page.total,
            "next": page.next,
        }))
        .into_response(),
        Err(error) => queue_problem(&error),
    }
}

/// The filter in a bulk action's body: the filter fields as strings, and `"all": true`
/// to act on every job when no field narrows the selection.
fn bulk_filter(state: &AppState, body: &Value) -> Result<JobFilter, Problem> {
    let Some(fields) = body.as_object() else {
        return Err((
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object of filter fields".to_owned(),
        ));
    };
    let known: Vec<&str> = LIST_FIELDS
        .iter()
        .copied()
        .filter(|name| !matches!(*name, "sort" | "after"))
        .chain(["all"])
        .collect();
    if let Some(name) = fields.keys().find(|name| !known.contains(&name.as_str())) {
        return Err(unknown_field(name, &known));
    }
    let mut text = HashMap::new();
    for (name, value) in fields {
        match (name.as_str(), value) {
            ("all", Value::Bool(_)) => {}
            ("all", other) => {
                return Err((
                    StatusCode::BAD_REQUEST,
                    format!("all: must be true or false, got {other}"),
                ));
            }
            (_, Value::String(value)) => {
                text.insert(name.clone(), value.clone());
            }
            (_, Value::Null) => {}
            (_, other) => {
                return Err((
                    StatusCode::BAD_REQUEST,
                    format!("{name}: must be a string, got {other}"),
                ));
            }
        }
    }
    let filter = parse_filter(|name| text.get(name).cloned(), state.queue.now_ms())
        .map_err(|error| filter_problem(&error))?;
    if selects_everything(&filter) && fields.get("all") != Some(&Value::Bool(true)) {
        return Err((
            StatusCode::BAD_REQUEST,
            "the filter selects every job: narrow it, or send \"all\": true to mean every job"
                .to_owned(),
        ));
    }
    Ok(filter)
}

fn bulk_body(
    state: &AppState,
    payload: Result<Json<Value>, JsonRejection>,
) -> Result<JobFilter, Problem> {
    bulk_filter(state, &body(payload)?)
}

/// `POST /api/jobs/retry` with a filter body (`{"provider": "basket", "failure":
/// "permanent", "since": "1h"}`): retries every job it selects (running ones aside) and
/// answers how many.
pub(crate) async fn retry(
    State(state): Shared,
    payload: Result<Json<Value>, JsonRejection>,
) -> Response {
    let filter = match bulk_body(&state, payload) {
        Ok(filter) => filter,
        Err(problem) => return answer(problem),
    };
    match state.queue.retry_matching(&state.db, &filter).await {
        Ok(count) => Json(json!({"retried": count})).into_response(),
        Err(error) => queue_problem(&error),
    }
}

/// `POST /api/jobs/cancel` with a filter body: cancels every job it selects and answers
/// how many.
pub(crate) async fn cancel(
    State(state): Shared,
    payload: Result<Json<Value>, JsonRejection>,
) -> Response {
    let filter = match bulk_body(&state, payload) {
        Ok(filter) => filter,
        Err(problem) => return answer(problem),
    };
    match state.queue.cancel_matching(&state.db, &filter).await {
        Ok(count) => Json(json!({"cancelled": count})).into_response(),
        Err(error) => queue_problem(&error),
    }
}
