//! `GET /metrics` in Prometheus' text format, by `metrics-exporter-prometheus`: the run
//! counters and duration histogram the queue updates live as runs are recorded
//! (`outsync_runs_total`, `outsync_run_duration_seconds`), and gauges read at each scrape
//! (`outsync_queue_jobs`, `outsync_unknown_provider_jobs`,
//! `outsync_oldest_due_job_age_seconds`).

use super::AppState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use outsync_queue::metrics::{RUN_DURATION_SECONDS, RUNS_TOTAL};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// The histogram's buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

const QUEUE_JOBS: &str = "outsync_queue_jobs";
const UNKNOWN_PROVIDER_JOBS: &str = "outsync_unknown_provider_jobs";
const OLDEST_DUE_AGE: &str = "outsync_oldest_due_job_age_seconds";

/// The process's recorder (`None` if the embedding application installed another one).
static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Gauge label sets exported before: one that is gone is exported as 0, not left stale.
static EXPORTED: Mutex<BTreeSet<(String, String, String)>> = Mutex::new(BTreeSet::new());

/// Installs the Prometheus recorder (once per process), so that runs count from the start.
pub(crate) fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets(&BUCKETS)
                .ok()?
                .install_recorder()
                .map_err(|error| tracing::warn!(%error, "no /metrics counters: a metrics recorder is installed already"))
                .ok()?;
            metrics::describe_counter!(RUNS_TOTAL, "Runs recorded, by provider and outcome.");
            metrics::describe_histogram!(
                RUN_DURATION_SECONDS,
                metrics::Unit::Seconds,
                "How long runs took, by provider and outcome."
            );
            metrics::describe_gauge!(QUEUE_JOBS, "Jobs in the queue, by provider and state.");
            metrics::describe_gauge!(
                UNKNOWN_PROVIDER_JOBS,
                "Jobs of providers this service does not run; they wait for a worker that does."
            );
            metrics::describe_gauge!(
                OLDEST_DUE_AGE,
                metrics::Unit::Seconds,
                "How long the longest-waiting due job has been due (0 when none waits)."
            );
            Some(handle)
        })
        .as_ref()
}

pub(crate) async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let Some(handle) = install() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "another metrics recorder is installed in this process",
        )
            .into_response();
    };
    match update_gauges(&state).await {
        Ok(()) => {
            handle.run_upkeep();
            (
                [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                handle.render(),
            )
                .into_response()
        }
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response(),
    }
}

/// Sets the gauges from the queue; label sets not seen this time go to 0.
async fn update_gauges(state: &AppState) -> Result<(), outsync_queue::QueueError> {
    let stats = state.queue.stats(&state.db).await?;
    let oldest = state.queue.oldest_due_ms(&state.db).await?;
    let mut current = BTreeSet::new();
    for (provider, states) in &stats.by_provider {
        for (job_state, jobs) in states {
            current.insert((QUEUE_JOBS.to_owned(), provider.clone(), job_state.clone()));
            #[allow(clippy::cast_precision_loss)]
            let jobs = *jobs as f64;
            metrics::gauge!(QUEUE_JOBS, "provider" => provider.clone(), "state" => job_state.clone())
                .set(jobs);
        }
    }
    for (provider, jobs) in state.worker.unknown_provider_jobs() {
        current.insert((
            UNKNOWN_PROVIDER_JOBS.to_owned(),
            provider.clone(),
            String::new(),
        ));
        #[allow(clippy::cast_precision_loss)]
        let jobs = jobs as f64;
        metrics::gauge!(UNKNOWN_PROVIDER_JOBS, "provider" => provider).set(jobs);
    }
    let mut exported = EXPORTED.lock().unwrap_or_else(PoisonError::into_inner);
    for (name, provider, job_state) in exported.difference(&current) {
        if name == QUEUE_JOBS {
            metrics::gauge!(QUEUE_JOBS, "provider" => provider.clone(), "state" => job_state.clone())
                .set(0.0);
        } else {
            metrics::gauge!(UNKNOWN_PROVIDER_JOBS, "provider" => provider.clone()).set(0.0);
        }
    }
    *exported = current;
    #[allow(clippy::cast_precision_loss)]
    let age = oldest.map_or(0.0, |due| {
        (state.queue.now_ms() - due).max(0) as f64 / 1000.0
    });
    metrics::gauge!(OLDEST_DUE_AGE).set(age);
    Ok(())
}
