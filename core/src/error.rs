//! The error a provider returns from a sync, and what it means for the retry queue.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Why syncing an object failed, and therefore what the queue does next.
///
/// The variant carries the retry decision (as apalis' error types do):
/// - [`SyncError::Recoverable`]: try again later (after `retry_after` if the peer said so);
///   after the provider's `max_attempts` the job stops with failure mode `exceeded`.
/// - [`SyncError::Permanent`]: the external system refused this object for good; retrying the
///   same data cannot succeed (failure mode `permanent`).
/// - [`SyncError::Config`]: the configuration is wrong (credentials, mappings, unknown list);
///   an operator must fix it and retry (failure mode `config`).
///
/// Every variant carries user-facing `messages` (short, shown in the dashboard and run
/// records) and an optional `full_message` (details such as a truncated response body).
/// `Display` prints the messages only.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncError {
    /// A transient failure: network error, timeout, HTTP 5xx or 429.
    Recoverable {
        /// Messages for the operator.
        messages: Vec<String>,
        /// Optional details.
        full_message: Option<String>,
        /// How long the external system asked us to wait (e.g. from `Retry-After`).
        retry_after: Option<Duration>,
        /// The external system as a whole is unreachable (connection refused, HTTP
        /// 502/503/504), not this object: the job snoozes instead of using up attempts.
        target_unavailable: bool,
        /// The error that caused it, if kept ([`SyncError::with_source`]).
        cause: Option<Cause>,
    },
    /// The external system rejected the object; retrying the same data cannot help.
    Permanent {
        /// Messages for the operator.
        messages: Vec<String>,
        /// Optional details.
        full_message: Option<String>,
        /// The error that caused it, if kept ([`SyncError::with_source`]).
        cause: Option<Cause>,
    },
    /// The configuration is wrong and must be fixed by an operator.
    Config {
        /// Messages for the operator.
        messages: Vec<String>,
        /// Optional details.
        full_message: Option<String>,
        /// The error that caused it, if kept ([`SyncError::with_source`]).
        cause: Option<Cause>,
    },
}

/// The error that caused a [`SyncError`], kept for [`std::error::Error::source`]. Two
/// causes are equal when their texts are.
#[derive(Clone)]
pub struct Cause(Arc<dyn std::error::Error + Send + Sync>);

impl Cause {
    /// The cause itself.
    pub fn get(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self.0.as_ref()
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_string() == other.0.to_string()
    }
}

impl Eq for Cause {}

/// `error` and its causes, each after a `": "` (`connecting: connection refused`).
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl SyncError {
    /// A transient failure with one message.
    pub fn recoverable(message: impl Into<String>) -> Self {
        Self::Recoverable {
            messages: vec![message.into()],
            full_message: None,
            retry_after: None,
            target_unavailable: false,
            cause: None,
        }
    }

    /// A transient failure because the external system is down or unreachable (connection
    /// refused, HTTP 502/503/504). The job is retried with the usual backoff, up to its cap,
    /// for as long as the outage lasts: such attempts do not count towards `max_attempts`.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Recoverable {
            messages: vec![message.into()],
            full_message: None,
            retry_after: None,
            target_unavailable: true,
            cause: None,
        }
    }

    /// A permanent rejection with one message.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Permanent {
            messages: vec![message.into()],
            full_message: None,
            cause: None,
        }
    }

    /// A configuration error with one message.
    pub fn config(message: impl Into<String>) -> Self {
        Self::Config {
            messages: vec![message.into()],
            full_message: None,
            cause: None,
        }
    }

    /// A configuration error listing several problems.
    pub fn config_many(messages: Vec<String>) -> Self {
        Self::Config {
            messages,
            full_message: None,
            cause: None,
        }
    }

    /// Attaches details (e.g. a truncated response body) shown on demand.
    #[must_use]
    pub fn with_full_message(mut self, full: impl Into<String>) -> Self {
        let slot = match &mut self {
            Self::Recoverable { full_message, .. }
            | Self::Permanent { full_message, .. }
            | Self::Config { full_message, .. } => full_message,
        };
        *slot = Some(full.into());
        self
    }

    /// Sets how long to wait before the next attempt; only meaningful on
    /// [`SyncError::Recoverable`], ignored on the other variants.
    #[must_use]
    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        if let Self::Recoverable { retry_after, .. } = &mut self {
            *retry_after = Some(wait);
        }
        self
    }

    /// The user-facing messages.
    pub fn messages(&self) -> &[String] {
        match self {
            Self::Recoverable { messages, .. }
            | Self::Permanent { messages, .. }
            | Self::Config { messages, .. } => messages,
        }
    }

    /// The optional details.
    pub fn full_message(&self) -> Option<&str> {
        match self {
            Self::Recoverable { full_message, .. }
            | Self::Permanent { full_message, .. }
            | Self::Config { full_message, .. } => full_message.as_deref(),
        }
    }

    /// Whether the external system as a whole was unavailable ([`SyncError::unavailable`]).
    pub fn is_target_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Recoverable {
                target_unavailable: true,
                ..
            }
        )
    }

    /// The wait the external system asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Recoverable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Keeps `cause` as the error's [`source`](std::error::Error::source) and, unless
    /// details were attached already, its text and causes as the details
    /// ([`SyncError::full_message`]).
    #[must_use]
    pub fn with_source(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        let details = chain(&cause);
        let (slot, full_message) = match &mut self {
            Self::Recoverable {
                cause: slot,
                full_message,
                ..
            }
            | Self::Permanent {
                cause: slot,
                full_message,
                ..
            }
            | Self::Config {
                cause: slot,
                full_message,
                ..
            } => (slot, full_message),
        };
        *slot = Some(Cause(Arc::new(cause)));
        full_message.get_or_insert(details);
        self
    }

    /// Puts `context` in front of every message, e.g. the mapping that failed.
    #[must_use]
    pub fn in_context(mut self, context: &str) -> Self {
        let messages = match &mut self {
            Self::Recoverable { messages, .. }
            | Self::Permanent { messages, .. }
            | Self::Config { messages, .. } => messages,
        };
        for message in messages.iter_mut() {
            *message = format!("{context}: {message}");
        }
        self
    }
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self {
            Self::Recoverable { .. } => "temporary sync failure",
            Self::Permanent { .. } => "sync rejected",
            Self::Config { .. } => "sync configuration error",
        };
        let messages = self.messages().join("; ");
        write!(f, "{label}: {}", crate::secret::redact(&messages))
    }
}

impl std::error::Error for SyncError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Recoverable { cause, .. }
            | Self::Permanent { cause, .. }
            | Self::Config { cause, .. } => cause
                .as_ref()
                .map(|cause| cause.get() as &(dyn std::error::Error + 'static)),
        }
    }
}

/// The result type of sync operations.
pub type SyncResult<T> = Result<T, SyncError>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    #[test]
    fn keeps_its_cause_as_source_and_details() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = SyncError::unavailable("cannot connect").with_source(io);
        assert_eq!(
            error.source().map(ToString::to_string).as_deref(),
            Some("refused")
        );
        assert_eq!(error.full_message(), Some("refused"));
        assert_eq!(error.to_string(), "temporary sync failure: cannot connect");
        let with_details = SyncError::permanent("x")
            .with_full_message("the body")
            .with_source(std::fmt::Error);
        assert_eq!(with_details.full_message(), Some("the body"));
        assert!(with_details.source().is_some());
        assert_eq!(
            chain(&error),
            "temporary sync failure: cannot connect: refused"
        );
    }
}
