//! Secrets — API keys, passwords, tokens — kept out of logs, run records, the dashboard and
//! error messages.
//!
//! A [`Secret`] never shows its value through `Debug` or `Display`. Creating one also adds
//! the value to a process-wide redaction list, and [`redact`] replaces every listed value in
//! a text with `***`. The worker redacts every error message and detail before it stores a
//! run record, and [`SyncError`](crate::SyncError)'s `Display` redacts too, so even an
//! external system that echoes the key back in an error body cannot leak it.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, RwLock};

/// Values shorter than this are not listed for redaction: replacing them would mangle
/// ordinary text, and a secret that short protects nothing anyway.
pub const MIN_REDACTED_LEN: usize = 6;

static SECRETS: RwLock<Vec<Arc<str>>> = RwLock::new(Vec::new());

/// A secret value. `Debug` and `Display` print `***`; [`Secret::expose`] gives the value to
/// the code that must send it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps `value` and lists it for redaction (if it is at least [`MIN_REDACTED_LEN`]
    /// characters long).
    pub fn new(value: impl Into<String>) -> Self {
        let value: Arc<str> = Arc::from(value.into());
        if value.len() >= MIN_REDACTED_LEN {
            let mut secrets = SECRETS
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !secrets.iter().any(|known| **known == *value) {
                secrets.push(value.clone());
                // Longest first, so a secret containing another is replaced whole.
                secrets.sort_by_key(|known| std::cmp::Reverse(known.len()));
            }
        }
        Self(value)
    }

    /// The value, for the request that must carry it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Lists the password of a URL (`scheme://user:password@host/…`) for redaction, as written
/// and percent-decoded, so that no error or log line that quotes the URL shows it.
pub fn register_url_password(url: &str) {
    if let Some(password) = url_password(url) {
        Secret::new(password);
        Secret::new(percent_encoding::percent_decode_str(password).decode_utf8_lossy());
    }
}

/// The password in a URL's user information. The user information ends at the last `@`
/// before the query, so a password holding an unencoded `/` or `@` is still found.
pub fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let before_query = rest.split('?').next()?;
    let (user_info, _host) = before_query.rsplit_once('@')?;
    let (_user, password) = user_info.split_once(':')?;
    (!password.is_empty()).then_some(password)
}

/// `text` with every secret created in this process replaced by `***`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut result = Cow::Borrowed(text);
    for secret in secrets.iter() {
        if result.contains(&**secret) {
            result = Cow::Owned(result.replace(&**secret, "***"));
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_password_of_a_url_and_lists_it_decoded_too() {
        assert_eq!(
            url_password("postgres://outsync:s3cr%40t-pw@db.internal:5432/queue?sslmode=require"),
            Some("s3cr%40t-pw")
        );
        assert_eq!(url_password("postgres://outsync@db/queue"), None);
        assert_eq!(url_password("sqlite://outsync.db?mode=rwc"), None);
        assert_eq!(url_password("postgres://u:@db/q"), None);
        assert_eq!(url_password("postgres://u:pa/ss@db/q"), Some("pa/ss"));
        assert_eq!(url_password("postgres://u:Secret@[::1/db"), Some("Secret"));
        assert_eq!(url_password("postgres://u:Secret@?host=/x"), Some("Secret"));
        register_url_password("mysql://app:pass%2Fw0rd@db/app");
        assert_eq!(redact("pass/w0rd and pass%2Fw0rd"), "*** and ***");
    }

    #[test]
    fn secrets_never_print_and_are_redacted_from_text() {
        let key = Secret::new("k3y-unit-test-abcdef");
        let longer = Secret::new("k3y-unit-test-abcdef-and-more");
        assert_eq!(format!("{key:?} {key}"), "Secret(***) ***");
        assert_eq!(key.expose(), "k3y-unit-test-abcdef");
        assert_eq!(
            redact("Basket said: bad key k3y-unit-test-abcdef-and-more / k3y-unit-test-abcdef"),
            "Basket said: bad key *** / ***"
        );
        assert!(matches!(redact("nothing secret here"), Cow::Borrowed(_)));
        // Short values are not listed: they would mangle ordinary words.
        let _short = Secret::new("abc");
        assert_eq!(redact("abc"), "abc");
        drop(longer);
    }
}
