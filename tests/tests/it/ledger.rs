//! The external-object ledger in the queue's database, on SQLite and PostgreSQL: holdings,
//! notes, and the lock per external key that orders every worker sharing the queue.

use outsync_core::{ExternalKey, ExternalLedger, Holder, ObjectRef};
use outsync_queue::{ManualClock, Queue};
use outsync_tests::backend_test;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn holder(order: &str, child: &str) -> Holder {
    Holder::new(ObjectRef::new("Order", order), "attendees", child)
}

fn key(email: &str) -> ExternalKey {
    ExternalKey::new("list@example.org", email)
}

backend_test! {
    async fn holdings_and_notes_are_shared_by_every_worker_of_a_provider(t) {
        let queue = Queue::new(["mailing_list"]);
        let first = queue.ledger(&t.db, "mailing_list");
        let second = queue.ledger(&t.db, "mailing_list");
        let other_provider = queue.ledger(&t.db, "crm");
        let (a1, a2, b1) = (holder("A", "OrderPosition 1"), holder("A", "OrderPosition 2"), holder("B", "OrderPosition 1"));
        first.hold(&a1, &key("x@example.org")).await.unwrap();
        first.hold(&a1, &key("x@example.org")).await.unwrap();
        first.hold(&a2, &key("y@example.org")).await.unwrap();
        second.hold(&b1, &key("x@example.org")).await.unwrap();
        assert_eq!(second.holders(&key("x@example.org")).await.unwrap(), [a1.clone(), b1.clone()]);
        assert_eq!(
            second.holdings_of(&ObjectRef::new("Order", "A")).await.unwrap(),
            [(a1.clone(), key("x@example.org")), (a2.clone(), key("y@example.org"))]
        );
        assert!(other_provider.holders(&key("x@example.org")).await.unwrap().is_empty(), "scoped by provider");
        second.release(&a1, &key("x@example.org")).await.unwrap();
        assert_eq!(first.holders(&key("x@example.org")).await.unwrap(), [b1]);

        assert_eq!(first.note(&key("x@example.org")).await.unwrap(), None);
        first.set_note(&key("x@example.org"), &json!({"ours": true})).await.unwrap();
        second.set_note(&key("x@example.org"), &json!({"ours": false, "n": 2})).await.unwrap();
        assert_eq!(first.note(&key("x@example.org")).await.unwrap(), Some(json!({"ours": false, "n": 2})));
        assert_eq!(other_provider.note(&key("x@example.org")).await.unwrap(), None);
    }
}

backend_test! {
    async fn a_key_is_locked_for_every_worker_until_unlocked_or_its_lease_runs_out(t) {
        let clock = ManualClock::new(1_800_000_000_000);
        let queue = Queue::new(["mailing_list"]).with_clock(Arc::new(clock.clone()));
        let first: Arc<dyn ExternalLedger> = Arc::new(queue.ledger(&t.db, "mailing_list"));
        let second: Arc<dyn ExternalLedger> = Arc::new(queue.ledger(&t.db, "mailing_list"));
        let lock = first.lock(&key("x@example.org")).await.unwrap();
        // Another key is free.
        let other = second.lock(&key("y@example.org")).await.unwrap();
        second.unlock(other).await.unwrap();

        let waiting = {
            let second = second.clone();
            tokio::spawn(async move { second.lock(&key("x@example.org")).await.map(drop) })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiting.is_finished(), "the other worker waits for its turn");
        first.unlock(lock).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap().unwrap().unwrap();

        // A worker that vanished without unlocking: its lease runs out after two minutes.
        let third: Arc<dyn ExternalLedger> = Arc::new(queue.ledger(&t.db, "mailing_list"));
        let forgotten = third.lock(&key("z@example.org")).await.unwrap();
        std::mem::forget(forgotten);
        let waiting = {
            let first = first.clone();
            tokio::spawn(async move { first.lock(&key("z@example.org")).await.map(drop) })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiting.is_finished());
        clock.advance(121_000);
        tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap().unwrap().unwrap();
    }
}

backend_test! {
    async fn sixteen_tasks_of_two_workers_take_turns_on_one_key(t) {
        let queue = Queue::new(["mailing_list"]);
        let ledgers: Vec<Arc<dyn ExternalLedger>> = (0..2)
            .map(|_| Arc::new(queue.ledger(&t.db, "mailing_list")) as Arc<dyn ExternalLedger>)
            .collect();
        let counter = key("counter@example.org");
        let mut tasks = Vec::new();
        for task in 0..16 {
            let ledger = ledgers[task % 2].clone();
            let counter = counter.clone();
            tasks.push(tokio::spawn(async move {
                outsync_core::ledger::with_key_locked(ledger.as_ref(), &counter, async {
                    let seen = ledger.note(&counter).await?.and_then(|n| n["n"].as_u64()).unwrap_or(0);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    ledger.set_note(&counter, &json!({"n": seen + 1})).await
                })
                .await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(ledgers[0].note(&counter).await.unwrap(), Some(json!({"n": 16})), "no update lost");
    }
}
