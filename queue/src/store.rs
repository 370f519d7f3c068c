//! The worker's side of the queue: claiming jobs under a lease, and recording how they
//! ended, in batches, only while the job's fencing token still matches.

use super::error::QueueError;
use super::operator::RunOutcome;
use super::sql::{get, statement, values_list};
use super::{FailureMode, is_postgres};
use outsync_core::ObjectRef;
use outsync_core::provider::MappedObjects;
use sea_orm::{ConnectionTrait, DatabaseConnection, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A job a worker holds a lease on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClaimedJob {
    /// The job id.
    pub id: i64,
    /// The provider.
    pub provider: String,
    /// The object.
    pub object: ObjectRef,
    /// The snapshot JSON text, if enqueued with one.
    pub snapshot: Option<String>,
    /// Why the job was enqueued.
    pub triggered_by: String,
    /// Recoverable failures before this attempt.
    pub failed_attempts: i32,
    /// The token that proves the lease is still ours.
    pub fencing_token: i64,
    /// Send even unchanged data.
    pub force: bool,
    /// When the job's current snooze began (ms), if it is snoozing.
    pub snoozed_since: Option<i64>,
}

const CLAIM_COLUMNS: &str = "id, provider, object_type, object_id, snapshot, triggered_by, \
     failed_attempts, fencing_token, force_send, snoozed_since";

/// Claims up to `limit` due jobs of `providers` for `worker` until `lease_until`.
pub(crate) async fn claim(
    db: &DatabaseConnection,
    providers: &[String],
    worker: &str,
    limit: usize,
    now: i64,
    lease_until: i64,
) -> Result<Vec<ClaimedJob>, QueueError> {
    if providers.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let provider_params: Vec<String> = (0..providers.len())
        .map(|i| format!("${}", i + 5))
        .collect();
    // On SQLite the unary `+` keeps the planner on the due-jobs index (ordered, stops at
    // LIMIT) instead of scanning every job of the provider and sorting.
    let provider_column = if is_postgres(db) {
        "q.provider"
    } else {
        "+q.provider"
    };
    let due = format!(
        "SELECT q.id FROM sync_queue q \
         WHERE q.lease_owner IS NULL AND q.failure_mode IS NULL AND q.not_before <= $3 \
           AND {provider_column} IN ({}) \
           AND NOT EXISTS (SELECT 1 FROM sync_queue o WHERE o.provider = q.provider \
               AND o.object_type = q.object_type AND o.object_id = q.object_id AND o.lease_owner IS NOT NULL) \
         ORDER BY q.not_before, q.id LIMIT $4",
        provider_params.join(",")
    );
    let sql = if is_postgres(db) {
        format!(
            "WITH picked AS ({due} FOR UPDATE SKIP LOCKED) \
             UPDATE sync_queue s SET lease_owner = $1, lease_expires_at = $2, fencing_token = s.fencing_token + 1 \
             FROM picked WHERE s.id = picked.id RETURNING s.{}",
            CLAIM_COLUMNS.replace(", ", ", s.")
        )
    } else {
        format!(
            "UPDATE sync_queue SET lease_owner = $1, lease_expires_at = $2, fencing_token = fencing_token + 1 \
             WHERE id IN ({due}) RETURNING {CLAIM_COLUMNS}"
        )
    };
    let mut values: Vec<Value> = vec![
        worker.into(),
        lease_until.into(),
        now.into(),
        i64::try_from(limit).unwrap_or(i64::MAX).into(),
    ];
    values.extend(providers.iter().map(|p| Value::from(p.as_str())));
    let rows = db
        .query_all_raw(statement(db, &sql, values))
        .await
        .map_err(QueueError::db("claiming jobs"))?;
    let mut jobs = rows
        .iter()
        .map(claimed_job)
        .collect::<Result<Vec<_>, sea_orm::DbErr>>()
        .map_err(QueueError::db("reading claimed jobs"))?;
    jobs.sort_by_key(|job| job.id);
    Ok(jobs)
}

/// Claims job `id` whatever its schedule or failure mode (an operator's "run now"),
/// unless its object is being synced. A stopped job starts over: its failure mode and
/// attempt count are cleared. Leased, it stands outside the one-pending-job index, so a
/// newer pending job of the object may coexist and runs afterwards.
pub(crate) async fn claim_job(
    db: &DatabaseConnection,
    id: i64,
    worker: &str,
    lease_until: i64,
) -> Result<Option<ClaimedJob>, QueueError> {
    let sql = format!(
        "UPDATE sync_queue SET lease_owner = $1, lease_expires_at = $2, fencing_token = fencing_token + 1, \
           failed_attempts = CASE WHEN failure_mode IS NULL THEN failed_attempts ELSE 0 END, failure_mode = NULL \
         WHERE id = $3 AND lease_owner IS NULL \
           AND NOT EXISTS (SELECT 1 FROM sync_queue o WHERE o.provider = sync_queue.provider \
               AND o.object_type = sync_queue.object_type AND o.object_id = sync_queue.object_id \
               AND o.lease_owner IS NOT NULL) \
         RETURNING {CLAIM_COLUMNS}"
    );
    let row = db
        .query_one_raw(statement(
            db,
            &sql,
            vec![worker.into(), lease_until.into(), id.into()],
        ))
        .await
        .map_err(QueueError::db("claiming a job"))?;
    row.map(|row| claimed_job(&row))
        .transpose()
        .map_err(QueueError::db("reading a claimed job"))
}

fn claimed_job(row: &sea_orm::QueryResult) -> Result<ClaimedJob, sea_orm::DbErr> {
    Ok(ClaimedJob {
        id: get(row, "id")?,
        provider: get(row, "provider")?,
        object: ObjectRef {
            object_type: get(row, "object_type")?,
            id: get(row, "object_id")?,
        },
        snapshot: get(row, "snapshot")?,
        triggered_by: get(row, "triggered_by")?,
        failed_attempts: get(row, "failed_attempts")?,
        fencing_token: get(row, "fencing_token")?,
        force: get::<i32>(row, "force_send")? != 0,
        snoozed_since: get(row, "snoozed_since")?,
    })
}

/// What earlier runs stored for `object` by `provider`, by mapping and child.
pub(crate) async fn previous_results(
    db: &DatabaseConnection,
    provider: &str,
    object: &ObjectRef,
) -> Result<outsync_core::PreviousResults, QueueError> {
    let rows = db
        .query_all_raw(statement(
            db,
            "SELECT mapping_id, child_id, id_value, action, sync_info, transmitted_at FROM sync_result \
             WHERE provider = $1 AND object_type = $2 AND object_id = $3",
            vec![provider.into(), object.object_type.as_str().into(), object.id.as_str().into()],
        ))
        .await
        .map_err(QueueError::db("reading previous results"))?;
    let mut previous = outsync_core::PreviousResults::default();
    for row in rows {
        let read = || -> Result<_, sea_orm::DbErr> {
            let info: Option<String> = get(&row, "sync_info")?;
            Ok((
                get::<String>(&row, "mapping_id")?,
                get::<String>(&row, "child_id")?,
                outsync_core::PreviousResult {
                    id_value: get(&row, "id_value")?,
                    action: get(&row, "action")?,
                    info: info
                        .and_then(|text| serde_json::from_str(&text).ok())
                        .unwrap_or(serde_json::Value::Null),
                    transmitted_at_ms: get(&row, "transmitted_at")?,
                },
            ))
        };
        let (mapping, child, result) =
            read().map_err(QueueError::db("reading previous results"))?;
        previous.insert(mapping, child, result);
    }
    Ok(previous)
}

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
    fn job(&self) -> &ClaimedJob {
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
    let tx = super::sql::begin_write(db)
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
    let any_failed = conn
        .query_one_raw(statement(
            conn,
            "SELECT id FROM sync_queue WHERE failure_mode IS NOT NULL LIMIT 1",
            Vec::new(),
        ))
        .await
        .map_err(QueueError::db("looking for failed jobs"))?
        .is_some();
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

/// Jobs whose lease ran out before `now`.
pub(crate) async fn expired_leases(
    db: &DatabaseConnection,
    now: i64,
    limit: usize,
) -> Result<Vec<ClaimedJob>, QueueError> {
    let rows = db
        .query_all_raw(statement(
            db,
            &format!(
                "SELECT {CLAIM_COLUMNS} FROM sync_queue WHERE lease_owner IS NOT NULL \
                 AND lease_expires_at < $1 ORDER BY lease_expires_at LIMIT $2"
            ),
            vec![now.into(), i64::try_from(limit).unwrap_or(i64::MAX).into()],
        ))
        .await
        .map_err(QueueError::db("looking for expired leases"))?;
    rows.iter()
        .map(claimed_job)
        .collect::<Result<Vec<_>, sea_orm::DbErr>>()
        .map_err(QueueError::db("reading expired leases"))
}

/// One `sync_result` row.
#[derive(Debug, Clone)]
struct ResultRow {
    child_id: String,
    mapping_id: String,
    values: [Value; 13],
}

fn result_rows(job: &ClaimedJob, mapped: &MappedObjects, now: i64) -> Vec<ResultRow> {
    let mut rows = Vec::new();
    for (mapping_id, results) in mapped.iter() {
        for result in results {
            let outcome = &result.outcome;
            let child_id = result.child.to_string();
            let info = (!outcome.info.is_null()).then(|| outcome.info.to_string());
            rows.push(ResultRow {
                child_id: child_id.clone(),
                mapping_id: mapping_id.to_owned(),
                values: [
                    job.provider.as_str().into(),
                    job.object.object_type.as_str().into(),
                    job.object.id.as_str().into(),
                    child_id.into(),
                    mapping_id.into(),
                    outcome.object_type.as_str().into(),
                    outcome.external_id_field.as_str().into(),
                    outcome.id_value.as_str().into(),
                    outcome.external_link_href.clone().into(),
                    outcome.external_link_display_name.clone().into(),
                    outcome.action.as_str().into(),
                    info.into(),
                    now.into(),
                ],
            });
        }
    }
    rows
}

async fn upsert_results<C: ConnectionTrait>(
    conn: &C,
    rows: &[ResultRow],
) -> Result<(), QueueError> {
    for chunk in rows.chunks(1000) {
        let sql = format!(
            "INSERT INTO sync_result (provider, object_type, object_id, child_id, mapping_id, \
             external_object_type, external_id_field, id_value, external_link_href, \
             external_link_display_name, action, sync_info, transmitted_at) VALUES {} \
             ON CONFLICT (provider, object_type, object_id, child_id, mapping_id) DO UPDATE SET \
             external_object_type = excluded.external_object_type, external_id_field = excluded.external_id_field, \
             id_value = excluded.id_value, external_link_href = excluded.external_link_href, \
             external_link_display_name = excluded.external_link_display_name, action = excluded.action, \
             sync_info = excluded.sync_info, transmitted_at = excluded.transmitted_at",
            values_list(chunk.len(), 13, 0)
        );
        let values = chunk
            .iter()
            .flat_map(|row| row.values.iter().cloned())
            .collect();
        conn.execute_raw(statement(conn, &sql, values))
            .await
            .map_err(QueueError::db("storing sync results"))?;
    }
    Ok(())
}

/// Inserts run records.
pub(crate) async fn insert_runs<C: ConnectionTrait>(
    conn: &C,
    runs: &[RunRecord],
) -> Result<(), QueueError> {
    for chunk in runs.chunks(1000) {
        let sql = format!(
            "INSERT INTO sync_run (at, provider, object_type, object_id, job_id, triggered_by, attempt, \
             outcome, actions, error, error_detail, duration_ms, worker) VALUES {}",
            values_list(chunk.len(), 13, 0)
        );
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 13);
        for run in chunk {
            let actions = serde_json::to_string(&run.actions).unwrap_or_else(|_| "{}".into());
            values.extend([
                run.at.into(),
                run.provider.as_str().into(),
                run.object.object_type.as_str().into(),
                run.object.id.as_str().into(),
                run.job_id.into(),
                run.triggered_by.clone().into(),
                run.attempt.into(),
                run.outcome.as_str().into(),
                actions.into(),
                run.error.clone().into(),
                run.error_detail.clone().into(),
                run.duration_ms.into(),
                run.worker.clone().into(),
            ]);
        }
        conn.execute_raw(statement(conn, &sql, values))
            .await
            .map_err(QueueError::db("recording runs"))?;
    }
    Ok(())
}
