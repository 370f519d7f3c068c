//! `drain`: every due job now, batch after batch, then return (`outsync sync`, tests,
//! benchmarks); `drain_until` stops early on a signal as the service loop does.

use super::{Worker, execute};
use crate::store::{self, ClaimedJob, Completion};
use crate::{QueueError, WorkSummary};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

impl Worker {
    /// Runs every job that is due now (and those that become due while it runs), then
    /// returns. Used by `outsync sync`, tests and benchmarks.
    pub async fn drain(&self) -> Result<WorkSummary, QueueError> {
        self.drain_until(std::future::pending()).await
    }

    /// [`drain`](Self::drain) until `stop` completes (SIGTERM, Ctrl-C): then it claims no
    /// more, lets running jobs finish for `shutdown_grace`, and releases the rest back to
    /// the queue at once, with no attempt charged (counted as `released`).
    pub async fn drain_until(
        &self,
        stop: impl Future<Output = ()>,
    ) -> Result<WorkSummary, QueueError> {
        let mut stop = std::pin::pin!(stop);
        let mut summary = WorkSummary::default();
        self.housekeeping(&mut summary).await?;
        let config = &self.context.config;
        loop {
            // Claim a large batch and run it `concurrency` at a time: fewer, larger
            // transactions for the database.
            // A claim is never cut short (its jobs would stay leased, unknown to anyone):
            // `stop` is looked at before it.
            let stopped = tokio::select! {
                biased;
                () = &mut stop => true,
                () = std::future::ready(()) => false,
            };
            if stopped {
                return Ok(summary);
            }
            let jobs = self
                .claim(config.batch_size.max(config.concurrency).max(1))
                .await?;
            if jobs.is_empty() {
                return Ok(summary);
            }
            let mut running: HashMap<i64, ClaimedJob> =
                jobs.iter().map(|job| (job.id, job.for_release())).collect();
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
            let mut stopping = false;
            loop {
                tokio::select! {
                    done = tasks.join_next() => match done {
                        Some(done) => completions.push(done.map_err(QueueError::Task)?),
                        None => break,
                    },
                    () = &mut stop, if !stopping => {
                        stopping = true;
                        break;
                    }
                }
            }
            if stopping {
                // Running jobs get the grace period; the rest go back to the queue.
                let _ = tokio::time::timeout(config.shutdown_grace, async {
                    while let Some(done) = tasks.join_next().await {
                        if let Ok(completion) = done {
                            completions.push(completion);
                        }
                    }
                })
                .await;
                tasks.abort_all();
                while let Some(done) = tasks.join_next().await {
                    if let Ok(completion) = done {
                        completions.push(completion);
                    }
                }
            }
            for completion in &completions {
                running.remove(&completion.job().id);
            }
            completions.extend(running.into_values().map(|job| Completion::Setback {
                job,
                setback: store::Setback::Release,
                run: None,
            }));
            self.write(completions, &mut summary).await?;
            if stopping {
                return Ok(summary);
            }
        }
    }
}
