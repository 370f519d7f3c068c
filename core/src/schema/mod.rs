//! The source schema: the application's models (an `Order` with child `OrderPosition`s)
//! and the data fields mappings can read from them.
//!
//! Schemas load from JSON ([`SourceSchema::from_json`]); computed fields are Rust functions
//! registered in a [`ComputedFields`] table and referred to by name.

mod field;
mod inputs;
mod load;
mod path;

pub use field::{ComputedFn, DataField, EnumOption, FieldType, Getter};
pub use inputs::{ChildKey, InputObject, Inputs};
pub use load::{ComputedFields, SchemaError};
pub use path::FieldPath;

use std::collections::HashMap;
use std::sync::Arc;

/// A kind of source object. A child model's objects are found in a collection of its
/// parent's object (`OrderPosition` at `positions` of an `Order`).
#[derive(Debug, Clone)]
pub struct Model {
    /// The model name mappings refer to (`Order`).
    pub name: String,
    /// Label shown to users.
    pub label: String,
    /// The parent model, for child models.
    pub parent: Option<String>,
    /// Where the children are found in the parent's object (child models only).
    pub path: Option<FieldPath>,
    /// Where a child's identifier is found in the child object; children without one are
    /// identified by their position in the collection.
    pub id_path: Option<FieldPath>,
    /// 0 for root models, parent depth + 1 for children.
    pub(crate) depth: usize,
}

/// The models and data fields of a source application.
#[derive(Debug, Clone, Default)]
pub struct SourceSchema {
    models: Vec<Model>,
    fields: Vec<Arc<DataField>>,
    field_index: HashMap<String, usize>,
}

impl SourceSchema {
    /// All models, in declaration order.
    pub fn models(&self) -> &[Model] {
        &self.models
    }

    /// The model called `name`.
    pub fn model(&self, name: &str) -> Option<&Model> {
        self.models.iter().find(|model| model.name == name)
    }

    /// All fields, in declaration order.
    pub fn fields(&self) -> &[Arc<DataField>] {
        &self.fields
    }

    /// The field with key `key`.
    pub fn field(&self, key: &str) -> Option<&Arc<DataField>> {
        self.field_index.get(key).map(|&index| &self.fields[index])
    }

    /// The chain of models from the root down to `model` (inclusive); empty if unknown.
    pub fn lineage(&self, model: &str) -> Vec<&Model> {
        let mut chain = Vec::new();
        let mut current = self.model(model);
        while let Some(found) = current {
            chain.push(found);
            current = found
                .parent
                .as_deref()
                .and_then(|parent| self.model(parent));
        }
        chain.reverse();
        chain
    }

    /// The root model of `model`'s tree.
    pub fn root_of(&self, model: &str) -> Option<&Model> {
        self.lineage(model).into_iter().next()
    }

    /// The fields a mapping on `model` may use: the model's own and its ancestors'.
    pub fn fields_available_to(&self, model: &str) -> Vec<&Arc<DataField>> {
        let lineage: Vec<&str> = self
            .lineage(model)
            .iter()
            .map(|model| model.name.as_str())
            .collect();
        self.fields
            .iter()
            .filter(|field| lineage.contains(&field.model.as_str()))
            .collect()
    }
}
