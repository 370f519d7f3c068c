//! Data fields: what a mapping can read from a source object.

use super::inputs::Inputs;
use super::path::FieldPath;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// A function that computes a field's value. It gets the object of the field's model and
/// all inputs of the call (so a child field can read its parent, e.g. the order code of a
/// position's ticket id).
pub type ComputedFn = Arc<dyn Fn(&Value, &Inputs<'_>) -> Value + Send + Sync>;

/// The type of a data field, as shown to users and used to validate value maps and
/// conversions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Free text.
    String,
    /// An integer or decimal number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// An RFC 3339 date and time.
    Datetime,
    /// One value out of a fixed list of options.
    Enum,
    /// A list of values out of a fixed list of options.
    EnumList,
    /// Any JSON value (an object or a list), passed on as it is.
    Json,
}

impl FieldType {
    /// Whether values of this type are option values that a value map can translate.
    pub fn has_options(self) -> bool {
        matches!(self, Self::Enum | Self::EnumList)
    }

    /// The name used in schema JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Datetime => "datetime",
            Self::Enum => "enum",
            Self::EnumList => "enum_list",
            Self::Json => "json",
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One option of an enum field: the value stored in the source and a label for users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnumOption {
    /// The value as it appears in source objects (e.g. `"p"`).
    pub value: String,
    /// A human-readable label (e.g. `"paid"`).
    pub label: String,
}

/// How a field's value is obtained.
#[derive(Clone)]
pub enum Getter {
    /// A path into the JSON object of the field's model.
    Path(FieldPath),
    /// A function registered from Rust under `name`.
    Computed {
        /// The name the schema JSON refers to.
        name: String,
        /// The function.
        function: ComputedFn,
    },
}

impl fmt::Debug for Getter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path(path) => write!(f, "Path({path})"),
            Self::Computed { name, .. } => write!(f, "Computed({name})"),
        }
    }
}

/// A field that mappings can read: key, label, category, type, options, the model it
/// reads from and its getter.
#[derive(Debug, Clone)]
pub struct DataField {
    /// Unique key mappings refer to (`order_status`).
    pub key: String,
    /// Label shown to users.
    pub label: String,
    /// Category used to group fields in the mapping editor.
    pub category: String,
    /// The type of the value.
    pub field_type: FieldType,
    /// The options of an enum or enum-list field (empty for other types).
    pub options: Vec<EnumOption>,
    /// The model whose object this field reads (the input it needs).
    pub model: String,
    /// How the value is obtained.
    pub getter: Getter,
    /// Position of `model` in its ancestor chain (0 = root model); set by the schema.
    pub(crate) depth: usize,
}

impl DataField {
    /// Reads the field from `inputs`, which must contain the field's model (a mapping's
    /// inputs always do: validation checks it). A missing path or input reads as `null`.
    pub fn read(&self, inputs: &Inputs<'_>) -> Value {
        let Some(object) = inputs.at_depth(self.depth) else {
            return Value::Null;
        };
        match &self.getter {
            Getter::Path(path) => path.lookup(object).cloned().unwrap_or(Value::Null),
            Getter::Computed { function, .. } => function(object, inputs),
        }
    }

    /// Whether `value` is one of this field's option values.
    pub fn has_option(&self, value: &str) -> bool {
        self.options.iter().any(|option| option.value == value)
    }
}
