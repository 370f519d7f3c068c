//! The provider registry: provider crates register a const factory with `inventory`, and a
//! binary builds the providers its configuration names.
//!
//! ```ignore
//! outsync_core::register_provider! {
//!     outsync_core::ProviderRegistration::new("my_list", "My mailing list", build_my_list)
//! }
//! ```

use crate::SyncError;
use crate::provider::OutboundSyncProvider;
use crate::schema::SourceSchema;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// What a factory gets: the provider's settings from the configuration file and the
/// application's schema (to validate mappings against).
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// The provider's JSON settings (credentials, URLs, mappings, …).
    pub settings: Value,
    /// The source schema.
    pub schema: Arc<SourceSchema>,
}

/// A function that builds a provider from its configuration. Configuration problems are
/// reported as [`SyncError::Config`].
pub type ProviderFactory = fn(&ProviderConfig) -> Result<Box<dyn OutboundSyncProvider>, SyncError>;

/// One registered provider type.
#[derive(Debug, Clone, Copy)]
pub struct ProviderRegistration {
    /// The provider's identifier (matches [`OutboundSyncProvider::identifier`]).
    pub identifier: &'static str,
    /// The name shown to users.
    pub display_name: &'static str,
    /// Builds the provider.
    pub factory: ProviderFactory,
    /// The setting keys the provider reads; a configuration with any other key is an
    /// error naming it. Empty: the settings are not checked.
    pub settings: &'static [&'static str],
}

impl ProviderRegistration {
    /// A registration; `const`, so it can be submitted with [`register_provider!`](crate::register_provider).
    pub const fn new(
        identifier: &'static str,
        display_name: &'static str,
        factory: ProviderFactory,
    ) -> Self {
        Self {
            identifier,
            display_name,
            factory,
            settings: &[],
        }
    }

    /// Declares the setting keys the provider reads, so that a misspelt key in a
    /// configuration file is an error instead of being ignored.
    pub const fn with_settings(mut self, settings: &'static [&'static str]) -> Self {
        self.settings = settings;
        self
    }
}

inventory::collect!(ProviderRegistration);

/// A problem with the set of registered providers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Two registrations use the same identifier.
    #[error("provider identifier \"{identifier}\" is registered twice ({first} and {second})")]
    Duplicate {
        /// The identifier.
        identifier: String,
        /// Display name of the first registration.
        first: String,
        /// Display name of the second.
        second: String,
    },
    /// No provider has the requested identifier.
    #[error("no provider \"{identifier}\" is registered; registered: {available}")]
    Unknown {
        /// The requested identifier.
        identifier: String,
        /// The registered identifiers, comma-separated.
        available: String,
    },
}

/// A validated set of provider registrations.
#[derive(Debug, Clone)]
pub struct Registry {
    registrations: Vec<ProviderRegistration>,
    by_identifier: HashMap<&'static str, usize>,
}

impl Registry {
    /// Every provider linked into this binary (a binary that wants a provider must link
    /// its crate, e.g. `use outsync_basket as _;`).
    pub fn global() -> Result<Self, RegistryError> {
        Self::from_registrations(inventory::iter::<ProviderRegistration>().copied())
    }

    /// A registry of the given registrations; duplicate identifiers are an error.
    pub fn from_registrations(
        registrations: impl IntoIterator<Item = ProviderRegistration>,
    ) -> Result<Self, RegistryError> {
        let mut registrations: Vec<ProviderRegistration> = registrations.into_iter().collect();
        registrations.sort_by_key(|registration| registration.identifier);
        let mut by_identifier = HashMap::new();
        for (index, registration) in registrations.iter().enumerate() {
            if let Some(&first) = by_identifier.get(registration.identifier) {
                let first: &ProviderRegistration = &registrations[first];
                return Err(RegistryError::Duplicate {
                    identifier: registration.identifier.to_owned(),
                    first: first.display_name.to_owned(),
                    second: registration.display_name.to_owned(),
                });
            }
            by_identifier.insert(registration.identifier, index);
        }
        Ok(Self {
            registrations,
            by_identifier,
        })
    }

    /// The registrations, sorted by identifier.
    pub fn providers(&self) -> &[ProviderRegistration] {
        &self.registrations
    }

    /// The registration of `identifier`.
    pub fn get(&self, identifier: &str) -> Result<&ProviderRegistration, RegistryError> {
        self.by_identifier
            .get(identifier)
            .map(|&index| &self.registrations[index])
            .ok_or_else(|| RegistryError::Unknown {
                identifier: identifier.to_owned(),
                available: self
                    .registrations
                    .iter()
                    .map(|registration| registration.identifier)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Builds provider `identifier` from `config`. An unknown identifier, or a factory that
    /// fails, is a [`SyncError::Config`] naming the provider.
    pub fn build(
        &self,
        identifier: &str,
        config: &ProviderConfig,
    ) -> Result<Box<dyn OutboundSyncProvider>, SyncError> {
        let registration = self
            .get(identifier)
            .map_err(|error| SyncError::config(error.to_string()))?;
        (registration.factory)(config)
            .map_err(|error| error.in_context(&format!("provider \"{identifier}\"")))
    }
}
