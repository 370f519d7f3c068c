//! Claiming due jobs under a lease and a fencing token, and finding expired leases.

use crate::error::QueueError;
use crate::is_postgres;
use crate::sql::{get, statement};
use outsync_core::ObjectRef;
use sea_orm::{ConnectionTrait, DatabaseConnection, Value};

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
    /// The mapping version the worker runs it with (`None`: the configured mappings).
    pub mapping_version: Option<i64>,
}

impl ClaimedJob {
    /// What a release needs of the job, without its snapshot (the largest part): what a
    /// worker keeps of each job it runs, to hand it back if it stops first.
    pub(crate) fn for_release(&self) -> Self {
        Self {
            id: self.id,
            provider: self.provider.clone(),
            object: self.object.clone(),
            snapshot: None,
            triggered_by: String::new(),
            failed_attempts: self.failed_attempts,
            fencing_token: self.fencing_token,
            force: self.force,
            snoozed_since: self.snoozed_since,
            mapping_version: self.mapping_version,
        }
    }
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
    // The provider is compared as an expression no index covers (`+` on SQLite, `|| ''`
    // on PostgreSQL), which keeps the planner on the due-jobs index (ordered, stops at
    // LIMIT) instead of the one-pending index (every job of the provider, then a sort).
    // Without it PostgreSQL, lacking statistics (no ANALYZE since a bulk enqueue), chose
    // the latter: 1.3 s per claim at 1,000,000 queued, against 0.9 ms now (1.0 ms at
    // 10,000), with or without statistics.
    let provider_column = if is_postgres(db) {
        "(q.provider || '')"
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
        mapping_version: None,
    })
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
