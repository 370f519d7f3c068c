//! `outsync demo`: the whole flow on embedded SQLite against a built-in demo Basket.

use super::Exit;
use crate::table;
use outsync_basket::fake::{FakeBasket, FakeMode};
use outsync_basket::{ApiKey, BasketConfig, BasketProvider, Triggers, basket_schema};
use outsync_core::{ConfiguredProvider, ObjectRef, ObjectSource, SyncError, async_trait};
use outsync_queue::{Queue, connect};
use outsync_queue::{Worker, WorkerConfig};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The demo application's data, which the worker loads jobs without a snapshot from.
#[derive(Default)]
struct App(Mutex<HashMap<ObjectRef, Value>>);

impl App {
    fn save(&self, object_type: &str, value: &Value) {
        let id = value["id"].to_string();
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(ObjectRef::new(object_type, id), value.clone());
    }
}

#[async_trait]
impl ObjectSource for App {
    async fn load(&self, object: &ObjectRef) -> Result<Option<Value>, SyncError> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(object)
            .cloned())
    }
}

fn user(id: u64, name: &str, email: &str) -> Value {
    json!({"id": id, "deleted": false, "display_name": name, "email": email, "homepage": "",
           "last_login": "2026-11-20T09:00:00Z", "location": "", "biography": "(not sent to Basket)"})
}

fn addon(id: u64, name: &str, authors: &[&Value]) -> Value {
    json!({"id": id, "guid": format!("{{addon-{id}}}"), "name": name, "default_locale": "en-US",
           "slug": name.to_lowercase().replace(' ', "-"), "type": "extension", "status": "public",
           "is_disabled": false, "is_recommended": id.is_multiple_of(2), "last_updated": "2026-11-01T12:00:00Z",
           "average_daily_users": id * 100, "authors": authors, "categories": {"firefox": ["privacy-security"]},
           "current_version": {"id": id * 10, "compatibility": {"firefox": {"min": "115.0", "max": "*"}},
                               "is_strict_compatibility_enabled": false, "version": "1.0", "files": []},
           "latest_unlisted_version": null,
           "ratings": {"average": 4.5, "bayesian_average": 4.4, "count": 12, "text_count": 5}})
}

fn step(text: &str) {
    println!("\n▸ {text}");
}

/// Runs the demo.
pub(crate) async fn run(database: Option<String>) -> Result<(), Exit> {
    let dir = std::env::temp_dir().join(format!("outsync-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let url = database.unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.join("outsync-demo.db").display()
        )
    });
    println!("outsync demo — queue on {url}");

    let basket = FakeBasket::start("demo-key")
        .await
        .map_err(|e| format!("cannot start the demo Basket: {e}"))?;
    println!("built-in demo Basket listening on {}", basket.base_url);
    let schema = basket_schema().map_err(|e| Exit::failure(e.to_string()))?;
    let provider = BasketProvider::configured(
        BasketConfig::new(&basket.base_url, ApiKey::new("demo-key")),
        &schema,
        None,
    )?;
    let db = connect(&url).await?;
    let queue = Queue::new(["basket"]);
    let provider: Arc<ConfiguredProvider> = Arc::new(provider);
    let app = Arc::new(App::default());
    let worker = Worker::new(
        db.clone(),
        queue.clone(),
        vec![provider],
        WorkerConfig::default(),
    )
    .with_source(app.clone());
    let triggers = Triggers::new(queue.clone());

    let ada = user(1, "Ada", "ada@example.org");
    let grace = user(2, "Grace", "grace@example.org");
    let alan = user(3, "Alan", "alan@example.org");
    let addons = [
        addon(101, "Tab Tidy", &[&ada]),
        addon(102, "Cookie Jar", &[&ada, &grace]),
        addon(103, "Reader Plus", &[&grace]),
        addon(104, "Night Owl", &[&alan]),
    ];

    step(
        "3 user accounts and 4 add-ons are created in the application; triggers enqueue their sync",
    );
    for person in [&ada, &grace, &alan] {
        app.save("UserProfile", person);
        triggers.user_saved(&db, None, person, &[]).await?;
    }
    for item in &addons {
        app.save("Addon", item);
        triggers.addon_saved(&db, None, item).await?;
    }
    let summary = worker.drain().await?;
    println!(
        "  synced: {:?}; Basket received {} payloads",
        summary.by_name(),
        basket.received().len()
    );

    step("Ada renames herself: her account and the 2 add-ons she authors are synced again");
    let mut renamed = ada.clone();
    renamed["display_name"] = json!("Ada L.");
    app.save("UserProfile", &renamed);
    for item in &addons[..2] {
        let mut updated = item.clone();
        let authors: Vec<Value> = item["authors"]
            .as_array()
            .map(|authors| {
                authors
                    .iter()
                    .map(|a| {
                        if a["id"] == 1 {
                            renamed.clone()
                        } else {
                            a.clone()
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        updated["authors"] = json!(authors);
        app.save("Addon", &updated);
    }
    let enqueued = triggers
        .user_saved(&db, Some(&ada), &renamed, &["101".into(), "102".into()])
        .await?;
    println!(
        "  enqueued: {} (the add-ons load their current state when they run)",
        enqueued
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let summary = worker.drain().await?;
    println!("  synced: {:?}", summary.by_name());

    step("Grace's biography changes: Basket does not receive it, nothing is enqueued");
    let mut bio = grace.clone();
    bio["biography"] = json!("Rear admiral");
    let enqueued = triggers
        .user_saved(&db, Some(&grace), &bio, &["102".into(), "103".into()])
        .await?;
    println!("  enqueued: {} job(s)", enqueued.len());

    step("Alan is synced again without a change: the same payload is not re-sent");
    let before = basket.received().len();
    let options = outsync_queue::EnqueueOptions {
        snapshot: Some(alan.clone()),
        ..Default::default()
    };
    queue
        .enqueue(
            &db,
            "basket",
            &ObjectRef::new("UserProfile", "3"),
            "manual",
            options,
        )
        .await?;
    let summary = worker.drain().await?;
    println!(
        "  {:?}; HTTP calls: {}",
        summary.by_name(),
        basket.received().len() - before
    );

    step("Basket rate-limits (HTTP 429, Retry-After: 30): the job waits, nothing is lost");
    basket.set_mode(FakeMode::RateLimited(30));
    triggers.user_deleted(&db, &alan, &["104".into()]).await?;
    let summary = worker.drain().await?;
    println!("  {:?}", summary.by_name());
    basket.set_mode(FakeMode::Normal);
    let waiting = queue.list_jobs(&db, &Default::default()).await?;
    for job in &waiting {
        let summary = worker.run_job_now(job.id).await?;
        println!(
            "  operator runs job {} ({} {}) now: {:?}",
            job.id,
            job.object.object_type,
            job.object.id,
            summary.by_name()
        );
    }

    step("Summary");
    let stats = queue.stats(&db).await?;
    let runs = queue.recent_runs(&db, 1000, None).await?;
    let mut rows = Vec::new();
    for object in [
        ("UserProfile", "1"),
        ("UserProfile", "2"),
        ("UserProfile", "3"),
        ("Addon", "101"),
        ("Addon", "102"),
        ("Addon", "103"),
        ("Addon", "104"),
    ] {
        let reference = ObjectRef::new(object.0, object.1);
        let results = queue.results(&db, &reference, None).await?;
        let attempts = runs
            .iter()
            .filter(|r| r.object.object_type == object.0 && r.object.id == object.1)
            .count();
        let last = results
            .first()
            .map_or("-".to_owned(), |r| r.action.to_string());
        rows.push(vec![reference.to_string(), attempts.to_string(), last]);
    }
    table::print(&["object", "runs", "last action"], &rows);
    println!(
        "\n  {} payloads reached Basket; {} run records; {} job(s) left in the queue.",
        basket.received().len(),
        runs.len(),
        stats.jobs()
    );
    let config_path = dir.join("outsync.json");
    let config = json!({"database_url": url, "schema": "basket", "providers": {}});
    std::fs::write(
        &config_path,
        serde_json::to_string_pretty(&config).unwrap_or_default(),
    )
    .map_err(|e| Exit::failure(format!("cannot write {}: {e}", config_path.display())))?;
    println!(
        "  Look around: outsync status --config {0}   ·   outsync jobs --config {0} list",
        config_path.display()
    );
    println!(
        "  Dashboard:   OUTSYNC_API_TOKEN=<a secret of 16+ characters> outsync serve --config {}  →  http://127.0.0.1:8080/dashboard",
        config_path.display()
    );
    Ok(())
}
