//! The API's handlers.

use super::AppState;
use crate::enqueue_body::EnqueueRequest;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use outsync_core::ObjectRef;
use outsync_queue::{QueueError, to_datetime};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

type Shared = State<Arc<AppState>>;

pub(super) fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": status.canonical_reason().unwrap_or("error"), "message": message.into()}))).into_response()
}

pub(super) fn queue_problem(error: &QueueError) -> Response {
    match error {
        QueueError::JobNotFound(_) => problem(StatusCode::NOT_FOUND, error.to_string()),
        QueueError::Invalid(_) => problem(StatusCode::BAD_REQUEST, error.to_string()),
        QueueError::Rejected { field, .. } => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            (
                status,
                Json(
                    json!({"error": status.canonical_reason().unwrap_or("error"),
                    "message": error.to_string(), "field": field}),
                ),
            )
                .into_response()
        }
        QueueError::UnknownProvider { .. } => {
            problem(StatusCode::UNPROCESSABLE_ENTITY, error.to_string())
        }
        _ => {
            tracing::error!(%error, "queue operation failed");
            problem(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
        }
    }
}

/// A status and a message, turned into a response by [`problem`].
pub(super) type Problem = (StatusCode, String);

pub(super) fn body(payload: Result<Json<Value>, JsonRejection>) -> Result<Value, Problem> {
    payload.map(|Json(value)| value).map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return (
                status,
                format!(
                    "the request body is larger than the API accepts: {}",
                    outsync_queue::SNAPSHOT_LIMIT
                ),
            );
        }
        let status = if status == StatusCode::UNPROCESSABLE_ENTITY {
            StatusCode::BAD_REQUEST
        } else {
            status
        };
        (status, rejection.body_text())
    })
}

/// `POST /api/enqueue`: one object, or `{"items": [...]}`. Answers 202: the sync happens later.
pub(crate) async fn enqueue(
    State(state): Shared,
    payload: Result<Json<Value>, JsonRejection>,
) -> Response {
    let value = match body(payload) {
        Ok(value) => value,
        Err((status, message)) => return problem(status, message),
    };
    let request = match EnqueueRequest::from_json(&value) {
        Ok(request) => request,
        Err(error) => return problem(StatusCode::BAD_REQUEST, error.to_string()),
    };
    let related = match related_items(&state, request.items()).await {
        Ok(related) => related,
        Err(error) => {
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{error}; nothing was enqueued: send the request again"),
            );
        }
    };
    let request = match request {
        EnqueueRequest::One(item) if !related.is_empty() => EnqueueRequest::Batch(vec![item]),
        request => request,
    };
    match request {
        EnqueueRequest::Batch(mut items) => {
            let asked = items.len();
            items.extend(related);
            match enqueue_whole_batch(&state, &items).await {
                Ok(summary) => {
                    let mut answer =
                        json!({"created": summary.created, "coalesced": summary.coalesced});
                    if items.len() > asked {
                        answer["related"] = json!(items.len() - asked);
                    }
                    (StatusCode::ACCEPTED, Json(answer)).into_response()
                }
                Err(error) => queue_problem(&error),
            }
        }
        EnqueueRequest::One(item) => match state
            .queue
            .enqueue(
                &state.db,
                &item.provider,
                &item.object,
                &item.triggered_by,
                item.options,
            )
            .await
        {
            Ok(job) => (
                StatusCode::ACCEPTED,
                Json(json!({"job": job.id, "created": job.created})),
            )
                .into_response(),
            Err(error) => queue_problem(&error),
        },
    }
}

/// The objects the sources relate to `items` (a user's add-ons), as snapshot-less items
/// of the same provider, triggered "via" the object they relate to.
async fn related_items(
    state: &AppState,
    items: &[outsync_queue::EnqueueItem],
) -> Result<Vec<outsync_queue::EnqueueItem>, outsync_core::SyncError> {
    let Some(sources) = &state.sources else {
        return Ok(Vec::new());
    };
    let mut related = Vec::new();
    for item in items {
        for object in sources.related(&item.provider, &item.object).await? {
            related.push(outsync_queue::EnqueueItem {
                provider: item.provider.clone(),
                object,
                triggered_by: format!("{} via {}", item.triggered_by, item.object),
                options: outsync_queue::EnqueueOptions::default(),
            });
        }
    }
    Ok(related)
}

/// Enqueues a batch in one transaction: all of it or, on a database error, none.
async fn enqueue_whole_batch(
    state: &AppState,
    items: &[outsync_queue::EnqueueItem],
) -> Result<outsync_queue::BatchSummary, QueueError> {
    use outsync_queue::sea_orm::TransactionTrait;
    let transaction = state
        .db
        .begin()
        .await
        .map_err(QueueError::db("starting the batch's transaction"))?;
    let summary = state.queue.enqueue_many(&transaction, items).await?;
    transaction
        .commit()
        .await
        .map_err(QueueError::db("committing the batch"))?;
    state.queue.wake();
    Ok(summary)
}

fn http_date(ms: i64) -> String {
    to_datetime(ms)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// `GET /api/objects/{type}/{id}`: jobs, results and recent runs of one object; cacheable.
pub(crate) async fn object(
    State(state): Shared,
    Path((object_type, object_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let object = ObjectRef::new(object_type, object_id);
    let (jobs, results, runs) = match state.queue.object_state(&state.db, &object, 20).await {
        Ok(found) => (found.jobs, found.results, found.runs),
        Err(error) => return queue_problem(&error),
    };
    let last_modified = results
        .iter()
        .map(|r| r.transmitted_at)
        .chain(runs.iter().map(|r| r.at))
        .chain(jobs.iter().map(|j| j.triggered_at))
        .max()
        .unwrap_or(0);
    let document = json!({
        "object": {"type": object.object_type, "id": object.id},
        "jobs": jobs.iter().map(|j| json!({"id": j.id, "provider": j.provider, "state": j.state.as_str(),
            "failed_attempts": j.failed_attempts, "not_before": to_datetime(j.not_before.max(0)).to_rfc3339(), "last_error": j.last_error})).collect::<Vec<_>>(),
        "results": results.iter().map(|r| json!({"provider": r.provider, "mapping": r.mapping_id, "child": r.child_id,
            "external_object_type": r.external_object_type, "external_id_field": r.external_id_field, "id_value": r.id_value,
            "action": r.action.as_str(), "link": r.external_link_href, "link_text": r.external_link_display_name,
            "transmitted_at": to_datetime(r.transmitted_at).to_rfc3339()})).collect::<Vec<_>>(),
        "runs": runs.iter().map(|r| json!({"at": to_datetime(r.at).to_rfc3339(), "provider": r.provider, "outcome": r.outcome.as_str(),
            "actions": r.actions, "error": r.error, "duration_ms": r.duration_ms, "mapping_version": r.mapping_version})).collect::<Vec<_>>(),
    });
    let text = document.to_string();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    let etag = format!("\"{:016x}\"", hasher.finish());
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|tags| {
            // If-None-Match compares weakly (RFC 9110, 13.1.2): `W/"x"` matches `"x"`.
            let weak = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
            tags.split(',')
                .any(|tag| weak(tag) == weak(&etag) || tag.trim() == "*")
        })
        .unwrap_or_else(|| {
            headers
                .get(header::IF_MODIFIED_SINCE)
                .and_then(|v| v.to_str().ok())
                .and_then(|since| chrono::DateTime::parse_from_rfc2822(since).ok())
                .is_some_and(|since| last_modified / 1000 <= since.timestamp())
        });
    let cache_headers = [
        (header::ETAG, etag),
        (header::LAST_MODIFIED, http_date(last_modified)),
        (header::CACHE_CONTROL, "private, no-cache".to_owned()),
    ];
    if not_modified {
        return (StatusCode::NOT_MODIFIED, cache_headers).into_response();
    }
    (
        StatusCode::OK,
        cache_headers,
        [(header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response()
}

/// `POST /api/jobs/{id}/retry`.
pub(crate) async fn retry(State(state): Shared, Path(id): Path<i64>) -> Response {
    match state.queue.retry(&state.db, id).await {
        Ok(()) => Json(json!({"job": id, "retried": true})).into_response(),
        Err(error) => queue_problem(&error),
    }
}

/// `POST /api/jobs/{id}/cancel`.
pub(crate) async fn cancel(State(state): Shared, Path(id): Path<i64>) -> Response {
    match state.queue.cancel(&state.db, id).await {
        Ok(()) => Json(json!({"job": id, "cancelled": true})).into_response(),
        Err(error) => queue_problem(&error),
    }
}

/// `POST /api/jobs/{id}/run`: run the job now and answer how it ended.
pub(crate) async fn run_now(State(state): Shared, Path(id): Path<i64>) -> Response {
    match state.worker.run_job_now(id).await {
        Ok(summary) => Json(json!({"job": id, "outcomes": summary.by_name()})).into_response(),
        Err(error) => queue_problem(&error),
    }
}

fn envelope(ok: bool, data: Value) -> Value {
    json!({"response": if ok { "ok" } else { "error" }, "data": data, "date": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)})
}

/// Soukosync's error data: `{"__exception__": true, "id": null, "reason": …}`.
pub(crate) fn exception(reason: impl std::fmt::Display) -> Value {
    json!({"__exception__": true, "id": null, "reason": reason.to_string()})
}

/// Runs every due job now and records the round; answers the envelope and whether a
/// database problem stopped it.
async fn drain(state: &AppState) -> (Value, bool) {
    let result = state.worker.drain().await;
    let (ok, data) = match &result {
        Ok(summary) => (true, json!(format!("{} synced", summary.processed()))),
        Err(error) => (false, exception(error)),
    };
    if let Err(error) = state.queue.record_round(&state.db, "api", ok, &data).await {
        tracing::warn!(%error, "cannot record the sync round");
    }
    let database = matches!(
        &result,
        Err(QueueError::Database { .. } | QueueError::Connect { .. })
    );
    (envelope(ok, data), database)
}

/// `POST /api/sync[?background=true]`: run due jobs now.
pub(crate) async fn sync_now(
    State(state): Shared,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if query.get("background").is_some_and(|v| v == "true") {
        tokio::spawn(async move { drain(&state).await });
        return (StatusCode::ACCEPTED, Json(json!({"started": true}))).into_response();
    }
    Json(drain(&state).await.0).into_response()
}

/// `PATCH /api/syncall`: synchronous, Soukosync's envelope (503 when the database failed).
pub(crate) async fn syncall(State(state): Shared) -> Response {
    let (summary, database) = drain(&state).await;
    let status = if summary["response"] == "ok" {
        StatusCode::OK
    } else if database {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    (status, Json(summary)).into_response()
}

/// `PATCH /api/syncast`: starts a sync in the background.
pub(crate) async fn syncast(State(state): Shared) -> Response {
    tokio::spawn(async move { drain(&state).await });
    Json(envelope(true, json!("sync started"))).into_response()
}

/// `GET /api/synlast[?count=N]`: the latest sync rounds (the API's and the scheduler's,
/// from every process on the queue), oldest first; 100 unless `count` says otherwise.
pub(crate) async fn synlast(
    State(state): Shared,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let count = query
        .get("count")
        .and_then(|c| c.parse().ok())
        .unwrap_or(100u64)
        .min(u64::try_from(outsync_queue::ROUNDS_KEPT).unwrap_or(1000));
    match state.queue.recent_rounds(&state.db, count).await {
        Ok(rounds) => Json(json!({"data": rounds.iter().map(|round| json!({
            "response": if round.ok { "ok" } else { "error" },
            "data": round.data,
            "date": to_datetime(round.at).to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "origin": round.origin,
        })).collect::<Vec<_>>()}))
        .into_response(),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(envelope(false, exception(error))),
        )
            .into_response(),
    }
}

/// `GET /healthz`: the database answers.
pub(crate) async fn healthz(State(state): Shared) -> Response {
    match state.queue.stats(&state.db).await {
        Ok(_) => Json(json!({"status": "ok"})).into_response(),
        Err(error) => problem(StatusCode::SERVICE_UNAVAILABLE, error.to_string()),
    }
}

/// `POST /api/mappings/validate`: checks mapping JSON against the schema and lists every
/// problem with its mapping, entry and field.
pub(crate) async fn validate_mappings(State(state): Shared, body: String) -> Response {
    match outsync_core::mapping::ObjectMapping::load_all(&body, &state.schema) {
        Ok(mappings) => Json(json!({"valid": true, "mappings": mappings.len()})).into_response(),
        Err(error) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"valid": false, "problems": error.problems.iter().map(ToString::to_string).collect::<Vec<_>>()})),
        )
            .into_response(),
    }
}
