//! The operator console over HTTP: problems a page at a time with the total, filters and
//! search, "all matching" actions behind a confirmation that states the count, object
//! search, and ids that survive links and forms whatever they contain.

use super::bulk::{seeded_queue, serve_unreachable_basket};
use super::dashboard::{csrf_in, log_in, page_text};
use super::{TOKEN, serve_with, temp_dir};
use outsync_core::ObjectRef;
use outsync_queue::sea_orm::ConnectionTrait;
use outsync_queue::{EnqueueOptions, Queue, connect};
use serde_json::json;

/// Ids that break naive links: a slash, dot segments, a space, a percent sign, a hash,
/// non-ASCII, markup.
const ODD_IDS: [&str; 6] = [
    "a/b",
    "..",
    "../../etc/passwd",
    "50% off #1",
    "Zoë 東京",
    "<b>x</b>",
];

async fn seed_odd_ids(url: &str) {
    let db = connect(url).await.unwrap();
    let queue = Queue::new(["basket"]);
    for id in ODD_IDS {
        queue
            .enqueue(
                &db,
                "basket",
                &ObjectRef::new("UserProfile", id),
                "seed",
                EnqueueOptions::default(),
            )
            .await
            .unwrap();
    }
    db.execute_unprepared(
        "UPDATE sync_queue SET failure_mode = 'permanent', last_error = 'odd id', \
         last_error_detail = 'HTTP 400 from /amo-sync/userprofile/: {\"desc\": \"odd id\"}' \
         WHERE triggered_by = 'seed' AND last_error IS NULL",
    )
    .await
    .unwrap();
    db.close().await.unwrap();
}

/// Enqueues, from a connection of its own, a Basket job for user profile `id` due in
/// 2100 (the service's worker leaves it alone).
async fn enqueue_for_later(url: &str, id: &str, snapshot: Option<serde_json::Value>) {
    let db = connect(url).await.unwrap();
    let options = EnqueueOptions {
        snapshot,
        not_before_ms: Some(4_102_444_800_000),
        ..EnqueueOptions::default()
    };
    Queue::new(["basket"])
        .enqueue(
            &db,
            "basket",
            &ObjectRef::new("UserProfile", id),
            "seed",
            options,
        )
        .await
        .unwrap();
    db.close().await.unwrap();
}

/// The `href` values on `page` that start with `prefix`, HTML entities decoded.
fn links(page: &str, prefix: &str) -> Vec<String> {
    page.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|href| href.replace("&amp;", "&"))
        .filter(|href| href.starts_with(prefix))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_pages_filters_confirms_bulk_actions_and_keeps_odd_ids_intact() {
    let url = seeded_queue("console").await;
    seed_odd_ids(&url).await;
    let served = serve_unreachable_basket("console");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let at = |path: &str| format!("{}{path}", served.base);
    let cookie = log_in(&http, &served.base).await;

    // 256 stopped jobs: the first page shows 50 of them and says how many there are.
    let first = page_text(&http, &at("/dashboard/problems"), &cookie).await;
    assert!(
        first.contains("<strong>1–50</strong> of <strong>256</strong> matching"),
        "{first}"
    );
    assert_eq!(first.matches("name=\"id\" value=").count(), 50);
    let next = links(&first, "/dashboard/problems?after=");
    assert_eq!(next.len(), 1, "one next-page link");
    let second = page_text(&http, &at(&next[0]), &cookie).await;
    assert!(
        second.contains("<strong>51–100</strong> of <strong>256</strong>"),
        "{second}"
    );

    // Filter and search.
    let filtered = page_text(
        &http,
        &at("/dashboard/problems?failure=permanent&search=too+long"),
        &cookie,
    )
    .await;
    assert!(
        filtered.contains("of <strong>75</strong> matching"),
        "{filtered}"
    );
    let bad = http
        .get(at("/dashboard/problems?since=whenever"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    // "Retry all matching" asks first, stating the count, then does it.
    let csrf = csrf_in(&filtered);
    let fields = [
        ("csrf", csrf.as_str()),
        ("failure", "permanent"),
        ("search", "too long"),
        ("action", "retry-all"),
    ];
    let asked = http
        .post(at("/dashboard/problems"))
        .header("cookie", &cookie)
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 200);
    let asked = asked.text().await.unwrap();
    assert!(
        asked.contains(
            "<strong>Retry 75 job(s)</strong> matching failure = permanent, search = too long?"
        ),
        "{asked}"
    );
    let still = page_text(&http, &at("/dashboard/problems?failure=permanent"), &cookie).await;
    assert!(
        still.contains("of <strong>156</strong> matching"),
        "nothing happens before the confirmation: {still}"
    );
    let mut confirmed = fields.to_vec();
    confirmed.push(("confirmed", "75"));
    let done = http
        .post(at("/dashboard/problems"))
        .header("cookie", &cookie)
        .form(&confirmed)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    let after = page_text(&http, &at("/dashboard/problems?failure=permanent"), &cookie).await;
    assert!(
        after.contains("of <strong>81</strong> matching"),
        "75 retried: {after}"
    );

    // Every odd id survives the link to its page and the page's sync form.
    let odd = page_text(&http, &at("/dashboard/problems?search=odd+id"), &cookie).await;
    let object_links = links(&odd, "/dashboard/object?");
    assert_eq!(object_links.len(), ODD_IDS.len(), "{odd}");
    for id in ODD_IDS {
        let encoded = format!(
            "type=UserProfile&id={}",
            percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC)
        );
        let link = object_links
            .iter()
            .find(|link| link.ends_with(&encoded))
            .unwrap_or_else(|| panic!("a link for {id}: {object_links:?}"));
        let page = page_text(&http, &at(link), &cookie).await;
        let escaped = id
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(
            page.contains(&format!("<h1>UserProfile {escaped}</h1>")),
            "{id}: {page}"
        );
        assert!(
            page.contains(&format!(
                "name=\"id\" value=\"{}\"",
                escaped.replace('"', "&quot;")
            )),
            "{id}: the sync form carries the id"
        );
        assert!(page.contains("odd id"), "{id}: its job is shown");
    }
    assert!(!odd.contains("<b>x</b>"), "markup in an id is escaped");
    // A permanent failure made no attempt worth counting and waits for nobody: neither
    // "attempts 0" nor a "not before" of 1970; the stored error detail is shown.
    assert!(
        !odd.contains("<td>0</td>") && !odd.contains("1970"),
        "{odd}"
    );
    assert!(
        odd.contains("<summary>detail</summary><pre>HTTP 400 from /amo-sync/userprofile/"),
        "{odd}"
    );
    // The actions sit above the table as well as below it.
    assert!(odd.find("value=\"retry-all\"").unwrap() < odd.find("<table>").unwrap());

    // The search box finds an object by id alone.
    let found = http
        .get(at("/dashboard/object?id=Zo%C3%AB+%E6%9D%B1%E4%BA%AC"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(found.status(), 303, "one type has it: straight to its page");
    assert_eq!(
        found.headers()["location"],
        "/dashboard/object?type=UserProfile&id=Zo%C3%AB%20%E6%9D%B1%E4%BA%AC"
    );
    // The overview charts the retried jobs' runs (they stop again: no snapshot, no source).
    let mut overview = String::new();
    for _ in 0..100 {
        overview = page_text(&http, &at("/dashboard"), &cookie).await;
        if overview.contains(" stopped (permanent, config, exceeded, internal, timeout)</title>") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        overview.contains("Runs per minute, last hour")
            && overview.contains("Runs per hour, last day"),
        "{overview}"
    );
    assert!(
        overview.contains(" stopped (permanent, config, exceeded, internal, timeout)</title>"),
        "the stopped runs are charted: {overview}"
    );
    let nothing = page_text(&http, &at("/dashboard/object?id=nobody"), &cookie).await;
    assert!(
        nothing.contains("No job, result or run names an object with id"),
        "{nothing}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_editor_previews_edited_mappings_against_a_real_object() {
    let label = "console-preview";
    let url = format!(
        "sqlite://{}?mode=rwc",
        temp_dir(label).join("q.db").display()
    );
    // A job waiting for later, with the object's data.
    enqueue_for_later(
        &url,
        "77",
        Some(json!({"id": 77, "email": "u77@example.org", "display_name": "Grace", "location": "Oslo"})),
    )
    .await;
    let served = serve_with(
        label,
        &json!({"base_url": "http://127.0.0.1:9", "api_key": "k", "timeout_seconds": 1}),
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let at = |path: &str| format!("{}{path}", served.base);
    let cookie = log_in(&http, &served.base).await;
    let editor = page_text(&http, &at("/dashboard/providers/basket/editor"), &cookie).await;
    let csrf = editor
        .split("id=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();

    let mut mappings: serde_json::Value =
        serde_json::from_str(outsync_basket::DEFAULT_MAPPINGS).unwrap();
    mappings[0]["property_mappings"]
        .as_array_mut()
        .unwrap()
        .push(json!({"source_field": "user_location", "external_field": "where"}));
    let preview = |id: &str| {
        http.post(at(&format!(
            "/dashboard/providers/basket/preview?type=UserProfile&id={id}"
        )))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .body(mappings.to_string())
        .send()
    };
    let answer: serde_json::Value = preview("77").await.unwrap().json().await.unwrap();
    let properties = answer["preview"][0]["properties"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"));
    assert_eq!(answer["preview"][0]["mapping"], "userprofile");
    assert!(
        properties
            .iter()
            .any(|p| p["field"] == "where" && p["value"] == "Oslo"),
        "the edited mapping's new field, from the waiting job's data: {answer}"
    );
    let missing: serde_json::Value = preview("78").await.unwrap().json().await.unwrap();
    assert_eq!(
        missing["problems"][0],
        "UserProfile 78 has no waiting job with a snapshot, and the service has no object source to load it from"
    );

    // "Force a sync" marks the waiting job to send everything and runs it now.
    let force = |id: &str| {
        http.post(at("/dashboard/object/sync"))
            .header("cookie", &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("type", "UserProfile"),
                ("id", id),
                ("force", "1"),
            ])
            .send()
    };
    assert_eq!(force("77").await.unwrap().status(), 303);
    let jobs: serde_json::Value = http
        .get(at("/api/jobs?search=77"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jobs["jobs"][0]["force"], true, "{jobs}");
    let state: serde_json::Value = http
        .get(at("/api/objects/UserProfile/77"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        state["runs"].as_array().unwrap().len(),
        1,
        "it ran at once: {state}"
    );
    let refused = force("78").await.unwrap();
    assert_eq!(refused.status(), 409);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("without an object source the service cannot load it")
    );
}

/// Reads `response`'s body until it holds `wanted`, for at most `within`.
async fn read_until(
    response: &mut reqwest::Response,
    wanted: &str,
    within: std::time::Duration,
) -> String {
    let mut body = String::new();
    let deadline = tokio::time::Instant::now() + within;
    while !body.contains(wanted) {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("no {wanted:?} within {within:?}: {body:?}"))
            .unwrap()
            .unwrap_or_else(|| panic!("the stream ended before {wanted:?}: {body:?}"));
        body.push_str(&String::from_utf8_lossy(&chunk));
    }
    body
}

#[tokio::test]
async fn open_pages_hear_of_queue_changes_through_server_sent_events() {
    let url = seeded_queue("events").await;
    let served = serve_unreachable_basket("events");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let anonymous = http
        .get(format!("{}/dashboard/events", served.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 303, "events need a session");
    let cookie = log_in(&http, &served.base).await;
    let mut events = http
        .get(format!("{}/dashboard/events", served.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let within = std::time::Duration::from_secs(10);
    let opened = read_until(&mut events, "event: ready", within).await;
    assert!(
        !opened.contains("event: change"),
        "nothing changed yet: {opened}"
    );
    // A job enqueued by another process, for later (the service's worker leaves it alone).
    enqueue_for_later(&url, "new", None).await;
    read_until(&mut events, "event: change", within).await;
}
