//! An in-memory external system: objects by type and identifier, with an internal `_id`,
//! and counters of what was done to them.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// One stored object and its internal id.
type Store = BTreeMap<(String, String, String), Map<String, Value>>;

/// A fake external API, safe to share between tasks.
#[derive(Debug, Default)]
pub struct FakeApi {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    objects: Store,
    next_id: u64,
    creates: usize,
    updates: usize,
    reads: usize,
}

impl FakeApi {
    /// An empty external system.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The object of `object_type` whose `id_field` is `id_value`, if any.
    pub fn retrieve_object(
        &self,
        object_type: &str,
        id_field: &str,
        id_value: &str,
    ) -> Option<Map<String, Value>> {
        let mut state = self.lock();
        state.reads += 1;
        state
            .objects
            .get(&(object_type.into(), id_field.into(), id_value.into()))
            .cloned()
    }

    /// Creates the object or merges `values` into it; returns the stored object
    /// (with `_id`) and whether it was created.
    pub fn create_or_update_object(
        &self,
        object_type: &str,
        id_field: &str,
        id_value: &str,
        values: &Map<String, Value>,
    ) -> (Map<String, Value>, bool) {
        let mut state = self.lock();
        let key = (
            object_type.to_owned(),
            id_field.to_owned(),
            id_value.to_owned(),
        );
        let created = !state.objects.contains_key(&key);
        if created {
            state.next_id += 1;
            state.creates += 1;
            let mut object = Map::new();
            object.insert("_id".into(), Value::from(state.next_id));
            object.insert(id_field.into(), Value::from(id_value));
            state.objects.insert(key.clone(), object);
        } else {
            state.updates += 1;
        }
        let object = state.objects.get_mut(&key).expect("inserted above");
        for (field, value) in values {
            object.insert(field.clone(), value.clone());
        }
        (object.clone(), created)
    }

    /// Every object of `object_type`, ordered by identifier.
    pub fn objects_of(&self, object_type: &str) -> Vec<Map<String, Value>> {
        self.lock()
            .objects
            .iter()
            .filter(|((kind, _, _), _)| kind == object_type)
            .map(|(_, object)| object.clone())
            .collect()
    }

    /// `(creates, updates)` so far.
    pub fn write_counts(&self) -> (usize, usize) {
        let state = self.lock();
        (state.creates, state.updates)
    }
}
