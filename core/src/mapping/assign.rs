//! `assign_properties`: which properties to write to an external object, per update mode.

use super::value::{is_empty, value_to_string};
use super::{Property, UpdateMode};
use serde_json::{Map, Value};
use std::borrow::Cow;

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
    let mut assigned = Vec::new();
    assign_properties_into(new_values, old_values, is_new, list_sep, &mut assigned);
    assigned
        .into_iter()
        .map(|(field, value)| (field.to_owned(), value.into_owned()))
        .collect()
}

/// One property [`assign_properties_into`] writes: the external field and its value,
/// borrowed from the evaluated properties unless `append` built a new list.
pub type Assignment<'a> = (&'a str, Cow<'a, Value>);

/// [`assign_properties`] without allocating: the properties to write go into `out`
/// (cleared first), in the order their fields were first written, borrowing field names
/// and values from `new_values`. Only an `append` that adds to a list builds a value;
/// a caller that keeps `out` between calls allocates nothing else.
///
/// ```
/// use outsync_core::mapping::{assign_properties_into, Property, UpdateMode};
/// use serde_json::{json, Map};
/// let old: Map<String, _> = json!({"name": "Jo"}).as_object().unwrap().clone();
/// let new = [
///     Property::new("name", json!("Jane"), UpdateMode::IfEmpty),
///     Property::new("email", json!("jane@example.org"), UpdateMode::Overwrite),
/// ];
/// let mut out = Vec::new();
/// assign_properties_into(&new, &old, false, None, &mut out);
/// assert_eq!(out.len(), 1);
/// assert_eq!(out[0].0, "email");
/// assert_eq!(*out[0].1, json!("jane@example.org"));
/// ```
pub fn assign_properties_into<'a>(
    new_values: &'a [Property],
    old_values: &Map<String, Value>,
    is_new: bool,
    list_sep: Option<&str>,
    out: &mut Vec<Assignment<'a>>,
) {
    out.clear();
    for property in new_values {
        let field = &*property.external_field;
        let value = &property.value;
        match property.mode {
            UpdateMode::Overwrite => {
                write(out, field, Cow::Borrowed(value));
                continue;
            }
            UpdateMode::IfNew if !is_new => continue,
            _ => {}
        }
        if is_empty(value) {
            continue;
        }
        let current = old_values.get(field).or_else(|| written(out, field));
        match property.mode {
            UpdateMode::IfNew | UpdateMode::IfEmpty => {
                if current.is_none_or(is_empty) {
                    write(out, field, Cow::Borrowed(value));
                }
            }
            UpdateMode::Append => {
                if let Some(list) = appended(current, value, list_sep) {
                    write(out, field, Cow::Owned(list));
                }
            }
            UpdateMode::Overwrite => unreachable!("handled above"),
        }
    }
}

/// The value written to `field` so far in this call.
fn written<'o>(out: &'o [Assignment<'_>], field: &str) -> Option<&'o Value> {
    out.iter()
        .find(|(name, _)| *name == field)
        .map(|(_, value)| value.as_ref())
}

/// Writes `value` to `field`: a field written before keeps its place and takes the value.
fn write<'a>(out: &mut Vec<Assignment<'a>>, field: &'a str, value: Cow<'a, Value>) {
    match out.iter_mut().find(|(name, _)| *name == field) {
        Some(slot) => slot.1 = value,
        None => out.push((field, value)),
    }
}

/// The text form of a value, borrowed when it is a string.
fn text_of(value: &Value) -> Cow<'_, str> {
    match value {
        Value::String(text) => Cow::Borrowed(text),
        other => Cow::Owned(value_to_string(other)),
    }
}

/// The current list with `value`'s missing items added, or `None` if nothing was missing
/// (found without building anything).
fn appended(current: Option<&Value>, value: &Value, list_sep: Option<&str>) -> Option<Value> {
    let current = current.filter(|current| !is_empty(current));
    match list_sep {
        Some(sep) => {
            if let (None | Some(Value::String(_)), Value::String(new_text)) = (current, value) {
                // The common case, text onto text: look for a missing item first, so that
                // an append that adds nothing builds nothing.
                let current_text = current.and_then(Value::as_str).unwrap_or("");
                let is_current = |item: &str| {
                    !current_text.is_empty() && current_text.split(sep).any(|known| known == item)
                };
                // An item's first occurrence among the new ones decides: it is missing
                // exactly when it is not current.
                let missing = new_text.split(sep).any(|item| !is_current(item));
                if !missing {
                    return None;
                }
            }
            let current_items: Vec<Cow<'_, str>> = match current {
                None => Vec::new(),
                Some(Value::Array(items)) => items.iter().map(text_of).collect(),
                Some(other) => match text_of(other) {
                    Cow::Borrowed(text) => text.split(sep).map(Cow::Borrowed).collect(),
                    Cow::Owned(text) => text
                        .split(sep)
                        .map(|item| Cow::Owned(item.to_owned()))
                        .collect(),
                },
            };
            let new_text;
            let new_items: Vec<Cow<'_, str>> = match value {
                Value::Array(items) => items.iter().map(text_of).collect(),
                other => {
                    new_text = text_of(other);
                    new_text.split(sep).map(Cow::Borrowed).collect()
                }
            };
            let mut list = current_items;
            let known = list.len();
            for item in new_items {
                if !list.contains(&item) {
                    list.push(item);
                }
            }
            (list.len() != known).then(|| Value::String(list.join(sep)))
        }
        None => {
            let current_items: &[Value] = match current {
                None => &[],
                Some(Value::Array(items)) => items,
                Some(other) => std::slice::from_ref(other),
            };
            let new_items: &[Value] = match value {
                Value::Array(items) => items,
                other => std::slice::from_ref(other),
            };
            let mut added: Vec<&Value> = Vec::new();
            for item in new_items {
                if !current_items.contains(item) && !added.contains(&item) {
                    added.push(item);
                }
            }
            (!added.is_empty())
                .then(|| Value::Array(current_items.iter().chain(added).cloned().collect()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().expect("an object").clone()
    }

    /// pretix's four kinds of update, which the queue benchmark's mappings use too.
    fn cases() -> Vec<(Vec<Property>, Map<String, Value>, bool)> {
        vec![
            (
                vec![
                    Property::new("email", json!("a@example.org"), UpdateMode::Overwrite),
                    Property::new("status", json!("paid"), UpdateMode::Overwrite),
                    Property::new("total", json!(42.5), UpdateMode::Overwrite),
                ],
                Map::new(),
                true,
            ),
            (
                vec![
                    Property::new("name", json!("Jane"), UpdateMode::IfEmpty),
                    Property::new("source", json!("pretix"), UpdateMode::IfNew),
                    Property::new("phone", json!("+49 30 1"), UpdateMode::IfEmpty),
                    Property::new("email", json!("a@example.org"), UpdateMode::Overwrite),
                ],
                map(json!({"name": "Jo", "phone": "", "source": "web"})),
                false,
            ),
            (
                vec![Property::new("tags", json!("VIP"), UpdateMode::Append)],
                map(json!({"tags": "VIP;Staff"})),
                false,
            ),
            (
                vec![Property::new("tags", json!(["VIP"]), UpdateMode::Append)],
                map(json!({"tags": ["VIP", "Staff"]})),
                false,
            ),
        ]
    }

    #[test]
    fn no_call_allocates_unless_append_builds_a_list() {
        let cases = cases();
        let mut out = Vec::with_capacity(8);
        for (properties, old, is_new) in &cases {
            let separator = old.get("tags").filter(|tags| tags.is_string()).map(|_| ";");
            let counted = allocation_counter::measure(|| {
                assign_properties_into(properties, old, *is_new, separator, &mut out);
            });
            assert_eq!(counted.count_total, 0, "{properties:?} onto {old:?}");
            assert_eq!(
                Value::Object(
                    out.iter()
                        .map(|(k, v)| ((*k).to_owned(), v.clone().into_owned()))
                        .collect()
                ),
                Value::Object(assign_properties(properties, old, *is_new, separator)),
                "the wrapper agrees"
            );
        }
        // An append that adds an item builds the new list, and only that.
        let adding = [Property::new("tags", json!("Speaker"), UpdateMode::Append)];
        let old = map(json!({"tags": "VIP;Staff"}));
        let counted = allocation_counter::measure(|| {
            assign_properties_into(&adding, &old, false, Some(";"), &mut out);
        });
        assert!(counted.count_total > 0);
        assert_eq!(out, vec![("tags", Cow::Owned(json!("VIP;Staff;Speaker")))]);
    }

    #[test]
    fn a_field_written_twice_keeps_its_place_and_the_last_value() {
        let properties = [
            Property::new("a", json!(1), UpdateMode::Overwrite),
            Property::new("b", json!(2), UpdateMode::Overwrite),
            Property::new("a", json!(3), UpdateMode::Overwrite),
        ];
        let mut out = Vec::new();
        assign_properties_into(&properties, &Map::new(), true, None, &mut out);
        let fields: Vec<(&str, Value)> = out
            .iter()
            .map(|(k, v)| (*k, v.clone().into_owned()))
            .collect();
        assert_eq!(fields, vec![("a", json!(3)), ("b", json!(2))]);
    }
}
