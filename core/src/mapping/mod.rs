//! Object and property mappings: which source model becomes which external object, and
//! which source field (or constant) fills which external field, how.
//!
//! Mappings load from JSON in pretix's format or outsync's own
//! ([`ObjectMapping::load_all`]) and are validated against a [`SourceSchema`] when loaded.
//! [`assign_properties`] implements the update modes.
//!
//! [`SourceSchema`]: crate::schema::SourceSchema

mod assign;
mod convert;
mod error;
mod evaluate;
mod load;
mod load_entry;
mod locate;
mod mode;
mod serialize;
mod translate;
mod value;

pub use assign::{Assignment, assign_properties, assign_properties_into};
pub use convert::Conversion;
pub use error::{MappingConfigError, MappingProblem};
pub use mode::UpdateMode;
pub use translate::{IdTranslation, translate_property_mappings};
pub use value::{is_empty, value_to_string};

use crate::schema::DataField;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// One evaluated property, as passed to a provider: `(external_field, value, mode)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    /// The field in the external system.
    pub external_field: Arc<str>,
    /// The value read from the source (after value map, conversion and list joining).
    pub value: Value,
    /// How the value is to be written.
    pub mode: UpdateMode,
}

impl Property {
    /// A property (mostly useful in tests and custom providers).
    pub fn new(external_field: &str, value: Value, mode: UpdateMode) -> Self {
        Self {
            external_field: Arc::from(external_field),
            value,
            mode,
        }
    }
}

/// Where a property's value comes from.
#[derive(Debug, Clone)]
pub enum PropertySource {
    /// A data field of the schema.
    Field(Arc<DataField>),
    /// A constant value written as is.
    Constant(Value),
}

/// One entry of an object mapping's property list.
#[derive(Debug, Clone)]
pub struct PropertyMapping {
    pub(crate) source: PropertySource,
    pub(crate) external_field: Arc<str>,
    pub(crate) value_map: Option<HashMap<String, Value>>,
    pub(crate) mode: UpdateMode,
    pub(crate) convert: Option<Conversion>,
}

impl PropertyMapping {
    /// Where the value comes from.
    pub fn source(&self) -> &PropertySource {
        &self.source
    }

    /// The source field's key, if the value comes from a field.
    pub fn source_field(&self) -> Option<&str> {
        match &self.source {
            PropertySource::Field(field) => Some(&field.key),
            PropertySource::Constant(_) => None,
        }
    }

    /// The field in the external system.
    pub fn external_field(&self) -> &str {
        &self.external_field
    }

    /// The value map (source option → external value), if any.
    pub fn value_map(&self) -> Option<&HashMap<String, Value>> {
        self.value_map.as_ref()
    }

    /// The update mode.
    pub fn mode(&self) -> UpdateMode {
        self.mode
    }

    /// The type conversion, if any.
    pub fn conversion(&self) -> Option<Conversion> {
        self.convert
    }
}

/// One model on the way from the root model down to a mapping's source model.
#[derive(Debug, Clone)]
pub(crate) struct LineageStep {
    pub(crate) model: String,
    /// Where this model's objects are in the parent object (`None` for the root).
    pub(crate) path: Option<crate::schema::FieldPath>,
    pub(crate) id_path: Option<crate::schema::FieldPath>,
}

/// Maps one source model (the synced object, or each of its children) to one type of
/// external object. Build with [`ObjectMapping::load_all`] or [`ObjectMapping::from_value`],
/// which validate against the schema.
#[derive(Debug, Clone)]
pub struct ObjectMapping {
    pub(crate) id: String,
    pub(crate) source_model: String,
    pub(crate) lineage: Vec<LineageStep>,
    pub(crate) external_object_type: String,
    pub(crate) source_id_field: Arc<DataField>,
    pub(crate) external_id_field: String,
    pub(crate) property_mappings: Vec<PropertyMapping>,
}

impl ObjectMapping {
    /// The mapping's unique identifier (keys `mapped_objects`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The source model this mapping reads (`Order`, `OrderPosition`).
    pub fn source_model(&self) -> &str {
        &self.source_model
    }

    /// The type of object created in the external system (opaque to outsync).
    pub fn external_object_type(&self) -> &str {
        &self.external_object_type
    }

    /// The source field whose value identifies the external object.
    pub fn source_id_field(&self) -> &DataField {
        &self.source_id_field
    }

    /// The external field holding the identifier.
    pub fn external_id_field(&self) -> &str {
        &self.external_id_field
    }

    /// The property entries, in order.
    pub fn property_mappings(&self) -> &[PropertyMapping] {
        &self.property_mappings
    }

    /// Whether this mapping reads children of the synced object rather than the object.
    pub fn is_child_mapping(&self) -> bool {
        self.lineage.len() > 1
    }

    /// The root model of the objects this mapping applies to (`Order` for a mapping on
    /// `OrderPosition`).
    pub fn root_model(&self) -> &str {
        &self.lineage[0].model
    }

    /// Where the root object's own id is found in its JSON, if the schema says
    /// (`id_path` of the root model).
    pub fn root_id_path(&self) -> Option<&crate::schema::FieldPath> {
        self.lineage[0].id_path.as_ref()
    }
}
