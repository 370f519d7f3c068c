//! The commands on their own: the demo, mapping checks, enqueue, sync, status, jobs and preview.

use super::{run, temp_dir, text};

#[cfg(feature = "demo")]
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

/// A production build carries no fake Basket: `outsync demo` says how to get one.
#[cfg(not(feature = "demo"))]
#[test]
fn without_the_demo_feature_the_demo_explains_itself() {
    let output = run(&["demo"]);
    let printed = text(&output);
    assert_eq!(output.status.code(), Some(2), "{printed}");
    assert!(printed.contains("built without the demo"), "{printed}");
    assert!(printed.contains("--features demo"), "{printed}");
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

#[test]
fn the_config_option_may_come_before_or_after_the_subcommand() {
    let dir = temp_dir("config-anywhere");
    let config = dir.join("outsync.json");
    let database = format!("sqlite://{}", dir.join("q.db").display());
    std::fs::write(
        &config,
        serde_json::json!({"database_url": database, "schema": "basket",
            "providers": {"basket": {"base_url": "http://127.0.0.1:9", "api_key": "k"}}})
        .to_string(),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    assert!(run(&["migrate", "--config", config]).status.success());
    for args in [
        ["jobs", "--config", config, "list"],
        ["jobs", "list", "--config", config],
        ["config", "check", "--config", config],
    ] {
        let output = run(&args);
        assert!(output.status.success(), "{args:?}: {}", text(&output));
    }
    let preview = run(&[
        "mapping",
        "preview",
        "--provider",
        "basket",
        "--type",
        "UserProfile",
        "--object",
        r#"{"id": 1, "email": "a@example.org"}"#,
        "--config",
        config,
    ]);
    assert!(preview.status.success(), "{}", text(&preview));
    assert!(
        text(&preview).contains("a@example.org"),
        "{}",
        text(&preview)
    );
}
