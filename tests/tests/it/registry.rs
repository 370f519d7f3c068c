//! The inventory-based provider registry.

use outsync_core::schema::SourceSchema;
use outsync_core::{
    OutboundSyncProvider, ProviderConfig, ProviderRegistration, Registry, RegistryError, SyncError,
    register_provider,
};
use outsync_tests::FakeApi;
use outsync_tests::providers::FakeApiProvider;
use outsync_tests::schema::pretix_schema;
use serde_json::json;
use std::sync::Arc;

fn build_fake(config: &ProviderConfig) -> Result<Box<dyn OutboundSyncProvider>, SyncError> {
    let api = Arc::new(FakeApi::new());
    match config.settings["scenario"].as_str() {
        Some("simple") => Ok(Box::new(FakeApiProvider::simple_order_sync(
            api,
            &config.schema,
        )?)),
        Some("tickets") => Ok(Box::new(FakeApiProvider::order_and_ticket_sync(
            api,
            &config.schema,
        )?)),
        other => Err(SyncError::config(format!(
            "setting \"scenario\" must be \"simple\" or \"tickets\", got {other:?}"
        ))),
    }
}

register_provider! {
    ProviderRegistration::new("fake_api", "In-memory fake API", build_fake)
}

fn config(settings: serde_json::Value) -> ProviderConfig {
    ProviderConfig {
        settings,
        schema: Arc::new(pretix_schema()),
    }
}

#[test]
fn registered_providers_are_listed_and_built() {
    let registry = Registry::global().unwrap();
    let listed: Vec<(&str, &str)> = registry
        .providers()
        .iter()
        .map(|r| (r.identifier, r.display_name))
        .collect();
    assert!(
        listed.contains(&("fake_api", "In-memory fake API")),
        "{listed:?}"
    );
    let provider = registry
        .build("fake_api", &config(json!({"scenario": "simple"})))
        .unwrap();
    assert_eq!(provider.identifier(), "fake_api");
    assert_eq!(provider.mappings().len(), 1);
}

#[test]
fn factory_errors_name_the_provider() {
    let registry = Registry::global().unwrap();
    let error = registry
        .build("fake_api", &config(json!({})))
        .err()
        .unwrap();
    assert_eq!(
        error.messages(),
        [r#"provider "fake_api": setting "scenario" must be "simple" or "tickets", got None"#]
    );
}

#[test]
fn unknown_providers_are_config_errors_listing_the_known_ones() {
    let registry = Registry::global().unwrap();
    let error = registry.build("crm", &config(json!({}))).err().unwrap();
    assert!(matches!(error, SyncError::Config { .. }));
    assert!(
        error.messages()[0].starts_with(r#"no provider "crm" is registered; registered: "#),
        "{error}"
    );
}

#[test]
fn duplicate_identifiers_are_rejected() {
    let error = Registry::from_registrations([
        ProviderRegistration::new("fake_api", "First", build_fake),
        ProviderRegistration::new("other", "Other", build_fake),
        ProviderRegistration::new("fake_api", "Second", build_fake),
    ])
    .unwrap_err();
    assert_eq!(
        error,
        RegistryError::Duplicate {
            identifier: "fake_api".into(),
            first: "First".into(),
            second: "Second".into(),
        }
    );
    let _ = SourceSchema::default();
}
