//! The JSON form of an enqueue request, as the HTTP API's `POST /api/enqueue` takes it:
//!
//! ```json
//! {"provider": "basket", "object_type": "UserProfile", "object_id": "42",
//!  "snapshot": {...}, "triggered_by": "signup", "force": false, "immediate": false}
//! ```
//!
//! or a batch `{"items": [ ...objects like the one above... ]}`. Identifiers may be strings
//! or numbers; every problem names the item and the key.

use super::enqueue::{EnqueueItem, EnqueueOptions};
use outsync_core::ObjectRef;
use outsync_core::sync::kind_of;
use serde_json::Value;

/// A parsed enqueue request.
#[derive(Debug, Clone, PartialEq)]
pub enum EnqueueRequest {
    /// One object.
    One(EnqueueItem),
    /// A batch (`{"items": [...]}`).
    Batch(Vec<EnqueueItem>),
}

impl EnqueueRequest {
    /// Reads a request from its JSON body; the error says which item and key is wrong.
    pub fn from_json(body: &Value) -> Result<Self, String> {
        if !body.is_object() {
            return Err(format!(
                "the request must be a JSON object, got {}",
                kind_of(body)
            ));
        }
        let Some(items) = body.get("items") else {
            return item(body, None).map(Self::One);
        };
        let Some(items) = items.as_array() else {
            return Err(format!("\"items\" must be a list, got {}", kind_of(items)));
        };
        items
            .iter()
            .enumerate()
            .map(|(index, entry)| item(entry, Some(index)))
            .collect::<Result<Vec<_>, _>>()
            .map(Self::Batch)
    }

    /// The items, one or many.
    pub fn items(&self) -> &[EnqueueItem] {
        match self {
            Self::One(item) => std::slice::from_ref(item),
            Self::Batch(items) => items,
        }
    }
}

fn item(value: &Value, index: Option<usize>) -> Result<EnqueueItem, String> {
    let at = index.map_or_else(String::new, |i| format!("items[{i}]: "));
    if !value.is_object() {
        return Err(format!(
            "{at}an item must be an object, got {}",
            kind_of(value)
        ));
    }
    let text = |key: &str| match value.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(format!("{at}\"{key}\" is missing or not a string")),
    };
    let flag = |key: &str| match value.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(format!("{at}\"{key}\" must be true or false, got {other}")),
    };
    let triggered_by = match value.get("triggered_by") {
        None | Some(Value::Null) => "api".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(format!(
                "{at}\"triggered_by\" must be a string, got {}",
                kind_of(other)
            ));
        }
    };
    Ok(EnqueueItem {
        provider: text("provider")?,
        object: ObjectRef::new(text("object_type")?, text("object_id")?),
        triggered_by,
        options: EnqueueOptions {
            snapshot: value.get("snapshot").filter(|s| !s.is_null()).cloned(),
            force: flag("force")?,
            immediate: flag("immediate")?,
            ..EnqueueOptions::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_one_item_and_batches_and_names_what_is_wrong() {
        let one = EnqueueRequest::from_json(&json!({"provider": "basket",
            "object_type": "UserProfile", "object_id": 42, "snapshot": {"id": 42}, "force": true}))
        .unwrap();
        let item = &one.items()[0];
        assert_eq!(item.object, ObjectRef::new("UserProfile", "42"));
        assert_eq!(item.triggered_by, "api");
        assert!(item.options.force && !item.options.immediate);
        assert_eq!(item.options.snapshot, Some(json!({"id": 42})));

        let error = EnqueueRequest::from_json(&json!({"items": [
            {"provider": "p", "object_type": "T", "object_id": "1"},
            {"provider": "p", "object_type": "T"}]}))
        .unwrap_err();
        assert_eq!(error, "items[1]: \"object_id\" is missing or not a string");
        assert_eq!(
            EnqueueRequest::from_json(&json!([1])).unwrap_err(),
            "the request must be a JSON object, got a list"
        );
        assert_eq!(
            EnqueueRequest::from_json(&json!({"provider": "p", "object_type": "T",
                "object_id": "1", "force": "yes"}))
            .unwrap_err(),
            "\"force\" must be true or false, got \"yes\""
        );
    }
}
