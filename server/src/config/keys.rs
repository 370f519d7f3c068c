//! Strict keys: every key of the configuration file must be one outsync reads, and a
//! misspelt one is an error that says where it is and which key was meant.

use serde_json::{Map, Value};

/// The closest of `candidates` to `key`, if one is close enough to be a likely typo.
pub(crate) fn nearest<'a>(
    key: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(key, candidate), candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// ` (did you mean "x"?)`, or nothing.
pub(crate) fn did_you_mean<'a>(key: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    nearest(key, candidates)
        .map_or_else(String::new, |found| format!("; did you mean \"{found}\"?"))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_key_a_typo_was_meant_to_be() {
        let top = ["database_url", "schema", "providers", "worker"];
        assert_eq!(nearest("provider", top), Some("providers"));
        assert_eq!(nearest("databse_url", top), Some("database_url"));
        assert_eq!(
            nearest("timeout_secnds", ["timeout_seconds", "base_url"]),
            Some("timeout_seconds")
        );
        assert_eq!(nearest("colour", top), None);
    }
}
