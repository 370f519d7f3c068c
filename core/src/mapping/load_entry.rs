//! Loading a mapping's property entries: each entry's source field (or constant), external
//! field, value map, update mode and conversion, validated against the schema.

use super::load::{ENTRY_KEYS, INVALID_PREFIX, Reporter, aliased, required_text, unknown_keys};
use super::locate::{describe_json_error, element_at};
use super::{Conversion, PropertyMapping, PropertySource, UpdateMode};
use crate::schema::{DataField, SourceSchema};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub(super) fn load_entries(
    object: &Map<String, Value>,
    model: Option<&str>,
    schema: &SourceSchema,
    reporter: &mut Reporter<'_>,
) -> Vec<PropertyMapping> {
    let parsed;
    let list = match aliased(
        object,
        &["property_mappings", "property_mapping"],
        reporter,
        None,
    ) {
        None => return Vec::new(),
        Some((_, Value::Array(list))) => list,
        Some((_, Value::String(text))) if text.trim().is_empty() => return Vec::new(),
        Some((key, Value::String(text))) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(list)) => {
                parsed = list;
                &parsed
            }
            Ok(other) => {
                reporter.report(
                    None,
                    Some(key),
                    format!("expected a JSON array, got {other}"),
                );
                return Vec::new();
            }
            Err(error) => {
                let (entry, field) = element_at(text, &error, &["source_field", "pretix_field"]);
                reporter.report(
                    entry,
                    field.as_deref(),
                    format!("{key} is not valid JSON: {}", describe_json_error(&error)),
                );
                return Vec::new();
            }
        },
        Some((key, other)) => {
            reporter.report(None, Some(key), format!("expected an array, got {other}"));
            return Vec::new();
        }
    };
    list.iter()
        .enumerate()
        .filter_map(|(index, entry)| load_entry(entry, index, model, schema, reporter))
        .collect()
}

fn load_entry(
    entry: &Value,
    index: usize,
    model: Option<&str>,
    schema: &SourceSchema,
    reporter: &mut Reporter<'_>,
) -> Option<PropertyMapping> {
    let at = Some(index);
    let Some(object) = entry.as_object() else {
        reporter.report(at, None, format!("expected a JSON object, got {entry}"));
        return None;
    };
    let before = reporter.problems.len();
    unknown_keys(object, ENTRY_KEYS, reporter, at);
    let external_field = required_text(object, &["external_field"], reporter, at);
    let field_key = match aliased(object, &["source_field", "pretix_field"], reporter, at) {
        Some((_, Value::String(key))) if !key.is_empty() => Some(key.clone()),
        Some((key, other)) => {
            reporter.report(
                at,
                Some(key),
                format!("must be a non-empty string, got {other}"),
            );
            return None;
        }
        None => None,
    };
    let constant = object.get("constant");
    let source = match (field_key, constant, model) {
        (Some(_), Some(_), _) => {
            reporter.report(
                at,
                Some("constant"),
                "use either a source field or \"constant\", not both".into(),
            );
            None
        }
        (None, None, _) => {
            reporter.report(
                at,
                Some("source_field"),
                "needs \"source_field\" (pretix: \"pretix_field\") or \"constant\"".into(),
            );
            None
        }
        (None, Some(value), _) => Some(PropertySource::Constant(value.clone())),
        (Some(key), None, Some(model)) => match resolve_field(schema, model, &key) {
            Ok(field) => Some(PropertySource::Field(field)),
            Err(message) => {
                reporter.report(at, Some(&key), message);
                None
            }
        },
        (Some(_), None, None) => None,
    };
    let field_name = match &source {
        Some(PropertySource::Field(field)) => Some(field.key.clone()),
        _ => external_field.clone(),
    };
    let mode = match aliased(object, &["mode", "overwrite"], reporter, at) {
        None => UpdateMode::Overwrite,
        Some((_, Value::String(text))) => match text.parse() {
            Ok(mode) => mode,
            Err(message) => {
                reporter.report(at, field_name.as_deref(), message);
                UpdateMode::Overwrite
            }
        },
        Some((key, other)) => {
            reporter.report(
                at,
                field_name.as_deref(),
                format!("\"{key}\" must be a mode name, got {other}"),
            );
            UpdateMode::Overwrite
        }
    };
    let value_map = load_value_map(
        object.get("value_map"),
        source.as_ref(),
        field_name.as_deref(),
        at,
        reporter,
    );
    let convert = match object.get("convert") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => match text.parse::<Conversion>() {
            Ok(conversion) => {
                if let Some(PropertySource::Field(field)) = &source
                    && !conversion.accepts(field.field_type)
                {
                    reporter.report(
                        at,
                        Some(&field.key),
                        format!(
                            "cannot convert a field of type {} to {conversion}",
                            field.field_type
                        ),
                    );
                }
                Some(conversion)
            }
            Err(message) => {
                reporter.report(at, field_name.as_deref(), message);
                None
            }
        },
        Some(other) => {
            reporter.report(
                at,
                field_name.as_deref(),
                format!("\"convert\" must be a string, got {other}"),
            );
            None
        }
    };
    if reporter.problems.len() > before {
        return None;
    }
    Some(PropertyMapping {
        source: source?,
        external_field: Arc::from(external_field?.as_str()),
        value_map,
        mode,
        convert,
    })
}

fn load_value_map(
    raw: Option<&Value>,
    source: Option<&PropertySource>,
    field_name: Option<&str>,
    at: Option<usize>,
    reporter: &mut Reporter<'_>,
) -> Option<HashMap<String, Value>> {
    let parsed;
    let map = match raw {
        None | Some(Value::Null) => return None,
        Some(Value::String(text)) if text.trim().is_empty() => return None,
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => {
                parsed = map;
                &parsed
            }
            Ok(other) => {
                reporter.report(
                    at,
                    field_name,
                    format!("value_map must encode a JSON object, got {other}"),
                );
                return None;
            }
            Err(error) => {
                reporter.report(
                    at,
                    field_name,
                    format!(
                        "value_map is not valid JSON: {}",
                        describe_json_error(&error)
                    ),
                );
                return None;
            }
        },
        Some(Value::Object(map)) => map,
        Some(other) => {
            reporter.report(
                at,
                field_name,
                format!("value_map must be an object or a JSON string, got {other}"),
            );
            return None;
        }
    };
    if map.is_empty() {
        return None;
    }
    let field = match source {
        Some(PropertySource::Field(field)) => field,
        Some(PropertySource::Constant(_)) => {
            reporter.report(at, field_name, "a constant cannot have a value_map".into());
            return None;
        }
        None => return None,
    };
    if !field.field_type.has_options() {
        reporter.report(
            at,
            Some(&field.key),
            format!(
                "value_map only applies to enum fields; this field is of type {}",
                field.field_type
            ),
        );
        return None;
    }
    let unknown: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|key| !field.has_option(key))
        .collect();
    if !unknown.is_empty() {
        let options: Vec<&str> = field.options.iter().map(|o| o.value.as_str()).collect();
        reporter.report(
            at,
            Some(&field.key),
            format!(
                "value_map keys {} are not options of this field; options: {}",
                quoted(&unknown),
                options.join(", ")
            ),
        );
        return None;
    }
    Some(
        map.iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
    )
}

fn quoted(items: &[&str]) -> String {
    let parts: Vec<String> = items.iter().map(|item| format!("\"{item}\"")).collect();
    parts.join(", ")
}

/// Finds `key` and checks that a mapping on `model` can read it.
pub(crate) fn resolve_field(
    schema: &SourceSchema,
    model: &str,
    key: &str,
) -> Result<Arc<DataField>, String> {
    if let Some(original) = key.strip_prefix(INVALID_PREFIX) {
        return Err(format!(
            "refers to an object that has no counterpart in this copy (marked by translate_property_mappings); choose the field \"{original}\" again"
        ));
    }
    let Some(field) = schema.field(key) else {
        let available: Vec<&str> = schema
            .fields_available_to(model)
            .iter()
            .map(|field| field.key.as_str())
            .collect();
        return Err(format!(
            "is not a field of the schema; fields available to {model}: {}",
            available.join(", ")
        ));
    };
    let lineage: Vec<&str> = schema
        .lineage(model)
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    if !lineage.contains(&field.model.as_str()) {
        return Err(format!(
            "needs input {}, but a mapping on {model} has inputs {}",
            field.model,
            lineage.join(", ")
        ));
    }
    Ok(field.clone())
}
