//! The operator API: what the server and the CLI expose to inspect and steer the queue.

use super::Queue;
use super::entity::{sync_queue, sync_result};
use super::error::QueueError;
use super::job::Job;
use super::select::JobFilter;
use super::sql::{get, statement};
use super::views::{Run, StoredResult};
use outsync_core::ObjectRef;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::BTreeMap;

/// Everything the queue knows about one object: its jobs, stored results and latest runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectState {
    /// Its jobs (pending, snoozed, running or stopped), oldest first.
    pub jobs: Vec<Job>,
    /// Its stored results, by provider, mapping and child.
    pub results: Vec<StoredResult>,
    /// Its latest runs, newest first.
    pub runs: Vec<Run>,
}

/// Job counts by provider and state (`due`, `scheduled`, `running`, or a failure mode).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// provider → state → count.
    pub by_provider: BTreeMap<String, BTreeMap<String, i64>>,
}

impl QueueStats {
    /// The number of jobs in `state` over all providers.
    pub fn total(&self, state: &str) -> i64 {
        self.by_provider
            .values()
            .filter_map(|states| states.get(state))
            .sum()
    }

    /// All jobs.
    pub fn jobs(&self) -> i64 {
        self.by_provider
            .values()
            .flat_map(|states| states.values())
            .sum()
    }
}

impl Queue {
    /// The object types that have a job, a stored result or a run with object id `id`
    /// (the dashboard's search by id alone).
    pub async fn object_types_with_id<C: ConnectionTrait>(
        &self,
        conn: &C,
        id: &str,
    ) -> Result<Vec<String>, QueueError> {
        let rows = conn
            .query_all_raw(statement(
                conn,
                "SELECT object_type FROM sync_queue WHERE object_id = $1 \
                 UNION SELECT object_type FROM sync_result WHERE object_id = $1 \
                 UNION SELECT object_type FROM sync_run WHERE object_id = $1 ORDER BY object_type",
                vec![id.into()],
            ))
            .await
            .map_err(QueueError::db("finding an object by id"))?;
        rows.iter()
            .map(|row| get::<String>(row, "object_type"))
            .collect::<Result<_, _>>()
            .map_err(QueueError::db("finding an object by id"))
    }

    /// The newest job id and the newest run id (0 when none): they move whenever a job is
    /// enqueued or a run recorded, so that, with [`stats`](Self::stats), a watcher can tell
    /// that something happened. Two reads of primary keys.
    pub async fn activity_marker<C: ConnectionTrait>(
        &self,
        conn: &C,
    ) -> Result<(i64, i64), QueueError> {
        let row = conn
            .query_one_raw(statement(
                conn,
                "SELECT (SELECT COALESCE(MAX(id), 0) FROM sync_queue) AS job, \
                 (SELECT COALESCE(MAX(id), 0) FROM sync_run) AS run",
                Vec::new(),
            ))
            .await
            .map_err(QueueError::db("reading the newest job and run"))?;
        let read = |name: &str| -> Result<i64, QueueError> {
            row.as_ref()
                .map(|row| get::<i64>(row, name))
                .transpose()
                .map(Option::unwrap_or_default)
                .map_err(QueueError::db("reading the newest job and run"))
        };
        Ok((read("job")?, read("run")?))
    }

    /// One job.
    pub async fn job<C: ConnectionTrait>(&self, conn: &C, id: i64) -> Result<Job, QueueError> {
        self.job_row(conn, id).await.map(Job::from)
    }

    pub(crate) async fn job_row<C: ConnectionTrait>(
        &self,
        conn: &C,
        id: i64,
    ) -> Result<sync_queue::Model, QueueError> {
        sync_queue::Entity::find_by_id(id)
            .one(conn)
            .await
            .map_err(QueueError::db("reading a job"))?
            .ok_or(QueueError::JobNotFound(id))
    }

    /// When the longest-waiting due job became due (ms), if any job is waiting: one read of
    /// the index of due jobs, however long the queue.
    pub async fn oldest_due_ms<C: ConnectionTrait>(
        &self,
        conn: &C,
    ) -> Result<Option<i64>, QueueError> {
        let row = conn
            .query_one_raw(statement(
                conn,
                // Not MIN(): PostgreSQL without statistics read the whole index for it
                // (80 ms at 100,000 jobs); the first entry in order is 0.08 ms.
                "SELECT not_before AS oldest FROM sync_queue \
                 WHERE lease_owner IS NULL AND failure_mode IS NULL AND not_before <= $1 \
                 ORDER BY not_before LIMIT 1",
                vec![self.now_ms().into()],
            ))
            .await
            .map_err(QueueError::db("reading the oldest due job"))?;
        row.map(|row| get::<Option<i64>>(&row, "oldest"))
            .transpose()
            .map(Option::flatten)
            .map_err(QueueError::db("reading the oldest due job"))
    }

    /// Counts jobs by provider and state, from the job tally the queue's triggers keep (a
    /// few rows however long the queue) and the jobs scheduled later than now.
    pub async fn stats<C: ConnectionTrait>(&self, conn: &C) -> Result<QueueStats, QueueError> {
        Ok(QueueStats {
            by_provider: crate::tally::read(conn, self.now_ms()).await?,
        })
    }

    /// The stored results of one object (all providers, or one).
    pub async fn results<C: ConnectionTrait>(
        &self,
        conn: &C,
        object: &ObjectRef,
        provider: Option<&str>,
    ) -> Result<Vec<StoredResult>, QueueError> {
        use sync_result::Column;
        let mut query = sync_result::Entity::find()
            .filter(Column::ObjectType.eq(object.object_type.as_str()))
            .filter(Column::ObjectId.eq(object.id.as_str()))
            .order_by_asc(Column::Provider)
            .order_by_asc(Column::MappingId)
            .order_by_asc(Column::ChildId);
        if let Some(provider) = provider {
            query = query.filter(Column::Provider.eq(provider));
        }
        let rows = query
            .all(conn)
            .await
            .map_err(QueueError::db("reading sync results"))?;
        rows.into_iter().map(StoredResult::try_from).collect()
    }

    /// The jobs, results and last `runs` runs of `object` (what the API and the dashboard
    /// show for one object).
    pub async fn object_state<C: ConnectionTrait>(
        &self,
        conn: &C,
        object: &ObjectRef,
        runs: u64,
    ) -> Result<ObjectState, QueueError> {
        let filter = JobFilter {
            object: Some(object.clone()),
            limit: 100,
            ..JobFilter::default()
        };
        Ok(ObjectState {
            jobs: self.list_jobs(conn, &filter).await?,
            results: self.results(conn, object, None).await?,
            runs: self.recent_runs(conn, runs, Some(object)).await?,
        })
    }
}
