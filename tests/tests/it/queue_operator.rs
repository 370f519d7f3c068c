//! The operator API: statistics, results, runs, cancel, pruning.

use crate::queue_support::*;
use outsync_core::SyncAction;
use outsync_queue::{EnqueueOptions, JobFilter, JobSort, Queue, RunOutcome, StateFilter};
use outsync_tests::backend_test;
use outsync_tests::scripted::{ScriptedProvider, Step};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

backend_test! {
    async fn statistics_results_runs_cancel_and_pruning(t) {
        let provider = Arc::new(ScriptedProvider::new("scripted"));
        provider.script("BAD", [Step::Permanent]);
        provider.script("LATER", [Step::Recoverable]);
        let (queue, worker, clock) = setup(&t, provider.clone(), test_config());
        for code in ["A", "B", "BAD", "LATER", "X"] {
            queue
                .enqueue(&t.db, "scripted", &order(code), "test", snapshot(code, 3))
                .await
                .unwrap();
        }
        let x = queue
            .list_jobs(&t.db, &Default::default())
            .await
            .unwrap()
            .into_iter()
            .find(|j| j.object.id == "X")
            .unwrap();
        queue.cancel(&t.db, x.id).await.unwrap();
        let stats = queue.stats(&t.db).await.unwrap();
        assert_eq!(stats.total("due"), 4, "{:?}", t.backend);
        worker.drain().await.unwrap();
        let stats = queue.stats(&t.db).await.unwrap();
        assert_eq!(stats.total("permanent"), 1);
        assert_eq!(stats.total("scheduled"), 1);
        assert_eq!(stats.jobs(), 2);

        let results = queue
            .results(&t.db, &order("A"), Some("scripted"))
            .await
            .unwrap();
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].mapping_id, "records");
        assert_eq!(results[0].id_value, "A");
        assert_eq!(results[0].action, SyncAction::Update);
        assert_eq!(results[0].child_id, "");

        let runs = queue.recent_runs(&t.db, 10, None).await.unwrap();
        assert_eq!(runs.len(), 5, "4 runs and one cancellation");
        assert!(
            runs.iter()
                .any(|r| r.outcome == RunOutcome::Cancelled && r.object.id == "X")
        );
        let runs_of_a = queue
            .recent_runs(&t.db, 10, Some(&order("A")))
            .await
            .unwrap();
        assert_eq!(runs_of_a.len(), 1);
        assert_eq!(runs_of_a[0].actions, BTreeMap::from([("update".to_owned(), 1)]));

        clock.advance(8 * 86_400_000);
        let pruned = queue
            .prune_runs(&t.db, Duration::from_secs(7 * 86_400))
            .await
            .unwrap();
        assert_eq!(pruned, 5);
        assert_eq!(queue.count_runs(&t.db).await.unwrap(), 0);
    }
}

backend_test! {
    async fn pages_filters_and_bulk_actions_select_the_same_jobs(t) {
        let provider = Arc::new(ScriptedProvider::new("scripted"));
        for code in ["P1", "P2", "P3"] {
            provider.script(code, [Step::Permanent]);
        }
        let (queue, worker, _clock) = setup(&t, provider.clone(), test_config());
        for code in ["P1", "P2", "P3"] {
            queue.enqueue(&t.db, "scripted", &order(code), "test", snapshot(code, 1)).await.unwrap();
        }
        worker.drain().await.unwrap();
        // P1 changed again after it stopped: a pending job waits beside the stopped one.
        queue.enqueue(&t.db, "scripted", &order("P1"), "test", snapshot("P1", 2)).await.unwrap();
        for index in 0..120 {
            let code = format!("Q{index:03}");
            let options = EnqueueOptions { not_before_ms: Some(START + 3_600_000), ..snapshot(&code, 1) };
            queue.enqueue(&t.db, "scripted", &order(&code), "test", options).await.unwrap();
        }

        // Keyset pages, newest first: every pending job once, with the total on each page.
        let mut filter = JobFilter {
            state: Some("pending".parse().unwrap()),
            sort: JobSort::Newest,
            limit: 50,
            ..JobFilter::default()
        };
        let mut seen = Vec::new();
        loop {
            let page = queue.page_jobs(&t.db, &filter).await.unwrap();
            assert_eq!(page.total, 121, "{:?}", t.backend);
            seen.extend(page.jobs.iter().map(|job| job.id));
            match page.next {
                Some(next) => filter.after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen.len(), 121);
        assert!(seen.windows(2).all(|pair| pair[0] > pair[1]), "newest first");
        let search = JobFilter { search: Some("q11".into()), ..JobFilter::default() };
        assert_eq!(queue.count_jobs(&t.db, &search).await.unwrap(), 10, "Q110 to Q119");
        let bad = JobFilter { after: Some("x".into()), ..JobFilter::default() };
        assert!(matches!(queue.list_jobs(&t.db, &bad).await, Err(outsync_queue::QueueError::Invalid(_))));

        // Retry every stopped job: P1's stopped job gives way to its pending one, made due.
        let stopped = JobFilter { state: Some(StateFilter::Stopped), ..JobFilter::default() };
        assert_eq!(queue.retry_matching(&t.db, &stopped).await.unwrap(), 3);
        assert_eq!(queue.count_jobs(&t.db, &stopped).await.unwrap(), 0);
        let p1 = queue
            .list_jobs(&t.db, &JobFilter { object: Some(order("P1")), ..JobFilter::default() })
            .await
            .unwrap();
        assert_eq!(p1.len(), 1, "one job per object: {p1:?}");
        assert_eq!(p1[0].snapshot.as_ref().unwrap()["version"], 2, "the newer version stays");
        assert!(p1[0].not_before <= queue.now_ms());

        // Cancel a filtered selection; the rest stays.
        let some = JobFilter { search: Some("Q0".into()), ..JobFilter::default() };
        assert_eq!(queue.cancel_matching(&t.db, &some).await.unwrap(), 100);
        assert_eq!(queue.count_jobs(&t.db, &JobFilter::default()).await.unwrap(), 23);
        let runs = queue.recent_runs(&t.db, 200, None).await.unwrap();
        assert_eq!(runs.iter().filter(|run| run.outcome == RunOutcome::Cancelled).count(), 100);
    }
}

/// Jobs by provider and state, counted row by row (what the tally must agree with).
async fn counted_row_by_row(t: &outsync_tests::db::TestDb, now: i64) -> outsync_queue::QueueStats {
    use outsync_queue::sea_orm::{ConnectionTrait, Statement};
    let sql = format!(
        "SELECT provider, CASE WHEN failure_mode IS NOT NULL THEN failure_mode \
           WHEN lease_owner IS NOT NULL THEN 'running' \
           WHEN not_before > {now} THEN 'scheduled' ELSE 'due' END AS state, \
         COUNT(*) AS jobs FROM sync_queue GROUP BY 1, 2"
    );
    let backend = t.db.get_database_backend();
    let rows =
        t.db.query_all_raw(Statement::from_string(backend, sql))
            .await
            .unwrap();
    let mut stats = outsync_queue::QueueStats::default();
    for row in rows {
        let provider: String = row.try_get("", "provider").unwrap();
        let state: String = row.try_get("", "state").unwrap();
        let jobs: i64 = row.try_get("", "jobs").unwrap();
        stats
            .by_provider
            .entry(provider)
            .or_default()
            .insert(state, jobs);
    }
    stats
}

backend_test! {
    async fn the_job_tally_agrees_with_the_rows_through_every_change(t) {
        use outsync_queue::sea_orm::ConnectionTrait;
        let provider = Arc::new(ScriptedProvider::new("scripted"));
        for code in ["P1", "P2", "P3"] {
            provider.script(code, [Step::Permanent, Step::Permanent]);
        }
        provider.script("LATER", [Step::Recoverable]);
        let (queue, worker, clock) = setup(&t, provider.clone(), test_config());
        let check = |label: &'static str| {
            let (queue, t) = (queue.clone(), t.clone());
            async move {
                let expected = counted_row_by_row(&t, queue.now_ms()).await;
                assert_eq!(queue.stats(&t.db).await.unwrap(), expected, "{label} ({:?})", t.backend);
            }
        };
        for code in ["A", "B", "P1", "P2", "P3", "LATER"] {
            queue.enqueue(&t.db, "scripted", &order(code), "test", snapshot(code, 1)).await.unwrap();
        }
        // Coalescing into a pending job adds nothing; another provider's jobs count apart.
        queue.enqueue(&t.db, "scripted", &order("A"), "test", snapshot("A", 2)).await.unwrap();
        Queue::new(["other"]).enqueue(&t.db, "other", &order("Z"), "test", snapshot("Z", 1)).await.unwrap();
        check("enqueued").await;
        worker.drain().await.unwrap();
        check("drained: stopped and scheduled").await;
        let stopped = JobFilter { state: Some(StateFilter::Stopped), ..JobFilter::default() };
        assert_eq!(queue.retry_matching(&t.db, &JobFilter { limit: 1, ..stopped.clone() }).await.unwrap(), 3);
        check("retried").await;
        worker.drain().await.unwrap();
        check("stopped again").await;
        assert_eq!(queue.cancel_matching(&t.db, &stopped).await.unwrap(), 3);
        check("cancelled").await;
        // An operator's own SQL counts too: a lease taken by hand, then a whole-table delete.
        t.db.execute_unprepared("UPDATE sync_queue SET lease_owner = 'by-hand', lease_expires_at = 0 WHERE provider = 'other'")
            .await
            .unwrap();
        check("leased by hand").await;
        clock.advance(3_600_000);
        check("the scheduled job fell due").await;
        t.db.execute_unprepared("DELETE FROM sync_queue").await.unwrap();
        check("emptied").await;
        assert_eq!(queue.stats(&t.db).await.unwrap().jobs(), 0);
        if t.backend == outsync_tests::db::Backend::Postgres {
            tally_rows_of_ended_processes_fold(&t, &queue).await;
        }
    }
}

/// On PostgreSQL each server process counts into its own tally row; once the process
/// ended, its row folds into one without changing a count.
async fn tally_rows_of_ended_processes_fold(t: &outsync_tests::db::TestDb, queue: &Queue) {
    use outsync_queue::sea_orm::{ConnectionTrait, Statement};
    let ended_rows = || async {
        let row =
            t.db.query_one_raw(Statement::from_string(
                t.db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM sync_queue_tally WHERE shard <> 0 \
                 AND shard NOT IN (SELECT pid FROM pg_stat_activity)",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    };
    let other = outsync_queue::connect(&t.url).await.unwrap();
    for code in ["F1", "F2", "F3"] {
        queue
            .enqueue(&other, "scripted", &order(code), "test", snapshot(code, 1))
            .await
            .unwrap();
    }
    other.close().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while ended_rows().await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the other process never ended"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    queue.fold_job_tally(&t.db).await.unwrap();
    assert_eq!(ended_rows().await, 0);
    assert_eq!(
        queue.stats(&t.db).await.unwrap(),
        counted_row_by_row(t, queue.now_ms()).await
    );
    assert_eq!(queue.stats(&t.db).await.unwrap().total("due"), 3);
}
