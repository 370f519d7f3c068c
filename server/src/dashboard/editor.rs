//! The dashboard's provider page and mapping editor: the mappings as JSON, the schema's
//! fields, and validation of an edited mapping.

use super::html::{escape, page, table};
use super::pages::{Shared, csrf, csrf_ok};
use crate::api::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use outsync_core::mapping::ObjectMapping;
use serde_json::json;
use std::collections::BTreeMap;

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
        provider.provider().max_attempts(),
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

/// The mapping editor's script, a static file embedded in the binary.
const EDITOR_SCRIPT: &str = include_str!("editor.js");

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
