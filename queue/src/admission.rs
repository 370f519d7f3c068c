//! What the queue accepts: an enqueue that could never sync is refused at the door, with
//! nothing queued and an error naming the field.
//!
//! Every queue checks the shape of a job: the object id and type are 1–255 bytes without
//! control characters, `triggered_by` at most 255 bytes, and a snapshot is a JSON object. A
//! queue that knows its providers ([`Queue::for_providers`](super::Queue::for_providers))
//! also refuses object types no provider mapping handles, and snapshots that lack the
//! schema's id or carry another object's id.

use super::error::QueueError;
use outsync_core::mapping::value_to_string;
use outsync_core::schema::FieldPath;
use outsync_core::{ConfiguredProvider, ObjectRef};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The longest object id, object type or trigger, in bytes (the columns' width on
/// PostgreSQL).
pub const MAX_KEY_BYTES: usize = 255;

/// The largest snapshot accepted, in bytes of JSON (the HTTP API's body limit).
pub const MAX_SNAPSHOT_BYTES: usize = 8 * 1024 * 1024;

/// What one provider accepts: the object types it handles, and where a type's id is in a
/// snapshot (the root models of its mappings).
#[derive(Clone)]
pub(crate) struct ProviderRules {
    types: BTreeMap<String, Option<FieldPath>>,
    provider: Option<Arc<ConfiguredProvider>>,
}

impl std::fmt::Debug for ProviderRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.types.keys()).finish()
    }
}

impl ProviderRules {
    /// The rules of `provider`.
    pub(crate) fn of(provider: Arc<ConfiguredProvider>) -> Self {
        let mut types = BTreeMap::new();
        for mapping in provider.mappings() {
            let id_path = mapping.root_id_path().cloned();
            let entry = types.entry(mapping.root_model().to_owned()).or_insert(None);
            if entry.is_none() {
                *entry = id_path;
            }
        }
        Self {
            types,
            provider: Some(provider),
        }
    }

    fn handles(&self, object_type: &str) -> bool {
        match &self.provider {
            Some(provider) => provider.handles_object_type(object_type),
            None => self.types.contains_key(object_type),
        }
    }

    fn id_path(&self, object_type: &str) -> Option<&FieldPath> {
        self.types.get(object_type).and_then(Option::as_ref)
    }

    fn names(&self) -> String {
        if self.types.is_empty() {
            "none: the provider has no mappings".to_owned()
        } else {
            self.types.keys().cloned().collect::<Vec<_>>().join(", ")
        }
    }
}

/// Whether a source can load a provider's objects of a type (see
/// [`Queue::with_loadable_objects`](super::Queue::with_loadable_objects)).
pub(crate) type Loadable = Arc<dyn Fn(&str, &str) -> bool + Send + Sync>;

/// The refusal of a job without a snapshot that no source could load.
pub(crate) fn unloadable(provider: &str, object: &ObjectRef) -> QueueError {
    rejected(
        provider,
        object,
        "snapshot",
        format!(
            "is missing and no object source can load {} for provider \"{provider}\": send the object's state, or configure sources.\"{}\"",
            object.object_type, object.object_type
        ),
    )
}

fn rejected(
    provider: &str,
    object: &ObjectRef,
    field: &'static str,
    problem: String,
) -> QueueError {
    QueueError::Rejected {
        provider: provider.to_owned(),
        object: shorten(&object.object_type, &object.id),
        field,
        problem,
    }
}

/// `type id` for messages, the id cut to 40 characters and control characters escaped.
fn shorten(object_type: &str, id: &str) -> String {
    let printable = |text: &str| -> String {
        let mut out: String = text.chars().take(40).flat_map(char::escape_debug).collect();
        if text.chars().count() > 40 {
            out.push('…');
        }
        out
    };
    format!("{} {}", printable(object_type), printable(id))
}

fn check_key(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err("is empty".to_owned());
    }
    if text.len() > MAX_KEY_BYTES {
        return Err(format!(
            "is {} bytes long; at most {MAX_KEY_BYTES} are allowed",
            text.len()
        ));
    }
    if let Some(bad) = text.chars().find(|c| c.is_control()) {
        return Err(format!(
            "contains the control character {bad:?}; it must be printable"
        ));
    }
    Ok(())
}

/// Checks one enqueue. `rules` is `None` for a provider whose mappings the queue does not
/// know (only the shape is checked then).
pub(crate) fn check(
    provider: &str,
    object: &ObjectRef,
    triggered_by: &str,
    snapshot: Option<&Value>,
    snapshot_len: Option<usize>,
    rules: Option<&ProviderRules>,
) -> Result<(), QueueError> {
    check_key(&object.object_type)
        .map_err(|problem| rejected(provider, object, "object_type", problem))?;
    check_key(&object.id).map_err(|problem| rejected(provider, object, "object_id", problem))?;
    if triggered_by.len() > MAX_KEY_BYTES {
        return Err(rejected(
            provider,
            object,
            "triggered_by",
            format!(
                "is {} bytes long; at most {MAX_KEY_BYTES} are allowed",
                triggered_by.len()
            ),
        ));
    }
    if let Some(rules) = rules
        && !rules.handles(&object.object_type)
    {
        return Err(rejected(
            provider,
            object,
            "object_type",
            format!(
                "\"{}\" is not handled by any mapping of provider \"{provider}\"; it handles: {}",
                object.object_type,
                rules.names()
            ),
        ));
    }
    let Some(snapshot) = snapshot else {
        return Ok(());
    };
    if !snapshot.is_object() {
        return Err(rejected(
            provider,
            object,
            "snapshot",
            format!(
                "must be a JSON object (the object's state), got {}",
                outsync_core::sync::kind_of(snapshot)
            ),
        ));
    }
    let size = snapshot_len.unwrap_or_else(|| json_len(snapshot));
    if size > MAX_SNAPSHOT_BYTES {
        return Err(rejected(
            provider,
            object,
            "snapshot",
            snapshot_too_large(size),
        ));
    }
    if let Some(path) = rules.and_then(|rules| rules.id_path(&object.object_type)) {
        let found = path.lookup(snapshot).filter(|value| !value.is_null());
        let Some(found) = found else {
            return Err(rejected(
                provider,
                object,
                "snapshot",
                format!(
                    "has no id at \"{}\" (the schema's id of {})",
                    path.as_str(),
                    object.object_type
                ),
            ));
        };
        let found = value_to_string(found);
        if found != object.id {
            return Err(rejected(
                provider,
                object,
                "snapshot",
                format!(
                    "is the state of id \"{}\" (at \"{}\"), not of the job's id \"{}\"",
                    shorten("", &found).trim_start(),
                    path.as_str(),
                    shorten("", &object.id).trim_start()
                ),
            ));
        }
    }
    Ok(())
}

/// The length of `value` as JSON text, counted without building the text.
fn json_len(value: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a `Value` into a sink that never fails cannot fail.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// What every entry point (library, CLI, HTTP API) says of a snapshot over the limit.
pub const SNAPSHOT_LIMIT: &str =
    "a snapshot may be at most 8 MiB (8388608 bytes) of JSON, the HTTP API's request limit";

/// The message for a snapshot of `size` bytes, over [`MAX_SNAPSHOT_BYTES`].
pub fn snapshot_too_large(size: usize) -> String {
    format!("is {size} bytes of JSON: {SNAPSHOT_LIMIT}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(id_path: &str) -> ProviderRules {
        ProviderRules {
            types: BTreeMap::from([("User".to_owned(), FieldPath::parse(id_path))]),
            provider: None,
        }
    }

    fn message(result: Result<(), QueueError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn refuses_what_can_never_sync_and_names_the_field() {
        let user = |id: &str| ObjectRef::new("User", id);
        let rules = rules("id");
        let ok = |id: &str, snapshot: &Value| {
            check("p", &user(id), "t", Some(snapshot), None, Some(&rules))
        };
        assert!(ok("7", &json!({"id": 7})).is_ok());
        assert!(ok("a", &json!({"id": "a"})).is_ok());
        assert!(check("p", &user("7"), "t", None, None, Some(&rules)).is_ok());
        for (snapshot, expected) in [
            (json!({}), "has no id at \"id\""),
            (json!(42), "must be a JSON object"),
            (Value::Null, "must be a JSON object"),
            (json!({"name": "x"}), "has no id at \"id\""),
            (json!({"id": 8}), "is the state of id \"8\""),
        ] {
            let text = message(ok("7", &snapshot));
            assert!(text.contains("\"snapshot\""), "{text}");
            assert!(text.contains(expected), "{snapshot}: {text}");
        }
        let text = message(check(
            "p",
            &ObjectRef::new("UserProfle", "1"),
            "t",
            None,
            None,
            Some(&rules),
        ));
        assert!(
            text.contains("object_type") && text.contains("it handles: User"),
            "{text}"
        );
        let long = "x".repeat(100_000);
        let text = message(check("p", &user(&long), "t", None, None, None));
        assert!(text.contains("100000 bytes long"), "{text}");
        assert!(text.len() < 300, "the message quotes a short id: {text}");
        for id in ["a\0b", "a\r\nb", "a\nb", ""] {
            let text = message(check("p", &user(id), "t", None, None, None));
            assert!(text.contains("\"object_id\""), "{id:?}: {text}");
        }
        assert!(check("p", &user(&"é".repeat(127)), "t", None, None, None).is_ok());
        assert!(check("p", &user(&"é".repeat(128)), "t", None, None, None).is_err());
    }
}
