//! The Basket provider's settings, read from its JSON configuration.

use outsync_core::SyncError;
use serde_json::Value;
use std::fmt;
use std::time::Duration;

/// The API key. Its `Debug` and `Display` never show it, and outsync redacts it from every
/// error it stores ([`outsync_core::Secret`]).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(outsync_core::Secret);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(outsync_core::Secret::new(key))
    }

    pub(crate) fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// Where Basket is and how to talk to it.
#[derive(Debug, Clone)]
pub struct BasketConfig {
    /// Basket's base URL, without a trailing slash (`https://basket.mozilla.org`).
    pub base_url: String,
    /// The `X-Api-Key`.
    pub api_key: ApiKey,
    /// How long one request may take (default 5 s).
    pub timeout: Duration,
    /// Skip sending a payload identical to the last one Basket accepted (default true).
    pub skip_unchanged: bool,
}

impl BasketConfig {
    /// A configuration for `base_url` with `api_key` and the defaults.
    pub fn new(base_url: &str, api_key: ApiKey) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
            timeout: Duration::from_secs(5),
            skip_unchanged: true,
        }
    }

    /// Reads the settings: `base_url`; the key as `api_key`, or from the environment
    /// variable named by `api_key_env`, or from the file named by `api_key_file`;
    /// `timeout_seconds`; `skip_unchanged`. Errors name the setting.
    pub fn from_settings(settings: &Value) -> Result<Self, SyncError> {
        let text = |key: &str| settings.get(key).and_then(Value::as_str);
        let base_url = text("base_url")
            .filter(|url| url.starts_with("http://") || url.starts_with("https://"))
            .ok_or_else(|| {
                SyncError::config("setting \"base_url\" must be Basket's http(s) URL, e.g. https://basket.mozilla.org")
            })?;
        let api_key = if let Some(key) = text("api_key") {
            key.to_owned()
        } else if let Some(variable) = text("api_key_env") {
            std::env::var(variable).map_err(|_| {
                SyncError::config(format!(
                    "setting \"api_key_env\": environment variable {variable} is not set"
                ))
            })?
        } else if let Some(path) = text("api_key_file") {
            std::fs::read_to_string(path)
                .map_err(|error| {
                    SyncError::config(format!(
                        "setting \"api_key_file\": cannot read {path}: {error}"
                    ))
                })?
                .trim()
                .to_owned()
        } else {
            return Err(SyncError::config(
                "the API key is missing: set \"api_key\", \"api_key_env\" or \"api_key_file\"",
            ));
        };
        if api_key.is_empty() {
            return Err(SyncError::config("the API key is empty"));
        }
        let mut config = Self::new(base_url, ApiKey::new(api_key));
        if let Some(timeout) = settings.get("timeout_seconds") {
            let seconds = timeout.as_f64().filter(|s| *s > 0.0 && *s <= 300.0).ok_or_else(|| {
                SyncError::config(format!(
                    "setting \"timeout_seconds\" must be a number of seconds between 0 and 300, got {timeout}"
                ))
            })?;
            config.timeout = Duration::from_secs_f64(seconds);
        }
        if let Some(skip) = settings.get("skip_unchanged") {
            config.skip_unchanged = skip.as_bool().ok_or_else(|| {
                SyncError::config(format!(
                    "setting \"skip_unchanged\" must be true or false, got {skip}"
                ))
            })?;
        }
        Ok(config)
    }
}
