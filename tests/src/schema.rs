//! A pretix-like source schema (orders with positions) and sample orders.

use outsync_core::schema::{ComputedFields, SourceSchema};
use serde_json::{Value, json};

/// The schema JSON: `Order` with child `OrderPosition` at `positions`.
pub const SCHEMA_JSON: &str = include_str!("../fixtures/pretix-schema.json");

/// The computed fields the schema uses.
pub fn computed_fields() -> ComputedFields {
    ComputedFields::new()
        .with("event_order_code", |order, _| {
            json!(format!(
                "{}-{}",
                text(&order["event"]),
                text(&order["code"])
            ))
        })
        .with("ticket_id", |position, inputs| {
            let order = inputs.get("Order").unwrap_or(&Value::Null);
            json!(format!(
                "{}-{}-{}",
                text(&order["event"]),
                text(&order["code"]),
                text(&position["positionid"])
            ))
        })
        .with("attendee_name_given_name", |position, _| {
            match &position["attendee_name_parts"]["given_name"] {
                Value::String(given) => json!(given),
                _ => position["attendee_name"]
                    .as_str()
                    .and_then(|name| name.split_whitespace().next())
                    .map_or(Value::Null, |given| json!(given)),
            }
        })
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The loaded schema.
pub fn pretix_schema() -> SourceSchema {
    SourceSchema::from_json(SCHEMA_JSON, &computed_fields()).expect("fixture schema is valid")
}

/// A pending order with two admission positions.
pub fn pending_order() -> Value {
    json!({
        "event": "democon",
        "code": "ABC12",
        "email": "buyer@example.org",
        "status": "n",
        "total": 46.5,
        "payment_date": null,
        "invoice_address": {"company": "Example Ltd"},
        "sales_channel": "web",
        "tags": ["vip", "press"],
        "checkins": {},
        "positions": [
            {"positionid": 1, "attendee_name": "Ada Lovelace", "attendee_name_parts": {"given_name": "Ada", "family_name": "Lovelace"},
             "attendee_email": "ada@example.org", "price": 23.25, "item": {"name": "Conference ticket"}},
            {"positionid": 2, "attendee_name": "Grace Hopper", "attendee_email": "grace@example.org", "price": 23.25,
             "item": {"name": "Conference ticket"}}
        ]
    })
}

/// The same order after payment.
pub fn paid_order() -> Value {
    let mut order = pending_order();
    order["status"] = json!("p");
    order["payment_date"] = json!("2026-11-20T10:15:00+00:00");
    order
}
