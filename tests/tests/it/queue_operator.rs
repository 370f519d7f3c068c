//! The operator API: statistics, results, runs, cancel, pruning.

use crate::queue_support::*;
use outsync_core::SyncAction;
use outsync_queue::RunOutcome;
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
