//! How a run ended.

use crate::FailureMode;
use std::fmt;

/// How a run ended (stored in `sync_run.outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RunOutcome {
    /// Synced.
    Success,
    /// The provider's `should_sync` declined the object.
    Skipped,
    /// The application no longer has the object.
    ObjectMissing,
    /// A recoverable failure; the job will be retried.
    Retry,
    /// The target was unavailable or asked to wait: the job was postponed without an
    /// attempt charged.
    Snoozed,
    /// The job stopped with this failure mode.
    Failed(FailureMode),
    /// An operator purged the job (`outsync jobs purge`).
    Dropped,
    /// An operator cancelled the job.
    Cancelled,
}

impl RunOutcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Skipped => "skipped",
            Self::ObjectMissing => "object_missing",
            Self::Retry => "retry",
            Self::Snoozed => "snoozed",
            Self::Failed(mode) => mode.as_str(),
            Self::Dropped => "dropped",
            Self::Cancelled => "cancelled",
        }
    }

    /// Reads a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        let fixed = [
            Self::Success,
            Self::Skipped,
            Self::ObjectMissing,
            Self::Retry,
            Self::Snoozed,
            Self::Dropped,
            Self::Cancelled,
        ];
        fixed
            .into_iter()
            .find(|outcome| outcome.as_str() == text)
            .or_else(|| FailureMode::parse(text).map(Self::Failed))
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
