//! The operator API: what the server and the CLI expose to inspect and steer the queue.

use super::Queue;
use super::entity::{sync_queue, sync_result};
use super::error::QueueError;
use super::job::{Job, JobState, StateFilter};
use super::outcome::RunOutcome;
use super::sql::{get, statement};
use super::store::{RunRecord, insert_runs};
use super::views::{Run, StoredResult};
use outsync_core::ObjectRef;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use std::collections::BTreeMap;

/// Which jobs to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only jobs in this state.
    pub state: Option<StateFilter>,
    /// Only jobs of this provider.
    pub provider: Option<String>,
    /// Only jobs of this object.
    pub object: Option<ObjectRef>,
    /// At most this many (0 = 100).
    pub limit: u64,
    /// Skip this many.
    pub offset: u64,
}

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
    /// Lists jobs, oldest first.
    pub async fn list_jobs<C: ConnectionTrait>(
        &self,
        conn: &C,
        filter: &JobFilter,
    ) -> Result<Vec<Job>, QueueError> {
        use sync_queue::Column;
        let mut query = sync_queue::Entity::find().order_by_asc(Column::Id);
        let pending = |query: sea_orm::Select<sync_queue::Entity>| {
            query
                .filter(Column::LeaseOwner.is_null())
                .filter(Column::FailureMode.is_null())
        };
        query = match filter.state {
            None => query,
            Some(StateFilter::Is(JobState::Pending)) => {
                pending(query).filter(Column::SnoozedSince.is_null())
            }
            Some(StateFilter::Is(JobState::Snoozed)) => {
                pending(query).filter(Column::SnoozedSince.is_not_null())
            }
            Some(StateFilter::Is(JobState::Running)) => {
                query.filter(Column::LeaseOwner.is_not_null())
            }
            Some(StateFilter::Stopped) => query.filter(Column::FailureMode.is_not_null()),
            Some(StateFilter::Is(JobState::Stopped(mode))) => {
                query.filter(Column::FailureMode.eq(mode.as_str()))
            }
        };
        if let Some(provider) = &filter.provider {
            query = query.filter(Column::Provider.eq(provider.as_str()));
        }
        if let Some(object) = &filter.object {
            query = query
                .filter(Column::ObjectType.eq(object.object_type.as_str()))
                .filter(Column::ObjectId.eq(object.id.as_str()));
        }
        let limit = if filter.limit == 0 { 100 } else { filter.limit };
        let rows = query
            .offset(filter.offset)
            .limit(limit)
            .all(conn)
            .await
            .map_err(QueueError::db("listing jobs"))?;
        Ok(rows.into_iter().map(Job::from).collect())
    }

    /// One job.
    pub async fn job<C: ConnectionTrait>(&self, conn: &C, id: i64) -> Result<Job, QueueError> {
        self.job_row(conn, id).await.map(Job::from)
    }

    async fn job_row<C: ConnectionTrait>(
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

    /// Makes a job due now: a stopped job loses its failure mode and attempt count (the
    /// operator fixed the cause), a scheduled one skips its wait. If the object has another
    /// pending job, that one is made due and this one removed (one pending job per
    /// object). A running job is left alone.
    pub async fn retry(&self, conn: &DatabaseConnection, id: i64) -> Result<(), QueueError> {
        let job = self.job_row(conn, id).await?;
        if job.lease_owner.is_some() {
            return Ok(());
        }
        let now = self.now_ms();
        let tx = super::sql::begin_write(conn)
            .await
            .map_err(QueueError::db("starting a transaction"))?;
        let sibling = tx
            .query_one_raw(statement(
                &tx,
                "SELECT id FROM sync_queue WHERE provider = $1 AND object_type = $2 AND object_id = $3 \
                 AND lease_owner IS NULL AND failure_mode IS NULL AND id <> $4",
                vec![job.provider.as_str().into(), job.object_type.as_str().into(), job.object_id.as_str().into(), id.into()],
            ))
            .await
            .map_err(QueueError::db("retrying a job"))?;
        if let Some(sibling) = sibling {
            let sibling_id: i64 = get(&sibling, "id").map_err(QueueError::db("retrying a job"))?;
            tx.execute_raw(statement(
                &tx,
                "DELETE FROM sync_queue WHERE id = $1",
                vec![id.into()],
            ))
            .await
            .map_err(QueueError::db("retrying a job"))?;
            tx.execute_raw(statement(
                &tx,
                "UPDATE sync_queue SET not_before = $1, failed_attempts = 0 WHERE id = $2",
                vec![now.into(), sibling_id.into()],
            ))
            .await
            .map_err(QueueError::db("retrying a job"))?;
        } else {
            tx.execute_raw(statement(
                &tx,
                "UPDATE sync_queue SET failure_mode = NULL, failed_attempts = 0, not_before = $1 \
                 WHERE id = $2 AND lease_owner IS NULL",
                vec![now.into(), id.into()],
            ))
            .await
            .map_err(QueueError::db("retrying a job"))?;
        }
        tx.commit()
            .await
            .map_err(QueueError::db("retrying a job"))?;
        self.wake();
        Ok(())
    }

    /// Removes a job, whatever its state, with a run record saying it was cancelled. A
    /// worker still running it finds its lease gone and records nothing.
    pub async fn cancel(&self, conn: &DatabaseConnection, id: i64) -> Result<(), QueueError> {
        let job = self.job_row(conn, id).await?;
        let tx = super::sql::begin_write(conn)
            .await
            .map_err(QueueError::db("starting a transaction"))?;
        tx.execute_raw(statement(
            &tx,
            "DELETE FROM sync_queue WHERE id = $1",
            vec![id.into()],
        ))
        .await
        .map_err(QueueError::db("cancelling a job"))?;
        let run = RunRecord {
            at: self.now_ms(),
            provider: job.provider,
            object: ObjectRef::new(job.object_type, job.object_id),
            job_id: Some(id),
            triggered_by: Some(job.triggered_by),
            attempt: job.failed_attempts,
            outcome: RunOutcome::Cancelled,
            actions: BTreeMap::new(),
            error: job.last_error,
            error_detail: None,
            duration_ms: 0,
            worker: None,
        };
        insert_runs(&tx, &[run]).await?;
        tx.commit()
            .await
            .map_err(QueueError::db("cancelling a job"))
    }

    /// Counts jobs by provider and state.
    pub async fn stats<C: ConnectionTrait>(&self, conn: &C) -> Result<QueueStats, QueueError> {
        let rows = conn
            .query_all_raw(statement(
                conn,
                "SELECT provider, CASE WHEN failure_mode IS NOT NULL THEN failure_mode \
                   WHEN lease_owner IS NOT NULL THEN 'running' \
                   WHEN not_before > $1 THEN 'scheduled' ELSE 'due' END AS state, \
                 COUNT(*) AS jobs FROM sync_queue GROUP BY 1, 2",
                vec![self.now_ms().into()],
            ))
            .await
            .map_err(QueueError::db("counting jobs"))?;
        let mut stats = QueueStats::default();
        for row in rows {
            let read = || -> Result<(String, String, i64), sea_orm::DbErr> {
                Ok((
                    get(&row, "provider")?,
                    get(&row, "state")?,
                    get(&row, "jobs")?,
                ))
            };
            let (provider, state, jobs) = read().map_err(QueueError::db("counting jobs"))?;
            stats
                .by_provider
                .entry(provider)
                .or_default()
                .insert(state, jobs);
        }
        Ok(stats)
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
