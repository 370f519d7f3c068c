//! The Basket provider: user accounts and add-ons to `/amo-sync/…`; the framework skips
//! payloads Basket already accepted (`skip_unchanged`).

use crate::client::{BasketClient, Call};
use crate::config::BasketConfig;
use crate::mappings::DEFAULT_MAPPINGS;
use outsync_core::mapping::{ObjectMapping, assign_properties};
use outsync_core::schema::SourceSchema;
use outsync_core::{
    ConfiguredProvider, OutboundSyncProvider, ProviderConfig, ProviderType, SyncAction, SyncError,
    SyncOutcome, SyncRequest, async_trait,
};
use serde_json::{Map, Value};
use std::sync::Arc;

/// The provider's identifier.
pub const IDENTIFIER: &str = <BasketProvider as ProviderType>::IDENTIFIER;

/// Pushes AMO user accounts and add-ons to Basket.
#[derive(Debug)]
pub struct BasketProvider {
    client: BasketClient,
}

impl BasketProvider {
    /// A provider sending with `config`. Build it with its mappings from settings with
    /// [`ProviderType::configure`] (the default mappings unless the settings have
    /// `mappings`), or with [`BasketProvider::configured`].
    pub fn new(config: BasketConfig) -> Result<Self, SyncError> {
        Ok(Self {
            client: BasketClient::new(config)?,
        })
    }

    /// The provider for `config` with the default mappings (or `mappings` JSON, if given),
    /// validated against `schema`, ready for `sync_object` and the queue.
    pub fn configured(
        config: BasketConfig,
        schema: &SourceSchema,
        mappings: Option<&Value>,
    ) -> Result<ConfiguredProvider, SyncError> {
        let mappings = match mappings {
            Some(custom) => ObjectMapping::load_value(custom, schema)?,
            None => ObjectMapping::load_all(DEFAULT_MAPPINGS, schema)?,
        };
        mappings.iter().try_for_each(Self::check_mapping)?;
        Ok(
            ConfiguredProvider::new(IDENTIFIER, mappings, Arc::new(Self::new(config)?))
                .with_display_name(Self::DISPLAY_NAME),
        )
    }

    /// The HTTP client (also used for newsletters).
    pub fn client(&self) -> &BasketClient {
        &self.client
    }
}

impl ProviderType for BasketProvider {
    const IDENTIFIER: &'static str = "basket";
    const DISPLAY_NAME: &'static str = "Mozilla Basket";
    const SETTINGS: &'static [&'static str] = &[
        "base_url",
        "api_key",
        "api_key_env",
        "api_key_file",
        "timeout_seconds",
        "skip_unchanged",
    ];
    const DEFAULT_MAPPINGS: Option<&'static str> = Some(DEFAULT_MAPPINGS);

    /// See [`BasketConfig::from_settings`]; the schema must contain the Basket models
    /// ([`crate::basket_schema`]) or the models the `mappings` setting names.
    fn from_settings(config: &ProviderConfig) -> Result<Self, SyncError> {
        Self::new(BasketConfig::from_settings(&config.settings)?)
    }

    fn check_mapping(mapping: &ObjectMapping) -> Result<(), SyncError> {
        match endpoint(mapping.external_object_type()) {
            Some(_) => Ok(()),
            None => Err(SyncError::config(format!(
                "mapping {}: external_object_type \"{}\" is not a Basket endpoint; use \"userprofile\" or \"addon\"",
                mapping.id(),
                mapping.external_object_type()
            ))),
        }
    }
}

/// The path for an external object type.
fn endpoint(object_type: &str) -> Option<&'static str> {
    match object_type {
        "userprofile" => Some("/amo-sync/userprofile/"),
        "addon" => Some("/amo-sync/addon/"),
        _ => None,
    }
}

#[async_trait]
impl OutboundSyncProvider for BasketProvider {
    fn list_field_joiner(&self) -> Option<&str> {
        None
    }

    /// Create or update is told from the previous results.
    fn wants_previous_results(&self) -> bool {
        true
    }

    fn skips_unchanged_payloads(&self) -> bool {
        self.client.config().skip_unchanged
    }

    async fn sync_object_with_properties(
        &self,
        request: SyncRequest<'_>,
    ) -> Result<Option<SyncOutcome>, SyncError> {
        let object_type = request.mapping.external_object_type();
        let path = endpoint(object_type).ok_or_else(|| {
            SyncError::config(format!("\"{object_type}\" is not a Basket endpoint"))
        })?;
        let payload = Value::Object(assign_properties(
            &request.properties,
            &Map::new(),
            true,
            None,
        ));
        let what = format!("{object_type} {}", request.id_value);
        self.client
            .post_json(Call { what: &what, path }, &payload)
            .await?;
        let action = if request.previous.is_some() {
            SyncAction::Update
        } else {
            SyncAction::Create
        };
        Ok(Some(SyncOutcome::new(action, &request)))
    }
}
