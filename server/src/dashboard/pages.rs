//! The dashboard's pages and form actions.

use super::html::{escape, page, table};
use super::session::{self, COOKIE};
use crate::api::AppState;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use outsync_core::ObjectRef;
use outsync_core::mapping::ObjectMapping;
use outsync_queue::{JobFilter, JobState, to_datetime};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

type Shared = State<Arc<AppState>>;
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

fn csrf(state: &AppState, headers: &HeaderMap) -> String {
    session::session_id(headers)
        .and_then(|id| state.sessions.csrf(&id))
        .unwrap_or_default()
}

fn csrf_ok(state: &AppState, headers: &HeaderMap, given: Option<&str>) -> bool {
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
            let class = if r.outcome == "success" { "ok" } else { "bad" };
            vec![
                when(r.at),
                escape(&r.provider),
                object_link(&r.object_type, &r.object_id),
                format!("<span class=\"{class}\">{}</span>", escape(&r.outcome)),
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
        state: Some(JobState::Failed),
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
                object_link(&j.object_type, &j.object_id),
                format!("<span class=\"bad\">{}</span>", escape(j.failure_mode.as_deref().unwrap_or(""))),
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
                let job_state = j.failure_mode.clone().unwrap_or_else(|| {
                    if j.lease_owner.is_some() {
                        "running".into()
                    } else {
                        "pending".into()
                    }
                });
                vec![
                    j.id.to_string(),
                    escape(&job_state),
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
                    escape(&r.action),
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
                    escape(&r.outcome),
                    escape(&r.actions),
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
            for job in jobs.iter().filter(|j| j.lease_owner.is_none()) {
                if let Err(error) = state.worker.run_job_now(job.id).await {
                    tracing::warn!(%error, job = job.id, "sync now failed");
                }
            }
        }
        Err(error) => return failure(&error),
    }
    Redirect::to(&format!("/dashboard/objects/{object_type}/{object_id}")).into_response()
}

fn fields_by_model(state: &AppState) -> String {
    let mut by_model: BTreeMap<&str, Vec<Vec<String>>> = BTreeMap::new();
    for field in state.schema.fields() {
        let options: Vec<&str> = field.options.iter().map(|o| o.value.as_str()).collect();
        by_model.entry(field.model.as_str()).or_default().push(vec![
            format!("<code>{}</code>", escape(&field.key)),
            escape(&field.label),
            escape(&field.category),
            escape(field.field_type.as_str()),
            escape(&options.join(", ")),
        ]);
    }
    by_model
        .into_iter()
        .map(|(model, rows)| {
            format!(
                "<h3>{}</h3>{}",
                escape(model),
                table(&["key", "label", "category", "type", "options"], &rows)
            )
        })
        .collect()
}

fn mappings_json(mappings: &[ObjectMapping]) -> String {
    let list: Vec<serde_json::Value> = mappings.iter().map(ObjectMapping::to_json).collect();
    serde_json::to_string_pretty(&list).unwrap_or_default()
}

pub(crate) async fn provider(State(state): Shared, Path(id): Path<String>) -> Response {
    let Some(provider) = state.providers.iter().find(|p| p.identifier() == id) else {
        return (
            StatusCode::NOT_FOUND,
            Html(page(
                "Not found",
                &format!("<p>No provider \"{}\" is configured.</p>", escape(&id)),
            )),
        )
            .into_response();
    };
    let body = format!(
        "<p><a href=\"/dashboard/providers/{}/editor\">Edit mappings</a> · max attempts {}</p><h2>Mappings</h2><pre>{}</pre><h2>Source fields</h2>{}",
        escape(&id),
        provider.max_attempts(),
        escape(&mappings_json(provider.mappings())),
        fields_by_model(&state)
    );
    Html(page(provider.display_name(), &body)).into_response()
}

fn schema_fields_json(state: &AppState) -> String {
    let fields: Vec<serde_json::Value> = state
        .schema
        .fields()
        .iter()
        .map(|f| {
            json!({"key": f.key, "label": f.label, "model": f.model, "type": f.field_type.as_str(),
                        "options": f.options.iter().map(|o| o.value.clone()).collect::<Vec<_>>()})
        })
        .collect();
    // Safe inside <script>: no "</" can close the element.
    serde_json::Value::Array(fields)
        .to_string()
        .replace("</", "<\\/")
}

const EDITOR_SCRIPT: &str = r#"
const fields = JSON.parse(document.getElementById('fields').textContent);
const json = document.getElementById('json');
const pick = document.getElementById('field');
const models = [...new Set(fields.map(f => f.model))];
for (const model of models) {
  const group = document.createElement('optgroup'); group.label = model;
  for (const f of fields.filter(f => f.model === model)) {
    const o = document.createElement('option'); o.value = f.key; o.textContent = f.key + ' (' + f.type + ')'; group.appendChild(o);
  }
  pick.appendChild(group);
}
function showValueMap() {
  const f = fields.find(f => f.key === pick.value); const box = document.getElementById('valuemap'); box.innerHTML = '';
  if (!f || f.options.length === 0) { box.textContent = 'no value map: not an enum field'; return; }
  for (const option of f.options) {
    const label = document.createElement('label'); label.textContent = option + ' → ';
    const input = document.createElement('input'); input.dataset.option = option; input.placeholder = option;
    label.appendChild(input); box.appendChild(label); box.appendChild(document.createElement('br'));
  }
}
pick.onchange = showValueMap; showValueMap();
document.getElementById('add').onclick = () => {
  let list; try { list = JSON.parse(json.value); } catch (e) { alert('Fix the JSON first: ' + e); return; }
  const index = Number(document.getElementById('mapping').value) || 0;
  if (!list[index]) { alert('No mapping #' + index); return; }
  const entry = {source_field: pick.value, external_field: document.getElementById('external').value, mode: document.getElementById('mode').value};
  const map = {}; for (const input of document.querySelectorAll('#valuemap input')) { if (input.value) map[input.dataset.option] = input.value; }
  if (Object.keys(map).length) entry.value_map = map;
  (list[index].property_mappings = list[index].property_mappings || []).push(entry);
  json.value = JSON.stringify(list, null, 2);
};
document.getElementById('validate').onclick = async () => {
  const r = await fetch('/dashboard/mappings/validate', {method: 'POST', headers: {'content-type': 'application/json', 'x-csrf-token': document.getElementById('csrf').value}, body: json.value});
  const v = await r.json(); const out = document.getElementById('result'); out.innerHTML = '';
  if (v.valid) { out.className = 'ok'; out.textContent = 'Valid: ' + v.mappings + ' mapping(s).'; }
  else { out.className = 'bad'; for (const p of v.problems) { const li = document.createElement('li'); li.textContent = p; out.appendChild(li); } }
};
"#;

pub(crate) async fn editor(
    State(state): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some(provider) = state.providers.iter().find(|p| p.identifier() == id) else {
        return (
            StatusCode::NOT_FOUND,
            Html(page("Not found", "<p>No such provider.</p>")),
        )
            .into_response();
    };
    let body = format!(
        "<p>Edit the JSON (outsync's or pretix's format), or add an entry with the form, and validate it against the schema. Saving happens in the configuration file.</p>\
         <fieldset><legend>Add a property</legend>\
         <label>to mapping # <input id=\"mapping\" type=\"number\" value=\"0\" min=\"0\" style=\"width:4em\"></label> \
         <label>source field <select id=\"field\"></select></label> \
         <label>external field <input id=\"external\"></label> \
         <label>mode <select id=\"mode\"><option>overwrite</option><option>if_new</option><option>if_empty</option><option>append</option></select></label>\
         <div id=\"valuemap\"></div><button id=\"add\" type=\"button\">Add</button></fieldset>\
         <input type=\"hidden\" id=\"csrf\" value=\"{}\"><textarea id=\"json\" spellcheck=\"false\">{}</textarea>\
         <p><button id=\"validate\" type=\"button\">Validate</button></p><ul id=\"result\"></ul>\
         <h2>Source fields</h2>{}<script type=\"application/json\" id=\"fields\">{}</script><script>{EDITOR_SCRIPT}</script>",
        escape(&csrf(&state, &headers)),
        escape(&mappings_json(provider.mappings())),
        fields_by_model(&state),
        schema_fields_json(&state)
    );
    Html(page(
        &format!("Mapping editor: {}", provider.display_name()),
        &body,
    ))
    .into_response()
}

pub(crate) async fn validate(State(state): Shared, headers: HeaderMap, body: String) -> Response {
    let given = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
    if !csrf_ok(&state, &headers, given) {
        return (StatusCode::FORBIDDEN, axum::Json(json!({"valid": false, "problems": ["missing or stale CSRF token: reload the page"]}))).into_response();
    }
    match ObjectMapping::load_all(&body, &state.schema) {
        Ok(mappings) => axum::Json(json!({"valid": true, "mappings": mappings.len()})).into_response(),
        Err(error) => axum::Json(json!({"valid": false, "problems": error.problems.iter().map(ToString::to_string).collect::<Vec<_>>()})).into_response(),
    }
}
