//! Enqueueing jobs, one at a time or in batches, with coalescing.

use super::error::QueueError;
use super::sql::{get, statement, values_list};
use super::{Queue, is_postgres};
use outsync_core::ObjectRef;
use sea_orm::{ConnectionTrait, Value};
use std::collections::HashMap;

/// Options of one enqueue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnqueueOptions {
    /// Do not run before this time (ms since the epoch).
    pub not_before_ms: Option<i64>,
    /// The object's current state; without it the worker loads the object through the
    /// application's `ObjectSource` when the job runs (so a late sync sends the latest
    /// data).
    pub snapshot: Option<serde_json::Value>,
    /// Run as soon as possible, even if an earlier enqueue asked for later.
    pub immediate: bool,
    /// Send even if the provider believes the external system already has this data
    /// (kept when later enqueues merge into the job).
    pub force: bool,
}

/// The job an enqueue created or updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    /// The job id.
    pub id: i64,
    /// `false` when the enqueue was merged into a pending job of the same object.
    pub created: bool,
}

/// One item of a batch enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct EnqueueItem {
    /// The provider.
    pub provider: String,
    /// The object.
    pub object: ObjectRef,
    /// Why it is enqueued.
    pub triggered_by: String,
    /// Options.
    pub options: EnqueueOptions,
}

/// What a batch enqueue did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchSummary {
    /// New jobs.
    pub created: usize,
    /// Enqueues merged into pending jobs (including duplicates within the batch).
    pub coalesced: usize,
}

/// Rows per multi-row statement: 7 parameters each stays far below SQLite's and
/// PostgreSQL's parameter limits.
const BATCH_ROWS: usize = 4000;

/// Rows per `UNNEST` statement on PostgreSQL.
const UNNEST_ROWS: usize = 10_000;

/// A batch enqueue of this many rows or more analyses `sync_queue` on PostgreSQL
/// afterwards (170 ms at 1,000,000 jobs), since autovacuum may be off or late.
const ANALYZE_AFTER_ROWS: usize = 100_000;

/// The statement inserting `rows` jobs, merging each into a pending job of the same object.
/// On PostgreSQL it also notifies listening workers (delivered at commit, so a rolled-back
/// outbox transaction wakes nobody).
fn insert_sql(rows: usize, postgres: bool) -> String {
    insert_sql_from(&format!("VALUES {}", values_list(rows, 8, 0)), postgres)
}

/// The statement inserting PostgreSQL's rows from 8 arrays, one per column (`UNNEST`): a
/// batch of any size is 8 parameters, where a `VALUES` list is bound by the parameter
/// limit and parsed row by row. A missing snapshot is an empty text in its array (a JSON
/// text is never empty).
///
/// It answers one row, `created` and `total`, counted by the database, instead of a row per
/// job: a batch enqueue reports counts only.
#[cfg(feature = "postgres")]
fn unnest_insert_sql() -> String {
    let insert = insert_statement(
        "SELECT provider, object_type, object_id, NULLIF(snapshot, ''), triggered_by, \
           triggered_at, not_before, force_send \
         FROM UNNEST($1::varchar[], $2::varchar[], $3::varchar[], $4::text[], $5::varchar[], \
           $6::int8[], $7::int8[], $8::int4[]) \
           AS rows (provider, object_type, object_id, snapshot, triggered_by, triggered_at, \
           not_before, force_send)",
    );
    format!(
        "WITH ins AS ({insert}) \
         SELECT count(*) FILTER (WHERE ins.coalesced = 0) AS created, count(*) AS total \
         FROM ins CROSS JOIN (SELECT pg_notify('outsync_queue', '')) AS notified"
    )
}

/// The 8 column arrays of [`unnest_insert_sql`] from rows of [`row_values`].
#[cfg(feature = "postgres")]
fn unnest_values(rows: Vec<[Value; 8]>) -> Vec<Value> {
    use sea_orm::sea_query::ArrayType;
    let mut columns: [Vec<Value>; 8] = Default::default();
    for column in &mut columns {
        column.reserve(rows.len());
    }
    for row in rows {
        for (index, value) in row.into_iter().enumerate() {
            let value = match value {
                Value::String(None) => Value::String(Some(String::new())),
                other => other,
            };
            columns[index].push(value);
        }
    }
    let types = [
        ArrayType::String,
        ArrayType::String,
        ArrayType::String,
        ArrayType::String,
        ArrayType::String,
        ArrayType::BigInt,
        ArrayType::BigInt,
        ArrayType::Int,
    ];
    columns
        .into_iter()
        .zip(types)
        .map(|(column, kind)| Value::Array(kind, Some(Box::new(column))))
        .collect()
}

/// The insert of `rows` (a `VALUES` list or a `SELECT`), answering each job's `id` and
/// `coalesced`; on PostgreSQL it notifies listening workers too.
fn insert_sql_from(rows: &str, postgres: bool) -> String {
    let insert = insert_statement(rows);
    if postgres {
        format!(
            "WITH ins AS ({insert}) SELECT ins.id, ins.coalesced FROM ins \
             CROSS JOIN (SELECT pg_notify('outsync_queue', '')) AS notified"
        )
    } else {
        insert
    }
}

/// `INSERT … ON CONFLICT … RETURNING id, coalesced` of `rows`.
fn insert_statement(rows: &str) -> String {
    // On a pending row of the same object: take the newest data; move not_before only when
    // this enqueue asked for a time (not_before >= 0).
    format!(
        "INSERT INTO sync_queue \
         (provider, object_type, object_id, snapshot, triggered_by, triggered_at, not_before, force_send) \
         {rows} \
         ON CONFLICT (provider, object_type, object_id) WHERE lease_owner IS NULL AND failure_mode IS NULL \
         DO UPDATE SET snapshot = excluded.snapshot, triggered_by = excluded.triggered_by, \
           triggered_at = excluded.triggered_at, \
           not_before = CASE WHEN excluded.not_before < 0 THEN sync_queue.not_before ELSE excluded.not_before END, \
           coalesced = sync_queue.coalesced + 1, \
           force_send = CASE WHEN excluded.force_send = 1 THEN 1 ELSE sync_queue.force_send END \
         RETURNING id, coalesced"
    )
}

impl Queue {
    /// Enqueues a sync of `object` by `provider`.
    ///
    /// Works on any connection or transaction: inside the application's transaction the job
    /// commits or rolls back with it. While a job of the same object is pending, the enqueue
    /// updates it (newest snapshot and trigger) instead of adding one; while the object is
    /// being synced, a new pending job is created, so the change is synced afterwards.
    pub async fn enqueue<C: ConnectionTrait>(
        &self,
        conn: &C,
        provider: &str,
        object: &ObjectRef,
        triggered_by: &str,
        options: EnqueueOptions,
    ) -> Result<Enqueued, QueueError> {
        // The snapshot's text is built once: for the size check and for the row.
        let snapshot = options.snapshot.as_ref().map(ToString::to_string);
        self.admit(
            provider,
            object,
            triggered_by,
            options.snapshot.as_ref(),
            snapshot.as_ref().map(String::len),
        )?;
        let now = self.now_ms();
        let values = row_values(provider, object, triggered_by, &options, snapshot, now);
        let sql = insert_sql(1, is_postgres(conn));
        let row = conn
            .query_one_raw(statement(conn, &sql, Vec::from(values)))
            .await
            .map_err(QueueError::db("enqueueing a job"))?
            .ok_or_else(|| QueueError::Corrupt {
                job: 0,
                problem: "enqueue returned no row".into(),
            })?;
        let id: i64 = get(&row, "id").map_err(QueueError::db("reading the enqueued job"))?;
        let coalesced: i32 =
            get(&row, "coalesced").map_err(QueueError::db("reading the enqueued job"))?;
        self.wake();
        Ok(Enqueued {
            id,
            created: coalesced == 0,
        })
    }

    /// Enqueues many jobs with few statements (for backfills). Items for the same provider
    /// and object are merged (the last one wins), as separate enqueues would be.
    pub async fn enqueue_many<C: ConnectionTrait>(
        &self,
        conn: &C,
        items: &[EnqueueItem],
    ) -> Result<BatchSummary, QueueError> {
        // Every snapshot's text is built once, for the size check and for its row; all
        // items are checked before anything is written.
        let mut snapshots: Vec<Option<String>> = items
            .iter()
            .map(|item| item.options.snapshot.as_ref().map(ToString::to_string))
            .collect();
        for (item, snapshot) in items.iter().zip(&snapshots) {
            self.admit(
                &item.provider,
                &item.object,
                &item.triggered_by,
                item.options.snapshot.as_ref(),
                snapshot.as_ref().map(String::len),
            )?;
        }
        let mut latest: HashMap<(&str, &ObjectRef), usize> = HashMap::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            latest.insert((item.provider.as_str(), &item.object), index);
        }
        let mut unique: Vec<usize> = latest.into_values().collect();
        // Rows go in object order, the order the worker sets jobs back in: two batches that
        // touch the same objects then wait for each other instead of deadlocking.
        unique.sort_unstable_by(|&a, &b| {
            (items[a].provider.as_str(), &items[a].object)
                .cmp(&(items[b].provider.as_str(), &items[b].object))
        });
        let mut summary = BatchSummary {
            coalesced: items.len() - unique.len(),
            ..BatchSummary::default()
        };
        let now = self.now_ms();
        let postgres = is_postgres(conn);
        let chunk_rows = if postgres { UNNEST_ROWS } else { BATCH_ROWS };
        for chunk in unique.chunks(chunk_rows) {
            let rows: Vec<[Value; 8]> = chunk
                .iter()
                .map(|&index| {
                    let item = &items[index];
                    row_values(
                        &item.provider,
                        &item.object,
                        &item.triggered_by,
                        &item.options,
                        snapshots[index].take(),
                        now,
                    )
                })
                .collect();
            let (sql, values) = batch_statement(rows, postgres);
            let rows = conn
                .query_all_raw(statement(conn, &sql, values))
                .await
                .map_err(QueueError::db("enqueueing a batch of jobs"))?;
            let read = || QueueError::db("reading the enqueued jobs");
            if postgres {
                // One row of counts (see `unnest_insert_sql`).
                let row = rows.first().ok_or_else(|| QueueError::Corrupt {
                    job: 0,
                    problem: "a batch enqueue returned no counts".into(),
                })?;
                let created: i64 = get(row, "created").map_err(read())?;
                let total: i64 = get(row, "total").map_err(read())?;
                summary.created += usize::try_from(created).unwrap_or_default();
                summary.coalesced += usize::try_from(total - created).unwrap_or_default();
                continue;
            }
            for row in rows {
                let coalesced: i32 = get(&row, "coalesced").map_err(read())?;
                if coalesced == 0 {
                    summary.created += 1;
                } else {
                    summary.coalesced += 1;
                }
            }
        }
        if postgres && unique.len() >= ANALYZE_AFTER_ROWS {
            // Fresh statistics for the operator's queries; the worker's claim does not
            // depend on them.
            conn.execute_unprepared("ANALYZE sync_queue")
                .await
                .map_err(QueueError::db("analysing the queue after a large enqueue"))?;
        }
        self.wake();
        Ok(summary)
    }
}

/// The statement and values inserting `rows`: `UNNEST` on PostgreSQL, `VALUES` on SQLite.
fn batch_statement(rows: Vec<[Value; 8]>, postgres: bool) -> (String, Vec<Value>) {
    #[cfg(feature = "postgres")]
    if postgres {
        return (unnest_insert_sql(), unnest_values(rows));
    }
    let sql = insert_sql(rows.len(), postgres);
    (sql, rows.into_iter().flatten().collect())
}

/// The 8 column values of one job row. `not_before` is `-1` when the enqueue did not ask for
/// a time, so a merge keeps the pending row's time (a new row then runs at once).
fn row_values(
    provider: &str,
    object: &ObjectRef,
    triggered_by: &str,
    options: &EnqueueOptions,
    snapshot: Option<String>,
    now: i64,
) -> [Value; 8] {
    let not_before = match (options.immediate, options.not_before_ms) {
        (true, _) => now,
        (false, Some(at)) => at,
        (false, None) => -1,
    };
    [
        provider.into(),
        object.object_type.as_str().into(),
        object.id.as_str().into(),
        snapshot.into(),
        triggered_by.into(),
        now.into(),
        not_before.into(),
        i32::from(options.force).into(),
    ]
}
