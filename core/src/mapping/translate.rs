//! Rewriting field keys that embed ids of the source application when a configuration is
//! copied (pretix's `checkin_date_<id>` on event copy).

use super::load::INVALID_PREFIX;
use serde_json::Value;
use std::collections::HashMap;

/// Field keys of the form `<prefix><id>` and the old → new id map to apply to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTranslation {
    /// The key prefix, e.g. `checkin_date_`.
    pub prefix: String,
    /// Old id → new id.
    pub ids: HashMap<String, String>,
}

impl IdTranslation {
    /// A translation of keys starting with `prefix` through `ids`.
    pub fn new<I, K, V>(prefix: impl Into<String>, ids: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: ToString,
        V: ToString,
    {
        Self {
            prefix: prefix.into(),
            ids: ids
                .into_iter()
                .map(|(old, new)| (old.to_string(), new.to_string()))
                .collect(),
        }
    }
}

/// Returns a copy of the property mapping entries (a JSON array, in either format) with
/// every field key (`source_field` or `pretix_field`) that starts with a translation's
/// prefix rewritten to the new id.
///
/// A key whose id is not in the map becomes `_invalid_<key>`: loading such a mapping then
/// fails with a message asking to choose the field again, instead of silently reading a
/// different object. Entries that are not objects are copied unchanged.
///
/// ```
/// use outsync_core::mapping::{translate_property_mappings, IdTranslation};
/// use serde_json::json;
/// let entries = json!([{"pretix_field": "checkin_date_12", "external_field": "x", "value_map": "", "overwrite": "overwrite"},
///                      {"pretix_field": "checkin_date_99", "external_field": "y", "value_map": "", "overwrite": "overwrite"}]);
/// let copied = translate_property_mappings(&entries, &[IdTranslation::new("checkin_date_", [(12, 40)])]);
/// assert_eq!(copied[0]["pretix_field"], "checkin_date_40");
/// assert_eq!(copied[1]["pretix_field"], "_invalid_checkin_date_99");
/// ```
pub fn translate_property_mappings(entries: &Value, translations: &[IdTranslation]) -> Value {
    let Value::Array(items) = entries else {
        return entries.clone();
    };
    let translated = items
        .iter()
        .map(|item| {
            let mut item = item.clone();
            if let Value::Object(object) = &mut item {
                for key in ["source_field", "pretix_field"] {
                    if let Some(Value::String(field)) = object.get_mut(key)
                        && let Some(new_key) = translate_key(field, translations)
                    {
                        *field = new_key;
                    }
                }
            }
            item
        })
        .collect();
    Value::Array(translated)
}

fn translate_key(key: &str, translations: &[IdTranslation]) -> Option<String> {
    translations.iter().find_map(|translation| {
        let old_id = key.strip_prefix(&translation.prefix)?;
        Some(match translation.ids.get(old_id) {
            Some(new_id) => format!("{}{new_id}", translation.prefix),
            None => format!("{INVALID_PREFIX}{key}"),
        })
    })
}
