//! The worker: retries with backoff on an injected clock, failure modes, panics, hangs,
//! Retry-After, leases and fencing, object sources, wake-ups and shutdown.

use crate::queue_support::*;
use outsync_core::{ObjectRef, ObjectSource, SyncError, async_trait};
use outsync_queue::{EnqueueOptions, RunOutcome, Worker, WorkerConfig};
use outsync_queue::{FailureMode, JobFilter, JobState, Queue, RetryPolicy, StateFilter};
use outsync_tests::backend_test;
use outsync_tests::db::Backend;
use outsync_tests::scripted::{Gate, ScriptedProvider, Step};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

async fn only_job(queue: &Queue, t: &outsync_tests::db::TestDb) -> outsync_queue::Job {
    let jobs = queue.list_jobs(&t.db, &JobFilter::default()).await.unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    jobs.into_iter().next().unwrap()
}

backend_test! {
    async fn recoverable_failures_retry_with_backoff_until_success(t) {
        let provider = Arc::new(ScriptedProvider::new("scripted"));
        provider.script(
            "A",
            [Step::Recoverable, Step::Recoverable, Step::Recoverable],
        );
        let (queue, worker, clock) = setup(&t, provider.clone(), test_config());
        queue
            .enqueue(&t.db, "scripted", &order("A"), "test", snapshot("A", 1))
            .await
            .unwrap();
        // Waits of 10 s, 20 s, 40 s (base 10 s, doubling, no jitter).
        for (attempt, wait_ms) in [(1, 10_000), (2, 20_000), (3, 40_000)] {
            let summary = worker.drain().await.unwrap();
            assert_eq!(
                summary.count(RunOutcome::Retry),
                1,
                "attempt {attempt} ({:?})",
                t.backend
            );
            let job = only_job(&queue, &t).await;
            assert_eq!(job.failed_attempts, attempt);
            assert_eq!(job.not_before, clock_now(&clock) + wait_ms);
            assert_eq!(
                job.last_error.as_deref(),
                Some("mapping records: target unavailable (HTTP 503)")
            );
            clock.advance(wait_ms - 1);
            assert_eq!(
                worker.drain().await.unwrap().processed(),
                0,
                "the backoff is respected"
            );
            clock.advance(1);
        }
        let summary = worker.drain().await.unwrap();
        assert_eq!(summary.count(RunOutcome::Success), 1);
        assert_eq!(provider.calls_for("A"), 4, "synced once, after 4 attempts");
        assert_eq!(job_count(&queue, &t).await, 0);
        let outcomes: Vec<String> = queue
            .recent_runs(&t.db, 10, None)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.outcome.to_string())
            .collect();
        assert_eq!(outcomes, ["success", "retry", "retry", "retry"]);
    }
}

fn clock_now(clock: &outsync_queue::ManualClock) -> i64 {
    use outsync_queue::Clock;
    clock.now_ms()
}

backend_test! {
    async fn max_attempts_end_in_exceeded_until_an_operator_retries(t) {
        let provider = Arc::new(ScriptedProvider::new("scripted").with_max_attempts(3));
        provider.script(
            "A",
            [Step::Recoverable, Step::Recoverable, Step::Recoverable],
        );
        let (queue, worker, clock) = setup(&t, provider.clone(), test_config());
        queue
            .enqueue(&t.db, "scripted", &order("A"), "test", snapshot("A", 1))
            .await
            .unwrap();
        for _ in 0..5 {
            worker.drain().await.unwrap();
            clock.advance(3_600_000);
        }
        assert_eq!(provider.calls_for("A"), 3);
        let job = only_job(&queue, &t).await;
        assert_eq!(
            job.state.failure_mode().map(|m| m.as_str()),
            Some("exceeded"),
            "{:?}",
            t.backend
        );
        assert_eq!(job.failed_attempts, 3);
        assert!(
            job.last_error
                .unwrap()
                .starts_with("maximum number of attempts (3) reached")
        );
        queue.retry(&t.db, job.id).await.unwrap();
        assert_eq!(worker.drain().await.unwrap().count(RunOutcome::Success), 1);
        assert_eq!(job_count(&queue, &t).await, 0);
    }
}

backend_test! {
    async fn permanent_and_config_errors_stop_without_further_attempts(t) {
        let provider = Arc::new(ScriptedProvider::new("scripted"));
        provider.script("P", [Step::Permanent]);
        provider.script("C", [Step::Config]);
        let (queue, worker, clock) = setup(&t, provider.clone(), test_config());
        for code in ["P", "C"] {
            queue
                .enqueue(&t.db, "scripted", &order(code), "test", snapshot(code, 1))
                .await
                .unwrap();
        }
        worker.drain().await.unwrap();
        clock.advance(86_400_000);
        assert_eq!(worker.drain().await.unwrap().processed(), 0);
        assert_eq!(provider.calls().len(), 2);
        let failed = queue
            .list_jobs(
                &t.db,
                &JobFilter {
                    state: Some(StateFilter::Stopped),
                    ..JobFilter::default()
                },
            )
            .await
            .unwrap();
        let modes: HashMap<String, Option<String>> = failed
            .iter()
            .map(|j| {
                (
                    j.object.id.clone(),
                    j.state.failure_mode().map(|m| m.to_string()),
                )
            })
            .collect();
        assert_eq!(modes["P"].as_deref(), Some("permanent"), "{:?}", t.backend);
        assert_eq!(modes["C"].as_deref(), Some("config"));
        let config_job = failed.iter().find(|j| j.object.id == "C").unwrap();
        assert_eq!(
            config_job.last_error.as_deref(),
            Some("mapping records: bad API key (HTTP 401)")
        );
        let by_mode = queue
            .list_jobs(
                &t.db,
                &JobFilter {
                    state: Some(StateFilter::Is(JobState::Stopped(FailureMode::Config))),
                    ..JobFilter::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(by_mode.len(), 1);
        queue.retry(&t.db, config_job.id).await.unwrap();
        assert_eq!(worker.drain().await.unwrap().count(RunOutcome::Success), 1);
        assert_eq!(provider.calls_for("C"), 2);
    }
}

backend_test! {
    async fn a_panic_ends_in_internal_and_the_worker_keeps_going(t) {
        let provider = Arc::new(ScriptedProvider::new("scripted"));
        provider.script("BOOM", [Step::Panic]);
        let (queue, worker, _) = setup(&t, provider.clone(), test_config());
        for code in ["BOOM", "B", "C"] {
            queue
                .enqueue(&t.db, "scripted", &order(code), "test", snapshot(code, 1))
                .await
                .unwrap();
        }
        let summary = worker.drain().await.unwrap();
        assert_eq!(summary.count(RunOutcome::Failed(FailureMode::Internal)), 1, "{:?}", t.backend);
        assert_eq!(summary.count(RunOutcome::Success), 2);
        let job = only_job(&queue, &t).await;
        assert_eq!(
            job.state.failure_mode().map(|m| m.as_str()),
            Some("internal")
        );
        assert_eq!(
            job.last_error.as_deref(),
            Some("the sync panicked: scripted panic for BOOM")
        );
    }
}

backend_test! {
    async fn a_hanging_sync_ends_in_timeout(t) {
        let provider = Arc::new(ScriptedProvider::new("scripted"));
        provider.script("SLOW", [Step::Hang]);
        let config = WorkerConfig {
            job_timeout: Duration::from_millis(300),
            ..test_config()
        };
        let (queue, worker, _) = setup(&t, provider.clone(), config);
        for code in ["SLOW", "B"] {
            queue
                .enqueue(&t.db, "scripted", &order(code), "test", snapshot(code, 1))
                .await
                .unwrap();
        }
        let summary = worker.drain().await.unwrap();
        assert_eq!(summary.count(RunOutcome::Failed(FailureMode::Timeout)), 1, "{:?}", t.backend);
        assert_eq!(summary.count(RunOutcome::Success), 1);
        let job = only_job(&queue, &t).await;
        assert_eq!(
            job.state.failure_mode().map(|m| m.as_str()),
            Some("timeout")
        );
        assert_eq!(
            job.last_error.as_deref(),
            Some("the sync did not finish within 0.3 s and was stopped")
        );
    }
}

backend_test! {
    async fn retry_after_is_honoured(t) {
        let provider = Arc::new(ScriptedProvider::new("scripted"));
        provider.script("A", [Step::RetryAfter(Duration::from_secs(90))]);
        let (queue, worker, clock) = setup(&t, provider.clone(), test_config());
        queue
            .enqueue(&t.db, "scripted", &order("A"), "test", snapshot("A", 1))
            .await
            .unwrap();
        worker.drain().await.unwrap();
        let job = only_job(&queue, &t).await;
        assert_eq!(job.not_before, START + 90_000, "{:?}", t.backend);
        clock.advance(89_999);
        assert_eq!(worker.drain().await.unwrap().processed(), 0);
        clock.advance(1);
        assert_eq!(worker.drain().await.unwrap().count(RunOutcome::Success), 1);
    }
}

backend_test! {
    async fn expired_leases_are_taken_back_and_stale_acks_do_not_count(t) {
        let provider = Arc::new(ScriptedProvider::new("scripted"));
        let gate = Arc::new(Gate::default());
        provider.script("A", [Step::Gate(gate.clone())]);
        let config = WorkerConfig {
            lease: Duration::from_secs(60),
            ..test_config()
        };
        let (queue, first, clock) = setup(&t, provider.clone(), config.clone());
        let second = Worker::new(
            t.db.clone(),
            queue.clone(),
            vec![provider.configured()],
            WorkerConfig {
                id: "second".into(),
                ..config
            },
        );
        queue
            .enqueue(&t.db, "scripted", &order("A"), "test", snapshot("A", 1))
            .await
            .unwrap();
        let first = Arc::new(first);
        let stuck = tokio::spawn({
            let first = first.clone();
            async move { first.drain().await.unwrap() }
        });
        gate.entered.notified().await;
        // The first worker seems dead: its lease runs out and the reaper takes the job back.
        clock.advance(61_000);
        assert_eq!(second.reap().await.unwrap(), 1, "{:?}", t.backend);
        let job = only_job(&queue, &t).await;
        assert_eq!(job.worker, None);
        assert_eq!(job.failed_attempts, 1);
        assert_eq!(second.drain().await.unwrap().count(RunOutcome::Success), 1);
        // The first worker wakes up late; its result must not count.
        gate.release.notify_one();
        let late = stuck.await.unwrap();
        assert_eq!(late.lease_lost, 1, "{:?}", t.backend);
        let outcomes: Vec<String> = queue
            .recent_runs(&t.db, 10, None)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.outcome.to_string())
            .collect();
        assert_eq!(
            outcomes,
            ["success", "retry"],
            "the stale ack wrote nothing"
        );
        assert_eq!(job_count(&queue, &t).await, 0);
    }
}

struct MapSource(Mutex<HashMap<String, Value>>);

#[async_trait]
impl ObjectSource for MapSource {
    async fn load(&self, object: &ObjectRef) -> Result<Option<Value>, SyncError> {
        Ok(self.0.lock().unwrap().get(&object.id).cloned())
    }
}

backend_test! {
    async fn jobs_without_snapshot_load_the_latest_state(t) {
        let provider = Arc::new(ScriptedProvider::new("scripted"));
        let source = Arc::new(MapSource(Mutex::new(HashMap::from([(
            "A".to_owned(),
            json!({"code": "A", "version": 1}),
        )]))));
        let (queue, worker, _) = setup(&t, provider.clone(), test_config());
        let worker = worker.with_source(source.clone());
        queue
            .enqueue(
                &t.db,
                "scripted",
                &order("A"),
                "test",
                EnqueueOptions::default(),
            )
            .await
            .unwrap();
        queue
            .enqueue(
                &t.db,
                "scripted",
                &order("GONE"),
                "test",
                EnqueueOptions::default(),
            )
            .await
            .unwrap();
        source
            .0
            .lock()
            .unwrap()
            .insert("A".into(), json!({"code": "A", "version": 7}));
        let summary = worker.drain().await.unwrap();
        assert_eq!(summary.count(RunOutcome::Success), 1, "{:?}", t.backend);
        assert_eq!(summary.count(RunOutcome::ObjectMissing), 1);
        assert_eq!(
            provider.calls()[0].1["version"],
            7,
            "a late sync sends the latest data"
        );
    }
}

backend_test! {
    async fn an_enqueue_wakes_an_idle_worker_at_once(t) {
        let provider = Arc::new(ScriptedProvider::new("scripted"));
        let config = WorkerConfig {
            poll_interval: Duration::from_secs(30),
            postgres_listen_url: (t.backend == Backend::Postgres).then(|| t.url.clone()),
            ..test_config()
        };
        let queue = Queue::new(["scripted"]);
        let worker = Worker::new(
            t.db.clone(),
            queue.clone(),
            vec![provider.configured()],
            config,
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(async move {
            worker
                .run(async {
                    stopped.await.ok();
                })
                .await
                .unwrap()
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        // On PostgreSQL another Queue instance (as in another process) enqueues: only
        // LISTEN/NOTIFY can wake the worker. On SQLite the in-process signal does.
        let enqueuer = if t.backend == Backend::Postgres {
            Queue::new(["scripted"])
        } else {
            queue.clone()
        };
        let started = std::time::Instant::now();
        enqueuer
            .enqueue(&t.db, "scripted", &order("A"), "test", snapshot("A", 1))
            .await
            .unwrap();
        while provider.calls().is_empty() && started.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let latency = started.elapsed();
        assert!(
            latency < Duration::from_secs(5),
            "woke after {latency:?} ({:?})",
            t.backend
        );
        stop.send(()).unwrap();
        let summary = running.await.unwrap();
        assert_eq!(summary.count(RunOutcome::Success), 1);
    }
}

backend_test! {
    async fn shutdown_releases_jobs_that_do_not_finish_in_time(t) {
        let provider = Arc::new(ScriptedProvider::new("scripted"));
        let gate = Arc::new(Gate::default());
        provider.script("A", [Step::Gate(gate.clone())]);
        let config = WorkerConfig {
            shutdown_grace: Duration::from_millis(200),
            ..test_config()
        };
        let (queue, worker, _) = setup(&t, provider.clone(), config);
        queue
            .enqueue(&t.db, "scripted", &order("A"), "test", snapshot("A", 1))
            .await
            .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(async move {
            worker
                .run(async {
                    stopped.await.ok();
                })
                .await
                .unwrap()
        });
        gate.entered.notified().await;
        stop.send(()).unwrap();
        let summary = running.await.unwrap();
        assert_eq!(summary.released, 1, "{:?}", t.backend);
        let job = only_job(&queue, &t).await;
        assert_eq!(job.worker, None, "released for another worker");
        assert_eq!(job.state, JobState::Pending);
        assert_eq!(job.failed_attempts, 0, "a release is not a failed attempt");
    }
}

backend_test! {
    async fn lease_expiry_can_be_a_timeout_by_policy(t) {
        let provider = Arc::new(ScriptedProvider::new("scripted"));
        let gate = Arc::new(Gate::default());
        provider.script("A", [Step::Gate(gate.clone())]);
        let config = WorkerConfig {
            lease: Duration::from_secs(60),
            retry: RetryPolicy {
                on_lease_expiry: outsync_queue::LeaseExpiry::Timeout,
                jitter: 0.0,
                ..RetryPolicy::default()
            },
            ..test_config()
        };
        let (queue, worker, clock) = setup(&t, provider.clone(), config);
        queue
            .enqueue(&t.db, "scripted", &order("A"), "test", snapshot("A", 1))
            .await
            .unwrap();
        let worker = Arc::new(worker);
        let stuck = tokio::spawn({
            let worker = worker.clone();
            async move { worker.drain().await.unwrap() }
        });
        gate.entered.notified().await;
        clock.advance(61_000);
        assert_eq!(worker.reap().await.unwrap(), 1);
        let job = only_job(&queue, &t).await;
        assert_eq!(
            job.state.failure_mode().map(|m| m.as_str()),
            Some("timeout"),
            "{:?}",
            t.backend
        );
        gate.release.notify_one();
        assert_eq!(stuck.await.unwrap().lease_lost, 1);
    }
}

backend_test! {
    async fn run_job_now_runs_a_scheduled_or_stopped_job_at_once(t) {
        let provider = Arc::new(ScriptedProvider::new("scripted"));
        provider.script("A", [Step::Config]);
        let (queue, worker, _) = setup(&t, provider.clone(), test_config());
        let later = EnqueueOptions {
            not_before_ms: Some(START + 86_400_000),
            ..snapshot("A", 1)
        };
        let job = queue
            .enqueue(&t.db, "scripted", &order("A"), "test", later)
            .await
            .unwrap();
        assert_eq!(
            worker.drain().await.unwrap().processed(),
            0,
            "scheduled for tomorrow"
        );
        let first = worker.run_job_now(job.id).await.unwrap();
        assert_eq!(first.count(RunOutcome::Failed(FailureMode::Config)), 1, "{:?}", t.backend);
        let second = worker.run_job_now(job.id).await.unwrap();
        assert_eq!(
            second.count(RunOutcome::Success),
            1,
            "a stopped job is retried and run"
        );
        assert_eq!(job_count(&queue, &t).await, 0);
    }
}

backend_test! {
    async fn per_provider_concurrency_and_rate_limits_hold(t) {
        use outsync_queue::worker::ProviderLimits;
        let provider =
            Arc::new(ScriptedProvider::new("scripted").with_delay(Duration::from_millis(30)));
        let limited = WorkerConfig {
            concurrency: 16,
            limits: HashMap::from([(
                "scripted".to_owned(),
                ProviderLimits {
                    concurrency: Some(2),
                    rate_per_second: Some(40.0),
                    ..ProviderLimits::default()
                },
            )]),
            ..test_config()
        };
        let (queue, worker, _) = setup(&t, provider.clone(), limited);
        for i in 0..12 {
            let code = i.to_string();
            queue
                .enqueue(&t.db, "scripted", &order(&code), "test", snapshot(&code, 1))
                .await
                .unwrap();
        }
        let started = std::time::Instant::now();
        assert_eq!(worker.drain().await.unwrap().count(RunOutcome::Success), 12);
        assert_eq!(provider.most_running(), 2, "{:?}", t.backend);
        // 12 starts at 40 per second are spread over at least 11 × 25 ms.
        assert!(
            started.elapsed() >= Duration::from_millis(275),
            "{:?}",
            started.elapsed()
        );
    }
}

backend_test! {
    async fn jobs_held_too_long_for_their_lease_are_handed_back_unrun(t) {
        // One slot, a batch of four, 600 ms per job, a lease of 2 s and a timeout of 1 s:
        // the third and fourth jobs would start more than a second after their claim, when
        // their lease could run out before they end. They are handed back, uncharged, and
        // run from a new claim.
        let provider = Arc::new(ScriptedProvider::new("scripted").with_delay(Duration::from_millis(600)));
        let config = WorkerConfig {
            concurrency: 1,
            batch_size: 4,
            lease: Duration::from_secs(2),
            job_timeout: Duration::from_secs(1),
            ..test_config()
        };
        let (queue, worker, _clock) = setup(&t, provider.clone(), config);
        for code in ["A", "B", "C", "D"] {
            queue.enqueue(&t.db, "scripted", &order(code), "test", snapshot(code, 1)).await.unwrap();
        }
        let watcher = queue.clone();
        let db = t.db.clone();
        let summary = worker
            .run(async move {
                while watcher.stats(&db).await.map_or(true, |stats| stats.jobs() > 0) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
            .await
            .unwrap();
        assert_eq!(summary.count(RunOutcome::Success), 4, "{:?}", t.backend);
        assert!(summary.released >= 2, "handed back: {summary:?}");
        assert_eq!(summary.lease_lost, 0);
        for code in ["A", "B", "C", "D"] {
            assert_eq!(provider.calls_for(code), 1, "{code} ran once");
        }
    }
}
