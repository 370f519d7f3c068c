//! Sync problems: stopped jobs, a page at a time with the exact total, filtered and
//! searched like the API's job list; retry or cancel the selected rows, or every job the
//! filter matches after a confirmation that states the count.

use super::layout::{ago, message, object_link, page, query, respond};
use super::pages::{Shared, csrf, csrf_ok, failure, forbidden};
use crate::job_filter::parse_filter;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use outsync_queue::{FailureMode, JobFilter, JobPage, StateFilter};
use std::collections::HashMap;

/// Rows per page.
const PAGE: u64 = 50;

/// The filter fields the page keeps in its links and forms.
const FIELDS: [&str; 6] = ["provider", "failure", "type", "search", "since", "sort"];

/// The stopped jobs `fields` select.
fn filter_of(fields: &HashMap<String, String>, now_ms: i64) -> Result<JobFilter, String> {
    let mut filter =
        parse_filter(|name| fields.get(name).cloned(), now_ms).map_err(|e| e.to_string())?;
    if filter.state.is_none() {
        filter.state = Some(StateFilter::Stopped);
    }
    filter.limit = PAGE;
    Ok(filter)
}

fn kept(fields: &HashMap<String, String>) -> Vec<(&'static str, String)> {
    FIELDS
        .iter()
        .filter_map(|name| fields.get(*name).map(|value| (*name, value.clone())))
        .filter(|(_, value)| !value.is_empty())
        .collect()
}

fn href(fields: &[(&str, String)], extra: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.extend_from_slice(extra);
    format!("/dashboard/problems?{}", query(&pairs))
}

fn filters_form(state: &crate::api::AppState, fields: &HashMap<String, String>) -> Markup {
    let value = |name: &str| fields.get(name).cloned().unwrap_or_default();
    html! {
        form.filters method="get" action="/dashboard/problems" {
            label { "provider" select name="provider" {
                option value="" { "any" }
                @for provider in &state.providers {
                    option value=(provider.identifier()) selected[value("provider") == provider.identifier()] { (provider.display_name()) }
                }
            } }
            label { "failure" select name="failure" {
                option value="" { "any" }
                @for mode in FailureMode::ALL {
                    option value=(mode.as_str()) selected[value("failure") == mode.as_str()] { (mode.as_str()) }
                }
            } }
            label { "object type" input name="type" value=(value("type")); }
            label { "search (id, message)" input name="search" type="search" value=(value("search")); }
            label { "since (1h, 2days, a time)" input name="since" value=(value("since")) size="10"; }
            label { "order" select name="sort" {
                option value="oldest" selected[value("sort") == "oldest"] { "oldest first" }
                option value="newest" selected[value("sort") == "newest"] { "newest first" }
                option value="attempts" selected[value("sort") == "attempts"] { "most attempts" }
            } }
            button { "Filter" }
            a href="/dashboard/problems" { "clear" }
        }
    }
}

fn action_buttons(total: u64) -> Markup {
    html! {
        div.actions {
            button name="action" value="retry" { "Retry selected" }
            button name="action" value="cancel" { "Cancel selected" }
            span.muted { "or" }
            button name="action" value="retry-all" { "Retry all " (total) " matching…" }
            button name="action" value="cancel-all" { "Cancel all " (total) " matching…" }
        }
    }
}

fn rows(page_of_jobs: &JobPage, now_ms: i64) -> Markup {
    html! {
        table {
            tr {
                th { input #select-page type="checkbox" aria-label="select this page"; }
                th { "job" } th { "provider" } th { "object" } th { "failure" } th { "attempts" }
                th { "message" } th { "enqueued" }
            }
            @for job in &page_of_jobs.jobs {
                tr {
                    td { input type="checkbox" name="id" value=(job.id) aria-label={ "select job " (job.id) }; }
                    td { (job.id) }
                    td { (job.provider) }
                    td { (object_link(&job.object)) }
                    td.bad { (job.state.as_str()) }
                    // Attempts count recoverable failures; a job stopped at once has none.
                    td { @if job.failed_attempts > 0 { (job.failed_attempts) } }
                    td {
                        (job.last_error.as_deref().unwrap_or(""))
                        @if let Some(detail) = job.last_error_detail.as_deref().filter(|d| !d.is_empty()) {
                            details { summary { "detail" } pre { (detail) } }
                        }
                    }
                    td { (ago(now_ms, job.triggered_at)) }
                }
            }
            @if page_of_jobs.jobs.is_empty() {
                tr { td.muted colspan="8" { "none" } }
            }
        }
    }
}

/// `GET /dashboard/problems?provider=&failure=&type=&search=&since=&sort=&after=&from=`.
pub(crate) async fn problems(
    State(state): Shared,
    headers: HeaderMap,
    Query(fields): Query<HashMap<String, String>>,
) -> Response {
    let now = state.queue.now_ms();
    let mut filter = match filter_of(&fields, now) {
        Ok(filter) => filter,
        Err(problem) => return message(StatusCode::BAD_REQUEST, "Sync problems", &problem),
    };
    filter.after = fields.get("after").cloned().filter(|a| !a.is_empty());
    let found = match state.queue.page_jobs(&state.db, &filter).await {
        Ok(found) => found,
        Err(error) => return failure(&error),
    };
    let from: u64 = fields.get("from").and_then(|f| f.parse().ok()).unwrap_or(1);
    let shown = found.jobs.len() as u64;
    let kept = kept(&fields);
    let body = html! {
        (filters_form(&state, &fields))
        p {
            @if shown == 0 { "No stopped job matches." }
            @else { strong { (from) "–" (from + shown - 1) } " of " strong { (found.total) } " matching" }
        }
        form method="post" action="/dashboard/problems" {
            input type="hidden" name="csrf" value=(csrf(&state, &headers));
            @for (name, value) in &kept { input type="hidden" name=(name) value=(value); }
            (action_buttons(found.total))
            (rows(&found, now))
            (action_buttons(found.total))
        }
        div.pages {
            @if from > 1 { a href=(href(&kept, &[])) { "← first page" } }
            @if let Some(next) = &found.next {
                a href=(href(&kept, &[("after", next), ("from", &(from + shown).to_string())])) { "next page →" }
            }
        }
    };
    respond(StatusCode::OK, page("Sync problems", true, body))
}

fn confirmation(
    state: &crate::api::AppState,
    headers: &HeaderMap,
    fields: &[(String, String)],
    verb: &str,
    count: u64,
) -> Markup {
    let described: Vec<String> = fields
        .iter()
        .filter(|(name, value)| {
            FIELDS.contains(&name.as_str()) && name != "sort" && !value.is_empty()
        })
        .map(|(name, value)| format!("{name} = {value}"))
        .collect();
    let action = if verb == "Retry" {
        "retry-all"
    } else {
        "cancel-all"
    };
    html! {
        div.confirm {
            p { strong { (verb) " " (count) " job(s)" } " matching "
                @if described.is_empty() { "every stopped job" } @else { (described.join(", ")) } "?" }
            form method="post" action="/dashboard/problems" {
                input type="hidden" name="csrf" value=(csrf(state, headers));
                @for (name, value) in fields.iter().filter(|(name, _)| FIELDS.contains(&name.as_str())) {
                    input type="hidden" name=(name) value=(value);
                }
                input type="hidden" name="confirmed" value=(count);
                button name="action" value=(action) { "Yes, " (verb.to_lowercase()) " " (count) " job(s)" }
                " "
                a href="/dashboard/problems" { "No, go back" }
            }
        }
    }
}

/// `POST /dashboard/problems`: retry or cancel the selected jobs, or (after a confirmation
/// page stating the count) every job the filter matches.
pub(crate) async fn act(
    State(state): Shared,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if !csrf_ok(&state, &headers, field("csrf")) {
        return forbidden();
    }
    let action = field("action").unwrap_or("");
    match action {
        "retry" | "cancel" => {
            for id in fields
                .iter()
                .filter(|(k, _)| k == "id")
                .filter_map(|(_, v)| v.parse::<i64>().ok())
            {
                let result = if action == "retry" {
                    state.queue.retry(&state.db, id).await
                } else {
                    state.queue.cancel(&state.db, id).await
                };
                if let Err(error) = result {
                    tracing::warn!(%error, job = id, action, "dashboard action failed");
                }
            }
        }
        "retry-all" | "cancel-all" => {
            let map: HashMap<String, String> = fields.iter().cloned().collect();
            let filter = match filter_of(&map, state.queue.now_ms()) {
                Ok(filter) => filter,
                Err(problem) => return message(StatusCode::BAD_REQUEST, "Sync problems", &problem),
            };
            let verb = if action == "retry-all" {
                "Retry"
            } else {
                "Cancel"
            };
            let Some(_) = field("confirmed") else {
                let count = match state.queue.count_jobs(&state.db, &filter).await {
                    Ok(count) => count,
                    Err(error) => return failure(&error),
                };
                let body = confirmation(&state, &headers, &fields, verb, count);
                return respond(StatusCode::OK, page("Confirm", false, body));
            };
            let done = if action == "retry-all" {
                state.queue.retry_matching(&state.db, &filter).await
            } else {
                state.queue.cancel_matching(&state.db, &filter).await
            };
            if let Err(error) = done {
                return failure(&error);
            }
        }
        _ => return message(StatusCode::BAD_REQUEST, "Error", "Unknown action."),
    }
    state.queue.wake();
    let kept: HashMap<String, String> = fields.iter().cloned().collect();
    Redirect::to(&href(&self::kept(&kept), &[])).into_response()
}
