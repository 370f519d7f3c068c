//! The run history: recent runs, their durations, and pruning.

use super::Queue;
use super::entity::sync_run;
use super::error::QueueError;
use super::outcome::RunOutcome;
use super::sql::{get, statement};
use super::views::{Run, RunDurations};
use outsync_core::ObjectRef;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

impl Queue {
    /// The last `count` runs, newest first (optionally of one object).
    pub async fn recent_runs<C: ConnectionTrait>(
        &self,
        conn: &C,
        count: u64,
        object: Option<&ObjectRef>,
    ) -> Result<Vec<Run>, QueueError> {
        use sync_run::Column;
        let mut query = sync_run::Entity::find()
            .order_by_desc(Column::Id)
            .limit(count);
        if let Some(object) = object {
            query = query
                .filter(Column::ObjectType.eq(object.object_type.as_str()))
                .filter(Column::ObjectId.eq(object.id.as_str()));
        }
        let rows = query
            .all(conn)
            .await
            .map_err(QueueError::db("reading runs"))?;
        rows.into_iter().map(Run::try_from).collect()
    }

    /// Retained runs by provider and outcome, with how many took at most each of
    /// `bounds_ms` (for a latency histogram).
    pub async fn run_durations<C: ConnectionTrait>(
        &self,
        conn: &C,
        bounds_ms: &[u64],
    ) -> Result<Vec<RunDurations>, QueueError> {
        let buckets: Vec<String> = bounds_ms
            .iter()
            .map(|b| format!("SUM(CASE WHEN duration_ms <= {b} THEN 1 ELSE 0 END) AS le_{b}"))
            .collect();
        let sql = format!(
            "SELECT provider, outcome, COUNT(*) AS runs, \
             CAST(COALESCE(SUM(duration_ms), 0) AS BIGINT) AS total_ms{}{} \
             FROM sync_run GROUP BY provider, outcome",
            if buckets.is_empty() { "" } else { ", " },
            buckets.join(", ")
        );
        let failed = QueueError::db("reading run durations");
        let rows = conn
            .query_all_raw(statement(conn, &sql, Vec::new()))
            .await
            .map_err(failed)?;
        let mut durations = Vec::with_capacity(rows.len());
        let count = |n: i64| u64::try_from(n).unwrap_or_default();
        for row in rows {
            let read = || -> Result<_, sea_orm::DbErr> {
                let mut at_most = Vec::with_capacity(bounds_ms.len());
                for bound in bounds_ms {
                    at_most.push((*bound, count(get(&row, &format!("le_{bound}"))?)));
                }
                Ok((
                    get::<String>(&row, "provider")?,
                    get::<String>(&row, "outcome")?,
                    count(get(&row, "runs")?),
                    count(get(&row, "total_ms")?),
                    at_most,
                ))
            };
            let (provider, outcome, runs, total_ms, at_most) =
                read().map_err(QueueError::db("reading run durations"))?;
            let outcome = RunOutcome::parse(&outcome).ok_or_else(|| QueueError::CorruptRecord {
                table: "sync_run",
                id: 0,
                problem: format!("unknown outcome \"{outcome}\""),
            })?;
            durations.push(RunDurations {
                provider,
                outcome,
                runs,
                total_ms,
                at_most,
            });
        }
        Ok(durations)
    }

    /// The number of run records.
    pub async fn count_runs<C: ConnectionTrait>(&self, conn: &C) -> Result<u64, QueueError> {
        sync_run::Entity::find()
            .count(conn)
            .await
            .map_err(QueueError::db("counting runs"))
    }

    /// Deletes run records older than `retention`; returns how many.
    pub async fn prune_runs<C: ConnectionTrait>(
        &self,
        conn: &C,
        retention: std::time::Duration,
    ) -> Result<u64, QueueError> {
        let cutoff = self.now_ms() - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        let result = sync_run::Entity::delete_many()
            .filter(sync_run::Column::At.lt(cutoff))
            .exec(conn)
            .await
            .map_err(QueueError::db("pruning runs"))?;
        Ok(result.rows_affected)
    }
}
