//! The service loop: [`Worker::run`] claims as slots free up, wakes on enqueue and
//! `NOTIFY`, reaps, and shuts down gracefully; a writer task records completions in batches.

use super::{WorkSummary, Worker, execute, listen};
use crate::store::{self, ClaimedJob, Completion, Setback};
use crate::{QueueError, SharedClock};
use sea_orm::DatabaseConnection;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex as AsyncMutex, Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};

/// The turn an SQLite queue's writers take (see [`Worker::run`]).
type WriteTurn = Arc<AsyncMutex<()>>;

/// How long the writer waits for more finished jobs to write them in one transaction.
const GATHER: Duration = Duration::from_millis(2);

/// Finished jobs waiting for the writer at most.
const WRITE_BACKLOG: usize = 1024;

impl Worker {
    /// Claims up to `limit` due jobs in a task of its own.
    fn claim_in_background(
        &self,
        limit: usize,
        write_turn: Option<WriteTurn>,
    ) -> JoinHandle<Result<Vec<ClaimedJob>, QueueError>> {
        let (db, providers, context) = (
            self.db.clone(),
            self.provider_ids.clone(),
            self.context.clone(),
        );
        tokio::spawn(async move {
            let _turn = match &write_turn {
                Some(turn) => Some(turn.lock().await),
                None => None,
            };
            super::claim_due(&db, &providers, &context, limit).await
        })
    }

    pub(super) fn start(
        &self,
        job: ClaimedJob,
        permit: tokio::sync::OwnedSemaphorePermit,
        in_flight: &mut JoinSet<()>,
        sender: &mpsc::Sender<Completion>,
        running: &Arc<std::sync::Mutex<HashMap<i64, ClaimedJob>>>,
    ) {
        let context = self.context.clone();
        let sender = sender.clone();
        let running = running.clone();
        in_flight.spawn(async move {
            let id = job.id;
            let completion = execute::execute(context, job).await;
            // Handed to the writer, then forgotten: a job aborted while waiting for the
            // writer stays among the running ones, which shutdown releases.
            let _ = sender.send(completion).await;
            running.lock().expect("running jobs").remove(&id);
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
        // Bounded: when the writer falls behind, finished jobs wait to be written (and
        // their slots stay taken) instead of piling up in memory.
        let (sender, receiver) = mpsc::channel::<Completion>(WRITE_BACKLOG);
        // SQLite has one writer: the claims and the result writer of this loop take turns
        // here, instead of meeting in SQLite's busy handler, which sleeps a millisecond
        // and more before it tries again.
        let write_turn = (!crate::is_postgres(&self.db)).then(|| Arc::new(AsyncMutex::new(())));
        let writer = tokio::spawn(write_completions(
            self.db.clone(),
            self.context.clock.clone(),
            receiver,
            write_turn.clone(),
            config.batch_size.max(config.concurrency).clamp(1, 512),
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
        let concurrency = config.concurrency.max(1);
        let batch = config.batch_size.max(concurrency);
        // Claimed jobs waiting for a slot. A claim of a whole batch runs in the background
        // whenever fewer than a slot-full wait, so that the next batch is in hand before
        // this one runs out (claim, sync and write overlap, as `drain`'s batches do not).
        let mut buffer: VecDeque<(Instant, ClaimedJob)> = VecDeque::new();
        // A job that waited so long in hand that its lease could run out before it ends is
        // handed back instead of started (slow targets, a batch far larger than the slots).
        let stale_after = config.lease.saturating_sub(config.job_timeout);
        let mut claiming: Option<JoinHandle<Result<Vec<ClaimedJob>, QueueError>>> = None;
        // The last claim found fewer due jobs than it asked for: wait for a wake-up or the
        // poll interval before asking again.
        let mut exhausted_until: Option<Instant> = None;
        let mut failures: u32 = 0;
        loop {
            // Database trouble (a restart, a lock held too long) must not stop the worker:
            // it logs, waits a little longer each time, and tries again.
            if failures > 0 && claiming.is_none() {
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
            while !buffer.is_empty() {
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    break;
                };
                let (claimed_at, job) = buffer.pop_front().expect("buffer not empty");
                if !stale_after.is_zero() && claimed_at.elapsed() >= stale_after {
                    running.lock().expect("running jobs").remove(&job.id);
                    let release = Completion::Setback {
                        job,
                        setback: Setback::Release,
                        run: None,
                    };
                    let _ = sender.send(release).await;
                    continue;
                }
                self.start(job, permit, &mut in_flight, &sender, &running);
            }
            let exhausted = exhausted_until.is_some_and(|until| Instant::now() < until);
            if claiming.is_none() && !exhausted && buffer.len() < concurrency {
                claiming = Some(self.claim_in_background(batch, write_turn.clone()));
            }
            let poll_at = exhausted_until.unwrap_or_else(|| Instant::now() + config.poll_interval);
            tokio::select! {
                () = &mut shutdown => break,
                claimed = async { claiming.as_mut().expect("a claim runs").await }, if claiming.is_some() => {
                    claiming = None;
                    match claimed.map_err(QueueError::Task).and_then(|claimed| claimed) {
                        Ok(jobs) => {
                            failures = 0;
                            exhausted_until = (jobs.len() < batch)
                                .then(|| Instant::now() + config.poll_interval);
                            let mut held = running.lock().expect("running jobs");
                            for job in &jobs {
                                held.insert(job.id, job.for_release());
                            }
                            let now = Instant::now();
                            buffer.extend(jobs.into_iter().map(|job| (now, job)));
                        }
                        Err(error) => {
                            tracing::warn!(%error, "claiming jobs failed; will retry");
                            failures += 1;
                        }
                    }
                }
                () = wake.notified() => exhausted_until = None,
                () = tokio::time::sleep_until(poll_at.into()), if claiming.is_none() => {
                    exhausted_until = None;
                }
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            }
        }
        // A claim under way when shutdown came: its jobs are released with the others.
        if let Some(claim) = claiming
            && let Ok(Ok(jobs)) = claim.await
        {
            let mut held = running.lock().expect("running jobs");
            for job in jobs {
                held.insert(job.id, job);
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
            let _ = sender
                .send(Completion::Setback {
                    job,
                    setback: Setback::Release,
                    run: None,
                })
                .await;
        }
        drop(sender);
        if let Some(listener) = listener {
            listener.abort();
        }
        let mut summary = writer.await.map_err(QueueError::Task)??;
        summary.merge(&housekeeping_summary);
        Ok(summary)
    }
}

/// Writes completions as they arrive, batching whatever is waiting into one transaction.
async fn write_completions(
    db: DatabaseConnection,
    clock: SharedClock,
    mut receiver: mpsc::Receiver<Completion>,
    write_turn: Option<WriteTurn>,
    gather_up_to: usize,
) -> Result<WorkSummary, QueueError> {
    let mut summary = WorkSummary::default();
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        // Whatever is waiting, and what finishes within GATHER after it, up to a batch:
        // fewer, larger transactions (a commit is an fsync under synchronous=FULL).
        let gathered_by = tokio::time::Instant::now() + GATHER;
        while batch.len() < gather_up_to {
            match receiver.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => match tokio::time::timeout_at(gathered_by, receiver.recv()).await {
                    Ok(Some(next)) => batch.push(next),
                    Ok(None) | Err(_) => break,
                },
            }
        }
        for completion in &batch {
            summary.add(completion);
        }
        let total = batch.len();
        let mut attempt = 0;
        loop {
            let turn = match &write_turn {
                Some(turn) => Some(turn.lock().await),
                None => None,
            };
            let recorded = store::record(&db, batch.clone(), clock.now_ms()).await;
            drop(turn);
            match recorded {
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
