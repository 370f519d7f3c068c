//! The run history: recent runs, runs by outcome over time, and pruning.

use super::Queue;
use super::entity::sync_run;
use super::error::QueueError;
use super::sql::{get, statement};
use super::views::Run;
use outsync_core::ObjectRef;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

impl Queue {
    /// Runs since `since_ms` by time bucket of `bucket_ms` and outcome: (bucket number,
    /// i.e. time / `bucket_ms`, outcome, runs); one read of the runs' time index.
    pub async fn runs_by_outcome<C: ConnectionTrait>(
        &self,
        conn: &C,
        since_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<(i64, String, u64)>, QueueError> {
        let rows = conn
            .query_all_raw(statement(
                conn,
                "SELECT at / $2 AS bucket, outcome, COUNT(*) AS runs FROM sync_run WHERE at > $1 \
                 GROUP BY at / $2, outcome ORDER BY bucket",
                vec![since_ms.into(), bucket_ms.max(1).into()],
            ))
            .await
            .map_err(QueueError::db("counting runs by outcome"))?;
        rows.iter()
            .map(|row| {
                Ok((
                    get::<i64>(row, "bucket")?,
                    get::<String>(row, "outcome")?,
                    u64::try_from(get::<i64>(row, "runs")?).unwrap_or_default(),
                ))
            })
            .collect::<Result<_, sea_orm::DbErr>>()
            .map_err(QueueError::db("counting runs by outcome"))
    }

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
