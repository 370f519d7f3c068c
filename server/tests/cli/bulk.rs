//! Jobs in bulk through the HTTP API and the CLI: filtered pages with exact totals, and
//! retry or cancel of every job a filter selects.

use super::{Api, run, serve_with, temp_dir, text};
use outsync_core::ObjectRef;
use outsync_queue::sea_orm::ConnectionTrait;
use outsync_queue::{EnqueueItem, EnqueueOptions, Queue, connect};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Seeds `url` with 150 stopped Basket user jobs (`permanent`; even ids "email invalid",
/// odd ids "name too long") and 100 stopped add-on jobs (`config`).
pub(super) async fn seed(url: &str) {
    let db = connect(url).await.unwrap();
    let queue = Queue::new(["basket"]);
    let items: Vec<EnqueueItem> = (0..150)
        .map(|i| ("UserProfile", i))
        .chain((0..100).map(|i| ("Addon", i)))
        .map(|(object_type, i)| EnqueueItem {
            provider: "basket".into(),
            object: ObjectRef::new(object_type, i.to_string()),
            triggered_by: "seed".into(),
            options: EnqueueOptions::default(),
        })
        .collect();
    queue.enqueue_many(&db, &items).await.unwrap();
    for sql in [
        "UPDATE sync_queue SET failure_mode = 'permanent', last_error = 'Basket answered 400: email invalid' WHERE object_type = 'UserProfile'",
        "UPDATE sync_queue SET last_error = 'Basket answered 400: name too long' WHERE object_type = 'UserProfile' AND CAST(object_id AS INTEGER) % 2 = 1",
        "UPDATE sync_queue SET failure_mode = 'config', last_error = 'no mapping' WHERE object_type = 'Addon'",
    ] {
        db.execute_unprepared(sql).await.unwrap();
    }
    db.close().await.unwrap();
}

async fn metrics(api: &Api) -> String {
    api.request(reqwest::Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn status_and_body(request: reqwest::RequestBuilder) -> (u16, Value) {
    let answer = request.send().await.unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

/// The URL of `label`'s queue, seeded by [`seed`].
pub(super) async fn seeded_queue(label: &str) -> String {
    let url = format!(
        "sqlite://{}?mode=rwc",
        temp_dir(label).join("q.db").display()
    );
    seed(&url).await;
    url
}

/// The service over `label`'s queue, with Basket unreachable (every seeded job is stopped,
/// so its worker finds nothing to run).
pub(super) fn serve_unreachable_basket(label: &str) -> super::Served {
    serve_with(
        label,
        &json!({"base_url": "http://127.0.0.1:9", "api_key": "k", "timeout_seconds": 1}),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_pages_filters_and_acts_on_every_matching_job() {
    seeded_queue("bulk-api").await;
    let served = serve_unreachable_basket("bulk-api");
    let api = Api::of(&served);

    let mut seen = BTreeSet::new();
    let mut path = "/api/jobs?failure=permanent&limit=50".to_owned();
    for page in 1..=3 {
        let answer = api.get(&path).await;
        assert_eq!(answer["total"], 150, "{answer}");
        let jobs = answer["jobs"].as_array().unwrap();
        assert_eq!(jobs.len(), 50);
        seen.extend(jobs.iter().map(|job| job["id"].as_i64().unwrap()));
        match answer["next"].as_str() {
            Some(next) => path = format!("/api/jobs?failure=permanent&limit=50&after={next}"),
            None => assert_eq!(page, 3, "the last page has no next"),
        }
    }
    assert_eq!(seen.len(), 150, "three pages, every job once");

    let long = api.get("/api/jobs?search=TOO%20LONG&limit=1").await;
    assert_eq!(long["total"], 75, "search ignores case");
    assert_eq!(
        long["jobs"][0]["not_before"],
        Value::Null,
        "a stopped job waits for nobody"
    );
    let newest = api.get("/api/jobs?type=Addon&sort=newest&limit=1").await;
    assert_eq!(newest["jobs"][0]["object_id"], "99");
    let (status, body) =
        status_and_body(api.request(reqwest::Method::GET, "/api/jobs?provder=basket")).await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("unknown filter field \"provder\"; did you mean \"provider\"?"),
        "{body}"
    );
    let (status, body) =
        status_and_body(api.request(reqwest::Method::GET, "/api/jobs?since=yesterday")).await;
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().starts_with("since: "),
        "{body}"
    );

    let retry = |body: Value| {
        api.request(reqwest::Method::POST, "/api/jobs/retry")
            .json(&body)
    };
    let (status, body) = status_and_body(retry(json!({}))).await;
    assert_eq!(status, 400, "an empty filter needs \"all\": true");
    assert!(
        body["message"].as_str().unwrap().contains("\"all\": true"),
        "{body}"
    );
    let (status, _) = status_and_body(retry(json!({"provder": "basket"}))).await;
    assert_eq!(status, 400, "a misspelt field is refused, not ignored");
    let (status, body) = status_and_body(retry(
        json!({"provider": "basket", "failure": "permanent", "search": "too long", "since": "1h"}),
    ))
    .await;
    assert_eq!((status, body), (200, json!({"retried": 75})));
    assert_eq!(api.get("/api/jobs?failure=permanent").await["total"], 75);

    let permanent_jobs = "outsync_queue_jobs{provider=\"basket\",state=\"permanent\"}";
    assert!(
        metrics(&api)
            .await
            .contains(&format!("{permanent_jobs} 75"))
    );
    let cancel = api
        .request(reqwest::Method::POST, "/api/jobs/cancel")
        .json(&json!({"type": "Addon"}));
    assert_eq!(
        status_and_body(cancel).await,
        (200, json!({"cancelled": 100}))
    );
    assert_eq!(api.get("/api/jobs?type=Addon").await["total"], 0);
    let everything = api
        .request(reqwest::Method::POST, "/api/jobs/cancel")
        .json(&json!({"all": true}));
    assert_eq!(
        status_and_body(everything).await,
        (200, json!({"cancelled": 150}))
    );
    // Live counters: every cancellation counts at once; the gauge of a state that emptied
    // reads 0 rather than its last value.
    let after = metrics(&api).await;
    assert!(
        after.contains("outsync_runs_total{provider=\"basket\",outcome=\"cancelled\"} 250"),
        "{after}"
    );
    assert!(after.contains(&format!("{permanent_jobs} 0")), "{after}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_pages_filters_and_acts_on_every_matching_job() {
    let dir = temp_dir("bulk-cli");
    let file = dir.join("q.db");
    seed(&format!("sqlite://{}?mode=rwc", file.display())).await;
    let config = dir.join("outsync.json");
    std::fs::write(
        &config,
        json!({"database_url": format!("sqlite://{}", file.display()), "schema": "basket",
               "providers": {"basket": {"base_url": "http://127.0.0.1:9", "api_key": "k"}}})
        .to_string(),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let outsync = |args: &[&str]| {
        let mut all = vec!["jobs", "--config", config];
        all.extend_from_slice(args);
        run(&all)
    };

    let listed = outsync(&["list", "--failure", "permanent", "--limit", "20"]);
    assert!(listed.status.success(), "{}", text(&listed));
    let stderr = String::from_utf8_lossy(&listed.stderr);
    assert!(
        stderr.starts_with("20 of 150 job(s); next page: --after "),
        "{stderr}"
    );
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).lines().count(),
        22,
        "a header, a rule, 20 rows"
    );

    let refused = outsync(&["retry"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    let both = outsync(&["retry", "1", "--provider", "basket"]);
    assert_eq!(both.status.code(), Some(2), "{}", text(&both));
    let bad = outsync(&["retry", "--provider", "basket", "--since", "soon"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad).contains("--since: \"soon\" is neither"),
        "{}",
        text(&bad)
    );

    let retried = outsync(&[
        "retry",
        "--provider",
        "basket",
        "--failure",
        "permanent",
        "--since",
        "1h",
    ]);
    assert!(retried.status.success(), "{}", text(&retried));
    assert_eq!(
        String::from_utf8_lossy(&retried.stdout).trim(),
        "retried 150 job(s); they are due now"
    );

    let asked = outsync(&["cancel", "--type", "Addon"]);
    assert_eq!(
        String::from_utf8_lossy(&asked.stdout).trim(),
        "100 job(s) would be cancelled; run again with --yes to cancel them"
    );
    let cancelled = outsync(&["cancel", "--type", "Addon", "--yes"]);
    assert_eq!(
        String::from_utf8_lossy(&cancelled.stdout).trim(),
        "cancelled 100 job(s)"
    );
    let left = outsync(&["list", "--failure", "config"]);
    assert!(String::from_utf8_lossy(&left.stderr).starts_with("0 of 0 job(s)"));
}
