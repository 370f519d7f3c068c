//! The default mappings: user accounts to `/amo-sync/userprofile/`, add-ons to
//! `/amo-sync/addon/`, producing exactly the payloads of the AMO sync documentation.

/// The default mappings in outsync's JSON format. `external_object_type` selects the
/// endpoint (`userprofile` or `addon`); replace them with your own JSON to send less.
pub const DEFAULT_MAPPINGS: &str = r#"[
  {"id": "userprofile", "source_model": "UserProfile", "external_object_type": "userprofile",
   "source_id_field": "user_id", "external_id_field": "id",
   "property_mappings": [
     {"source_field": "user_id", "external_field": "id"},
     {"source_field": "user_deleted", "external_field": "deleted"},
     {"source_field": "user_display_name", "external_field": "display_name"},
     {"source_field": "user_email", "external_field": "email"},
     {"source_field": "user_last_login", "external_field": "last_login"},
     {"source_field": "user_location", "external_field": "location"},
     {"source_field": "user_homepage", "external_field": "homepage"}
   ]},
  {"id": "addon", "source_model": "Addon", "external_object_type": "addon",
   "source_id_field": "addon_id", "external_id_field": "id",
   "property_mappings": [
     {"source_field": "addon_authors", "external_field": "authors"},
     {"source_field": "addon_average_daily_users", "external_field": "average_daily_users"},
     {"source_field": "addon_categories", "external_field": "categories"},
     {"source_field": "addon_current_version", "external_field": "current_version"},
     {"source_field": "addon_default_locale", "external_field": "default_locale"},
     {"source_field": "addon_guid", "external_field": "guid"},
     {"source_field": "addon_id", "external_field": "id"},
     {"source_field": "addon_is_disabled", "external_field": "is_disabled"},
     {"source_field": "addon_is_recommended", "external_field": "is_recommended"},
     {"source_field": "addon_last_updated", "external_field": "last_updated"},
     {"source_field": "addon_latest_unlisted_version", "external_field": "latest_unlisted_version"},
     {"source_field": "addon_name", "external_field": "name"},
     {"source_field": "addon_ratings", "external_field": "ratings"},
     {"source_field": "addon_slug", "external_field": "slug"},
     {"source_field": "addon_status", "external_field": "status"},
     {"source_field": "addon_type", "external_field": "type"}
   ]}
]"#;
