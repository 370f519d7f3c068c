//! Mailing-list benchmark against a real Mailman 3: 1,000 orders × 2 attendees (every
//! tenth order shares an attendee with the next) synced by the worker at its default
//! concurrency (16) into a list that already holds 20,000 members, then the same orders
//! again unchanged (the update pass). Beside it, Mailman's raw limit with a bare HTTP
//! client at the same concurrency: address lookups/s and subscriptions/s (a `POST
//! /members` and the display name's `PATCH`, as a new member costs).
//!
//! Needs `OUTSYNC_TEST_MAILMAN_URL` and `OUTSYNC_TEST_MAILMAN_CTL` (see the book's
//! mailing-list chapter). Run: `cargo bench -p outsync-tests --bench mailing_list`. Prints
//! figures; asserts only that the roster ends exactly as expected.

use outsync_core::{ObjectRef, ProviderConfig, ProviderType};
use outsync_mailing_list::MailingListProvider;
use outsync_queue::{EnqueueItem, EnqueueOptions, Queue, Worker, WorkerConfig, connect};
use outsync_tests::mailman::MailmanServer;
use outsync_tests::schema::{pending_order, pretix_schema};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

const EXISTING: usize = 20_000;
const ORDERS: usize = 1_000;
const CONCURRENCY: usize = 16;
const DOMAIN: &str = "bench.example.org";

fn attendees(index: usize) -> [String; 2] {
    // Every tenth order's first attendee also attends the next order.
    let first = if index % 10 == 1 { index - 1 } else { index };
    [
        format!("first{first}@example.org"),
        format!("second{index}@example.org"),
    ]
}

fn order(index: usize) -> Value {
    let mut order = pending_order();
    order["code"] = json!(format!("B{index}"));
    order["status"] = json!("p");
    for (position, email) in attendees(index).iter().enumerate() {
        order["positions"][position]["attendee_email"] = json!(email);
        order["positions"][position]["attendee_name"] = json!(format!("Attendee {position}"));
    }
    order
}

async fn pass(queue: &Queue, worker: &Worker, db: &sea_orm::DatabaseConnection, label: &str) {
    let items: Vec<EnqueueItem> = (0..ORDERS)
        .map(|index| EnqueueItem {
            provider: "mailing_list".into(),
            object: ObjectRef::new("Order", format!("B{index}")),
            triggered_by: "bench".into(),
            options: EnqueueOptions {
                snapshot: Some(order(index)),
                ..EnqueueOptions::default()
            },
        })
        .collect();
    queue.enqueue_many(db, &items).await.expect("enqueue");
    let started = Instant::now();
    let summary = worker.drain().await.expect("drain");
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "outsync, {label}: {ORDERS} orders × 2 in {seconds:.1} s = {:.1} orders/s ({summary:?})",
        ORDERS as f64 / seconds
    );
}

/// Runs `work` (each entry: requests sent one after the other) at `CONCURRENCY`, asserting
/// every answer is a success; returns entries/s.
async fn raw(work: Vec<Vec<reqwest::RequestBuilder>>) -> f64 {
    let count = work.len();
    let queue = Arc::new(std::sync::Mutex::new(work));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let queue = queue.clone();
        tasks.spawn(async move {
            loop {
                let Some(requests) = queue.lock().unwrap().pop() else {
                    break;
                };
                for request in requests {
                    let status = request.send().await.expect("Mailman answers").status();
                    assert!(status.is_success(), "{status}");
                }
            }
        });
    }
    tasks.join_all().await;
    count as f64 / started.elapsed().as_secs_f64()
}

async fn raw_limits(server: &MailmanServer, list: &str) {
    let http = reqwest::Client::new();
    let id = list.replacen('@', ".", 1);
    let auth =
        |request: reqwest::RequestBuilder| request.basic_auth(&server.user, Some(&server.password));
    let lookups = (0..2_000)
        .map(|i| {
            let subscriber = format!("existing{i}@example.org");
            vec![
                auth(http.get(format!("{}/3.1/members/find", server.base_url))).query(&[
                    ("list_id", id.as_str()),
                    ("subscriber", subscriber.as_str()),
                    ("role", "member"),
                ]),
            ]
        })
        .collect();
    let lookups = raw(lookups).await;
    let scratch = server
        .create_list(&format!("raw-{}", std::process::id()), DOMAIN)
        .await
        .replacen('@', ".", 1);
    let subscriptions = (0..500)
        .map(|i| {
            let email = format!("raw{i}@example.org");
            vec![
                auth(http.post(format!("{}/3.1/members", server.base_url))).form(&[
                    ("list_id", scratch.as_str()),
                    ("subscriber", email.as_str()),
                    ("pre_verified", "true"),
                    ("pre_confirmed", "true"),
                    ("pre_approved", "true"),
                    ("send_welcome_message", "false"),
                ]),
                auth(http.patch(format!("{}/3.1/addresses/{email}", server.base_url)))
                    .form(&[("display_name", "Raw")]),
            ]
        })
        .collect();
    let subscriptions = raw(subscriptions).await;
    println!(
        "Mailman raw, bare client at concurrency {CONCURRENCY}: {lookups:.0} lookups/s, {subscriptions:.1} subscriptions/s (subscribe + name)"
    );
}

#[tokio::main]
async fn main() {
    let Some(server) = MailmanServer::from_env() else {
        println!(
            "OUTSYNC_TEST_MAILMAN_URL is not set: start Mailman with scripts/mailman.sh (see the book's mailing-list chapter)"
        );
        return;
    };
    let list = server
        .create_list(&format!("bench-{}", std::process::id()), DOMAIN)
        .await;
    let started = Instant::now();
    server.add_members(
        &list,
        (0..EXISTING).map(|i| format!("existing{i}@example.org")),
    );
    println!(
        "list {list}: {EXISTING} members added with Mailman's addmembers in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    raw_limits(&server, &list).await;

    let settings = json!({
        "base_url": server.base_url, "user": server.user, "password": server.password,
        "mappings": [{"id": "attendees", "source_model": "OrderPosition",
            "external_object_type": list,
            "source_id_field": "attendee_email", "external_id_field": "email",
            "property_mappings": [
                {"source_field": "attendee_name", "external_field": "display_name"},
                {"source_field": "order_status", "external_field": "subscribed",
                 "value_map": {"n": true, "p": true, "c": false}}]}]});
    let provider = Arc::new(
        MailingListProvider::configure(&ProviderConfig {
            settings,
            schema: Arc::new(pretix_schema()),
        })
        .expect("provider"),
    );
    let dir = outsync_tests::db::temp_dir("bench-mailing-list");
    let db = connect(&format!("sqlite://{}?mode=rwc", dir.join("q.db").display()))
        .await
        .expect("queue");
    let queue = Queue::for_providers(std::slice::from_ref(&provider));
    let config = WorkerConfig {
        concurrency: CONCURRENCY,
        ..WorkerConfig::default()
    };
    let worker = Worker::new(db.clone(), queue.clone(), vec![provider], config);
    pass(&queue, &worker, &db, "first sync (new members)").await;
    pass(&queue, &worker, &db, "update pass (unchanged)").await;

    let expected: BTreeSet<String> = (0..ORDERS).flat_map(attendees).collect();
    let members = server.memberships(&list).await;
    let new: Vec<&String> = members
        .iter()
        .filter(|e| !e.starts_with("existing"))
        .collect();
    assert_eq!(members.len(), EXISTING + expected.len(), "exact roster");
    assert!(new.iter().all(|email| expected.contains(*email)));
    println!(
        "roster: {} members = {EXISTING} + {} attendees (each once)",
        members.len(),
        expected.len()
    );
}
