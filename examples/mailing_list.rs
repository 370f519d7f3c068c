//! Event participants into a Mailman 3 list: every order position's attendee becomes a
//! member with their name; a canceled order takes its attendees off the list.
//!
//! Needs a Mailman 3 core: `scripts/mailman.sh install && scripts/mailman.sh start`, then
//! `cargo run --example mailing_list` (override the REST URL with `MAILMAN_URL`,
//! `http://user:password@host:port`).

use outsync_core::schema::{ComputedFields, SourceSchema};
use outsync_core::{ConfiguredProvider, ObjectRef, ProviderConfig, Registry};
use outsync_queue::{EnqueueOptions, Worker, WorkerConfig};
use outsync_queue::{Queue, connect};
use serde_json::{Value, json};
use std::sync::Arc;

use outsync_mailing_list as _; // registers `mailing_list`

const SCHEMA: &str = r#"{
  "models": [{"name": "Order", "id_path": "code"},
             {"name": "OrderPosition", "parent": "Order", "path": "positions", "id_path": "id"}],
  "fields": [
    {"key": "order_status", "type": "enum", "model": "Order", "path": "status", "options": ["n", "p", "c"]},
    {"key": "attendee_email", "type": "string", "model": "OrderPosition", "path": "email"},
    {"key": "attendee_name", "type": "string", "model": "OrderPosition", "path": "name"}
  ]
}"#;

fn order(code: &str, status: &str, attendees: &[(&str, &str)]) -> Value {
    let positions: Vec<Value> = attendees
        .iter()
        .enumerate()
        .map(|(i, (email, name))| json!({"id": i + 1, "email": email, "name": name}))
        .collect();
    json!({"code": code, "status": status, "positions": positions})
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("MAILMAN_URL")
        .unwrap_or_else(|_| "http://restadmin:restpass@127.0.0.1:8001".into());
    let rest = url
        .strip_prefix("http://")
        .ok_or("MAILMAN_URL must start with http://")?;
    let (credentials, host) = rest
        .split_once('@')
        .ok_or("MAILMAN_URL needs user:password@")?;
    let (user, password) = credentials
        .split_once(':')
        .ok_or("MAILMAN_URL needs user:password@")?;
    let base_url = format!("http://{host}");

    // Set up a domain and a list (as a list administrator would).
    let http = reqwest::Client::new();
    let list = "outsync-demo@lists.example.org";
    for (path, field, value) in [
        ("domains", "mail_host", "lists.example.org"),
        ("lists", "fqdn_listname", list),
    ] {
        let answer = http
            .post(format!("{base_url}/3.1/{path}"))
            .basic_auth(user, Some(password))
            .form(&[(field, value)])
            .send()
            .await?;
        println!("create {path} {value}: HTTP {}", answer.status().as_u16());
    }

    let settings = json!({"base_url": base_url, "user": user, "password": password,
    "mappings": [{"id": "attendees", "source_model": "OrderPosition", "external_object_type": list,
        "source_id_field": "attendee_email", "external_id_field": "email",
        "property_mappings": [
            {"source_field": "attendee_name", "external_field": "display_name"},
            {"source_field": "order_status", "external_field": "subscribed", "value_map": {"n": true, "p": true, "c": false}}
        ]}]});
    let schema = Arc::new(SourceSchema::from_json(SCHEMA, &ComputedFields::new())?);
    let registry = Registry::global()?;
    let provider: Arc<ConfiguredProvider> =
        Arc::from(registry.build("mailing_list", &ProviderConfig { settings, schema })?);
    let db = connect("sqlite::memory:").await?;
    let queue = Queue::new(["mailing_list"]);
    let worker = Worker::new(
        db.clone(),
        queue.clone(),
        vec![provider],
        WorkerConfig::default(),
    );

    let orders = [
        order(
            "A1",
            "p",
            &[
                ("ada@example.org", "Ada Lovelace"),
                ("grace@example.org", "Grace Hopper"),
            ],
        ),
        order("A2", "n", &[("alan@example.org", "Alan Turing")]),
    ];
    for (round, status_of_a2) in [(1, "n"), (2, "c")] {
        for data in &orders {
            let mut data = data.clone();
            if data["code"] == "A2" {
                data["status"] = json!(status_of_a2);
            }
            let code = data["code"].as_str().unwrap_or_default().to_owned();
            let options = EnqueueOptions {
                snapshot: Some(data),
                ..EnqueueOptions::default()
            };
            queue
                .enqueue(
                    &db,
                    "mailing_list",
                    &ObjectRef::new("Order", code),
                    "example",
                    options,
                )
                .await?;
        }
        let summary = worker.drain().await?;
        println!(
            "round {round} (order A2 status {status_of_a2}): {:?}",
            summary.by_name()
        );
        for code in ["A1", "A2"] {
            for result in queue
                .results(&db, &ObjectRef::new("Order", code), None)
                .await?
            {
                println!("  {code} {}: {}", result.id_value, result.action);
            }
        }
    }
    Ok(())
}
