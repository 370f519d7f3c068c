//! The dashboard's provider page and mapping editor: the mappings as JSON, the schema's
//! fields, and validation of an edited mapping.

use super::layout::{message, page, respond};
use super::pages::{Shared, csrf, csrf_ok};
use crate::api::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, PreEscaped, html};
use outsync_core::mapping::ObjectMapping;
use serde_json::json;
use std::collections::BTreeMap;

fn fields_by_model(state: &AppState) -> Markup {
    let mut by_model: BTreeMap<&str, Vec<&outsync_core::schema::DataField>> = BTreeMap::new();
    for field in state.schema.fields() {
        by_model
            .entry(field.model.as_str())
            .or_default()
            .push(field);
    }
    html! {
        @for (model, fields) in &by_model {
            h3 { (model) }
            table {
                tr { th { "key" } th { "label" } th { "category" } th { "type" } th { "options" } }
                @for field in fields {
                    tr {
                        td { code { (field.key) } }
                        td { (field.label) }
                        td { (field.category) }
                        td { (field.field_type.as_str()) }
                        td { (field.options.iter().map(|o| o.value.as_str()).collect::<Vec<_>>().join(", ")) }
                    }
                }
            }
        }
    }
}

fn mappings_json(mappings: &[ObjectMapping]) -> String {
    let list: Vec<serde_json::Value> = mappings.iter().map(ObjectMapping::to_json).collect();
    serde_json::to_string_pretty(&list).unwrap_or_default()
}

pub(crate) async fn provider(
    State(state): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some(provider) = state.providers.iter().find(|p| p.identifier() == id) else {
        return message(
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("No provider \"{id}\" is configured."),
        );
    };
    let body = html! {
        p { a href={ "/dashboard/providers/" (id) "/editor" } { "Edit mappings" } " · max attempts " (provider.provider().max_attempts()) }
        (versions_section(&state, &headers, &id).await)
        h2 { "Mappings" }
        pre { (mappings_json(provider.mappings())) }
        h2 { "Source fields" }
        (fields_by_model(&state))
    };
    respond(StatusCode::OK, page(provider.display_name(), false, body))
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

pub(crate) async fn editor(
    State(state): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some(provider) = state.providers.iter().find(|p| p.identifier() == id) else {
        return message(StatusCode::NOT_FOUND, "Not found", "No such provider.");
    };
    let body = html! {
        p { "Edit the JSON (outsync's or pretix's format), or add an entry with the form, validate it against the schema, and save it as a new version: running workers use it within a second. The provider page lists the versions, with their differences and a roll back." }
        fieldset {
            legend { "Add a property" }
            label { "to mapping # " input #mapping type="number" value="0" min="0" style="width:4em"; } " "
            label { "source field " select #field {} } " "
            label { "external field " input #external; } " "
            label { "mode " select #mode { option { "overwrite" } option { "if_new" } option { "if_empty" } option { "append" } } }
            div #valuemap {}
            button #add type="button" { "Add" }
        }
        input type="hidden" id="csrf" value=(csrf(&state, &headers));
        textarea #json spellcheck="false" { (mappings_json(provider.mappings())) }
        input type="hidden" id="provider" value=(id);
        p {
            button #validate type="button" { "Validate" } " "
            label { "preview with object " input #preview-type placeholder="type" size="10"; " " input #preview-id placeholder="id" size="10"; } " "
            button #preview type="button" { "Preview" } " "
            label { "note " input #note placeholder="why (stored with the version)"; } " "
            button #save type="button" { "Save as a new version" }
        }
        ul #result {}
        h2 { "Source fields" }
        (fields_by_model(&state))
        script type="application/json" #fields { (PreEscaped(schema_fields_json(&state))) }
        script src="/dashboard/static/editor.js" {}
    };
    let title = format!("Mapping editor: {}", provider.display_name());
    respond(StatusCode::OK, page(&title, false, body))
}

/// The 403 a script's request gets without the session's CSRF token in `x-csrf-token`
/// (JSON, as the editor's scripts read every answer), or `None` when it has it.
fn refuse_without_csrf(state: &crate::api::AppState, headers: &HeaderMap) -> Option<Response> {
    let given = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
    (!csrf_ok(state, headers, given)).then(|| {
        let problems = ["missing or stale CSRF token: reload the page"];
        (
            StatusCode::FORBIDDEN,
            axum::Json(json!({"valid": false, "problems": problems})),
        )
            .into_response()
    })
}

pub(crate) async fn validate(State(state): Shared, headers: HeaderMap, body: String) -> Response {
    if let Some(refusal) = refuse_without_csrf(&state, &headers) {
        return refusal;
    }
    match ObjectMapping::load_all(&body, &state.schema) {
        Ok(mappings) => axum::Json(json!({"valid": true, "mappings": mappings.len()})).into_response(),
        Err(error) => axum::Json(json!({"valid": false, "problems": error.problems.iter().map(ToString::to_string).collect::<Vec<_>>()})).into_response(),
    }
}

/// `POST /dashboard/providers/{provider}/versions` (the editor's JSON, `x-csrf-token`,
/// `x-note`): checks the mappings as a worker will build them and saves them as the next
/// version.
pub(crate) async fn save_version(
    State(state): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Response {
    if let Some(refusal) = refuse_without_csrf(&state, &headers) {
        return refusal;
    }
    let problems =
        |problems: Vec<String>| axum::Json(json!({"problems": problems})).into_response();
    let value: serde_json::Value = match serde_json::from_str(&body) {
        Ok(value) => value,
        Err(error) => return problems(vec![format!("the mappings are not JSON: {error}")]),
    };
    let built = match state.reloader.build(&id, &value) {
        Ok(built) => built,
        Err(error) => return problems(error.messages().to_vec()),
    };
    let note = headers
        .get("x-note")
        .and_then(|v| v.to_str().ok())
        .map(|text| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8_lossy()
                .into_owned()
        })
        .filter(|text| !text.trim().is_empty());
    let saved = state
        .queue
        .save_mapping_version(
            &state.db,
            &id,
            &crate::mapping_versions::mappings_json(&built),
            "dashboard",
            note.as_deref(),
        )
        .await;
    match saved {
        Ok(version) => axum::Json(json!({"saved": version})).into_response(),
        Err(error) => problems(vec![error.to_string()]),
    }
}

/// The provider page's list of versions: diff with the one before, roll back.
async fn versions_section(state: &AppState, headers: &HeaderMap, id: &str) -> Markup {
    let versions = state
        .queue
        .mapping_versions(&state.db, id)
        .await
        .unwrap_or_default();
    let now = state.queue.now_ms();
    html! {
        h2 { "Versions" }
        table {
            tr { th { "version" } th { "saved" } th { "by" } th { "note" } th {} }
            @for (index, version) in versions.iter().enumerate() {
                tr {
                    td { (version.version) @if index == 0 { " " span.ok { "(in force)" } } }
                    td { (super::layout::ago(now, version.created_at)) }
                    td { (version.author) }
                    td { (version.note.as_deref().unwrap_or("")) }
                    td {
                        @if version.version > 1 {
                            a href={ "/dashboard/providers/" (id) "/versions/" (version.version) "/diff" } { "changes" } " "
                        }
                        @if index > 0 {
                            form method="post" action={ "/dashboard/providers/" (id) "/rollback" } style="display:inline" {
                                input type="hidden" name="csrf" value=(csrf(state, headers));
                                input type="hidden" name="version" value=(version.version);
                                button { "Roll back to " (version.version) }
                            }
                        }
                    }
                }
            }
            @if versions.is_empty() { tr { td.muted colspan="5" { "none yet: the service stores the configuration file's mappings as version 1 when it starts" } } }
        }
    }
}

/// `GET /dashboard/providers/{provider}/versions/{version}/diff`.
pub(crate) async fn version_diff(
    State(state): Shared,
    Path((id, version)): Path<(String, i64)>,
) -> Response {
    let found = tokio::try_join!(
        state.queue.mapping_version(&state.db, &id, version - 1),
        state.queue.mapping_version(&state.db, &id, version)
    );
    let Ok((Some(old), Some(new))) = found else {
        return message(
            StatusCode::NOT_FOUND,
            "Not found",
            "No such mapping version.",
        );
    };
    let body = html! {
        p { a href={ "/dashboard/providers/" (id) } { "← " (id) } }
        pre.diff { (crate::mapping_versions::diff(&old.mappings, &new.mappings)) }
    };
    respond(
        StatusCode::OK,
        page(
            &format!("{id}: version {} → {version}", version - 1),
            false,
            body,
        ),
    )
}

/// `POST /dashboard/providers/{provider}/rollback` (`version`, `csrf`): saves that
/// version's mappings again as the newest.
pub(crate) async fn rollback(
    State(state): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(fields): axum::Form<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if !csrf_ok(&state, &headers, field("csrf")) {
        return super::pages::forbidden();
    }
    let Some(version) = field("version").and_then(|v| v.parse::<i64>().ok()) else {
        return message(StatusCode::BAD_REQUEST, "Roll back", "Which version?");
    };
    let old = match state.queue.mapping_version(&state.db, &id, version).await {
        Ok(Some(old)) => old,
        Ok(None) => {
            return message(
                StatusCode::NOT_FOUND,
                "Roll back",
                "No such mapping version.",
            );
        }
        Err(error) => return super::pages::failure(&error),
    };
    if let Err(error) = state.reloader.build(&id, &old.mappings) {
        return message(
            StatusCode::BAD_REQUEST,
            "Roll back",
            &format!(
                "Version {version} no longer fits the configuration: {}",
                error.messages().join("; ")
            ),
        );
    }
    let note = format!("rollback to version {version}");
    if let Err(error) = state
        .queue
        .save_mapping_version(&state.db, &id, &old.mappings, "dashboard", Some(&note))
        .await
    {
        return super::pages::failure(&error);
    }
    axum::response::Redirect::to(&format!("/dashboard/providers/{id}")).into_response()
}

/// The data of `object` as a job would sync it now: its waiting job's snapshot, else what
/// the configured object source loads.
async fn object_data(
    state: &AppState,
    provider: &str,
    object: &outsync_core::ObjectRef,
) -> Result<serde_json::Value, String> {
    let filter = outsync_queue::JobFilter {
        object: Some(object.clone()),
        provider: Some(provider.to_owned()),
        ..outsync_queue::JobFilter::default()
    };
    let jobs = state
        .queue
        .list_jobs(&state.db, &filter)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(snapshot) = jobs.into_iter().rev().find_map(|job| job.snapshot) {
        return Ok(snapshot);
    }
    let Some(sources) = &state.sources else {
        return Err(format!(
            "{object} has no waiting job with a snapshot, and the service has no object source to load it from"
        ));
    };
    use outsync_core::ObjectSource;
    match sources.load_for(provider, object).await {
        Ok(Some(data)) => Ok(data),
        Ok(None) => Err(format!("the object source has no {object}")),
        Err(error) => Err(error.messages().join("; ")),
    }
}

/// `POST /dashboard/providers/{provider}/preview?type=&id=` (the editor's JSON,
/// `x-csrf-token`): what the edited mappings would send for a real object, sending nothing.
pub(crate) async fn preview(
    State(state): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
    body: String,
) -> Response {
    if let Some(refusal) = refuse_without_csrf(&state, &headers) {
        return refusal;
    }
    let problems =
        |problems: Vec<String>| axum::Json(json!({"problems": problems})).into_response();
    let (Some(object_type), Some(object_id)) = (query.get("type"), query.get("id")) else {
        return problems(vec!["give the object's type and id".to_owned()]);
    };
    let value: serde_json::Value = match serde_json::from_str(&body) {
        Ok(value) => value,
        Err(error) => return problems(vec![format!("the mappings are not JSON: {error}")]),
    };
    let built = match state.reloader.build(&id, &value) {
        Ok(built) => built,
        Err(error) => return problems(error.messages().to_vec()),
    };
    let object = outsync_core::ObjectRef::new(object_type.trim(), object_id.trim());
    let data = match object_data(&state, &id, &object).await {
        Ok(data) => data,
        Err(problem) => return problems(vec![problem]),
    };
    match outsync_core::preview(&built, &object, &data) {
        Ok(entries) => axum::Json(json!({"preview": entries.iter().map(|entry| json!({
            "mapping": entry.mapping_id,
            "child": entry.child.to_string(),
            "id": entry.id_value,
            "properties": entry.properties.iter().map(|p| json!({"field": p.external_field.to_string(), "mode": p.mode.to_string(), "value": p.value})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>()})).into_response(),
        Err(error) => problems(error.messages().to_vec()),
    }
}
