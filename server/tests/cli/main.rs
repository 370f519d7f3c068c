//! The `outsync` command, run as a user would.

mod safe_operation;
mod secrets_and_limits;

use std::process::{Command, Output};

const OUTSYNC: &str = env!("CARGO_BIN_EXE_outsync");

fn run(args: &[&str]) -> Output {
    Command::new(OUTSYNC)
        .args(args)
        .output()
        .expect("run outsync")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn temp_dir(label: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("outsync-cli-{label}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn demo_runs_end_to_end_and_summarises() {
    let dir = temp_dir("demo");
    let database = format!("sqlite://{}?mode=rwc", dir.join("demo.db").display());
    let output = run(&["demo", "--database", &database]);
    let printed = text(&output);
    assert!(output.status.success(), "{printed}");
    assert!(
        printed.contains("synced: {\"success\": 7}; Basket received 7 payloads"),
        "{printed}"
    );
    assert!(
        printed.contains("enqueued: 0 job(s)"),
        "a field Basket does not receive: {printed}"
    );
    assert!(
        printed.contains("HTTP calls: 0"),
        "unchanged payload not re-sent: {printed}"
    );
    assert!(printed.contains("12 payloads reached Basket"), "{printed}");
    assert!(printed.contains("0 job(s) left in the queue"), "{printed}");
}

#[test]
fn mapping_check_lists_every_problem() {
    let dir = temp_dir("check");
    let config = dir.join("outsync.json");
    std::fs::write(
        &config,
        r#"{"database_url": "sqlite::memory:", "schema": "basket", "providers": {"basket": {
            "base_url": "https://basket.example", "api_key": "k",
            "mappings": [{"id": "x", "source_model": "Nope", "external_object_type": "userprofile",
                          "source_id_field": "a", "external_id_field": "id", "colour": 1}]}}}"#,
    )
    .unwrap();
    let output = run(&["mapping", "--config", config.to_str().unwrap(), "check"]);
    let printed = text(&output);
    assert!(!output.status.success());
    assert!(printed.contains("error: 2 problem(s):"), "{printed}");
    assert!(
        printed.contains("provider \"basket\": mapping x, field \"colour\": unknown key"),
        "{printed}"
    );
    assert!(
        printed.contains(
            "provider \"basket\": mapping x, field \"source_model\": model \"Nope\" is not defined"
        ),
        "{printed}"
    );
}

#[test]
fn enqueue_sync_status_jobs_and_preview() {
    let dir = temp_dir("queue");
    let config = dir.join("outsync.json");
    let database = format!("sqlite://{}?mode=rwc", dir.join("q.db").display());
    std::fs::write(
        &config,
        format!(
            r#"{{"database_url": "{database}", "schema": "basket",
                "providers": {{"basket": {{"base_url": "http://127.0.0.1:9", "api_key": "k", "timeout_seconds": 1}}}}}}"#
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let user = r#"{"id": 5, "email": "e@example.org", "display_name": "E"}"#;
    let output = run(&[
        "enqueue",
        "--create",
        "--config",
        config,
        "--provider",
        "basket",
        "--type",
        "UserProfile",
        "--id",
        "5",
        "--snapshot",
        user,
    ]);
    assert!(text(&output).contains("job 1 created"), "{}", text(&output));
    let lines = dir.join("backfill.jsonl");
    std::fs::write(
        &lines,
        format!(
            "{{\"provider\": \"basket\", \"object_type\": \"UserProfile\", \"object_id\": 6, \"snapshot\": {{\"id\": 6, \"email\": \"six@example.org\"}}}}\n\
             {{\"provider\": \"basket\", \"object_type\": \"UserProfile\", \"object_id\": \"5\", \"snapshot\": {user}}}\n"
        ),
    )
    .unwrap();
    let output = run(&[
        "enqueue",
        "--config",
        config,
        "--file",
        lines.to_str().unwrap(),
    ]);
    assert!(
        text(&output).contains("1 new jobs, 1 merged into pending ones"),
        "{}",
        text(&output)
    );

    // Basket is unreachable: both jobs snooze (no attempt charged) and wait.
    let output = run(&["sync", "--config", config]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("snoozed"), "{}", text(&output));
    let output = run(&["status", "--config", config]);
    assert!(
        text(&output).contains("basket    scheduled  2"),
        "{}",
        text(&output)
    );
    let output = run(&["jobs", "--config", config, "list", "--state", "snoozed"]);
    assert!(
        text(&output).contains("cannot connect to Basket at http://127.0.0.1:9"),
        "{}",
        text(&output)
    );
    let output = run(&["jobs", "--config", config, "cancel", "1"]);
    assert!(
        text(&output).contains("job 1 cancelled"),
        "{}",
        text(&output)
    );

    let output = run(&[
        "mapping",
        "--config",
        config,
        "preview",
        "--provider",
        "basket",
        "--type",
        "UserProfile",
        "--object",
        user,
    ]);
    let printed = text(&output);
    assert!(
        printed.contains("mapping userprofile: id \"5\""),
        "{printed}"
    );
    assert!(
        printed.contains("display_name    overwrite  \"E\""),
        "{printed}"
    );
    assert!(
        printed.contains("deleted         overwrite  false"),
        "{printed}"
    );
}

struct Served {
    child: std::process::Child,
    base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const TOKEN: &str = "test-token-0123456789";

fn serve(label: &str) -> Served {
    serve_with(
        label,
        &serde_json::json!({"base_url": "http://127.0.0.1:9", "api_key": "k", "timeout_seconds": 1}),
    )
}

/// `outsync serve` on a fresh SQLite queue with the `basket` provider's `settings`.
fn serve_with(label: &str, settings: &serde_json::Value) -> Served {
    serve_logged(label, settings, None)
}

/// [`serve_with`], writing the service's log at debug level to `log` if given.
fn serve_logged(
    label: &str,
    settings: &serde_json::Value,
    log: Option<&std::path::Path>,
) -> Served {
    let dir = temp_dir(label);
    let config = dir.join("outsync.json");
    let database = format!("sqlite://{}?mode=rwc", dir.join("q.db").display());
    let document = serde_json::json!({"database_url": database, "schema": "basket",
        "scheduler_interval_seconds": 1, "providers": {"basket": settings}});
    std::fs::write(&config, document.to_string()).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(OUTSYNC)
        .args([
            "serve",
            "--create",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("OUTSYNC_API_TOKEN", TOKEN)
        .env("OUTSYNC_LOG", "debug")
        .stderr(match log {
            Some(path) => std::process::Stdio::from(std::fs::File::create(path).unwrap()),
            None => std::process::Stdio::null(),
        })
        .spawn()
        .unwrap();
    let served = Served {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return served;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("outsync serve did not start");
}

#[tokio::test]
async fn the_http_api_enqueues_serves_cacheable_state_and_guards_itself() {
    let served = serve("api");
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

    let enqueued = http
        .post(url("/api/enqueue"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"provider": "basket", "object_type": "UserProfile", "object_id": "5",
                                   "snapshot": {"id": 5, "email": "e@example.org"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(enqueued.status(), 202);
    let body: serde_json::Value = enqueued.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"job": 1, "created": true}));

    let malformed = http
        .post(url("/api/enqueue"))
        .bearer_auth(TOKEN)
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
    let missing = http
        .post(url("/api/enqueue"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"provider": "basket"}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);

    let state = http
        .get(url("/api/objects/UserProfile/5"))
        .bearer_auth(TOKEN)
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
        let again = http
            .get(url("/api/objects/UserProfile/5"))
            .bearer_auth(TOKEN)
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

    let summary: serde_json::Value = http
        .patch(url("/api/syncall"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(summary["response"], "ok", "{summary}");
    assert!(summary["date"].as_str().unwrap().ends_with('Z'));
    let last: serde_json::Value = http
        .get(url("/api/synlast?count=1"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(last["data"].as_array().unwrap().len(), 1);

    let metrics = http
        .get(url("/metrics"))
        .bearer_auth(TOKEN)
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
        metrics.contains("outsync_runs{provider=\"basket\",outcome=\"snoozed\"}"),
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

/// The text of a dashboard page fetched with the session `cookie`.
async fn page_text(http: &reqwest::Client, url: &str, cookie: &str) -> String {
    http.get(url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn csrf_in(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("a CSRF field") + marker.len();
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn the_dashboard_logs_in_with_the_token_and_acts_on_problems_with_csrf() {
    let served = serve("dashboard");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |path: &str| format!("{}{path}", served.base);

    let anonymous = http.get(url("/dashboard")).send().await.unwrap();
    assert_eq!(anonymous.status(), 303);
    assert_eq!(anonymous.headers()["location"], "/dashboard/login");
    let wrong = http
        .post(url("/dashboard/login"))
        .form(&[("token", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let login = http
        .post(url("/dashboard/login"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let cookie_header = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie_header.contains("HttpOnly") && cookie_header.contains("SameSite=Strict"),
        "{cookie_header}"
    );
    let cookie = cookie_header.split(';').next().unwrap().to_owned();

    let overview = page_text(&http, &url("/dashboard"), &cookie).await;
    assert!(
        overview.contains("<h2>Queue</h2>") && overview.contains("Mozilla Basket"),
        "{overview}"
    );
    assert!(!overview.contains("cdn"), "no external CDN");

    // A job without snapshot fails (the service has no ObjectSource): a sync problem.
    let enqueued = http
        .post(url("/api/enqueue"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"provider": "basket", "object_type": "UserProfile", "object_id": "9"}))
        .send()
        .await
        .unwrap();
    assert_eq!(enqueued.status(), 202);
    let mut problems_page = String::new();
    for _ in 0..50 {
        problems_page = page_text(&http, &url("/dashboard/problems"), &cookie).await;
        if problems_page.contains("value=\"1\"") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        problems_page.contains("the job has no snapshot"),
        "{problems_page}"
    );
    let csrf = csrf_in(&problems_page);

    let forged = http
        .post(url("/dashboard/problems"))
        .header("cookie", &cookie)
        .form(&[("action", "cancel"), ("id", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403, "no CSRF token, no action");
    let cancelled = http
        .post(url("/dashboard/problems"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("action", "cancel"), ("id", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 303);
    let failed: serde_json::Value = http
        .get(url("/api/jobs?state=failed"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(failed["jobs"].as_array().unwrap().len(), 0);

    let object = page_text(&http, &url("/dashboard/objects/UserProfile/9"), &cookie).await;
    assert!(
        object.contains("<h1>UserProfile 9</h1>") && object.contains("cancelled"),
        "{object}"
    );
    let provider = page_text(&http, &url("/dashboard/providers/basket"), &cookie).await;
    assert!(
        provider.contains("<h3>UserProfile</h3>") && provider.contains("user_display_name"),
        "{provider}"
    );

    let editor = page_text(&http, &url("/dashboard/providers/basket/editor"), &cookie).await;
    let editor_csrf = editor
        .split("id=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let invalid: serde_json::Value = http
        .post(url("/dashboard/mappings/validate"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &editor_csrf)
        .body(r#"[{"id": "m", "source_model": "UserProfile", "external_object_type": "userprofile", "source_id_field": "user_id", "external_id_field": "id", "property_mappings": [{"source_field": "nope", "external_field": "x"}]}]"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(invalid["valid"], false);
    assert!(
        invalid["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("mapping m, entry 1, field \"nope\": is not a field of the schema"),
        "{invalid}"
    );
    let refused = http
        .post(url("/dashboard/mappings/validate"))
        .header("cookie", &cookie)
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let through_api = http
        .post(url("/api/mappings/validate"))
        .bearer_auth(TOKEN)
        .body("[{\"id\": 1,}]")
        .send()
        .await
        .unwrap();
    assert_eq!(through_api.status(), 422);
    let problems: serde_json::Value = through_api.json().await.unwrap();
    assert!(
        problems["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("mapping 1: not valid JSON: trailing comma"),
        "{problems}"
    );
}

#[tokio::test]
async fn every_job_and_sync_endpoint_answers() {
    let served = serve("endpoints");
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", served.base);
    let many = serde_json::json!({"items": [
        {"provider": "basket", "object_type": "UserProfile", "object_id": "1", "snapshot": {"id": 1, "email": "a@example.org"}},
        {"provider": "basket", "object_type": "UserProfile", "object_id": 2, "snapshot": {"id": 2, "email": "b@example.org"}},
        {"provider": "basket", "object_type": "UserProfile", "object_id": "1", "snapshot": {"id": 1, "email": "a2@example.org"}}
    ]});
    let answer = http
        .post(url("/api/enqueue"))
        .bearer_auth(TOKEN)
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
    let answer = http
        .post(url("/api/enqueue"))
        .bearer_auth(TOKEN)
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
        http.post(url("/api/enqueue"))
            .bearer_auth(TOKEN)
            .json(&unknown)
            .send()
            .await
            .unwrap()
            .status(),
        422
    );

    // Wait until the worker has tried both (the target is down: they snooze) and holds neither.
    for _ in 0..100 {
        let running: serde_json::Value = http
            .get(url("/api/jobs?state=running"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let snoozed: serde_json::Value = http
            .get(url("/api/jobs?state=snoozed"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
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
    let jobs: serde_json::Value = http
        .get(url("/api/jobs?state=snoozed"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
        http.get(url("/api/jobs?state=sometimes"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let run: serde_json::Value = http
        .post(url(&format!("/api/jobs/{}/run", ids[0])))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(run["outcomes"]["snoozed"], 1, "the target is down: {run}");
    let retried = http
        .post(url(&format!("/api/jobs/{}/retry", ids[1])))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), 200);
    let cancelled = http
        .post(url(&format!("/api/jobs/{}/cancel", ids[1])))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    assert_eq!(
        http.post(url(&format!("/api/jobs/{}/cancel", ids[1])))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let state = http
        .get(url("/api/objects/UserProfile/1"))
        .bearer_auth(TOKEN)
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
    let since = http
        .get(url("/api/objects/UserProfile/1"))
        .bearer_auth(TOKEN)
        .header("if-modified-since", &modified)
        .send()
        .await
        .unwrap();
    assert_eq!(since.status(), 304, "If-Modified-Since");
    let older = http
        .get(url("/api/objects/UserProfile/1"))
        .bearer_auth(TOKEN)
        .header("if-modified-since", "Mon, 01 Jan 2001 00:00:00 GMT")
        .send()
        .await
        .unwrap();
    assert_eq!(older.status(), 200);
    let synced: serde_json::Value = http
        .post(url("/api/sync"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(synced["response"], "ok");
    assert_eq!(
        http.post(url("/api/sync?background=true"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .status(),
        202
    );
    let cast: serde_json::Value = http
        .patch(url("/api/syncast"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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

/// A URL of a fresh, empty schema on the test PostgreSQL server
/// (`OUTSYNC_TEST_POSTGRES_URL`).
async fn fresh_postgres_url(label: &str) -> String {
    use outsync_queue::sea_orm::{ConnectionTrait, Database};
    let server = std::env::var("OUTSYNC_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("outsync_cli_{label}_{}", std::process::id());
    let admin = Database::connect(&server).await.expect("PostgreSQL");
    // Schemas earlier test processes left behind.
    let stale = admin
        .query_all_raw(outsync_queue::sea_orm::Statement::from_string(
            outsync_queue::sea_orm::DbBackend::Postgres,
            format!(
                "SELECT schema_name FROM information_schema.schemata \
                 WHERE schema_name LIKE 'outsync\\_cli\\_%' AND schema_name NOT LIKE '%\\_{}'",
                std::process::id()
            ),
        ))
        .await
        .unwrap_or_default();
    for row in stale {
        if let Ok(name) = row.try_get::<String>("", "schema_name") {
            let _ = admin
                .execute_unprepared(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                .await;
        }
    }
    admin
        .execute_unprepared(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .await
        .unwrap();
    let separator = if server.contains('?') { '&' } else { '?' };
    format!("{server}{separator}options=-c%20search_path%3D{schema}")
}

#[tokio::test(flavor = "multi_thread")]
async fn two_workers_and_serve_share_postgres_and_drain_a_backfill() {
    let fake = outsync_basket::fake::FakeBasket::start("k").await.unwrap();
    let database = fresh_postgres_url("scale").await;

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

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut processes = vec![
        Command::new(OUTSYNC)
            .args([
                "serve",
                "--config",
                &config,
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .env("OUTSYNC_API_TOKEN", TOKEN)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    ];
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

/// A minimal WebDriver client over HTTP (chromedriver speaks it), enough to log in, click
/// and take screenshots.
struct Browser {
    http: reqwest::Client,
    base: String,
    session: String,
    driver: std::process::Child,
    /// Chromium's profile directory, which names its processes.
    profile: std::path::PathBuf,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    async fn start() -> Option<Browser> {
        let driver_path = std::env::var("OUTSYNC_TEST_CHROMEDRIVER")
            .unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        if !std::path::Path::new(&driver_path).exists() {
            assert!(
                std::env::var("CI").is_err(),
                "CI must run the browser test: install chromium and chromium-driver"
            );
            eprintln!(
                "{driver_path} is missing: the browser test needs Debian's chromium and chromium-driver"
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let profile = temp_dir("chromium-profile");
        let capabilities = serde_json::json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": std::env::var("OUTSYNC_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                     format!("--user-data-dir={}", profile.display())]}}}});
        for _ in 0..100 {
            if let Ok(answer) = http
                .post(format!("{base}/session"))
                .json(&capabilities)
                .send()
                .await
            {
                let body: serde_json::Value = answer.json().await.unwrap();
                let session = body["value"]["sessionId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("no session: {body}"))
                    .to_owned();
                return Some(Browser {
                    http,
                    base,
                    session,
                    driver,
                    profile,
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let mut driver = driver;
        let _ = driver.kill();
        let _ = driver.wait();
        panic!("chromedriver did not start");
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let request = self.http.request(method, url);
        let request = if body.is_null() {
            request
        } else {
            request.json(&body)
        };
        let answer = request.send().await.unwrap();
        answer.json::<serde_json::Value>().await.unwrap()["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.call(
            reqwest::Method::POST,
            "/url",
            serde_json::json!({"url": url}),
        )
        .await;
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                serde_json::json!({"using": "css selector", "value": css}),
            )
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            serde_json::json!({"text": text}),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let element = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            serde_json::json!({}),
        )
        .await;
    }

    /// The page source once it contains `needle` (pages load after clicks asynchronously).
    async fn wait_for(&self, needle: &str) -> String {
        let mut source = String::new();
        for _ in 0..100 {
            source = self.source().await;
            if source.contains(needle) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        source
    }

    async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", serde_json::Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn screenshot(&self, path: &std::path::Path) {
        let encoded = self
            .call(reqwest::Method::GET, "/screenshot", serde_json::Value::Null)
            .await;
        let png = base64_decode(encoded.as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::write(path, png).unwrap();
    }
}

impl Browser {
    /// Ends the WebDriver session, which closes Chromium.
    async fn quit(&self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // A failed test never reached `quit`: Chromium outlives chromedriver, so stop the
        // processes that use this test's profile.
        let _ = Command::new("pkill")
            .args(["-f", "--"])
            .arg(format!("--user-data-dir={}", self.profile.display()))
            .status();
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = text
        .bytes()
        .filter(|c| *c != b'=' && !c.is_ascii_whitespace())
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let bits = chunk.iter().enumerate().fold(0u32, |acc, (i, c)| {
            acc | (u32::from(value(*c)) << (18 - 6 * i))
        });
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_browser_logs_in_finds_a_failed_job_retries_it_and_sees_it_synced() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let fake = outsync_basket::fake::FakeBasket::start("k").await.unwrap();
    fake.set_mode(outsync_basket::fake::FakeMode::Unauthorized);
    let served = serve_with(
        "browser",
        &serde_json::json!({"base_url": fake.base_url, "api_key": "k"}),
    );
    let http = reqwest::Client::new();
    let user = serde_json::json!({"provider": "basket", "object_type": "UserProfile", "object_id": "5",
                                  "snapshot": {"id": 5, "email": "five@example.org", "display_name": "Five"}});
    http.post(format!("{}/api/enqueue", served.base))
        .bearer_auth(TOKEN)
        .json(&user)
        .send()
        .await
        .unwrap();
    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();

    browser.go(&format!("{}/dashboard", served.base)).await;
    let login = browser.wait_for("API token").await;
    assert!(
        login.contains("API token"),
        "redirected to the login page: {login}"
    );
    browser.screenshot(&shots.join("1-login.png")).await;
    browser.type_into("input[name=token]", TOKEN).await;
    browser.click("form button").await;
    let overview = browser.wait_for("<h2>Queue</h2>").await;
    assert!(overview.contains("<h2>Queue</h2>"), "{overview}");
    browser.screenshot(&shots.join("2-overview.png")).await;

    let mut problems = String::new();
    for _ in 0..50 {
        browser
            .go(&format!("{}/dashboard/problems", served.base))
            .await;
        problems = browser.source().await;
        if problems.contains("refused the API key") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(problems.contains("refused the API key"), "{problems}");
    browser.screenshot(&shots.join("3-problems.png")).await;

    fake.set_mode(outsync_basket::fake::FakeMode::Normal);
    browser.click("input[name=id]").await;
    browser.click("button[value=retry]").await;
    let mut object = String::new();
    for _ in 0..50 {
        browser
            .go(&format!("{}/dashboard/objects/UserProfile/5", served.base))
            .await;
        object = browser.source().await;
        if object.contains(">success<") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        object.contains(">success<") && object.contains(">create<"),
        "synced after the retry: {object}"
    );
    browser.screenshot(&shots.join("4-synced.png")).await;

    // The mapping editor: add a property through the form, then validate on the server.
    browser
        .go(&format!(
            "{}/dashboard/providers/basket/editor",
            served.base
        ))
        .await;
    browser.click("option[value=addon_status]").await;
    let value_map = browser.wait_for("nominated → ").await;
    assert!(
        value_map.contains("nominated → "),
        "enum fields get a value-map editor"
    );
    browser.click("option[value=user_location]").await;
    browser.type_into("#external", "where").await;
    browser.click("#add").await;
    browser.click("#validate").await;
    let mut editor = String::new();
    for _ in 0..50 {
        editor = browser.source().await;
        if editor.contains("Valid: 2 mapping(s).") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(editor.contains("Valid: 2 mapping(s)."), "{editor}");
    browser.screenshot(&shots.join("5-editor.png")).await;
    assert_eq!(
        fake.received_at("/amo-sync/userprofile/")
            .iter()
            .filter(|r| r.body["id"] == 5)
            .count(),
        2,
        "one refused, one accepted"
    );
    browser.quit().await;
    eprintln!("screenshots in {}", shots.display());
}

/// Prints a measured figure and appends it to `figures.txt` in cargo's temporary directory
/// (`target/tmp/`), which `.ci/run` prints after the tests.
fn report_figure(line: &str) {
    use std::io::Write;
    println!("{line}");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("figures.txt");
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(file, "{line}");
    }
}
