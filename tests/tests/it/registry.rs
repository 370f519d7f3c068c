//! The inventory-based provider registry, and the framework loading a provider's mappings.

use outsync_core::mapping::ObjectMapping;
use outsync_core::{
    ObjectRef, OutboundSyncProvider, ProviderConfig, ProviderRegistration, ProviderType, Registry,
    RegistryError, SyncAction, SyncError, SyncOutcome, SyncRequest, async_trait, register_provider,
    sync_object,
};
use outsync_tests::providers::ORDER_MAPPINGS;
use outsync_tests::schema::pretix_schema;
use serde_json::{Value, json};
use std::sync::Arc;

/// Accepts only `ticketorders` mappings and needs a `greeting` setting.
struct Greeter {
    greeting: String,
}

impl ProviderType for Greeter {
    const IDENTIFIER: &'static str = "greeter";
    const DISPLAY_NAME: &'static str = "Greeting service";
    const SETTINGS: &'static [&'static str] = &["greeting"];

    fn from_settings(config: &ProviderConfig) -> Result<Self, SyncError> {
        let greeting = config.settings.get("greeting").and_then(Value::as_str);
        let greeting = greeting.ok_or_else(|| SyncError::config("setting \"greeting\" is missing"));
        Ok(Self {
            greeting: greeting?.to_owned(),
        })
    }

    fn check_mapping(mapping: &ObjectMapping) -> Result<(), SyncError> {
        if mapping.external_object_type() == "ticketorders" {
            return Ok(());
        }
        Err(SyncError::config(format!(
            "mapping {}: greeter only knows ticketorders",
            mapping.id()
        )))
    }
}

#[async_trait]
impl OutboundSyncProvider for Greeter {
    async fn sync_object_with_properties(
        &self,
        request: SyncRequest<'_>,
    ) -> Result<Option<SyncOutcome>, SyncError> {
        let outcome = SyncOutcome::new(SyncAction::Create, &request);
        Ok(Some(outcome.with_info(json!(self.greeting))))
    }
}

register_provider!(Greeter);

fn config(settings: Value) -> ProviderConfig {
    ProviderConfig {
        settings,
        schema: Arc::new(pretix_schema()),
    }
}

fn order_mappings() -> Value {
    serde_json::from_str(ORDER_MAPPINGS).unwrap()
}

#[tokio::test]
async fn a_registered_type_is_built_with_the_mappings_the_framework_loaded() {
    let registry = Registry::global().unwrap();
    let listed: Vec<(&str, &str)> = registry
        .providers()
        .iter()
        .map(|r| (r.identifier, r.display_name))
        .collect();
    assert!(
        listed.contains(&("greeter", "Greeting service")),
        "{listed:?}"
    );
    let settings = json!({"greeting": "hello", "mappings": order_mappings()});
    let provider = registry.build("greeter", &config(settings)).unwrap();
    assert_eq!(provider.identifier(), "greeter");
    assert_eq!(provider.display_name(), "Greeting service");
    assert_eq!(provider.mappings().len(), 1);
    assert!(provider.handles_object_type("Order"));
    assert!(!provider.handles_object_type("Invoice"));

    let order = json!({"event": "democon", "code": "A1", "email": "a@example.org",
                       "status": "p", "total": "10.00", "positions": []});
    let report = sync_object(&provider, &ObjectRef::new("Order", "A1"), &order)
        .await
        .unwrap();
    let outcomes: Vec<&SyncOutcome> = report.mapped_objects.outcomes("1").collect();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].info, json!("hello"));
}

#[test]
fn configuration_errors_name_the_provider_and_what_is_wrong() {
    let registry = Registry::global().unwrap();
    let build = |settings: Value| registry.build("greeter", &config(settings)).unwrap_err();

    let missing_mappings = build(json!({"greeting": "hi"}));
    assert_eq!(
        missing_mappings.messages(),
        [r#"provider "greeter": setting "mappings" is required (a list of mappings)"#]
    );
    let missing_setting = build(json!({"mappings": order_mappings()}));
    assert_eq!(
        missing_setting.messages(),
        [r#"provider "greeter": setting "greeting" is missing"#]
    );
    let mut foreign = order_mappings();
    foreign[0]["external_object_type"] = json!("invoices");
    let refused = build(json!({"greeting": "hi", "mappings": foreign}));
    assert_eq!(
        refused.messages(),
        [r#"provider "greeter": mapping 1: greeter only knows ticketorders"#]
    );
    assert!(matches!(refused, SyncError::Config { .. }));
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
    let named = |identifier, display_name| ProviderRegistration {
        identifier,
        display_name,
        ..ProviderRegistration::of::<Greeter>()
    };
    let error = Registry::from_registrations([
        named("greeter", "First"),
        named("other", "Other"),
        named("greeter", "Second"),
    ])
    .unwrap_err();
    assert_eq!(
        error,
        RegistryError::Duplicate {
            identifier: "greeter".into(),
            first: "First".into(),
            second: "Second".into(),
        }
    );
}
