//! The worker: claims due jobs in batches under a lease, runs them concurrently within
//! per-provider limits, records how each ended, takes back expired leases, and shuts down
//! gracefully.

mod execute;
mod limits;
mod listen;

pub use limits::ProviderLimits;

use crate::store::{self, ClaimedJob, Completion, Setback};
use crate::{Queue, QueueError, RetryPolicy, SharedClock};
use limits::ProviderGate;
use outsync_core::{ObjectSource, OutboundSyncProvider};
use sea_orm::DatabaseConnection;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The worker's name in leases and run records (default: host name, process id and a
    /// random suffix).
    pub id: String,
    /// Jobs run at once.
    pub concurrency: usize,
    /// Jobs claimed per statement at most.
    pub batch_size: usize,
    /// How long a claim holds a job; a worker that vanishes loses its jobs after this.
    pub lease: Duration,
    /// A sync running longer is stopped with failure mode `timeout` (keep it below `lease`).
    pub job_timeout: Duration,
    /// How often an idle worker looks for due jobs when no wake-up arrives.
    pub poll_interval: Duration,
    /// How often expired leases are taken back.
    pub reap_interval: Duration,
    /// Backoff and lease-expiry policy (a provider's [`ProviderLimits::retry`] overrides it).
    pub retry: RetryPolicy,
    /// Limits per provider identifier.
    pub limits: HashMap<String, ProviderLimits>,
    /// What happens to jobs of providers this worker does not run. They are never
    /// deleted: by default they stay queued for a worker that runs them.
    pub unknown_providers: UnknownProviders,
    /// How long shutdown waits for running jobs before releasing them.
    pub shutdown_grace: Duration,
    /// A PostgreSQL URL to `LISTEN` on for wake-ups from other processes.
    pub postgres_listen_url: Option<String>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            id: default_worker_id(),
            concurrency: 16,
            batch_size: 64,
            lease: Duration::from_secs(300),
            job_timeout: Duration::from_secs(120),
            poll_interval: Duration::from_secs(1),
            reap_interval: Duration::from_secs(15),
            retry: RetryPolicy::default(),
            limits: HashMap::new(),
            unknown_providers: UnknownProviders::Keep,
            shutdown_grace: Duration::from_secs(30),
            postgres_listen_url: None,
        }
    }
}

/// The policy for jobs of providers a worker does not run (another worker may).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UnknownProviders {
    /// Leave them queued for a worker that runs them; warn once per provider and count
    /// them ([`Worker::unknown_provider_jobs`]). The default.
    #[default]
    Keep,
    /// Stop them with failure mode `config`, so that they show among the sync problems
    /// until an operator retries or purges them. Nothing is deleted.
    Stop,
}

impl std::str::FromStr for UnknownProviders {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "keep" => Ok(Self::Keep),
            "stop" => Ok(Self::Stop),
            other => Err(format!("\"{other}\" is not a policy: use keep or stop")),
        }
    }
}

fn default_worker_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "worker".to_owned());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!("{host}-{}-{nanos:08x}", std::process::id())
}

/// What a drain or a run processed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkSummary {
    /// Jobs processed, by run outcome (`success`, `retry`, `config`, …).
    pub outcomes: BTreeMap<String, usize>,
    /// Jobs whose end could not be recorded because their lease was lost.
    pub lease_lost: usize,
}

impl WorkSummary {
    /// Jobs processed.
    pub fn processed(&self) -> usize {
        self.outcomes.values().sum()
    }

    /// Jobs with outcome `outcome`.
    pub fn count(&self, outcome: &str) -> usize {
        self.outcomes.get(outcome).copied().unwrap_or(0)
    }

    fn add(&mut self, completion: &Completion) {
        let outcome = match completion {
            Completion::Done { run, .. } => run.outcome.as_str(),
            Completion::Setback { run: Some(run), .. } => run.outcome.as_str(),
            Completion::Setback { run: None, .. } => "released",
        };
        *self.outcomes.entry(outcome.to_owned()).or_insert(0) += 1;
    }
}

/// Shared by a worker's tasks.
pub(crate) struct WorkerContext {
    pub(crate) db: DatabaseConnection,
    pub(crate) providers: HashMap<String, Arc<dyn OutboundSyncProvider>>,
    pub(crate) gates: HashMap<String, ProviderGate>,
    pub(crate) source: Option<Arc<dyn ObjectSource>>,
    pub(crate) config: WorkerConfig,
    pub(crate) clock: SharedClock,
    /// Jobs of providers this worker does not run, by provider, as last counted; and the
    /// providers already warned about.
    pub(crate) unknown: std::sync::Mutex<(BTreeMap<String, u64>, BTreeSet<String>)>,
}

impl WorkerContext {
    /// The attempts a job of `provider_id` may make: the worker's setting for the provider,
    /// else the provider's own.
    pub(crate) fn max_attempts(
        &self,
        provider_id: &str,
        provider: &dyn OutboundSyncProvider,
    ) -> u32 {
        let attempts = self
            .config
            .limits
            .get(provider_id)
            .and_then(|limits| limits.max_attempts)
            .unwrap_or_else(|| provider.max_attempts());
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
        providers: Vec<Arc<dyn OutboundSyncProvider>>,
        config: WorkerConfig,
    ) -> Self {
        let providers: HashMap<String, Arc<dyn OutboundSyncProvider>> = providers
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
        let context = Arc::new(WorkerContext {
            db: db.clone(),
            providers,
            gates,
            source: None,
            config,
            clock: queue.clock().clone(),
            unknown: std::sync::Mutex::default(),
        });
        Self {
            db,
            queue,
            context,
            provider_ids,
        }
    }

    /// Loads objects of jobs without a snapshot from `source`.
    #[must_use]
    pub fn with_source(mut self, source: Arc<dyn ObjectSource>) -> Self {
        Arc::get_mut(&mut self.context)
            .expect("configure the worker before running it")
            .source = Some(source);
        self
    }

    /// The worker's configuration.
    pub fn config(&self) -> &WorkerConfig {
        &self.context.config
    }

    fn lease_until(&self, now: i64) -> i64 {
        now + i64::try_from(self.context.config.lease.as_millis()).unwrap_or(i64::MAX / 2)
    }

    async fn claim(&self, limit: usize) -> Result<Vec<ClaimedJob>, QueueError> {
        let now = self.context.clock.now_ms();
        store::claim(
            &self.db,
            &self.provider_ids,
            &self.context.config.id,
            limit,
            now,
            self.lease_until(now),
        )
        .await
    }

    /// Runs every job that is due now (and those that become due while it runs), then
    /// returns. Used by `outsync sync`, tests and benchmarks.
    pub async fn drain(&self) -> Result<WorkSummary, QueueError> {
        let mut summary = WorkSummary::default();
        self.housekeeping(&mut summary).await?;
        loop {
            // Claim a large batch and run it `concurrency` at a time: fewer, larger
            // transactions for the database.
            let config = &self.context.config;
            let jobs = self
                .claim(config.batch_size.max(config.concurrency).max(1))
                .await?;
            if jobs.is_empty() {
                return Ok(summary);
            }
            let mut tasks = JoinSet::new();
            let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
            for job in jobs {
                let context = self.context.clone();
                let slots = slots.clone();
                tasks.spawn(async move {
                    let _slot = slots.acquire_owned().await.expect("semaphore open");
                    execute::execute(context, job).await
                });
            }
            let mut completions = Vec::with_capacity(tasks.len());
            while let Some(done) = tasks.join_next().await {
                completions.push(done.map_err(|error| QueueError::Corrupt {
                    job: 0,
                    problem: format!("job runner failed: {error}"),
                })?);
            }
            self.write(completions, &mut summary).await?;
        }
    }

    /// Claims and runs job `id` now, whatever its schedule (a stopped job is retried).
    pub async fn run_job_now(&self, id: i64) -> Result<WorkSummary, QueueError> {
        // Make sure the job exists (a clear error otherwise), then claim it directly: making
        // it due for everyone would let another worker take it first.
        self.queue.job(&self.db, id).await?;
        let now = self.context.clock.now_ms();
        let claimed =
            store::claim_job(&self.db, id, &self.context.config.id, self.lease_until(now)).await?;
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

    /// Takes back jobs whose lease expired (their worker crashed or hung) and, if
    /// configured, drops jobs of unregistered providers. Returns the number of jobs touched.
    pub async fn reap(&self) -> Result<usize, QueueError> {
        let mut summary = WorkSummary::default();
        self.housekeeping(&mut summary).await?;
        Ok(summary.processed())
    }

    async fn housekeeping(&self, summary: &mut WorkSummary) -> Result<(), QueueError> {
        let now = self.context.clock.now_ms();
        let expired = store::expired_leases(&self.db, now, 500).await?;
        let mut completions = Vec::with_capacity(expired.len());
        for job in expired {
            completions.push(self.expired(job));
        }
        self.write(completions, summary).await?;
        self.watch_unknown_providers().await
    }

    /// Counts the jobs of providers this worker does not run (warning once per provider)
    /// and, under [`UnknownProviders::Stop`], stops them. Never deletes a job.
    async fn watch_unknown_providers(&self) -> Result<(), QueueError> {
        let config = &self.context.config;
        if config.unknown_providers == UnknownProviders::Stop {
            let stopped =
                crate::unknown::stop_unknown(&self.db, &self.provider_ids, &config.id).await?;
            if stopped > 0 {
                tracing::warn!(
                    jobs = stopped,
                    "stopped jobs of providers this worker does not run (failure mode config)"
                );
            }
        }
        let counts = crate::unknown::count_unknown(&self.db, &self.provider_ids).await?;
        let mut unknown = self
            .context
            .unknown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (provider, jobs) in &counts {
            if unknown.1.insert(provider.clone()) {
                tracing::warn!(
                    provider = %provider,
                    jobs,
                    "the queue holds jobs of provider \"{provider}\", which this worker does not run; \
                     they stay queued for a worker that does (remove them with \
                     `outsync jobs purge --provider {provider} --yes`)"
                );
            }
        }
        unknown.0 = counts;
        Ok(())
    }

    /// Jobs of providers this worker does not run, by provider, as counted at the last
    /// housekeeping round (drain, reap, or every `reap_interval` while running). They stay
    /// queued for a worker that runs them.
    pub fn unknown_provider_jobs(&self) -> BTreeMap<String, u64> {
        self.context
            .unknown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0
            .clone()
    }

    fn expired(&self, job: ClaimedJob) -> Completion {
        let context = &self.context;
        let error = outsync_core::SyncError::recoverable(
            "the worker holding the job stopped responding (lease expired)",
        );
        let provider = context.providers.get(&job.provider).cloned();
        let mut completion = execute::conclude(
            context,
            provider.as_deref(),
            job,
            crate::decide::Failure::LeaseExpired,
            &error,
            Instant::now(),
        );
        if let Completion::Setback { run: Some(run), .. } = &mut completion {
            run.worker = Some(format!("{} (reaper)", context.config.id));
        }
        completion
    }

    fn start(
        &self,
        job: ClaimedJob,
        permit: tokio::sync::OwnedSemaphorePermit,
        in_flight: &mut JoinSet<()>,
        sender: &mpsc::UnboundedSender<Completion>,
        running: &Arc<std::sync::Mutex<HashMap<i64, ClaimedJob>>>,
    ) {
        let context = self.context.clone();
        let sender = sender.clone();
        let running = running.clone();
        in_flight.spawn(async move {
            let id = job.id;
            let completion = execute::execute(context, job).await;
            running.lock().expect("running jobs").remove(&id);
            let _ = sender.send(completion);
            drop(permit);
        });
    }

    /// Runs until `shutdown` completes: claims due jobs as slots free up, wakes at once on
    /// enqueue (and on PostgreSQL `NOTIFY`), polls as a fallback, reaps expired leases.
    /// On shutdown it stops claiming, lets running jobs finish for `shutdown_grace`, then
    /// releases the rest back to the queue. Database errors are logged and retried, never
    /// fatal; the error result only reports a failure of the result writer.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<WorkSummary, QueueError> {
        let config = &self.context.config;
        let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
        let (sender, receiver) = mpsc::unbounded_channel::<Completion>();
        let writer = tokio::spawn(write_completions(
            self.db.clone(),
            self.context.clock.clone(),
            receiver,
        ));
        let listener = config
            .postgres_listen_url
            .clone()
            .map(|url| tokio::spawn(listen::listen(url, self.queue.wake_signal().clone())));
        let wake = self.queue.wake_signal().clone();
        let mut in_flight: JoinSet<()> = JoinSet::new();
        let running: Arc<std::sync::Mutex<HashMap<i64, ClaimedJob>>> = Arc::default();
        let mut housekeeping_summary = WorkSummary::default();
        let mut next_reap = Instant::now();
        tokio::pin!(shutdown);
        let refill_at = (config.concurrency.min(config.batch_size).max(1) / 8).max(1);
        let mut buffer: std::collections::VecDeque<ClaimedJob> = std::collections::VecDeque::new();
        let mut failures: u32 = 0;
        loop {
            // Database trouble (a restart, a lock held too long) must not stop the worker:
            // it logs, waits a little longer each time, and tries again.
            if failures > 0 {
                let wait =
                    Duration::from_millis(100u64 << failures.min(6)).min(Duration::from_secs(5));
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(wait) => {}
                }
            }
            if Instant::now() >= next_reap {
                if let Err(error) = self.housekeeping(&mut housekeeping_summary).await {
                    tracing::warn!(%error, "housekeeping failed; will retry");
                    failures += 1;
                    continue;
                }
                next_reap = Instant::now() + config.reap_interval;
            }
            while in_flight.try_join_next().is_some() {}
            // Start claimed jobs on free slots.
            while !buffer.is_empty() {
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    break;
                };
                let job = buffer.pop_front().expect("buffer not empty");
                self.start(job, permit, &mut in_flight, &sender, &running);
            }
            // Keep a few claimed jobs in hand so a freed slot starts the next job without
            // waiting for the database, and claim in batches rather than one job per freed
            // slot.
            let free = slots.available_permits();
            let room = (free + refill_at).saturating_sub(buffer.len());
            let wanted = if room >= refill_at {
                room.min(config.batch_size.max(1))
            } else {
                0
            };
            let claimed = if wanted > 0 {
                match self.claim(wanted).await {
                    Ok(jobs) => jobs,
                    Err(error) => {
                        tracing::warn!(%error, "claiming jobs failed; will retry");
                        failures += 1;
                        continue;
                    }
                }
            } else {
                Vec::new()
            };
            failures = 0;
            let got_full_batch = wanted > 0 && claimed.len() == wanted;
            for job in claimed {
                running
                    .lock()
                    .expect("running jobs")
                    .insert(job.id, job.clone());
                match slots.clone().try_acquire_owned() {
                    Ok(permit) => self.start(job, permit, &mut in_flight, &sender, &running),
                    Err(_) => buffer.push_back(job),
                }
            }
            if got_full_batch && slots.available_permits() > 0 {
                continue;
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = wake.notified() => {}
                () = tokio::time::sleep(config.poll_interval) => {}
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            }
        }
        // Shutdown: give running jobs time to finish, then release the rest.
        let _ = tokio::time::timeout(config.shutdown_grace, async {
            while in_flight.join_next().await.is_some() {}
        })
        .await;
        in_flight.abort_all();
        while in_flight.join_next().await.is_some() {}
        let leftovers: Vec<ClaimedJob> = running
            .lock()
            .expect("running jobs")
            .drain()
            .map(|(_, job)| job)
            .collect();
        for job in leftovers {
            let _ = sender.send(Completion::Setback {
                job,
                setback: Setback::Release,
                run: None,
            });
        }
        drop(sender);
        if let Some(listener) = listener {
            listener.abort();
        }
        let mut summary = writer.await.map_err(|error| QueueError::Corrupt {
            job: 0,
            problem: format!("result writer failed: {error}"),
        })??;
        for (outcome, count) in housekeeping_summary.outcomes {
            *summary.outcomes.entry(outcome).or_insert(0) += count;
        }
        Ok(summary)
    }
}

/// Writes completions as they arrive, batching whatever is waiting into one transaction.
async fn write_completions(
    db: DatabaseConnection,
    clock: SharedClock,
    mut receiver: mpsc::UnboundedReceiver<Completion>,
) -> Result<WorkSummary, QueueError> {
    let mut summary = WorkSummary::default();
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        while batch.len() < 512 {
            match receiver.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        for completion in &batch {
            summary.add(completion);
        }
        let total = batch.len();
        let mut attempt = 0;
        loop {
            match store::record(&db, batch.clone(), clock.now_ms()).await {
                Ok(counted) => {
                    summary.lease_lost += total - counted;
                    break;
                }
                Err(error) => {
                    // The database is unreachable: keep the results and try again; the
                    // leases protect the jobs meanwhile.
                    attempt += 1;
                    tracing::warn!(%error, attempt, "cannot record finished jobs; retrying");
                    tokio::time::sleep(Duration::from_millis((200 * attempt).min(5000))).await;
                    if attempt > 600 {
                        return Err(error);
                    }
                }
            }
        }
    }
    Ok(summary)
}
