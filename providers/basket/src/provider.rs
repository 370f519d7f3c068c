//! The Basket provider: user accounts and add-ons to `/amo-sync/…`, skipping payloads Basket
//! already accepted.

use crate::client::{BasketClient, Call};
use crate::config::BasketConfig;
use crate::mappings::DEFAULT_MAPPINGS;
use outsync_core::mapping::{ObjectMapping, assign_properties};
use outsync_core::schema::SourceSchema;
use outsync_core::{
    OutboundSyncProvider, ProviderConfig, SyncAction, SyncError, SyncOutcome, SyncRequest,
    async_trait,
};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The provider's identifier.
pub const IDENTIFIER: &str = "basket";

/// Pushes AMO user accounts and add-ons to Basket.
#[derive(Debug)]
pub struct BasketProvider {
    client: BasketClient,
    mappings: Vec<ObjectMapping>,
}

impl BasketProvider {
    /// A provider with the default mappings (or `mappings` JSON, if given), validated
    /// against `schema`.
    pub fn new(
        config: BasketConfig,
        schema: &SourceSchema,
        mappings: Option<&Value>,
    ) -> Result<Self, SyncError> {
        let mappings = match mappings {
            Some(custom) => ObjectMapping::load_value(custom, schema)?,
            None => ObjectMapping::load_all(DEFAULT_MAPPINGS, schema)?,
        };
        for mapping in &mappings {
            if endpoint(mapping.external_object_type()).is_none() {
                return Err(SyncError::config(format!(
                    "mapping {}: external_object_type \"{}\" is not a Basket endpoint; use \"userprofile\" or \"addon\"",
                    mapping.id(),
                    mapping.external_object_type()
                )));
            }
        }
        Ok(Self {
            client: BasketClient::new(config)?,
            mappings,
        })
    }

    /// Builds the provider from its settings (see [`BasketConfig::from_settings`]; an
    /// optional `mappings` array replaces the defaults). The schema must contain the Basket
    /// models ([`crate::basket_schema`]) or the models your mappings name.
    pub fn from_config(config: &ProviderConfig) -> Result<Self, SyncError> {
        let settings = BasketConfig::from_settings(&config.settings)?;
        Self::new(settings, &config.schema, config.settings.get("mappings"))
    }

    /// The HTTP client (also used for newsletters).
    pub fn client(&self) -> &BasketClient {
        &self.client
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

/// SHA-256 of the payload's canonical JSON (keys sorted at every level).
pub fn payload_digest(payload: &Value) -> String {
    fn canonical(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (index, key) in keys.into_iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    canonical(&map[key], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    canonical(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::new();
    canonical(payload, &mut text);
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[async_trait]
impl OutboundSyncProvider for BasketProvider {
    fn identifier(&self) -> &str {
        IDENTIFIER
    }

    fn display_name(&self) -> &str {
        "Mozilla Basket"
    }

    fn list_field_joiner(&self) -> Option<&str> {
        None
    }

    fn mappings(&self) -> &[ObjectMapping] {
        &self.mappings
    }

    fn wants_previous_results(&self) -> bool {
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
        let digest = payload_digest(&payload);
        let info = json!({"digest": digest});
        let unchanged = request.previous.is_some_and(|previous| {
            previous.info.get("digest").and_then(Value::as_str) == Some(digest.as_str())
        });
        if unchanged && !request.force && self.client.config().skip_unchanged {
            return Ok(Some(
                SyncOutcome::new(SyncAction::NothingToDo, &request).with_info(info),
            ));
        }
        let what = format!("{object_type} {}", request.id_value);
        self.client
            .post_json(Call { what: &what, path }, &payload)
            .await?;
        let action = if request.previous.is_some() {
            SyncAction::Update
        } else {
            SyncAction::Create
        };
        Ok(Some(SyncOutcome::new(action, &request).with_info(info)))
    }
}
