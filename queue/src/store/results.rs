//! Stored results (`sync_result`) and run records (`sync_run`).

use super::claim::ClaimedJob;
use super::record::RunRecord;
use crate::error::QueueError;
use crate::sql::{get, statement, values_list};
use outsync_core::ObjectRef;
use outsync_core::provider::MappedObjects;
use sea_orm::{ConnectionTrait, DatabaseConnection, Value};

/// What earlier runs stored for `object` by `provider`, by mapping and child.
pub(crate) async fn previous_results(
    db: &DatabaseConnection,
    provider: &str,
    object: &ObjectRef,
) -> Result<outsync_core::PreviousResults, QueueError> {
    let rows = db
        .query_all_raw(statement(
            db,
            "SELECT mapping_id, child_id, id_value, action, sync_info, transmitted_at, external_link_href, \
             external_link_display_name, payload_digest FROM sync_result \
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
                    external_link_href: get(&row, "external_link_href")?,
                    external_link_display_name: get(&row, "external_link_display_name")?,
                    payload_digest: get(&row, "payload_digest")?,
                },
            ))
        };
        let (mapping, child, result) =
            read().map_err(QueueError::db("reading previous results"))?;
        previous.insert(mapping, child, result);
    }
    Ok(previous)
}

/// One `sync_result` row.
#[derive(Debug, Clone)]
pub(super) struct ResultRow {
    pub(super) child_id: String,
    pub(super) mapping_id: String,
    values: [Value; 14],
}

pub(super) fn result_rows(job: &ClaimedJob, mapped: &MappedObjects, now: i64) -> Vec<ResultRow> {
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
                    outcome.payload_digest.clone().into(),
                ],
            });
        }
    }
    rows
}

pub(super) async fn upsert_results<C: ConnectionTrait>(
    conn: &C,
    rows: &[ResultRow],
) -> Result<(), QueueError> {
    for chunk in rows.chunks(1000) {
        let sql = format!(
            "INSERT INTO sync_result (provider, object_type, object_id, child_id, mapping_id, \
             external_object_type, external_id_field, id_value, external_link_href, \
             external_link_display_name, action, sync_info, transmitted_at, payload_digest) VALUES {} \
             ON CONFLICT (provider, object_type, object_id, child_id, mapping_id) DO UPDATE SET \
             external_object_type = excluded.external_object_type, external_id_field = excluded.external_id_field, \
             id_value = excluded.id_value, external_link_href = excluded.external_link_href, \
             external_link_display_name = excluded.external_link_display_name, action = excluded.action, \
             sync_info = excluded.sync_info, transmitted_at = excluded.transmitted_at, \
             payload_digest = excluded.payload_digest",
            values_list(chunk.len(), 14, 0)
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
             outcome, actions, error, error_detail, duration_ms, worker, mapping_version) VALUES {}",
            values_list(chunk.len(), 14, 0)
        );
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 14);
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
                run.mapping_version.into(),
            ]);
        }
        conn.execute_raw(statement(conn, &sql, values))
            .await
            .map_err(QueueError::db("recording runs"))?;
    }
    Ok(())
}
