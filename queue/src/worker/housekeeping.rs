//! Housekeeping: taking back expired leases and watching the jobs of providers this worker
//! does not run.

use super::{UnknownProviders, WorkSummary, Worker, execute};
use crate::QueueError;
use crate::store::{self, ClaimedJob, Completion};
use std::collections::BTreeMap;
use std::time::Instant;

impl Worker {
    /// Takes back jobs whose lease expired (their worker crashed or hung) and looks at the
    /// jobs of providers this worker does not run (never removing them). Returns the number
    /// of expired jobs taken back.
    pub async fn reap(&self) -> Result<usize, QueueError> {
        let mut summary = WorkSummary::default();
        self.housekeeping(&mut summary).await?;
        Ok(summary.processed())
    }

    pub(super) async fn housekeeping(&self, summary: &mut WorkSummary) -> Result<(), QueueError> {
        let now = self.context.clock.now_ms();
        let expired = store::expired_leases(&self.db, now, 500).await?;
        let mut completions = Vec::with_capacity(expired.len());
        for job in expired {
            completions.push(self.expired(job));
        }
        self.write(completions, summary).await?;
        self.watch_unknown_providers().await
    }

    /// At most once a minute: folds the job tally of ended database processes, counts the
    /// jobs of providers this worker does not run (warning once per provider) and, under
    /// [`UnknownProviders::Stop`], stops them. Never deletes a job.
    async fn watch_unknown_providers(&self) -> Result<(), QueueError> {
        {
            let mut checked = self
                .context
                .unknown_checked_at
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if checked.is_some_and(|at| at.elapsed() < std::time::Duration::from_secs(60)) {
                return Ok(());
            }
            *checked = Some(Instant::now());
        }
        crate::tally::fold_ended_processes(&self.db).await?;
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
    /// look (at the first housekeeping round, then at most once a minute). They stay queued
    /// for a worker that runs them.
    pub fn unknown_provider_jobs(&self) -> BTreeMap<String, u64> {
        self.context
            .unknown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0
            .clone()
    }

    pub(super) fn expired(&self, job: ClaimedJob) -> Completion {
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
}
