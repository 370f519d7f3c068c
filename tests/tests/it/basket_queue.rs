//! Basket through the queue: triggers, skipping unchanged payloads, force.

use crate::basket::{KEY, provider_for, source_addon, source_user};
use outsync_basket::fake::FakeBasket;
use outsync_basket::{Triggers, addon_changed, user_changed};
use outsync_core::{ObjectRef, ObjectSource, SyncAction, SyncError, async_trait};
use outsync_queue::{EnqueueOptions, Worker, WorkerConfig};
use outsync_queue::{Queue, connect};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The application's add-ons and users, as an `ObjectSource` would load them.
#[derive(Default)]
struct Amo(Mutex<HashMap<ObjectRef, Value>>);

#[async_trait]
impl ObjectSource for Amo {
    async fn load(&self, object: &ObjectRef) -> Result<Option<Value>, SyncError> {
        Ok(self.0.lock().unwrap().get(object).cloned())
    }
}

async fn setup() -> (
    FakeBasket,
    sea_orm::DatabaseConnection,
    Queue,
    Worker,
    Arc<Amo>,
) {
    let fake = FakeBasket::start(KEY).await.unwrap();
    let db = connect("sqlite::memory:").await.unwrap();
    let queue = Queue::new(["basket"]);
    let provider = Arc::new(provider_for(&fake.base_url, Duration::from_secs(5)));
    let amo = Arc::new(Amo::default());
    let worker = Worker::new(
        db.clone(),
        queue.clone(),
        vec![provider],
        WorkerConfig::default(),
    )
    .with_source(amo.clone());
    (fake, db, queue, worker, amo)
}

fn addon_by(id: u64, author: &Value) -> Value {
    let mut addon = source_addon();
    addon["id"] = json!(id);
    addon["slug"] = json!(format!("addon-{id}"));
    addon["authors"] = json!([author]);
    addon
}

#[tokio::test]
async fn a_display_name_change_syncs_the_user_and_each_addon_they_author() {
    let (fake, db, queue, worker, amo) = setup().await;
    let old = source_user();
    let mut new = old.clone();
    new["display_name"] = json!("serses the second");
    let addons: Vec<String> = ["1", "2", "3"].map(str::to_owned).to_vec();
    for id in 1..=3 {
        amo.0
            .lock()
            .unwrap()
            .insert(ObjectRef::new("Addon", id.to_string()), addon_by(id, &new));
    }
    let triggers = Triggers::new(queue.clone());
    let enqueued = triggers
        .user_saved(&db, Some(&old), &new, &addons)
        .await
        .unwrap();
    assert_eq!(enqueued.len(), 4);
    worker.drain().await.unwrap();
    assert_eq!(fake.received_at("/amo-sync/userprofile/").len(), 1);
    let addon_calls = fake.received_at("/amo-sync/addon/");
    assert_eq!(addon_calls.len(), 3);
    for call in addon_calls {
        assert_eq!(call.body["authors"][0]["display_name"], "serses the second");
    }

    // A field Basket does not receive: nothing to do.
    let mut bio = new.clone();
    bio["biography"] = json!("changed");
    assert!(!user_changed(Some(&new), &bio));
    assert!(
        triggers
            .user_saved(&db, Some(&new), &bio, &addons)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(queue.stats(&db).await.unwrap().jobs(), 0);
}

#[tokio::test]
async fn author_changes_and_deleted_accounts() {
    let (fake, db, queue, worker, _) = setup().await;
    let triggers = Triggers::new(queue.clone());
    let addon = source_addon();
    let mut second_author = source_user();
    second_author["id"] = json!(42);
    second_author["email"] = json!("second@example.org");
    let mut with_two = addon.clone();
    with_two["authors"] = json!([source_user(), second_author]);
    assert!(
        addon_changed(Some(&addon), &with_two),
        "adding an author is a change"
    );
    assert!(!addon_changed(Some(&addon), &addon));
    let mut downloads = addon.clone();
    downloads["weekly_downloads"] = json!(99);
    assert!(
        !addon_changed(Some(&addon), &downloads),
        "a field Basket does not receive"
    );
    triggers
        .addon_saved(&db, Some(&addon), &with_two)
        .await
        .unwrap();
    worker.drain().await.unwrap();
    let sent = &fake.received_at("/amo-sync/addon/")[0].body;
    assert_eq!(
        sent["authors"].as_array().unwrap().len(),
        2,
        "all authors' data"
    );
    assert_eq!(sent["authors"][1]["email"], "second@example.org");

    triggers
        .user_deleted(&db, &source_user(), &[])
        .await
        .unwrap();
    worker.drain().await.unwrap();
    let user = &fake.received_at("/amo-sync/userprofile/")[0].body;
    assert_eq!(user["deleted"], json!(true));
}

#[tokio::test]
async fn the_same_payload_is_sent_once_unless_forced() {
    let (fake, db, queue, worker, _) = setup().await;
    let user = ObjectRef::new("UserProfile", "11263");
    let snapshot = EnqueueOptions {
        snapshot: Some(source_user()),
        ..EnqueueOptions::default()
    };
    for _ in 0..2 {
        queue
            .enqueue(&db, "basket", &user, "test", snapshot.clone())
            .await
            .unwrap();
        worker.drain().await.unwrap();
    }
    assert_eq!(
        fake.received_at("/amo-sync/userprofile/").len(),
        1,
        "unchanged: one HTTP call"
    );
    let results = queue.results(&db, &user, Some("basket")).await.unwrap();
    assert_eq!(results[0].action, SyncAction::NothingToDo);

    let forced = EnqueueOptions {
        force: true,
        ..snapshot
    };
    queue
        .enqueue(&db, "basket", &user, "test", forced)
        .await
        .unwrap();
    worker.drain().await.unwrap();
    assert_eq!(
        fake.received_at("/amo-sync/userprofile/").len(),
        2,
        "force re-sends"
    );

    let mut changed = source_user();
    changed["location"] = json!("Berlin");
    queue
        .enqueue(
            &db,
            "basket",
            &user,
            "test",
            EnqueueOptions {
                snapshot: Some(changed),
                ..EnqueueOptions::default()
            },
        )
        .await
        .unwrap();
    worker.drain().await.unwrap();
    assert_eq!(
        fake.received_at("/amo-sync/userprofile/").len(),
        3,
        "a change is sent"
    );
}
