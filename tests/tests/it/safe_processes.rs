//! Concurrent starts and interrupted migrations: processes that start together all come
//! up, and a migration killed half-way leaves a database the next start completes.

use crate::queue_processes::ONE_AT_A_TIME;
use outsync_queue::{Queue, connect};
use outsync_tests::db::{Backend, fresh_url, temp_dir};
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;

const WORKER: &str = env!("CARGO_BIN_EXE_outsync-test-worker");

async fn eight_processes_start_at_once(backend: Backend) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let url = fresh_url(backend).await;
    let dir = temp_dir("starts");
    // Each process connects (migrating the fresh database), drains the empty queue, exits.
    let mut children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(WORKER)
                .args([&url, &dir.display().to_string(), "0", "1", "5000", "drain"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a worker process")
        })
        .collect();
    let mut failures = Vec::new();
    for child in &mut children {
        let output = tokio::task::block_in_place(|| {
            std::mem::replace(child, Command::new("true").spawn().unwrap()).wait_with_output()
        })
        .unwrap();
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            failures.push(stderr.lines().take(3).collect::<Vec<_>>().join(" "));
        }
    }
    assert!(
        failures.is_empty(),
        "{backend:?}: {} of 8 failed: {failures:?}",
        failures.len()
    );
    let db = connect(&url).await.unwrap();
    assert!(Queue::is_migrated(&db).await.unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn eight_processes_started_at_once_on_a_fresh_sqlite_file_all_come_up() {
    eight_processes_start_at_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn eight_processes_started_at_once_on_a_fresh_postgres_schema_all_come_up() {
    eight_processes_start_at_once(Backend::Postgres).await;
}

async fn a_killed_migration_is_completed_by_the_next_start(backend: Backend) {
    let url = fresh_url(backend).await;
    let mut holder = Command::new(WORKER)
        .args(["migrate-and-hold", &url])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the migrating process");
    let mut line = String::new();
    let stdout = holder.stdout.take().unwrap();
    tokio::task::block_in_place(|| std::io::BufReader::new(stdout).read_line(&mut line)).unwrap();
    assert_eq!(line.trim(), "holding", "{backend:?}");
    holder.kill().unwrap();
    holder.wait().unwrap();
    let db = tokio::time::timeout(Duration::from_secs(20), connect(&url))
        .await
        .expect("the next start does not hang")
        .unwrap_or_else(|e| panic!("{backend:?}: the next start fails: {e}"));
    assert!(Queue::is_migrated(&db).await.unwrap(), "{backend:?}");
    let queue = Queue::new(["p"]);
    queue
        .enqueue(
            &db,
            "p",
            &outsync_core::ObjectRef::new("Order", "A"),
            "test",
            outsync_queue::EnqueueOptions {
                force: true,
                ..Default::default()
            },
        )
        .await
        .expect("the migrated tables work");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_migration_killed_half_way_on_sqlite_is_completed_by_the_next_start() {
    a_killed_migration_is_completed_by_the_next_start(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_migration_killed_half_way_on_postgres_is_completed_by_the_next_start() {
    a_killed_migration_is_completed_by_the_next_start(Backend::Postgres).await;
}
