//! Builds the `address_book` provider from the registry and syncs one order twice.
//!
//! Run: `cargo run --example custom_provider`

use outsync_core::schema::{ComputedFields, SourceSchema};
use outsync_core::{ObjectRef, ProviderConfig, Registry, sync_object};
use serde_json::json;
use std::sync::Arc;

// Linking the crate is what registers its provider.
use outsync_examples as _;

const SCHEMA: &str = r#"{
  "models": [{"name": "Order", "id_path": "code"}],
  "fields": [
    {"key": "email", "type": "string", "model": "Order", "path": "email"},
    {"key": "name", "type": "string", "model": "Order", "path": "customer.name"},
    {"key": "status", "type": "enum", "model": "Order", "path": "status", "options": ["n", "p"]}
  ]
}"#;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let schema = Arc::new(SourceSchema::from_json(SCHEMA, &ComputedFields::new())?);
    let settings = json!({"mappings": [{
    "id": "contacts", "source_model": "Order", "external_object_type": "contact",
    "source_id_field": "email", "external_id_field": "email",
    "property_mappings": [
        {"source_field": "name", "external_field": "name", "mode": "if_empty"},
        {"source_field": "status", "external_field": "customer_status",
         "value_map": {"n": "lead", "p": "customer"}}
    ]}]});
    let registry = Registry::global()?;
    for registration in registry.providers() {
        println!(
            "registered provider: {} ({})",
            registration.identifier, registration.display_name
        );
    }
    let provider = registry.build("address_book", &ProviderConfig { settings, schema })?;

    let order = ObjectRef::new("Order", "A1");
    let mut data =
        json!({"code": "A1", "email": "jo@example.org", "customer": {"name": "Jo"}, "status": "n"});
    for round in 1..=2 {
        let report = sync_object(&provider, &order, &data).await?;
        for (mapping, results) in report.mapped_objects.iter() {
            for result in results {
                println!(
                    "sync {round}: mapping {mapping}: {} {} = {}",
                    result.outcome.action,
                    result.outcome.external_id_field,
                    result.outcome.id_value
                );
            }
        }
        data["status"] = json!("p");
    }
    Ok(())
}
