//! Secrets never leave the process except in the requests that must carry them; oversized
//! and invalid request bodies are refused and change nothing.

use super::dashboard::page_text;
use super::{TOKEN, serve, serve_logged, temp_dir};
use serde_json::{Value, json};

const KEY: &str = "basket-key-SECRET-4f9a1c";

/// A Basket that echoes the API key it was sent in its refusal (HTTP 400).
async fn echoing_basket() -> String {
    let app = axum::Router::new().fallback(|headers: axum::http::HeaderMap| async move {
        let key = headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (
            axum::http::StatusCode::BAD_REQUEST,
            axum::Json(json!({"status": "error", "code": 2, "desc": format!("you sent {key}")})),
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    http.get(url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn assert_no_secret(place: &str, text: &str) {
    for secret in [KEY, TOKEN] {
        assert!(!text.contains(secret), "{place} shows a secret: {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_stay_out_of_logs_run_records_the_dashboard_and_errors() {
    let basket = echoing_basket().await;
    let log = temp_dir("secrets-log").join("serve.log");
    let served = serve_logged(
        "secrets",
        &json!({"base_url": basket, "api_key": KEY, "timeout_seconds": 2}),
        Some(&log),
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |path: &str| format!("{}{path}", served.base);
    let enqueued = http
        .post(url("/api/enqueue"))
        .bearer_auth(TOKEN)
        .json(
            &json!({"provider": "basket", "object_type": "UserProfile", "object_id": "5",
                      "snapshot": {"id": 5, "email": "e@example.org", "display_name": "E"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(enqueued.status(), 202);

    let mut state = Value::Null;
    for _ in 0..100 {
        state = get_json(&http, &url("/api/objects/UserProfile/5")).await;
        if state["jobs"][0]["failure_mode"].is_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let state_text = state.to_string();
    assert!(
        state_text.contains("you sent ***"),
        "Basket's echo reaches the run record, redacted: {state_text}"
    );
    assert_no_secret("the object's state", &state_text);

    let login = http
        .post(url("/dashboard/login"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    assert_no_secret("the login answer", &format!("{:?}", login.headers()));
    let problems = page_text(&http, &url("/dashboard/problems"), &cookie).await;
    assert!(problems.contains("you sent ***"), "{problems}");
    for path in [
        "/dashboard",
        "/dashboard/problems",
        "/dashboard/providers/basket",
        "/dashboard/providers/basket/editor",
    ] {
        assert_no_secret(path, &page_text(&http, &url(path), &cookie).await);
    }
    for path in ["/api/jobs?state=failed", "/api/synlast", "/metrics"] {
        let text = http
            .get(url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_no_secret(path, &text);
    }
    let run_now: Value = http
        .post(url("/api/jobs/1/run"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_no_secret("running the job at once", &run_now.to_string());

    drop(served);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("job stopped") && logged.contains("you sent ***"),
        "the log tells of the failure: {logged}"
    );
    assert_no_secret("the service's log", &logged);
}

async fn job_count(http: &reqwest::Client, base: &str) -> usize {
    let jobs = get_json(http, &format!("{base}/api/jobs?limit=1000")).await;
    jobs["jobs"]
        .as_array()
        .or_else(|| jobs.as_array())
        .map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_and_invalid_bodies_are_refused_and_change_nothing() {
    let served = serve("limits");
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", served.base);
    let ok = http
        .post(url("/api/enqueue"))
        .bearer_auth(TOKEN)
        .json(
            &json!({"provider": "basket", "object_type": "UserProfile", "object_id": "1",
                      "snapshot": {"id": 1}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 202);
    let before = job_count(&http, &served.base).await;
    assert_eq!(before, 1);

    // 400 for a body that is not a valid request; 422 for a valid one naming a provider
    // this service does not have.
    let invalid: [(&str, u16, String); 7] = [
        (
            "a trailing comma",
            400,
            "{\"provider\": \"basket\",}".to_owned(),
        ),
        ("not an object", 400, "[1, 2]".to_owned()),
        (
            "no object id",
            400,
            json!({"provider": "basket", "object_type": "UserProfile"}).to_string(),
        ),
        (
            "an unknown provider",
            422,
            json!({"provider": "nope", "object_type": "UserProfile", "object_id": "2"}).to_string(),
        ),
        (
            "items not a list",
            400,
            json!({"items": {"provider": "basket"}}).to_string(),
        ),
        (
            "one bad item in a batch",
            400,
            json!({"items": [
            {"provider": "basket", "object_type": "UserProfile", "object_id": "3"},
            {"provider": "basket", "object_type": "UserProfile"}]})
            .to_string(),
        ),
        (
            "an object id that is not text",
            400,
            json!({"provider": "basket", "object_type": "UserProfile", "object_id": {"x": 1}})
                .to_string(),
        ),
    ];
    for (what, status, body) in invalid {
        let answer = http
            .post(url("/api/enqueue"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status, "{what}");
        let problem: Value = answer.json().await.unwrap();
        assert!(
            problem["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {problem}"
        );
    }
    let wrong_type = http
        .post(url("/api/enqueue"))
        .bearer_auth(TOKEN)
        .header("content-type", "text/plain")
        .body("provider=basket")
        .send()
        .await
        .unwrap();
    assert!(
        wrong_type.status().is_client_error(),
        "{}",
        wrong_type.status()
    );

    // 9 MiB: over the 8 MiB limit, as a single item and as a batch; the server closes the
    // connection after refusing, so each uses a fresh client.
    let padding = "x".repeat(9 * 1024 * 1024);
    for body in [
        json!({"provider": "basket", "object_type": "UserProfile", "object_id": "4",
               "snapshot": {"pad": padding}}),
        json!({"items": [{"provider": "basket", "object_type": "UserProfile", "object_id": "5",
               "snapshot": {"pad": padding}}]}),
    ] {
        let huge = reqwest::Client::new()
            .post(url("/api/enqueue"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(huge.status(), 413);
    }
    let huge_mapping = reqwest::Client::new()
        .post(url("/api/mappings/validate"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(format!("[\"{padding}\"]"))
        .send()
        .await
        .unwrap();
    assert_eq!(huge_mapping.status(), 413);

    assert_eq!(
        job_count(&http, &served.base).await,
        before,
        "nothing was enqueued"
    );
}
