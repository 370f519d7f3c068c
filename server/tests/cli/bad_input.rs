//! Bad input refused at the door by `outsync enqueue` and `POST /api/enqueue`, with
//! nothing queued; enqueue files are all or nothing.

use super::safe_operation::{basket_config, config_dir, job_rows, sqlite_url, user_line};
use super::{Api, run, serve_with, text};
use std::path::Path;

#[test]
fn the_cli_refuses_what_can_never_sync_and_queues_nothing() {
    let (config, _) = basket_config("door", "http://127.0.0.1:9");
    assert!(run(&["migrate", "--config", &config]).status.success());
    let long = "9".repeat(100_000);
    let huge_file = Path::new(&config).with_file_name("huge.json");
    std::fs::write(
        &huge_file,
        format!(
            "{{\"id\": 1, \"bio\": \"{}\"}}",
            "x".repeat(9 * 1024 * 1024)
        ),
    )
    .unwrap();
    let huge = format!("@{}", huge_file.display());
    for (object_type, id, snapshot, expected) in [
        (
            "UserProfle",
            "1",
            Some("{\"id\": 1}"),
            "\"object_type\" \"UserProfle\" is not handled",
        ),
        (
            "UserProfile",
            "1",
            Some("{}"),
            "\"snapshot\" has no id at \"id\"",
        ),
        (
            "UserProfile",
            "1",
            Some("42"),
            "\"snapshot\" must be a JSON object",
        ),
        (
            "UserProfile",
            "1",
            Some("null"),
            "\"snapshot\" must be a JSON object",
        ),
        (
            "UserProfile",
            "1",
            Some("{\"name\": \"x\"}"),
            "\"snapshot\" has no id",
        ),
        (
            "UserProfile",
            "1",
            Some("{\"id\": 2}"),
            "is the state of id \"2\"",
        ),
        (
            "UserProfile",
            long.as_str(),
            None,
            "\"object_id\" is 100000 bytes long",
        ),
        (
            "UserProfile",
            "a\r\nb",
            None,
            "\"object_id\" contains the control character",
        ),
        (
            "UserProfile",
            "1",
            Some(huge.as_str()),
            outsync_queue::SNAPSHOT_LIMIT,
        ),
        (
            "UserProfile",
            "1",
            None,
            "\"snapshot\" is missing and no object source can load UserProfile",
        ),
    ] {
        let mut args = vec![
            "enqueue",
            "--config",
            &config,
            "--provider",
            "basket",
            "--type",
            object_type,
            "--id",
            id,
        ];
        if let Some(snapshot) = snapshot {
            args.extend(["--snapshot", snapshot]);
        }
        let output = run(&args);
        let printed = text(&output);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{expected}: {}",
            &printed[..printed.len().min(500)]
        );
        assert!(
            printed.contains(expected),
            "{expected}: {}",
            &printed[..printed.len().min(500)]
        );
        assert!(printed.len() < 1000, "the message quotes no huge value");
    }
    assert!(job_rows(&config).is_empty(), "nothing queued");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_http_api_refuses_what_can_never_sync_with_the_field_named() {
    let served = serve_with(
        "api-door",
        &serde_json::json!({"base_url": "http://127.0.0.1:9", "api_key": "k"}),
    );
    let api = Api::of(&served);
    let enqueue = |body: &serde_json::Value| {
        api.request(reqwest::Method::POST, "/api/enqueue")
            .json(body)
            .send()
    };
    let long = "9".repeat(100_000);
    for (body, field) in [
        (
            serde_json::json!({"provider": "basket", "object_type": "UserProfle", "object_id": "1"}),
            "object_type",
        ),
        (
            serde_json::json!({"provider": "basket", "object_type": "UserProfile", "object_id": "1", "snapshot": {}}),
            "snapshot",
        ),
        (
            serde_json::json!({"provider": "basket", "object_type": "UserProfile", "object_id": "1", "snapshot": 42}),
            "snapshot",
        ),
        (
            serde_json::json!({"provider": "basket", "object_type": "UserProfile", "object_id": "1", "snapshot": {"name": "x"}}),
            "snapshot",
        ),
        (
            serde_json::json!({"provider": "basket", "object_type": "UserProfile", "object_id": long}),
            "object_id",
        ),
        (
            serde_json::json!({"provider": "basket", "object_type": "UserProfile", "object_id": "a\r\nb"}),
            "object_id",
        ),
        (
            serde_json::json!({"provider": "basket", "object_type": "UserProfile", "object_id": "1"}),
            "snapshot",
        ),
        (
            serde_json::json!({"items": [
            {"provider": "basket", "object_type": "UserProfile", "object_id": "1", "snapshot": {"id": 1}},
            {"provider": "basket", "object_type": "UserProfile", "object_id": "a\u{0}b"}]}),
            "object_id",
        ),
    ] {
        let answer = enqueue(&body).await.unwrap();
        assert_eq!(answer.status(), 422, "{field}");
        let problem: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(problem["field"], field, "{problem}");
        assert!(problem["message"].as_str().unwrap().len() < 1000);
    }
    // Over the request limit: the same sentence as the CLI's.
    let huge = serde_json::json!({"provider": "basket", "object_type": "UserProfile", "object_id": "1",
        "snapshot": {"id": 1, "bio": "x".repeat(9 * 1024 * 1024)}});
    // A client of its own: the service closes the connection after refusing the body,
    // which a pooled connection would meet on the next request.
    let answer = Api::of(&served)
        .request(reqwest::Method::POST, "/api/enqueue")
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 413);
    let problem: serde_json::Value = answer.json().await.unwrap();
    assert!(
        problem["message"]
            .as_str()
            .unwrap()
            .contains(outsync_queue::SNAPSHOT_LIMIT),
        "{problem}"
    );
    let jobs = api.get("/api/jobs").await;
    assert_eq!(
        jobs["jobs"].as_array().map(Vec::len),
        Some(0),
        "nothing queued: {jobs}"
    );
}

async fn enqueue_file_all_or_nothing(label: &str, database: String) {
    let (config, _) = config_dir(label, move |_| {
        serde_json::json!({"database_url": database, "schema": "basket",
            "providers": {"basket": {"base_url": "http://127.0.0.1:9", "api_key": "k"}}})
    });
    assert!(run(&["migrate", "--config", &config]).status.success());
    let file = Path::new(&config).with_file_name("backfill.jsonl");
    let mut lines: String = (1..=6_000).map(user_line).collect();
    lines.push_str("{\"provider\": \"basket\", \"object_type\": \"UserProfile\", \"object_id\": 6001, \"snapshot\": {\"id\": 6001\n");
    lines.push_str(&user_line(6_002));
    lines.push_str(
        "{\"provider\": \"basket\", \"object_type\": \"UserProfle\", \"object_id\": 6003}\n",
    );
    std::fs::write(&file, lines).unwrap();
    let enqueue_file = || {
        run(&[
            "enqueue",
            "--config",
            &config,
            "--file",
            file.to_str().unwrap(),
        ])
    };
    let output = enqueue_file();
    let printed = text(&output);
    assert_eq!(output.status.code(), Some(2), "{printed}");
    assert!(
        printed.contains("2 bad line(s); nothing was enqueued")
            && printed.contains("line 6001: not valid JSON")
            && printed.contains("line 6003: cannot enqueue UserProfle 6003"),
        "{printed}"
    );
    assert!(job_rows(&config).is_empty(), "no line was committed");
    // Fixed, the whole file goes in.
    let fixed: String = (1..=6_002).map(user_line).collect();
    std::fs::write(&file, fixed).unwrap();
    let output = enqueue_file();
    assert!(text(&output).contains("6002 new jobs"), "{}", text(&output));
    // Standard input too: all or nothing, the bad line named.
    let from_stdin = |lines: String| {
        use std::io::Write;
        let mut child = std::process::Command::new(super::OUTSYNC)
            .args(["enqueue", "--config", &config, "--file", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(lines.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let mut lines: String = (7_001..=7_010).map(user_line).collect();
    lines.push_str("{\"provider\": \"basket\", \"object_type\": \"UserProfile\", \"object_id\": 7011, \"snapshto\": {}}\n");
    let output = from_stdin(lines);
    let printed = text(&output);
    assert_eq!(output.status.code(), Some(2), "{printed}");
    assert!(
        printed.contains("-: 1 bad line(s); nothing was enqueued")
            && printed.contains("line 11: unknown key \"snapshto\""),
        "{printed}"
    );
    // Had the refused lines been committed, these would merge into them.
    let output = from_stdin((7_001..=7_010).map(user_line).collect());
    assert!(
        text(&output).contains("10 new jobs, 0 merged"),
        "{}",
        text(&output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_enqueue_file_is_all_or_nothing_on_sqlite() {
    enqueue_file_all_or_nothing("file-sqlite", sqlite_url("file-sqlite-db")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_enqueue_file_is_all_or_nothing_on_postgres() {
    enqueue_file_all_or_nothing("file-postgres", super::fresh_postgres_url().await).await;
}
