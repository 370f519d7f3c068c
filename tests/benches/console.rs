//! Operator-console benchmark: what the sync-problems page and `/metrics` ask of the queue
//! with 100,000 and 1,000,000 jobs (half of them stopped, in three failure modes, with
//! messages), before any `ANALYZE`, on an SQLite file and on PostgreSQL. Prints the median
//! of 5 runs, in ms, of:
//!
//! - the problems page: its first page of 50 stopped jobs with the exact total;
//! - a deep page: the 200th page, reached by keyset (`after`);
//! - a filtered page: one provider and failure mode, since an hour ago;
//! - a search over object ids and messages;
//! - the metrics gauges: jobs by provider and state, and the oldest due job.
//!
//! Run: `cargo bench -p outsync-tests --bench console` (`OUTSYNC_TEST_POSTGRES_URL` names the
//! PostgreSQL server; default `postgres://postgres@127.0.0.1:5432/test`). Prints figures;
//! asserts nothing.

use outsync_core::ObjectRef;
use outsync_queue::sea_orm::{ConnectionTrait, DatabaseConnection};
use outsync_queue::{EnqueueItem, EnqueueOptions, JobFilter, JobSort, Queue, StateFilter};
use outsync_tests::db::{Backend, fresh};
use std::time::Instant;

const BATCH: usize = 10_000;

async fn seed(queue: &Queue, db: &DatabaseConnection, jobs: usize) {
    for start in (0..jobs).step_by(BATCH) {
        let items: Vec<EnqueueItem> = (start..(start + BATCH).min(jobs))
            .map(|i| EnqueueItem {
                provider: if i % 3 == 0 { "mailing_list" } else { "basket" }.into(),
                object: ObjectRef::new("Order", format!("O{i:07}")),
                triggered_by: "bench".into(),
                options: EnqueueOptions::default(),
            })
            .collect();
        queue.enqueue_many(db, &items).await.expect("enqueue");
    }
    // Every second job stopped: permanent, config or exceeded, with a message.
    for (remainder, mode, message) in [
        (1, "permanent", "Basket answered 400: email invalid"),
        (3, "config", "Basket refused the API key"),
        (5, "exceeded", "timed out after 10 s"),
        (7, "permanent", "Mailman rejected the request: bad address"),
    ] {
        let sql = format!(
            "UPDATE sync_queue SET failure_mode = '{mode}', last_error = '{message}', failed_attempts = id % 7 WHERE id % 8 = {remainder}"
        );
        db.execute_unprepared(&sql).await.expect("stop jobs");
    }
}

/// The median of 5 runs of `work`, in ms.
async fn median<F, Fut>(work: F) -> f64
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        work().await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    times[2]
}

async fn measure(backend: Backend, jobs: usize) {
    let db = fresh(backend).await;
    let queue = Queue::new(["basket", "mailing_list"]);
    let started = Instant::now();
    seed(&queue, &db.db, jobs).await;
    let seeded = started.elapsed().as_secs_f64();
    let stopped = JobFilter {
        state: Some(StateFilter::Stopped),
        limit: 50,
        ..JobFilter::default()
    };
    let first = median(|| async {
        let page = queue.page_jobs(&db.db, &stopped).await.unwrap();
        assert_eq!(page.jobs.len(), 50);
    })
    .await;
    // The 200th page: walk there once, then time the page itself.
    let mut deep = stopped.clone();
    for _ in 0..199 {
        deep.after = queue.page_jobs(&db.db, &deep).await.unwrap().next;
    }
    let deep_page = median(|| async {
        queue.page_jobs(&db.db, &deep).await.unwrap();
    })
    .await;
    let filtered = JobFilter {
        state: Some("permanent".parse().unwrap()),
        provider: Some("basket".into()),
        since_ms: Some(queue.now_ms() - 3_600_000),
        sort: JobSort::MostAttempts,
        limit: 50,
        ..JobFilter::default()
    };
    let filtered_page = median(|| async {
        queue.page_jobs(&db.db, &filtered).await.unwrap();
    })
    .await;
    let search = JobFilter {
        search: Some("O00123".into()),
        limit: 50,
        ..JobFilter::default()
    };
    let search_page = median(|| async {
        queue.page_jobs(&db.db, &search).await.unwrap();
    })
    .await;
    let gauges = median(|| async {
        queue.stats(&db.db).await.unwrap();
        queue.oldest_due_ms(&db.db).await.unwrap();
    })
    .await;
    println!(
        "{backend:?}, {jobs} jobs (seeded in {seeded:.0} s): problems page {first:.1} ms, \
         200th page {deep_page:.1} ms, filtered page {filtered_page:.1} ms, \
         search {search_page:.1} ms, metrics gauges {gauges:.1} ms"
    );
}

#[tokio::main]
async fn main() {
    for jobs in [100_000, 1_000_000] {
        measure(Backend::Sqlite, jobs).await;
        measure(Backend::Postgres, jobs).await;
    }
}
