//! Recording how claimed jobs ended, in batches, only while a job's fencing token still
//! matches: deleting finished jobs, setting the others back, storing results and runs.

use super::claim::ClaimedJob;
use super::results::{ResultRow, insert_runs, result_rows, upsert_results};
use crate::FailureMode;
use crate::error::QueueError;
use crate::outcome::RunOutcome;
use crate::sql::{get, statement, values_list};
use outsync_core::ObjectRef;
use outsync_core::provider::MappedObjects;
use sea_orm::{ConnectionTrait, DatabaseConnection, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// One `sync_run` row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunRecord {
    /// When the run ended (ms).
    pub at: i64,
    /// The provider.
    pub provider: String,
    /// The object.
    pub object: ObjectRef,
    /// The job.
    pub job_id: Option<i64>,
    /// Why the job was enqueued.
    pub triggered_by: Option<String>,
    /// The attempt number.
    pub attempt: i32,
    /// How it ended.
    pub outcome: RunOutcome,
    /// Counts of actions.
    pub actions: BTreeMap<String, usize>,
    /// Error messages.
    pub error: Option<String>,
    /// Error details.
    pub error_detail: Option<String>,
    /// Duration (ms).
    pub duration_ms: i64,
    /// The worker.
    pub worker: Option<String>,
    /// The mapping version the run used, if versions are stored.
    pub mapping_version: Option<i64>,
}

/// What to do with a job that did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Setback {
    /// Back to pending, with this attempt count and time; `snoozed_since` is set while
    /// the job snoozes (no attempt charged) and cleared by a counted attempt.
    Retry {
        failed_attempts: i32,
        not_before: i64,
        snoozed_since: Option<i64>,
    },
    /// Back to pending unchanged (shutdown before it ran).
    Release,
    /// Stop with a failure mode; an operator must retry.
    Stop {
        mode: FailureMode,
        failed_attempts: i32,
    },
}

/// How a claimed job ended, to be written by [`record`].
#[derive(Debug, Clone)]
pub(crate) enum Completion {
    /// Synced (or skipped, or the object is gone): the job leaves the queue.
    Done {
        job: ClaimedJob,
        results: Option<MappedObjects>,
        run: RunRecord,
    },
    /// Not synced.
    Setback {
        job: ClaimedJob,
        setback: Setback,
        run: Option<RunRecord>,
    },
}

impl Completion {
    pub(crate) fn job(&self) -> &ClaimedJob {
        match self {
            Self::Done { job, .. } | Self::Setback { job, .. } => job,
        }
    }
}

/// Writes completions in one transaction; if that fails (e.g. a concurrent enqueue on
/// PostgreSQL), writes them one by one so one bad apple does not lose the others' results.
/// Returns how many counted (the rest had lost their lease).
pub(crate) async fn record(
    db: &DatabaseConnection,
    completions: Vec<Completion>,
    now: i64,
) -> Result<usize, QueueError> {
    if completions.is_empty() {
        return Ok(0);
    }
    match record_in_transaction(db, &completions, now).await {
        Ok(counted) => Ok(counted),
        Err(first_error) if completions.len() > 1 => {
            tracing::debug!(error = %first_error, "batch write failed; writing completions one by one");
            let mut counted = 0;
            for completion in completions {
                counted += record_one_with_retry(db, completion, now).await?;
            }
            Ok(counted)
        }
        Err(_) => {
            let completion = completions.into_iter().next().expect("one completion");
            record_one_with_retry(db, completion, now).await
        }
    }
}

async fn record_one_with_retry(
    db: &DatabaseConnection,
    completion: Completion,
    now: i64,
) -> Result<usize, QueueError> {
    let batch = [completion];
    match record_in_transaction(db, &batch, now).await {
        Ok(counted) => Ok(counted),
        // A release can collide with a pending job created concurrently; on the second try
        // the merge path sees it.
        Err(_) => record_in_transaction(db, &batch, now).await,
    }
}

async fn record_in_transaction(
    db: &DatabaseConnection,
    completions: &[Completion],
    now: i64,
) -> Result<usize, QueueError> {
    let tx = crate::sql::begin_write(db)
        .await
        .map_err(QueueError::db("starting a transaction"))?;
    let finished: Vec<&ClaimedJob> = completions
        .iter()
        .filter_map(|completion| match completion {
            Completion::Done { job, .. } => Some(job),
            Completion::Setback { .. } => None,
        })
        .collect();
    let mut ours = finish_all(&tx, &finished).await?;
    // Set back in object order, the order batch enqueues insert in: a set-back job re-enters
    // the unique index of pending jobs, and two transactions taking those entries in
    // different orders would deadlock on PostgreSQL.
    let mut setbacks: Vec<_> = completions
        .iter()
        .filter_map(|completion| match completion {
            Completion::Setback { job, setback, run } => Some((job, setback, run)),
            Completion::Done { .. } => None,
        })
        .collect();
    setbacks.sort_by(|(a, ..), (b, ..)| (&a.provider, &a.object).cmp(&(&b.provider, &b.object)));
    for (job, setback, run) in setbacks {
        let error = run.as_ref().and_then(|r| r.error.clone());
        let detail = run.as_ref().and_then(|r| r.error_detail.clone());
        if set_back(&tx, job, setback, error, detail, now).await? {
            ours.insert(job.id);
        }
    }
    let mut results: HashMap<(String, ObjectRef, String, String), ResultRow> = HashMap::new();
    let mut runs = Vec::with_capacity(completions.len());
    for completion in completions {
        let job = completion.job();
        if !ours.contains(&job.id) {
            tracing::warn!(job = job.id, object = %job.object, "lease lost before the job's end was recorded; another worker owns it now");
            continue;
        }
        match completion {
            Completion::Done {
                results: found,
                run,
                ..
            } => {
                if let Some(mapped) = found {
                    for row in result_rows(job, mapped, now) {
                        let key = (
                            job.provider.clone(),
                            job.object.clone(),
                            row.child_id.clone(),
                            row.mapping_id.clone(),
                        );
                        results.insert(key, row);
                    }
                }
                runs.push(run.clone());
            }
            Completion::Setback { run, .. } => runs.extend(run.iter().cloned()),
        }
    }
    let results: Vec<ResultRow> = results.into_values().collect();
    upsert_results(&tx, &results).await?;
    insert_runs(&tx, &runs).await?;
    tx.commit()
        .await
        .map_err(QueueError::db("committing job results"))?;
    crate::metrics::observe_runs(&runs);
    Ok(ours.len())
}

/// Deletes finished jobs that are still ours (their fencing token matches) and the failed
/// jobs of the same objects that they supersede, in a few statements for the whole batch.
/// Returns the ids that were still ours.
async fn finish_all<C: ConnectionTrait>(
    conn: &C,
    jobs: &[&ClaimedJob],
) -> Result<HashSet<i64>, QueueError> {
    let mut ours = HashSet::with_capacity(jobs.len());
    for chunk in jobs.chunks(1000) {
        let sql = format!(
            "DELETE FROM sync_queue WHERE lease_owner IS NOT NULL \
             AND (id, fencing_token) IN (VALUES {}) RETURNING id",
            values_list(chunk.len(), 2, 0)
        );
        let values = chunk
            .iter()
            .flat_map(|job| [Value::from(job.id), Value::from(job.fencing_token)])
            .collect();
        let rows = conn
            .query_all_raw(statement(conn, &sql, values))
            .await
            .map_err(QueueError::db("removing finished jobs"))?;
        for row in rows {
            ours.insert(get::<i64>(&row, "id").map_err(QueueError::db("reading finished jobs"))?);
        }
    }
    // The job tally answers in a few rows; `failure_mode IS NOT NULL LIMIT 1` made
    // PostgreSQL without statistics scan the table (155 ms at 1,000,000 jobs).
    let any_failed = crate::tally::any_stopped(conn)
        .await
        .map_err(QueueError::db("looking for failed jobs"))?;
    if any_failed {
        // A successful sync carries the object's newest state: older failed jobs of the
        // same object are obsolete.
        let done: Vec<&&ClaimedJob> = jobs.iter().filter(|job| ours.contains(&job.id)).collect();
        for chunk in done.chunks(500) {
            let sql = format!(
                "DELETE FROM sync_queue WHERE failure_mode IS NOT NULL AND lease_owner IS NULL \
                 AND (provider, object_type, object_id) IN (VALUES {})",
                values_list(chunk.len(), 3, 0)
            );
            let values = chunk
                .iter()
                .flat_map(|job| {
                    [
                        Value::from(job.provider.as_str()),
                        Value::from(job.object.object_type.as_str()),
                        Value::from(job.object.id.as_str()),
                    ]
                })
                .collect();
            conn.execute_raw(statement(conn, &sql, values))
                .await
                .map_err(QueueError::db("removing superseded failed jobs"))?;
        }
    }
    Ok(ours)
}

/// Returns a job to pending or stops it. A job going back to pending merges into a pending
/// job of the same object enqueued meanwhile (one pending job per object), carrying its
/// attempt count over.
pub(crate) async fn set_back<C: ConnectionTrait>(
    conn: &C,
    job: &ClaimedJob,
    setback: &Setback,
    error: Option<String>,
    detail: Option<String>,
    now: i64,
) -> Result<bool, QueueError> {
    let (failed_attempts, not_before, snoozed_since) = match setback {
        Setback::Stop {
            mode,
            failed_attempts,
        } => {
            let updated = conn
                .execute_raw(statement(
                    conn,
                    "UPDATE sync_queue SET failure_mode = $1, failed_attempts = $2, last_error = $3, \
                     last_error_detail = $4, lease_owner = NULL, lease_expires_at = NULL, \
                     fencing_token = fencing_token + 1 \
                     WHERE id = $5 AND fencing_token = $6 AND lease_owner IS NOT NULL",
                    vec![
                        mode.as_str().into(),
                        (*failed_attempts).into(),
                        error.into(),
                        detail.into(),
                        job.id.into(),
                        job.fencing_token.into(),
                    ],
                ))
                .await
                .map_err(QueueError::db("stopping a failed job"))?;
            return Ok(updated.rows_affected() == 1);
        }
        Setback::Retry {
            failed_attempts,
            not_before,
            snoozed_since,
        } => (*failed_attempts, *not_before, *snoozed_since),
        Setback::Release => (job.failed_attempts, now, job.snoozed_since),
    };
    let sibling = conn
        .query_one_raw(statement(
            conn,
            "SELECT id FROM sync_queue WHERE provider = $1 AND object_type = $2 AND object_id = $3 \
             AND lease_owner IS NULL AND failure_mode IS NULL",
            vec![
                job.provider.as_str().into(),
                job.object.object_type.as_str().into(),
                job.object.id.as_str().into(),
            ],
        ))
        .await
        .map_err(QueueError::db(
            "looking for a pending job of the same object",
        ))?;
    if let Some(sibling) = sibling {
        let sibling_id: i64 = get(&sibling, "id").map_err(QueueError::db("reading a job id"))?;
        let deleted = conn
            .execute_raw(statement(
                conn,
                "DELETE FROM sync_queue WHERE id = $1 AND fencing_token = $2 AND lease_owner IS NOT NULL",
                vec![job.id.into(), job.fencing_token.into()],
            ))
            .await
            .map_err(QueueError::db("merging a job into a newer one"))?;
        if deleted.rows_affected() == 0 {
            return Ok(false);
        }
        conn.execute_raw(statement(
            conn,
            "UPDATE sync_queue SET failed_attempts = $1, \
             not_before = CASE WHEN not_before > $2 THEN not_before ELSE $2 END, \
             last_error = COALESCE($3, last_error), last_error_detail = COALESCE($4, last_error_detail), \
             snoozed_since = $6 WHERE id = $5",
            vec![failed_attempts.into(), not_before.into(), error.into(), detail.into(), sibling_id.into(), snoozed_since.into()],
        ))
        .await
        .map_err(QueueError::db("merging a job into a newer one"))?;
        return Ok(true);
    }
    let updated = conn
        .execute_raw(statement(
            conn,
            "UPDATE sync_queue SET failed_attempts = $1, not_before = $2, \
             last_error = COALESCE($3, last_error), last_error_detail = COALESCE($4, last_error_detail), \
             lease_owner = NULL, lease_expires_at = NULL, fencing_token = fencing_token + 1, \
             snoozed_since = $7 \
             WHERE id = $5 AND fencing_token = $6 AND lease_owner IS NOT NULL",
            vec![
                failed_attempts.into(),
                not_before.into(),
                error.into(),
                detail.into(),
                job.id.into(),
                job.fencing_token.into(),
                snoozed_since.into(),
            ],
        ))
        .await
        .map_err(QueueError::db("returning a job to the queue"))?;
    Ok(updated.rows_affected() == 1)
}
