//! What a provider author describes: the target the provider writes to, and source
//! objects to sync.

use outsync_core::{ObjectRef, async_trait};
use serde_json::Value;
use std::collections::BTreeMap;

/// The records a target holds, by external id (an e-mail address, a user id). More than
/// one record under one id is a duplicate.
pub type Records = BTreeMap<String, Vec<Value>>;

/// The external system as the scenarios observe and disturb it.
#[async_trait]
pub trait Target: Send + Sync {
    /// The records the target holds now (at least those the scenarios' objects map to).
    async fn records(&self) -> Result<Records, String>;

    /// How many writes (creating, changing or deleting requests) the target has received
    /// so far.
    async fn writes(&self) -> Result<usize, String>;

    /// Makes the target answer every request with a transient failure (`true`: a 503, a
    /// refused connection), or normally again (`false`).
    async fn set_unavailable(&self, unavailable: bool);
}

/// Source objects for the scenarios. `key` is unique per scenario and run, so that
/// scenarios do not see each other's records in a target that outlives the test.
pub trait Fixture: Send + Sync {
    /// Object `key` in `version` (1, 2): the two versions differ in what the provider
    /// sends, and both must lead to a write.
    fn object(&self, key: &str, version: u32) -> (ObjectRef, Value);

    /// Two different objects (`index` 0 and 1) that both map to one external object, such
    /// as two orders of one buyer subscribing the same address.
    fn sharing(&self, key: &str, index: usize) -> (ObjectRef, Value);
}
