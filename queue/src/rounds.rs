//! Sync rounds: what each `syncall`, `syncast` and scheduler round did, kept in the
//! database (`sync_round`) so that `GET /api/synlast` shows them across restarts and
//! across the processes that share the queue.

use super::Queue;
use super::error::QueueError;
use super::sql::{get, statement};
use sea_orm::ConnectionTrait;
use serde_json::Value;
use std::collections::BTreeMap;

/// Rounds kept; older ones are removed as new ones are recorded.
pub const ROUNDS_KEPT: i64 = 1000;

/// One recorded round.
#[derive(Debug, Clone, PartialEq)]
pub struct Round {
    /// When it ended (ms since the epoch).
    pub at: i64,
    /// Who ran it: `api` or `scheduler`.
    pub origin: String,
    /// Whether it ran (`false`: it failed, `data` says why).
    pub ok: bool,
    /// What it did (`"3 synced"`) or why it failed.
    pub data: Value,
}

impl Queue {
    /// Records a round that ended now, and forgets all but the last [`ROUNDS_KEPT`].
    pub async fn record_round<C: ConnectionTrait>(
        &self,
        conn: &C,
        origin: &str,
        ok: bool,
        data: &Value,
    ) -> Result<(), QueueError> {
        conn.execute_raw(statement(
            conn,
            "INSERT INTO sync_round (at, origin, ok, data) VALUES ($1, $2, $3, $4)",
            vec![
                self.now_ms().into(),
                origin.into(),
                i32::from(ok).into(),
                data.to_string().into(),
            ],
        ))
        .await
        .map_err(QueueError::db("recording a sync round"))?;
        conn.execute_raw(statement(
            conn,
            "DELETE FROM sync_round WHERE id <= (SELECT MAX(id) FROM sync_round) - $1",
            vec![ROUNDS_KEPT.into()],
        ))
        .await
        .map_err(QueueError::db("forgetting old sync rounds"))?;
        Ok(())
    }

    /// The last `count` rounds, oldest first.
    pub async fn recent_rounds<C: ConnectionTrait>(
        &self,
        conn: &C,
        count: u64,
    ) -> Result<Vec<Round>, QueueError> {
        let rows = conn
            .query_all_raw(statement(
                conn,
                "SELECT at, origin, ok, data FROM sync_round ORDER BY id DESC LIMIT $1",
                vec![i64::try_from(count).unwrap_or(i64::MAX).into()],
            ))
            .await
            .map_err(QueueError::db("reading sync rounds"))?;
        let mut rounds = Vec::with_capacity(rows.len());
        for row in rows.iter().rev() {
            let read = || -> Result<Round, sea_orm::DbErr> {
                let data: String = get(row, "data")?;
                Ok(Round {
                    at: get(row, "at")?,
                    origin: get(row, "origin")?,
                    ok: get::<i32>(row, "ok")? != 0,
                    data: serde_json::from_str(&data).unwrap_or(Value::String(data)),
                })
            };
            rounds.push(read().map_err(QueueError::db("reading sync rounds"))?);
        }
        Ok(rounds)
    }

    /// How the runs recorded after `since_ms` ended, by outcome (what a scheduler round
    /// reports of the workers' progress).
    pub async fn runs_since<C: ConnectionTrait>(
        &self,
        conn: &C,
        since_ms: i64,
    ) -> Result<BTreeMap<String, u64>, QueueError> {
        let rows = conn
            .query_all_raw(statement(
                conn,
                "SELECT outcome, COUNT(*) AS runs FROM sync_run WHERE at > $1 GROUP BY outcome",
                vec![since_ms.into()],
            ))
            .await
            .map_err(QueueError::db("counting recent runs"))?;
        let mut counts = BTreeMap::new();
        for row in rows {
            let read = || -> Result<(String, i64), sea_orm::DbErr> {
                Ok((get(&row, "outcome")?, get(&row, "runs")?))
            };
            let (outcome, runs) = read().map_err(QueueError::db("counting recent runs"))?;
            counts.insert(outcome, u64::try_from(runs).unwrap_or_default());
        }
        Ok(counts)
    }
}
