//! Loading mappings: both JSON formats, and every malformed case named precisely.

use outsync_core::mapping::{
    IdTranslation, ObjectMapping, PropertySource, UpdateMode, translate_property_mappings,
};
use outsync_tests::providers::{ORDER_AND_TICKET_MAPPINGS, ORDER_MAPPINGS};
use outsync_tests::schema::pretix_schema;
use serde_json::{Value, json};

fn problems(json: &str) -> Vec<String> {
    match ObjectMapping::load_all(json, &pretix_schema()) {
        Ok(_) => panic!("expected {json} to be rejected"),
        Err(error) => error.problems.iter().map(ToString::to_string).collect(),
    }
}

fn problems_of(mapping: &Value) -> Vec<String> {
    problems(&json!([mapping]).to_string())
}

fn order_mapping(entries: Value) -> Value {
    json!({"id": 7, "source_model": "Order", "external_object_type": "contacts",
           "source_id_field": "email", "external_id_field": "email", "property_mappings": entries})
}

#[test]
fn loads_pretix_format_verbatim() {
    let mappings = ObjectMapping::load_all(ORDER_MAPPINGS, &pretix_schema()).unwrap();
    let mapping = &mappings[0];
    assert_eq!(mapping.id(), "1");
    assert_eq!(mapping.source_model(), "Order");
    assert_eq!(mapping.source_id_field().key, "event_order_code");
    let entries = mapping.property_mappings();
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[1].source_field(), Some("order_status"));
    assert_eq!(entries[1].value_map().unwrap()["p"], json!("paid"));
    assert!(entries[0].value_map().is_none(), "\"\" means no value map");
    assert_eq!(entries[3].mode(), UpdateMode::Overwrite);
}

#[test]
fn loads_outsync_format_with_constants_and_conversions() {
    let mappings = ObjectMapping::load_all(ORDER_AND_TICKET_MAPPINGS, &pretix_schema()).unwrap();
    assert!(mappings[0].is_child_mapping());
    assert!(!mappings[1].is_child_mapping());
    let constant = &mappings[1].property_mappings()[3];
    assert!(matches!(constant.source(), PropertySource::Constant(v) if v == "pretix"));
    assert_eq!(constant.mode(), UpdateMode::IfNew);
    assert_eq!(
        mappings[0].property_mappings()[1].mode(),
        UpdateMode::IfEmpty
    );
}

#[test]
fn round_trips_through_both_formats() {
    let schema = pretix_schema();
    let mappings = ObjectMapping::load_all(ORDER_AND_TICKET_MAPPINGS, &schema).unwrap();
    for mapping in &mappings {
        for json in [mapping.to_json(), mapping.to_pretix_json()] {
            let again = ObjectMapping::from_value(&json, &schema).unwrap();
            assert_eq!(again.to_json(), mapping.to_json());
        }
    }
}

#[test]
fn unknown_model() {
    let mut mapping = order_mapping(json!([]));
    mapping["source_model"] = json!("Invoice");
    assert_eq!(
        problems_of(&mapping),
        [
            r#"mapping 7, field "source_model": model "Invoice" is not defined; models: Order, OrderPosition"#
        ]
    );
}

#[test]
fn unknown_field() {
    let found = problems_of(&order_mapping(json!([
        {"source_field": "email", "external_field": "a"},
        {"source_field": "shoe_size", "external_field": "b"}
    ])));
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with(r#"mapping 7, entry 2, field "shoe_size": is not a field of the schema; fields available to Order: event_order_code, email"#),
        "{found:?}"
    );
}

#[test]
fn missing_id_field() {
    let mut mapping = order_mapping(json!([]));
    mapping.as_object_mut().unwrap().remove("source_id_field");
    assert_eq!(
        problems_of(&mapping),
        [r#"mapping 7, field "source_id_field": "source_id_field" is missing"#]
    );
}

#[test]
fn missing_mapping_id_uses_the_position() {
    let mut mapping = order_mapping(json!([]));
    mapping.as_object_mut().unwrap().remove("id");
    assert_eq!(
        problems_of(&mapping),
        [r#"mapping #1, field "id": "id" is missing or empty (a string or number)"#]
    );
}

#[test]
fn invalid_mode() {
    let found = problems_of(&order_mapping(json!([
        {"pretix_field": "email", "external_field": "a", "value_map": "", "overwrite": "sometimes"}
    ])));
    assert_eq!(
        found,
        [
            r#"mapping 7, entry 1, field "email": "sometimes" is not an update mode; use one of overwrite, if_new, if_empty, append"#
        ]
    );
}

#[test]
fn invalid_value_map_json() {
    let found = problems_of(&order_mapping(json!([
        {"pretix_field": "order_status", "external_field": "s", "value_map": "{\"n\": \"pending\",}", "overwrite": "overwrite"}
    ])));
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with(r#"mapping 7, entry 1, field "order_status": value_map is not valid JSON: trailing comma at line 1 column"#),
        "{found:?}"
    );
}

#[test]
fn value_map_keys_must_be_options() {
    let found = problems_of(&order_mapping(json!([
        {"source_field": "order_status", "external_field": "s", "value_map": {"n": "pending", "x": "?", "paid": "paid"}}
    ])));
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with(r#"mapping 7, entry 1, field "order_status": value_map keys "#),
        "{found:?}"
    );
    assert!(
        found[0].contains(r#""paid""#) && found[0].contains(r#""x""#),
        "{found:?}"
    );
    assert!(
        found[0].ends_with("are not options of this field; options: n, p, e, c, r"),
        "{found:?}"
    );
}

#[test]
fn value_map_on_a_field_without_options() {
    let found = problems_of(&order_mapping(json!([
        {"source_field": "order_total", "external_field": "t", "value_map": {"1": "one"}}
    ])));
    assert_eq!(
        found,
        [
            r#"mapping 7, entry 1, field "order_total": value_map only applies to enum fields; this field is of type number"#
        ]
    );
}

#[test]
fn duplicate_mapping_ids() {
    let mapping = order_mapping(json!([]));
    let found = problems(&json!([mapping, mapping]).to_string());
    assert_eq!(
        found,
        [r#"mapping 7, field "id": id is used by mapping #1 and #2 too; ids must be unique"#]
    );
}

#[test]
fn broken_document_json_names_the_mapping() {
    let text = r#"[
  {"id": "contacts", "source_model": "Order", "external_object_type": "c",
   "source_id_field": "email", "external_id_field": "email", "property_mappings": [
     {"source_field": "email", "external_field": "e"},
   ]}
]"#;
    let found = problems(text);
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with("mapping contacts: not valid JSON: trailing comma at line 5 column 4"),
        "{found:?}"
    );
}

#[test]
fn broken_pretix_property_string_names_mapping_entry_and_field() {
    let mapping = json!({"id": 3, "pretix_model": "Order", "external_object_type": "c",
        "pretix_id_field": "email", "external_id_field": "email",
        "property_mappings": "[{\"pretix_field\": \"email\", \"external_field\": \"e\", \"value_map\": \"\", \"overwrite\": \"overwrite\"}, {\"pretix_field\": \"order_total\", \"external_field\": \"t\", \"value_map\": \"\", \"overwrite\": \"overwrite\",}]"});
    let found = problems_of(&mapping);
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with(r#"mapping 3, entry 2, field "order_total": property_mappings is not valid JSON: trailing comma"#),
        "{found:?}"
    );
}

#[test]
fn child_field_in_parent_mapping_names_the_needed_input() {
    let found = problems_of(&order_mapping(json!([
        {"source_field": "attendee_email", "external_field": "e"}
    ])));
    assert_eq!(
        found,
        [
            r#"mapping 7, entry 1, field "attendee_email": needs input OrderPosition, but a mapping on Order has inputs Order"#
        ]
    );
}

#[test]
fn parent_fields_are_available_in_child_mappings() {
    let mapping = json!({"id": 1, "source_model": "OrderPosition", "external_object_type": "t",
        "source_id_field": "ticket_id", "external_id_field": "n",
        "property_mappings": [{"source_field": "email", "external_field": "buyer"}]});
    ObjectMapping::from_value(&mapping, &pretix_schema()).unwrap();
}

#[test]
fn reports_every_problem_at_once() {
    let found = problems_of(&order_mapping(json!([
        {"source_field": "nope", "external_field": "a"},
        {"source_field": "email", "mode": "always"},
        {"external_field": "c", "colour": "red"}
    ])));
    assert_eq!(found.len(), 5, "{found:?}");
    assert!(
        found[1].starts_with(
            r#"mapping 7, entry 2, field "external_field": "external_field" is missing"#
        )
    );
    assert!(
        found[2]
            .starts_with(r#"mapping 7, entry 2, field "email": "always" is not an update mode"#)
    );
    assert!(found[3].starts_with(r#"mapping 7, entry 3, field "colour": unknown key"#));
    assert!(
        found[4].starts_with(r#"mapping 7, entry 3, field "source_field": needs "source_field""#)
    );
}

#[test]
fn incompatible_conversion() {
    let found = problems_of(&order_mapping(json!([
        {"source_field": "order_tags", "external_field": "n", "convert": "number"}
    ])));
    assert_eq!(
        found,
        [
            r#"mapping 7, entry 1, field "order_tags": cannot convert a field of type enum_list to number"#
        ]
    );
}

#[test]
fn translated_keys_point_to_new_ids_or_fail_clearly() {
    let entries = json!([
        {"pretix_field": "checkin_date_12", "external_field": "checked_in", "value_map": "", "overwrite": "overwrite"},
        {"pretix_field": "email", "external_field": "e", "value_map": "", "overwrite": "overwrite"}
    ]);
    // Copy: list 5 became 12 (which the schema has); list 12 has no counterpart.
    let good = translate_property_mappings(
        &json!([{"pretix_field": "checkin_date_5", "external_field": "x", "value_map": "", "overwrite": "overwrite"}]),
        &[IdTranslation::new("checkin_date_", [(5, 12)])],
    );
    assert_eq!(good[0]["pretix_field"], "checkin_date_12");
    let copied =
        translate_property_mappings(&entries, &[IdTranslation::new("checkin_date_", [(7, 8)])]);
    assert_eq!(copied[0]["pretix_field"], "_invalid_checkin_date_12");
    assert_eq!(copied[1], entries[1]);
    let found = problems_of(&order_mapping(copied));
    assert_eq!(
        found,
        [
            r#"mapping 7, entry 1, field "_invalid_checkin_date_12": refers to an object that has no counterpart in this copy (marked by translate_property_mappings); choose the field "checkin_date_12" again"#
        ]
    );
}
