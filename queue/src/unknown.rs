//! Jobs of providers a worker does not run. They are never removed by a worker: another
//! worker (or a later configuration) may run them. Workers count them for a gauge and a
//! warning; removing them is an operator's act ([`Queue::purge_provider`]).

use super::error::QueueError;
use super::outcome::RunOutcome;
use super::sql::{get, statement};
use super::store::{RunRecord, insert_runs};
use super::{FailureMode, Queue};
use outsync_core::ObjectRef;
use sea_orm::{ConnectionTrait, DatabaseConnection, Value};
use std::collections::BTreeMap;

fn not_in(known: &[String], first: usize) -> (String, Vec<Value>) {
    if known.is_empty() {
        return ("TRUE".to_owned(), Vec::new());
    }
    let placeholders: Vec<String> = (0..known.len())
        .map(|i| format!("${}", i + first))
        .collect();
    (
        format!("provider NOT IN ({})", placeholders.join(",")),
        known.iter().map(|p| Value::from(p.as_str())).collect(),
    )
}

/// Jobs not leased, by provider, of every provider not in `known`.
pub(crate) async fn count_unknown(
    db: &DatabaseConnection,
    known: &[String],
) -> Result<BTreeMap<String, u64>, QueueError> {
    let (condition, values) = not_in(known, 1);
    let rows = db
        .query_all_raw(statement(
            db,
            &format!(
                "SELECT provider, COUNT(*) AS jobs FROM sync_queue \
                 WHERE {condition} GROUP BY provider"
            ),
            values,
        ))
        .await
        .map_err(QueueError::db(
            "counting jobs of providers this worker does not run",
        ))?;
    let mut counts = BTreeMap::new();
    for row in rows {
        let provider: String =
            get(&row, "provider").map_err(QueueError::db("reading job counts"))?;
        let jobs: i64 = get(&row, "jobs").map_err(QueueError::db("reading job counts"))?;
        counts.insert(provider, u64::try_from(jobs).unwrap_or_default());
    }
    Ok(counts)
}

/// Stops the pending jobs of providers not in `known` with failure mode `config`, so that
/// they show among the sync problems (the `stop` policy). Nothing is deleted.
pub(crate) async fn stop_unknown(
    db: &DatabaseConnection,
    known: &[String],
    worker: &str,
) -> Result<u64, QueueError> {
    let (condition, mut values) = not_in(known, 2);
    values.insert(
        0,
        Value::from(format!(
            "no worker runs this provider: worker {worker} does not have it configured; \
             configure it, or remove its jobs with `outsync jobs purge --provider NAME --yes`"
        )),
    );
    let result = db
        .execute_raw(statement(
            db,
            &format!(
                "UPDATE sync_queue SET failure_mode = '{}', last_error = $1 \
                 WHERE lease_owner IS NULL AND failure_mode IS NULL AND {condition}",
                FailureMode::Config.as_str()
            ),
            values,
        ))
        .await
        .map_err(QueueError::db(
            "stopping jobs of providers this worker does not run",
        ))?;
    Ok(result.rows_affected())
}

impl Queue {
    /// Removes every job of `provider` that no worker holds right now, with one run
    /// record each (outcome `dropped`), in one transaction. Returns how many. This is the
    /// operator's way (`outsync jobs purge`) to drop the jobs of a provider that was
    /// uninstalled; workers never remove jobs they cannot run.
    pub async fn purge_provider(
        &self,
        db: &DatabaseConnection,
        provider: &str,
    ) -> Result<u64, QueueError> {
        let tx = super::sql::begin_write(db)
            .await
            .map_err(QueueError::db("starting a transaction"))?;
        let rows = tx
            .query_all_raw(statement(
                &tx,
                "DELETE FROM sync_queue WHERE provider = $1 AND lease_owner IS NULL \
                 RETURNING id, object_type, object_id, triggered_by, failed_attempts",
                vec![provider.into()],
            ))
            .await
            .map_err(QueueError::db("purging a provider's jobs"))?;
        let now = self.now_ms();
        let mut runs = Vec::with_capacity(rows.len());
        for row in &rows {
            let read = || -> Result<RunRecord, sea_orm::DbErr> {
                Ok(RunRecord {
                    at: now,
                    provider: provider.to_owned(),
                    object: ObjectRef::new(
                        get::<String>(row, "object_type")?,
                        get::<String>(row, "object_id")?,
                    ),
                    job_id: Some(get(row, "id")?),
                    triggered_by: Some(get(row, "triggered_by")?),
                    attempt: get(row, "failed_attempts")?,
                    outcome: RunOutcome::Dropped,
                    actions: BTreeMap::new(),
                    error: Some(format!(
                        "an operator purged the jobs of provider \"{provider}\""
                    )),
                    error_detail: None,
                    duration_ms: 0,
                    worker: None,
                    mapping_version: None,
                })
            };
            runs.push(read().map_err(QueueError::db("reading purged jobs"))?);
        }
        insert_runs(&tx, &runs).await?;
        tx.commit()
            .await
            .map_err(QueueError::db("purging a provider's jobs"))?;
        crate::metrics::observe_runs(&runs);
        Ok(runs.len() as u64)
    }

    /// How many jobs of `provider` a purge would remove (those no worker holds).
    pub async fn count_purgeable(
        &self,
        db: &DatabaseConnection,
        provider: &str,
    ) -> Result<u64, QueueError> {
        let row = db
            .query_one_raw(statement(
                db,
                "SELECT COUNT(*) AS jobs FROM sync_queue WHERE provider = $1 AND lease_owner IS NULL",
                vec![provider.into()],
            ))
            .await
            .map_err(QueueError::db("counting a provider's jobs"))?;
        let jobs: i64 = match row {
            Some(row) => get(&row, "jobs").map_err(QueueError::db("counting a provider's jobs"))?,
            None => 0,
        };
        Ok(u64::try_from(jobs).unwrap_or_default())
    }
}
