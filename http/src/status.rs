//! Turning what an HTTP peer answered into a [`SyncError`] that tells the queue what to do
//! next, the same way for every provider and object source: connection refused and
//! 502/503/504 mean the peer is unavailable (the job snoozes), 429 asks to wait for its
//! `Retry-After`, other 5xx and timeouts are recoverable.

use outsync_core::SyncError;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::time::Duration;

/// The wait an answer asks for in `Retry-After`: seconds, or an HTTP date (from now; a date
/// in the past means at once). `None` without the header or with a value that reads as
/// neither.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.signed_duration_since(chrono::Utc::now());
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// The error for a transient answer of `peer` (`"Basket"`, `"Mailman"`) to the call
/// described by `what`, or `None` when `status` is not transient (a 4xx other than 429,
/// which only the provider can interpret). A `Retry-After` is honoured on 429 and 503.
pub fn transient_error(
    what: &str,
    peer: &str,
    status: StatusCode,
    headers: &HeaderMap,
) -> Option<SyncError> {
    let code = status.as_u16();
    let error = match code {
        429 => SyncError::recoverable(format!("{what}: {peer} is rate limiting (HTTP 429)")),
        502..=504 => SyncError::unavailable(format!("{what}: {peer} is unavailable (HTTP {code})")),
        500..=599 => SyncError::recoverable(format!("{what}: {peer} failed (HTTP {code})")),
        _ => return None,
    };
    Some(match retry_after(headers) {
        Some(wait) if matches!(code, 429 | 503) => error.with_retry_after(wait),
        _ => error,
    })
}

/// The error for a request that got no answer: a timeout is recoverable, a refused or
/// failed connection means `peer` at `base_url` is unavailable; the cause is kept.
pub fn transport_error(what: &str, peer: &str, base_url: &str, error: reqwest::Error) -> SyncError {
    if error.is_timeout() {
        SyncError::recoverable(format!("{what}: {peer} did not answer in time")).with_source(error)
    } else if error.is_connect() {
        SyncError::unavailable(format!("{what}: cannot connect to {peer} at {base_url}"))
            .with_source(error)
    } else {
        SyncError::recoverable(format!("{what}: the request to {peer} failed")).with_source(error)
    }
}

/// `body` cut to about `limit` bytes (on a character boundary) with its full length noted,
/// for error details.
pub fn truncated(body: &str, limit: usize) -> String {
    if body.len() <= limit {
        return body.to_owned();
    }
    let mut end = limit;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &body[..end], body.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn with_retry_after(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn reads_retry_after_as_seconds_or_a_date() {
        assert_eq!(
            retry_after(&with_retry_after("30")),
            Some(Duration::from_secs(30))
        );
        let in_a_minute = (chrono::Utc::now() + chrono::Duration::seconds(61)).to_rfc2822();
        let wait = retry_after(&with_retry_after(&in_a_minute)).unwrap();
        assert!(
            wait > Duration::from_secs(55) && wait <= Duration::from_secs(61),
            "{wait:?}"
        );
        assert_eq!(
            retry_after(&with_retry_after("Wed, 21 Oct 2015 07:28:00 GMT")),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&with_retry_after("soon")), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn classifies_transient_answers_alike_for_every_peer() {
        let wait = with_retry_after("7");
        let limited =
            transient_error("sync", "Mailman", StatusCode::TOO_MANY_REQUESTS, &wait).unwrap();
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(
            limited.messages(),
            ["sync: Mailman is rate limiting (HTTP 429)"]
        );
        let down =
            transient_error("sync", "Basket", StatusCode::SERVICE_UNAVAILABLE, &wait).unwrap();
        assert!(down.is_target_unavailable());
        assert_eq!(down.retry_after(), Some(Duration::from_secs(7)));
        let failed =
            transient_error("sync", "Basket", StatusCode::INTERNAL_SERVER_ERROR, &wait).unwrap();
        assert!(!failed.is_target_unavailable() && failed.retry_after().is_none());
        assert!(matches!(failed, SyncError::Recoverable { .. }));
        assert!(transient_error("sync", "Basket", StatusCode::BAD_REQUEST, &wait).is_none());
        assert_eq!(truncated("ééé", 3), "é… (6 bytes in all)");
    }
}
