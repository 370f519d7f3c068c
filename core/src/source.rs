//! Where the worker gets an object's current state when a job carries no snapshot.

use crate::{ObjectRef, SyncError};
use async_trait::async_trait;
use serde_json::Value;

/// Loads objects of the application by reference. Implemented by the application, so a
/// job that runs late sends the object's latest state rather than the state at enqueue.
#[async_trait]
pub trait ObjectSource: Send + Sync {
    /// The object's current state, or `None` if it no longer exists. Errors follow the
    /// usual meaning (a recoverable error retries the job).
    async fn load(&self, object: &ObjectRef) -> Result<Option<Value>, SyncError>;

    /// The object for a job of `provider`. The default is [`load`](Self::load); a source
    /// configured per provider overrides it.
    async fn load_for(
        &self,
        provider: &str,
        object: &ObjectRef,
    ) -> Result<Option<Value>, SyncError> {
        let _ = provider;
        self.load(object).await
    }

    /// Whether the worker loads `provider`'s objects of `object_type` from this source even
    /// when the job carries a snapshot (the default: the snapshot wins).
    fn preferred_over_snapshot(&self, provider: &str, object_type: &str) -> bool {
        let _ = (provider, object_type);
        false
    }
}
