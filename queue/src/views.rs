//! What the queue shows of its stored results and run records: typed views, so that no
//! caller reads the tables' rows (the entities are private to the queue).

use crate::entity::{sync_result, sync_run};
use crate::error::QueueError;
use crate::outcome::RunOutcome;
use outsync_core::{ObjectRef, SyncAction};
use serde_json::Value;
use std::collections::BTreeMap;

/// What the last successful sync did to one external object (`sync_result`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResult {
    /// The provider.
    pub provider: String,
    /// The source object.
    pub object: ObjectRef,
    /// The child (e.g. `OrderPosition 2`), empty for the object itself.
    pub child_id: String,
    /// The mapping that produced it.
    pub mapping_id: String,
    /// The external object type.
    pub external_object_type: String,
    /// The external identifier field.
    pub external_id_field: String,
    /// The identifier value.
    pub id_value: String,
    /// A link to the external object.
    pub external_link_href: Option<String>,
    /// The link's text.
    pub external_link_display_name: Option<String>,
    /// What was done.
    pub action: SyncAction,
    /// The provider's extra information (`null` if none).
    pub info: Value,
    /// When it was transmitted (ms since the epoch).
    pub transmitted_at: i64,
}

impl TryFrom<sync_result::Model> for StoredResult {
    type Error = QueueError;

    fn try_from(row: sync_result::Model) -> Result<Self, QueueError> {
        let corrupt = |problem: String| QueueError::CorruptRecord {
            table: "sync_result",
            id: row.id,
            problem,
        };
        let action = SyncAction::parse(&row.action)
            .ok_or_else(|| corrupt(format!("unknown action \"{}\"", row.action)))?;
        let info = match row.sync_info.as_deref() {
            None => Value::Null,
            Some(text) => serde_json::from_str(text)
                .map_err(|error| corrupt(format!("sync_info is not JSON: {error}")))?,
        };
        Ok(Self {
            provider: row.provider,
            object: ObjectRef::new(row.object_type, row.object_id),
            child_id: row.child_id,
            mapping_id: row.mapping_id,
            external_object_type: row.external_object_type,
            external_id_field: row.external_id_field,
            id_value: row.id_value,
            external_link_href: row.external_link_href,
            external_link_display_name: row.external_link_display_name,
            action,
            info,
            transmitted_at: row.transmitted_at,
        })
    }
}

/// One processed job: when, what, how it ended and how long it took (`sync_run`).
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The record's id (newer runs have larger ids).
    pub id: i64,
    /// When the run ended (ms since the epoch).
    pub at: i64,
    /// The provider.
    pub provider: String,
    /// The object.
    pub object: ObjectRef,
    /// The job, if the run came from one.
    pub job_id: Option<i64>,
    /// Why the job was enqueued.
    pub triggered_by: Option<String>,
    /// The attempt number (1 = first).
    pub attempt: u32,
    /// How it ended.
    pub outcome: RunOutcome,
    /// How many external objects each action touched (`create` → 2).
    pub actions: BTreeMap<String, u64>,
    /// The error messages, if it failed.
    pub error: Option<String>,
    /// The error's details.
    pub error_detail: Option<String>,
    /// How long the sync took (ms).
    pub duration_ms: i64,
    /// The worker that ran it.
    pub worker: Option<String>,
    /// The mapping version the run used (`None`: the configured mappings, or a record
    /// from before versions were stored).
    pub mapping_version: Option<i64>,
}

impl TryFrom<sync_run::Model> for Run {
    type Error = QueueError;

    fn try_from(row: sync_run::Model) -> Result<Self, QueueError> {
        let corrupt = |problem: String| QueueError::CorruptRecord {
            table: "sync_run",
            id: row.id,
            problem,
        };
        let outcome = RunOutcome::parse(&row.outcome)
            .ok_or_else(|| corrupt(format!("unknown outcome \"{}\"", row.outcome)))?;
        let actions = serde_json::from_str(&row.actions)
            .map_err(|error| corrupt(format!("actions are not counts: {error}")))?;
        Ok(Self {
            id: row.id,
            at: row.at,
            provider: row.provider,
            object: ObjectRef::new(row.object_type, row.object_id),
            job_id: row.job_id,
            triggered_by: row.triggered_by,
            attempt: u32::try_from(row.attempt).unwrap_or_default(),
            outcome,
            actions,
            error: row.error,
            error_detail: row.error_detail,
            duration_ms: row.duration_ms,
            worker: row.worker,
            mapping_version: row.mapping_version,
        })
    }
}
