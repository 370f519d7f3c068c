//! The source models Basket syncs, `UserProfile` and `Addon`, and their data fields.

use crate::payload::{authors_payload, deleted_flag, ratings_payload, version_payload};
use outsync_core::schema::{ComputedFields, SchemaError, SourceSchema};

/// The schema JSON; computed fields come from [`computed_fields`].
pub const SCHEMA_JSON: &str = r#"{
  "models": [
    {"name": "UserProfile", "label": "User account", "id_path": "id"},
    {"name": "Addon", "label": "Add-on", "id_path": "id"}
  ],
  "fields": [
    {"key": "user_id", "label": "User id", "category": "User account", "type": "number", "model": "UserProfile", "path": "id"},
    {"key": "user_deleted", "label": "Deleted", "category": "User account", "type": "boolean", "model": "UserProfile", "computed": "basket_user_deleted"},
    {"key": "user_display_name", "label": "Display name", "category": "User account", "type": "string", "model": "UserProfile", "path": "display_name"},
    {"key": "user_email", "label": "E-mail", "category": "User account", "type": "string", "model": "UserProfile", "path": "email"},
    {"key": "user_last_login", "label": "Last login", "category": "User account", "type": "datetime", "model": "UserProfile", "path": "last_login"},
    {"key": "user_location", "label": "Location", "category": "User account", "type": "string", "model": "UserProfile", "path": "location"},
    {"key": "user_homepage", "label": "Homepage", "category": "User account", "type": "string", "model": "UserProfile", "path": "homepage"},

    {"key": "addon_id", "label": "Add-on id", "category": "Add-on", "type": "number", "model": "Addon", "path": "id"},
    {"key": "addon_authors", "label": "Authors (full user accounts)", "category": "Add-on", "type": "json", "model": "Addon", "computed": "basket_addon_authors"},
    {"key": "addon_guid", "label": "GUID", "category": "Add-on", "type": "string", "model": "Addon", "path": "guid"},
    {"key": "addon_name", "label": "Name", "category": "Add-on", "type": "string", "model": "Addon", "path": "name"},
    {"key": "addon_default_locale", "label": "Default locale", "category": "Add-on", "type": "string", "model": "Addon", "path": "default_locale"},
    {"key": "addon_slug", "label": "Slug", "category": "Add-on", "type": "string", "model": "Addon", "path": "slug"},
    {"key": "addon_type", "label": "Type", "category": "Add-on", "type": "enum", "model": "Addon", "path": "type",
     "options": ["extension", "statictheme", "dictionary", "search", "language", "theme"]},
    {"key": "addon_status", "label": "Status", "category": "Add-on", "type": "enum", "model": "Addon", "path": "status",
     "options": ["incomplete", "unreviewed", "nominated", "public", "approved", "disabled", "deleted", "rejected"]},
    {"key": "addon_is_disabled", "label": "Disabled by its developer", "category": "Add-on", "type": "boolean", "model": "Addon", "computed": "basket_addon_is_disabled"},
    {"key": "addon_latest_unlisted_version", "label": "Latest unlisted version", "category": "Versions", "type": "json", "model": "Addon", "computed": "basket_addon_latest_unlisted_version"},
    {"key": "addon_current_version", "label": "Current version", "category": "Versions", "type": "json", "model": "Addon", "computed": "basket_addon_current_version"},
    {"key": "addon_last_updated", "label": "Last updated", "category": "Add-on", "type": "datetime", "model": "Addon", "path": "last_updated"},
    {"key": "addon_ratings", "label": "Ratings summary", "category": "Ratings", "type": "json", "model": "Addon", "computed": "basket_addon_ratings"},
    {"key": "addon_categories", "label": "Categories by application", "category": "Add-on", "type": "json", "model": "Addon", "path": "categories"},
    {"key": "addon_average_daily_users", "label": "Average daily users", "category": "Add-on", "type": "number", "model": "Addon", "path": "average_daily_users"},
    {"key": "addon_is_recommended", "label": "Recommended", "category": "Add-on", "type": "boolean", "model": "Addon", "computed": "basket_addon_is_recommended"}
  ]
}"#;

/// The computed fields of [`SCHEMA_JSON`]: projections that send exactly the fields and
/// JSON types Basket expects.
pub fn computed_fields() -> ComputedFields {
    let flag = |key: &'static str| {
        move |object: &serde_json::Value, _: &outsync_core::schema::Inputs<'_>| {
            serde_json::Value::Bool(
                object
                    .get(key)
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(false),
            )
        }
    };
    ComputedFields::new()
        .with("basket_user_deleted", |user, _| deleted_flag(user))
        .with("basket_addon_authors", |addon, _| authors_payload(addon))
        .with("basket_addon_is_disabled", flag("is_disabled"))
        .with("basket_addon_is_recommended", flag("is_recommended"))
        .with("basket_addon_latest_unlisted_version", |addon, _| {
            version_payload(
                addon
                    .get("latest_unlisted_version")
                    .unwrap_or(&serde_json::Value::Null),
            )
        })
        .with("basket_addon_current_version", |addon, _| {
            version_payload(
                addon
                    .get("current_version")
                    .unwrap_or(&serde_json::Value::Null),
            )
        })
        .with("basket_addon_ratings", |addon, _| {
            ratings_payload(addon.get("ratings").unwrap_or(&serde_json::Value::Null))
        })
}

/// The Basket source schema, with its computed fields.
pub fn basket_schema() -> Result<SourceSchema, SchemaError> {
    SourceSchema::from_json(SCHEMA_JSON, &computed_fields())
}
