//! The dashboard in a real browser (headless Chromium through chromedriver).

use super::{TOKEN, serve_with, temp_dir};
use std::process::Command;

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
        // A profile of its own: Chromium refuses a profile another instance holds.
        let profile = temp_dir(&format!("chromium-profile-{port}"));
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
        let png = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(encoded.as_str().unwrap())
                .expect("a base64 screenshot")
        };
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

/// One Chromium at a time: the browser tests take turns (two cores, timed waits).
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread")]
async fn a_browser_logs_in_finds_a_failed_job_retries_it_and_sees_it_synced() {
    let _turn = ONE_BROWSER.lock().await;
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
    // `target/screenshots/` (the book's dashboard chapter links them).
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("screenshots");
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
    // The overview is live: a run that happens now shows up without a reload.
    assert!(!overview.contains("UserProfile 7"));
    let another = serde_json::json!({"provider": "basket", "object_type": "UserProfile", "object_id": "7",
                                     "snapshot": {"id": 7, "email": "seven@example.org"}});
    http.post(format!("{}/api/enqueue", served.base))
        .bearer_auth(TOKEN)
        .json(&another)
        .send()
        .await
        .unwrap();
    let live = browser.wait_for("UserProfile 7").await;
    assert!(
        live.contains("UserProfile 7"),
        "the overview updated itself: {live}"
    );
    assert!(live.contains("updated "), "and says when: {live}");

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
    // The first row's checkbox (the header's object search has an `id` field too).
    browser.click("td input[name=id]").await;
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

    // Save the edited mappings as version 2: the next run uses them (the worker looks for
    // new versions every second) and sends the added field.
    browser
        .type_into("#note", "send the location as where")
        .await;
    browser.click("#save").await;
    let saved = browser.wait_for("Saved version 2").await;
    assert!(saved.contains("Saved version 2"), "{saved}");
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let renamed = serde_json::json!({"provider": "basket", "object_type": "UserProfile", "object_id": "5",
        "snapshot": {"id": 5, "email": "five@example.org", "display_name": "Five B.", "location": "Oslo"}});
    http.post(format!("{}/api/enqueue", served.base))
        .bearer_auth(TOKEN)
        .json(&renamed)
        .send()
        .await
        .unwrap();
    let sent = wait_for_payloads(&fake, 3).await;
    assert_eq!(sent["where"], "Oslo", "version 2 is in force: {sent}");
    assert_eq!(latest_run_version(&http, &served.base).await, 2);

    // Roll back to version 1 on the provider page: version 3, version 1's mappings.
    browser
        .go(&format!("{}/dashboard/providers/basket", served.base))
        .await;
    let versions = browser.wait_for("(in force)").await;
    assert!(
        versions.contains("send the location as where"),
        "{versions}"
    );
    browser.screenshot(&shots.join("6-versions.png")).await;
    browser.click("form[action$=rollback] button").await;
    let rolled = browser.wait_for("rollback to version 1").await;
    assert!(rolled.contains("rollback to version 1"), "{rolled}");
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let again = serde_json::json!({"provider": "basket", "object_type": "UserProfile", "object_id": "5",
        "snapshot": {"id": 5, "email": "five@example.org", "display_name": "Five C.", "location": "Oslo"}});
    http.post(format!("{}/api/enqueue", served.base))
        .bearer_auth(TOKEN)
        .json(&again)
        .send()
        .await
        .unwrap();
    let sent = wait_for_payloads(&fake, 4).await;
    assert!(
        sent.get("where").is_none(),
        "version 1's mappings again: {sent}"
    );
    assert_eq!(latest_run_version(&http, &served.base).await, 3);
    browser.quit().await;
    eprintln!("screenshots in {}", shots.display());
}

/// The `count`-th payload user 5 sent to Basket, once it arrived.
async fn wait_for_payloads(
    fake: &outsync_basket::fake::FakeBasket,
    count: usize,
) -> serde_json::Value {
    for _ in 0..200 {
        let bodies: Vec<serde_json::Value> = fake
            .received_at("/amo-sync/userprofile/")
            .into_iter()
            .map(|r| r.body)
            .filter(|body| body["id"] == 5)
            .collect();
        if bodies.len() >= count {
            return bodies[count - 1].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("Basket did not receive {count} payloads of user 5");
}

/// The mapping version user 5's latest run used.
async fn latest_run_version(http: &reqwest::Client, base: &str) -> serde_json::Value {
    let state: serde_json::Value = http
        .get(format!("{base}/api/objects/UserProfile/5"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    state["runs"][0]["mapping_version"].clone()
}

/// Seeds `url` with `count` stopped jobs of orders `O0000000`…: a quarter each
/// `permanent` "email invalid", `permanent` "name too long", `config`, `exceeded`.
async fn seed_problems(url: &str, count: usize) {
    use outsync_queue::sea_orm::ConnectionTrait;
    let db = outsync_queue::connect(url).await.unwrap();
    let queue = outsync_queue::Queue::new(["basket"]);
    for start in (0..count).step_by(10_000) {
        let items: Vec<outsync_queue::EnqueueItem> = (start..(start + 10_000).min(count))
            .map(|i| outsync_queue::EnqueueItem {
                provider: "basket".into(),
                object: outsync_core::ObjectRef::new("Order", format!("O{i:07}")),
                triggered_by: "seed".into(),
                options: outsync_queue::EnqueueOptions::default(),
            })
            .collect();
        queue.enqueue_many(&db, &items).await.unwrap();
    }
    for (remainder, mode, message) in [
        (0, "permanent", "Basket answered 400: email invalid"),
        (1, "permanent", "Basket answered 400: name too long"),
        (2, "config", "Basket refused the API key"),
        (3, "exceeded", "timed out after 10 s"),
    ] {
        let sql = format!(
            "UPDATE sync_queue SET failure_mode = '{mode}', last_error = '{message}' WHERE (id - 1) % 4 = {remainder}"
        );
        db.execute_unprepared(&sql).await.unwrap();
    }
    db.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_works_through_a_hundred_thousand_problems_in_a_browser() {
    let _turn = ONE_BROWSER.lock().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let label = "browser-100k";
    let url = format!(
        "sqlite://{}?mode=rwc",
        super::temp_dir(label).join("q.db").display()
    );
    seed_problems(&url, 100_000).await;
    let served = serve_with(
        label,
        &serde_json::json!({"base_url": "http://127.0.0.1:9", "api_key": "k", "timeout_seconds": 1}),
    );
    let http = reqwest::Client::new();
    browser.go(&format!("{}/dashboard", served.base)).await;
    browser.wait_for("API token").await;
    browser.type_into("input[name=token]", TOKEN).await;
    browser.click("form button").await;
    browser.wait_for("<h2>Queue</h2>").await;

    // Page through the problems.
    browser
        .go(&format!("{}/dashboard/problems", served.base))
        .await;
    let first = browser.wait_for("<strong>100000</strong> matching").await;
    assert!(
        first.contains("<strong>1–50</strong> of <strong>100000</strong> matching"),
        "{first}"
    );
    browser.click("div.pages a").await;
    let second = browser.wait_for("<strong>51–100</strong>").await;
    assert!(
        second.contains("<strong>51–100</strong> of <strong>100000</strong>"),
        "{second}"
    );

    // The count changes live, without a reload, when jobs go away elsewhere.
    browser
        .go(&format!("{}/dashboard/problems", served.base))
        .await;
    browser.wait_for("<strong>100000</strong> matching").await;
    let cancelled: serde_json::Value = http
        .post(format!("{}/api/jobs/cancel", served.base))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"search": "O000010"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["cancelled"], 10);
    let live = browser.wait_for("<strong>99990</strong> matching").await;
    assert!(
        live.contains("of <strong>99990</strong> matching"),
        "updated live: {live}"
    );

    // Filter and search.
    browser
        .type_into("form.filters input[name=search]", "email invalid")
        .await;
    browser
        .click("select[name=failure] option[value=permanent]")
        .await;
    browser.click("form.filters button").await;
    // A quarter of the jobs, less the 3 of them among the 10 cancelled.
    let filtered = browser.wait_for("of <strong>24997</strong> matching").await;
    assert!(
        filtered.contains("of <strong>24997</strong> matching"),
        "{filtered}"
    );

    // Select every matching job and retry it: the count is confirmed first.
    browser.click("button[value=retry-all]").await;
    let asked = browser.wait_for("Retry 24997 job(s)").await;
    assert!(
        asked.contains("matching failure = permanent, search = email invalid?"),
        "{asked}"
    );
    browser.click("div.confirm button[value=retry-all]").await;
    let done = browser.wait_for("No stopped job matches.").await;
    assert!(done.contains("No stopped job matches."), "{done}");
    // The retried jobs run (and stop again: they carry no snapshot and there is no source).
    let mut runs = 0;
    for _ in 0..200 {
        let metrics = http
            .get(format!("{}/metrics", served.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        runs = metrics
            .lines()
            .find(|line| {
                line.starts_with("outsync_runs_total{provider=\"basket\",outcome=\"config\"}")
            })
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        if runs > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(runs > 0, "the retried jobs ran");

    // Find an object with the header's search box (by id alone).
    browser
        .type_into("form.search input[name=id]", "O0000042")
        .await;
    browser.click("form.search button").await;
    let object = browser.wait_for("<h1>Order O0000042</h1>").await;
    assert!(object.contains("<h1>Order O0000042</h1>"), "{object}");
    browser.quit().await;
}
