//! Mapping versions for the service: the configuration file seeds them, workers rebuild a
//! provider from its settings with a newer version, and `outsync mapping
//! history|diff|rollback` and the dashboard's editor read and write them.

use crate::config::Config;
use outsync_core::mapping::ObjectMapping;
use outsync_core::{ConfiguredProvider, ProviderConfig, Registry, SyncError};
use outsync_queue::sea_orm::DatabaseConnection;
use outsync_queue::{MappingReloader, Queue, QueueError};
use serde_json::Value;
use std::sync::Arc;

/// The mappings of `provider` as stored in a version (outsync's JSON format).
pub(crate) fn mappings_json(provider: &ConfiguredProvider) -> Value {
    Value::Array(
        provider
            .mappings()
            .iter()
            .map(ObjectMapping::to_json)
            .collect(),
    )
}

/// Rebuilds providers from the configuration's settings with other mappings.
pub(crate) struct SettingsReloader {
    providers: Vec<(String, Value)>,
    schema: Arc<outsync_core::schema::SourceSchema>,
}

impl SettingsReloader {
    pub(crate) fn new(config: &Config) -> Self {
        Self {
            providers: config.providers.clone(),
            schema: config.schema.clone(),
        }
    }

    /// `provider_id` built with `mappings` (checked as at start: against the schema and the
    /// provider's own rules).
    pub(crate) fn build(
        &self,
        provider_id: &str,
        mappings: &Value,
    ) -> Result<ConfiguredProvider, SyncError> {
        let mut settings = self
            .providers
            .iter()
            .find(|(id, _)| id == provider_id)
            .map(|(_, settings)| settings.clone())
            .ok_or_else(|| {
                SyncError::config(format!("provider \"{provider_id}\" is not configured"))
            })?;
        settings["mappings"] = mappings.clone();
        let registry = Registry::global().map_err(|error| SyncError::config(error.to_string()))?;
        registry.build(
            provider_id,
            &ProviderConfig {
                settings,
                schema: self.schema.clone(),
            },
        )
    }
}

impl MappingReloader for SettingsReloader {
    fn rebuild(
        &self,
        provider_id: &str,
        mappings: &Value,
    ) -> Result<ConfiguredProvider, SyncError> {
        self.build(provider_id, mappings)
    }
}

/// Seeds each provider's first version from the configuration file (or a new one when the
/// file's mappings changed since it last did).
pub(crate) async fn seed(
    queue: &Queue,
    db: &DatabaseConnection,
    providers: &[Arc<ConfiguredProvider>],
) -> Result<(), QueueError> {
    for provider in providers {
        queue
            .seed_mapping_version(db, provider.identifier(), &mappings_json(provider))
            .await?;
    }
    Ok(())
}

/// A line diff of two versions' mappings (`-` removed, `+` added, two spaces unchanged).
pub(crate) fn diff(old: &Value, new: &Value) -> String {
    let pretty = |value: &Value| serde_json::to_string_pretty(value).unwrap_or_default() + "\n";
    let (old, new) = (pretty(old), pretty(new));
    let diff = similar::TextDiff::from_lines(&old, &new);
    let mut out = String::new();
    for change in diff.iter_all_changes() {
        let sign = match change.tag() {
            similar::ChangeTag::Delete => "-",
            similar::ChangeTag::Insert => "+",
            similar::ChangeTag::Equal => " ",
        };
        out.push_str(sign);
        out.push(' ');
        out.push_str(change.value());
    }
    out
}
