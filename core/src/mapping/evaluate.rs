//! Field evaluation: getter → value map → conversion → list joiner.

use super::value::value_to_string;
use super::{ObjectMapping, Property, PropertyMapping, PropertySource};
use crate::SyncError;
use crate::schema::{DataField, Inputs};
use serde_json::Value;

impl ObjectMapping {
    /// Evaluates every property entry for `inputs`.
    ///
    /// `list_joiner` is the provider's [`list_field_joiner`]: lists are joined into text
    /// with it, or kept as JSON arrays when it is `None`.
    ///
    /// Errors: a value missing from a value map is a [`SyncError::Config`]; a value that
    /// does not fit the configured conversion is a [`SyncError::Permanent`]. Both name the
    /// mapping, the entry, the field and the value.
    ///
    /// [`list_field_joiner`]: crate::OutboundSyncProvider::list_field_joiner
    pub fn evaluate(
        &self,
        inputs: &Inputs<'_>,
        list_joiner: Option<&str>,
    ) -> Result<Vec<Property>, SyncError> {
        let mut properties = Vec::with_capacity(self.property_mappings.len());
        for (index, entry) in self.property_mappings.iter().enumerate() {
            let value = self.evaluate_entry(entry, inputs, list_joiner, index)?;
            properties.push(Property {
                external_field: entry.external_field.clone(),
                value,
                mode: entry.mode,
            });
        }
        Ok(properties)
    }

    /// The identifier value of the object `inputs` point at (lists joined with `,`);
    /// empty when the id field is empty, in which case the object is not synced.
    pub fn id_value(&self, inputs: &Inputs<'_>) -> String {
        match read_field(&self.source_id_field, inputs) {
            Value::Array(items) => join(&items, ","),
            other => value_to_string(&other),
        }
    }

    fn evaluate_entry(
        &self,
        entry: &PropertyMapping,
        inputs: &Inputs<'_>,
        list_joiner: Option<&str>,
        index: usize,
    ) -> Result<Value, SyncError> {
        let mut value = match &entry.source {
            PropertySource::Constant(constant) => constant.clone(),
            PropertySource::Field(field) => {
                let raw = read_field(field, inputs);
                match &entry.value_map {
                    Some(map) => self.apply_value_map(map, raw, field, index)?,
                    None => raw,
                }
            }
        };
        if let Some(conversion) = entry.convert {
            value = conversion.apply(value).map_err(|problem| {
                SyncError::permanent(format!(
                    "{}: cannot convert to {conversion}: {problem}",
                    self.locate(index, entry)
                ))
            })?;
        }
        if let (Value::Array(items), Some(joiner)) = (&value, list_joiner) {
            value = Value::String(join(items, joiner));
        }
        Ok(value)
    }

    fn apply_value_map(
        &self,
        map: &std::collections::HashMap<String, Value>,
        raw: Value,
        field: &DataField,
        index: usize,
    ) -> Result<Value, SyncError> {
        let lookup = |item: &Value| -> Result<Value, SyncError> {
            let key = value_to_string(item);
            map.get(&key).cloned().ok_or_else(|| {
                SyncError::config(format!(
                    "mapping {}, entry {}, field \"{}\": the value map has no entry for \"{key}\"; add it to the value map",
                    self.id,
                    index + 1,
                    field.key
                ))
            })
        };
        match raw {
            Value::Null => Ok(Value::Null),
            Value::Array(items) => items
                .iter()
                .map(lookup)
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            single => lookup(&single),
        }
    }

    fn locate(&self, index: usize, entry: &PropertyMapping) -> String {
        let field = entry
            .source_field()
            .unwrap_or(entry.external_field.as_ref());
        format!(
            "mapping {}, entry {}, field \"{field}\"",
            self.id,
            index + 1
        )
    }
}

fn read_field(field: &DataField, inputs: &Inputs<'_>) -> Value {
    // Validation guarantees the field's model is in the mapping's lineage, so the input at
    // the field's depth is the field's model's object.
    field.read(inputs)
}

fn join(items: &[Value], separator: &str) -> String {
    let mut text = String::new();
    for (position, item) in items.iter().enumerate() {
        if position > 0 {
            text.push_str(separator);
        }
        match item {
            Value::String(part) => text.push_str(part),
            other => text.push_str(&value_to_string(other)),
        }
    }
    text
}
