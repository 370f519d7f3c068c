//! # outsync-basket
//!
//! An outsync provider for Mozilla's [Basket](https://basket.readthedocs.io/): it keeps
//! Basket's copy of AMO user accounts and add-ons up to date (`/amo-sync/userprofile/`,
//! `/amo-sync/addon/`), and subscribes and unsubscribes newsletters.
//!
//! - [`basket_schema`]: the `UserProfile` and `Addon` source models;
//! - [`DEFAULT_MAPPINGS`]: mappings producing exactly the documented payloads;
//! - [`BasketProvider`]: sends them, skipping payloads Basket already accepted;
//! - `Triggers` (feature `queue`): enqueues syncs when a field Basket receives changes
//!   ([`user_changed`], [`addon_changed`] tell);
//! - [`BasketClient::subscribe`] / [`BasketClient::unsubscribe`]: newsletters.
//!
//! Linking this crate registers the provider as `basket` (`use outsync_basket as _;`).

mod changes;
mod client;
mod config;
#[cfg(feature = "fake-server")]
pub mod fake;
mod mappings;
mod newsletter;
pub mod payload;
mod provider;
mod schema;
#[cfg(feature = "queue")]
mod triggers;

pub use changes::{addon_changed, user_changed};
pub use client::BasketClient;
pub use config::{ApiKey, BasketConfig};
pub use mappings::DEFAULT_MAPPINGS;
pub use newsletter::{Subscription, Unsubscribe};
pub use provider::{BasketProvider, IDENTIFIER, payload_digest};
pub use schema::{SCHEMA_JSON, basket_schema, computed_fields};
#[cfg(feature = "queue")]
pub use triggers::Triggers;

use outsync_core::{OutboundSyncProvider, ProviderConfig, ProviderRegistration, SyncError};

fn build(config: &ProviderConfig) -> Result<Box<dyn OutboundSyncProvider>, SyncError> {
    Ok(Box::new(BasketProvider::from_config(config)?))
}

outsync_core::register_provider! {
    ProviderRegistration::new(IDENTIFIER, "Mozilla Basket", build).with_settings(&[
        "base_url",
        "api_key",
        "api_key_env",
        "api_key_file",
        "timeout_seconds",
        "skip_unchanged",
        "mappings",
    ])
}
