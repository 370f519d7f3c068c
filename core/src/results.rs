//! Results a provider sees: `mapped_objects` of the current run, and what earlier runs
//! stored ([`PreviousResults`]).

use crate::provider::SyncOutcome;
use crate::schema::ChildKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One entry of `mapped_objects`: an outcome and the child it was produced for
/// (empty for the synced object itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MappedObject {
    /// The child the outcome belongs to; empty for root mappings.
    pub child: ChildKey,
    /// The outcome.
    pub outcome: SyncOutcome,
}

/// Results of earlier mappings in this run, by mapping id, in mapping order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MappedObjects {
    entries: Vec<(String, Vec<MappedObject>)>,
}

impl MappedObjects {
    /// The results of mapping `mapping_id` (empty if it has none).
    pub fn get(&self, mapping_id: &str) -> &[MappedObject] {
        self.entries
            .iter()
            .find(|(id, _)| id == mapping_id)
            .map_or(&[], |(_, results)| results.as_slice())
    }

    /// The outcomes of mapping `mapping_id`.
    pub fn outcomes(&self, mapping_id: &str) -> impl Iterator<Item = &SyncOutcome> {
        self.get(mapping_id).iter().map(|mapped| &mapped.outcome)
    }

    /// All mappings with their results, in mapping order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[MappedObject])> {
        self.entries
            .iter()
            .map(|(id, results)| (id.as_str(), results.as_slice()))
    }

    /// The number of outcomes over all mappings.
    pub fn len(&self) -> usize {
        self.entries.iter().map(|(_, results)| results.len()).sum()
    }

    /// Whether there is no outcome at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn insert(&mut self, mapping_id: &str, results: Vec<MappedObject>) {
        self.entries.push((mapping_id.to_owned(), results));
    }

    /// The view a call for `child` gets: results of the object itself and of `child`'s
    /// own line (its ancestors and itself), as pretix filters them for order positions.
    pub(crate) fn visible_to(&self, child: &ChildKey) -> Self {
        Self {
            entries: self
                .entries
                .iter()
                .map(|(id, results)| {
                    let visible = results
                        .iter()
                        .filter(|mapped| mapped.child.is_prefix_of(child))
                        .cloned()
                        .collect();
                    (id.clone(), visible)
                })
                .collect(),
        }
    }
}

/// What an earlier run stored for one mapping and child of an object (from
/// `sync_result`), for providers that ask for it with
/// [`OutboundSyncProvider::wants_previous_results`](crate::OutboundSyncProvider::wants_previous_results).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviousResult {
    /// The identifier value then.
    pub id_value: String,
    /// What was done then.
    pub action: String,
    /// The provider's information then (e.g. a digest of what was sent).
    pub info: Value,
    /// When it was transmitted (ms since the epoch).
    pub transmitted_at_ms: i64,
    /// The link to the external object then.
    pub external_link_href: Option<String>,
    /// The link's text then.
    pub external_link_display_name: Option<String>,
    /// The digest of what was sent then, for providers that skip unchanged payloads.
    pub payload_digest: Option<String>,
}

/// Earlier results of one object, by mapping id and child.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PreviousResults {
    by_key: std::collections::HashMap<(String, String), PreviousResult>,
}

impl PreviousResults {
    /// What the queue stores after a successful run with `mapped` results at
    /// `transmitted_at_ms`, as the next run of the same object sees it.
    pub fn from_mapped(mapped: &MappedObjects, transmitted_at_ms: i64) -> Self {
        let mut previous = Self::default();
        for (mapping_id, results) in mapped.iter() {
            for result in results {
                let outcome = &result.outcome;
                let stored = PreviousResult {
                    id_value: outcome.id_value.clone(),
                    action: outcome.action.to_string(),
                    info: outcome.info.clone(),
                    transmitted_at_ms,
                    external_link_href: outcome.external_link_href.clone(),
                    external_link_display_name: outcome.external_link_display_name.clone(),
                    payload_digest: outcome.payload_digest.clone(),
                };
                previous.insert(mapping_id.to_owned(), result.child.to_string(), stored);
            }
        }
        previous
    }

    /// Adds the result of `mapping_id` for `child` (`ChildKey::to_string()`, empty for the
    /// object itself).
    pub fn insert(&mut self, mapping_id: String, child: String, result: PreviousResult) {
        self.by_key.insert((mapping_id, child), result);
    }

    /// The result of `mapping_id` for `child`.
    pub fn get(&self, mapping_id: &str, child: &ChildKey) -> Option<&PreviousResult> {
        self.by_key.get(&(mapping_id.to_owned(), child.to_string()))
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}
