//! Many processes on one PostgreSQL queue.

use super::{OUTSYNC, TOKEN, fresh_postgres_url, run, temp_dir, text};
use std::process::Command;

#[tokio::test(flavor = "multi_thread")]
async fn two_workers_and_serve_share_postgres_and_drain_a_backfill() {
    let fake = outsync_basket::fake::FakeBasket::start("k").await.unwrap();
    let database = fresh_postgres_url().await;

    let dir = temp_dir("scale");
    let config = dir.join("outsync.json");
    std::fs::write(
        &config,
        serde_json::json!({"database_url": database, "schema": "basket", "scheduler_interval_seconds": 1,
            "providers": {"basket": {"base_url": fake.base_url, "api_key": "k"}}})
        .to_string(),
    )
    .unwrap();
    let config = config.to_str().unwrap().to_owned();
    let lines: String = (1..=10_000)
        .map(|id| format!("{{\"provider\": \"basket\", \"object_type\": \"UserProfile\", \"object_id\": {id}, \"snapshot\": {{\"id\": {id}, \"email\": \"user{id}@example.org\", \"display_name\": \"User {id}\"}}}}\n"))
        .collect();
    let file = dir.join("users.jsonl");
    std::fs::write(&file, lines).unwrap();
    assert!(run(&["migrate", "--config", &config]).status.success());
    let output = run(&[
        "enqueue",
        "--config",
        &config,
        "--file",
        file.to_str().unwrap(),
    ]);
    assert!(
        text(&output).contains("10000 new jobs"),
        "{}",
        text(&output)
    );

    let (served, _) = super::start_serving_child(
        Command::new(OUTSYNC)
            .args(["serve", "--config", &config, "--listen", "127.0.0.1:0"])
            .env("OUTSYNC_API_TOKEN", TOKEN),
        None,
    );
    let mut processes = vec![served];
    for _ in 0..2 {
        processes.push(
            Command::new(OUTSYNC)
                .args(["worker", "--config", &config])
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
    }
    let db = outsync_queue::connect(&database).await.unwrap();
    let queue = outsync_queue::Queue::new(["basket"]);
    let started = std::time::Instant::now();
    while queue.stats(&db).await.unwrap().jobs() > 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(600),
            "the backfill did not drain"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    for process in &mut processes {
        let _ = process.kill();
        let _ = process.wait();
    }
    let received = fake.received_at("/amo-sync/userprofile/");
    let ids: std::collections::BTreeSet<i64> = received
        .iter()
        .map(|r| r.body["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 10_000, "every object reached Basket");
    assert_eq!(received.len(), 10_000, "none twice");
    let runs = queue.recent_runs(&db, 20_000, None).await.unwrap();
    let workers: std::collections::BTreeSet<String> =
        runs.iter().filter_map(|r| r.worker.clone()).collect();
    assert!(workers.len() >= 2, "the work was shared: {workers:?}");
}
