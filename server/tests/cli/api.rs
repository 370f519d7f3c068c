//! The HTTP API: enqueue, cacheable object state, jobs and sync endpoints.

use super::{Api, TOKEN, serve};

#[tokio::test]
async fn the_http_api_enqueues_serves_cacheable_state_and_guards_itself() {
    let served = serve("api");
    let api = Api::of(&served);
    // Unauthenticated calls, to check that they are refused.
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", served.base);

    assert_eq!(
        http.get(url("/healthz")).send().await.unwrap().status(),
        200
    );
    let denied = http.get(url("/api/jobs")).send().await.unwrap();
    assert_eq!(denied.status(), 401);
    let denied = http
        .get(url("/api/jobs"))
        .bearer_auth("test-token-0123456780")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401, "a wrong token is refused");

    let enqueued = api.request(reqwest::Method::POST, "/api/enqueue")
        .json(&serde_json::json!({"provider": "basket", "object_type": "UserProfile", "object_id": "5",
                                   "snapshot": {"id": 5, "email": "e@example.org"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(enqueued.status(), 202);
    let body: serde_json::Value = enqueued.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"job": 1, "created": true}));

    let malformed = api
        .request(reqwest::Method::POST, "/api/enqueue")
        .header("content-type", "application/json")
        .body("{\"provider\": \"basket\",}")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let message: serde_json::Value = malformed.json().await.unwrap();
    assert!(
        message["message"]
            .as_str()
            .unwrap()
            .contains("trailing comma at line 1 column 23"),
        "{message}"
    );
    let missing = api
        .request(reqwest::Method::POST, "/api/enqueue")
        .json(&serde_json::json!({"provider": "basket"}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);

    let state = api
        .request(reqwest::Method::GET, "/api/objects/UserProfile/5")
        .send()
        .await
        .unwrap();
    assert_eq!(state.status(), 200);
    let mut etag = state.headers()["etag"].to_str().unwrap().to_owned();
    assert!(state.headers().contains_key("last-modified"));
    // The worker may change the object's state between two reads (its first attempt):
    // a changed state answers 200 with a new ETag, an unchanged one 304.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let again = api
            .request(reqwest::Method::GET, "/api/objects/UserProfile/5")
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        statuses.push(again.status().as_u16());
        if again.status() == 304 {
            break;
        }
        etag = again.headers()["etag"].to_str().unwrap().to_owned();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(statuses.last(), Some(&304), "{statuses:?}");
    // A weak validator of the same state matches too (If-None-Match compares weakly).
    let weak = api
        .request(reqwest::Method::GET, "/api/objects/UserProfile/5")
        .header("if-none-match", format!("W/{etag}"))
        .send()
        .await
        .unwrap();
    assert!(
        weak.status() == 304 || weak.headers()["etag"] != etag.as_str(),
        "a weak match of an unchanged state answers 304"
    );

    let summary: serde_json::Value = api.patch("/api/syncall").await;
    assert_eq!(summary["response"], "ok", "{summary}");
    assert!(summary["date"].as_str().unwrap().ends_with('Z'));
    let last: serde_json::Value = api.get("/api/synlast?count=1").await;
    assert_eq!(last["data"].as_array().unwrap().len(), 1);

    let metrics = api
        .request(reqwest::Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("# TYPE outsync_queue_jobs gauge"),
        "{metrics}"
    );
    assert!(
        metrics.contains("outsync_runs_total{provider=\"basket\",outcome=\"snoozed\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE outsync_run_duration_seconds histogram")
            && metrics.contains("outsync_run_duration_seconds_bucket{provider=\"basket\",outcome=\"snoozed\",le=\"0.005\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE outsync_oldest_due_job_age_seconds gauge"),
        "{metrics}"
    );

    // The server closes the connection after refusing a huge body: use a fresh client.
    let huge = reqwest::Client::new()
        .post(url("/api/enqueue"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(format!("{{\"pad\": \"{}\"}}", "x".repeat(9 * 1024 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
}

#[tokio::test]
async fn every_job_and_sync_endpoint_answers() {
    let served = serve("endpoints");
    let api = Api::of(&served);
    // Unauthenticated calls, to check that they are refused.
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", served.base);
    let many = serde_json::json!({"items": [
        {"provider": "basket", "object_type": "UserProfile", "object_id": "1", "snapshot": {"id": 1, "email": "a@example.org"}},
        {"provider": "basket", "object_type": "UserProfile", "object_id": 2, "snapshot": {"id": 2, "email": "b@example.org"}},
        {"provider": "basket", "object_type": "UserProfile", "object_id": "1", "snapshot": {"id": 1, "email": "a2@example.org"}}
    ]});
    let answer = api
        .request(reqwest::Method::POST, "/api/enqueue")
        .json(&many)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    assert_eq!(
        answer.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"created": 2, "coalesced": 1})
    );
    let bad_item =
        serde_json::json!({"items": [{"provider": "basket", "object_type": "UserProfile"}]});
    let answer = api
        .request(reqwest::Method::POST, "/api/enqueue")
        .json(&bad_item)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("items[0]: \\\"object_id\\\" is missing")
    );
    let unknown =
        serde_json::json!({"provider": "crm", "object_type": "UserProfile", "object_id": "1"});
    assert_eq!(
        api.request(reqwest::Method::POST, "/api/enqueue")
            .json(&unknown)
            .send()
            .await
            .unwrap()
            .status(),
        422
    );

    // Wait until the worker has tried both (the target is down: they snooze) and holds neither.
    for _ in 0..100 {
        let running: serde_json::Value = api.get("/api/jobs?state=running").await;
        let snoozed: serde_json::Value = api.get("/api/jobs?state=snoozed").await;
        let tried = snoozed["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|j| j["failed_attempts"] == 0 && j["state"] == "snoozed")
            .count();
        if running["jobs"].as_array().unwrap().is_empty() && tried == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let jobs: serde_json::Value = api.get("/api/jobs?state=snoozed").await;
    let id_of = |object: &str| {
        jobs["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["object_id"] == object)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let ids = [id_of("1"), id_of("2")];
    assert_eq!(
        api.request(reqwest::Method::GET, "/api/jobs?state=sometimes")
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let run: serde_json::Value = api
        .request(reqwest::Method::POST, &format!("/api/jobs/{}/run", ids[0]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(run["outcomes"]["snoozed"], 1, "the target is down: {run}");
    let retried = api
        .request(
            reqwest::Method::POST,
            &format!("/api/jobs/{}/retry", ids[1]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), 200);
    let cancelled = api
        .request(
            reqwest::Method::POST,
            &format!("/api/jobs/{}/cancel", ids[1]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    assert_eq!(
        api.request(
            reqwest::Method::POST,
            &format!("/api/jobs/{}/cancel", ids[1])
        )
        .send()
        .await
        .unwrap()
        .status(),
        404
    );

    let state = api
        .request(reqwest::Method::GET, "/api/objects/UserProfile/1")
        .send()
        .await
        .unwrap();
    let modified = state.headers()["last-modified"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: serde_json::Value = state.json().await.unwrap();
    assert_eq!(
        body["jobs"][0]["state"], "snoozed",
        "the target is down: {body}"
    );
    assert!(!body["runs"].as_array().unwrap().is_empty());
    let since = api
        .request(reqwest::Method::GET, "/api/objects/UserProfile/1")
        .header("if-modified-since", &modified)
        .send()
        .await
        .unwrap();
    assert_eq!(since.status(), 304, "If-Modified-Since");
    let older = api
        .request(reqwest::Method::GET, "/api/objects/UserProfile/1")
        .header("if-modified-since", "Mon, 01 Jan 2001 00:00:00 GMT")
        .send()
        .await
        .unwrap();
    assert_eq!(older.status(), 200);
    let synced: serde_json::Value = api
        .request(reqwest::Method::POST, "/api/sync")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(synced["response"], "ok");
    assert_eq!(
        api.request(reqwest::Method::POST, "/api/sync?background=true")
            .send()
            .await
            .unwrap()
            .status(),
        202
    );
    let cast: serde_json::Value = api.patch("/api/syncast").await;
    assert_eq!(cast["data"], "sync started");

    for path in [
        "/api/jobs",
        "/api/synlast",
        "/metrics",
        "/api/objects/UserProfile/1",
    ] {
        assert_eq!(
            http.get(url(path)).send().await.unwrap().status(),
            401,
            "{path} needs the token"
        );
    }
}

#[tokio::test]
async fn synlast_shows_the_schedulers_and_the_apis_rounds_and_survives_a_restart() {
    let served = serve("synlast");
    let api = Api::of(&served);
    let answer = api
        .request(reqwest::Method::POST, "/api/enqueue")
        .json(&serde_json::json!({"provider": "basket", "object_type": "UserProfile", "object_id": "5",
                                  "snapshot": {"id": 5, "email": "u5@example.org"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    // The worker tries (Basket is unreachable: the job snoozes); the next scheduler round
    // records it.
    let started = std::time::Instant::now();
    let scheduled = loop {
        let last = api.get("/api/synlast").await;
        let rounds = last["data"].as_array().unwrap().clone();
        if let Some(round) = rounds.iter().find(|r| r["origin"] == "scheduler") {
            break round.clone();
        }
        assert!(
            started.elapsed().as_secs() < 15,
            "no scheduler round: {last}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(scheduled["response"], "ok", "{scheduled}");
    assert_eq!(scheduled["data"], "1 snoozed", "{scheduled}");
    let synced = api.patch("/api/syncall").await;
    assert_eq!(synced["response"], "ok", "{synced}");
    drop(served);

    let again = serve("synlast");
    let rounds = Api::of(&again).get("/api/synlast").await;
    let origins: Vec<&str> = rounds["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["origin"].as_str().unwrap())
        .collect();
    assert!(
        origins.contains(&"scheduler") && origins.ends_with(&["api"]),
        "{rounds}"
    );
    let one = Api::of(&again).get("/api/synlast?count=1").await;
    assert_eq!(one["data"].as_array().unwrap().len(), 1);
    assert_eq!(one["data"][0]["data"], synced["data"], "{one}");
}

#[tokio::test]
async fn every_api_answer_is_json_and_the_scheme_may_be_lower_case() {
    let served = serve("api-protocol");
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", served.base);
    let lower = http
        .get(url("/api/jobs"))
        .header("authorization", format!("bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(lower.status(), 200, "the scheme is case-insensitive");
    let answer = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.expect("a JSON body");
        (status, body)
    };
    let (status, body) = answer(
        http.get(url("/api/no-such-thing"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "no such path: /api/no-such-thing");
    let (status, body) = answer(
        http.get(url("/api/jobs/retry"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 405);
    assert_eq!(body["message"], "/api/jobs/retry does not take GET");
}
