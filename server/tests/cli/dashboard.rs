//! The dashboard over HTTP: login, sessions, CSRF, problems and actions.

use super::{TOKEN, serve};

/// The text of a dashboard page fetched with the session `cookie`.
pub(super) async fn page_text(http: &reqwest::Client, url: &str, cookie: &str) -> String {
    http.get(url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The CSRF token in a page's forms.
/// Logs in to the dashboard at `base`; returns the session cookie.
pub(super) async fn log_in(http: &reqwest::Client, base: &str) -> String {
    let login = http
        .post(format!("{base}/dashboard/login"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

pub(super) fn csrf_in(page: &str) -> String {
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

    // The API refuses a job without snapshot: the service has no source to load it from.
    let refused = http
        .post(url("/api/enqueue"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"provider": "basket", "object_type": "UserProfile", "object_id": "9"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    // An application's own outbox (a queue that knows no sources) can still queue one:
    // it fails as a sync problem.
    let database = format!(
        "sqlite://{}",
        super::temp_dir("dashboard").join("q.db").display()
    );
    let db = outsync_queue::connect(&database).await.unwrap();
    outsync_queue::Queue::new(["basket"])
        .enqueue(
            &db,
            "basket",
            &outsync_core::ObjectRef::new("UserProfile", "9"),
            "outbox",
            outsync_queue::EnqueueOptions::default(),
        )
        .await
        .unwrap();
    db.close().await.unwrap();
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
