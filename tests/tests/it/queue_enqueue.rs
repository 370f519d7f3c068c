//! Enqueue: coalescing, outbox transactions, batches, unknown providers.

use crate::queue_support::*;
use outsync_queue::EnqueueOptions;
use outsync_queue::{EnqueueItem, JobFilter, JobState, Queue, RunOutcome, StateFilter};
use outsync_tests::backend_test;
use outsync_tests::scripted::{Gate, ScriptedProvider, Step};
use sea_orm::TransactionTrait;
use std::sync::Arc;

backend_test! {
    async fn a_thousand_enqueues_of_one_pending_object_leave_one_row(t) {
        let provider = Arc::new(ScriptedProvider::new("scripted"));
        let (queue, worker, _) = setup(&t, provider.clone(), test_config());
        let first = queue
            .enqueue(&t.db, "scripted", &order("A"), "test", snapshot("A", 0))
            .await
            .unwrap();
        assert!(first.created);
        for version in 1..1000 {
            let again = queue
                .enqueue(
                    &t.db,
                    "scripted",
                    &order("A"),
                    "test",
                    snapshot("A", version),
                )
                .await
                .unwrap();
            assert_eq!(
                again,
                outsync_queue::Enqueued {
                    id: first.id,
                    created: false
                }
            );
        }
        assert_eq!(job_count(&queue, &t).await, 1, "{:?}", t.backend);
        let job = queue.job(&t.db, first.id).await.unwrap();
        assert_eq!(job.coalesced, 999);
        worker.drain().await.unwrap();
        assert_eq!(provider.calls().len(), 1);
        assert_eq!(
            provider.calls()[0].1["version"],
            999,
            "the newest snapshot is synced"
        );
    }
}

backend_test! {
    async fn an_enqueue_during_the_sync_makes_it_sync_again_afterwards(t) {
        let provider = Arc::new(ScriptedProvider::new("scripted"));
        let gate = Arc::new(Gate::default());
        provider.script("A", [Step::Gate(gate.clone())]);
        let (queue, worker, _) = setup(&t, provider.clone(), test_config());
        queue
            .enqueue(&t.db, "scripted", &order("A"), "test", snapshot("A", 1))
            .await
            .unwrap();
        let worker = Arc::new(worker);
        let draining = tokio::spawn({
            let worker = worker.clone();
            async move { worker.drain().await.unwrap() }
        });
        gate.entered.notified().await;
        let during = queue
            .enqueue(&t.db, "scripted", &order("A"), "test", snapshot("A", 2))
            .await
            .unwrap();
        assert!(
            during.created,
            "a job in flight does not absorb new changes"
        );
        let running = queue
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
        gate.release.notify_one();
        let summary = draining.await.unwrap();
        assert_eq!(summary.count(RunOutcome::Success), 2, "{:?}", t.backend);
        let versions: Vec<i64> = provider
            .calls()
            .iter()
            .map(|(_, data)| data["version"].as_i64().unwrap())
            .collect();
        assert_eq!(versions, [1, 2]);
        assert_eq!(job_count(&queue, &t).await, 0);
    }
}

backend_test! {
    async fn enqueue_follows_the_application_transaction(t) {
        let queue = Queue::new(["scripted"]);
        let tx = t.db.begin().await.unwrap();
        queue
            .enqueue(
                &tx,
                "scripted",
                &order("A"),
                "order_placed",
                snapshot("A", 1),
            )
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(
            job_count(&queue, &t).await,
            0,
            "rolled back: no job ({:?})",
            t.backend
        );

        let tx = t.db.begin().await.unwrap();
        queue
            .enqueue(
                &tx,
                "scripted",
                &order("A"),
                "order_placed",
                snapshot("A", 1),
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            job_count(&queue, &t).await,
            1,
            "committed: one job ({:?})",
            t.backend
        );
    }
}

backend_test! {
    async fn batch_enqueue_creates_and_coalesces(t) {
        let queue = Queue::new(["scripted"]);
        queue
            .enqueue(&t.db, "scripted", &order("0"), "test", snapshot("0", 0))
            .await
            .unwrap();
        let items: Vec<EnqueueItem> = (0..5000)
            .map(|i| EnqueueItem {
                provider: "scripted".into(),
                object: order(&(i % 4000).to_string()),
                triggered_by: "backfill".into(),
                options: EnqueueOptions::default(),
            })
            .collect();
        let summary = queue.enqueue_many(&t.db, &items).await.unwrap();
        assert_eq!(summary.created, 3999, "{:?}", t.backend);
        assert_eq!(summary.coalesced, 1001);
        assert_eq!(job_count(&queue, &t).await, 4000);
    }
}

backend_test! {
    async fn unknown_providers_are_refused_at_enqueue(t) {
        let queue = Queue::new(["basket", "mailing_list"]);
        let error = queue
            .enqueue(&t.db, "crm", &order("A"), "test", EnqueueOptions::default())
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot enqueue for provider \"crm\": it is not registered; known providers: basket, mailing_list"
        );
        assert_eq!(job_count(&queue, &t).await, 0);
    }
}

backend_test! {
    async fn batch_enqueue_stores_every_column_as_given(t) {
        let queue = Queue::new(["scripted"]);
        let items = vec![
            EnqueueItem {
                provider: "scripted".into(),
                object: order("with-snapshot"),
                triggered_by: "backfill".into(),
                options: EnqueueOptions { force: true, not_before_ms: Some(42), ..snapshot("S", 1) },
            },
            EnqueueItem {
                provider: "scripted".into(),
                object: order("no-snapshot ü/%"),
                triggered_by: "backfill 2".into(),
                options: EnqueueOptions::default(),
            },
        ];
        queue.enqueue_many(&t.db, &items).await.unwrap();
        let jobs = queue.list_jobs(&t.db, &JobFilter::default()).await.unwrap();
        assert_eq!(jobs.len(), 2, "{:?}", t.backend);
        let with = jobs.iter().find(|job| job.object.id == "with-snapshot").unwrap();
        assert_eq!(with.snapshot, Some(serde_json::json!({"code": "S", "version": 1})));
        assert!(with.force);
        assert_eq!(with.not_before, 42);
        assert_eq!(with.triggered_by, "backfill");
        let without = jobs.iter().find(|job| job.object.id == "no-snapshot ü/%").unwrap();
        assert_eq!(without.snapshot, None, "no snapshot stays NULL ({:?})", t.backend);
        assert!(!without.force);
        assert_eq!(without.triggered_by, "backfill 2");
        assert_eq!(without.object.object_type, "Order");
    }
}
