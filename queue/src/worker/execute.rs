//! Running one claimed job: load the object, sync it under a time limit, and turn what
//! happened into a [`Completion`].

use super::WorkerContext;
use crate::store;
use crate::store::{ClaimedJob, Completion, RunRecord, Setback};
use crate::{FailureMode, RunOutcome};
use outsync_core::secret::redact;
use outsync_core::{
    ObjectSyncReport, OutboundSyncProvider, SyncError, SyncOptions, sync_object_with,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// What the job's task produced.
enum TaskResult {
    Synced(ObjectSyncReport),
    Missing,
}

/// Runs `job` and decides what happens to it.
pub(crate) async fn execute(context: Arc<WorkerContext>, job: ClaimedJob) -> Completion {
    let started = Instant::now();
    let Some(provider) = context.providers.get(&job.provider).cloned() else {
        // Claims only ask for known providers; this is a defensive fallback.
        return stop(
            &context,
            job,
            FailureMode::Config,
            &SyncError::config("provider is not registered in this worker"),
            started,
        );
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
            stop(&context, job, FailureMode::Timeout, &error, started)
        }
        Ok(Err(join_error)) => {
            let message = if join_error.is_panic() {
                format!("the sync panicked: {}", panic_text(join_error.into_panic()))
            } else {
                "the sync task was cancelled".to_owned()
            };
            stop(
                &context,
                job,
                FailureMode::Internal,
                &SyncError::permanent(message),
                started,
            )
        }
        Ok(Ok(Err(error))) => failed(&context, provider.as_ref(), job, &error, started),
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
    provider: Arc<dyn OutboundSyncProvider>,
    job: ClaimedJob,
) -> Result<TaskResult, SyncError> {
    let data: Value = match &job.snapshot {
        Some(text) => serde_json::from_str(text).map_err(|error| {
            SyncError::permanent(format!("the job's snapshot is not valid JSON: {error}"))
        })?,
        None => {
            let Some(source) = &context.source else {
                return Err(SyncError::config(
                    "the job has no snapshot and the worker has no ObjectSource to load the object",
                ));
            };
            match source.load(&job.object).await? {
                Some(data) => data,
                None => {
                    provider.object_missing(&job.object).await?;
                    return Ok(TaskResult::Missing);
                }
            }
        }
    };
    let mut options = SyncOptions {
        force: job.force,
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

fn failed(
    context: &WorkerContext,
    provider: &dyn OutboundSyncProvider,
    job: ClaimedJob,
    error: &SyncError,
    started: Instant,
) -> Completion {
    match error {
        SyncError::Recoverable { .. } => {
            let now = context.clock.now_ms();
            // The target is down or asked us to wait: not the object's fault. The job
            // snoozes without an attempt charged, until it has snoozed `snooze_cap` in a row.
            if error.is_target_unavailable() || error.retry_after().is_some() {
                let since = job.snoozed_since.unwrap_or(now);
                let cap = i64::try_from(context.config.snooze_cap.as_millis()).unwrap_or(i64::MAX);
                if now.saturating_sub(since) < cap {
                    return snooze(context, job, error, since, now, started);
                }
            }
            let attempts = job.failed_attempts + 1;
            let max = context.max_attempts(&job.provider, provider);
            if attempts >= max {
                let mut exceeded = error.clone();
                if let SyncError::Recoverable { messages, .. } = &mut exceeded {
                    messages.insert(0, format!("maximum number of attempts ({max}) reached"));
                }
                return stop(context, job, FailureMode::Exceeded, &exceeded, started);
            }
            let not_before = next_attempt_at(context, provider, &job, attempts, error, now);
            tracing::debug!(
                job = job.id,
                provider = %job.provider,
                object = %job.object,
                attempt = attempts,
                error = %error,
                "sync failed; will retry"
            );
            let run = run_record(
                context,
                &job,
                RunOutcome::Retry,
                BTreeMap::new(),
                Some(error),
                started,
            );
            Completion::Setback {
                job,
                setback: Setback::Retry {
                    failed_attempts: attempts,
                    not_before,
                    snoozed_since: None,
                },
                run: Some(run),
            }
        }
        SyncError::Config { .. } => stop(context, job, FailureMode::Config, error, started),
        // `Permanent`, and any kind a later outsync-core adds: stop rather than guess.
        _ => stop(context, job, FailureMode::Permanent, error, started),
    }
}

/// Postpones the job without charging an attempt: until `Retry-After` if the target said,
/// else for as long as it has snoozed so far (at least the backoff base, at most its cap),
/// so a long outage is polled less and less often.
fn snooze(
    context: &WorkerContext,
    job: ClaimedJob,
    error: &SyncError,
    since: i64,
    now: i64,
    started: Instant,
) -> Completion {
    let wait = match error.retry_after() {
        Some(wait) => i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2),
        None => {
            let policy = context.retry_policy(&job.provider);
            let base = i64::try_from(policy.base.as_millis()).unwrap_or(i64::MAX / 2);
            let cap = i64::try_from(policy.cap.as_millis()).unwrap_or(i64::MAX / 2);
            now.saturating_sub(since).clamp(base, cap.max(base))
        }
    };
    tracing::debug!(job = job.id, object = %job.object, error = %error, "target unavailable; job snoozes");
    let run = run_record(
        context,
        &job,
        RunOutcome::Snoozed,
        BTreeMap::new(),
        Some(error),
        started,
    );
    let failed_attempts = job.failed_attempts;
    Completion::Setback {
        job,
        setback: Setback::Retry {
            failed_attempts,
            not_before: now.saturating_add(wait),
            snoozed_since: Some(since),
        },
        run: Some(run),
    }
}

/// Retry-After wins; then the provider's own schedule; then the worker's backoff.
fn next_attempt_at(
    context: &WorkerContext,
    provider: &dyn OutboundSyncProvider,
    job: &ClaimedJob,
    attempts: i32,
    error: &SyncError,
    now: i64,
) -> i64 {
    if let Some(wait) = error.retry_after() {
        return now + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
    }
    let attempts = u32::try_from(attempts).unwrap_or(1);
    if let Some(at) = provider.next_retry_at(attempts, crate::to_datetime(now)) {
        return at.timestamp_millis();
    }
    let seed = u64::try_from(job.id).unwrap_or_default();
    let wait = context.retry_policy(&job.provider).backoff(attempts, seed);
    now + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2)
}

fn stop(
    context: &WorkerContext,
    job: ClaimedJob,
    mode: FailureMode,
    error: &SyncError,
    started: Instant,
) -> Completion {
    let failed_attempts = if mode == FailureMode::Exceeded {
        job.failed_attempts + 1
    } else {
        job.failed_attempts
    };
    tracing::warn!(
        job = job.id,
        provider = %job.provider,
        object = %job.object,
        failure_mode = %mode,
        error = %error,
        "job stopped; an operator must retry or cancel it"
    );
    let run = run_record(
        context,
        &job,
        RunOutcome::Failed(mode),
        BTreeMap::new(),
        Some(error),
        started,
    );
    Completion::Setback {
        job,
        setback: Setback::Stop {
            mode,
            failed_attempts,
        },
        run: Some(run),
    }
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
