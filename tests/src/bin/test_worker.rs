//! A worker process for multi-process queue tests.
//!
//! `outsync-test-worker <database-url> <target-dir> <delay-ms> <concurrency> <lease-ms> run|drain`
//!
//! `run` works until killed; `drain` exits once the queue holds no job at all.
//!
//! `outsync-test-worker lock-sqlite <database-url> <hold-ms>` is another process holding an
//! SQLite database locked: it takes an exclusive lock, prints `locked`, waits, releases.
//!
//! `outsync-test-worker migrate-and-hold <database-url>` applies the migrations, prints
//! `holding` before they commit, and waits there to be killed.
//!
//! `outsync-test-worker http <database-url> <target-url> <token> <lease-ms>` pushes to an
//! HTTP target (the soak's flaky one) with the fault tests' fast retries, 32 slots, and
//! exits once the queue holds no job at all.

use outsync_core::ConfiguredProvider;
use outsync_queue::{Queue, connect};
use outsync_queue::{Worker, WorkerConfig};
use outsync_tests::file_target::FileTargetProvider;
use outsync_tests::http_target::HttpTargetProvider;
use outsync_tests::workers::fast_retry_config;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, command, url] = args.as_slice()
        && command == "migrate-and-hold"
    {
        let db = outsync_queue::open(url, &outsync_queue::DatabaseSettings::default())
            .await
            .expect("open the database");
        Queue::migrate_holding(&db, async {
            println!("holding");
            std::future::pending::<()>().await;
        })
        .await
        .expect("migrate");
        return;
    }
    if let [_, command, url, hold] = args.as_slice()
        && command == "lock-sqlite"
    {
        hold_sqlite_lock(url, Duration::from_millis(hold.parse().expect("hold-ms"))).await;
        return;
    }
    if let [_, command, url, target, token, lease] = args.as_slice()
        && command == "http"
    {
        let lease = Duration::from_millis(lease.parse().expect("lease-ms"));
        let provider =
            HttpTargetProvider::configured(target, token, Duration::from_millis(500), 30);
        let config = WorkerConfig {
            lease,
            job_timeout: lease / 2,
            reap_interval: Duration::from_millis(500),
            postgres_listen_url: url.starts_with("postgres").then(|| url.clone()),
            ..fast_retry_config(&format!("soak-worker-{}", std::process::id()))
        };
        work(url, provider, config, true).await;
        return;
    }
    let [_, url, dir, delay, concurrency, lease, mode] = args.as_slice() else {
        eprintln!(
            "usage: outsync-test-worker <database-url> <target-dir> <delay-ms> <concurrency> <lease-ms> run|drain"
        );
        std::process::exit(2);
    };
    let number = |text: &str| text.parse::<u64>().expect("a number");
    let provider =
        FileTargetProvider::configured(&PathBuf::from(dir), Duration::from_millis(number(delay)));
    let lease = Duration::from_millis(number(lease));
    let config = WorkerConfig {
        id: format!("test-worker-{}", std::process::id()),
        concurrency: usize::try_from(number(concurrency)).expect("concurrency"),
        lease,
        job_timeout: lease / 2,
        reap_interval: Duration::from_millis(250),
        poll_interval: Duration::from_millis(100),
        postgres_listen_url: url.starts_with("postgres").then(|| url.clone()),
        ..WorkerConfig::default()
    };
    if mode == "drain" {
        work(url, provider, config, true).await;
    } else {
        work(url, provider, config, false).await;
    }
}

/// Works until killed, or with `drain` until the queue holds no job at all; prints the
/// summary.
async fn work(url: &str, provider: Arc<ConfiguredProvider>, config: WorkerConfig, drain: bool) {
    let db = connect(url).await.expect("connect");
    let queue = Queue::new([provider.identifier().to_owned()]);
    let worker = Worker::new(db.clone(), queue.clone(), vec![provider], config);
    let summary = worker
        .run(async {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if drain
                    && queue
                        .stats(&db)
                        .await
                        .map(|s| s.jobs() == 0)
                        .unwrap_or(false)
                {
                    return;
                }
            }
        })
        .await
        .expect("worker");
    println!("{summary:?}");
}

async fn hold_sqlite_lock(url: &str, hold: Duration) {
    use outsync_queue::sea_orm::{ConnectOptions, ConnectionTrait, Database};
    let mut options = ConnectOptions::new(url.to_owned());
    options.max_connections(1).sqlx_logging(false);
    let db = Database::connect(options).await.expect("connect");
    db.execute_unprepared("BEGIN EXCLUSIVE")
        .await
        .expect("take the lock");
    println!("locked");
    tokio::time::sleep(hold).await;
    db.execute_unprepared("COMMIT").await.expect("release");
}
