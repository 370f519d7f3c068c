//! # outsync-basket
//!
//! An outsync provider for Mozilla's [Basket](https://basket.readthedocs.io/): it keeps
//! Basket's copy of AMO user accounts and add-ons up to date (`/amo-sync/userprofile/`,
//! `/amo-sync/addon/`), and subscribes and unsubscribes newsletters.
//!
//! - [`basket_schema`]: the `UserProfile` and `Addon` source models;
//! - [`DEFAULT_MAPPINGS`]: mappings producing exactly the documented payloads;
//! - [`BasketProvider`]: sends them; unchanged payloads are skipped (`skip_unchanged`);
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
pub use provider::{BasketProvider, IDENTIFIER};
pub use schema::{SCHEMA_JSON, basket_schema, computed_fields};
#[cfg(feature = "queue")]
pub use triggers::Triggers;

outsync_core::register_provider!(BasketProvider);
