//! A complete custom provider: it "sends" contacts to an in-memory address book and
//! registers itself in the outsync registry under `address_book`.
//!
//! Any crate can do the same; a binary that links it (`use outsync_examples as _;`) can
//! build the provider by name from its JSON settings. The framework loads the `mappings`
//! setting; the provider only writes.

use outsync_core::{
    OutboundSyncProvider, ProviderConfig, ProviderType, SyncError, SyncOutcome, SyncRequest,
    async_trait, register_provider,
};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Keeps contacts (by e-mail address) in memory, as a stand-in for a CRM's API.
#[derive(Default)]
pub struct AddressBook {
    /// The "external system".
    pub contacts: Mutex<BTreeMap<String, Map<String, Value>>>,
}

impl ProviderType for AddressBook {
    const IDENTIFIER: &'static str = "address_book";
    const DISPLAY_NAME: &'static str = "Address book (example)";

    fn from_settings(_: &ProviderConfig) -> Result<Self, SyncError> {
        Ok(Self::default())
    }
}

register_provider!(AddressBook);

#[async_trait]
impl OutboundSyncProvider for AddressBook {
    async fn sync_object_with_properties(
        &self,
        request: SyncRequest<'_>,
    ) -> Result<Option<SyncOutcome>, SyncError> {
        let mut contacts = self
            .contacts
            .lock()
            .map_err(|_| SyncError::recoverable("busy"))?;
        let (action, changes) = request.changes(contacts.get(request.id_value));
        contacts
            .entry(request.id_value.to_owned())
            .or_default()
            .extend(changes);
        Ok(Some(SyncOutcome::new(action, &request)))
    }
}
