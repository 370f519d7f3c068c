//! Retrying and cancelling jobs: one job by id, or every job a [`JobFilter`] selects (the
//! operator's "select all matching"), in transactions of [`CHUNK`] jobs.

use super::Queue;
use super::entity::sync_queue;
use super::error::QueueError;
use super::outcome::RunOutcome;
use super::select::{JobFilter, JobSort};
use super::sql::{begin_write, get, statement};
use super::store::{RunRecord, insert_runs};
use outsync_core::ObjectRef;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction};
use std::collections::BTreeMap;

/// Jobs changed per transaction by the bulk actions.
const CHUNK: u64 = 500;

/// Makes `job` due now (see [`Queue::retry`]); `false` if it is running.
async fn retry_row(
    tx: &DatabaseTransaction,
    job: &sync_queue::Model,
    now: i64,
) -> Result<bool, QueueError> {
    if job.lease_owner.is_some() {
        return Ok(false);
    }
    let sibling = tx
        .query_one_raw(statement(
            tx,
            "SELECT id FROM sync_queue WHERE provider = $1 AND object_type = $2 AND object_id = $3 \
             AND lease_owner IS NULL AND failure_mode IS NULL AND id <> $4",
            vec![
                job.provider.as_str().into(),
                job.object_type.as_str().into(),
                job.object_id.as_str().into(),
                job.id.into(),
            ],
        ))
        .await
        .map_err(QueueError::db("retrying a job"))?;
    if let Some(sibling) = sibling {
        let sibling_id: i64 = get(&sibling, "id").map_err(QueueError::db("retrying a job"))?;
        tx.execute_raw(statement(
            tx,
            "DELETE FROM sync_queue WHERE id = $1",
            vec![job.id.into()],
        ))
        .await
        .map_err(QueueError::db("retrying a job"))?;
        tx.execute_raw(statement(
            tx,
            "UPDATE sync_queue SET not_before = $1, failed_attempts = 0 WHERE id = $2",
            vec![now.into(), sibling_id.into()],
        ))
        .await
        .map_err(QueueError::db("retrying a job"))?;
    } else {
        tx.execute_raw(statement(
            tx,
            "UPDATE sync_queue SET failure_mode = NULL, failed_attempts = 0, not_before = $1 \
             WHERE id = $2 AND lease_owner IS NULL",
            vec![now.into(), job.id.into()],
        ))
        .await
        .map_err(QueueError::db("retrying a job"))?;
    }
    Ok(true)
}

/// Removes `job`; the run record saying so.
async fn cancel_row(
    tx: &DatabaseTransaction,
    job: &sync_queue::Model,
    now: i64,
) -> Result<RunRecord, QueueError> {
    tx.execute_raw(statement(
        tx,
        "DELETE FROM sync_queue WHERE id = $1",
        vec![job.id.into()],
    ))
    .await
    .map_err(QueueError::db("cancelling a job"))?;
    Ok(RunRecord {
        at: now,
        provider: job.provider.clone(),
        object: ObjectRef::new(job.object_type.clone(), job.object_id.clone()),
        job_id: Some(job.id),
        triggered_by: Some(job.triggered_by.clone()),
        attempt: job.failed_attempts,
        outcome: RunOutcome::Cancelled,
        actions: BTreeMap::new(),
        error: job.last_error.clone(),
        error_detail: None,
        duration_ms: 0,
        worker: None,
        mapping_version: None,
    })
}

/// What a bulk action does to each job of a chunk.
#[derive(Clone, Copy)]
enum Action {
    Retry,
    /// Retry, sending even what the provider believes unchanged.
    Force,
    Cancel,
}

impl Queue {
    /// Makes a job due now: a stopped job loses its failure mode and attempt count (the
    /// operator fixed the cause), a scheduled one skips its wait. If the object has another
    /// pending job, that one is made due and this one removed (one pending job per
    /// object). A running job is left alone.
    pub async fn retry(&self, conn: &DatabaseConnection, id: i64) -> Result<(), QueueError> {
        let job = self.job_row(conn, id).await?;
        self.act_on(conn, &[job], Action::Retry).await?;
        Ok(())
    }

    /// Removes a job, whatever its state, with a run record saying it was cancelled. A
    /// worker still running it finds its lease gone and records nothing.
    pub async fn cancel(&self, conn: &DatabaseConnection, id: i64) -> Result<(), QueueError> {
        let job = self.job_row(conn, id).await?;
        self.act_on(conn, &[job], Action::Cancel).await?;
        Ok(())
    }

    /// Marks the waiting jobs of `object` (pending, snoozed or stopped; not running) to
    /// send even what the provider believes unchanged, and makes them due now as
    /// [`retry`](Self::retry) does. Returns how many.
    pub async fn force_waiting(
        &self,
        conn: &DatabaseConnection,
        object: &ObjectRef,
    ) -> Result<u64, QueueError> {
        let filter = JobFilter {
            object: Some(object.clone()),
            ..JobFilter::default()
        };
        let rows = self.rows_matching(conn, &filter).await?;
        self.act_on(conn, &rows, Action::Force).await
    }

    /// Retries every job `filter` selects (its order, position and limit aside), as
    /// [`retry`](Self::retry) does one; running jobs are left alone. Returns how many were
    /// retried.
    pub async fn retry_matching(
        &self,
        conn: &DatabaseConnection,
        filter: &JobFilter,
    ) -> Result<u64, QueueError> {
        self.act_on_matching(conn, filter, Action::Retry).await
    }

    /// Cancels every job `filter` selects (its order, position and limit aside), as
    /// [`cancel`](Self::cancel) does one. Returns how many were cancelled.
    pub async fn cancel_matching(
        &self,
        conn: &DatabaseConnection,
        filter: &JobFilter,
    ) -> Result<u64, QueueError> {
        self.act_on_matching(conn, filter, Action::Cancel).await
    }

    async fn act_on_matching(
        &self,
        conn: &DatabaseConnection,
        filter: &JobFilter,
        action: Action,
    ) -> Result<u64, QueueError> {
        // Walk the selection by id: a retried job may no longer match the filter, and a
        // job enqueued meanwhile comes after the walk's end or is taken along.
        let mut walk = JobFilter {
            sort: JobSort::Oldest,
            after: None,
            offset: 0,
            limit: CHUNK,
            ..filter.clone()
        };
        let mut done = 0;
        loop {
            let rows = self.rows_matching(conn, &walk).await?;
            let Some(last) = rows.last() else { break };
            walk.after = Some(last.id.to_string());
            done += self.act_on(conn, &rows, action).await?;
        }
        Ok(done)
    }

    /// Applies `action` to `jobs` in one transaction; returns how many it changed.
    async fn act_on(
        &self,
        conn: &DatabaseConnection,
        jobs: &[sync_queue::Model],
        action: Action,
    ) -> Result<u64, QueueError> {
        let now = self.now_ms();
        let tx = begin_write(conn)
            .await
            .map_err(QueueError::db("starting a transaction"))?;
        let mut changed = 0;
        let mut runs = Vec::new();
        for job in jobs {
            match action {
                Action::Retry => changed += u64::from(retry_row(&tx, job, now).await?),
                Action::Force => {
                    tx.execute_raw(statement(
                        &tx,
                        "UPDATE sync_queue SET force_send = 1 WHERE id = $1 AND lease_owner IS NULL",
                        vec![job.id.into()],
                    ))
                    .await
                    .map_err(QueueError::db("forcing a job"))?;
                    changed += u64::from(retry_row(&tx, job, now).await?);
                }
                Action::Cancel => {
                    runs.push(cancel_row(&tx, job, now).await?);
                    changed += 1;
                }
            }
        }
        insert_runs(&tx, &runs).await?;
        tx.commit()
            .await
            .map_err(QueueError::db("committing an operator action"))?;
        crate::metrics::observe_runs(&runs);
        if !matches!(action, Action::Cancel) && changed > 0 {
            self.wake();
        }
        Ok(changed)
    }
}
