//! The provider registry: provider crates register their [`ProviderType`] with
//! `inventory` (`outsync_core::register_provider!(MyList);`), and a binary builds the
//! providers its configuration names.

use crate::SyncError;
use crate::configured::{ConfiguredProvider, ProviderType};
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

/// A function that builds a provider and its mappings from its configuration.
/// Configuration problems are reported as [`SyncError::Config`].
pub type ProviderFactory = fn(&ProviderConfig) -> Result<ConfiguredProvider, SyncError>;

/// One registered provider type.
#[derive(Debug, Clone, Copy)]
pub struct ProviderRegistration {
    /// The provider's identifier.
    pub identifier: &'static str,
    /// The name shown to users.
    pub display_name: &'static str,
    /// Builds the provider.
    pub factory: ProviderFactory,
    /// The setting keys the provider reads besides `mappings` (which every provider
    /// has); a configuration with any other key is an error naming it.
    pub settings: &'static [&'static str],
}

impl ProviderRegistration {
    /// The registration of provider type `P`, as [`register_provider!`](crate::register_provider)
    /// submits it.
    pub const fn of<P: ProviderType>() -> Self {
        Self {
            identifier: P::IDENTIFIER,
            display_name: P::DISPLAY_NAME,
            factory: P::configure,
            settings: P::SETTINGS,
        }
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
    ) -> Result<ConfiguredProvider, SyncError> {
        let registration = self
            .get(identifier)
            .map_err(|error| SyncError::config(error.to_string()))?;
        (registration.factory)(config)
            .map_err(|error| error.in_context(&format!("provider \"{identifier}\"")))
    }
}
