//! Queue benchmark: enqueue throughput (single and batched), drain throughput with a no-op
//! provider (orders with 2 positions, 2 mappings), and throughput against a target that
//! takes 20 ms per call at concurrency 1, 16 and 128.
//!
//! Run: `cargo bench -p outsync-queue --bench queue` (SQLite file, and PostgreSQL at
//! `OUTSYNC_BENCH_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`; set it
//! to `skip` to measure SQLite only). Prints figures; asserts nothing.

use outsync_core::mapping::ObjectMapping;
use outsync_core::schema::{ComputedFields, SourceSchema};
use outsync_core::{
    ConfiguredProvider, ObjectRef, OutboundSyncProvider, SyncAction, SyncError, SyncOutcome,
    SyncRequest, async_trait,
};
use outsync_queue::{EnqueueItem, Queue, RunOutcome, connect};
use outsync_queue::{EnqueueOptions, Worker, WorkerConfig};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SCHEMA: &str = r#"{
  "models": [{"name": "Order", "id_path": "code"},
             {"name": "OrderPosition", "parent": "Order", "path": "positions", "id_path": "id"}],
  "fields": [
    {"key": "code", "type": "string", "model": "Order", "path": "code"},
    {"key": "email", "type": "string", "model": "Order", "path": "email"},
    {"key": "status", "type": "enum", "model": "Order", "path": "status", "options": ["n", "p"]},
    {"key": "ticket", "type": "string", "model": "OrderPosition", "path": "ticket"},
    {"key": "attendee", "type": "string", "model": "OrderPosition", "path": "attendee"}
  ]
}"#;

const MAPPINGS: &str = r#"[
  {"id": "tickets", "source_model": "OrderPosition", "external_object_type": "tickets",
   "source_id_field": "ticket", "external_id_field": "ticket",
   "property_mappings": [{"source_field": "attendee", "external_field": "name"}, {"source_field": "email", "external_field": "buyer"}]},
  {"id": "orders", "source_model": "Order", "external_object_type": "orders",
   "source_id_field": "code", "external_id_field": "code",
   "property_mappings": [{"source_field": "email", "external_field": "email"},
                         {"source_field": "status", "external_field": "status", "value_map": {"n": "pending", "p": "paid"}}]}
]"#;

struct BenchProvider {
    latency: Duration,
}

#[async_trait]
impl OutboundSyncProvider for BenchProvider {
    async fn sync_object_with_properties(
        &self,
        request: SyncRequest<'_>,
    ) -> Result<Option<SyncOutcome>, SyncError> {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        Ok(Some(SyncOutcome::new(SyncAction::Update, &request)))
    }
}

fn order(code: usize) -> Value {
    json!({"code": format!("O{code}"), "email": format!("buyer{code}@example.org"), "status": "p",
           "positions": [{"id": 1, "ticket": format!("O{code}-1"), "attendee": "Ada"},
                         {"id": 2, "ticket": format!("O{code}-2"), "attendee": "Grace"}]})
}

fn provider(
    identifier: &'static str,
    latency: Duration,
    schema: &SourceSchema,
) -> Arc<ConfiguredProvider> {
    Arc::new(ConfiguredProvider::new(
        identifier,
        ObjectMapping::load_all(MAPPINGS, schema).expect("mappings"),
        Arc::new(BenchProvider { latency }),
    ))
}

async fn fresh_db(label: &str, postgres: Option<&str>) -> (DatabaseConnection, String) {
    match postgres {
        None => {
            let dir =
                std::env::temp_dir().join(format!("outsync-bench-{}-{label}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("bench dir");
            let url = format!("sqlite://{}?mode=rwc", dir.join("queue.db").display());
            (
                connect(&url).await.expect("sqlite"),
                "SQLite file".to_owned(),
            )
        }
        Some(server) => {
            let admin = sea_orm::Database::connect(server).await.expect("postgres");
            let schema = format!("outsync_bench_{label}");
            admin
                .execute_unprepared(&format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
                ))
                .await
                .expect("schema");
            let separator = if server.contains('?') { '&' } else { '?' };
            let url = format!("{server}{separator}options=-c%20search_path%3D{schema}");
            (
                connect(&url).await.expect("postgres"),
                "PostgreSQL".to_owned(),
            )
        }
    }
}

fn items(provider: &str, count: usize, offset: usize) -> Vec<EnqueueItem> {
    (offset..offset + count)
        .map(|i| EnqueueItem {
            provider: provider.to_owned(),
            object: ObjectRef::new("Order", format!("O{i}")),
            triggered_by: "bench".into(),
            options: EnqueueOptions {
                snapshot: Some(order(i)),
                ..EnqueueOptions::default()
            },
        })
        .collect()
}

async fn run_until_empty(worker: Worker, queue: &Queue, db: &DatabaseConnection) -> Duration {
    let started = Instant::now();
    worker
        .run(async {
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                if queue
                    .stats(db)
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
    started.elapsed()
}

async fn bench_backend(postgres: Option<&str>, schema: &SourceSchema) {
    let label = if postgres.is_some() { "pg" } else { "sqlite" };
    let (db, name) = fresh_db(label, postgres).await;
    let queue = Queue::new(["noop", "slow"]);

    let single = 2_000;
    let started = Instant::now();
    for i in 0..single {
        let options = EnqueueOptions {
            snapshot: Some(order(i)),
            ..EnqueueOptions::default()
        };
        queue
            .enqueue(
                &db,
                "noop",
                &ObjectRef::new("Order", format!("S{i}")),
                "bench",
                options,
            )
            .await
            .expect("enqueue");
    }
    let elapsed = started.elapsed();
    println!(
        "[{name}] enqueue, one per statement: {:>9.0} jobs/s ({single} jobs, {:.1} ms)",
        single as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e3
    );

    let batched = 50_000;
    let batch = items("noop", batched, 0);
    let started = Instant::now();
    queue.enqueue_many(&db, &batch).await.expect("enqueue_many");
    let elapsed = started.elapsed();
    println!(
        "[{name}] enqueue, batched:            {:>9.0} jobs/s ({batched} jobs, {:.1} ms)",
        batched as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e3
    );

    let total = single + batched;
    let config = WorkerConfig {
        concurrency: 64,
        batch_size: 256,
        ..WorkerConfig::default()
    };
    let worker = Worker::new(
        db.clone(),
        queue.clone(),
        vec![provider("noop", Duration::ZERO, schema)],
        config,
    );
    let started = Instant::now();
    let summary = worker.drain().await.expect("drain");
    let elapsed = started.elapsed();
    assert_eq!(summary.count(RunOutcome::Success), total);
    println!(
        "[{name}] drain, no-op provider (orders with 2 positions, 2 mappings): {:>7.0} objects/s ({total} objects, {:.2} s)",
        total as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );

    for concurrency in [1usize, 16, 128] {
        let jobs = (concurrency * 50 * 2).max(100);
        queue
            .enqueue_many(&db, &items("slow", jobs, 1_000_000))
            .await
            .expect("enqueue");
        let config = WorkerConfig {
            concurrency,
            batch_size: concurrency.max(16),
            ..WorkerConfig::default()
        };
        let worker = Worker::new(
            db.clone(),
            queue.clone(),
            vec![provider("slow", Duration::from_millis(20), schema)],
            config,
        );
        let elapsed = run_until_empty(worker, &queue, &db).await;
        // Each object makes 3 calls of 20 ms, one after another.
        let ideal = concurrency as f64 / 0.060;
        let rate = jobs as f64 / elapsed.as_secs_f64();
        println!(
            "[{name}] 20 ms target (3 calls per object), concurrency {concurrency:>3}: {rate:>7.0} objects/s = {:>5.1}% of ideal {ideal:.0}/s ({jobs} objects)",
            100.0 * rate / ideal
        );
    }
}

#[tokio::main]
async fn main() {
    let schema = SourceSchema::from_json(SCHEMA, &ComputedFields::new()).expect("schema");
    bench_backend(None, &schema).await;
    let postgres = std::env::var("OUTSYNC_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    if postgres != "skip" {
        bench_backend(Some(&postgres), &schema).await;
    }
}
