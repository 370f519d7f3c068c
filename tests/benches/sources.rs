//! Object-source benchmark: snapshot-less jobs drained by a worker that loads each object
//! from an `http` source (a local fake application API answering in 0 ms and in 20 ms) or
//! a `sql` source (an SQLite application database), into a provider whose target takes
//! 0 or 20 ms per call, run by the service's worker loop. Prints objects/s and, for the 20 ms + 20 ms case at concurrency 128,
//! the share of the ideal (128 jobs in flight, 40 ms each). The queue is an SQLite file.
//!
//! Run: `cargo bench -p outsync-tests --bench sources`. Prints figures; asserts nothing.

use outsync_core::ObjectRef;
use outsync_queue::{EnqueueItem, EnqueueOptions, Queue, Worker, WorkerConfig, connect};
use outsync_sources::Sources;
use outsync_tests::fake_app::FakeApp;
use outsync_tests::scripted::{ScriptedProvider, record_schema};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

const OBJECTS: usize = 5_000;

async fn drain(sources: Sources, target: Duration, concurrency: usize, label: &str) -> f64 {
    drain_jobs(Some(sources), target, concurrency, label).await
}

/// Drains `OBJECTS` jobs: snapshot-less ones loaded from `sources`, or (without sources)
/// jobs carrying their snapshot.
async fn drain_jobs(
    sources: Option<Sources>,
    target: Duration,
    concurrency: usize,
    label: &str,
) -> f64 {
    let dir = outsync_tests::db::temp_dir(&format!("bench-{label}"));
    let db = connect(&format!("sqlite://{}?mode=rwc", dir.join("q.db").display()))
        .await
        .expect("queue");
    let provider = Arc::new(ScriptedProvider::new("scripted").with_delay(target));
    let queue = Queue::for_providers(&[provider.configured()]);
    let items: Vec<EnqueueItem> = (0..OBJECTS)
        .map(|i| EnqueueItem {
            provider: "scripted".into(),
            object: ObjectRef::new("Order", i.to_string()),
            triggered_by: "bench".into(),
            options: EnqueueOptions {
                snapshot: sources.is_none().then(|| record(i)),
                ..EnqueueOptions::default()
            },
        })
        .collect();
    queue.enqueue_many(&db, &items).await.expect("enqueue");
    let config = WorkerConfig {
        concurrency,
        batch_size: 256,
        ..WorkerConfig::default()
    };
    let mut worker = Worker::new(
        db.clone(),
        queue.clone(),
        vec![provider.configured()],
        config,
    );
    if let Some(sources) = sources {
        worker = worker.with_source(Arc::new(sources));
    }
    // The service's loop (`Worker::run`), stopped once the queue is empty.
    let started = Instant::now();
    let summary = worker
        .run(async {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                if queue
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
    let elapsed = started.elapsed();
    assert_eq!(summary.processed(), OBJECTS, "{summary:?}");
    OBJECTS as f64 / elapsed.as_secs_f64()
}

async fn http_sources(app: &FakeApp) -> Sources {
    let section = json!({"Order": {"kind": "http", "base_url": app.base_url,
                                   "url": "{base_url}/users/{id}/", "pointer": "/data"}});
    Sources::open(&section, Arc::new(record_schema()))
        .await
        .expect("sources")
}

async fn sql_sources() -> Sources {
    let file = outsync_tests::db::temp_dir("bench-app").join("app.db");
    let setup = sea_orm::Database::connect(format!("sqlite://{}?mode=rwc", file.display()))
        .await
        .expect("app db");
    setup
        .execute_unprepared("CREATE TABLE records (code TEXT PRIMARY KEY, version INTEGER)")
        .await
        .expect("table");
    let values: Vec<String> = (0..OBJECTS).map(|i| format!("('{i}', {i})")).collect();
    setup
        .execute_unprepared(&format!("INSERT INTO records VALUES {}", values.join(", ")))
        .await
        .expect("rows");
    setup.close().await.ok();
    let section = json!({"Order": {"kind": "sql", "database_url": format!("sqlite://{}", file.display()),
                                   "query": "SELECT code, version FROM records WHERE code = $1"}});
    Sources::open(&section, Arc::new(record_schema()))
        .await
        .expect("sources")
}

fn record(i: usize) -> Value {
    json!({"code": i.to_string(), "version": i})
}

#[tokio::main]
async fn main() {
    let app = FakeApp::start().await;
    for i in 0..OBJECTS {
        app.set_user(&i.to_string(), record(i));
    }
    println!("{OBJECTS} snapshot-less jobs, SQLite queue file, objects/s drained:");
    let control = drain_jobs(None, Duration::from_millis(20), 128, "control").await;
    println!(
        "  control: jobs carrying their snapshot, target 20 ms, concurrency 128: {control:.0} objects/s ({:.1} % of the ideal 6400/s)",
        100.0 * control / 6400.0
    );
    for (source_ms, target_ms, concurrency) in [(0, 0, 64), (20, 0, 128), (20, 20, 128)] {
        app.set_delay(Duration::from_millis(source_ms));
        let rate = drain(
            http_sources(&app).await,
            Duration::from_millis(target_ms),
            concurrency,
            &format!("http-{source_ms}-{target_ms}"),
        )
        .await;
        let ideal = concurrency as f64 / ((source_ms + target_ms).max(1) as f64 / 1000.0);
        let share = if source_ms + target_ms > 0 {
            format!(" ({:.1} % of the ideal {ideal:.0}/s)", 100.0 * rate / ideal)
        } else {
            String::new()
        };
        println!(
            "  http source {source_ms:>2} ms, target {target_ms:>2} ms, concurrency {concurrency:>3}: {rate:>7.0} objects/s{share}"
        );
    }
    for delay_ms in [0, 20] {
        app.set_delay(Duration::from_millis(delay_ms));
        let loads = source_loads(&app, 128).await;
        println!(
            "  the http source alone, 128 loads at a time, answering in {delay_ms:>2} ms, no queue: {loads:.0} objects/s"
        );
        let raw = raw_http_gets(&app, 128).await;
        println!(
            "  raw limit: GETs of the same fake, 128 at a time, answering in {delay_ms:>2} ms, no queue: {raw:.0} requests/s"
        );
    }
    app.set_delay(Duration::ZERO);
    for (target_ms, concurrency) in [(0, 64), (20, 128)] {
        let rate = drain(
            sql_sources().await,
            Duration::from_millis(target_ms),
            concurrency,
            &format!("sql-{target_ms}"),
        )
        .await;
        println!(
            "  sql source (SQLite file), target {target_ms:>2} ms, concurrency {concurrency:>3}: {rate:>7.0} objects/s"
        );
    }
    let raw = raw_sql_reads().await;
    println!("  raw limit: the same SQLite query on one connection, no queue: {raw:.0} reads/s");
}

/// What the HTTP source loads, `concurrency` loads at a time, without the queue.
async fn source_loads(app: &FakeApp, concurrency: usize) -> f64 {
    let sources = Arc::new(http_sources(app).await);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (sources, next) = (sources.clone(), next.clone());
        tasks.spawn(async move {
            use outsync_core::ObjectSource;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= OBJECTS {
                    return;
                }
                let object = ObjectRef::new("Order", i.to_string());
                sources.load_for("scripted", &object).await.expect("load");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    OBJECTS as f64 / started.elapsed().as_secs_f64()
}

/// What a bare HTTP client gets from the fake: `concurrency` tasks GETting users.
async fn raw_http_gets(app: &FakeApp, concurrency: usize) -> f64 {
    let client = reqwest::Client::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, next, base) = (client.clone(), next.clone(), app.base_url.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= OBJECTS {
                    return;
                }
                let answer = client.get(format!("{base}/users/{i}/")).send().await;
                answer.expect("get").bytes().await.expect("body");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    OBJECTS as f64 / started.elapsed().as_secs_f64()
}

/// The database's own limit for the SQL source's query, for comparison.
async fn raw_sql_reads() -> f64 {
    let file = outsync_tests::db::temp_dir("bench-raw").join("app.db");
    let db = sea_orm::Database::connect(format!("sqlite://{}?mode=rwc", file.display()))
        .await
        .expect("raw db");
    db.execute_unprepared("CREATE TABLE records (code TEXT PRIMARY KEY, version INTEGER)")
        .await
        .expect("table");
    let values: Vec<String> = (0..OBJECTS).map(|i| format!("('{i}', {i})")).collect();
    db.execute_unprepared(&format!("INSERT INTO records VALUES {}", values.join(", ")))
        .await
        .expect("rows");
    let started = Instant::now();
    for i in 0..OBJECTS {
        let statement = sea_orm::Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT code, version FROM records WHERE code = $1",
            [i.to_string().into()],
        );
        db.query_one_raw(statement).await.expect("read");
    }
    OBJECTS as f64 / started.elapsed().as_secs_f64()
}
