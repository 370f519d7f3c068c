//! Safe to operate: a typo, a bad input or a restart never loses or strands work.

use super::stopping::terminate;
use super::{OUTSYNC, run, temp_dir, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `outsync` with extra environment variables.
pub(super) fn run_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(OUTSYNC);
    command.args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run outsync")
}

/// A directory with `outsync.json` holding `document`; returns the config path and the
/// SQLite database file it names.
pub(super) fn config_dir(
    label: &str,
    document: impl FnOnce(&str) -> serde_json::Value,
) -> (String, PathBuf) {
    let dir = temp_dir(label);
    let file = dir.join("q.db");
    let database = format!("sqlite://{}", file.display());
    let config = dir.join("outsync.json");
    std::fs::write(&config, document(&database).to_string()).unwrap();
    (config.to_str().unwrap().to_owned(), file)
}

/// The URL of an SQLite file in a directory of its own.
pub(super) fn sqlite_url(label: &str) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        temp_dir(label).join("q.db").display()
    )
}

pub(super) fn basket_config(label: &str, base_url: &str) -> (String, PathBuf) {
    let base_url = base_url.to_owned();
    config_dir(label, move |database| {
        serde_json::json!({"database_url": database, "schema": "basket",
            "providers": {"basket": {"base_url": base_url, "api_key": "k", "timeout_seconds": 1}}})
    })
}

pub(super) fn user_line(id: u32) -> String {
    format!(
        "{{\"provider\": \"basket\", \"object_type\": \"UserProfile\", \"object_id\": {id}, \
         \"snapshot\": {{\"id\": {id}, \"email\": \"u{id}@example.org\"}}}}\n"
    )
}

/// Enqueues users `1..=count` from a file.
pub(super) fn enqueue_users(config: &str, count: u32) {
    let file = Path::new(config).with_file_name("users.jsonl");
    std::fs::write(&file, (1..=count).map(user_line).collect::<String>()).unwrap();
    let output = run(&[
        "enqueue",
        "--config",
        config,
        "--file",
        file.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output));
}

/// The job ids and states `outsync jobs list` shows.
pub(super) fn job_rows(config: &str) -> Vec<String> {
    let output = run(&["jobs", "--config", config, "list"]);
    assert!(output.status.success(), "{}", text(&output));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .skip(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_config_typo_is_an_error_naming_the_key_and_loses_nothing() {
    let (good, _) = basket_config("typo", "http://127.0.0.1:9");
    assert!(run(&["migrate", "--config", &good]).status.success());
    enqueue_users(&good, 51);
    let database =
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&good).unwrap())
            .unwrap()["database_url"]
            .clone();
    let dir = Path::new(&good).parent().unwrap().to_owned();
    for (document, key, place, meant) in [
        (
            serde_json::json!({"database_url": database, "schema": "basket",
                "provider": {"basket": {"base_url": "http://127.0.0.1:9", "api_key": "k"}}}),
            "provider",
            "the top level",
            "providers",
        ),
        (
            serde_json::json!({"databse_url": database, "schema": "basket", "providers": {}}),
            "databse_url",
            "the top level",
            "database_url",
        ),
        (
            serde_json::json!({"database_url": database, "schema": "basket",
                "providers": {"basket": {"base_url": "http://127.0.0.1:9", "api_key": "k",
                    "timeout_secnds": 3}}}),
            "timeout_secnds",
            "\"providers.basket\"",
            "timeout_seconds",
        ),
        (
            serde_json::json!({"database_url": database, "schema": "basket",
                "providers": {"basket": {"base_url": "http://127.0.0.1:9", "api_key": "k"}},
                "worker": {"concurency": 3}}),
            "concurency",
            "\"worker\"",
            "concurrency",
        ),
        (
            serde_json::json!({"database_url": database, "schema": "basket",
                "providers": {"basket": {"base_url": "http://127.0.0.1:9", "api_key": "k",
                    "mappings": [{"id": "users", "source_model": "UserProfile",
                        "external_object_type": "user", "source_id_field": "user_id",
                        "external_id_field": "fxa_id", "property_mappings": [
                            {"source_field": "user_email", "external_field": "email",
                             "mdoe": "overwrite"}]}]}}}),
            "mdoe",
            "mapping users, entry 1",
            "mode",
        ),
        (
            serde_json::json!({"database_url": database, "schema": "basket",
                "providers": {"basket": {"base_url": "http://127.0.0.1:9", "api_key": "k"}},
                "sources": {"UserProfile": {"kind": "http", "url": "http://127.0.0.1:9/u/{id}",
                    "pointr": "/data"}}}),
            "pointr",
            "sources.\"UserProfile\"",
            "pointer",
        ),
    ] {
        let config = dir.join(format!("{key}.json"));
        std::fs::write(&config, document.to_string()).unwrap();
        let config = config.to_str().unwrap();
        for command in [
            &["sync", "--config", config][..],
            &["worker", "--config", config],
            &["config", "--config", config, "check"],
        ] {
            let output = run(command);
            let printed = text(&output);
            assert_eq!(output.status.code(), Some(2), "{command:?}: {printed}");
            // Mapping problems name the mapping, the entry and the key; the others say
            // `unknown key "…" in <place>`.
            let named = printed.contains(&format!("unknown key \"{key}\" in {place}"))
                || printed.contains(&format!("{place}, field \"{key}\": unknown key"));
            assert!(
                named && printed.contains(&format!("did you mean \"{meant}\"?")),
                "{command:?}: {printed}"
            );
            assert!(!printed.contains("is valid"), "{command:?}: {printed}");
        }
    }
    assert_eq!(job_rows(&good).len(), 51, "nothing was deleted");
    let output = run(&["config", "--config", &good, "check"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("provider basket: 2 mapping(s)"),
        "{}",
        text(&output)
    );
}

#[test]
fn environment_overrides_that_do_not_parse_are_errors() {
    let (config, _) = basket_config("env", "http://127.0.0.1:9");
    for (variable, value) in [
        ("OUTSYNC_SCHEDULER_INTERVAL", "abc"),
        ("OUTSYNC_CONCURRENCY", "0"),
        ("OUTSYNC_LEASE_SECONDS", "soon"),
        ("OUTSYNC_UNKNOWN_PROVIDERS", "delete"),
        ("OUTSYNC_DATABASE_POOL_SIZE", "-1"),
        // A misspelt level would be a target's name to tracing: nothing would be logged.
        ("OUTSYNC_LOG", "debgu"),
        ("OUTSYNC_LOG", "debug,,=x["),
    ] {
        let output = run_env(
            &["config", "--config", &config, "check"],
            &[(variable, value)],
        );
        let printed = text(&output);
        assert_eq!(output.status.code(), Some(2), "{variable}: {printed}");
        assert!(
            printed.contains(&format!("environment variable {variable}"))
                && printed.contains(value),
            "{variable}: {printed}"
        );
    }
}

#[test]
fn a_missing_sqlite_file_is_created_only_by_migrate_or_create() {
    let (config, file) = basket_config("create", "http://127.0.0.1:9");
    for command in [
        &["status", "--config", &config][..],
        &["sync", "--config", &config],
        &["jobs", "--config", &config, "list"],
        &["config", "--config", &config, "check"],
        &[
            "enqueue",
            "--config",
            &config,
            "--provider",
            "basket",
            "--type",
            "UserProfile",
            "--id",
            "1",
        ],
    ] {
        let output = run(command);
        assert!(
            !file.exists(),
            "{command:?} created the database: {}",
            text(&output)
        );
        if command[0] != "config" {
            assert!(
                text(&output).contains(
                    "does not exist: create it with `outsync migrate` (or pass --create)"
                ),
                "{command:?}: {}",
                text(&output)
            );
        }
    }
    assert!(
        run(&["status", "--create", "--config", &config])
            .status
            .success()
    );
    assert!(file.exists());
}

#[test]
fn jobs_purge_removes_a_providers_jobs_only_when_confirmed() {
    let (config, _) = basket_config("purge", "http://127.0.0.1:9");
    assert!(run(&["migrate", "--config", &config]).status.success());
    enqueue_users(&config, 12);
    let output = run(&["jobs", "--config", &config, "purge", "--provider", "basket"]);
    assert!(
        text(&output).contains("12 job(s) of provider \"basket\" would be removed"),
        "{}",
        text(&output)
    );
    assert_eq!(job_rows(&config).len(), 12);
    let output = run(&[
        "jobs",
        "--config",
        &config,
        "purge",
        "--provider",
        "basket",
        "--yes",
    ]);
    assert!(
        text(&output).contains("removed 12 job(s)"),
        "{}",
        text(&output)
    );
    assert!(job_rows(&config).is_empty());
    let output = run(&["status", "--config", &config]);
    assert!(
        text(&output).contains("dropped"),
        "each purge is recorded: {}",
        text(&output)
    );
}

#[test]
fn the_database_password_never_appears_in_any_output() {
    let (config, _) = basket_config("password", "http://127.0.0.1:9");
    for url in [
        "postgres://u:Secret@127.0.0.1:99999/db",
        "postgres://u:Secret@?host=/x",
        "postgres://u:Secret@[::1/db",
        "postgres://u:Secret@127.0.0.1:1/db?sslmode=bogus&x=%zz",
        "postgres://u:Sec/ret@127.0.0.1:1/db",
    ] {
        for command in [
            &["migrate", "--config", &config][..],
            &["status", "--config", &config],
        ] {
            let output = run_env(
                command,
                &[("OUTSYNC_DATABASE_URL", url), ("OUTSYNC_LOG", "trace")],
            );
            let printed = text(&output);
            assert!(!output.status.success(), "{url}: {printed}");
            assert!(
                !printed.contains("Secret") && !printed.contains("Sec/ret"),
                "{url}: {printed}"
            );
            assert!(
                printed.contains("cannot connect to the queue database"),
                "{url}: {printed}"
            );
        }
    }
}

#[test]
fn an_unreachable_postgres_is_named_within_seconds() {
    let (config, _) = basket_config("unreachable", "http://127.0.0.1:9");
    let started = std::time::Instant::now();
    let output = run_env(
        &["status", "--config", &config],
        &[("OUTSYNC_DATABASE_URL", "postgres://u@127.0.0.1:1/db")],
    );
    let printed = text(&output);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert!(printed.contains("PostgreSQL at 127.0.0.1:1"), "{printed}");
}

#[test]
fn sqlite_errors_name_the_file_and_a_read_only_file_can_be_read() {
    let (config, file) = basket_config("sqlite", "http://127.0.0.1:9");
    assert!(run(&["migrate", "--config", &config]).status.success());
    enqueue_users(&config, 3);
    // Another user, who may read but not write the file and its folder.
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args([
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                OUTSYNC,
            ])
            .args(args)
            .output()
            .expect("setpriv")
    };
    let output = as_nobody(&["status", "--config", &config]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("queue (3 jobs)"),
        "{}",
        text(&output)
    );
    let output = as_nobody(&["jobs", "--config", &config, "list"]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).lines().count(),
        5,
        "a header, a rule and 3 jobs: {}",
        text(&output)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        "3 of 3 job(s)"
    );
    // Writing is refused, and the error names the file.
    let output = as_nobody(&["jobs", "--config", &config, "cancel", "1"]);
    assert!(!output.status.success());
    assert!(
        text(&output).contains(&file.display().to_string()),
        "{}",
        text(&output)
    );
    // A file that is no database.
    std::fs::write(&file, "not a database").unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    let output = run(&["status", "--config", &config]);
    assert!(!output.status.success());
    assert!(
        text(&output).contains(&file.display().to_string()),
        "{}",
        text(&output)
    );
}

#[test]
fn status_into_a_closed_pipe_ends_quietly() {
    let (config, _) = basket_config("pipe", "http://127.0.0.1:9");
    assert!(run(&["migrate", "--config", &config]).status.success());
    let mut child = Command::new(OUTSYNC)
        .args(["status", "--config", &config])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Like `outsync status | head -0`: the reader is gone before anything is written.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_exits_non_zero_when_jobs_stop_and_per_provider_attempts_apply() {
    let fake = outsync_basket::fake::FakeBasket::start("k").await.unwrap();
    let base_url = fake.base_url.clone();
    let (config, _) = config_dir("stopped", move |database| {
        serde_json::json!({"database_url": database, "schema": "basket",
            "providers": {"basket": {"base_url": base_url, "api_key": "k"}},
            "worker": {"providers": {"basket": {"max_attempts": 1}}}})
    });
    assert!(run(&["migrate", "--config", &config]).status.success());
    // Basket refuses a non-numeric user id: a permanent failure.
    for (id, snapshot) in [
        ("abc", "{\"id\": \"abc\", \"email\": \"a@example.org\"}"),
        ("7", "{\"id\": 7, \"email\": \"s@example.org\"}"),
    ] {
        let output = run(&[
            "enqueue",
            "--config",
            &config,
            "--provider",
            "basket",
            "--type",
            "UserProfile",
            "--id",
            id,
            "--snapshot",
            snapshot,
        ]);
        assert!(output.status.success(), "{}", text(&output));
    }
    let config_again = config.clone();
    let output = tokio::task::spawn_blocking(move || run(&["sync", "--config", &config]))
        .await
        .unwrap();
    let printed = text(&output);
    assert_eq!(output.status.code(), Some(1), "{printed}");
    assert!(printed.contains("1 job(s) stopped"), "{printed}");
    assert!(
        printed.contains("success") && printed.contains("permanent"),
        "{printed}"
    );

    // Basket failing with HTTP 500 (recoverable): with `max_attempts: 1` for the provider,
    // the first failure stops the job as `exceeded` (the default of 5 would retry it).
    fake.set_mode(outsync_basket::fake::FakeMode::ServerError);
    let config = config_again;
    let output = run(&[
        "enqueue",
        "--config",
        &config,
        "--provider",
        "basket",
        "--type",
        "UserProfile",
        "--id",
        "8",
        "--snapshot",
        "{\"id\": 8, \"email\": \"e@example.org\"}",
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let output = tokio::task::spawn_blocking(move || run(&["sync", "--config", &config]))
        .await
        .unwrap();
    let printed = text(&output);
    assert_eq!(output.status.code(), Some(1), "{printed}");
    assert!(
        printed.contains("exceeded") && printed.contains("1 job(s) stopped"),
        "{printed}"
    );
}

#[test]
fn worker_settings_come_from_the_file_the_environment_and_the_command_line() {
    let (config, _) = config_dir("settings", |database| {
        serde_json::json!({"database_url": database, "schema": "basket",
            "providers": {"basket": {"base_url": "http://127.0.0.1:9", "api_key": "k"}},
            "worker": {"concurrency": 3, "lease_seconds": 70, "shutdown_grace_seconds": 4}})
    });
    assert!(run(&["migrate", "--config", &config]).status.success());
    let banner = |args: &[&str], env: &[(&str, &str)]| {
        let mut child = Command::new(OUTSYNC)
            .args(args)
            .envs(env.iter().copied())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
        terminate(&child);
        assert!(child.wait().unwrap().success());
        line
    };
    let line = banner(&["worker", "--config", &config], &[]);
    assert!(
        line.contains("concurrency 3, lease 70 s") && line.contains("get 4 s to finish"),
        "{line}"
    );
    let line = banner(
        &["worker", "--config", &config],
        &[("OUTSYNC_CONCURRENCY", "5")],
    );
    assert!(line.contains("concurrency 5,"), "{line}");
    let line = banner(
        &[
            "worker",
            "--config",
            &config,
            "--concurrency",
            "7",
            "--shutdown-grace-seconds",
            "2",
        ],
        &[("OUTSYNC_CONCURRENCY", "5")],
    );
    assert!(
        line.contains("concurrency 7,") && line.contains("get 2 s"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_holds_no_more_postgres_connections_than_its_pool_size() {
    use outsync_queue::sea_orm::{ConnectionTrait, Statement};
    let (basket, accepted) = super::stopping::silent_basket();
    // A name of this test's own, so that other tests' connections are not counted.
    let name = format!("outsync_pool_test_{}", std::process::id());
    let database = format!(
        "{}&application_name={name}",
        super::fresh_postgres_url().await
    );
    let (config, _) = config_dir("pool-size", move |_| {
        serde_json::json!({"database_url": database, "schema": "basket",
            "providers": {"basket": {"base_url": basket, "api_key": "k", "timeout_seconds": 120}}})
    });
    assert!(run(&["migrate", "--config", &config]).status.success());
    enqueue_users(&config, 40);
    let mut worker = Command::new(OUTSYNC)
        .args([
            "worker",
            "--config",
            &config,
            "--concurrency",
            "20",
            "--pool-size",
            "3",
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let server = outsync_queue::sea_orm::Database::connect(outsync_tests::db::postgres_url())
        .await
        .unwrap();
    let count = Statement::from_string(
        server.get_database_backend(),
        format!("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = '{name}'"),
    );
    let waiting = std::time::Instant::now();
    let mut most = 0;
    // While 20 jobs are in flight, and for a second after.
    let mut in_flight_since = None;
    loop {
        let row = server.query_one_raw(count.clone()).await.unwrap().unwrap();
        most = most.max(row.try_get::<i64>("", "n").unwrap());
        if accepted.load(std::sync::atomic::Ordering::SeqCst) >= 20 {
            let since = *in_flight_since.get_or_insert_with(std::time::Instant::now);
            if since.elapsed().as_secs_f64() > 1.0 {
                break;
            }
        }
        assert!(
            waiting.elapsed().as_secs() < 30,
            "the worker never had 20 jobs in flight"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let _ = worker.kill();
    let _ = worker.wait();
    server.close().await.ok();
    // The pool's 3, and the connection that listens for new jobs.
    assert!(
        (1..=4).contains(&most),
        "the worker held {most} connections at once"
    );
}
