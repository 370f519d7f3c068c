//! Strict keys in JSON settings: a misspelt key is named with the key that was probably
//! meant, wherever it is (the configuration file, a provider's settings, a mapping, an
//! object source).

/// The closest of `candidates` to `key`, if one is close enough to be a likely typo
/// (Jaro–Winkler similarity of at least 0.8).
///
/// ```
/// use outsync_core::keys::nearest;
/// assert_eq!(nearest("provider", ["providers", "schema"]), Some("providers"));
/// assert_eq!(nearest("colour", ["providers", "schema"]), None);
/// ```
pub fn nearest<'a>(key: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(key, candidate), candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// `; did you mean "x"?` for the [`nearest`] candidate, or nothing.
pub fn did_you_mean<'a>(key: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    nearest(key, candidates)
        .map_or_else(String::new, |found| format!("; did you mean \"{found}\"?"))
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
        assert_eq!(
            did_you_mean("propertes", ["property_mappings", "properties"]),
            "; did you mean \"properties\"?"
        );
        assert_eq!(did_you_mean("colour", top), "");
    }
}
