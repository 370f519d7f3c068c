//! The external-object ledger: what outsync knows about the external objects a provider
//! writes, kept beside the queue so that every worker sees it.
//!
//! Some providers fold several source objects into one external object: a mailing-list
//! address fed by every order that names it, a CRM contact fed by several orders. Such a
//! provider must not remove the external object when one source object lets go while
//! another still holds it. The ledger records, per provider and external object:
//!
//! - **holdings**: which source objects (each mapping and child apart) currently hold it.
//!   A holding is removed only once the provider has dealt with its end, so a failure in
//!   between (the external system down) leaves it to be dealt with on the next try; after
//!   a sync, [`holdings_of`](ExternalLedger::holdings_of) the object that the run did not
//!   confirm are the ones it let go of (a corrected e-mail address, a removed child);
//! - a **note**: a small JSON value the provider keeps about the external object (e.g.
//!   "outsync subscribed this address", "its owner left on …");
//! - a **lock**: serialisation by external key across every worker, so that two jobs
//!   touching the same external object at once take turns.
//!
//! The queue implements [`ExternalLedger`] in its database; [`MemoryLedger`] keeps it in
//! memory for direct [`sync_object`](crate::sync_object) calls and tests. Providers receive
//! it as [`SyncRequest::ledger`](crate::SyncRequest::ledger),
//! [`SourceObject::ledger`](crate::SourceObject::ledger) and in
//! [`object_missing`](crate::OutboundSyncProvider::object_missing).

use crate::{ObjectRef, SyncError, async_trait};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

/// An external object as a provider names it: its type (a mapping's
/// `external_object_type`, e.g. the list) and its id (the address).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExternalKey {
    /// The external object type.
    pub object_type: String,
    /// The external id.
    pub id: String,
}

impl ExternalKey {
    /// The external object `id` of type `object_type`.
    pub fn new(object_type: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            object_type: object_type.into(),
            id: id.into(),
        }
    }
}

impl fmt::Display for ExternalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.object_type, self.id)
    }
}

/// What holds an external object: a source object, and within it the mapping and the
/// child (empty for the object itself) that produced the external object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Holder {
    /// The source object.
    pub object: ObjectRef,
    /// The mapping's id.
    pub mapping: String,
    /// The child key (`OrderPosition 2`), empty for the object itself.
    pub child: String,
}

impl Holder {
    /// `object`'s holding through `mapping` and `child`.
    pub fn new(object: ObjectRef, mapping: impl Into<String>, child: impl Into<String>) -> Self {
        Self {
            object,
            mapping: mapping.into(),
            child: child.into(),
        }
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (mapping {}", self.object, self.mapping)?;
        if !self.child.is_empty() {
            write!(f, ", {}", self.child)?;
        }
        f.write_str(")")
    }
}

/// The turn of one caller on one external key, from [`ExternalLedger::lock`]; give it back
/// with [`ExternalLedger::unlock`]. Dropping it ends the turn within this process at once;
/// other processes wait until it is unlocked or its lease runs out.
pub struct KeyLock {
    /// The locked key.
    pub key: ExternalKey,
    /// Keeps this process's turn (an in-process lock guard).
    _turn: Box<dyn std::any::Any + Send + Sync>,
}

impl KeyLock {
    /// A lock on `key`, kept while `turn` (any guard) lives.
    pub fn new(key: ExternalKey, turn: impl std::any::Any + Send + Sync) -> Self {
        Self {
            key,
            _turn: Box::new(turn),
        }
    }
}

impl fmt::Debug for KeyLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyLock").field("key", &self.key).finish()
    }
}

/// What a provider knows about its external objects, shared by every worker. One ledger
/// serves one provider (its identifier scopes every entry).
#[async_trait]
pub trait ExternalLedger: Send + Sync + fmt::Debug {
    /// Waits for the turn on `key`: until [`unlock`](Self::unlock), no other caller (in any
    /// worker sharing the ledger) holds a lock on it. Fails as recoverable when the turn
    /// does not come in time.
    async fn lock(&self, key: &ExternalKey) -> Result<KeyLock, SyncError>;

    /// Ends the turn taken with [`lock`](Self::lock).
    async fn unlock(&self, lock: KeyLock) -> Result<(), SyncError>;

    /// Records that `holder` holds `key` (nothing happens if it already does).
    async fn hold(&self, holder: &Holder, key: &ExternalKey) -> Result<(), SyncError>;

    /// Records that `holder` no longer holds `key`.
    async fn release(&self, holder: &Holder, key: &ExternalKey) -> Result<(), SyncError>;

    /// Every holder of `key`.
    async fn holders(&self, key: &ExternalKey) -> Result<Vec<Holder>, SyncError>;

    /// Every holding of `object` (all its mappings and children), with the key held.
    async fn holdings_of(
        &self,
        object: &ObjectRef,
    ) -> Result<Vec<(Holder, ExternalKey)>, SyncError>;

    /// The provider's note about `key`, if it wrote one.
    async fn note(&self, key: &ExternalKey) -> Result<Option<Value>, SyncError>;

    /// Replaces the note about `key`.
    async fn set_note(&self, key: &ExternalKey, note: &Value) -> Result<(), SyncError>;
}

/// Runs `work` on `key`'s turn: locks, runs, unlocks (also when `work` fails).
pub async fn with_key_locked<T, F>(
    ledger: &dyn ExternalLedger,
    key: &ExternalKey,
    work: F,
) -> Result<T, SyncError>
where
    F: Future<Output = Result<T, SyncError>>,
{
    let lock = ledger.lock(key).await?;
    let result = work.await;
    let unlocked = ledger.unlock(lock).await;
    let value = result?;
    unlocked?;
    Ok(value)
}

/// In-process turns by key: one async mutex per key, dropped when nobody waits on it.
#[derive(Debug, Default, Clone)]
pub struct KeyedTurns {
    keys: Arc<Mutex<HashMap<ExternalKey, Arc<tokio::sync::Mutex<()>>>>>,
}

impl KeyedTurns {
    /// Waits for `key`'s turn; the guard ends it.
    pub async fn take(&self, key: &ExternalKey) -> tokio::sync::OwnedMutexGuard<()> {
        let mutex = {
            let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
            // Forget keys nobody holds or waits for, so the map stays as small as the
            // keys in use.
            if keys.len() > 1024 {
                keys.retain(|_, mutex| Arc::strong_count(mutex) > 1);
            }
            keys.entry(key.clone()).or_default().clone()
        };
        mutex.lock_owned().await
    }
}

/// A ledger in memory: for direct [`sync_object`](crate::sync_object) calls (each
/// [`ConfiguredProvider`](crate::ConfiguredProvider) has one) and tests. Lost with the
/// process; the queue's ledger persists.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    turns: KeyedTurns,
    state: Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    holdings: BTreeSet<(Holder, ExternalKey)>,
    notes: HashMap<ExternalKey, Value>,
}

impl MemoryLedger {
    fn state(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl ExternalLedger for MemoryLedger {
    async fn lock(&self, key: &ExternalKey) -> Result<KeyLock, SyncError> {
        let turn = self.turns.take(key).await;
        Ok(KeyLock::new(key.clone(), turn))
    }

    async fn unlock(&self, lock: KeyLock) -> Result<(), SyncError> {
        drop(lock);
        Ok(())
    }

    async fn hold(&self, holder: &Holder, key: &ExternalKey) -> Result<(), SyncError> {
        self.state().holdings.insert((holder.clone(), key.clone()));
        Ok(())
    }

    async fn release(&self, holder: &Holder, key: &ExternalKey) -> Result<(), SyncError> {
        self.state().holdings.remove(&(holder.clone(), key.clone()));
        Ok(())
    }

    async fn holders(&self, key: &ExternalKey) -> Result<Vec<Holder>, SyncError> {
        Ok(self
            .state()
            .holdings
            .iter()
            .filter(|(_, held)| held == key)
            .map(|(holder, _)| holder.clone())
            .collect())
    }

    async fn holdings_of(
        &self,
        object: &ObjectRef,
    ) -> Result<Vec<(Holder, ExternalKey)>, SyncError> {
        Ok(self
            .state()
            .holdings
            .iter()
            .filter(|(holder, _)| holder.object == *object)
            .cloned()
            .collect())
    }

    async fn note(&self, key: &ExternalKey) -> Result<Option<Value>, SyncError> {
        Ok(self.state().notes.get(key).cloned())
    }

    async fn set_note(&self, key: &ExternalKey, note: &Value) -> Result<(), SyncError> {
        self.state().notes.insert(key.clone(), note.clone());
        Ok(())
    }
}
