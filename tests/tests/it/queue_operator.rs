//! The operator API: statistics, results, runs, cancel, pruning.

use crate::queue_support::*;
use outsync_core::SyncAction;
use outsync_queue::{EnqueueOptions, JobFilter, JobSort, RunOutcome, StateFilter};
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
