//! The JSON form of an enqueue request, as the HTTP API's `POST /api/enqueue` takes it:
//!
//! ```json
//! {"provider": "basket", "object_type": "UserProfile", "object_id": "42",
//!  "snapshot": {...}, "triggered_by": "signup", "force": false, "immediate": false}
//! ```
//!
//! or a batch `{"items": [ ...objects like the one above... ]}`. Identifiers may be strings
//! or numbers; every problem names the item and the key. `outsync enqueue --file` reads
//! one such object per line.

use outsync_core::ObjectRef;
use outsync_core::sync::kind_of;
use outsync_queue::{EnqueueItem, EnqueueOptions};
use serde_json::Value;
use std::fmt;

/// What is wrong with an enqueue body: the item (in a batch) and the problem, naming the
/// key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyError {
    /// The item's index in `items`, for a batch.
    pub item: Option<usize>,
    /// What is wrong.
    pub problem: String,
}

impl BodyError {
    fn new(item: Option<usize>, problem: impl Into<String>) -> Self {
        Self {
            item,
            problem: problem.into(),
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.item {
            Some(index) => write!(f, "items[{index}]: {}", self.problem),
            None => f.write_str(&self.problem),
        }
    }
}

impl std::error::Error for BodyError {}

/// A parsed enqueue request.
#[derive(Debug, Clone, PartialEq)]
pub enum EnqueueRequest {
    /// One object.
    One(EnqueueItem),
    /// A batch (`{"items": [...]}`).
    Batch(Vec<EnqueueItem>),
}

impl EnqueueRequest {
    /// Reads a request from its JSON body (`triggered_by` defaults to `api`); the error
    /// says which item and key is wrong.
    pub fn from_json(body: &Value) -> Result<Self, BodyError> {
        if !body.is_object() {
            return Err(BodyError::new(
                None,
                format!("the request must be a JSON object, got {}", kind_of(body)),
            ));
        }
        let Some(items) = body.get("items") else {
            return item(body, None, "api", &["items"]).map(Self::One);
        };
        if let Some(problem) = body
            .as_object()
            .and_then(|object| object.keys().find(|key| *key != "items"))
            .map(|key| {
                format!("unknown key \"{key}\" beside \"items\" (a batch has only \"items\")")
            })
        {
            return Err(BodyError::new(None, problem));
        }
        let Some(items) = items.as_array() else {
            let problem = format!("\"items\" must be a list, got {}", kind_of(items));
            return Err(BodyError::new(None, problem));
        };
        items
            .iter()
            .enumerate()
            .map(|(index, entry)| item(entry, Some(index), "api", &[]))
            .collect::<Result<Vec<_>, _>>()
            .map(Self::Batch)
    }

    /// Reads one item object, with `triggered_by` defaulting to `default_trigger`.
    pub fn item_from_json(value: &Value, default_trigger: &str) -> Result<EnqueueItem, BodyError> {
        item(value, None, default_trigger, &[])
    }

    /// The items, one or many.
    pub fn items(&self) -> &[EnqueueItem] {
        match self {
            Self::One(item) => std::slice::from_ref(item),
            Self::Batch(items) => items,
        }
    }
}

/// The keys of an item: a key not among them is refused (a misspelt `"snapshto"` or
/// `"forse"` would otherwise be dropped without a word).
const ITEM_KEYS: [&str; 7] = [
    "provider",
    "object_type",
    "object_id",
    "snapshot",
    "triggered_by",
    "force",
    "immediate",
];

/// `unknown key "x"; did you mean "y"? (known keys: …)` for the first key of `value`
/// that is neither an item's nor in `also` (`items` for a request of one item, so that
/// `"item"` is taken for the misspelt batch it is).
fn unknown_key(value: &Value, also: &[&str]) -> Option<String> {
    let known = || ITEM_KEYS.iter().chain(also).copied();
    let unknown = value
        .as_object()?
        .keys()
        .find(|key| !known().any(|name| name == key.as_str()))?;
    Some(format!(
        "unknown key \"{unknown}\"{} (known keys: {})",
        outsync_core::keys::did_you_mean(unknown, known()),
        known().collect::<Vec<_>>().join(", ")
    ))
}

/// One item; a key that is neither an item's nor in `also` is refused.
fn item(
    value: &Value,
    index: Option<usize>,
    default_trigger: &str,
    also: &[&str],
) -> Result<EnqueueItem, BodyError> {
    let fail = |problem: String| BodyError::new(index, problem);
    if !value.is_object() {
        return Err(fail(format!(
            "an item must be an object, got {}",
            kind_of(value)
        )));
    }
    if let Some(problem) = unknown_key(value, also) {
        return Err(fail(problem));
    }
    let text = |key: &str| match value.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(fail(format!("\"{key}\" is missing or not a string"))),
    };
    let flag = |key: &str| match value.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(fail(format!(
            "\"{key}\" must be true or false, got {other}"
        ))),
    };
    let triggered_by = match value.get("triggered_by") {
        None | Some(Value::Null) => default_trigger.to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            let problem = format!("\"triggered_by\" must be a string, got {}", kind_of(other));
            return Err(fail(problem));
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
        assert_eq!(error.item, Some(1));
        assert_eq!(
            error.to_string(),
            "items[1]: \"object_id\" is missing or not a string"
        );
        assert_eq!(
            EnqueueRequest::from_json(&json!([1]))
                .unwrap_err()
                .to_string(),
            "the request must be a JSON object, got a list"
        );
        assert_eq!(
            EnqueueRequest::from_json(&json!({"provider": "p", "object_type": "T",
                "object_id": "1", "force": "yes"}))
            .unwrap_err()
            .to_string(),
            "\"force\" must be true or false, got \"yes\""
        );
        let line = json!({"provider": "p", "object_type": "T", "object_id": 7});
        let item = EnqueueRequest::item_from_json(&line, "backfill").unwrap();
        assert_eq!(item.triggered_by, "backfill");
    }

    #[test]
    fn a_misspelt_key_is_refused_naming_the_key_meant() {
        let problem =
            |body: serde_json::Value| EnqueueRequest::from_json(&body).unwrap_err().to_string();
        assert!(
            problem(
                json!({"provider": "p", "object_type": "T", "object_id": "1",
                "snapshto": {"id": 1}})
            )
            .starts_with("unknown key \"snapshto\"; did you mean \"snapshot\"?"),
        );
        assert!(
            problem(
                json!({"items": [{"provider": "p", "object_type": "T", "object_id": "1",
                "forse": true}]})
            )
            .starts_with("items[0]: unknown key \"forse\"; did you mean \"force\"?"),
        );
        assert!(
            problem(json!({"item": [{"provider": "p", "object_type": "T", "object_id": "1"}]}))
                .starts_with("unknown key \"item\"; did you mean \"items\"?"),
        );
        assert!(
            problem(json!({"items": [], "atomic": true})).starts_with("unknown key \"atomic\""),
        );
        let line = json!({"provider": "p", "object_type": "T", "object_id": 7, "items": []});
        assert!(
            EnqueueRequest::item_from_json(&line, "backfill")
                .unwrap_err()
                .to_string()
                .starts_with("unknown key \"items\""),
            "a line of a file is one item"
        );
    }
}
