//! Queue benchmark on pretix's workload (see `workload.rs`): orders with 2 positions
//! through pretix's two mappings into a fake API that reads and writes records, counted as
//! pretix counts them (3 objects per order). On an SQLite file with outsync's defaults,
//! the same with `synchronous=FULL`, and PostgreSQL, it prints:
//!
//! - the raw limit of the database: transactions of 100 jobs deleted, 300 results and 100
//!   run rows inserted, in plain SQL (`db.rs`);
//! - `drain` (`outsync sync`): the first pass (every record created) and the update pass
//!   (every record read and changed), each as objects/s and as a share of the raw limit;
//! - the service loop (`Worker::run`, as `outsync serve` runs it) on the same first pass,
//!   beside `drain`;
//! - batched enqueue (`enqueue_many`, 100,000 orders) in orders/s, beside the database's
//!   raw insert limit for the same rows (one `INSERT … SELECT` the database fills itself);
//! - a target taking 20 ms per call, run by the service loop at concurrency 1, 16 and 128,
//!   as a share of the ideal;
//! - the claim's latency (64 jobs, median of 21) at 10,000, 100,000 and 1,000,000 queued
//!   jobs, before any `ANALYZE` (enqueued in batches of 50,000, below the size after which
//!   `enqueue_many` analyses);
//! - the peak memory of a process that runs a worker over 100,000 queued jobs.
//!
//! Run: `cargo bench -p outsync-queue --bench queue` (PostgreSQL at
//! `OUTSYNC_BENCH_POSTGRES_URL`, default the local server; `skip` measures SQLite only;
//! `OUTSYNC_BENCH_ORDERS` sets the orders per pass, default 20,000;
//! `OUTSYNC_BENCH_BATCH` the worker's batch size; `OUTSYNC_BENCH_TARGET=postgresql` (or
//! `sqlite`, `sqlite full`) one database;
//! `OUTSYNC_BENCH_ONLY=memory` measures the worker's memory alone, `drain` the drains
//! alone, `enqueue` the batched enqueues alone). Prints figures;
//! asserts nothing beyond every job succeeding.

mod db;
mod slow_target;
mod workload;

use db::Target;
use outsync_queue::{Queue, RunOutcome, Worker, WorkerConfig};
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use std::time::{Duration, Instant};
use workload::{FakeApi, OBJECTS_PER_ORDER};

fn orders_per_pass() -> usize {
    std::env::var("OUTSYNC_BENCH_ORDERS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(20_000)
}

fn worker(db: &DatabaseConnection, queue: &Queue, api: &Arc<FakeApi>) -> Worker {
    Worker::new(
        db.clone(),
        queue.clone(),
        vec![workload::provider(api.clone(), &workload::schema())],
        WorkerConfig {
            batch_size: std::env::var("OUTSYNC_BENCH_BATCH")
                .ok()
                .and_then(|value| value.parse().ok())
                .unwrap_or(WorkerConfig::default().batch_size),
            ..WorkerConfig::default()
        },
    )
}

async fn enqueue(
    queue: &Queue,
    db: &DatabaseConnection,
    codes: std::ops::Range<usize>,
    version: usize,
) {
    for start in codes.clone().step_by(50_000) {
        let end = (start + 50_000).min(codes.end);
        queue
            .enqueue_many(db, &workload::items(start..end, version))
            .await
            .expect("enqueue");
    }
}

/// Objects/s of a `drain` of the queue.
async fn drain(worker: &Worker, orders: usize) -> f64 {
    let started = Instant::now();
    let summary = worker.drain().await.expect("drain");
    let elapsed = started.elapsed();
    assert_eq!(
        summary.count(RunOutcome::Success),
        orders,
        "every job succeeds"
    );
    (orders * OBJECTS_PER_ORDER) as f64 / elapsed.as_secs_f64()
}

/// Objects/s of the service loop until the queue is empty.
async fn service_loop(
    worker: &Worker,
    queue: &Queue,
    db: &DatabaseConnection,
    orders: usize,
) -> f64 {
    let started = Instant::now();
    let summary = worker
        .run(async {
            loop {
                tokio::time::sleep(Duration::from_millis(5)).await;
                if queue.stats(db).await.is_ok_and(|stats| stats.jobs() == 0) {
                    return;
                }
            }
        })
        .await
        .expect("worker");
    let elapsed = started.elapsed();
    assert_eq!(
        summary.count(RunOutcome::Success),
        orders,
        "every job succeeds"
    );
    (orders * OBJECTS_PER_ORDER) as f64 / elapsed.as_secs_f64()
}

async fn drains(target: Target) {
    let orders = orders_per_pass();
    let (db, _) = db::fresh(target, "raw").await;
    // The best of one client and four (PostgreSQL commits several transactions in one
    // flush when clients wait together; SQLite has one writer).
    let raw_one = db::raw_limit(&db, orders / 200, 1).await;
    let raw_four = db::raw_limit(&db, orders / 200, 4).await;
    let raw = raw_one.max(raw_four);
    db.close().await.ok();
    let (db, _) = db::fresh(target, "drain").await;
    let queue = Queue::new(["fake_api"]);
    let api = Arc::new(FakeApi::default());
    let worker = worker(&db, &queue, &api);
    enqueue(&queue, &db, 0..orders, 0).await;
    let first = drain(&worker, orders).await;
    enqueue(&queue, &db, 0..orders, 1).await;
    let update = drain(&worker, orders).await;
    enqueue(&queue, &db, orders..2 * orders, 0).await;
    let looped = service_loop(&worker, &queue, &db, orders).await;
    assert_eq!(api.len(), 2 * orders * OBJECTS_PER_ORDER);
    let name = target.label();
    println!(
        "[{name}] raw limit: {raw:>9.0} objects/s (1 client {raw_one:.0}, 4 clients {raw_four:.0})"
    );
    println!(
        "[{name}] drain, first pass: {first:>9.0} objects/s = {:>5.1} % of raw",
        100.0 * first / raw
    );
    println!(
        "[{name}] drain, update pass: {update:>8.0} objects/s = {:>5.1} % of raw",
        100.0 * update / raw
    );
    println!(
        "[{name}] service loop, first pass: {looped:>6.0} objects/s = {:>5.1} % of drain",
        100.0 * looped / first
    );
}

async fn batched_enqueue(target: Target) {
    let (db, _) = db::fresh(target, "enqueue").await;
    let queue = Queue::new(["fake_api"]);
    let orders = 100_000;
    let items = workload::items(0..orders, 0);
    let started = Instant::now();
    queue.enqueue_many(&db, &items).await.expect("enqueue");
    let elapsed = started.elapsed();
    let rate = orders as f64 / elapsed.as_secs_f64();
    let (raw_db, _) = db::fresh(target, "enqueue_raw").await;
    let snapshot_len = workload::order(0, 0).to_string().len();
    let raw = db::raw_insert_limit(&raw_db, orders, snapshot_len).await;
    println!(
        "[{}] batched enqueue: {rate:>9.0} orders/s ({orders} orders in one call, {:.0} ms) = \
         {:.1} % of the raw insert limit {raw:.0} rows/s",
        target.label(),
        elapsed.as_secs_f64() * 1e3,
        100.0 * rate / raw
    );
}

async fn claim_latency(target: Target) {
    let (db, _) = db::fresh(target, "claim").await;
    let queue = Queue::new(["fake_api"]);
    let api = Arc::new(FakeApi::default());
    let worker = worker(&db, &queue, &api);
    let mut queued = 0;
    let mut figures = Vec::new();
    for size in [10_000, 100_000, 1_000_000] {
        enqueue(&queue, &db, queued..size, 0).await;
        queued = size;
        let mut times = Vec::new();
        for _ in 0..21 {
            let (claimed, took) = worker.claim_and_release(64).await.expect("claim");
            assert_eq!(claimed, 64);
            times.push(took.as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        figures.push(format!("{size}: {:.2} ms", times[10]));
    }
    println!(
        "[{}] claim of 64, no ANALYZE, median of 21: {}",
        target.label(),
        figures.join(", ")
    );
}

/// The peak resident memory of a child process running a worker over 100,000 queued
/// jobs (the child is this benchmark, started again with `OUTSYNC_BENCH_RSS_URL`).
async fn worker_memory() {
    let (db, url) = db::fresh(Target::Sqlite, "rss").await;
    let queue = Queue::new(["fake_api"]);
    enqueue(&queue, &db, 0..100_000, 0).await;
    db.close().await.ok();
    let output = std::process::Command::new(std::env::current_exe().expect("this benchmark"))
        .env("OUTSYNC_BENCH_RSS_URL", &url)
        .output()
        .expect("child");
    print!("{}", String::from_utf8_lossy(&output.stdout));
}

/// In the child: run a worker through the queue, with an external system that keeps
/// nothing, and print the process's peak memory.
async fn worker_memory_child(url: &str) {
    let db = db::connect(Target::Sqlite, url).await;
    let queue = Queue::new(["fake_api"]);
    let api = Arc::new(FakeApi::forgetful());
    let before = peak_memory_kb();
    let worker = worker(&db, &queue, &api);
    let _ = service_loop(&worker, &queue, &db, 100_000).await;
    println!(
        "[SQLite] worker process over 100,000 queued jobs: peak RSS {:.1} MB (at start {:.1} MB)",
        peak_memory_kb() as f64 / 1024.0,
        before as f64 / 1024.0
    );
}

fn peak_memory_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    if let Ok(url) = std::env::var("OUTSYNC_BENCH_RSS_URL") {
        worker_memory_child(&url).await;
        return;
    }
    if std::env::var("OUTSYNC_BENCH_ONLY").is_ok_and(|only| only == "memory") {
        worker_memory().await;
        return;
    }
    let mut targets = vec![Target::Sqlite, Target::SqliteFull];
    if db::postgres_server().is_some() {
        targets.push(Target::Postgres);
    }
    if let Ok(only) = std::env::var("OUTSYNC_BENCH_TARGET") {
        targets.retain(|target| target.label().eq_ignore_ascii_case(&only));
    }
    let only = std::env::var("OUTSYNC_BENCH_ONLY").unwrap_or_default();
    if only == "enqueue" {
        for &target in &targets {
            batched_enqueue(target).await;
        }
        return;
    }
    for &target in &targets {
        drains(target).await;
    }
    if only == "drain" {
        return;
    }
    for &target in &targets {
        batched_enqueue(target).await;
    }
    for &target in &targets {
        let (db, _) = db::fresh(target, "slow").await;
        slow_target::measure(&db, target.label()).await;
    }
    claim_latency(Target::Sqlite).await;
    if targets.contains(&Target::Postgres) {
        claim_latency(Target::Postgres).await;
    }
    worker_memory().await;
}
