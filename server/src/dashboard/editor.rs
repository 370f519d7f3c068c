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

pub(crate) async fn provider(State(state): Shared, Path(id): Path<String>) -> Response {
    let Some(provider) = state.providers.iter().find(|p| p.identifier() == id) else {
        return message(
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("No provider \"{id}\" is configured."),
        );
    };
    let body = html! {
        p { a href={ "/dashboard/providers/" (id) "/editor" } { "Edit mappings" } " · max attempts " (provider.provider().max_attempts()) }
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
        p { "Edit the JSON (outsync's or pretix's format), or add an entry with the form, and validate it against the schema. Saving happens in the configuration file." }
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
        p { button #validate type="button" { "Validate" } }
        ul #result {}
        h2 { "Source fields" }
        (fields_by_model(&state))
        script type="application/json" #fields { (PreEscaped(schema_fields_json(&state))) }
        script src="/dashboard/static/editor.js" {}
    };
    let title = format!("Mapping editor: {}", provider.display_name());
    respond(StatusCode::OK, page(&title, false, body))
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
