//! Strict keys: every key of the configuration file must be one outsync reads, and a
//! misspelt one is an error that says where it is and which key was meant.

use serde_json::{Map, Value};

pub(crate) use outsync_core::keys::did_you_mean;

/// One problem for each key of `object` (found at `at`) that is not in `allowed`.
pub(crate) fn unknown_keys(object: &Map<String, Value>, allowed: &[&str], at: &str) -> Vec<String> {
    object
        .keys()
        .filter(|key| !allowed.contains(&key.as_str()))
        .map(|key| {
            format!(
                "unknown key \"{key}\" in {at}{} (known keys: {})",
                did_you_mean(key, allowed.iter().copied()),
                allowed.join(", ")
            )
        })
        .collect()
}
