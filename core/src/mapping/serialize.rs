//! Writing mappings back as JSON (for editors, `mapping check` and copying configurations).

use super::{ObjectMapping, PropertyMapping, PropertySource};
use serde_json::{Map, Value, json};

impl ObjectMapping {
    /// This mapping in outsync's JSON format.
    pub fn to_json(&self) -> Value {
        let entries: Vec<Value> = self.property_mappings.iter().map(entry_json).collect();
        json!({
            "id": self.id,
            "source_model": self.source_model,
            "external_object_type": self.external_object_type,
            "source_id_field": self.source_id_field.key,
            "external_id_field": self.external_id_field,
            "property_mappings": entries,
        })
    }

    /// This mapping in pretix's JSON format (`value_map` and `property_mappings` as
    /// JSON-encoded strings). Constants and conversions have no pretix equivalent and are
    /// written with outsync's keys.
    pub fn to_pretix_json(&self) -> Value {
        let entries: Vec<Value> = self
            .property_mappings
            .iter()
            .map(|entry| {
                let mut object = match entry_json(entry) {
                    Value::Object(object) => object,
                    _ => Map::new(),
                };
                if let Some(field) = object.remove("source_field") {
                    object.insert("pretix_field".into(), field);
                }
                let value_map = object
                    .remove("value_map")
                    .map_or_else(String::new, |map| map.to_string());
                object.insert("value_map".into(), Value::String(value_map));
                if let Some(mode) = object.remove("mode") {
                    object.insert("overwrite".into(), mode);
                }
                Value::Object(object)
            })
            .collect();
        json!({
            "id": self.id,
            "pretix_model": self.source_model,
            "external_object_type": self.external_object_type,
            "pretix_id_field": self.source_id_field.key,
            "external_id_field": self.external_id_field,
            "property_mappings": Value::Array(entries).to_string(),
        })
    }
}

fn entry_json(entry: &PropertyMapping) -> Value {
    let mut object = Map::new();
    match &entry.source {
        PropertySource::Field(field) => {
            object.insert("source_field".into(), Value::String(field.key.clone()));
        }
        PropertySource::Constant(value) => {
            object.insert("constant".into(), value.clone());
        }
    }
    object.insert(
        "external_field".into(),
        Value::String(entry.external_field.to_string()),
    );
    if let Some(map) = &entry.value_map {
        let sorted: Map<String, Value> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        object.insert("value_map".into(), Value::Object(sorted));
    }
    object.insert("mode".into(), Value::String(entry.mode.as_str().into()));
    if let Some(conversion) = entry.convert {
        object.insert("convert".into(), Value::String(conversion.as_str().into()));
    }
    Value::Object(object)
}
