//! # outsync-core
//!
//! Everything a provider crate or an application needs to sync objects into external
//! systems: the source [`schema`], the [`mapping`] engine, the provider contract
//! ([`OutboundSyncProvider`]), syncing one object ([`sync_object`]), the provider
//! [`registry`], [`Secret`]s and errors. It compiles no database driver and no async
//! runtime: the persistent retry queue and its worker are `outsync-queue`, what HTTP
//! providers share is `outsync-http`.
//!
//! ```
//! use outsync_core::mapping::{assign_properties, Property, UpdateMode};
//! let out = assign_properties(
//!     &[Property::new("email", "a@example.org".into(), UpdateMode::IfEmpty)],
//!     &Default::default(), true, Some(","));
//! assert_eq!(out["email"], "a@example.org");
//! ```

pub mod configured;
pub mod digest;
pub mod error;
pub mod keys;
pub mod ledger;
pub mod mapping;
pub mod provider;
pub mod registry;
mod results;
pub mod schema;
pub mod secret;
pub mod source;
pub mod sync;

pub use configured::{ConfiguredProvider, ProviderType};
pub use error::{Cause, SyncError, SyncResult};
pub use ledger::{ExternalKey, ExternalLedger, Holder, MemoryLedger};
pub use provider::{
    MappedObject, MappedObjects, ObjectRef, OutboundSyncProvider, PreviousResult, PreviousResults,
    SourceObject, SyncAction, SyncOptions, SyncOutcome, SyncRequest,
};
pub use registry::{
    ProviderConfig, ProviderFactory, ProviderRegistration, Registry, RegistryError,
};
pub use secret::Secret;
pub use source::ObjectSource;
pub use sync::{ObjectSyncReport, PreviewEntry, preview, sync_object, sync_object_with};

/// Re-exported so providers need no direct dependency on `async-trait`.
pub use async_trait::async_trait;

#[doc(hidden)]
pub use inventory;

/// Registers a [`ProviderType`] so that a binary linking its crate can build it by
/// identifier: `register_provider!(MyProvider);`.
#[macro_export]
macro_rules! register_provider {
    ($provider:ty) => {
        $crate::inventory::submit! {
            $crate::ProviderRegistration::of::<$provider>()
        }
    };
}
