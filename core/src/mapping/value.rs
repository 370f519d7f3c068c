//! Helpers on JSON values shared by evaluation and `assign_properties`.

use serde_json::Value;

/// Whether a value counts as empty, with pretix's (Python's) truthiness: `null`, `false`,
/// `0`, `""`, `[]` and `{}` are empty.
pub fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(flag) => !flag,
        Value::Number(number) => number.as_f64() == Some(0.0),
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
    }
}

/// The text form of a value: strings as they are, `null` as `""`, everything else as JSON.
pub fn value_to_string(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn truthiness_matches_python() {
        for empty in [
            json!(null),
            json!(false),
            json!(0),
            json!(0.0),
            json!(""),
            json!([]),
            json!({}),
        ] {
            assert!(is_empty(&empty), "{empty} should be empty");
        }
        for full in [
            json!(true),
            json!(1),
            json!(-0.5),
            json!("x"),
            json!([0]),
            json!({"a": 1}),
        ] {
            assert!(!is_empty(&full), "{full} should not be empty");
        }
    }

    #[test]
    fn text_forms() {
        assert_eq!(value_to_string(&json!("a")), "a");
        assert_eq!(value_to_string(&json!(null)), "");
        assert_eq!(value_to_string(&json!(12.5)), "12.5");
        assert_eq!(value_to_string(&json!(true)), "true");
    }
}
