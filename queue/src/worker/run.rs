//! The service loop: [`Worker::run`] claims as slots free up, wakes on enqueue and
//! `NOTIFY`, reaps, and shuts down gracefully; a writer task records completions in batches.

use super::{WorkSummary, Worker, execute, listen};
use crate::store::{self, ClaimedJob, Completion, Setback};
use crate::{QueueError, SharedClock};
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

impl Worker {
    pub(super) fn start(
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
        let mut summary = writer.await.map_err(QueueError::Task)??;
        summary.merge(&housekeeping_summary);
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
