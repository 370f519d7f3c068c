//! Safe to operate, at the library level: a worker never deletes jobs it cannot run, and
//! the queue refuses at the door what could never sync.

use crate::queue_support::{START, job_count, order, setup, snapshot, test_config};
use outsync_core::ObjectRef;
use outsync_queue::{EnqueueOptions, RunOutcome, UnknownProviders, Worker};
use outsync_queue::{JobFilter, ManualClock, Queue, QueueError, StateFilter};
use outsync_tests::db::{Backend, TestDb, fresh};
use outsync_tests::scripted::ScriptedProvider;
use serde_json::{Value, json};
use std::sync::Arc;

async fn enqueue_for_uninstalled(t: &TestDb, jobs: usize) {
    let old_queue = Queue::new(["uninstalled"]);
    for i in 0..jobs {
        let code = format!("U{i}");
        old_queue
            .enqueue(
                &t.db,
                "uninstalled",
                &order(&code),
                "test",
                snapshot(&code, 1),
            )
            .await
            .unwrap();
    }
}

async fn unknown_provider_jobs_stay_queued(backend: Backend) {
    let t = fresh(backend).await;
    let provider = Arc::new(ScriptedProvider::new("scripted"));
    let (queue, worker, _) = setup(&t, provider.clone(), test_config());
    enqueue_for_uninstalled(&t, 50).await;
    queue
        .enqueue(&t.db, "scripted", &order("A"), "test", snapshot("A", 1))
        .await
        .unwrap();
    let summary = worker.drain().await.unwrap();
    assert_eq!(summary.count(RunOutcome::Success), 1, "{summary:?}");
    assert_eq!(summary.count(RunOutcome::Dropped), 0, "{summary:?}");
    assert_eq!(
        job_count(&queue, &t).await,
        50,
        "nothing of another provider is deleted"
    );
    assert_eq!(
        worker.unknown_provider_jobs().get("uninstalled"),
        Some(&50),
        "the gauge counts them"
    );
    // A worker that does run the provider takes them.
    let other = Arc::new(ScriptedProvider::new("uninstalled"));
    let (_, other_worker, _) = setup(&t, other.clone(), test_config());
    assert_eq!(
        other_worker
            .drain()
            .await
            .unwrap()
            .count(RunOutcome::Success),
        50
    );
    assert_eq!(job_count(&queue, &t).await, 0);
}

#[tokio::test]
async fn jobs_of_providers_a_worker_does_not_run_stay_queued_on_sqlite() {
    unknown_provider_jobs_stay_queued(Backend::Sqlite).await;
}

#[tokio::test]
async fn jobs_of_providers_a_worker_does_not_run_stay_queued_on_postgres() {
    unknown_provider_jobs_stay_queued(Backend::Postgres).await;
}

async fn stop_policy_and_purge(backend: Backend) {
    let t = fresh(backend).await;
    let provider = Arc::new(ScriptedProvider::new("scripted"));
    let config = outsync_queue::WorkerConfig {
        unknown_providers: UnknownProviders::Stop,
        ..test_config()
    };
    let (queue, worker, _) = setup(&t, provider, config);
    enqueue_for_uninstalled(&t, 7).await;
    worker.drain().await.unwrap();
    let stopped = queue
        .list_jobs(
            &t.db,
            &JobFilter {
                state: Some(StateFilter::Stopped),
                ..JobFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(stopped.len(), 7, "stopped, not deleted");
    assert!(
        stopped[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("jobs purge")
    );
    assert_eq!(
        queue.count_purgeable(&t.db, "uninstalled").await.unwrap(),
        7
    );
    assert_eq!(queue.purge_provider(&t.db, "uninstalled").await.unwrap(), 7);
    assert_eq!(job_count(&queue, &t).await, 0);
    let runs = queue.recent_runs(&t.db, 10, None).await.unwrap();
    assert_eq!(runs.len(), 7);
    assert!(runs.iter().all(|run| run.outcome == RunOutcome::Dropped));
    assert!(runs[0].error.as_deref().unwrap().contains("purged"));
}

#[tokio::test]
async fn the_stop_policy_keeps_unknown_jobs_visible_and_purge_removes_them_on_sqlite() {
    stop_policy_and_purge(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_stop_policy_keeps_unknown_jobs_visible_and_purge_removes_them_on_postgres() {
    stop_policy_and_purge(Backend::Postgres).await;
}

fn strict_queue(provider: &Arc<ScriptedProvider>) -> Queue {
    Queue::for_providers(&[provider.configured()]).with_clock(Arc::new(ManualClock::new(START)))
}

/// Every enqueue the queue must refuse, with the field the error names.
fn bad_enqueues() -> Vec<(&'static str, ObjectRef, Option<Value>, &'static str)> {
    let with = |snapshot: Value| Some(snapshot);
    vec![
        (
            "unknown type",
            ObjectRef::new("Ordr", "A"),
            with(json!({"code": "A"})),
            "object_type",
        ),
        ("empty object", order("A"), with(json!({})), "snapshot"),
        ("number", order("A"), with(json!(42)), "snapshot"),
        ("null", order("A"), with(Value::Null), "snapshot"),
        ("no id", order("A"), with(json!({"name": "x"})), "snapshot"),
        (
            "other id",
            order("A"),
            with(json!({"code": "B"})),
            "snapshot",
        ),
        ("long id", order(&"x".repeat(100_000)), None, "object_id"),
        ("256-byte id", order(&"x".repeat(256)), None, "object_id"),
        ("NUL", order("a\0b"), None, "object_id"),
        ("CR LF", order("a\r\nb"), None, "object_id"),
    ]
}

async fn refuses_at_the_door(backend: Backend) {
    let t = fresh(backend).await;
    let provider = Arc::new(ScriptedProvider::new("scripted"));
    let queue = strict_queue(&provider);
    for (case, object, snapshot, field) in bad_enqueues() {
        let options = EnqueueOptions {
            snapshot,
            ..EnqueueOptions::default()
        };
        let error = queue
            .enqueue(&t.db, "scripted", &object, "test", options.clone())
            .await
            .unwrap_err();
        match &error {
            QueueError::Rejected { field: named, .. } => assert_eq!(*named, field, "{case}"),
            other => panic!("{case}: {other}"),
        }
        assert!(
            error.to_string().len() < 400,
            "{case}: short message: {error}"
        );
        // A batch with one bad item queues nothing.
        let items = vec![
            outsync_queue::EnqueueItem {
                provider: "scripted".into(),
                object: order("good"),
                triggered_by: "test".into(),
                options: snapshot_options("good"),
            },
            outsync_queue::EnqueueItem {
                provider: "scripted".into(),
                object,
                triggered_by: "test".into(),
                options,
            },
        ];
        assert!(queue.enqueue_many(&t.db, &items).await.is_err(), "{case}");
        assert_eq!(job_count(&queue, &t).await, 0, "{case}: nothing queued");
    }
    // The longest id allowed, a numeric id matching a number, and no snapshot pass.
    let long = "x".repeat(255);
    for (object, options) in [
        (order(&long), EnqueueOptions::default()),
        (
            order("7"),
            EnqueueOptions {
                snapshot: Some(json!({"code": 7})),
                ..EnqueueOptions::default()
            },
        ),
        (order("ünïcödé"), snapshot_options("ünïcödé")),
    ] {
        queue
            .enqueue(&t.db, "scripted", &object, "test", options)
            .await
            .unwrap_or_else(|e| panic!("{object}: {e}"));
    }
    assert_eq!(job_count(&queue, &t).await, 3);
}

fn snapshot_options(code: &str) -> EnqueueOptions {
    EnqueueOptions {
        snapshot: Some(json!({"code": code})),
        ..EnqueueOptions::default()
    }
}

#[tokio::test]
async fn the_queue_refuses_what_can_never_sync_on_sqlite() {
    refuses_at_the_door(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_queue_refuses_what_can_never_sync_on_postgres() {
    refuses_at_the_door(Backend::Postgres).await;
}

#[tokio::test]
async fn a_sync_no_mapping_applies_to_is_skipped_with_the_reason() {
    let t = fresh(Backend::Sqlite).await;
    let provider = Arc::new(ScriptedProvider::new("scripted"));
    // A queue that knows only identifiers (an application's outbox) cannot check types.
    let (queue, worker, _) = setup(&t, provider.clone(), test_config());
    queue
        .enqueue(
            &t.db,
            "scripted",
            &ObjectRef::new("UserProfle", "1"),
            "test",
            EnqueueOptions {
                snapshot: Some(json!({"id": 1})),
                ..EnqueueOptions::default()
            },
        )
        .await
        .unwrap();
    let summary = worker.drain().await.unwrap();
    assert_eq!(summary.count(RunOutcome::Skipped), 1, "{summary:?}");
    assert_eq!(summary.count(RunOutcome::Success), 0, "{summary:?}");
    let runs = queue.recent_runs(&t.db, 1, None).await.unwrap();
    assert_eq!(runs[0].outcome, RunOutcome::Skipped);
    let reason = runs[0].error.as_deref().unwrap_or_default();
    assert!(
        reason.contains("no mapping") && reason.contains("UserProfle"),
        "{reason}"
    );
    assert!(provider.calls().is_empty());
    let _: &Worker = &worker;
}

async fn a_rate_limit_snoozes_without_charging_attempts(backend: Backend) {
    use outsync_tests::scripted::Step;
    use std::time::Duration;
    let t = fresh(backend).await;
    let provider = Arc::new(ScriptedProvider::new("scripted").with_max_attempts(2));
    provider.script(
        "A",
        std::iter::repeat_n(Step::RetryAfter(Duration::from_secs(60)), 10),
    );
    let mut config = test_config();
    config.retry.snooze_cap = Duration::from_secs(300);
    let (queue, worker, clock) = setup(&t, provider.clone(), config);
    queue
        .enqueue(&t.db, "scripted", &order("A"), "test", snapshot("A", 1))
        .await
        .unwrap();
    // Five 429s within the 300 s cap: no attempt charged, although max_attempts is 2.
    for round in 0..5 {
        let summary = worker.drain().await.unwrap();
        assert_eq!(
            summary.count(RunOutcome::Snoozed),
            1,
            "round {round}: {summary:?}"
        );
        let job = &queue.list_jobs(&t.db, &JobFilter::default()).await.unwrap()[0];
        assert_eq!(job.failed_attempts, 0, "round {round}");
        assert_eq!(job.snoozed_since, Some(START), "round {round}");
        assert!(job.state.failure_mode().is_none());
        clock.advance(60_000);
    }
    // Past the cap, a 429 counts: attempt 1, and the snooze window starts over.
    let summary = worker.drain().await.unwrap();
    assert_eq!(summary.count(RunOutcome::Retry), 1, "{summary:?}");
    let job = &queue.list_jobs(&t.db, &JobFilter::default()).await.unwrap()[0];
    assert_eq!((job.failed_attempts, job.snoozed_since), (1, None));
}

#[tokio::test]
async fn a_rate_limit_snoozes_without_charging_attempts_up_to_a_cap_on_sqlite() {
    a_rate_limit_snoozes_without_charging_attempts(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_rate_limit_snoozes_without_charging_attempts_up_to_a_cap_on_postgres() {
    a_rate_limit_snoozes_without_charging_attempts(Backend::Postgres).await;
}

#[tokio::test]
async fn the_database_pool_size_is_configurable_and_connections_are_named() {
    use outsync_queue::{DatabaseSettings, open};
    let url = outsync_tests::db::fresh_url(Backend::Postgres).await;
    let settings = DatabaseSettings {
        pool_size: Some(3),
        ..DatabaseSettings::default()
    };
    let db = open(&url, &settings).await.unwrap();
    assert_eq!(
        db.get_postgres_connection_pool()
            .options()
            .get_max_connections(),
        3
    );
    let db = open(&url, &DatabaseSettings::default()).await.unwrap();
    assert_eq!(
        db.get_postgres_connection_pool()
            .options()
            .get_max_connections(),
        16
    );
    // Named in pg_stat_activity, unless the URL names the connections itself.
    let name = |db: sea_orm::DatabaseConnection| async move {
        use sea_orm::ConnectionTrait;
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT current_setting('application_name') AS name",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<String>("", "name").unwrap()
    };
    assert_eq!(name(db).await, outsync_queue::APPLICATION_NAME);
    let named = open(
        &format!("{url}&application_name=billing-sync"),
        &DatabaseSettings::default(),
    )
    .await
    .unwrap();
    assert_eq!(name(named).await, "billing-sync");
}
