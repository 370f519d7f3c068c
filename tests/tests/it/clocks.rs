//! Leases across hosts: lease times come from the database's clock, so a host whose own
//! clock runs fast does not take back the live jobs of the others.

use crate::queue_support::*;
use outsync_queue::{Clock, DatabaseClock, JobFilter, JobState, Queue, StateFilter, SystemClock};
use outsync_queue::{Worker, WorkerConfig};
use outsync_tests::db::{Backend, fresh};
use outsync_tests::scripted::{Gate, ScriptedProvider, Step};
use std::sync::Arc;
use std::time::Duration;

/// The system clock, `skew_ms` off.
#[derive(Debug)]
struct SkewedClock(i64);

impl Clock for SkewedClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms() + self.0
    }
}

fn host(db: &outsync_tests::db::TestDb, queue: Queue, provider: &Arc<ScriptedProvider>) -> Worker {
    let config = WorkerConfig {
        lease: Duration::from_secs(60),
        job_timeout: Duration::from_secs(30),
        ..test_config()
    };
    Worker::new(db.db.clone(), queue, vec![provider.configured()], config)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_ten_minutes_fast_does_not_take_back_live_leases() {
    let t = fresh(Backend::Postgres).await;
    let provider = Arc::new(ScriptedProvider::new("scripted"));
    let gate = Arc::new(Gate::default());
    provider.script("A", [Step::Gate(gate.clone())]);

    // Host B, on the database clock, holds object A with a 60 s lease.
    let queue_b = Queue::new(["scripted"])
        .with_database_clock(&t.db)
        .await
        .unwrap();
    queue_b
        .enqueue(&t.db, "scripted", &order("A"), "test", snapshot("A", 1))
        .await
        .unwrap();
    let worker_b = Arc::new(host(&t, queue_b, &provider));
    let draining = tokio::spawn({
        let worker_b = worker_b.clone();
        async move { worker_b.drain().await }
    });
    gate.entered.notified().await;

    // Host A's own clock runs ten minutes fast; its database clock does not.
    let fast = Arc::new(SkewedClock(10 * 60 * 1000));
    let database_clock = DatabaseClock::measure_with(&t.db, fast.clone())
        .await
        .unwrap();
    let error = (database_clock.now_ms() - SystemClock.now_ms()).abs();
    assert!(error < 2_000, "the database clock is {error} ms off");
    assert!((database_clock.offset_ms() + 600_000).abs() < 2_000);
    let careful = host(
        &t,
        Queue::new(["scripted"]).with_clock(Arc::new(database_clock)),
        &provider,
    );
    assert_eq!(
        careful.reap().await.unwrap(),
        0,
        "the live lease stays with host B"
    );
    let running = Queue::new(["scripted"])
        .list_jobs(
            &t.db,
            &JobFilter {
                state: Some(StateFilter::Is(JobState::Running)),
                ..JobFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(running.len(), 1);

    // The hazard the database clock avoids: on its own clock, host A takes the job back.
    let naive = host(&t, Queue::new(["scripted"]).with_clock(fast), &provider);
    assert_eq!(
        naive.reap().await.unwrap(),
        1,
        "a fast host's own clock expires the lease"
    );

    gate.release.notify_one();
    let summary = draining.await.unwrap().unwrap();
    assert_eq!(
        summary.lease_lost, 1,
        "host B's late answer is refused by the fencing token"
    );
}

#[tokio::test]
async fn on_sqlite_the_database_clock_is_the_hosts() {
    let t = fresh(Backend::Sqlite).await;
    let clock = DatabaseClock::measure(&t.db).await.unwrap();
    assert_eq!(clock.offset_ms(), 0);
}
