//! Worker processes: a worker killed with SIGKILL mid-run, and four workers sharing
//! PostgreSQL.

use outsync_core::ObjectRef;
use outsync_queue::{EnqueueItem, JobFilter, JobState, Queue, StateFilter};
use outsync_queue::{EnqueueOptions, RunOutcome};
use outsync_tests::db::{Backend, TestDb, fresh, temp_dir};
use outsync_tests::file_target::read_lines;
use outsync_tests::workers::wait_for_exit;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WORKER: &str = env!("CARGO_BIN_EXE_outsync-test-worker");

/// The process tests load both cores; running them one at a time keeps their leases
/// meaningful.
pub(crate) static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn spawn_worker(
    db: &TestDb,
    dir: &Path,
    delay_ms: u64,
    concurrency: u32,
    lease_ms: u64,
    mode: &str,
) -> Child {
    Command::new(WORKER)
        .args([
            &db.url,
            &dir.display().to_string(),
            &delay_ms.to_string(),
            &concurrency.to_string(),
            &lease_ms.to_string(),
            mode,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the test worker")
}

async fn enqueue_codes(db: &TestDb, count: usize) {
    let queue = Queue::new(["file_target"]);
    let items: Vec<EnqueueItem> = (0..count)
        .map(|i| EnqueueItem {
            provider: "file_target".into(),
            object: ObjectRef::new("Order", i.to_string()),
            triggered_by: "test".into(),
            options: EnqueueOptions {
                snapshot: Some(json!({"code": i.to_string(), "version": 1})),
                ..EnqueueOptions::default()
            },
        })
        .collect();
    queue.enqueue_many(&db.db, &items).await.unwrap();
}

fn synced_codes(dir: &Path) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for line in read_lines(dir, "synced.log") {
        let code = line.split(' ').next().unwrap_or_default().to_owned();
        *counts.entry(code).or_insert(0) += 1;
    }
    counts
}

async fn sigkill_mid_run(backend: Backend) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = fresh(backend).await;
    let dir = temp_dir("kill");
    enqueue_codes(&db, 5000).await;
    // 20 ms per sync: jobs spend most of their time in flight, so the kill strands some.
    let mut first = spawn_worker(&db, &dir, 20, 16, 5000, "run");
    let started = Instant::now();
    while read_lines(&dir, "synced.log").len() < 1000 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the first worker made no progress"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    first.kill().unwrap(); // SIGKILL: no shutdown, no release.
    first.wait().unwrap();
    let queue = Queue::new(["file_target"]);
    let stranded = queue
        .list_jobs(
            &db.db,
            &JobFilter {
                state: Some(StateFilter::Is(JobState::Running)),
                limit: 10_000,
                ..JobFilter::default()
            },
        )
        .await
        .unwrap();
    assert!(
        !stranded.is_empty(),
        "the kill should strand in-flight jobs; synced {}, queue {:?}",
        read_lines(&dir, "synced.log").len(),
        queue.stats(&db.db).await
    );
    let stranded_ids: HashSet<i64> = stranded.iter().map(|job| job.id).collect();

    let mut second = spawn_worker(&db, &dir, 0, 16, 5000, "drain");
    wait_for_exit(&mut second, Duration::from_secs(120)).await;

    let synced = synced_codes(&dir);
    for code in 0..5000 {
        assert!(
            synced.contains_key(&code.to_string()),
            "object {code} never reached the target ({backend:?})"
        );
    }
    assert_eq!(
        queue.stats(&db.db).await.unwrap().jobs(),
        0,
        "no job left behind"
    );
    // The stranded jobs came back through the reaper after their lease expired.
    let runs = queue.recent_runs(&db.db, 20_000, None).await.unwrap();
    let reaped: HashSet<i64> = runs
        .iter()
        .filter(|run| {
            run.outcome == RunOutcome::Retry
                && run
                    .worker
                    .as_deref()
                    .is_some_and(|w| w.ends_with("(reaper)"))
        })
        .filter_map(|run| run.job_id)
        .collect();
    assert_eq!(reaped, stranded_ids, "{backend:?}");
    let successes = runs
        .iter()
        .filter(|run| run.outcome == RunOutcome::Success)
        .count();
    assert_eq!(successes, 5000, "every object is recorded as synced once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_worker_loses_nothing_on_sqlite() {
    sigkill_mid_run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_worker_loses_nothing_on_postgres() {
    sigkill_mid_run(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn four_worker_processes_share_postgres_without_overlap() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = fresh(Backend::Postgres).await;
    let dir = temp_dir("four");
    enqueue_codes(&db, 20_000).await;
    let mut workers: Vec<Child> = (0..4)
        .map(|_| spawn_worker(&db, &dir, 1, 16, 30_000, "drain"))
        .collect();
    for worker in &mut workers {
        wait_for_exit(worker, Duration::from_secs(300)).await;
    }
    let synced = synced_codes(&dir);
    assert_eq!(synced.len(), 20_000, "all processed");
    assert!(
        synced.values().all(|&count| count == 1),
        "each object synced exactly once"
    );
    assert_eq!(
        read_lines(&dir, "overlaps.log"),
        Vec::<String>::new(),
        "no object synced by two workers at once"
    );
    let queue = Queue::new(["file_target"]);
    assert_eq!(queue.stats(&db.db).await.unwrap().jobs(), 0);
    let runs = queue.recent_runs(&db.db, 30_000, None).await.unwrap();
    let workers_used: HashSet<String> = runs.iter().filter_map(|run| run.worker.clone()).collect();
    assert_eq!(workers_used.len(), 4, "all four workers took part");
}
