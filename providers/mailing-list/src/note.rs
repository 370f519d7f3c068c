//! What outsync remembers about one address on one list: the ledger's note.

use chrono::{DateTime, Utc};
use outsync_core::{ExternalKey, ExternalLedger, SyncError};
use serde::{Deserialize, Serialize};

/// A call to the list service that was about to be made. Written before the call, so that
/// a crash or an outage between the call and the note is understood on the next look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Intent {
    /// Subscribing the address.
    Join,
    /// Ending outsync's membership of the address.
    Leave,
}

/// What outsync knows about an address on a list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Note {
    /// outsync created the current membership, and so may end it.
    #[serde(default)]
    pub ours: bool,
    /// The service's id of the membership outsync knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    /// A call about to be made (see [`Intent`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<Intent>,
    /// The subscription waits for the subscriber's confirmation or a moderator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_token: Option<String>,
    /// When outsync noticed that the address had left the list after outsync subscribed
    /// it: its owner unsubscribed (or a list admin removed it). Such an address is not
    /// subscribed again without newer consent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_at: Option<DateTime<Utc>>,
}

impl Note {
    /// The note about `key`, or an empty one.
    pub(crate) async fn read(
        ledger: &dyn ExternalLedger,
        key: &ExternalKey,
    ) -> Result<Self, SyncError> {
        let Some(value) = ledger.note(key).await? else {
            return Ok(Self::default());
        };
        serde_json::from_value(value).map_err(|error| {
            SyncError::permanent(format!(
                "the ledger's note about {key} cannot be read: {error}"
            ))
        })
    }

    /// Stores the note about `key`.
    pub(crate) async fn write(
        &self,
        ledger: &dyn ExternalLedger,
        key: &ExternalKey,
    ) -> Result<(), SyncError> {
        let value = serde_json::to_value(self).map_err(|error| {
            SyncError::permanent(format!("the note about {key} cannot be written: {error}"))
        })?;
        ledger.set_note(key, &value).await
    }
}
