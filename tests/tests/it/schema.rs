//! Loading schemas: models, fields, getters and their errors.

use outsync_core::schema::{ComputedFields, FieldType, SchemaError, SourceSchema};
use outsync_tests::schema::pretix_schema;

fn load(json: &str) -> Result<SourceSchema, SchemaError> {
    SourceSchema::from_json(json, &ComputedFields::new())
}

#[test]
fn fixture_schema_describes_models_and_fields() {
    let schema = pretix_schema();
    let status = schema.field("order_status").unwrap();
    assert_eq!(status.field_type, FieldType::Enum);
    assert_eq!(status.options[1].label, "paid");
    assert_eq!(status.category, "Order details");
    let lineage: Vec<&str> = schema
        .lineage("OrderPosition")
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(lineage, ["Order", "OrderPosition"]);
    assert_eq!(schema.fields_available_to("Order").len(), 9);
    assert_eq!(schema.fields_available_to("OrderPosition").len(), 15);
}

#[test]
fn schema_errors_name_the_model_or_field() {
    let cases = [
        (
            r#"{"models": [{"name": "A", "parent": "B", "path": "x"}], "fields": []}"#,
            r#"schema model "A": parent model "B" is not defined"#,
        ),
        (
            r#"{"models": [{"name": "A", "parent": "A", "path": "x"}], "fields": []}"#,
            r#"schema model "A": its parents form a cycle"#,
        ),
        (
            r#"{"models": [{"name": "A"}], "fields": [{"key": "f", "type": "string", "model": "B", "path": "f"}]}"#,
            r#"schema field "f": model "B" is not defined; models: A"#,
        ),
        (
            r#"{"models": [{"name": "A"}], "fields": [{"key": "f", "type": "enum", "model": "A", "path": "f"}]}"#,
            r#"schema field "f": type enum needs a list of options"#,
        ),
        (
            r#"{"models": [{"name": "A"}], "fields": [{"key": "f", "type": "string", "model": "A", "computed": "nope"}]}"#,
            r#"schema field "f": computed function "nope" is not registered; registered: []"#,
        ),
        (
            r#"{"models": [{"name": "A"}], "fields": [{"key": "f", "type": "string", "model": "A"}]}"#,
            r#"schema field "f": needs exactly one of "path" and "computed""#,
        ),
        (
            r#"{"models": [{"name": "A"}], "fields": [{"key": "f", "type": "string", "model": "A", "path": "a"},
                                                   {"key": "f", "type": "string", "model": "A", "path": "b"}]}"#,
            r#"schema field "f": is defined twice"#,
        ),
    ];
    for (json, expected) in cases {
        assert_eq!(load(json).unwrap_err().to_string(), expected);
    }
    let broken = load(r#"{"models": [], "fields": [],}"#)
        .unwrap_err()
        .to_string();
    assert!(
        broken.starts_with("schema is not valid JSON: trailing comma"),
        "{broken}"
    );
}
