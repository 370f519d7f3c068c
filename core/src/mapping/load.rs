//! Loading object mappings from JSON (pretix's format or outsync's) and validating them
//! against the schema. Every problem is reported with its mapping, entry and field.

use super::error::{MappingConfigError, MappingProblem};
use super::locate::{describe_json_error, element_at};
use super::{Conversion, LineageStep, ObjectMapping, PropertyMapping, PropertySource, UpdateMode};
use crate::schema::{DataField, SourceSchema};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

const MAPPING_KEYS: &[&str] = &[
    "id",
    "pk",
    "source_model",
    "pretix_model",
    "external_object_type",
    "source_id_field",
    "pretix_id_field",
    "external_id_field",
    "property_mappings",
    "property_mapping",
];

const ENTRY_KEYS: &[&str] = &[
    "source_field",
    "pretix_field",
    "constant",
    "external_field",
    "value_map",
    "mode",
    "overwrite",
    "convert",
];

/// Prefix [`translate_property_mappings`](super::translate_property_mappings) puts on keys
/// whose id has no counterpart.
pub(crate) const INVALID_PREFIX: &str = "_invalid_";

impl ObjectMapping {
    /// Loads a JSON array of object mappings and validates all of them against `schema`.
    ///
    /// Accepts pretix's format (`pretix_model`, `pretix_id_field`, entries with
    /// `pretix_field`, `value_map` as a JSON-encoded string or `""`, `overwrite`) and
    /// outsync's (`source_model`, `source_id_field`, entries with `source_field` or
    /// `constant`, `value_map` as an object, `mode`, `convert`). `property_mappings` may be
    /// an array or a JSON-encoded string.
    pub fn load_all(
        json: &str,
        schema: &SourceSchema,
    ) -> Result<Vec<ObjectMapping>, MappingConfigError> {
        let document: Value = serde_json::from_str(json).map_err(|error| {
            let (index, id) = element_at(json, &error, &["id", "pk"]);
            MappingConfigError::single(MappingProblem {
                mapping: index.map_or_else(|| "list".to_owned(), |i| label_for(id, i)),
                entry: None,
                field: None,
                message: format!("not valid JSON: {}", describe_json_error(&error)),
            })
        })?;
        Self::load_value(&document, schema)
    }

    /// Like [`ObjectMapping::load_all`], from an already parsed JSON array.
    pub fn load_value(
        document: &Value,
        schema: &SourceSchema,
    ) -> Result<Vec<ObjectMapping>, MappingConfigError> {
        let Value::Array(items) = document else {
            return Err(MappingConfigError::single(MappingProblem {
                mapping: "list".into(),
                entry: None,
                field: None,
                message: "expected a JSON array of object mappings".into(),
            }));
        };
        let mut problems = Vec::new();
        let mut mappings: Vec<ObjectMapping> = Vec::with_capacity(items.len());
        let mut first_position: HashMap<String, usize> = HashMap::new();
        for (index, item) in items.iter().enumerate() {
            let Some(mapping) = load_one(item, index, schema, &mut problems) else {
                continue;
            };
            if let Some(earlier) = first_position.insert(mapping.id.clone(), index) {
                problems.push(MappingProblem {
                    mapping: mapping.id.clone(),
                    entry: None,
                    field: Some("id".into()),
                    message: format!(
                        "id is used by mapping #{} and #{} too; ids must be unique",
                        earlier + 1,
                        index + 1
                    ),
                });
            }
            mappings.push(mapping);
        }
        if problems.is_empty() {
            Ok(mappings)
        } else {
            Err(MappingConfigError { problems })
        }
    }

    /// Loads and validates one object mapping given as a JSON object.
    pub fn from_value(
        value: &Value,
        schema: &SourceSchema,
    ) -> Result<ObjectMapping, MappingConfigError> {
        let mut problems = Vec::new();
        match load_one(value, 0, schema, &mut problems) {
            Some(mapping) if problems.is_empty() => Ok(mapping),
            _ => Err(MappingConfigError { problems }),
        }
    }
}

fn label_for(id: Option<String>, index: usize) -> String {
    id.unwrap_or_else(|| format!("#{}", index + 1))
}

/// Collects problems of one mapping under its label.
struct Reporter<'p> {
    mapping: String,
    problems: &'p mut Vec<MappingProblem>,
}

impl Reporter<'_> {
    fn report(&mut self, entry: Option<usize>, field: Option<&str>, message: String) {
        self.problems.push(MappingProblem {
            mapping: self.mapping.clone(),
            entry: entry.map(|index| index + 1),
            field: field.map(str::to_owned),
            message,
        });
    }
}

fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Reads the first present key of `aliases`; two present aliases are a problem.
fn aliased<'v>(
    object: &'v Map<String, Value>,
    aliases: &[&'static str],
    reporter: &mut Reporter<'_>,
    entry: Option<usize>,
) -> Option<(&'static str, &'v Value)> {
    let present: Vec<_> = aliases
        .iter()
        .filter_map(|&key| object.get(key).map(|value| (key, value)))
        .collect();
    if present.len() > 1 {
        reporter.report(
            entry,
            Some(present[1].0),
            format!(
                "use either \"{}\" or \"{}\", not both",
                present[0].0, present[1].0
            ),
        );
    }
    present.into_iter().next()
}

fn required_text(
    object: &Map<String, Value>,
    aliases: &[&'static str],
    reporter: &mut Reporter<'_>,
    entry: Option<usize>,
) -> Option<String> {
    match aliased(object, aliases, reporter, entry) {
        Some((_, Value::String(text))) if !text.is_empty() => Some(text.clone()),
        Some((key, other)) => {
            reporter.report(
                entry,
                Some(key),
                format!("must be a non-empty string, got {other}"),
            );
            None
        }
        None => {
            reporter.report(
                entry,
                Some(aliases[0]),
                format!("\"{}\" is missing", aliases[0]),
            );
            None
        }
    }
}

fn unknown_keys(
    object: &Map<String, Value>,
    known: &[&str],
    reporter: &mut Reporter<'_>,
    entry: Option<usize>,
) {
    for key in object.keys().filter(|key| !known.contains(&key.as_str())) {
        reporter.report(
            entry,
            Some(key),
            format!("unknown key; known keys are {}", known.join(", ")),
        );
    }
}

fn load_one(
    item: &Value,
    index: usize,
    schema: &SourceSchema,
    problems: &mut Vec<MappingProblem>,
) -> Option<ObjectMapping> {
    let object = item.as_object();
    let id = object
        .and_then(|o| o.get("id").or_else(|| o.get("pk")))
        .and_then(id_text);
    let mut reporter = Reporter {
        mapping: label_for(id.clone(), index),
        problems,
    };
    let Some(object) = object else {
        reporter.report(None, None, format!("expected a JSON object, got {item}"));
        return None;
    };
    let before = reporter.problems.len();
    if id.is_none() {
        reporter.report(
            None,
            Some("id"),
            "\"id\" is missing or empty (a string or number)".into(),
        );
    }
    unknown_keys(object, MAPPING_KEYS, &mut reporter, None);
    let model = required_text(
        object,
        &["source_model", "pretix_model"],
        &mut reporter,
        None,
    );
    let external_object_type =
        required_text(object, &["external_object_type"], &mut reporter, None);
    let external_id_field = required_text(object, &["external_id_field"], &mut reporter, None);
    let id_key = required_text(
        object,
        &["source_id_field", "pretix_id_field"],
        &mut reporter,
        None,
    );
    let model_info = model.as_deref().and_then(|name| {
        let found = schema.model(name);
        if found.is_none() {
            let names: Vec<&str> = schema.models().iter().map(|m| m.name.as_str()).collect();
            reporter.report(
                None,
                Some("source_model"),
                format!(
                    "model \"{name}\" is not defined; models: {}",
                    names.join(", ")
                ),
            );
        }
        found
    });
    let id_field = match (model_info, id_key.as_deref()) {
        (Some(model), Some(key)) => match resolve_field(schema, &model.name, key) {
            Ok(field) => Some(field),
            Err(message) => {
                reporter.report(None, Some(key), format!("source_id_field: {message}"));
                None
            }
        },
        _ => None,
    };
    let entries = load_entries(
        object,
        model_info.map(|m| m.name.as_str()),
        schema,
        &mut reporter,
    );
    if reporter.problems.len() > before {
        return None;
    }
    let model = model_info?;
    Some(ObjectMapping {
        id: id?,
        source_model: model.name.clone(),
        lineage: schema
            .lineage(&model.name)
            .into_iter()
            .map(|step| LineageStep {
                model: step.name.clone(),
                path: step.path.clone(),
                id_path: step.id_path.clone(),
            })
            .collect(),
        external_object_type: external_object_type?,
        source_id_field: id_field?,
        external_id_field: external_id_field?,
        property_mappings: entries,
    })
}

fn load_entries(
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
