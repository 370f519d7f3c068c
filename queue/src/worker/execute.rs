//! Running one claimed job: load the object, sync it under a time limit, and turn what
//! happened into a [`Completion`].

use super::WorkerContext;
use crate::decide::{Attempt, Decision, Failure, decide};
use crate::store;
use crate::store::{ClaimedJob, Completion, RunRecord, Setback};
use crate::{FailureMode, RetryPolicy, RunOutcome};
use outsync_core::secret::redact;
use outsync_core::{
    ConfiguredProvider, ObjectSyncReport, SyncError, SyncOptions, sync_object_with,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the job's task produced.
enum TaskResult {
    Synced(ObjectSyncReport),
    Missing,
}

/// Runs `job` and decides what happens to it.
pub(crate) async fn execute(context: Arc<WorkerContext>, mut job: ClaimedJob) -> Completion {
    let started = Instant::now();
    let Some(configured) = context.providers.get(&job.provider).cloned() else {
        // Claims only ask for known providers; this is a defensive fallback.
        let error = SyncError::config("provider is not registered in this worker");
        return conclude(&context, None, job, Failure::Sync(&error), &error, started);
    };
    let provider = match context.versions.get() {
        Some(versions) => {
            let (provider, version) = versions
                .provider(&context.db, &job.provider, &configured)
                .await;
            job.mapping_version = version;
            provider
        }
        None => configured,
    };
    if let Some(gate) = context.gates.get(&job.provider)
        && let Some(rate) = &gate.rate
    {
        rate.until_ready().await;
    }
    let _slot = match context.gates.get(&job.provider) {
        Some(gate) => gate.slots.clone().acquire_owned().await.ok(),
        None => None,
    };
    let task = tokio::spawn(run_task(context.clone(), provider.clone(), job.clone()));
    let abort = task.abort_handle();
    let outcome = tokio::time::timeout(context.config.job_timeout, task).await;
    match outcome {
        Err(_elapsed) => {
            abort.abort();
            let error = SyncError::recoverable(format!(
                "the sync did not finish within {} s and was stopped",
                context.config.job_timeout.as_secs_f64()
            ));
            conclude(
                &context,
                Some(provider.as_ref()),
                job,
                Failure::TimedOut,
                &error,
                started,
            )
        }
        Ok(Err(join_error)) => {
            let message = if join_error.is_panic() {
                format!("the sync panicked: {}", panic_text(join_error.into_panic()))
            } else {
                "the sync task was cancelled".to_owned()
            };
            let error = SyncError::permanent(message);
            conclude(
                &context,
                Some(provider.as_ref()),
                job,
                Failure::Crashed,
                &error,
                started,
            )
        }
        Ok(Ok(Err(error))) => conclude(
            &context,
            Some(provider.as_ref()),
            job,
            Failure::Sync(&error),
            &error,
            started,
        ),
        Ok(Ok(Ok(TaskResult::Missing))) => {
            let run = run_record(
                &context,
                &job,
                RunOutcome::ObjectMissing,
                BTreeMap::new(),
                None,
                started,
            );
            Completion::Done {
                job,
                results: None,
                run,
            }
        }
        Ok(Ok(Ok(TaskResult::Synced(report)))) => {
            let outcome = if report.skipped {
                RunOutcome::Skipped
            } else {
                RunOutcome::Success
            };
            let mut actions = BTreeMap::new();
            for (_, results) in report.mapped_objects.iter() {
                for result in results {
                    *actions
                        .entry(result.outcome.action.as_str().to_owned())
                        .or_insert(0) += 1;
                }
            }
            let mut run = run_record(&context, &job, outcome, actions, None, started);
            run.error = report
                .skip_reason
                .map(|reason| redact(&reason).into_owned());
            Completion::Done {
                job,
                results: Some(report.mapped_objects),
                run,
            }
        }
    }
}

async fn run_task(
    context: Arc<WorkerContext>,
    provider: Arc<ConfiguredProvider>,
    job: ClaimedJob,
) -> Result<TaskResult, SyncError> {
    let source = context
        .source
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let snapshot = job.snapshot.as_ref().filter(|_| {
        !source.as_ref().is_some_and(|source| {
            source.preferred_over_snapshot(&job.provider, &job.object.object_type)
        })
    });
    let data: Value = match (snapshot, source) {
        (Some(text), _) => serde_json::from_str(text).map_err(|error| {
            SyncError::permanent(format!("the job's snapshot is not valid JSON: {error}"))
        })?,
        (None, None) => {
            return Err(SyncError::config(
                "the job has no snapshot and the worker has no ObjectSource to load the object",
            ));
        }
        (None, Some(source)) => match source.load_for(&job.provider, &job.object).await? {
            Some(data) => data,
            None => {
                let ledger = context.ledger(&job.provider);
                provider
                    .provider()
                    .object_missing(&job.object, ledger.as_ref())
                    .await?;
                return Ok(TaskResult::Missing);
            }
        },
    };
    let mut options = SyncOptions {
        force: job.force,
        ledger: Some(context.ledger(&job.provider)),
        ..SyncOptions::default()
    };
    if provider.wants_previous_results() {
        options.previous = store::previous_results(&context.db, &job.provider, &job.object)
            .await
            .map_err(|error| {
                SyncError::recoverable(format!("cannot read previous results: {error}"))
            })?;
    }
    sync_object_with(provider.as_ref(), &job.object, &data, &options)
        .await
        .map(TaskResult::Synced)
}

/// Turns a failed attempt into a set-back, as [`decide`] rules. `provider` is `None` when
/// the worker does not have the job's provider.
pub(crate) fn conclude(
    context: &WorkerContext,
    provider: Option<&ConfiguredProvider>,
    job: ClaimedJob,
    failure: Failure<'_>,
    error: &SyncError,
    started: Instant,
) -> Completion {
    let now = context.clock.now_ms();
    let policy = context.retry_policy(&job.provider);
    let attempt = Attempt {
        failed_before: u32::try_from(job.failed_attempts).unwrap_or_default(),
        max_attempts: provider.map_or(5, |p| context.max_attempts(&job.provider, p)),
        snoozed_for: job
            .snoozed_since
            .map(|since| Duration::from_millis(u64::try_from(now - since).unwrap_or_default())),
    };
    let count = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    let (setback, outcome, recorded) = match decide(failure, &attempt, policy) {
        Decision::Snooze => {
            let since = job.snoozed_since.unwrap_or(now);
            let wait = snooze_wait(error, policy, now - since);
            tracing::debug!(job = job.id, object = %job.object, error = %error, "target unavailable; job snoozes");
            let setback = Setback::Retry {
                failed_attempts: job.failed_attempts,
                not_before: now.saturating_add(wait),
                snoozed_since: Some(since),
            };
            (setback, RunOutcome::Snoozed, error.clone())
        }
        Decision::Retry { failed_attempts } => {
            // A vanished worker is not the object's fault: its job runs again at once.
            let not_before = match provider {
                Some(provider) if !matches!(failure, Failure::LeaseExpired) => {
                    next_attempt_at(context, provider, &job, failed_attempts, error, now)
                }
                _ => now,
            };
            tracing::debug!(job = job.id, provider = %job.provider, object = %job.object,
                attempt = failed_attempts, error = %error, "sync failed; will retry");
            let setback = Setback::Retry {
                failed_attempts: count(failed_attempts),
                not_before,
                snoozed_since: None,
            };
            (setback, RunOutcome::Retry, error.clone())
        }
        Decision::Stop {
            mode,
            failed_attempts,
        } => {
            let mut recorded = error.clone();
            if mode == FailureMode::Exceeded
                && let SyncError::Recoverable { messages, .. } = &mut recorded
            {
                messages.insert(
                    0,
                    format!(
                        "maximum number of attempts ({}) reached",
                        attempt.max_attempts
                    ),
                );
            }
            tracing::warn!(job = job.id, provider = %job.provider, object = %job.object,
                failure_mode = %mode, error = %recorded,
                "job stopped; an operator must retry or cancel it");
            let setback = Setback::Stop {
                mode,
                failed_attempts: count(failed_attempts),
            };
            (setback, RunOutcome::Failed(mode), recorded)
        }
    };
    let run = run_record(
        context,
        &job,
        outcome,
        BTreeMap::new(),
        Some(&recorded),
        started,
    );
    Completion::Setback {
        job,
        setback,
        run: Some(run),
    }
}

/// How long a snoozing job waits (ms): the `Retry-After` if the target said, else as long as
/// it has snoozed so far (at least the backoff base, at most its cap), so a long outage is
/// polled less and less often.
fn snooze_wait(error: &SyncError, policy: &RetryPolicy, snoozed_ms: i64) -> i64 {
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2);
    match error.retry_after() {
        Some(wait) => ms(wait),
        None => snoozed_ms.clamp(ms(policy.base), ms(policy.cap).max(ms(policy.base))),
    }
}

/// Retry-After wins; then the provider's own schedule; then the worker's backoff.
fn next_attempt_at(
    context: &WorkerContext,
    provider: &ConfiguredProvider,
    job: &ClaimedJob,
    attempts: u32,
    error: &SyncError,
    now: i64,
) -> i64 {
    if let Some(wait) = error.retry_after() {
        return now + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
    }
    if let Some(at) = provider
        .provider()
        .next_retry_at(attempts, crate::to_datetime(now))
    {
        return at.timestamp_millis();
    }
    let seed = u64::try_from(job.id).unwrap_or_default();
    let wait = context.retry_policy(&job.provider).backoff(attempts, seed);
    now + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2)
}

pub(crate) fn run_record(
    context: &WorkerContext,
    job: &ClaimedJob,
    outcome: RunOutcome,
    actions: BTreeMap<String, usize>,
    error: Option<&SyncError>,
    started: Instant,
) -> RunRecord {
    RunRecord {
        at: context.clock.now_ms(),
        provider: job.provider.clone(),
        object: job.object.clone(),
        job_id: Some(job.id),
        triggered_by: Some(job.triggered_by.clone()),
        attempt: job.failed_attempts + 1,
        outcome,
        actions,
        // An external system may echo a key or password back: never store one.
        error: error.map(|e| redact(&e.messages().join("; ")).into_owned()),
        error_detail: error.and_then(|e| e.full_message().map(|d| redact(d).into_owned())),
        duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        worker: Some(context.config.id.clone()),
        mapping_version: job.mapping_version,
    }
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(no message)".to_owned()
    }
}
