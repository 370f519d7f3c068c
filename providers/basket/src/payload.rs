//! The shapes Basket receives: exactly the fields the AMO sync documents, with Basket's JSON
//! types (booleans default to `false`, averages are floats, counts are integers).

use serde_json::{Map, Value, json};

/// The fields of a user account Basket receives.
pub const USER_FIELDS: [&str; 7] = [
    "id",
    "deleted",
    "display_name",
    "email",
    "last_login",
    "location",
    "homepage",
];

/// The fields of an add-on Basket receives.
pub const ADDON_FIELDS: [&str; 16] = [
    "id",
    "authors",
    "guid",
    "name",
    "default_locale",
    "slug",
    "type",
    "status",
    "is_disabled",
    "latest_unlisted_version",
    "current_version",
    "last_updated",
    "ratings",
    "categories",
    "average_daily_users",
    "is_recommended",
];

/// The fields of a version object Basket receives.
pub const VERSION_FIELDS: [&str; 4] = [
    "id",
    "compatibility",
    "is_strict_compatibility_enabled",
    "version",
];

fn field(object: &Value, key: &str) -> Value {
    object.get(key).cloned().unwrap_or(Value::Null)
}

/// `deleted` as Basket wants it: a boolean, `false` when the source has none.
pub fn deleted_flag(user: &Value) -> Value {
    Value::Bool(
        user.get("deleted")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    )
}

/// A user account as Basket receives it (also each entry of an add-on's `authors`).
pub fn user_payload(user: &Value) -> Value {
    let mut out = Map::new();
    for key in USER_FIELDS {
        let value = if key == "deleted" {
            deleted_flag(user)
        } else {
            field(user, key)
        };
        out.insert(key.to_owned(), value);
    }
    Value::Object(out)
}

/// The authors of an add-on, each with the full user payload.
pub fn authors_payload(addon: &Value) -> Value {
    match addon.get("authors") {
        Some(Value::Array(authors)) => Value::Array(authors.iter().map(user_payload).collect()),
        _ => Value::Array(Vec::new()),
    }
}

/// A version reduced to the fields Basket receives; `null` stays `null`.
pub fn version_payload(version: &Value) -> Value {
    match version {
        Value::Object(_) => {
            let mut out = Map::new();
            for key in VERSION_FIELDS {
                let value = match key {
                    "is_strict_compatibility_enabled" => {
                        Value::Bool(version.get(key).and_then(Value::as_bool).unwrap_or(false))
                    }
                    _ => field(version, key),
                };
                out.insert(key.to_owned(), value);
            }
            Value::Object(out)
        }
        _ => Value::Null,
    }
}

/// Ratings with floats for the averages and integers for the counts.
pub fn ratings_payload(ratings: &Value) -> Value {
    match ratings {
        Value::Object(_) => {
            let float = |key: &str| json!(ratings.get(key).and_then(Value::as_f64).unwrap_or(0.0));
            let int = |key: &str| {
                let number = ratings.get(key).and_then(Value::as_f64).unwrap_or(0.0);
                json!(number.round() as i64)
            };
            json!({
                "average": float("average"),
                "bayesian_average": float("bayesian_average"),
                "count": int("count"),
                "text_count": int("text_count"),
            })
        }
        _ => Value::Null,
    }
}

/// An add-on as Basket receives it (the default mappings produce the same).
pub fn addon_payload(addon: &Value) -> Value {
    let mut out = Map::new();
    for key in ADDON_FIELDS {
        let value = match key {
            "authors" => authors_payload(addon),
            "current_version" | "latest_unlisted_version" => version_payload(&field(addon, key)),
            "ratings" => ratings_payload(&field(addon, key)),
            "is_disabled" | "is_recommended" => {
                Value::Bool(addon.get(key).and_then(Value::as_bool).unwrap_or(false))
            }
            _ => field(addon, key),
        };
        out.insert(key.to_owned(), value);
    }
    Value::Object(out)
}
