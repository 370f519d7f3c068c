//! Loading a [`SourceSchema`] from JSON and validating it.

use super::field::{ComputedFn, DataField, EnumOption, FieldType, Getter};
use super::inputs::Inputs;
use super::path::FieldPath;
use super::{Model, SourceSchema};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Computed field functions registered from Rust, looked up by name when a schema loads.
#[derive(Clone, Default)]
pub struct ComputedFields {
    functions: HashMap<String, ComputedFn>,
}

impl ComputedFields {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `function` under `name` (replacing an earlier one of that name).
    #[must_use]
    pub fn with(
        mut self,
        name: impl Into<String>,
        function: impl Fn(&Value, &Inputs<'_>) -> Value + Send + Sync + 'static,
    ) -> Self {
        self.functions.insert(name.into(), Arc::new(function));
        self
    }

    /// The function registered under `name`.
    pub fn get(&self, name: &str) -> Option<&ComputedFn> {
        self.functions.get(name)
    }

    fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.functions.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}

impl std::fmt::Debug for ComputedFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

/// A problem in a schema definition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The JSON could not be parsed.
    #[error("schema is not valid JSON: {0}")]
    Json(String),
    /// A model definition is wrong.
    #[error("schema model \"{model}\": {problem}")]
    Model {
        /// The model name.
        model: String,
        /// What is wrong.
        problem: String,
    },
    /// A field definition is wrong.
    #[error("schema field \"{field}\": {problem}")]
    Field {
        /// The field key.
        field: String,
        /// What is wrong.
        problem: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchema {
    models: Vec<RawModel>,
    fields: Vec<RawField>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    name: String,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    id_path: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    key: String,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(rename = "type")]
    field_type: FieldType,
    model: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    computed: Option<String>,
    #[serde(default)]
    options: Vec<RawOption>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawOption {
    Plain(String),
    Labelled { value: String, label: String },
}

impl SourceSchema {
    /// Loads a schema from JSON, resolving `"computed"` getters in `computed`.
    ///
    /// ```
    /// use outsync_core::schema::{ComputedFields, SourceSchema};
    /// let schema = SourceSchema::from_json(r#"{
    ///   "models": [{"name": "Order"}, {"name": "OrderPosition", "parent": "Order", "path": "positions"}],
    ///   "fields": [{"key": "email", "type": "string", "model": "Order", "path": "email"}]
    /// }"#, &ComputedFields::new()).unwrap();
    /// assert_eq!(schema.models().len(), 2);
    /// ```
    pub fn from_json(json: &str, computed: &ComputedFields) -> Result<Self, SchemaError> {
        let raw: RawSchema =
            serde_json::from_str(json).map_err(|error| SchemaError::Json(error.to_string()))?;
        let models = raw
            .models
            .into_iter()
            .map(|model| {
                let path = parse_optional_path(&model.name, "path", model.path.as_deref())?;
                let id_path =
                    parse_optional_path(&model.name, "id_path", model.id_path.as_deref())?;
                Ok(Model {
                    label: model.label.unwrap_or_else(|| model.name.clone()),
                    name: model.name,
                    parent: model.parent,
                    path,
                    id_path,
                    depth: 0,
                })
            })
            .collect::<Result<Vec<_>, SchemaError>>()?;
        let fields = raw
            .fields
            .into_iter()
            .map(|field| build_field(field, computed))
            .collect::<Result<Vec<_>, SchemaError>>()?;
        Self::new(models, fields)
    }

    /// Builds a schema from models and fields defined in Rust, validating them.
    pub fn new(mut models: Vec<Model>, fields: Vec<DataField>) -> Result<Self, SchemaError> {
        let depths = model_depths(&models)?;
        for model in &mut models {
            model.depth = depths[&model.name];
        }
        let mut schema = Self {
            models,
            fields: Vec::with_capacity(fields.len()),
            field_index: HashMap::new(),
        };
        for mut field in fields {
            let Some(model) = schema.model(&field.model) else {
                return Err(field_error(
                    &field.key,
                    format!(
                        "model \"{}\" is not defined; models: {}",
                        field.model,
                        schema.model_names()
                    ),
                ));
            };
            field.depth = model.depth;
            if field.field_type.has_options() && field.options.is_empty() {
                return Err(field_error(
                    &field.key,
                    format!("type {} needs a list of options", field.field_type),
                ));
            }
            if schema.field_index.contains_key(&field.key) {
                return Err(field_error(&field.key, "is defined twice".into()));
            }
            schema
                .field_index
                .insert(field.key.clone(), schema.fields.len());
            schema.fields.push(Arc::new(field));
        }
        Ok(schema)
    }

    fn model_names(&self) -> String {
        let names: Vec<&str> = self.models.iter().map(|m| m.name.as_str()).collect();
        names.join(", ")
    }
}

fn parse_optional_path(
    model: &str,
    what: &str,
    path: Option<&str>,
) -> Result<Option<FieldPath>, SchemaError> {
    path.map(|text| {
        FieldPath::parse(text).ok_or_else(|| SchemaError::Model {
            model: model.to_owned(),
            problem: format!("{what} \"{text}\" is not a valid dotted path"),
        })
    })
    .transpose()
}

fn field_error(field: &str, problem: String) -> SchemaError {
    SchemaError::Field {
        field: field.to_owned(),
        problem,
    }
}

fn build_field(raw: RawField, computed: &ComputedFields) -> Result<DataField, SchemaError> {
    let getter = match (raw.path, raw.computed) {
        (Some(path), None) => Getter::Path(FieldPath::parse(&path).ok_or_else(|| {
            field_error(
                &raw.key,
                format!("path \"{path}\" is not a valid dotted path"),
            )
        })?),
        (None, Some(name)) => {
            let Some(function) = computed.get(&name) else {
                return Err(field_error(
                    &raw.key,
                    format!(
                        "computed function \"{name}\" is not registered; registered: {:?}",
                        computed.names()
                    ),
                ));
            };
            Getter::Computed {
                name,
                function: function.clone(),
            }
        }
        _ => {
            return Err(field_error(
                &raw.key,
                "needs exactly one of \"path\" and \"computed\"".into(),
            ));
        }
    };
    let options = raw
        .options
        .into_iter()
        .map(|option| match option {
            RawOption::Plain(value) => EnumOption {
                label: value.clone(),
                value,
            },
            RawOption::Labelled { value, label } => EnumOption { value, label },
        })
        .collect();
    Ok(DataField {
        label: raw.label.unwrap_or_else(|| raw.key.clone()),
        category: raw.category.unwrap_or_default(),
        key: raw.key,
        field_type: raw.field_type,
        options,
        model: raw.model,
        getter,
        depth: 0,
    })
}

/// Checks parents and collection paths and returns each model's depth.
fn model_depths(models: &[Model]) -> Result<HashMap<String, usize>, SchemaError> {
    let by_name: HashMap<&str, &Model> = models.iter().map(|m| (m.name.as_str(), m)).collect();
    if by_name.len() != models.len() {
        let mut seen = std::collections::HashSet::new();
        let duplicate = models.iter().find(|m| !seen.insert(&m.name));
        return Err(SchemaError::Model {
            model: duplicate.map(|m| m.name.clone()).unwrap_or_default(),
            problem: "is defined twice".into(),
        });
    }
    let mut depths = HashMap::new();
    for model in models {
        let model_error = |problem: String| SchemaError::Model {
            model: model.name.clone(),
            problem,
        };
        match (&model.parent, &model.path) {
            (Some(_), None) => {
                return Err(model_error(
                    "a child model needs the \"path\" of its collection in the parent".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(model_error("\"path\" is only valid with \"parent\"".into()));
            }
            _ => {}
        }
        let mut depth = 0;
        let mut current = model;
        while let Some(parent) = &current.parent {
            current = by_name
                .get(parent.as_str())
                .ok_or_else(|| model_error(format!("parent model \"{parent}\" is not defined")))?;
            depth += 1;
            if depth > models.len() {
                return Err(model_error("its parents form a cycle".into()));
            }
        }
        depths.insert(model.name.clone(), depth);
    }
    Ok(depths)
}
