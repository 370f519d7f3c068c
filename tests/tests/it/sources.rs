//! Object sources: HTTP (against a fake application API) and SQL (against an application
//! database on SQLite and PostgreSQL), each failure class, and the worker loading through
//! them (coalescing, "prefer source", objects that are gone).

use crate::queue_support::test_config;
use outsync_basket::basket_schema;
use outsync_core::{ObjectRef, ObjectSource, SyncError};
use outsync_queue::{EnqueueOptions, Queue, RunOutcome, Worker};
use outsync_sources::Sources;
use outsync_tests::backend_test;
use outsync_tests::fake_app::{AppMode, FakeApp};
use outsync_tests::scripted::{ScriptedProvider, record_schema};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

fn user(id: u64, name: &str) -> Value {
    json!({"id": id, "deleted": false, "display_name": name, "email": format!("u{id}@example.org"),
           "homepage": "", "last_login": "2026-11-01T10:00:00Z", "location": "Berlin"})
}

async fn http_sources(app: &FakeApp, extra: Value) -> Sources {
    let mut users = json!({"kind": "http", "base_url": app.base_url, "url": "{base_url}/users/{id}/",
                           "pointer": "/data", "timeout_seconds": 0.5,
                           "related": {"Addon": {"url": "{base_url}/users/{id}/addons/", "pointer": "/ids"}}});
    if let (Value::Object(users), Value::Object(extra)) = (&mut users, extra) {
        users.extend(extra);
    }
    let section = json!({"UserProfile": users,
                         "Addon": {"kind": "http", "base_url": app.base_url, "url": "{base_url}/addons/{id}/", "pointer": "/data"}});
    Sources::open(&section, Arc::new(basket_schema().unwrap()))
        .await
        .unwrap()
}

fn user_ref(id: &str) -> ObjectRef {
    ObjectRef::new("UserProfile", id)
}

#[tokio::test]
async fn an_http_source_loads_checks_the_id_and_classifies_every_answer() {
    let app = FakeApp::start().await;
    app.set_user("1", user(1, "Ada"));
    app.set_user("5", user(6, "Wrong"));
    app.set_addon("30", json!({"id": 30, "name": "Tabs"}), &["1"]);
    let sources = http_sources(&app, json!({})).await;

    let loaded = sources.load_for("basket", &user_ref("1")).await.unwrap();
    assert_eq!(loaded, Some(user(1, "Ada")));
    let addon = sources
        .load_for("basket", &ObjectRef::new("Addon", "30"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(addon["authors"][0]["display_name"], "Ada", "{addon}");
    assert_eq!(
        sources.related("basket", &user_ref("1")).await.unwrap(),
        [ObjectRef::new("Addon", "30")]
    );

    app.remove_user("1");
    assert_eq!(
        sources.load_for("basket", &user_ref("1")).await.unwrap(),
        None,
        "404: gone"
    );
    assert_eq!(
        sources
            .load_for("basket", &ObjectRef::new("Addon", "31"))
            .await
            .unwrap(),
        None,
        "410: gone"
    );
    let wrong = sources
        .load_for("basket", &user_ref("5"))
        .await
        .unwrap_err();
    assert!(matches!(wrong, SyncError::Permanent { .. }), "{wrong:?}");
    assert!(wrong.to_string().contains("id \"6\""), "{wrong}");

    app.set_user("1", user(1, "Ada"));
    let one = user_ref("1");
    let fails = |mode| {
        app.set_mode(mode);
        sources.load_for("basket", &one)
    };
    let error = fails(AppMode::Status(500)).await.unwrap_err();
    assert!(matches!(error, SyncError::Recoverable { .. }) && !error.is_target_unavailable());
    let error = fails(AppMode::Status(503)).await.unwrap_err();
    assert!(error.is_target_unavailable(), "503 snoozes: {error:?}");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
    let error = fails(AppMode::Status(429)).await.unwrap_err();
    assert!(matches!(error, SyncError::Recoverable { .. }));
    assert_eq!(
        error.retry_after(),
        Some(Duration::from_secs(7)),
        "429 waits"
    );
    let error = fails(AppMode::Status(400)).await.unwrap_err();
    assert!(matches!(error, SyncError::Permanent { .. }), "{error:?}");
    let error = fails(AppMode::Status(401)).await.unwrap_err();
    assert!(matches!(error, SyncError::Config { .. }), "{error:?}");
    let error = fails(AppMode::Slow(Duration::from_secs(2)))
        .await
        .unwrap_err();
    assert!(
        matches!(error, SyncError::Recoverable { .. }),
        "timeout: {error:?}"
    );
    assert!(
        error.to_string().contains("did not answer in time"),
        "{error}"
    );
    app.set_mode(AppMode::Normal);

    let closed = FakeApp::start().await;
    let down = http_sources(&closed, json!({"base_url": "http://127.0.0.1:9/api"})).await;
    let error = down.load_for("basket", &user_ref("1")).await.unwrap_err();
    assert!(
        error.is_target_unavailable(),
        "no connection snoozes: {error:?}"
    );
}

#[tokio::test]
async fn a_password_is_exchanged_for_a_token_renewed_after_a_401_and_never_shown() {
    let app = FakeApp::start().await;
    app.set_user("1", user(1, "Ada"));
    app.require_login("sync-bot", "app-password-5f2c");
    let auth = json!({"user": "sync-bot", "password": "app-password-5f2c",
                      "token_url": "{base_url}/token/"});
    let sources = http_sources(&app, auth).await;
    assert!(
        sources
            .load_for("basket", &user_ref("1"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        sources
            .load_for("basket", &user_ref("1"))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(app.tokens_issued(), 1, "the token is reused");
    app.expire_tokens();
    assert!(
        sources
            .load_for("basket", &user_ref("1"))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(app.tokens_issued(), 2, "renewed once after the 401");

    let wrong = json!({"user": "sync-bot", "password": "not-the-password-9a",
                       "token_url": "{base_url}/token/"});
    let refused = http_sources(&app, wrong).await;
    let error = refused
        .load_for("basket", &user_ref("1"))
        .await
        .unwrap_err();
    assert!(matches!(error, SyncError::Config { .. }), "{error:?}");
    assert!(
        error.to_string().contains("refused user \"sync-bot\""),
        "the user is named, not redacted: {error}"
    );
    let shown = format!("{error} {error:?} {:?} {refused:?}", error.full_message());
    assert!(!shown.contains("not-the-password-9a"), "{shown}");
    assert!(!shown.contains("issued-token-"), "{shown}");

    // A static token cannot be renewed: a 401 is answered once, not asked again.
    let fixed = http_sources(&app, json!({"token": "never-issued-token-2b"})).await;
    let before = app.gets();
    let error = fixed.load_for("basket", &user_ref("1")).await.unwrap_err();
    assert!(matches!(error, SyncError::Config { .. }), "{error:?}");
    assert_eq!(app.gets() - before, 1, "one request with a static token");
}

#[tokio::test]
async fn source_settings_are_checked_and_name_the_key() {
    let schema = Arc::new(basket_schema().unwrap());
    let problem = |section: Value| {
        let schema = schema.clone();
        async move {
            Sources::open(&section, schema)
                .await
                .unwrap_err()
                .messages()[0]
                .clone()
        }
    };
    assert_eq!(
        problem(json!({"UserProfile": {"kind": "ftp"}})).await,
        "sources.\"UserProfile\".kind \"ftp\" is not one of snapshot, http, sql"
    );
    assert_eq!(
        problem(json!({"UserProfile": {"kind": "http", "url": "http://app/users/"}})).await,
        "sources.\"UserProfile\".url must contain {id}"
    );
    assert_eq!(
        problem(json!({"Order": {"kind": "snapshot"}})).await,
        "sources.\"Order\": the schema has no model \"Order\""
    );
    assert_eq!(
        problem(
            json!({"UserProfile": {"kind": "sql", "database_url": "sqlite::memory:",
                                        "query": "DELETE FROM users WHERE id = $1"}})
        )
        .await,
        "sources.\"UserProfile\".query must be a SELECT (or WITH … SELECT) query: sources only read"
    );
    assert_eq!(
        problem(json!({"UserProfile": {"kind": "http", "url": "http://a/{id}", "colour": 1}}))
            .await,
        "unknown key \"colour\" in sources.\"UserProfile\" (known keys: kind, prefer, related, url, base_url, pointer, headers, timeout_seconds, token, token_env, token_file, user, user_env, password, password_env, token_url, password_file, token_retry_seconds)"
    );
}

/// An application database beside the queue, with orders and their positions.
async fn application_db(t: &outsync_tests::db::TestDb) -> String {
    let (setup_url, source_url) = match t.backend {
        outsync_tests::db::Backend::Sqlite => {
            let file = outsync_tests::db::temp_dir("app").join("app.db");
            (
                format!("sqlite://{}?mode=rwc", file.display()),
                format!("sqlite://{}", file.display()),
            )
        }
        outsync_tests::db::Backend::Postgres => (t.url.clone(), t.url.clone()),
    };
    let db = sea_orm::Database::connect(&setup_url).await.unwrap();
    for statement in [
        "CREATE TABLE app_orders (code TEXT PRIMARY KEY, email TEXT, status TEXT, total REAL)",
        "CREATE TABLE app_positions (id INTEGER PRIMARY KEY, order_code TEXT, attendee_name TEXT, attendee_email TEXT)",
        "INSERT INTO app_orders VALUES ('A1', 'buyer@example.org', 'p', 23.5), ('B2', 'b@example.org', 'n', 10)",
        "INSERT INTO app_positions VALUES (1, 'A1', 'Ada', 'ada@example.org'), (2, 'A1', 'Grace', 'grace@example.org')",
    ] {
        db.execute_unprepared(statement).await.unwrap();
    }
    db.close().await.ok();
    source_url
}

backend_test! {
    async fn a_sql_source_reads_rows_and_children_read_only(t) {
        let url = application_db(&t).await;
        let section = json!({"Order": {"kind": "sql", "database_url": url,
            "query": "SELECT code, email, status, total FROM app_orders WHERE code = $1",
            "children": {"OrderPosition": "SELECT id AS positionid, attendee_name, attendee_email FROM app_positions WHERE order_code = $1 ORDER BY id"},
            "related": {"Order": {"query": "SELECT code FROM app_orders WHERE email = (SELECT email FROM app_orders WHERE code = $1)"}}}});
        let schema = Arc::new(outsync_tests::schema::pretix_schema());
        let sources = Sources::open(&section, schema.clone()).await.unwrap();
        sources.check().await.unwrap();
        let order = sources
            .load_for("p", &ObjectRef::new("Order", "A1"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(order["email"], "buyer@example.org");
        assert_eq!(order["total"], 23.5);
        assert_eq!(order["positions"][1]["attendee_name"], "Grace", "{order}");
        assert_eq!(order["positions"].as_array().unwrap().len(), 2);
        let none = sources.load_for("p", &ObjectRef::new("Order", "ZZ")).await.unwrap();
        assert_eq!(none, None, "no row: the object is gone");
        assert_eq!(
            sources.related("p", &ObjectRef::new("Order", "A1")).await.unwrap(),
            [ObjectRef::new("Order", "A1")]
        );

        let broken = json!({"Order": {"kind": "sql", "database_url": url,
            "query": "SELECT code FROM app_orders WHERE code = $1",
            "children": {"OrderPosition": "SELECT * FROM no_such_table WHERE order_code = $1"}}});
        let broken = Sources::open(&broken, schema.clone()).await.unwrap();
        let error = broken.check().await.unwrap_err().messages()[0].clone();
        assert!(
            error.starts_with("sources.\"Order\".children.\"OrderPosition\" does not run:"),
            "{error}"
        );
        // The connection only reads: a writing statement hidden in a CTE fails.
        let sneaky = json!({"Order": {"kind": "sql", "database_url": url,
            "query": "WITH gone AS (DELETE FROM app_orders WHERE code = $1 RETURNING code) SELECT code FROM gone"}});
        let sneaky = Sources::open(&sneaky, schema).await.unwrap();
        assert!(sneaky.load_for("p", &ObjectRef::new("Order", "B2")).await.is_err());
        let still_there = sources.load_for("p", &ObjectRef::new("Order", "B2")).await.unwrap();
        assert!(still_there.is_some(), "nothing was deleted");
    }
}

backend_test! {
    async fn the_worker_loads_the_newest_state_for_snapshot_less_and_merged_jobs(t) {
        let app = FakeApp::start().await;
        app.set_user("1", json!({"code": "1", "version": 1}));
        let section = json!({"Order": {"kind": "http", "base_url": app.base_url,
                                        "url": "{base_url}/users/{id}/", "pointer": "/data"}});
        let sources = Sources::open(&section, Arc::new(record_schema())).await.unwrap();
        let provider = Arc::new(ScriptedProvider::new("scripted"));
        let queue = Queue::for_providers(&[provider.configured()]);
        let worker = Worker::new(t.db.clone(), queue.clone(), vec![provider.configured()], test_config())
            .with_source(Arc::new(sources));
        let order = ObjectRef::new("Order", "1");
        let with_snapshot = EnqueueOptions {
            snapshot: Some(json!({"code": "1", "version": 0})),
            ..EnqueueOptions::default()
        };
        queue.enqueue(&t.db, "scripted", &order, "app", with_snapshot).await.unwrap();
        // "Order 1 changed", without data: merged into the pending job.
        queue.enqueue(&t.db, "scripted", &order, "app", EnqueueOptions::default()).await.unwrap();
        app.set_user("1", json!({"code": "1", "version": 3}));
        let summary = worker.drain().await.unwrap();
        assert_eq!(summary.count(RunOutcome::Success), 1, "{summary:?}");
        assert_eq!(
            provider.calls(),
            [("1".to_owned(), json!({"code": "1", "version": 3}))],
            "the newest state"
        );

        app.remove_user("1");
        queue.enqueue(&t.db, "scripted", &order, "app", EnqueueOptions::default()).await.unwrap();
        let summary = worker.drain().await.unwrap();
        assert_eq!(summary.count(RunOutcome::ObjectMissing), 1, "{summary:?}");
    }
}

#[tokio::test]
async fn prefer_source_loads_even_when_the_job_carries_a_snapshot() {
    let app = FakeApp::start().await;
    app.set_user("1", json!({"code": "1", "version": 9}));
    let section = json!({"scripted/Order": {"kind": "http", "base_url": app.base_url, "prefer": "source",
                                            "url": "{base_url}/users/{id}/", "pointer": "/data"},
                         "*": {"kind": "snapshot"}});
    let sources = Sources::open(&section, Arc::new(record_schema()))
        .await
        .unwrap();
    assert!(sources.preferred_over_snapshot("scripted", "Order"));
    assert!(!sources.preferred_over_snapshot("other", "Order"));
    let error = sources
        .load_for("other", &ObjectRef::new("Order", "1"))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("sources.\"*\" is \"snapshot\""),
        "{error}"
    );
    let t = outsync_tests::db::fresh(outsync_tests::db::Backend::Sqlite).await;
    let provider = Arc::new(ScriptedProvider::new("scripted"));
    let queue = Queue::for_providers(&[provider.configured()]);
    let worker = Worker::new(
        t.db.clone(),
        queue.clone(),
        vec![provider.configured()],
        test_config(),
    )
    .with_source(Arc::new(sources));
    let stale = EnqueueOptions {
        snapshot: Some(json!({"code": "1", "version": 1})),
        ..EnqueueOptions::default()
    };
    let order = ObjectRef::new("Order", "1");
    queue
        .enqueue(&t.db, "scripted", &order, "app", stale)
        .await
        .unwrap();
    worker.drain().await.unwrap();
    assert_eq!(
        provider.calls(),
        [("1".to_owned(), json!({"code": "1", "version": 9}))]
    );
}

backend_test! {
    async fn each_answer_of_an_http_source_ends_the_job_as_it_should(t) {
        let app = FakeApp::start().await;
        let section = json!({"Order": {"kind": "http", "base_url": app.base_url, "timeout_seconds": 0.5,
                                       "url": "{base_url}/users/{id}/", "pointer": "/data"}});
        let sources = Arc::new(Sources::open(&section, Arc::new(record_schema())).await.unwrap());
        let provider = Arc::new(ScriptedProvider::new("scripted"));
        let queue = Queue::for_providers(&[provider.configured()]);
        let worker = Worker::new(t.db.clone(), queue.clone(), vec![provider.configured()], test_config())
            .with_source(sources);
        let cases = [
            (AppMode::Status(503), RunOutcome::Snoozed),
            (AppMode::Status(429), RunOutcome::Snoozed),
            (AppMode::Status(500), RunOutcome::Retry),
            (AppMode::Slow(Duration::from_secs(2)), RunOutcome::Retry),
            (AppMode::Status(401), RunOutcome::Failed(outsync_queue::FailureMode::Config)),
            (AppMode::Status(400), RunOutcome::Failed(outsync_queue::FailureMode::Permanent)),
            (AppMode::Status(404), RunOutcome::ObjectMissing),
            (AppMode::Normal, RunOutcome::Success),
        ];
        for (index, (mode, expected)) in cases.into_iter().enumerate() {
            let id = index.to_string();
            app.set_user(&id, json!({"code": id, "version": index}));
            app.set_mode(mode);
            let order = ObjectRef::new("Order", id.clone());
            queue.enqueue(&t.db, "scripted", &order, "app", EnqueueOptions::default()).await.unwrap();
            let summary = worker.drain().await.unwrap();
            assert_eq!(summary.count(expected), 1, "{mode:?}: {summary:?}");
        }
        assert_eq!(provider.calls().len(), 1, "only the good answer reached the provider");
    }
}
