//! Loading object mappings from JSON (pretix's format or outsync's) and validating them
//! against the schema. Every problem is reported with its mapping, entry and field.

use super::error::{MappingConfigError, MappingProblem};
use super::load_entry::{load_entries, resolve_field};
use super::locate::{describe_json_error, element_at};
use super::{LineageStep, ObjectMapping};
use crate::schema::SourceSchema;
use serde_json::{Map, Value};
use std::collections::HashMap;

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

pub(super) const ENTRY_KEYS: &[&str] = &[
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
pub(super) struct Reporter<'p> {
    mapping: String,
    pub(super) problems: &'p mut Vec<MappingProblem>,
}

impl Reporter<'_> {
    pub(super) fn report(&mut self, entry: Option<usize>, field: Option<&str>, message: String) {
        self.problems.push(MappingProblem {
            mapping: self.mapping.clone(),
            entry: entry.map(|index| index + 1),
            field: field.map(str::to_owned),
            message,
        });
    }
}

pub(super) fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Reads the first present key of `aliases`; two present aliases are a problem.
pub(super) fn aliased<'v>(
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

pub(super) fn required_text(
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

pub(super) fn unknown_keys(
    object: &Map<String, Value>,
    known: &[&str],
    reporter: &mut Reporter<'_>,
    entry: Option<usize>,
) {
    for key in object.keys().filter(|key| !known.contains(&key.as_str())) {
        reporter.report(
            entry,
            Some(key),
            format!(
                "unknown key{}; known keys are {}",
                crate::keys::did_you_mean(key, known.iter().copied()),
                known.join(", ")
            ),
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
