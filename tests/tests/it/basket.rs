//! The Basket provider against the fake Basket: exact payloads, every response class,
//! newsletters, secrets.

use outsync_basket::fake::{FakeBasket, FakeMode};
use outsync_basket::{
    ApiKey, BasketClient, BasketConfig, BasketProvider, Subscription, Unsubscribe, basket_schema,
};
use outsync_core::{ConfiguredProvider, ObjectRef, SyncAction, SyncError, sync_object};
use serde_json::{Value, json};
use std::time::Duration;

pub(crate) const KEY: &str = "k3y-s3cr3t-ABCDEF";

/// The user of the AMO sync documentation, as the application has it (with a field
/// Basket does not receive).
pub(crate) fn source_user() -> Value {
    json!({"id": 11263, "deleted": false, "display_name": "serses", "email": "mozilla@virgule.net",
           "homepage": "", "last_login": "2019-08-06T10:39:44Z", "location": "", "biography": "not sent"})
}

/// The add-on of the documentation as the application has it: authors embed whole user
/// records, versions carry more than Basket receives.
pub(crate) fn source_addon() -> Value {
    json!({
        "id": 35896, "guid": "{85ee4a2a-51b6-4f5e-a99c-6d9abcf6782d}", "name": "Ibird Jelewt Boartrica",
        "default_locale": "en-US", "slug": "ibird-jelewt-boartrica", "type": "extension", "status": "nominated",
        "is_disabled": false, "is_recommended": false, "last_updated": "2019-06-26T11:38:13Z",
        "average_daily_users": 0, "weekly_downloads": 17,
        "authors": [source_user()],
        "categories": {"firefox": ["games-entertainment"]},
        "current_version": {"id": 35900, "compatibility": {"firefox": {"min": "48.0", "max": "*"}},
                            "is_strict_compatibility_enabled": false, "version": "2.0", "files": [{"id": 1}]},
        "latest_unlisted_version": {"id": 35899, "compatibility": {"firefox": {"min": "48.0", "max": "*"}},
                                    "is_strict_compatibility_enabled": false, "version": "1.0", "license": null},
        "ratings": {"average": 4.1, "bayesian_average": 4.2, "count": 43, "text_count": 40, "grouped_counts": {}}
    })
}

const EXPECTED_ADDON: &str = r#"{
    "authors": [{"id": 11263, "deleted": false, "display_name": "serses", "email": "mozilla@virgule.net",
                 "homepage": "", "last_login": "2019-08-06T10:39:44Z", "location": ""}],
    "average_daily_users": 0,
    "categories": {"firefox": ["games-entertainment"]},
    "current_version": {"id": 35900, "compatibility": {"firefox": {"min": "48.0", "max": "*"}},
                        "is_strict_compatibility_enabled": false, "version": "2.0"},
    "default_locale": "en-US",
    "guid": "{85ee4a2a-51b6-4f5e-a99c-6d9abcf6782d}",
    "id": 35896,
    "is_disabled": false,
    "is_recommended": false,
    "last_updated": "2019-06-26T11:38:13Z",
    "latest_unlisted_version": {"id": 35899, "compatibility": {"firefox": {"min": "48.0", "max": "*"}},
                                "is_strict_compatibility_enabled": false, "version": "1.0"},
    "name": "Ibird Jelewt Boartrica",
    "ratings": {"average": 4.1, "bayesian_average": 4.2, "count": 43, "text_count": 40},
    "slug": "ibird-jelewt-boartrica",
    "status": "nominated",
    "type": "extension"
}"#;

const EXPECTED_USER: &str = r#"{"id": 11263, "deleted": false, "display_name": "serses",
    "email": "mozilla@virgule.net", "homepage": "", "last_login": "2019-08-06T10:39:44Z", "location": ""}"#;

fn config_for(base_url: &str, timeout: Duration) -> BasketConfig {
    let mut config = BasketConfig::new(base_url, ApiKey::new(KEY));
    config.timeout = timeout;
    config
}

pub(crate) fn provider_for(base_url: &str, timeout: Duration) -> ConfiguredProvider {
    BasketProvider::configured(
        config_for(base_url, timeout),
        &basket_schema().unwrap(),
        None,
    )
    .unwrap()
}

async fn sync_user(provider: &ConfiguredProvider) -> Result<SyncAction, SyncError> {
    let report = sync_object(
        provider,
        &ObjectRef::new("UserProfile", "11263"),
        &source_user(),
    )
    .await?;
    Ok(report.mapped_objects.get("userprofile")[0]
        .outcome
        .action
        .clone())
}

/// serde_json compares numbers with their kind: 4.1 (float) ≠ 4 (integer), 0 ≠ 0.0.
fn assert_same_json(got: &Value, expected: &str) {
    let expected: Value = serde_json::from_str(expected).unwrap();
    assert_eq!(got, &expected);
    assert_eq!(got.to_string(), expected.to_string(), "types differ");
}

#[tokio::test]
async fn reproduces_both_documented_payloads_exactly() {
    let fake = FakeBasket::start(KEY).await.unwrap();
    let provider = provider_for(&fake.base_url, Duration::from_secs(5));
    sync_object(
        &provider,
        &ObjectRef::new("Addon", "35896"),
        &source_addon(),
    )
    .await
    .unwrap();
    sync_object(
        &provider,
        &ObjectRef::new("UserProfile", "11263"),
        &source_user(),
    )
    .await
    .unwrap();
    let addon = fake.received_at("/amo-sync/addon/");
    assert_eq!(addon.len(), 1);
    assert_eq!(addon[0].method, "POST");
    assert_eq!(addon[0].content_type.as_deref(), Some("application/json"));
    assert_same_json(&addon[0].body, EXPECTED_ADDON);
    let user = fake.received_at("/amo-sync/userprofile/");
    assert_same_json(&user[0].body, EXPECTED_USER);
}

#[tokio::test]
async fn json_types_are_basket_types_whatever_the_source_gives() {
    let fake = FakeBasket::start(KEY).await.unwrap();
    let provider = provider_for(&fake.base_url, Duration::from_secs(5));
    let mut addon = source_addon();
    addon["ratings"] = json!({"average": 4, "bayesian_average": 0, "count": 43.0, "text_count": 0});
    addon["latest_unlisted_version"] = Value::Null;
    addon.as_object_mut().unwrap().remove("is_recommended");
    sync_object(&provider, &ObjectRef::new("Addon", "35896"), &addon)
        .await
        .unwrap();
    let sent = &fake.received_at("/amo-sync/addon/")[0].body;
    assert_eq!(
        sent["ratings"].to_string(),
        r#"{"average":4.0,"bayesian_average":0.0,"count":43,"text_count":0}"#
    );
    assert_eq!(
        sent["latest_unlisted_version"],
        Value::Null,
        "null stays null"
    );
    assert_eq!(sent["is_recommended"], json!(false));
}

#[tokio::test]
async fn each_response_class_ends_in_its_outcome() {
    let fake = FakeBasket::start(KEY).await.unwrap();
    let provider = provider_for(&fake.base_url, Duration::from_millis(500));

    assert_eq!(
        sync_user(&provider).await.unwrap(),
        SyncAction::Create,
        "200 status ok"
    );

    fake.set_mode(FakeMode::Unauthorized);
    let error = sync_user(&provider).await.unwrap_err();
    assert!(
        matches!(error, SyncError::Config { .. }),
        "401 → config: {error:?}"
    );
    assert!(
        error.messages()[0].contains("refused the API key"),
        "{error}"
    );

    fake.set_mode(FakeMode::RateLimited(30));
    let error = sync_user(&provider).await.unwrap_err();
    assert!(
        matches!(error, SyncError::Recoverable { .. }),
        "429 → recoverable"
    );
    assert_eq!(
        error.retry_after(),
        Some(Duration::from_secs(30)),
        "Retry-After honoured"
    );

    fake.set_mode(FakeMode::ServerError);
    let error = sync_user(&provider).await.unwrap_err();
    assert!(
        matches!(error, SyncError::Recoverable { .. }),
        "5xx → recoverable"
    );
    assert_eq!(
        error.messages()[0],
        "mapping userprofile: userprofile 11263: Basket failed (HTTP 500)"
    );

    fake.set_mode(FakeMode::Slow(Duration::from_secs(3)));
    let error = sync_user(&provider).await.unwrap_err();
    assert!(
        matches!(error, SyncError::Recoverable { .. }),
        "timeout → recoverable"
    );
    assert!(
        error.messages()[0].ends_with("Basket did not answer within 0.5 s"),
        "{error}"
    );

    fake.set_mode(FakeMode::Status(418));
    let error = sync_user(&provider).await.unwrap_err();
    assert!(
        matches!(error, SyncError::Recoverable { .. }),
        "other status → recoverable"
    );
    let full = error.full_message().unwrap();
    assert!(
        full.starts_with("HTTP 418 from /amo-sync/userprofile/: xxxx"),
        "{full}"
    );
    assert!(
        full.ends_with("… (5000 bytes in all)"),
        "the body is truncated: {full}"
    );

    fake.set_mode(FakeMode::Normal);
    let wrong_path = provider_for(&format!("{}/basket", fake.base_url), Duration::from_secs(5));
    let error = sync_user(&wrong_path).await.unwrap_err();
    assert!(
        matches!(error, SyncError::Config { .. }),
        "404 → config: {error:?}"
    );
    assert!(
        error.messages()[0].contains("has no endpoint /amo-sync/userprofile/"),
        "{error}"
    );

    let refused = provider_for("http://127.0.0.1:9", Duration::from_secs(2));
    let error = sync_user(&refused).await.unwrap_err();
    assert!(
        matches!(error, SyncError::Recoverable { .. }),
        "connection error → recoverable"
    );
    assert!(
        error.messages()[0].ends_with("cannot connect to Basket at http://127.0.0.1:9"),
        "{error}"
    );
}

#[tokio::test]
async fn a_payload_basket_refuses_is_permanent() {
    let fake = FakeBasket::start(KEY).await.unwrap();
    let schema = basket_schema().unwrap();
    let only_id = json!([{"id": "userprofile", "source_model": "UserProfile", "external_object_type": "userprofile",
        "source_id_field": "user_id", "external_id_field": "id",
        "property_mappings": [{"source_field": "user_id", "external_field": "id"}]}]);
    let provider = BasketProvider::configured(
        BasketConfig::new(&fake.base_url, ApiKey::new(KEY)),
        &schema,
        Some(&only_id),
    )
    .unwrap();
    let error = sync_user(&provider).await.unwrap_err();
    assert!(
        matches!(error, SyncError::Permanent { .. }),
        "400 → permanent: {error:?}"
    );
    assert!(
        error.messages()[0].contains("Basket rejected the data (HTTP 400): user has keys"),
        "{error}"
    );
}

#[tokio::test]
async fn mappings_must_name_a_basket_endpoint() {
    let schema = basket_schema().unwrap();
    let wrong = json!([{"id": "m", "source_model": "UserProfile", "external_object_type": "contact",
        "source_id_field": "user_id", "external_id_field": "id", "property_mappings": []}]);
    let error = BasketProvider::configured(
        BasketConfig::new("http://127.0.0.1:1", ApiKey::new(KEY)),
        &schema,
        Some(&wrong),
    )
    .unwrap_err();
    assert_eq!(
        error.messages(),
        [
            "mapping m: external_object_type \"contact\" is not a Basket endpoint; use \"userprofile\" or \"addon\""
        ]
    );
}

fn subscription(email: &str, newsletters: &[&str]) -> Subscription {
    Subscription {
        email: email.into(),
        newsletters: newsletters.iter().map(|n| (*n).to_owned()).collect(),
        optin: true,
        lang: Some("en-US".into()),
        format: Some("H".into()),
        source_url: Some("https://addons.example/".into()),
    }
}

#[tokio::test]
async fn newsletter_subscriptions_and_their_outcomes() {
    let fake = FakeBasket::start(KEY).await.unwrap();
    let client = BasketClient::new(config_for(&fake.base_url, Duration::from_secs(5))).unwrap();

    let created = client
        .subscribe(&subscription(
            "jo@example.org",
            &["about-addons", "firefox-tips"],
        ))
        .await
        .unwrap();
    assert_eq!(created, SyncAction::Create);
    let sent = &fake.received_at("/news/subscribe/")[0];
    assert_eq!(
        sent.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        sent.body,
        json!({"email": "jo@example.org", "newsletters": "about-addons,firefox-tips", "sync": "Y", "optin": "Y",
               "lang": "en-US", "format": "H", "source_url": "https://addons.example/"})
    );

    let error = client
        .subscribe(&subscription("not-an-address", &["about-addons"]))
        .await
        .unwrap_err();
    assert!(
        matches!(error, SyncError::Permanent { .. }),
        "code 2 → permanent: {error:?}"
    );
    let error = client
        .subscribe(&subscription("jo@example.org", &["no-such-list"]))
        .await
        .unwrap_err();
    assert!(
        matches!(error, SyncError::Config { .. }),
        "code 9 → config: {error:?}"
    );
    assert!(
        error.messages()[0].contains("does not know a newsletter (code 9"),
        "{error}"
    );

    let gone = client
        .unsubscribe("nobody@example.org", &Unsubscribe::Everything)
        .await
        .unwrap();
    assert_eq!(
        gone,
        SyncAction::NothingToDo,
        "code 3 on unsubscribe → nothing to do"
    );
    let left = client
        .unsubscribe(
            "jo@example.org",
            &Unsubscribe::Newsletters(vec!["firefox-tips".into()]),
        )
        .await
        .unwrap();
    assert_eq!(left, SyncAction::Delete);
    assert_eq!(
        fake.newsletters_of("jo@example.org")
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        ["about-addons"]
    );
    client
        .unsubscribe("jo@example.org", &Unsubscribe::Everything)
        .await
        .unwrap();
    assert!(fake.newsletters_of("jo@example.org").unwrap().is_empty());
    let lookup = &fake.received_at("/api/v1/users/lookup/")[0];
    assert_eq!(lookup.method, "GET");

    fake.set_mode(FakeMode::Unauthorized);
    let error = client
        .subscribe(&subscription("jo@example.org", &["about-addons"]))
        .await
        .unwrap_err();
    assert!(matches!(error, SyncError::Config { .. }), "code 7 → config");
    fake.set_mode(FakeMode::RateLimited(5));
    let error = client
        .unsubscribe("jo@example.org", &Unsubscribe::Everything)
        .await
        .unwrap_err();
    assert!(
        matches!(error, SyncError::Recoverable { .. }),
        "429 → recoverable"
    );
    assert_eq!(error.retry_after(), Some(Duration::from_secs(5)));
}

#[tokio::test]
async fn the_api_key_never_appears_in_messages() {
    let fake = FakeBasket::start(KEY).await.unwrap();
    let provider = provider_for(&fake.base_url, Duration::from_millis(300));
    let client = BasketClient::new(config_for(&fake.base_url, Duration::from_millis(300))).unwrap();
    let mut texts = vec![format!("{client:?}")];
    for mode in [
        FakeMode::Unauthorized,
        FakeMode::ServerError,
        FakeMode::RateLimited(1),
        FakeMode::Status(418),
        FakeMode::Slow(Duration::from_secs(2)),
    ] {
        fake.set_mode(mode);
        let error = sync_user(&provider).await.unwrap_err();
        texts.push(error.to_string());
        texts.push(format!("{error:?}"));
        texts.extend(error.full_message().map(str::to_owned));
        let error = client
            .subscribe(&subscription("jo@example.org", &["about-addons"]))
            .await
            .unwrap_err();
        texts.push(format!("{error:?}"));
    }
    for text in texts {
        assert!(!text.contains(KEY), "the key leaked: {text}");
    }
    // The key did travel, in the header.
    assert!(fake.received().len() >= 10);
}
