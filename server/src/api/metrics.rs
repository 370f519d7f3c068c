//! `GET /metrics` in Prometheus' text format: queue depth by provider and state, and runs
//! by provider and outcome with a histogram of their durations (over retained runs).

use super::AppState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use outsync_queue::sea_orm::{ConnectionTrait, Statement};
use std::fmt::Write;
use std::sync::Arc;

const BUCKETS_MS: [i64; 11] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub(crate) async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    match render(&state).await {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, error).into_response(),
    }
}

async fn render(state: &AppState) -> Result<String, String> {
    let mut out = String::new();
    let stats = state
        .queue
        .stats(&state.db)
        .await
        .map_err(|e| e.to_string())?;
    out.push_str("# HELP outsync_queue_jobs Jobs in the queue by provider and state.\n# TYPE outsync_queue_jobs gauge\n");
    for (provider, states) in &stats.by_provider {
        for (job_state, jobs) in states {
            let _ = writeln!(
                out,
                "outsync_queue_jobs{{provider=\"{}\",state=\"{}\"}} {jobs}",
                label(provider),
                label(job_state)
            );
        }
    }
    out.push_str("# HELP outsync_unknown_provider_jobs Jobs of providers this service does not run; they wait for a worker that does.\n# TYPE outsync_unknown_provider_jobs gauge\n");
    for (provider, jobs) in state.worker.unknown_provider_jobs() {
        let _ = writeln!(
            out,
            "outsync_unknown_provider_jobs{{provider=\"{}\"}} {jobs}",
            label(&provider)
        );
    }
    let buckets: Vec<String> = BUCKETS_MS
        .iter()
        .map(|b| format!("SUM(CASE WHEN duration_ms <= {b} THEN 1 ELSE 0 END) AS le_{b}"))
        .collect();
    let sql = format!(
        "SELECT provider, outcome, COUNT(*) AS runs, CAST(COALESCE(SUM(duration_ms), 0) AS BIGINT) AS total_ms, {} FROM sync_run GROUP BY provider, outcome",
        buckets.join(", ")
    );
    let backend = state.db.get_database_backend();
    let rows = state
        .db
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .map_err(|e| e.to_string())?;
    out.push_str("# HELP outsync_runs Runs recorded (retained) by provider and outcome.\n# TYPE outsync_runs gauge\n");
    let mut histogram = String::from(
        "# HELP outsync_sync_duration_seconds Duration of retained runs.\n# TYPE outsync_sync_duration_seconds histogram\n",
    );
    for row in rows {
        let provider: String = row.try_get("", "provider").map_err(|e| e.to_string())?;
        let outcome: String = row.try_get("", "outcome").map_err(|e| e.to_string())?;
        let runs: i64 = row.try_get("", "runs").map_err(|e| e.to_string())?;
        let total_ms: i64 = row.try_get("", "total_ms").map_err(|e| e.to_string())?;
        let labels = format!(
            "provider=\"{}\",outcome=\"{}\"",
            label(&provider),
            label(&outcome)
        );
        let _ = writeln!(out, "outsync_runs{{{labels}}} {runs}");
        for bucket in BUCKETS_MS {
            let count: i64 = row
                .try_get("", &format!("le_{bucket}"))
                .map_err(|e| e.to_string())?;
            #[allow(clippy::cast_precision_loss)]
            let seconds = bucket as f64 / 1000.0;
            let _ = writeln!(
                histogram,
                "outsync_sync_duration_seconds_bucket{{{labels},le=\"{seconds}\"}} {count}"
            );
        }
        let _ = writeln!(
            histogram,
            "outsync_sync_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {runs}"
        );
        #[allow(clippy::cast_precision_loss)]
        let total = total_ms as f64 / 1000.0;
        let _ = writeln!(
            histogram,
            "outsync_sync_duration_seconds_sum{{{labels}}} {total}"
        );
        let _ = writeln!(
            histogram,
            "outsync_sync_duration_seconds_count{{{labels}}} {runs}"
        );
    }
    out.push_str(&histogram);
    Ok(out)
}
