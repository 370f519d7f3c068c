//! A custom provider in a few dozen lines: it "sends" contacts to an in-memory address
//! book and registers itself in the outsync registry under `address_book`.
//!
//! Any crate can do the same; a binary that links it (`use outsync_examples as _;`) can
//! build the provider by name from its JSON settings.

use outsync_core::mapping::ObjectMapping;
use outsync_core::{
    OutboundSyncProvider, ProviderConfig, ProviderRegistration, SyncError, SyncOutcome,
    SyncRequest, async_trait, register_provider,
};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Contacts by e-mail address.
pub type Contacts = BTreeMap<String, Map<String, Value>>;

/// Keeps contacts in memory, as a stand-in for a CRM's API.
pub struct AddressBook {
    mappings: Vec<ObjectMapping>,
    /// The "external system".
    pub contacts: Mutex<Contacts>,
}

fn build(config: &ProviderConfig) -> Result<Box<dyn OutboundSyncProvider>, SyncError> {
    let mappings = ObjectMapping::load_value(&config.settings["mappings"], &config.schema)?;
    Ok(Box::new(AddressBook {
        mappings,
        contacts: Mutex::default(),
    }))
}

register_provider! {
    ProviderRegistration::new("address_book", "Address book (example)", build)
        .with_settings(&["mappings"])
}

#[async_trait]
impl OutboundSyncProvider for AddressBook {
    fn identifier(&self) -> &str {
        "address_book"
    }

    fn mappings(&self) -> &[ObjectMapping] {
        &self.mappings
    }

    async fn sync_object_with_properties(
        &self,
        request: SyncRequest<'_>,
    ) -> Result<Option<SyncOutcome>, SyncError> {
        let mut contacts = self
            .contacts
            .lock()
            .map_err(|_| SyncError::recoverable("address book lock poisoned"))?;
        let (action, changes) = request.changes(contacts.get(request.id_value));
        contacts
            .entry(request.id_value.to_owned())
            .or_default()
            .extend(changes);
        Ok(Some(SyncOutcome::new(action, &request)))
    }
}
