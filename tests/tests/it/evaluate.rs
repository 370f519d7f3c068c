//! Field evaluation: getters, computed fields, value maps, conversions, list joiners.

use outsync_core::SyncError;
use outsync_core::mapping::ObjectMapping;
use outsync_core::schema::Inputs;
use outsync_tests::schema::{pending_order, pretix_schema};
use serde_json::{Value, json};

fn mapping(model: &str, id_field: &str, entries: Value) -> ObjectMapping {
    let json = json!({"id": "m", "source_model": model, "external_object_type": "x",
        "source_id_field": id_field, "external_id_field": "id", "property_mappings": entries});
    ObjectMapping::from_value(&json, &pretix_schema()).unwrap()
}

fn values(mapping: &ObjectMapping, inputs: &Inputs<'_>, joiner: Option<&str>) -> Vec<Value> {
    mapping
        .evaluate(inputs, joiner)
        .unwrap()
        .into_iter()
        .map(|property| property.value)
        .collect()
}

#[test]
fn paths_computed_fields_and_constants() {
    let order = pending_order();
    let m = mapping(
        "Order",
        "event_order_code",
        json!([
            {"source_field": "event_order_code", "external_field": "code"},
            {"source_field": "invoice_address_company", "external_field": "company"},
            {"source_field": "payment_date", "external_field": "paid_at"},
            {"constant": {"origin": "outsync"}, "external_field": "meta"}
        ]),
    );
    let inputs = Inputs::root("Order", &order);
    assert_eq!(
        values(&m, &inputs, Some(",")),
        [
            json!("democon-ABC12"),
            json!("Example Ltd"),
            json!(null),
            json!({"origin": "outsync"})
        ]
    );
    assert_eq!(m.id_value(&inputs), "democon-ABC12");
}

#[test]
fn child_inputs_read_parent_and_child() {
    let order = pending_order();
    let m = mapping(
        "OrderPosition",
        "ticket_id",
        json!([
            {"source_field": "attendee_name_given_name", "external_field": "first"},
            {"source_field": "email", "external_field": "buyer"},
            {"source_field": "ticket_id", "external_field": "ticket"}
        ]),
    );
    let root = Inputs::root("Order", &order);
    let second = root.with_child("OrderPosition", &order["positions"][1], "2".into());
    // Given name from name parts is absent for Grace: computed from the full name.
    assert_eq!(
        values(&m, &second, None),
        [
            json!("Grace"),
            json!("buyer@example.org"),
            json!("democon-ABC12-2")
        ]
    );
}

#[test]
fn value_maps_translate_enums_and_enum_lists() {
    let order = pending_order();
    let m = mapping(
        "Order",
        "email",
        json!([
            {"source_field": "order_status", "external_field": "status", "value_map": "{\"n\": \"pending\", \"p\": \"paid\"}"},
            {"source_field": "order_tags", "external_field": "tags", "value_map": {"vip": "VIP", "press": "Press"}},
            {"source_field": "order_tags", "external_field": "raw_tags"}
        ]),
    );
    let inputs = Inputs::root("Order", &order);
    assert_eq!(
        values(&m, &inputs, Some(";")),
        [json!("pending"), json!("VIP;Press"), json!("vip;press")]
    );
    assert_eq!(
        values(&m, &inputs, None),
        [
            json!("pending"),
            json!(["VIP", "Press"]),
            json!(["vip", "press"])
        ]
    );
}

#[test]
fn unmapped_enum_value_is_a_config_error_naming_field_and_value() {
    let mut order = pending_order();
    order["status"] = json!("r");
    let m = mapping(
        "Order",
        "email",
        json!([
            {"source_field": "email", "external_field": "e"},
            {"source_field": "order_status", "external_field": "status", "value_map": {"n": "pending", "p": "paid"}}
        ]),
    );
    let error = m
        .evaluate(&Inputs::root("Order", &order), Some(","))
        .unwrap_err();
    assert!(matches!(error, SyncError::Config { .. }));
    assert_eq!(
        error.messages(),
        [
            r#"mapping m, entry 2, field "order_status": the value map has no entry for "r"; add it to the value map"#
        ]
    );
}

#[test]
fn conversions_apply_and_fail_with_a_located_message() {
    let mut order = pending_order();
    order["payment_date"] = json!("2026-11-20T10:15:00+00:00");
    let m = mapping(
        "Order",
        "email",
        json!([
            {"source_field": "order_total", "external_field": "total", "convert": "string"},
            {"source_field": "payment_date", "external_field": "day", "convert": "date"},
            {"source_field": "invoice_address_company", "external_field": "n", "convert": "number"}
        ]),
    );
    order["invoice_address"]["company"] = json!("42");
    let inputs = Inputs::root("Order", &order);
    assert_eq!(
        values(&m, &inputs, None),
        [json!("46.5"), json!("2026-11-20"), json!(42)]
    );
    order["invoice_address"]["company"] = json!("Example Ltd");
    let error = m
        .evaluate(&Inputs::root("Order", &order), None)
        .unwrap_err();
    assert!(matches!(error, SyncError::Permanent { .. }));
    assert_eq!(
        error.messages(),
        [
            r#"mapping m, entry 3, field "invoice_address_company": cannot convert to number: "Example Ltd" is not a number"#
        ]
    );
}
