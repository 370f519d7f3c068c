//! `assign_properties`, mode by mode, with text-separated and native lists.

use outsync_core::mapping::{Property, UpdateMode, assign_properties};
use serde_json::{Map, Value, json};

fn old(values: Value) -> Map<String, Value> {
    values.as_object().cloned().unwrap_or_default()
}

fn prop(field: &str, value: Value, mode: UpdateMode) -> Property {
    Property::new(field, value, mode)
}

fn run(props: &[Property], current: Value, is_new: bool, sep: Option<&str>) -> Value {
    Value::Object(assign_properties(props, &old(current), is_new, sep))
}

#[test]
fn overwrite_writes_even_empty_values() {
    let props = [
        prop("a", json!("new"), UpdateMode::Overwrite),
        prop("b", json!(""), UpdateMode::Overwrite),
        prop("c", json!(null), UpdateMode::Overwrite),
    ];
    let out = run(
        &props,
        json!({"a": "old", "b": "keep?", "c": 1}),
        false,
        Some(";"),
    );
    assert_eq!(out, json!({"a": "new", "b": "", "c": null}));
}

#[test]
fn if_new_writes_only_for_new_objects() {
    let props = [prop("a", json!("x"), UpdateMode::IfNew)];
    assert_eq!(run(&props, json!({}), true, Some(";")), json!({"a": "x"}));
    assert_eq!(run(&props, json!({}), false, Some(";")), json!({}));
    // A new object whose "old" values already hold the field keeps them.
    assert_eq!(run(&props, json!({"a": "set"}), true, Some(";")), json!({}));
}

#[test]
fn if_empty_writes_only_when_current_is_empty_or_missing() {
    let props = [prop("a", json!("x"), UpdateMode::IfEmpty)];
    assert_eq!(run(&props, json!({}), false, Some(";")), json!({"a": "x"}));
    assert_eq!(
        run(&props, json!({"a": ""}), false, Some(";")),
        json!({"a": "x"})
    );
    assert_eq!(
        run(&props, json!({"a": null}), false, Some(";")),
        json!({"a": "x"})
    );
    assert_eq!(run(&props, json!({"a": "y"}), false, Some(";")), json!({}));
}

#[test]
fn if_empty_sees_earlier_entries_of_the_same_call() {
    let props = [
        prop("a", json!("first"), UpdateMode::IfEmpty),
        prop("a", json!("second"), UpdateMode::IfEmpty),
    ];
    assert_eq!(
        run(&props, json!({}), true, Some(";")),
        json!({"a": "first"})
    );
    // …but the external value wins over earlier entries when it exists.
    let props = [
        prop("a", json!("first"), UpdateMode::Overwrite),
        prop("a", json!("second"), UpdateMode::IfEmpty),
    ];
    assert_eq!(
        run(&props, json!({"a": ""}), false, Some(";")),
        json!({"a": "second"})
    );
}

#[test]
fn empty_new_values_are_skipped_by_non_overwrite_modes() {
    for mode in [UpdateMode::IfNew, UpdateMode::IfEmpty, UpdateMode::Append] {
        for empty in [json!(""), json!(null), json!([]), json!(0), json!(false)] {
            let props = [prop("a", empty.clone(), mode)];
            assert_eq!(
                run(&props, json!({}), true, Some(";")),
                json!({}),
                "{mode} {empty}"
            );
            assert_eq!(
                run(&props, json!({}), true, None),
                json!({}),
                "{mode} {empty}"
            );
        }
    }
}

#[test]
fn append_with_separator_adds_missing_items() {
    let props = [prop("tags", json!("b"), UpdateMode::Append)];
    assert_eq!(
        run(&props, json!({"tags": "a;b"}), false, Some(";")),
        json!({})
    );
    let props = [prop("tags", json!("c"), UpdateMode::Append)];
    assert_eq!(
        run(&props, json!({"tags": "a;b"}), false, Some(";")),
        json!({"tags": "a;b;c"})
    );
    assert_eq!(
        run(&props, json!({}), true, Some(";")),
        json!({"tags": "c"})
    );
    assert_eq!(
        run(&props, json!({"tags": ""}), false, Some(";")),
        json!({"tags": "c"})
    );
}

#[test]
fn append_splits_new_values_by_the_separator() {
    let props = [prop("tags", json!("b;c;d"), UpdateMode::Append)];
    assert_eq!(
        run(&props, json!({"tags": "a;b"}), false, Some(";")),
        json!({"tags": "a;b;c;d"})
    );
    let props = [prop("tags", json!("c;c"), UpdateMode::Append)];
    assert_eq!(
        run(&props, json!({"tags": "a"}), false, Some(";")),
        json!({"tags": "a;c"})
    );
}

#[test]
fn append_accumulates_over_entries_of_one_call() {
    let props = [
        prop("tags", json!("a"), UpdateMode::Append),
        prop("tags", json!("b"), UpdateMode::Append),
    ];
    assert_eq!(
        run(&props, json!({}), true, Some(",")),
        json!({"tags": "a,b"})
    );
    assert_eq!(
        run(&props, json!({}), true, None),
        json!({"tags": ["a", "b"]})
    );
}

#[test]
fn append_with_native_lists() {
    let props = [prop("tags", json!("c"), UpdateMode::Append)];
    assert_eq!(
        run(&props, json!({"tags": ["a", "b"]}), false, None),
        json!({"tags": ["a", "b", "c"]})
    );
    assert_eq!(run(&props, json!({"tags": ["c"]}), false, None), json!({}));
    assert_eq!(run(&props, json!({}), true, None), json!({"tags": ["c"]}));
    let props = [prop("tags", json!(["b", "d"]), UpdateMode::Append)];
    assert_eq!(
        run(&props, json!({"tags": ["a", "b"]}), false, None),
        json!({"tags": ["a", "b", "d"]})
    );
    // A scalar current value becomes the first list item.
    let props = [prop("tags", json!("y"), UpdateMode::Append)];
    assert_eq!(
        run(&props, json!({"tags": "x"}), false, None),
        json!({"tags": ["x", "y"]})
    );
}

#[test]
fn append_keeps_native_item_types() {
    let props = [prop("ids", json!(3), UpdateMode::Append)];
    assert_eq!(
        run(&props, json!({"ids": [1, 2]}), false, None),
        json!({"ids": [1, 2, 3]})
    );
    assert_eq!(run(&props, json!({"ids": [3]}), false, None), json!({}));
    assert_eq!(
        run(&props, json!({"ids": "1;2"}), false, Some(";")),
        json!({"ids": "1;2;3"})
    );
}

#[test]
fn output_holds_only_what_must_be_written() {
    let props = [
        prop("email", json!("a@example.org"), UpdateMode::IfEmpty),
        prop("name", json!("Ada"), UpdateMode::IfNew),
        prop("status", json!("paid"), UpdateMode::Overwrite),
    ];
    let out = run(
        &props,
        json!({"email": "old@example.org", "name": "A."}),
        false,
        Some(";"),
    );
    assert_eq!(out, json!({"status": "paid"}));
}
