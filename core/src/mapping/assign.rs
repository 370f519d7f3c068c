//! `assign_properties`: which properties to write to an external object, per update mode.

use super::value::{is_empty, value_to_string};
use super::{Property, UpdateMode};
use serde_json::{Map, Value};

/// Computes the properties to write to an external object.
///
/// - `new_values`: the evaluated properties, in mapping order.
/// - `old_values`: the object's current values in the external system (empty if new).
/// - `is_new`: whether the object is about to be created.
/// - `list_sep`: the separator of list fields stored as text (`Some(";")`), or `None` when
///   the external system has native lists.
///
/// Semantics (pretix's, mode by mode):
/// - `overwrite` writes the value, even an empty one;
/// - `if_new` writes only if `is_new`, and then only if the current value is empty;
/// - `if_empty` writes only if the current value is empty or missing;
/// - `append` adds the value's items that are missing from the current list and writes the
///   list only if it changed.
///
/// Empty new values (`null`, `""`, `0`, `false`, `[]`) are skipped by every mode but
/// `overwrite`. The "current value" is the one in `old_values`; when `old_values` lacks
/// the field, what an earlier entry of the same call wrote counts.
///
/// ```
/// use outsync_core::mapping::{assign_properties, Property, UpdateMode};
/// use serde_json::{json, Map};
/// let old: Map<String, _> = json!({"tags": "a;b", "name": "Jo"}).as_object().unwrap().clone();
/// let out = assign_properties(&[
///     Property::new("tags", json!("b;c"), UpdateMode::Append),
///     Property::new("name", json!("Jane"), UpdateMode::IfEmpty),
/// ], &old, false, Some(";"));
/// assert_eq!(Value::Object(out), json!({"tags": "a;b;c"}));
/// # use serde_json::Value;
/// ```
pub fn assign_properties(
    new_values: &[Property],
    old_values: &Map<String, Value>,
    is_new: bool,
    list_sep: Option<&str>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for property in new_values {
        let field = &*property.external_field;
        let value = &property.value;
        match property.mode {
            UpdateMode::Overwrite => {
                out.insert(field.to_owned(), value.clone());
                continue;
            }
            UpdateMode::IfNew if !is_new => continue,
            _ => {}
        }
        if is_empty(value) {
            continue;
        }
        let current = old_values.get(field).or_else(|| out.get(field));
        match property.mode {
            UpdateMode::IfNew | UpdateMode::IfEmpty => {
                if current.is_none_or(is_empty) {
                    out.insert(field.to_owned(), value.clone());
                }
            }
            UpdateMode::Append => {
                if let Some(list) = appended(current, value, list_sep) {
                    out.insert(field.to_owned(), list);
                }
            }
            UpdateMode::Overwrite => unreachable!("handled above"),
        }
    }
    out
}

/// The current list with `value`'s missing items added, or `None` if nothing was missing.
fn appended(current: Option<&Value>, value: &Value, list_sep: Option<&str>) -> Option<Value> {
    match list_sep {
        Some(sep) => {
            let current_items: Vec<String> = match current {
                None => Vec::new(),
                Some(Value::Array(items)) => items.iter().map(value_to_string).collect(),
                Some(other) if is_empty(other) => Vec::new(),
                Some(other) => value_to_string(other)
                    .split(sep)
                    .map(str::to_owned)
                    .collect(),
            };
            let new_items: Vec<String> = match value {
                Value::Array(items) => items.iter().map(value_to_string).collect(),
                other => value_to_string(other)
                    .split(sep)
                    .map(str::to_owned)
                    .collect(),
            };
            let mut list = current_items.clone();
            for item in new_items {
                if !list.contains(&item) {
                    list.push(item);
                }
            }
            (list != current_items).then(|| Value::String(list.join(sep)))
        }
        None => {
            let current_items: Vec<Value> = match current {
                None => Vec::new(),
                Some(Value::Array(items)) => items.clone(),
                Some(other) if is_empty(other) => Vec::new(),
                Some(other) => vec![other.clone()],
            };
            let new_items: &[Value] = match value {
                Value::Array(items) => items,
                other => std::slice::from_ref(other),
            };
            let mut list = current_items.clone();
            for item in new_items {
                if !list.contains(item) {
                    list.push(item.clone());
                }
            }
            (list.len() != current_items.len()).then_some(Value::Array(list))
        }
    }
}
