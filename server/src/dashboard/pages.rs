//! The dashboard's pages and form actions.

use super::html::{escape, page, table};
use super::session::{self, COOKIE};
use crate::api::AppState;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use outsync_core::ObjectRef;
use outsync_queue::{JobFilter, RunOutcome, StateFilter, to_datetime};
use std::sync::Arc;

pub(super) type Shared = State<Arc<AppState>>;
type Fields = Form<Vec<(String, String)>>;

fn when(ms: i64) -> String {
    to_datetime(ms).format("%Y-%m-%d %H:%M:%S").to_string()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

pub(super) fn csrf(state: &AppState, headers: &HeaderMap) -> String {
    session::session_id(headers)
        .and_then(|id| state.sessions.csrf(&id))
        .unwrap_or_default()
}

pub(super) fn csrf_ok(state: &AppState, headers: &HeaderMap, given: Option<&str>) -> bool {
    let expected = csrf(state, headers);
    !expected.is_empty() && given == Some(expected.as_str())
}

fn forbidden() -> Response {
    (StatusCode::FORBIDDEN, Html(page("Forbidden", "<p class=\"bad\">The form's CSRF token is missing or stale: reload the page and try again.</p>"))).into_response()
}

fn failure(error: &dyn std::fmt::Display) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Html(page(
            "Error",
            &format!("<p class=\"bad\">{}</p>", escape(&error.to_string())),
        )),
    )
        .into_response()
}

fn object_link(object_type: &str, object_id: &str) -> String {
    format!(
        "<a href=\"/dashboard/objects/{}/{}\">{} {}</a>",
        escape(object_type),
        escape(object_id),
        escape(object_type),
        escape(object_id)
    )
}

const LOGIN: &str = "<form method=\"post\" action=\"/dashboard/login\"><p><label>API token <input type=\"password\" name=\"token\" autofocus></label> <button>Log in</button></p></form>";

pub(crate) async fn login_form() -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Log in · outsync</title></head><body><h1>outsync</h1>{LOGIN}</body></html>"
    ))
}

pub(crate) async fn login(State(state): Shared, Form(fields): Fields) -> Response {
    if !field(&fields, "token").is_some_and(|token| state.token.matches(token)) {
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Log in · outsync</title></head><body><h1>outsync</h1><p class=\"bad\">That is not the API token.</p>{LOGIN}</body></html>"
        );
        return (StatusCode::UNAUTHORIZED, Html(body)).into_response();
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

pub(crate) async fn overview(State(state): Shared) -> Response {
    let (stats, runs) = match tokio::try_join!(
        state.queue.stats(&state.db),
        state.queue.recent_runs(&state.db, 25, None)
    ) {
        Ok(found) => found,
        Err(error) => return failure(&error),
    };
    let mut queue_rows = Vec::new();
    for (provider, states) in &stats.by_provider {
        for (job_state, jobs) in states {
            queue_rows.push(vec![escape(provider), escape(job_state), jobs.to_string()]);
        }
    }
    let run_rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let class = if r.outcome == RunOutcome::Success {
                "ok"
            } else {
                "bad"
            };
            vec![
                when(r.at),
                escape(&r.provider),
                object_link(&r.object.object_type, &r.object.id),
                format!(
                    "<span class=\"{class}\">{}</span>",
                    escape(r.outcome.as_str())
                ),
                escape(r.error.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    let providers: Vec<String> = state
        .providers
        .iter()
        .map(|p| format!("<li><a href=\"/dashboard/providers/{0}\">{1}</a> <span class=\"muted\">({0})</span></li>", escape(p.identifier()), escape(p.display_name())))
        .collect();
    let body = format!(
        "<h2>Queue</h2>{}<h2>Recent runs</h2>{}<h2>Providers</h2><ul>{}</ul>",
        table(&["provider", "state", "jobs"], &queue_rows),
        table(
            &["when (UTC)", "provider", "object", "outcome", "error"],
            &run_rows
        ),
        providers.join("")
    );
    Html(page("Overview", &body)).into_response()
}

pub(crate) async fn problems(State(state): Shared, headers: HeaderMap) -> Response {
    let filter = JobFilter {
        state: Some(StateFilter::Stopped),
        limit: 500,
        ..JobFilter::default()
    };
    let jobs = match state.queue.list_jobs(&state.db, &filter).await {
        Ok(jobs) => jobs,
        Err(error) => return failure(&error),
    };
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            vec![
                format!("<input type=\"checkbox\" name=\"id\" value=\"{}\" aria-label=\"select job {}\">", j.id, j.id),
                j.id.to_string(),
                escape(&j.provider),
                object_link(&j.object.object_type, &j.object.id),
                format!("<span class=\"bad\">{}</span>", escape(j.state.as_str())),
                j.failed_attempts.to_string(),
                escape(j.last_error.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    let body = format!(
        "<form method=\"post\" action=\"/dashboard/problems\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">{}\
         <button name=\"action\" value=\"retry\">Retry selected</button> <button name=\"action\" value=\"cancel\">Cancel selected</button></form>",
        escape(&csrf(&state, &headers)),
        table(
            &[
                "", "job", "provider", "object", "failure", "attempts", "message"
            ],
            &rows
        )
    );
    Html(page("Sync problems", &body)).into_response()
}

pub(crate) async fn act_on_problems(
    State(state): Shared,
    headers: HeaderMap,
    Form(fields): Fields,
) -> Response {
    if !csrf_ok(&state, &headers, field(&fields, "csrf")) {
        return forbidden();
    }
    let action = field(&fields, "action").unwrap_or("");
    for id in fields
        .iter()
        .filter(|(k, _)| k == "id")
        .filter_map(|(_, v)| v.parse::<i64>().ok())
    {
        let result = match action {
            "retry" => state.queue.retry(&state.db, id).await,
            "cancel" => state.queue.cancel(&state.db, id).await,
            _ => {
                return (
                    StatusCode::BAD_REQUEST,
                    Html(page("Error", "<p class=\"bad\">Unknown action.</p>")),
                )
                    .into_response();
            }
        };
        if let Err(error) = result {
            tracing::warn!(%error, job = id, action, "dashboard action failed");
        }
    }
    state.queue.wake();
    Redirect::to("/dashboard/problems").into_response()
}

pub(crate) async fn object(
    State(state): Shared,
    headers: HeaderMap,
    Path((object_type, object_id)): Path<(String, String)>,
) -> Response {
    let object = ObjectRef::new(&object_type, &object_id);
    let (jobs, results, runs) = match state.queue.object_state(&state.db, &object, 50).await {
        Ok(found) => (found.jobs, found.results, found.runs),
        Err(error) => return failure(&error),
    };
    let mut providers: Vec<&str> = results
        .iter()
        .map(|r| r.provider.as_str())
        .chain(jobs.iter().map(|j| j.provider.as_str()))
        .chain(runs.iter().map(|r| r.provider.as_str()))
        .collect();
    providers.sort_unstable();
    providers.dedup();
    let mut body = format!(
        "<form method=\"post\" action=\"/dashboard/objects/{}/{}/sync\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button>Sync now</button> <span class=\"muted\">runs the object's waiting jobs at once</span></form>",
        escape(&object_type),
        escape(&object_id),
        escape(&csrf(&state, &headers))
    );
    for provider in providers {
        body.push_str(&format!("<h2>{}</h2>", escape(provider)));
        let job_rows: Vec<Vec<String>> = jobs
            .iter()
            .filter(|j| j.provider == provider)
            .map(|j| {
                vec![
                    j.id.to_string(),
                    escape(j.state.as_str()),
                    when(j.not_before.max(0)),
                    j.failed_attempts.to_string(),
                    escape(j.last_error.as_deref().unwrap_or("")),
                ]
            })
            .collect();
        body.push_str(&table(
            &["job", "state", "not before (UTC)", "attempts", "last error"],
            &job_rows,
        ));
        let result_rows: Vec<Vec<String>> = results
            .iter()
            .filter(|r| r.provider == provider)
            .map(|r| {
                let link = match (&r.external_link_href, &r.external_link_display_name) {
                    (Some(href), name) => format!(
                        "<a href=\"{}\">{}</a>",
                        escape(href),
                        escape(name.as_deref().unwrap_or(href))
                    ),
                    _ => String::new(),
                };
                vec![
                    escape(&r.mapping_id),
                    escape(&r.child_id),
                    escape(&format!(
                        "{} {}={}",
                        r.external_object_type, r.external_id_field, r.id_value
                    )),
                    escape(r.action.as_str()),
                    link,
                    when(r.transmitted_at),
                ]
            })
            .collect();
        body.push_str(&table(
            &[
                "mapping",
                "child",
                "external object",
                "action",
                "link",
                "transmitted (UTC)",
            ],
            &result_rows,
        ));
        let run_rows: Vec<Vec<String>> = runs
            .iter()
            .filter(|r| r.provider == provider)
            .map(|r| {
                vec![
                    when(r.at),
                    escape(r.outcome.as_str()),
                    escape(&serde_json::to_string(&r.actions).unwrap_or_default()),
                    escape(r.error.as_deref().unwrap_or("")),
                    format!("{} ms", r.duration_ms),
                ]
            })
            .collect();
        body.push_str(&table(
            &["when (UTC)", "outcome", "actions", "error", "duration"],
            &run_rows,
        ));
    }
    Html(page(&format!("{object_type} {object_id}"), &body)).into_response()
}

pub(crate) async fn sync_object_now(
    State(state): Shared,
    headers: HeaderMap,
    Path((object_type, object_id)): Path<(String, String)>,
    Form(fields): Fields,
) -> Response {
    if !csrf_ok(&state, &headers, field(&fields, "csrf")) {
        return forbidden();
    }
    let object = ObjectRef::new(&object_type, &object_id);
    let filter = JobFilter {
        object: Some(object),
        limit: 100,
        ..JobFilter::default()
    };
    match state.queue.list_jobs(&state.db, &filter).await {
        Ok(jobs) => {
            for job in jobs
                .iter()
                .filter(|j| j.state != outsync_queue::JobState::Running)
            {
                if let Err(error) = state.worker.run_job_now(job.id).await {
                    tracing::warn!(%error, job = job.id, "sync now failed");
                }
            }
        }
        Err(error) => return failure(&error),
    }
    Redirect::to(&format!("/dashboard/objects/{object_type}/{object_id}")).into_response()
}
