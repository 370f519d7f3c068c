//! Faults around the worker: poison objects (a sync that panics or hangs), the target down
//! for longer than the backoff cap, SQLite held locked by another process, and PostgreSQL
//! restarted in the middle of a run.

use crate::queue_processes::ONE_AT_A_TIME;
use crate::queue_support::report_figure;
use outsync_core::ObjectRef;
use outsync_queue::{EnqueueItem, JobFilter, JobState, Queue, RetryPolicy, StateFilter};
use outsync_queue::{EnqueueOptions, WorkerConfig};
use outsync_tests::db::{Backend, TestDb, fresh, fresh_on_postgres};
use outsync_tests::flaky_target::{FaultRates, FlakyConfig, FlakyTarget};
use outsync_tests::http_target::HttpTargetProvider;
use outsync_tests::scripted::{ScriptedProvider, Step};
use outsync_tests::workers::{BackgroundWorkers, fast_retry_config, wait_until_drained};
use serde_json::json;
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WORKER: &str = env!("CARGO_BIN_EXE_outsync-test-worker");

async fn enqueue_codes(db: &TestDb, provider: &str, codes: &[String]) {
    let queue = Queue::new([provider]);
    let items: Vec<EnqueueItem> = codes
        .iter()
        .map(|code| EnqueueItem {
            provider: provider.into(),
            object: ObjectRef::new("Order", code.clone()),
            triggered_by: "fault test".into(),
            options: EnqueueOptions {
                snapshot: Some(json!({"code": code, "version": 1})),
                ..EnqueueOptions::default()
            },
        })
        .collect();
    for chunk in items.chunks(1_000) {
        queue.enqueue_many(&db.db, chunk).await.expect("enqueue");
    }
}

fn codes(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}{i}")).collect()
}

async fn jobs_in(db: &TestDb, state: StateFilter) -> Vec<outsync_queue::Job> {
    Queue::new(Vec::<String>::new())
        .list_jobs(
            &db.db,
            &JobFilter {
                state: Some(state),
                limit: 100_000,
                ..JobFilter::default()
            },
        )
        .await
        .expect("list jobs")
}

fn synced_codes(provider: &ScriptedProvider) -> HashSet<String> {
    provider.calls().into_iter().map(|(code, _)| code).collect()
}

/// Runs `normal` objects (and `poison` ones first) through one worker and returns how long
/// it took until only the poison jobs were left.
async fn drain_normal_objects(
    db: &TestDb,
    provider: &Arc<ScriptedProvider>,
    normal: &[String],
    poison: &[String],
    config: &WorkerConfig,
) -> (Duration, BackgroundWorkers) {
    enqueue_codes(db, "scripted", poison).await;
    enqueue_codes(db, "scripted", normal).await;
    let started = Instant::now();
    let shared = provider.clone();
    let workers =
        BackgroundWorkers::start(&db.url, 1, config, move || vec![shared.configured()]).await;
    let left_over = poison.len() as i64;
    loop {
        let stats = Queue::new(["scripted"]).stats(&db.db).await.expect("stats");
        if stats.jobs() == left_over {
            let synced = synced_codes(provider);
            assert!(normal.iter().all(|code| synced.contains(code)));
            return (started.elapsed(), workers);
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "normal objects did not drain"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn poison_objects_stop_with_a_message_and_do_not_hold_up_the_rest() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let config = WorkerConfig {
        job_timeout: Duration::from_secs(5),
        ..fast_retry_config("poison")
    };
    let normal = codes("N", 2_000);

    let baseline_db = fresh(Backend::Sqlite).await;
    let baseline = Arc::new(ScriptedProvider::new("scripted").with_delay(Duration::from_millis(2)));
    let (clean_time, workers) =
        drain_normal_objects(&baseline_db, &baseline, &normal, &[], &config).await;
    workers.stop().await;

    let db = fresh(Backend::Sqlite).await;
    let provider = Arc::new(ScriptedProvider::new("scripted").with_delay(Duration::from_millis(2)));
    let panics = codes("PANIC", 3);
    let hangs = codes("HANG", 3);
    for code in &panics {
        provider.script(code, [Step::Panic]);
    }
    for code in &hangs {
        provider.script(code, [Step::Hang]);
    }
    let poison: Vec<String> = panics.iter().chain(&hangs).cloned().collect();
    let (poisoned_time, workers) =
        drain_normal_objects(&db, &provider, &normal, &poison, &config).await;

    // The rest drained while the hanging syncs were still hanging.
    let running: HashSet<String> = jobs_in(&db, StateFilter::Is(JobState::Running))
        .await
        .into_iter()
        .map(|job| job.object.id)
        .collect();
    assert_eq!(
        running,
        hangs.iter().cloned().collect(),
        "only the hanging objects are still running when the rest is done"
    );
    report_figure(&format!(
        "poison: 2000 objects in {:.2} s clean, {:.2} s beside 3 panics and 3 hangs",
        clean_time.as_secs_f64(),
        poisoned_time.as_secs_f64()
    ));

    let started = Instant::now();
    while jobs_in(&db, StateFilter::Stopped).await.len() < poison.len() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "hangs not stopped"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    workers.stop().await;
    for job in jobs_in(&db, StateFilter::Stopped).await {
        let message = job.last_error.clone().unwrap_or_default();
        if job.object.id.starts_with("PANIC") {
            assert_eq!(
                job.state.failure_mode().map(|m| m.as_str()),
                Some("internal"),
                "{job:?}"
            );
            assert_eq!(
                message,
                format!("the sync panicked: scripted panic for {}", job.object.id)
            );
        } else {
            assert_eq!(
                job.state.failure_mode().map(|m| m.as_str()),
                Some("timeout"),
                "{job:?}"
            );
            assert_eq!(
                message,
                "the sync did not finish within 5 s and was stopped"
            );
        }
    }
    let stats = Queue::new(["scripted"]).stats(&db.db).await.unwrap();
    assert_eq!(stats.jobs(), 6, "only the poison jobs remain: {stats:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_longer_than_the_backoff_cap_ends_with_every_job_synced() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = fresh(Backend::Sqlite).await;
    let target = FlakyTarget::start(
        FlakyConfig {
            rates: FaultRates::NONE,
            ..FlakyConfig::default()
        },
        "outage-token",
    )
    .await;
    target.take_down();
    let objects = codes("o", 300);
    enqueue_codes(&db, "http_target", &objects).await;
    let config = WorkerConfig {
        retry: RetryPolicy {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(300),
            ..fast_retry_config("outage").retry
        },
        ..fast_retry_config("outage")
    };
    let url = target.url();
    let max_attempts = 3;
    let workers = BackgroundWorkers::start(&db.url, 1, &config, || {
        vec![HttpTargetProvider::configured(
            &url,
            "outage-token",
            Duration::from_millis(500),
            max_attempts,
        )]
    })
    .await;

    // Ten backoff caps of outage: far more tries than max_attempts allows.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let jobs = Queue::new(Vec::<String>::new())
        .list_jobs(
            &db.db,
            &JobFilter {
                limit: 1_000,
                ..JobFilter::default()
            },
        )
        .await
        .expect("list jobs");
    assert_eq!(jobs.len(), 300);
    assert!(
        jobs.iter().all(|job| job.state.failure_mode().is_none()
            && job.failed_attempts == 0
            && job.snoozed_since.is_some()
            && job
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("the target did not answer"))),
        "jobs snooze without attempts charged, with the outage's message: {:?}",
        jobs.iter()
            .find(|job| job.state.is_stopped() || job.failed_attempts != 0)
    );

    target.bring_up().await;
    let drained = wait_until_drained(&db.db, Duration::from_secs(30)).await;
    workers.stop().await;
    target.with_state(|state| {
        assert_eq!(state.objects.len(), 300, "every object reached the target");
    });
    report_figure(&format!(
        "outage: 300 jobs waited out a 3 s outage (backoff cap 0.3 s, max_attempts {max_attempts}) and drained {:.2} s after the target came back",
        drained.as_secs_f64()
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_held_locked_by_another_process_delays_the_worker_then_it_goes_on() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = fresh(Backend::Sqlite).await;
    let objects = codes("L", 3_000);
    enqueue_codes(&db, "scripted", &objects).await;
    let provider = Arc::new(ScriptedProvider::new("scripted").with_delay(Duration::from_millis(5)));
    let shared = provider.clone();
    let workers = BackgroundWorkers::start(&db.url, 1, &fast_retry_config("locked"), move || {
        vec![shared.configured()]
    })
    .await;
    while provider.calls().len() < 300 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Longer than the 10 s busy timeout: the worker's statements first wait, then fail and
    // are retried.
    let hold = Duration::from_secs(12);
    let mut locker = Command::new(WORKER)
        .args(["lock-sqlite", &db.url, &hold.as_millis().to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the locking process");
    let mut line = String::new();
    BufReader::new(locker.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    assert_eq!(line.trim(), "locked");
    let locked_at = Instant::now();
    // Syncs already claimed may finish; then nothing moves until the lock is released.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let calls_while_locked = provider.calls().len();
    let status = tokio::task::spawn_blocking(move || locker.wait())
        .await
        .expect("wait for the locker")
        .expect("locker exits");
    assert!(status.success());
    let calls_at_release = provider.calls().len();
    assert!(
        calls_at_release <= calls_while_locked + 64,
        "syncs went on while the database was locked ({calls_while_locked} → {calls_at_release})"
    );
    let drained = wait_until_drained(&db.db, Duration::from_secs(60)).await;
    workers.stop().await;
    let synced = synced_codes(&provider);
    assert!(objects.iter().all(|code| synced.contains(code)));
    report_figure(&format!(
        "sqlite lock: held {:.0} s by another process; the worker drained the rest {:.2} s after",
        hold.as_secs_f64(),
        (locked_at.elapsed() - hold).as_secs_f64()
    ));
    let _ = drained;
}

/// The control script of a PostgreSQL cluster the test may restart
/// (`OUTSYNC_TEST_PG_OUTAGE_CTL`, else `scripts/pg-outage.sh`).
fn outage_cluster(command: &str) -> String {
    let script = std::env::var("OUTSYNC_TEST_PG_OUTAGE_CTL").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/pg-outage.sh").to_owned()
    });
    let output = Command::new(&script)
        .arg(command)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("{script} {command}: {e}"));
    assert!(output.status.success(), "{script} {command} failed");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_restarted_mid_run_loses_nothing() {
    let _turn = ONE_AT_A_TIME.lock().await;
    outage_cluster("start");
    let db = fresh_on_postgres(&outage_cluster("url")).await;
    let objects = codes("R", 6_000);
    enqueue_codes(&db, "scripted", &objects).await;
    let provider =
        Arc::new(ScriptedProvider::new("scripted").with_delay(Duration::from_millis(50)));
    let shared = provider.clone();
    let workers = BackgroundWorkers::start(&db.url, 2, &fast_retry_config("restart"), move || {
        vec![shared.configured()]
    })
    .await;
    while provider.calls().len() < 1_000 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let restart = Instant::now();
    let restart_task = tokio::task::spawn_blocking(|| outage_cluster("restart"));
    restart_task.await.expect("restart");
    let down_for = restart.elapsed();
    let before = provider.calls().len();
    let drained = wait_until_drained(&db.db, Duration::from_secs(90)).await;
    let summaries = workers.stop().await;
    let synced = synced_codes(&provider);
    let missing: Vec<&String> = objects.iter().filter(|c| !synced.contains(*c)).collect();
    assert!(missing.is_empty(), "{} objects never synced", missing.len());
    assert!(
        before < objects.len(),
        "the restart should fall in the middle of the run"
    );
    report_figure(&format!(
        "postgres restart: {:.1} s down, {} of 6000 synced before; drained {:.2} s after; {} lease(s) lost",
        down_for.as_secs_f64(),
        before,
        drained.as_secs_f64(),
        summaries.iter().map(|s| s.lease_lost).sum::<usize>()
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_enqueues_and_worker_set_backs_do_not_deadlock_on_postgres() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = fresh(Backend::Postgres).await;
    let target = FlakyTarget::start(
        FlakyConfig {
            rates: FaultRates {
                server_error: 1.0,
                ..FaultRates::NONE
            },
            ..FlakyConfig::default()
        },
        "deadlock-token",
    )
    .await;
    let url = target.url();
    // Every sync fails, so the workers keep setting jobs back while batches arrive.
    let workers = BackgroundWorkers::start(&db.url, 2, &fast_retry_config("deadlock"), || {
        vec![HttpTargetProvider::configured(
            &url,
            "deadlock-token",
            Duration::from_millis(500),
            1_000,
        )]
    })
    .await;
    let objects = codes("d", 1_500);
    let mut enqueuers = Vec::new();
    for enqueuer in 0..4usize {
        let db = db.clone();
        let objects = objects.clone();
        enqueuers.push(tokio::spawn(async move {
            for round in 0..8usize {
                // Each batch names the same objects in an order of its own.
                let mut order = objects.clone();
                let shift = (enqueuer * 397 + round * 211) % order.len();
                order.rotate_left(shift);
                if (enqueuer + round) % 2 == 1 {
                    order.reverse();
                }
                enqueue_codes(&db, "http_target", &order).await;
            }
        }));
    }
    for enqueuer in enqueuers {
        enqueuer.await.expect("every batch enqueue succeeds");
    }
    workers.stop().await;
    let jobs = Queue::new(["http_target"])
        .stats(&db.db)
        .await
        .unwrap()
        .jobs();
    assert!(jobs >= 1_500, "every object has its job: {jobs}");
    assert!(
        target.with_state(|s| s.requests.values().sum::<u32>()) > 0,
        "the workers were failing jobs while the batches arrived"
    );
}
