//! A provider as the framework runs it: the provider's behaviour ([`OutboundSyncProvider`])
//! together with what the framework owns for it: its identifier and display name, and the
//! mappings loaded from its settings.
//!
//! A provider crate implements [`ProviderType`] (identifier, name, how to build itself from
//! its settings) and registers the type with
//! [`register_provider!`](crate::register_provider); the registry then builds a
//! [`ConfiguredProvider`] from JSON settings, loading and validating `mappings` itself.

use crate::SyncError;
use crate::ledger::{ExternalLedger, MemoryLedger};
use crate::mapping::ObjectMapping;
use crate::provider::OutboundSyncProvider;
use crate::registry::ProviderConfig;
use std::sync::Arc;

/// A provider type the framework can build from settings. Identifier and display name are
/// written here once; the framework loads the `mappings` setting (or
/// [`DEFAULT_MAPPINGS`](Self::DEFAULT_MAPPINGS)) and checks each with
/// [`check_mapping`](Self::check_mapping).
pub trait ProviderType: OutboundSyncProvider + Sized + 'static {
    /// The unique, stable identifier (`basket`); stored in every queued job.
    const IDENTIFIER: &'static str;
    /// The name shown to users.
    const DISPLAY_NAME: &'static str;
    /// The setting keys the provider reads besides `mappings`; any other key in a
    /// configuration is an error naming it.
    const SETTINGS: &'static [&'static str] = &[];
    /// Mappings (JSON text) used when the settings have no `mappings`; `None` makes
    /// `mappings` required.
    const DEFAULT_MAPPINGS: Option<&'static str> = None;

    /// Builds the provider from its settings (`config.settings`, which also holds the
    /// `mappings` the framework loads).
    fn from_settings(config: &ProviderConfig) -> Result<Self, SyncError>;

    /// Refuses a mapping this provider cannot serve (e.g. an external object type the
    /// target does not have), with an error naming it. The default accepts every mapping.
    fn check_mapping(mapping: &ObjectMapping) -> Result<(), SyncError> {
        let _ = mapping;
        Ok(())
    }

    /// Loads the mappings of `config` for this provider: `settings.mappings`, or the
    /// defaults, each checked with [`check_mapping`](Self::check_mapping).
    fn load_mappings(config: &ProviderConfig) -> Result<Vec<ObjectMapping>, SyncError> {
        let mappings = match (config.settings.get("mappings"), Self::DEFAULT_MAPPINGS) {
            (Some(custom), _) => ObjectMapping::load_value(custom, &config.schema)?,
            (None, Some(defaults)) => ObjectMapping::load_all(defaults, &config.schema)?,
            (None, None) => {
                return Err(SyncError::config(
                    "setting \"mappings\" is required (a list of mappings)",
                ));
            }
        };
        mappings.iter().try_for_each(Self::check_mapping)?;
        Ok(mappings)
    }

    /// Builds the provider and its mappings from `config`.
    fn configure(config: &ProviderConfig) -> Result<ConfiguredProvider, SyncError> {
        let mappings = Self::load_mappings(config)?;
        let provider = Self::from_settings(config)?;
        Ok(
            ConfiguredProvider::new(Self::IDENTIFIER, mappings, Arc::new(provider))
                .with_display_name(Self::DISPLAY_NAME),
        )
    }
}

/// A provider ready to sync: identity, mappings and the provider's behaviour. Built by the
/// [`Registry`](crate::Registry) from settings, or directly with [`new`](Self::new).
#[derive(Clone)]
pub struct ConfiguredProvider {
    identifier: String,
    display_name: String,
    mappings: Vec<ObjectMapping>,
    provider: Arc<dyn OutboundSyncProvider>,
    /// The ledger of direct `sync_object` calls (the worker passes the queue's instead).
    ledger: Arc<dyn ExternalLedger>,
}

impl std::fmt::Debug for ConfiguredProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfiguredProvider")
            .field("identifier", &self.identifier)
            .field("mappings", &self.mappings.len())
            .finish_non_exhaustive()
    }
}

impl ConfiguredProvider {
    /// `provider` serving `mappings` under `identifier` (also its display name until
    /// [`with_display_name`](Self::with_display_name)).
    pub fn new(
        identifier: impl Into<String>,
        mappings: Vec<ObjectMapping>,
        provider: Arc<dyn OutboundSyncProvider>,
    ) -> Self {
        let identifier = identifier.into();
        Self {
            display_name: identifier.clone(),
            identifier,
            mappings,
            provider,
            ledger: Arc::new(MemoryLedger::default()),
        }
    }

    /// Sets the name shown to users.
    #[must_use]
    pub fn with_display_name(mut self, display_name: impl Into<String>) -> Self {
        self.display_name = display_name.into();
        self
    }

    /// The identifier stored in every job of this provider.
    pub fn identifier(&self) -> &str {
        &self.identifier
    }

    /// The name shown to users.
    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    /// The mappings, in the order they are applied.
    pub fn mappings(&self) -> &[ObjectMapping] {
        &self.mappings
    }

    /// The provider's behaviour.
    pub fn provider(&self) -> &dyn OutboundSyncProvider {
        self.provider.as_ref()
    }

    /// The in-memory ledger used when a sync is given none
    /// ([`SyncOptions::ledger`](crate::SyncOptions::ledger)); shared by the clones of this
    /// provider.
    pub fn memory_ledger(&self) -> Arc<dyn ExternalLedger> {
        self.ledger.clone()
    }

    /// Whether jobs of `object_type` can do anything: some mapping's root model is
    /// `object_type`, or the provider handles it without one
    /// ([`OutboundSyncProvider::handles_unmapped_object_type`]). The queue refuses to
    /// enqueue other types, and a sync of one is recorded as `skipped`.
    pub fn handles_object_type(&self, object_type: &str) -> bool {
        self.mappings
            .iter()
            .any(|mapping| mapping.root_model() == object_type)
            || self.provider.handles_unmapped_object_type(object_type)
    }

    /// Whether the worker loads what earlier runs stored for each object: the provider
    /// asks for it, or skips unchanged payloads (which compares with it).
    pub fn wants_previous_results(&self) -> bool {
        self.provider.wants_previous_results() || self.provider.skips_unchanged_payloads()
    }
}
