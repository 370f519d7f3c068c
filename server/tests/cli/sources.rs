//! The service loads objects itself: `outsync serve` (and `outsync worker` processes) with
//! HTTP and SQL sources, Basket end to end.

use super::{OUTSYNC, TOKEN, fresh_postgres_url, temp_dir};
use outsync_basket::fake::FakeBasket;
use outsync_tests::fake_app::FakeApp;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BASKET_KEY: &str = "basket-key-e2e-7c1d";

fn user(id: u64, name: &str) -> Value {
    json!({"id": id, "deleted": false, "display_name": name, "email": format!("u{id}@example.org"),
           "homepage": "", "last_login": "2026-11-01T10:00:00Z", "location": "Berlin", "biography": "not sent"})
}

fn addon(id: u64) -> Value {
    json!({"id": id, "guid": format!("addon-{id}@example.org"), "name": format!("Add-on {id}"),
           "default_locale": "en-US", "slug": format!("addon-{id}"), "type": "extension", "status": "public",
           "is_disabled": false, "is_recommended": false, "last_updated": "2026-11-01T10:00:00Z",
           "average_daily_users": 3, "categories": {"firefox": ["tabs"]},
           "current_version": {"id": id * 10, "compatibility": {}, "is_strict_compatibility_enabled": false, "version": "1.0"},
           "latest_unlisted_version": null,
           "ratings": {"average": 4.5, "bayesian_average": 4.4, "count": 2, "text_count": 1}})
}

/// Processes killed when the test ends.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn spawn(args: &[&str], log: &std::path::Path) -> Child {
    command(args)
        .stderr(Stdio::from(std::fs::File::create(log).unwrap()))
        .spawn()
        .unwrap()
}

/// `outsync` with `args`, its environment set as the sources tests run it.
fn command(args: &[&str]) -> Command {
    let mut command = Command::new(OUTSYNC);
    command
        .args(args)
        .env("OUTSYNC_API_TOKEN", TOKEN)
        .env("OUTSYNC_LOG", "info")
        // The application's password reaches the processes through the environment, as
        // an operator would set it, never through the configuration file.
        .env("APP_PASSWORD_E2E", "app-secret-83ac1")
        .stdout(Stdio::null());
    command
}

/// Writes a configuration for `database` with Basket at `basket` and `sources`, migrates
/// the queue and checks the configuration; returns the file.
fn configure(label: &str, database: &str, basket: &str, sources: &Value) -> String {
    let config = temp_dir(label).join("outsync.json");
    let document = json!({"database_url": database, "schema": "basket", "scheduler_interval_seconds": 1,
        "providers": {"basket": {"base_url": basket, "api_key": BASKET_KEY, "timeout_seconds": 5}},
        "sources": sources});
    std::fs::write(&config, document.to_string()).unwrap();
    let config = config.to_str().unwrap().to_owned();
    let migrated = Command::new(OUTSYNC)
        .args(["migrate", "--config", &config])
        .output()
        .unwrap();
    assert!(migrated.status.success(), "{migrated:?}");
    let checked = Command::new(OUTSYNC)
        .args(["config", "--config", &config, "check"])
        .env("APP_PASSWORD_E2E", "app-secret-83ac1")
        .output()
        .unwrap();
    assert!(checked.status.success(), "{checked:?}");
    config
}

/// Configures (see [`configure`]) and starts `outsync serve` and `workers` worker
/// processes; returns the API's base, the processes and the folder of their logs.
fn start_service(
    label: &str,
    database: &str,
    basket: &str,
    sources: &Value,
    workers: usize,
) -> (String, Processes, std::path::PathBuf) {
    let config = configure(label, database, basket, sources);
    let dir = temp_dir(label);
    let (served, base) = super::start_serving_child(
        &mut command(&["serve", "--config", &config, "--listen", "127.0.0.1:0"]),
        Some(&dir.join("serve.log")),
    );
    let mut processes = vec![served];
    for number in 0..workers {
        processes.push(spawn(
            &["worker", "--config", &config],
            &dir.join(format!("worker-{number}.log")),
        ));
    }
    (base, Processes(processes), dir)
}

/// Waits until Basket received `count` payloads at `path`, or fails after 20 s.
async fn received(basket: &FakeBasket, path: &str, count: usize) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let bodies: Vec<Value> = basket
            .received_at(path)
            .into_iter()
            .map(|r| r.body)
            .collect();
        if bodies.len() >= count {
            return bodies;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "Basket received {} of {count} payloads at {path}: {bodies:?}",
            bodies.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn changed(api: &str, object_type: &str, id: &str) -> Value {
    reqwest::Client::new()
        .post(format!("{api}/api/enqueue"))
        .bearer_auth(TOKEN)
        .json(
            &json!({"provider": "basket", "object_type": object_type, "object_id": id,
                      "triggered_by": "user_changed"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basket_under_the_service_with_an_http_source_and_two_workers_on_postgres() {
    let app = FakeApp::start().await;
    app.require_login("sync-bot", "app-secret-83ac1");
    app.set_user("1", user(1, "Ada"));
    app.set_addon("30", addon(30), &["1"]);
    app.set_addon("31", addon(31), &["1"]);
    let basket = FakeBasket::start(BASKET_KEY).await.unwrap();
    let sources = json!({
        "UserProfile": {"kind": "http", "base_url": app.base_url, "url": "{base_url}/users/{id}/",
                        "pointer": "/data", "user": "sync-bot", "password_env": "APP_PASSWORD_E2E",
                        "token_url": "{base_url}/token/",
                        "related": {"Addon": {"url": "{base_url}/users/{id}/addons/", "pointer": "/ids"}}},
        "Addon": {"kind": "http", "base_url": app.base_url, "url": "{base_url}/addons/{id}/",
                  "pointer": "/data", "user": "sync-bot", "password_env": "APP_PASSWORD_E2E",
                  "token_url": "{base_url}/token/"}});
    let database = fresh_postgres_url().await;
    let (api, _processes, dir) =
        start_service("e2e-http", &database, &basket.base_url, &sources, 2);

    // "User 1 changed": she renamed herself.
    app.set_user("1", user(1, "Ada Lovelace"));
    let answer = changed(&api, "UserProfile", "1").await;
    assert_eq!(
        answer["related"], 2,
        "the user and her two add-ons: {answer}"
    );
    let users = received(&basket, "/amo-sync/userprofile/", 1).await;
    assert_eq!(
        users[0],
        json!({"id": 1, "deleted": false, "display_name": "Ada Lovelace", "email": "u1@example.org",
               "homepage": "", "last_login": "2026-11-01T10:00:00Z", "location": "Berlin"}),
        "exactly the documented user payload"
    );
    let addons = received(&basket, "/amo-sync/addon/", 2).await;
    for payload in &addons {
        assert_eq!(
            payload["authors"][0]["display_name"], "Ada Lovelace",
            "{payload}"
        );
        assert!(payload.get("weekly_downloads").is_none());
    }
    let mut ids: Vec<u64> = addons.iter().map(|p| p["id"].as_u64().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, [30, 31]);
    // No secret of the source in any log.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        assert!(!text.contains("app-secret-83ac1") && !text.contains("issued-token-"));
    }
}

/// A renamed user reaches Basket through a `sql` source: the application database at
/// `setup_url` (created with `tables`) is read at `source_url` with `query`.
async fn sql_scenario(label: &str, setup_url: &str, source_url: &str, tables: &str, query: &str) {
    use outsync_queue::sea_orm::ConnectionTrait;
    let setup = outsync_queue::sea_orm::Database::connect(setup_url)
        .await
        .unwrap();
    for statement in [
        tables,
        "INSERT INTO users VALUES (7, 'Grace', 'g@example.org', false, '', '2026-11-01T10:00:00Z', 'Arlington')",
    ] {
        setup.execute_unprepared(statement).await.unwrap();
    }
    let basket = FakeBasket::start(BASKET_KEY).await.unwrap();
    let sources =
        json!({"UserProfile": {"kind": "sql", "database_url": source_url, "query": query}});
    let dir = temp_dir(label);
    let database = format!("sqlite://{}?mode=rwc", dir.join("q.db").display());
    let (api, _processes, _) = start_service(label, &database, &basket.base_url, &sources, 0);
    setup
        .execute_unprepared("UPDATE users SET display_name = 'Grace Hopper' WHERE id = 7")
        .await
        .unwrap();
    changed(&api, "UserProfile", "7").await;
    let users = received(&basket, "/amo-sync/userprofile/", 1).await;
    assert_eq!(users[0]["display_name"], "Grace Hopper", "{}", users[0]);
    assert_eq!(users[0]["deleted"], false, "{}", users[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basket_under_the_service_with_a_sql_source_over_sqlite() {
    let file = temp_dir("e2e-sql-app").join("app.db");
    sql_scenario(
        "e2e-sql-sqlite",
        &format!("sqlite://{}?mode=rwc", file.display()),
        &format!("sqlite://{}", file.display()),
        "CREATE TABLE users (id INTEGER PRIMARY KEY, display_name TEXT, email TEXT, deleted BOOLEAN, homepage TEXT, last_login TEXT, location TEXT)",
        "SELECT id, display_name, email, deleted = 1 AS deleted, homepage, last_login, location FROM users WHERE id = $1",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basket_under_the_service_with_a_sql_source_over_postgres() {
    let url = fresh_postgres_url().await;
    sql_scenario(
        "e2e-sql-postgres",
        &url,
        &url,
        "CREATE TABLE users (id BIGINT PRIMARY KEY, display_name TEXT, email TEXT, deleted BOOLEAN, homepage TEXT, last_login TEXT, location TEXT)",
        "SELECT id, display_name, email, deleted, homepage, last_login, location FROM users WHERE id = $1::bigint",
    )
    .await;
}

const SOURCE_TOKEN: &str = "app-token-SECRET-71b2c";
const DB_PASSWORD: &str = "db-pass-SECRET-93e4";
const LOGIN_PASSWORD: &str = "login-pass-SECRET-5a0f";

/// An application API that answers 500 and echoes the `Authorization` header it got.
async fn echoing_application() -> String {
    let app = axum::Router::new().fallback(|headers: axum::http::HeaderMap| async move {
        let sent = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error; you sent {sent}"),
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn assert_no_source_secret(place: &str, text: &str) {
    for secret in [SOURCE_TOKEN, DB_PASSWORD, LOGIN_PASSWORD] {
        assert!(
            !text.contains(secret),
            "{place} shows a source secret: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_secrets_stay_out_of_logs_run_records_status_the_dashboard_and_errors() {
    let application = echoing_application().await;
    let basket = FakeBasket::start(BASKET_KEY).await.unwrap();
    // The SQL source's database refuses connections: its URL (with the password) is in the
    // error's way.
    let sources = json!({
        "UserProfile": {"kind": "http", "base_url": application, "url": "{base_url}/users/{id}/",
                        "token": SOURCE_TOKEN},
        "Addon": {"kind": "sql", "database_url": format!("postgres://app:{DB_PASSWORD}@127.0.0.1:9/app"),
                  "query": "SELECT * FROM addons WHERE id = $1"}});
    let dir = temp_dir("source-secrets");
    let database = format!("sqlite://{}?mode=rwc", dir.join("q.db").display());
    let config = dir.join("outsync.json");
    std::fs::write(
        &config,
        json!({"database_url": database, "schema": "basket", "scheduler_interval_seconds": 1,
               "providers": {"basket": {"base_url": basket.base_url, "api_key": BASKET_KEY}},
               "sources": sources})
        .to_string(),
    )
    .unwrap();
    let config = config.to_str().unwrap().to_owned();
    // The SQL source cannot connect: `config check` and `serve` refuse to start, saying so
    // without the password.
    let checked = Command::new(OUTSYNC)
        .args(["config", "check", "--config", &config])
        .output()
        .unwrap();
    assert_eq!(checked.status.code(), Some(2), "{checked:?}");
    let said = format!("{checked:?}");
    assert!(said.contains("sources.\\\"Addon\\\""), "{said}");
    assert_no_source_secret("config check", &said);

    // Without the broken SQL source the service runs; the API echoes the token in a 500.
    let mut document: Value =
        serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    // Add-ons come from the same API through a password login (its token endpoint fails).
    document["sources"]["Addon"] = json!({"kind": "http", "base_url": application,
        "url": "{base_url}/addons/{id}/", "user": "sync-bot", "password": LOGIN_PASSWORD,
        "token_url": "{base_url}/token/", "token_retry_seconds": 0.1});
    std::fs::write(&config, document.to_string()).unwrap();
    let migrated = Command::new(OUTSYNC)
        .args(["migrate", "--config", &config])
        .output()
        .unwrap();
    assert!(migrated.status.success(), "{migrated:?}");
    let log = dir.join("serve.log");
    let (served, api) = super::start_serving_child(
        Command::new(OUTSYNC)
            .args(["serve", "--config", &config, "--listen", "127.0.0.1:0"])
            .env("OUTSYNC_API_TOKEN", TOKEN)
            .env("OUTSYNC_LOG", "debug"),
        Some(&log),
    );
    let _processes = Processes(vec![served]);
    changed(&api, "UserProfile", "3").await;
    changed(&api, "Addon", "8").await;
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        async move {
            http.get(path)
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    for (path, recorded) in [
        ("/api/objects/UserProfile/3", "failed (HTTP 500)"),
        ("/api/objects/Addon/8", "token endpoint"),
    ] {
        let started = Instant::now();
        let object = loop {
            let object = get(format!("{api}{path}")).await;
            if object.contains(recorded) {
                break object;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no run recorded: {object}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_no_source_secret(path, &object);
    }
    // The run records keep the API's answer as the error's details: redacted, not dropped.
    let queue_db = outsync_queue::sea_orm::Database::connect(&database)
        .await
        .unwrap();
    use outsync_queue::sea_orm::ConnectionTrait;
    let details: Vec<String> = queue_db
        .query_all_raw(outsync_queue::sea_orm::Statement::from_string(
            queue_db.get_database_backend(),
            "SELECT error_detail FROM sync_run WHERE error_detail IS NOT NULL",
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String>("", "error_detail").unwrap())
        .collect();
    assert!(
        details.iter().any(|d| d.contains("you sent Bearer ***")),
        "{details:?}"
    );
    assert_no_source_secret("the run records", &details.join("\n"));
    assert_no_source_secret("the jobs", &get(format!("{api}/api/jobs")).await);
    assert_no_source_secret("synlast", &get(format!("{api}/api/synlast")).await);
    let status = Command::new(OUTSYNC)
        .args(["status", "--config", &config])
        .output()
        .unwrap();
    assert_no_source_secret("outsync status", &format!("{status:?}"));
    let login = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = login
        .post(format!("{api}/dashboard/login"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    let cookie = answer.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    for path in [
        "/dashboard",
        "/dashboard/problems",
        "/dashboard/objects/UserProfile/3",
    ] {
        let page = super::dashboard::page_text(&login, &format!("{api}{path}"), &cookie).await;
        assert_no_source_secret(path, &page);
    }
    drop(_processes);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("failed (HTTP 500)"),
        "the log tells of the failure: {logged}"
    );
    assert_no_source_secret("the service's log", &logged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_less_enqueue_merged_into_a_pending_job_sends_the_newest_state() {
    let app = FakeApp::start().await;
    app.set_user("2", user(2, "Old name"));
    let basket = FakeBasket::start(BASKET_KEY).await.unwrap();
    let sources = json!({"UserProfile": {"kind": "http", "base_url": app.base_url,
                                         "url": "{base_url}/users/{id}/", "pointer": "/data"}});
    let label = "e2e-merged";
    let database = format!(
        "sqlite://{}?mode=rwc",
        temp_dir(label).join("q.db").display()
    );
    let config = configure(label, &database, &basket.base_url, &sources);
    let config = config.as_str();
    let enqueue = |extra: &[&str]| {
        let mut args = vec![
            "enqueue",
            "--config",
            config,
            "--provider",
            "basket",
            "--type",
            "UserProfile",
            "--id",
            "2",
        ];
        args.extend_from_slice(extra);
        let output = Command::new(OUTSYNC).args(&args).output().unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    // The application sent a snapshot once, then only said "user 2 changed".
    enqueue(&["--snapshot", &user(2, "Old name").to_string()]);
    let merged = enqueue(&[]);
    assert!(merged.contains("merged into the pending job"), "{merged}");
    app.set_user("2", user(2, "Newest name"));
    let (_, _processes, _) = start_service(label, &database, &basket.base_url, &sources, 0);
    let users = received(&basket, "/amo-sync/userprofile/", 1).await;
    assert_eq!(users[0]["display_name"], "Newest name", "{}", users[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soukosyncs_environment_names_are_honoured() {
    let app = FakeApp::start().await;
    app.accept_token("soukosync-static-token-4d1e");
    app.set_user("4", user(4, "Katherine"));
    let basket = FakeBasket::start(BASKET_KEY).await.unwrap();
    // No credentials in the file: API_TOKEN is the source's token.
    let sources = json!({"UserProfile": {"kind": "http", "base_url": app.base_url,
                                         "url": "{base_url}/users/{id}/", "pointer": "/data"}});
    let label = "soukosync-names";
    let database = format!(
        "sqlite://{}?mode=rwc",
        temp_dir(label).join("q.db").display()
    );
    let config = configure(label, &database, &basket.base_url, &sources);
    let served = Command::new(OUTSYNC)
        .args(["serve", "--config", &config, "--listen", "127.0.0.1:0"])
        .env("OUTSYNC_API_TOKEN", TOKEN)
        .env("API_TOKEN", "soukosync-static-token-4d1e")
        .env("INTERVAL_SCHEDULER_SECONDS", "abc")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // INTERVAL_SCHEDULER_SECONDS is read (and checked) like OUTSYNC_SCHEDULER_INTERVAL.
    let refused = served.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{said}");
    assert!(said.contains("INTERVAL_SCHEDULER_SECONDS"), "{said}");
    let (served, base) = super::start_serving_child(
        Command::new(OUTSYNC)
            .args(["serve", "--config", &config, "--listen", "127.0.0.1:0"])
            .env("OUTSYNC_API_TOKEN", TOKEN)
            .env("API_TOKEN", "soukosync-static-token-4d1e")
            .env("INTERVAL_SCHEDULER_SECONDS", "1"),
        None,
    );
    let _processes = Processes(vec![served]);
    changed(&base, "UserProfile", "4").await;
    let users = received(&basket, "/amo-sync/userprofile/", 1).await;
    assert_eq!(users[0]["display_name"], "Katherine", "{}", users[0]);
}

#[test]
fn config_check_names_related_objects_no_source_could_load() {
    let dir = temp_dir("related-unloadable");
    let config = dir.join("outsync.json");
    let database = format!("sqlite://{}", dir.join("q.db").display());
    let document = json!({"database_url": database, "schema": "basket",
        "providers": {"basket": {"base_url": "http://127.0.0.1:9", "api_key": BASKET_KEY}},
        "sources": {"UserProfile": {"kind": "http", "url": "http://127.0.0.1:9/users/{id}/",
            "related": {"Addon": {"url": "http://127.0.0.1:9/users/{id}/addons/"}}}}});
    std::fs::write(&config, document.to_string()).unwrap();
    let check = |config: &std::path::Path| {
        Command::new(OUTSYNC)
            .args(["config", "--config", config.to_str().unwrap(), "check"])
            .output()
            .unwrap()
    };
    let output = check(&config);
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(
        said.contains(
            "sources.\"UserProfile\": related Addon of provider \"basket\" could not be loaded"
        ),
        "{said}"
    );
    // With a source for add-ons, the same configuration is valid.
    let mut fixed = document.clone();
    fixed["sources"]["Addon"] = json!({"kind": "http", "url": "http://127.0.0.1:9/addons/{id}/"});
    std::fs::write(&config, fixed.to_string()).unwrap();
    let output = check(&config);
    assert!(output.status.success(), "{output:?}");
}
