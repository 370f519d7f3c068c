//! The mailing-list chapter's configuration, schema and orders, run through the `outsync`
//! command against a real Mailman (`OUTSYNC_TEST_MAILMAN_URL`, set by `.ci/run`).

use super::{OUTSYNC, temp_dir, text};
use outsync_tests::mailman::MailmanServer;
use std::process::{Command, Output};

const CHAPTER: &str = include_str!("../../../book/src/mailing-list.md");

/// The code block after `<!-- test: NAME -->` in the chapter.
fn block(name: &str) -> String {
    let marker = format!("<!-- test: {name} -->");
    let after = &CHAPTER[CHAPTER.find(&marker).expect("marker in the chapter") + marker.len()..];
    let start = after.find("```").unwrap();
    let body = &after[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("```").unwrap()].to_owned()
}

fn outsync(dir: &std::path::Path, server: &MailmanServer, args: &[&str]) -> Output {
    Command::new(OUTSYNC)
        .args(args)
        .current_dir(dir)
        .env("MAILMAN_PASSWORD", &server.password)
        .output()
        .expect("run outsync")
}

#[tokio::test]
async fn the_chapters_configuration_syncs_orders_into_a_real_mailman() {
    let Some(server) = MailmanServer::from_env() else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run the Mailman tests: set OUTSYNC_TEST_MAILMAN_URL (see .ci/run)"
        );
        eprintln!("OUTSYNC_TEST_MAILMAN_URL is not set: skipping the Mailman CLI test");
        return;
    };
    let dir = temp_dir("mailing-list-chapter");
    let list = server
        .create_list(
            &format!("chapter-{}", std::process::id()),
            "lists.example.org",
        )
        .await;
    // The chapter's files, pointed at this Mailman and a list of this run.
    let config = block("outsync.json")
        .replace("http://127.0.0.1:8001", &server.base_url)
        .replace("attendees@lists.example.org", &list);
    std::fs::write(dir.join("outsync.json"), config).unwrap();
    std::fs::write(dir.join("schema.json"), block("schema.json")).unwrap();
    std::fs::write(dir.join("orders.jsonl"), block("orders.jsonl")).unwrap();

    for args in [
        &["migrate"][..],
        &["config", "check"],
        &["enqueue", "--file", "orders.jsonl"],
        &["sync"],
    ] {
        let output = outsync(&dir, &server, args);
        assert!(
            output.status.success(),
            "outsync {args:?}: {}",
            text(&output)
        );
    }
    assert_eq!(
        server.memberships(&list).await,
        ["ada@example.org", "grace@example.org"],
        "Ada stays for her paid order; Alan's only order is canceled"
    );

    // A job that stops makes `outsync sync` exit 1, naming the field.
    let bad = r#"{"provider": "mailing_list", "object_type": "Order", "object_id": "A4", "snapshot": {"code": "A4", "status": "p", "positions": [{"positionid": 1, "attendee_name": "Bad", "attendee_email": "bad@example.org", "newsletter_consent_at": "soon"}]}}"#;
    std::fs::write(dir.join("bad.jsonl"), bad).unwrap();
    let output = outsync(&dir, &server, &["enqueue", "--file", "bad.jsonl"]);
    assert!(output.status.success(), "{}", text(&output));
    let output = outsync(&dir, &server, &["sync"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let output = outsync(&dir, &server, &["jobs", "list", "--state", "failed"]);
    assert!(
        text(&output).contains("field \"consent_at\": \"soon\" is not a time"),
        "{}",
        text(&output)
    );
    assert_eq!(
        server.memberships(&list).await,
        ["ada@example.org", "grace@example.org"]
    );
}
