//! What the fuzz targets share: the pretix-like schema and mappings of outsync's tests, a
//! provider that only carries mappings, and the checks each target makes.

use outsync_core::mapping::ObjectMapping;
use outsync_core::schema::{ComputedFields, SourceSchema};
use outsync_core::{
    ConfiguredProvider, ObjectRef, OutboundSyncProvider, SyncError, SyncOutcome, SyncRequest,
};
use outsync_server::enqueue_body::EnqueueRequest;
use serde_json::{Value, json};
use std::sync::OnceLock;

/// The schema of outsync's tests (orders with positions).
pub const SCHEMA_JSON: &str = include_str!("../../tests/fixtures/pretix-schema.json");
/// Mappings of outsync's tests: positions → tickets, orders → ticketorders.
pub const MAPPINGS_JSON: &str = include_str!("../../tests/fixtures/order-and-ticket-mappings.json");

fn joined(parts: &[&Value]) -> Value {
    let text: Vec<String> = parts
        .iter()
        .map(|part| match part {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .collect();
    json!(text.join("-"))
}

/// The computed fields the schema names.
pub fn computed() -> ComputedFields {
    ComputedFields::new()
        .with("event_order_code", |order, _| {
            joined(&[&order["event"], &order["code"]])
        })
        .with("ticket_id", |position, inputs| {
            let order = inputs.get("Order").unwrap_or(&Value::Null);
            joined(&[&order["event"], &order["code"], &position["positionid"]])
        })
        .with("attendee_name_given_name", |position, _| {
            position["attendee_name_parts"]["given_name"].clone()
        })
}

/// The loaded schema (once per process).
pub fn schema() -> &'static SourceSchema {
    static SCHEMA: OnceLock<SourceSchema> = OnceLock::new();
    SCHEMA.get_or_init(|| SourceSchema::from_json(SCHEMA_JSON, &computed()).expect("schema"))
}

/// A provider that sends nothing (for [`outsync_core::preview`], which only needs the
/// mappings).
pub struct SendsNothing;

#[outsync_core::async_trait]
impl OutboundSyncProvider for SendsNothing {
    async fn sync_object_with_properties(
        &self,
        _request: SyncRequest<'_>,
    ) -> Result<Option<SyncOutcome>, SyncError> {
        Ok(None)
    }
}

/// `mappings` served by a provider that sends nothing.
pub fn mappings_only(mappings: Vec<ObjectMapping>) -> ConfiguredProvider {
    ConfiguredProvider::new("fuzz", mappings, std::sync::Arc::new(SendsNothing))
}

/// The fixture mappings as a provider (once per process).
pub fn fixture_provider() -> &'static ConfiguredProvider {
    static PROVIDER: OnceLock<ConfiguredProvider> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        mappings_only(ObjectMapping::load_all(MAPPINGS_JSON, schema()).expect("mappings"))
    })
}

/// A sample order with two positions.
pub fn sample_order() -> Value {
    json!({"event": "democon", "code": "ABC12", "email": "a@example.org", "status": "p",
           "total": "23.00", "payment_date": "2026-11-01T10:00:00Z", "sales_channel": "web",
           "tags": ["vip", "press"], "checkins": {"12": "2026-11-02T09:00:00Z"},
           "positions": [
             {"positionid": 1, "attendee_name": "Ada L", "attendee_email": "ada@example.org",
              "price": "11.50", "item": {"name": "Ticket"}},
             {"positionid": 2, "attendee_name": null, "price": 11.5, "item": {"name": "Ticket"}}]})
}

/// Mapping JSON: loading never panics; what loads serializes to JSON that loads again
/// to the same mappings, and evaluates over the sample order without panicking.
pub fn check_mapping_json(text: &str) {
    let Ok(mappings) = ObjectMapping::load_all(text, schema()) else {
        return;
    };
    let json = Value::Array(mappings.iter().map(ObjectMapping::to_json).collect());
    let again = ObjectMapping::load_value(&json, schema())
        .unwrap_or_else(|error| panic!("serialized mappings do not load again: {error}\n{json}"));
    let json_again = Value::Array(again.iter().map(ObjectMapping::to_json).collect());
    assert_eq!(json, json_again, "the round trip changed the mappings");
    let provider = mappings_only(again);
    let _ = outsync_core::preview(&provider, &ObjectRef::new("Order", "x"), &sample_order());
}

/// Schema JSON: loading never panics; a schema that loads accepts mappings of its fields.
pub fn check_schema_json(text: &str) {
    let _ = SourceSchema::from_json(text, &computed());
}

/// Field evaluation over an arbitrary object never panics.
pub fn check_evaluate(object: &Value) {
    let _ = outsync_core::preview(fixture_provider(), &ObjectRef::new("Order", "x"), object);
}

/// An enqueue body: reading never panics, and what is accepted names a provider, a type
/// and an id.
pub fn check_enqueue_body(body: &Value) {
    if let Ok(request) = EnqueueRequest::from_json(body) {
        for item in request.items() {
            assert!(!item.provider.is_empty());
            assert!(!item.object.object_type.is_empty());
            assert!(!item.object.id.is_empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checks_accept_the_fixtures() {
        check_mapping_json(MAPPINGS_JSON);
        check_schema_json(SCHEMA_JSON);
        check_evaluate(&sample_order());
        check_enqueue_body(&json!({"provider": "p", "object_type": "T", "object_id": 1}));
    }
}
