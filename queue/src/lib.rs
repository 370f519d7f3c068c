//! # outsync-queue
//!
//! The persistent retry queue on sea-orm (SQLite embedded by default, PostgreSQL for many
//! workers on many hosts, each behind a feature of the same name) and the [`Worker`] that
//! runs its jobs through `outsync-core`'s providers.
//!
//! A [`Queue`] enqueues jobs on any [`ConnectionTrait`] — including the application's own
//! open transaction, so a job commits or rolls back with the change that caused it — and
//! offers the operator API (list, retry, cancel, purge, statistics, results, runs).
//!
//! ```text
//!              enqueue                  claim (lease + token)
//!   app ─────────────────▶ pending ───────────────────────────▶ running
//!                           ▲  ▲ ▲                                │
//!        retry (attempt+1)  │  │ │ snooze (no attempt: 429,       │ success / skipped /
//!        ───────────────────┘  │ │  target unavailable)           │ object missing
//!        release (shutdown) ───┘ └────────────────────────────────┤──────────▶ done (row deleted,
//!                                                                 │            results and a run kept)
//!                     operator retry                              │ permanent / config /
//!   pending ◀─────────────────────── stopped (failure mode) ◀────┘ exceeded / internal / timeout
//! ```

mod admission;
mod bulk;
mod clock;
mod connect;
mod db_clock;
pub mod decide;
mod enqueue;
mod entity;
mod error;
mod history;
mod job;
mod ledger;
mod mapping_versions;
pub mod metrics;
mod migration;
mod operator;
mod outcome;
mod retry;
mod rounds;
mod select;
pub(crate) mod sql;
pub(crate) mod store;
mod tally;
#[cfg(feature = "postgres")]
mod tcp_nodelay;
pub(crate) mod unknown;
mod views;
pub mod worker;

pub use admission::{MAX_KEY_BYTES, MAX_SNAPSHOT_BYTES, SNAPSHOT_LIMIT, snapshot_too_large};
pub use clock::{Clock, ManualClock, SharedClock, SystemClock, to_datetime};
pub use connect::{APPLICATION_NAME, DatabaseSettings, connect, describe, open, sqlite_file};
pub use db_clock::DatabaseClock;
pub use enqueue::{BatchSummary, EnqueueItem, EnqueueOptions, Enqueued};
pub use error::QueueError;
pub use job::{Job, JobState, StateFilter};
pub use ledger::QueueLedger;
pub use mapping_versions::{CONFIG_FILE, MappingReloader, MappingVersion};
pub use migration::Migrator;
pub use operator::{ObjectState, QueueStats};
pub use outcome::RunOutcome;
pub use retry::{LeaseExpiry, RetryPolicy};
pub use rounds::{ROUNDS_KEPT, Round};
pub use select::{JobFilter, JobPage, JobSort};
pub use views::{Run, StoredResult};
pub use worker::{ProviderLimits, UnknownProviders, WorkSummary, Worker, WorkerConfig};

/// Re-exported so applications use the same sea-orm as the queue (connections,
/// transactions for the outbox).
pub use sea_orm;

use sea_orm::{ConnectionTrait, DatabaseConnection};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use tokio::sync::Notify;

/// How a stopped job failed (stored in `sync_queue.failure_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureMode {
    /// Recoverable failures reached the provider's `max_attempts`.
    Exceeded,
    /// The external system rejected the object.
    Permanent,
    /// The configuration is wrong.
    Config,
    /// The sync panicked or failed unexpectedly.
    Internal,
    /// The sync overran its time or its worker vanished (per the lease policy).
    Timeout,
}

impl FailureMode {
    /// All modes.
    pub const ALL: [FailureMode; 5] = [
        Self::Exceeded,
        Self::Permanent,
        Self::Config,
        Self::Internal,
        Self::Timeout,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exceeded => "exceeded",
            Self::Permanent => "permanent",
            Self::Config => "config",
            Self::Internal => "internal",
            Self::Timeout => "timeout",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|mode| mode.as_str() == text)
    }
}

impl fmt::Display for FailureMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The queue: enqueue jobs and operate on them. Cheap to clone; clones share the clock
/// and the wake-up signal of in-process workers.
#[derive(Clone)]
pub struct Queue {
    known_providers: Arc<BTreeSet<String>>,
    rules: Arc<BTreeMap<String, admission::ProviderRules>>,
    loadable: Option<admission::Loadable>,
    clock: SharedClock,
    wake: Arc<Notify>,
}

impl fmt::Debug for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("known_providers", &self.known_providers)
            .field("rules", &self.rules)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl Queue {
    /// A queue accepting jobs for `providers` (identifiers), on the system clock.
    pub fn new<I, S>(providers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            known_providers: Arc::new(providers.into_iter().map(Into::into).collect()),
            rules: Arc::default(),
            loadable: None,
            clock: Arc::new(SystemClock),
            wake: Arc::new(Notify::new()),
        }
    }

    /// A queue accepting jobs for `providers`, checked against what each one handles: an
    /// object type none of its mappings reads, or a snapshot without the schema's id (or
    /// with another object's id), is refused with nothing queued. [`Queue::new`] knows only
    /// the identifiers and checks the shape of a job alone.
    pub fn for_providers(providers: &[Arc<outsync_core::ConfiguredProvider>]) -> Self {
        let mut queue = Self::new(providers.iter().map(|p| p.identifier().to_owned()));
        queue.rules = Arc::new(
            providers
                .iter()
                .map(|p| {
                    (
                        p.identifier().to_owned(),
                        admission::ProviderRules::of(p.clone()),
                    )
                })
                .collect(),
        );
        queue
    }

    /// Refuses a job without a snapshot when `can_load(provider, object_type)` says that
    /// no object source could load its object (its worker would stop it as a `config`
    /// problem). Without this, a job may always leave its snapshot out.
    #[must_use]
    pub fn with_loadable_objects(
        mut self,
        can_load: impl Fn(&str, &str) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.loadable = Some(Arc::new(can_load));
        self
    }

    /// A queue accepting jobs for every provider in `registry`.
    pub fn from_registry(registry: &outsync_core::Registry) -> Self {
        Self::new(registry.providers().iter().map(|r| r.identifier))
    }

    /// Uses `clock` instead of the system clock (tests move time with a [`ManualClock`]).
    #[must_use]
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Takes time from `db`'s clock ([`DatabaseClock`], re-measured every minute), so
    /// workers on many hosts agree on leases whatever their own clocks say. The service
    /// does this on PostgreSQL; on SQLite the database's clock is this host's.
    pub async fn with_database_clock(self, db: &DatabaseConnection) -> Result<Self, QueueError> {
        let clock = DatabaseClock::measure(db).await?;
        clock.refresh_every(db.clone(), std::time::Duration::from_secs(60));
        Ok(self.with_clock(Arc::new(clock)))
    }

    /// The clock.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// `provider`'s external-object ledger in `db` (what its external objects are held by,
    /// its notes about them), as the worker passes it to the provider.
    pub fn ledger(&self, db: &DatabaseConnection, provider: &str) -> QueueLedger {
        QueueLedger::new(db.clone(), provider, self.clock.clone())
    }

    /// Now, by the queue's clock (ms).
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The providers jobs may be enqueued for.
    pub fn known_providers(&self) -> &BTreeSet<String> {
        &self.known_providers
    }

    /// Wakes an idle in-process worker (enqueue does this by itself; call it after
    /// committing an outbox transaction to skip the poll interval on SQLite).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub(crate) fn wake_signal(&self) -> &Arc<Notify> {
        &self.wake
    }

    /// Checks `item` as an enqueue would, writing nothing: an error says why it would be
    /// refused (e.g. to report every bad line of a file before enqueuing any).
    pub fn check(&self, item: &EnqueueItem) -> Result<(), QueueError> {
        self.admit(
            &item.provider,
            &item.object,
            &item.triggered_by,
            item.options.snapshot.as_ref(),
            None,
        )
    }

    /// Refuses an enqueue that could never sync (see [`Queue::for_providers`]).
    /// `snapshot_len` is the length of the snapshot's JSON text when the caller has it.
    fn admit(
        &self,
        provider: &str,
        object: &outsync_core::ObjectRef,
        triggered_by: &str,
        snapshot: Option<&serde_json::Value>,
        snapshot_len: Option<usize>,
    ) -> Result<(), QueueError> {
        self.check_provider(provider)?;
        admission::check(
            provider,
            object,
            triggered_by,
            snapshot,
            snapshot_len,
            self.rules.get(provider),
        )?;
        if snapshot.is_none()
            && let Some(can_load) = &self.loadable
            && !can_load(provider, &object.object_type)
        {
            return Err(admission::unloadable(provider, object));
        }
        Ok(())
    }

    fn check_provider(&self, provider: &str) -> Result<(), QueueError> {
        if self.known_providers.contains(provider) {
            Ok(())
        } else {
            Err(QueueError::UnknownProvider {
                provider: provider.to_owned(),
                known: self
                    .known_providers
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }

    /// Applies outsync's migrations to `db` (idempotent). Any number of processes may
    /// call it at once: they take turns (a PostgreSQL advisory lock; SQLite's write lock),
    /// and all pending migrations apply in one transaction, so a process killed half-way
    /// leaves the database as it was and the next start completes it.
    pub async fn migrate(db: &sea_orm::DatabaseConnection) -> Result<(), QueueError> {
        Self::migrate_holding(db, std::future::ready(())).await
    }

    /// [`Queue::migrate`], awaiting `hold` after the migrations ran and before they commit:
    /// tests use it to kill a process in the middle of a migration.
    #[doc(hidden)]
    pub async fn migrate_holding(
        db: &sea_orm::DatabaseConnection,
        hold: impl std::future::Future<Output = ()>,
    ) -> Result<(), QueueError> {
        use sea_orm_migration::MigratorTrait;
        let tx = sql::begin_write(db)
            .await
            .map_err(QueueError::db("starting the migration transaction"))?;
        if is_postgres(&tx) {
            tx.execute_unprepared("SELECT pg_advisory_xact_lock(hashtext('outsync_migrations'))")
                .await
                .map_err(QueueError::db("waiting for other processes' migrations"))?;
        }
        Migrator::up(&tx, None)
            .await
            .map_err(QueueError::db("applying migrations"))?;
        hold.await;
        tx.commit()
            .await
            .map_err(QueueError::db("committing migrations"))
    }

    /// Whether every migration has been applied to `db` (without changing anything): the
    /// read-only commands check this instead of migrating.
    pub async fn is_migrated(db: &sea_orm::DatabaseConnection) -> Result<bool, QueueError> {
        use sea_orm_migration::MigratorTrait;
        let has_table = sea_orm_migration::SchemaManager::new(db)
            .has_table("outsync_migrations")
            .await
            .map_err(QueueError::db("reading the migrations table"))?;
        if !has_table {
            return Ok(false);
        }
        let pending = Migrator::get_pending_migrations_read_only(db)
            .await
            .map_err(QueueError::db("reading the migrations table"))?;
        Ok(pending.is_empty())
    }
}

/// Whether `conn` is PostgreSQL (else SQLite).
pub(crate) fn is_postgres<C: ConnectionTrait>(conn: &C) -> bool {
    matches!(conn.get_database_backend(), sea_orm::DbBackend::Postgres)
}
