//! The worker: claims due jobs in batches under a lease, runs them concurrently within
//! per-provider limits, records how each ended, takes back expired leases, and shuts down
//! gracefully.

mod config;
mod drain;
mod execute;
mod housekeeping;
mod limits;
mod listen;
mod run;
mod summary;

pub use config::{UnknownProviders, WorkerConfig};
pub use limits::ProviderLimits;
pub use summary::WorkSummary;

use crate::store::{self, ClaimedJob, Completion};
use crate::{Queue, QueueError, RetryPolicy, SharedClock};
use limits::ProviderGate;
use outsync_core::{ConfiguredProvider, ObjectSource};
use sea_orm::DatabaseConnection;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
/// Shared by a worker's tasks.
pub(crate) struct WorkerContext {
    pub(crate) db: DatabaseConnection,
    pub(crate) providers: HashMap<String, Arc<ConfiguredProvider>>,
    /// Providers rebuilt with stored mapping versions (set by `with_mapping_versions`).
    pub(crate) versions: std::sync::OnceLock<crate::mapping_versions::VersionedProviders>,
    /// Each provider's external-object ledger in the queue's database.
    pub(crate) ledgers: HashMap<String, Arc<dyn outsync_core::ExternalLedger>>,
    pub(crate) gates: HashMap<String, ProviderGate>,
    /// Where objects of jobs without a snapshot are loaded from (set by `with_source`).
    pub(crate) source: std::sync::RwLock<Option<Arc<dyn ObjectSource>>>,
    pub(crate) config: WorkerConfig,
    pub(crate) clock: SharedClock,
    /// Jobs of providers this worker does not run, by provider, as last counted; and the
    /// providers already warned about.
    pub(crate) unknown: std::sync::Mutex<(BTreeMap<String, u64>, BTreeSet<String>)>,
    /// When the jobs of providers this worker does not run were last looked at: the query
    /// reads the whole queue, so the service loop does it at most once a minute.
    pub(crate) unknown_checked_at: std::sync::Mutex<Option<std::time::Instant>>,
}

impl WorkerContext {
    /// When a lease taken at `now` runs out.
    pub(crate) fn lease_until(&self, now: i64) -> i64 {
        now + i64::try_from(self.config.lease.as_millis()).unwrap_or(i64::MAX / 2)
    }

    /// `provider_id`'s ledger (every provider the worker runs has one).
    pub(crate) fn ledger(&self, provider_id: &str) -> Arc<dyn outsync_core::ExternalLedger> {
        self.ledgers
            .get(provider_id)
            .cloned()
            .unwrap_or_else(|| Arc::new(outsync_core::MemoryLedger::default()))
    }

    /// The attempts a job of `provider_id` may make: the worker's setting for the provider,
    /// else the provider's own.
    pub(crate) fn max_attempts(&self, provider_id: &str, provider: &ConfiguredProvider) -> u32 {
        let attempts = self
            .config
            .limits
            .get(provider_id)
            .and_then(|limits| limits.max_attempts)
            .unwrap_or_else(|| provider.provider().max_attempts());
        attempts.max(1)
    }

    /// The retry policy of `provider_id`'s jobs.
    pub(crate) fn retry_policy(&self, provider_id: &str) -> &RetryPolicy {
        self.config
            .limits
            .get(provider_id)
            .and_then(|limits| limits.retry.as_ref())
            .unwrap_or(&self.config.retry)
    }
}

/// Runs jobs from the queue.
pub struct Worker {
    db: DatabaseConnection,
    queue: Queue,
    context: Arc<WorkerContext>,
    provider_ids: Vec<String>,
}

impl Worker {
    /// A worker for `providers` on `db`, with `queue`'s clock and wake-up signal.
    pub fn new(
        db: DatabaseConnection,
        queue: Queue,
        providers: Vec<Arc<ConfiguredProvider>>,
        config: WorkerConfig,
    ) -> Self {
        let providers: HashMap<String, Arc<ConfiguredProvider>> = providers
            .into_iter()
            .map(|provider| (provider.identifier().to_owned(), provider))
            .collect();
        let gates = providers
            .keys()
            .map(|id| {
                let limits = config.limits.get(id).copied().unwrap_or_default();
                (id.clone(), ProviderGate::new(limits, config.concurrency))
            })
            .collect();
        let mut provider_ids: Vec<String> = providers.keys().cloned().collect();
        provider_ids.sort();
        let ledgers = provider_ids
            .iter()
            .map(|id| {
                let ledger: Arc<dyn outsync_core::ExternalLedger> = Arc::new(queue.ledger(&db, id));
                (id.clone(), ledger)
            })
            .collect();
        let context = Arc::new(WorkerContext {
            db: db.clone(),
            providers,
            versions: std::sync::OnceLock::new(),
            ledgers,
            gates,
            source: std::sync::RwLock::new(None),
            config,
            clock: queue.clock().clone(),
            unknown: std::sync::Mutex::default(),
            unknown_checked_at: std::sync::Mutex::default(),
        });
        Self {
            db,
            queue,
            context,
            provider_ids,
        }
    }

    /// Runs each provider with its latest mapping version stored in the queue's database
    /// (rebuilt by `reloader`), looking for a new one at most once a second; each run
    /// records the version it used. Without it, the configured mappings are used.
    #[must_use]
    pub fn with_mapping_versions(self, reloader: Arc<dyn crate::MappingReloader>) -> Self {
        let _ = self
            .context
            .versions
            .set(crate::mapping_versions::VersionedProviders::new(reloader));
        self
    }

    /// Loads objects of jobs without a snapshot from `source`.
    #[must_use]
    pub fn with_source(self, source: Arc<dyn ObjectSource>) -> Self {
        *self
            .context
            .source
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(source);
        self
    }

    /// The worker's configuration.
    pub fn config(&self) -> &WorkerConfig {
        &self.context.config
    }

    async fn claim(&self, limit: usize) -> Result<Vec<ClaimedJob>, QueueError> {
        claim_due(&self.db, &self.provider_ids, &self.context, limit).await
    }

    /// Claims up to `limit` due jobs as a run would and hands them straight back, neither
    /// run nor charged an attempt: a probe of the claim path (the queue benchmark times it
    /// at 10,000 to 1,000,000 queued jobs). Returns how many jobs were claimed and how long
    /// the claim took (the release aside).
    pub async fn claim_and_release(
        &self,
        limit: usize,
    ) -> Result<(usize, std::time::Duration), QueueError> {
        let started = std::time::Instant::now();
        let jobs = self.claim(limit).await?;
        let took = started.elapsed();
        let claimed = jobs.len();
        let completions = jobs
            .into_iter()
            .map(|job| Completion::Setback {
                job,
                setback: store::Setback::Release,
                run: None,
            })
            .collect();
        store::record(&self.db, completions, self.context.clock.now_ms()).await?;
        Ok((claimed, took))
    }

    /// Claims and runs job `id` now, whatever its schedule (a stopped job is retried).
    pub async fn run_job_now(&self, id: i64) -> Result<WorkSummary, QueueError> {
        // Make sure the job exists (a clear error otherwise), then claim it directly: making
        // it due for everyone would let another worker take it first.
        self.queue.job(&self.db, id).await?;
        let now = self.context.clock.now_ms();
        let claimed = store::claim_job(
            &self.db,
            id,
            &self.context.config.id,
            self.context.lease_until(now),
        )
        .await?;
        let mut summary = WorkSummary::default();
        if let Some(job) = claimed {
            let completion = execute::execute(self.context.clone(), job).await;
            self.write(vec![completion], &mut summary).await?;
        }
        Ok(summary)
    }

    async fn write(
        &self,
        completions: Vec<Completion>,
        summary: &mut WorkSummary,
    ) -> Result<(), QueueError> {
        for completion in &completions {
            summary.add(completion);
        }
        let total = completions.len();
        let counted = store::record(&self.db, completions, self.context.clock.now_ms()).await?;
        summary.lease_lost += total - counted;
        Ok(())
    }
}

/// Claims up to `limit` due jobs of `providers` for `context`'s worker, under its lease.
pub(super) async fn claim_due(
    db: &DatabaseConnection,
    providers: &[String],
    context: &WorkerContext,
    limit: usize,
) -> Result<Vec<ClaimedJob>, QueueError> {
    let now = context.clock.now_ms();
    store::claim(
        db,
        providers,
        &context.config.id,
        limit,
        now,
        context.lease_until(now),
    )
    .await
}
