//! The provider contract: what a crate implements to push objects into an external system.

use crate::SyncError;
use crate::ledger::ExternalLedger;
use crate::mapping::{ObjectMapping, Property};
use crate::schema::Inputs;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

pub use crate::results::{MappedObject, MappedObjects, PreviousResult, PreviousResults};

/// Identifies an object of the application: its type (a root model of the schema, e.g.
/// `Order`) and its id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectRef {
    /// The object's type: the name of a root model of the schema.
    pub object_type: String,
    /// The object's id in the application.
    pub id: String,
}

impl ObjectRef {
    /// A reference to object `id` of type `object_type`.
    pub fn new(object_type: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            object_type: object_type.into(),
            id: id.into(),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.object_type, self.id)
    }
}

/// The object being synced: its reference and its current data.
#[derive(Debug, Clone, Copy)]
pub struct SourceObject<'a> {
    /// Which object.
    pub reference: &'a ObjectRef,
    /// Its data as JSON.
    pub data: &'a Value,
    /// What outsync knows about the provider's external objects (holdings, notes, locks).
    pub ledger: &'a dyn ExternalLedger,
}

/// What a provider did with one external object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SyncAction {
    /// The external object was created.
    Create,
    /// The external object was updated.
    Update,
    /// The external object was deleted or the membership ended.
    Delete,
    /// The external object already held this data; nothing was sent.
    NothingToDo,
    /// The external system accepted the request but has not applied it yet (e.g. a
    /// subscription awaiting confirmation or moderation).
    Pending,
}

impl SyncAction {
    /// Every action.
    pub const ALL: [SyncAction; 5] = [
        Self::Create,
        Self::Update,
        Self::Delete,
        Self::NothingToDo,
        Self::Pending,
    ];

    /// Reads a stored name (`create`, `nothing_to_do`, …).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.as_str() == text)
    }

    /// The name stored in run records.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::NothingToDo => "nothing_to_do",
            Self::Pending => "pending",
        }
    }
}

impl fmt::Display for SyncAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one successful `sync_object_with_properties` call; later mappings of the
/// same run see it in `mapped_objects`, and the queue stores it as a sync result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncOutcome {
    /// What was done.
    pub action: SyncAction,
    /// The external object type.
    pub object_type: String,
    /// The external identifier field.
    pub external_id_field: String,
    /// The identifier value.
    pub id_value: String,
    /// A link to the object in the external system, for operators.
    pub external_link_href: Option<String>,
    /// The link's text.
    pub external_link_display_name: Option<String>,
    /// Anything else the provider wants to keep (e.g. the external system's own id).
    pub info: Value,
    /// The digest of what was sent, set by the framework for providers that skip
    /// unchanged payloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_digest: Option<String>,
}

impl SyncOutcome {
    /// An outcome for `request` with `action`, copying type, id field and id value.
    pub fn new(action: SyncAction, request: &SyncRequest<'_>) -> Self {
        Self {
            action,
            object_type: request.mapping.external_object_type().to_owned(),
            external_id_field: request.external_id_field.to_owned(),
            id_value: request.id_value.to_owned(),
            external_link_href: None,
            external_link_display_name: None,
            info: Value::Null,
            payload_digest: None,
        }
    }

    /// Sets the external link and its text.
    #[must_use]
    pub fn with_link(mut self, href: impl Into<String>, display_name: impl Into<String>) -> Self {
        self.external_link_href = Some(href.into());
        self.external_link_display_name = Some(display_name.into());
        self
    }

    /// Sets the extra information.
    #[must_use]
    pub fn with_info(mut self, info: Value) -> Self {
        self.info = info;
        self
    }
}

/// Options of one object's sync beyond its data.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Send even what the provider believes the external system already has.
    pub force: bool,
    /// What earlier runs stored (filled by the worker for providers that ask for it).
    pub previous: PreviousResults,
    /// The provider's external-object ledger (the worker passes the queue's); `None` uses
    /// the [`ConfiguredProvider`](crate::ConfiguredProvider)'s in-memory one.
    pub ledger: Option<Arc<dyn ExternalLedger>>,
}

/// Everything a provider gets for one external object.
#[derive(Debug)]
#[non_exhaustive]
pub struct SyncRequest<'a> {
    /// The application object being synced.
    pub object: &'a ObjectRef,
    /// The identifier field in the external system (`mapping.external_id_field()`).
    pub external_id_field: &'a str,
    /// The identifier value read from the source id field; never empty.
    pub id_value: &'a str,
    /// The evaluated properties, in mapping order.
    pub properties: Vec<Property>,
    /// The source objects: the synced object, and for a child mapping the child line.
    pub inputs: &'a Inputs<'a>,
    /// The mapping being applied.
    pub mapping: &'a ObjectMapping,
    /// Results of earlier mappings in this run (for a child mapping: the object-level
    /// results and those of the current child only).
    pub mapped_objects: &'a MappedObjects,
    /// What an earlier run stored for this mapping and child, if the provider asked for
    /// previous results.
    pub previous: Option<&'a PreviousResult>,
    /// The job asked to send even unchanged data.
    pub force: bool,
    /// The provider's list joiner (`list_field_joiner()`), which `append` uses.
    pub list_joiner: Option<&'a str>,
    /// What outsync knows about the provider's external objects (holdings, notes, locks).
    pub ledger: &'a dyn ExternalLedger,
}

impl SyncRequest<'_> {
    /// The common step of a sync: compare the properties with the external object as it is
    /// (`None`: it does not exist yet) and say what to write, by the update modes
    /// ([`assign_properties`](crate::mapping::assign_properties)): `Create` with every
    /// property for a new object, `Update` with only the fields that must change, or
    /// `NothingToDo` with nothing.
    ///
    /// A forced job (`force`) still writes only what the modes allow, but answers `Update`
    /// rather than `NothingToDo` for an existing object, so that the provider sends it.
    pub fn changes(
        &self,
        existing: Option<&serde_json::Map<String, Value>>,
    ) -> (SyncAction, serde_json::Map<String, Value>) {
        let empty = serde_json::Map::new();
        let changes = crate::mapping::assign_properties(
            &self.properties,
            existing.unwrap_or(&empty),
            existing.is_none(),
            self.list_joiner,
        );
        let action = match existing {
            None => SyncAction::Create,
            Some(_) if changes.is_empty() && !self.force => SyncAction::NothingToDo,
            Some(_) => SyncAction::Update,
        };
        (action, changes)
    }
}

/// A provider's behaviour: pushes objects into one external system.
///
/// Implement `sync_object_with_properties`; the rest has defaults. Identity, display name
/// and mappings belong to the framework ([`ProviderType`](crate::ProviderType),
/// [`ConfiguredProvider`](crate::ConfiguredProvider)). `sync_object_with_properties` must be
/// idempotent: the queue delivers at least once, so the same call may come again after a
/// failure.
#[async_trait]
pub trait OutboundSyncProvider: Send + Sync {
    /// How many recoverable failures a job may have before it stops as `exceeded`.
    fn max_attempts(&self) -> u32 {
        5
    }

    /// The separator list values are joined with, or `None` to keep native JSON lists.
    fn list_field_joiner(&self) -> Option<&str> {
        Some(",")
    }

    /// Whether jobs of `object_type`, which no mapping has as its root model, still do
    /// something here (e.g. in `finalize_sync` or `object_missing`). Default: no, so the
    /// queue refuses to enqueue them and a sync of one is recorded as `skipped`.
    fn handles_unmapped_object_type(&self, object_type: &str) -> bool {
        let _ = object_type;
        false
    }

    /// Whether the framework skips the call for an external object whose request (id,
    /// properties and modes) has the same digest as at the last successful send, recording
    /// `nothing_to_do` instead; a forced job still sends. Off by default.
    fn skips_unchanged_payloads(&self) -> bool {
        false
    }

    /// Whether the worker should load what earlier runs stored for the object
    /// ([`SyncRequest::previous`]) — one extra query per job, so off by default.
    fn wants_previous_results(&self) -> bool {
        false
    }

    /// Whether `object` should be synced at all (default: yes).
    fn should_sync(&self, object: &SourceObject<'_>) -> bool {
        let _ = object;
        true
    }

    /// When to retry after `failed_attempts` recoverable failures; `None` leaves it to the
    /// queue's default backoff (exponential with jitter, capped).
    fn next_retry_at(&self, failed_attempts: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let _ = (failed_attempts, now);
        None
    }

    /// Creates or updates one external object. `Ok(None)` means "do not sync this
    /// object in this mapping" and records nothing.
    async fn sync_object_with_properties(
        &self,
        request: SyncRequest<'_>,
    ) -> Result<Option<SyncOutcome>, SyncError>;

    /// Called once per synced object after every `sync_object_with_properties` call
    /// succeeded, with all results of the run (e.g. to write associations in bulk).
    async fn finalize_sync(
        &self,
        object: &SourceObject<'_>,
        mapped_objects: &MappedObjects,
    ) -> Result<(), SyncError> {
        let _ = (object, mapped_objects);
        Ok(())
    }

    /// Called instead of a sync when the application no longer has the object (its
    /// `ObjectSource` returned `None`). The default does nothing and the job ends with a run
    /// record saying so; a provider may delete or deactivate the external object here
    /// (`ledger` says which external objects the object held).
    async fn object_missing(
        &self,
        object: &ObjectRef,
        ledger: &dyn ExternalLedger,
    ) -> Result<(), SyncError> {
        let _ = (object, ledger);
        Ok(())
    }

    /// Releases resources (sessions, connections) when the provider is shut down.
    async fn close(&self) {}
}
