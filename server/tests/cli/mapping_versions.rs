//! Mapping versions: the configuration file seeds version 1, `outsync mapping save`
//! stores a checked new one that the running service picks up without a restart (each run
//! records the version it used), `diff` shows the change and `rollback` brings an earlier
//! version back.

use super::{Api, run, serve_with, temp_dir, text};
use outsync_basket::fake::FakeBasket;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn user(id: u64, name: &str) -> Value {
    json!({"id": id, "deleted": false, "display_name": name, "email": format!("u{id}@example.org"),
           "homepage": "", "last_login": "2026-11-01T10:00:00Z", "location": "Berlin"})
}

/// Waits until Basket has received `count` user payloads; returns the last.
async fn nth_payload(basket: &FakeBasket, count: usize) -> Value {
    let started = Instant::now();
    loop {
        let bodies = basket.received_at("/amo-sync/userprofile/");
        if bodies.len() >= count {
            return bodies[count - 1].body.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "Basket received {} of {count}",
            bodies.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sync_user(api: &Api, name: &str) {
    let body = json!({"provider": "basket", "object_type": "UserProfile", "object_id": "1", "snapshot": user(1, name)});
    let answer = api
        .request(reqwest::Method::POST, "/api/enqueue")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
}

/// The mapping version of the object's latest run, once it has `runs` runs.
async fn version_of_run(api: &Api, runs: usize) -> Value {
    let started = Instant::now();
    loop {
        let state = api.get("/api/objects/UserProfile/1").await;
        let recorded = state["runs"].as_array().cloned().unwrap_or_default();
        if recorded.len() >= runs {
            return recorded[0]["mapping_version"].clone();
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{state}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_mapping_version_reaches_the_running_service_and_rolls_back() {
    let basket = FakeBasket::start("k").await.unwrap();
    let label = "mapping-versions";
    let served = serve_with(label, &json!({"base_url": basket.base_url, "api_key": "k"}));
    let api = Api::of(&served);
    let config = temp_dir(label).join("outsync.json");
    let config = config.to_str().unwrap();
    let outsync = |args: &[&str]| {
        let mut all = vec!["mapping", "--config", config];
        all.extend_from_slice(args);
        run(&all)
    };

    let history = outsync(&["history", "--provider", "basket"]);
    assert!(history.status.success(), "{}", text(&history));
    let history = String::from_utf8_lossy(&history.stdout).to_string();
    assert!(
        history.contains("config file"),
        "the file seeded version 1: {history}"
    );

    sync_user(&api, "Ada").await;
    assert_eq!(nth_payload(&basket, 1).await["location"], "Berlin");
    assert_eq!(version_of_run(&api, 1).await, 1);

    // Version 2 stops sending the location.
    let mut mappings: Value = serde_json::from_str(outsync_basket::DEFAULT_MAPPINGS).unwrap();
    mappings[0]["property_mappings"]
        .as_array_mut()
        .unwrap()
        .retain(|entry| entry["source_field"] != "user_location");
    let file = temp_dir(label).join("v2.json");
    std::fs::write(&file, mappings.to_string()).unwrap();
    let saved = outsync(&[
        "save",
        "--provider",
        "basket",
        "--file",
        file.to_str().unwrap(),
        "--note",
        "no location",
    ]);
    assert!(saved.status.success(), "{}", text(&saved));
    assert!(
        String::from_utf8_lossy(&saved.stdout).starts_with("saved version 2 of basket's mappings")
    );
    // A bad file is refused with the schema's words, and saves nothing.
    std::fs::write(&file, r#"[{"id": "x", "source_model": "Nope"}]"#).unwrap();
    let refused = outsync(&[
        "save",
        "--provider",
        "basket",
        "--file",
        file.to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));

    // The service looks for new versions every second.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    sync_user(&api, "Ada B.").await;
    let second = nth_payload(&basket, 2).await;
    assert_eq!(second["display_name"], "Ada B.");
    assert!(
        second.get("location").is_none(),
        "version 2 is in force: {second}"
    );
    assert_eq!(version_of_run(&api, 2).await, 2);

    let diff = outsync(&["diff", "--provider", "basket"]);
    let diff = String::from_utf8_lossy(&diff.stdout).to_string();
    assert!(diff.starts_with("--- version 1\n+++ version 2\n"), "{diff}");
    assert!(
        diff.lines()
            .any(|line| line.starts_with('-') && line.contains("user_location")),
        "{diff}"
    );

    let rolled = outsync(&["rollback", "--provider", "basket", "--to", "1"]);
    assert_eq!(
        String::from_utf8_lossy(&rolled.stdout).trim(),
        "saved version 3: version 1's mappings again"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    sync_user(&api, "Ada C.").await;
    assert_eq!(
        nth_payload(&basket, 3).await["location"],
        "Berlin",
        "version 1's mappings again"
    );
    assert_eq!(version_of_run(&api, 3).await, 3);

    let history =
        String::from_utf8_lossy(&outsync(&["history", "--provider", "basket"]).stdout).to_string();
    assert!(
        history.contains("rollback to version 1") && history.contains("no location"),
        "{history}"
    );
}
