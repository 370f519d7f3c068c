//! `GET /metrics` in Prometheus' text format: queue depth by provider and state, and runs
//! by provider and outcome with a histogram of their durations (over retained runs).

use super::AppState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::fmt::Write;
use std::sync::Arc;

const BUCKETS_MS: [u64; 11] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub(crate) async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    match render(&state).await {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response(),
    }
}

async fn render(state: &AppState) -> Result<String, outsync_queue::QueueError> {
    let mut out = String::new();
    let stats = state.queue.stats(&state.db).await?;
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
    let durations = state.queue.run_durations(&state.db, &BUCKETS_MS).await?;
    out.push_str("# HELP outsync_runs Runs recorded (retained) by provider and outcome.\n# TYPE outsync_runs gauge\n");
    let mut histogram = String::from(
        "# HELP outsync_sync_duration_seconds Duration of retained runs.\n# TYPE outsync_sync_duration_seconds histogram\n",
    );
    for group in durations {
        let labels = format!(
            "provider=\"{}\",outcome=\"{}\"",
            label(&group.provider),
            label(group.outcome.as_str())
        );
        let runs = group.runs;
        let _ = writeln!(out, "outsync_runs{{{labels}}} {runs}");
        for (bound, count) in &group.at_most {
            #[allow(clippy::cast_precision_loss)]
            let seconds = *bound as f64 / 1000.0;
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
        let total = group.total_ms as f64 / 1000.0;
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
