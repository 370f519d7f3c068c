//! Building the provider from its JSON settings.

use crate::backend::AdmissionPolicy;
use crate::mailman::MailmanBackend;
use crate::provider::{MailingListProvider, MembershipPolicy};
use outsync_core::mapping::ObjectMapping;
use outsync_core::{ProviderConfig, ProviderType, SyncError};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

fn secret(settings: &Value, name: &str) -> Result<Option<String>, SyncError> {
    let text = |key: String| {
        settings
            .get(&key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if let Some(value) = text(name.to_owned()) {
        return Ok(Some(value));
    }
    if let Some(variable) = text(format!("{name}_env")) {
        return std::env::var(&variable).map(Some).map_err(|_| {
            SyncError::config(format!(
                "setting \"{name}_env\": environment variable {variable} is not set"
            ))
        });
    }
    if let Some(path) = text(format!("{name}_file")) {
        return std::fs::read_to_string(&path)
            .map(|content| Some(content.trim().to_owned()))
            .map_err(|error| {
                SyncError::config(format!(
                    "setting \"{name}_file\": cannot read {path}: {error}"
                ))
            });
    }
    Ok(None)
}

fn flag(settings: &Value, key: &str, default: bool) -> Result<bool, SyncError> {
    match settings.get(key) {
        None => Ok(default),
        Some(Value::Bool(value)) => Ok(*value),
        Some(other) => Err(SyncError::config(format!(
            "setting \"{key}\" must be true or false, got {other}"
        ))),
    }
}

impl ProviderType for MailingListProvider {
    const IDENTIFIER: &'static str = "mailing_list";
    const DISPLAY_NAME: &'static str = "Mailing list";
    const SETTINGS: &'static [&'static str] = &[
        "backend",
        "base_url",
        "user",
        "password",
        "password_env",
        "password_file",
        "timeout_seconds",
        "pre_verified",
        "pre_confirmed",
        "pre_approved",
        "send_welcome_message",
        "resubscribe_leavers",
        "max_attempts",
    ];

    fn from_settings(config: &ProviderConfig) -> Result<Self, SyncError> {
        from_settings(&config.settings)
    }

    fn check_mapping(mapping: &ObjectMapping) -> Result<(), SyncError> {
        Self::check_properties(mapping)
    }
}

/// Builds the provider from settings (the framework loads `mappings`):
///
/// ```json
/// {"backend": "mailman", "base_url": "http://127.0.0.1:8001", "user": "restadmin",
///  "password_env": "MAILMAN_PASSWORD", "timeout_seconds": 10,
///  "pre_verified": true, "pre_confirmed": true, "pre_approved": true,
///  "send_welcome_message": false, "resubscribe_leavers": false, "max_attempts": 10,
///  "mappings": [...]}
/// ```
fn from_settings(settings: &Value) -> Result<MailingListProvider, SyncError> {
    let backend = settings
        .get("backend")
        .and_then(Value::as_str)
        .unwrap_or("mailman");
    if backend != "mailman" {
        return Err(SyncError::config(format!(
            "setting \"backend\": \"{backend}\" is not supported; use \"mailman\""
        )));
    }
    let base_url = settings
        .get("base_url")
        .and_then(Value::as_str)
        .filter(|url| url.starts_with("http://") || url.starts_with("https://"))
        .ok_or_else(|| {
            SyncError::config("setting \"base_url\" must be the http(s) URL of Mailman's REST API")
        })?;
    let user = settings
        .get("user")
        .and_then(Value::as_str)
        .unwrap_or("restadmin");
    let password = secret(settings, "password")?.ok_or_else(|| {
        SyncError::config(
            "the password is missing: set \"password\", \"password_env\" or \"password_file\"",
        )
    })?;
    let timeout = settings
        .get("timeout_seconds")
        .and_then(Value::as_f64)
        .unwrap_or(10.0);
    let backend = MailmanBackend::new(
        base_url,
        user,
        &password,
        Duration::from_secs_f64(timeout.clamp(0.1, 300.0)),
    )?;
    let policy = MembershipPolicy {
        admission: AdmissionPolicy {
            pre_verified: flag(settings, "pre_verified", true)?,
            pre_confirmed: flag(settings, "pre_confirmed", true)?,
            pre_approved: flag(settings, "pre_approved", true)?,
            send_welcome_message: flag(settings, "send_welcome_message", false)?,
        },
        resubscribe_leavers: flag(settings, "resubscribe_leavers", false)?,
        max_attempts: match settings.get("max_attempts") {
            None => 10,
            Some(value) => value
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    SyncError::config(format!(
                        "setting \"max_attempts\" must be a positive whole number, got {value}"
                    ))
                })?,
        },
    };
    Ok(MailingListProvider::new(Arc::new(backend), policy))
}
