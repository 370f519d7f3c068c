//! Helpers shared by the queue tests.

use outsync_core::ObjectRef;
use outsync_queue::{EnqueueOptions, Worker, WorkerConfig};
use outsync_queue::{JobFilter, ManualClock, Queue, RetryPolicy};
use outsync_tests::db::TestDb;
use outsync_tests::scripted::ScriptedProvider;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

pub(crate) const START: i64 = 1_800_000_000_000;

pub(crate) fn order(code: &str) -> ObjectRef {
    ObjectRef::new("Order", code)
}

pub(crate) fn snapshot(code: &str, version: i64) -> EnqueueOptions {
    EnqueueOptions {
        snapshot: Some(json!({"code": code, "version": version})),
        ..EnqueueOptions::default()
    }
}

pub(crate) fn test_config() -> WorkerConfig {
    WorkerConfig {
        id: "test-worker".into(),
        concurrency: 8,
        retry: RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        },
        poll_interval: Duration::from_millis(50),
        job_timeout: Duration::from_secs(10),
        ..WorkerConfig::default()
    }
}

/// A queue on a manual clock, and a worker with `provider`.
pub(crate) fn setup(
    db: &TestDb,
    provider: Arc<ScriptedProvider>,
    config: WorkerConfig,
) -> (Queue, Worker, ManualClock) {
    let clock = ManualClock::new(START);
    let queue = Queue::new([provider.identifier().to_owned()]).with_clock(Arc::new(clock.clone()));
    let worker = Worker::new(
        db.db.clone(),
        queue.clone(),
        vec![provider.configured()],
        config,
    );
    (queue, worker, clock)
}

pub(crate) async fn job_count(queue: &Queue, db: &TestDb) -> usize {
    queue
        .list_jobs(
            &db.db,
            &JobFilter {
                limit: 100_000,
                ..JobFilter::default()
            },
        )
        .await
        .unwrap()
        .len()
}

/// Prints a measured figure and appends it to `figures.txt` in cargo's temporary directory
/// (`target/tmp/`), which `.ci/run` prints after the tests.
pub(crate) fn report_figure(line: &str) {
    use std::io::Write;
    println!("{line}");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("figures.txt");
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(file, "{line}");
    }
}
