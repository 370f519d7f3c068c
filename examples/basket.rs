//! The Basket flow end to end against an in-process fake Basket: a user who authors an
//! add-on changes their display name, the triggers enqueue the user and the add-on, a worker
//! syncs them, an unchanged re-sync sends nothing, a rate limit is retried, and a newsletter
//! subscription comes and goes.
//!
//! Run: `cargo run --example basket`

use outsync_basket::fake::{FakeBasket, FakeMode};
use outsync_basket::{
    ApiKey, BasketClient, BasketConfig, BasketProvider, Subscription, Triggers, Unsubscribe,
    basket_schema,
};
use outsync_core::{ConfiguredProvider, ObjectRef, ObjectSource, SyncError, async_trait};
use outsync_queue::{JobFilter, Queue, connect};
use outsync_queue::{Worker, WorkerConfig};
use serde_json::{Value, json};
use std::sync::Arc;

/// Loads add-ons as the application (AMO) would.
struct Addons(Value);

#[async_trait]
impl ObjectSource for Addons {
    async fn load(&self, object: &ObjectRef) -> Result<Option<Value>, SyncError> {
        Ok((object.object_type == "Addon").then(|| self.0.clone()))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let basket = FakeBasket::start("example-key").await?;
    let config = BasketConfig::new(&basket.base_url, ApiKey::new("example-key"));
    let client = BasketClient::new(config.clone())?;
    let provider = BasketProvider::configured(config, &basket_schema()?, None)?;
    let db = connect("sqlite::memory:").await?;
    let queue = Queue::new(["basket"]);
    let old_user = json!({"id": 11263, "deleted": false, "display_name": "serses", "email": "mozilla@virgule.net",
                          "homepage": "", "last_login": "2019-08-06T10:39:44Z", "location": ""});
    let mut user = old_user.clone();
    user["display_name"] = json!("serses (new name)");
    let addon = json!({"id": 35896, "guid": "{85ee4a2a-51b6-4f5e-a99c-6d9abcf6782d}", "name": "Ibird Jelewt Boartrica",
        "default_locale": "en-US", "slug": "ibird-jelewt-boartrica", "type": "extension", "status": "nominated",
        "is_disabled": false, "is_recommended": false, "last_updated": "2019-06-26T11:38:13Z", "average_daily_users": 0,
        "authors": [user.clone()], "categories": {"firefox": ["games-entertainment"]},
        "current_version": {"id": 35900, "compatibility": {"firefox": {"min": "48.0", "max": "*"}},
                            "is_strict_compatibility_enabled": false, "version": "2.0"},
        "latest_unlisted_version": null,
        "ratings": {"average": 4.1, "bayesian_average": 4.2, "count": 43, "text_count": 40}});
    let provider: Arc<ConfiguredProvider> = Arc::new(provider);
    let worker = Worker::new(
        db.clone(),
        queue.clone(),
        vec![provider],
        WorkerConfig::default(),
    )
    .with_source(Arc::new(Addons(addon)));

    let triggers = Triggers::new(queue.clone());
    let enqueued = triggers
        .user_saved(&db, Some(&old_user), &user, &["35896".to_owned()])
        .await?;
    println!(
        "display_name changed: enqueued {}",
        enqueued
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let summary = worker.drain().await?;
    println!("worker: {:?}", summary.by_name());
    for request in basket.received() {
        println!(
            "Basket received {} {}: {}",
            request.method, request.path, request.body
        );
    }

    basket.clear();
    triggers.user_deleted(&db, &user, &[]).await?;
    basket.set_mode(FakeMode::RateLimited(30));
    let summary = worker.drain().await?;
    let job = &queue.list_jobs(&db, &JobFilter::default()).await?[0];
    println!(
        "Basket rate-limited the deletion: {:?}; job {} waits {} s (Retry-After) after \"{}\"",
        summary.by_name(),
        job.id,
        (job.not_before - queue.now_ms() + 500) / 1000,
        job.last_error.as_deref().unwrap_or_default()
    );
    basket.set_mode(FakeMode::Normal);
    let summary = worker.run_job_now(job.id).await?;
    println!(
        "run now: {:?}; Basket received deleted = {}",
        summary.by_name(),
        basket
            .received()
            .last()
            .map_or(json!(null), |r| r.body["deleted"].clone())
    );

    let subscription = Subscription {
        email: "mozilla@virgule.net".into(),
        newsletters: vec!["about-addons".into()],
        optin: true,
        lang: Some("en-US".into()),
        format: Some("H".into()),
        source_url: None,
    };
    println!(
        "newsletter subscribe: {}",
        client.subscribe(&subscription).await?
    );
    println!(
        "newsletter unsubscribe: {}",
        client
            .unsubscribe("mozilla@virgule.net", &Unsubscribe::Everything)
            .await?
    );
    println!(
        "unsubscribe an unknown address: {}",
        client
            .unsubscribe("nobody@example.org", &Unsubscribe::Everything)
            .await?
    );
    Ok(())
}
