//! A job as the operator API shows it: its state is a value ([`JobState`]), never inferred
//! by callers from which columns are empty.

use crate::FailureMode;
use crate::entity::sync_queue;
use outsync_core::ObjectRef;
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

/// Where a job is in its life (see the diagram in the crate's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Waiting to run, now or at `not_before`.
    Pending,
    /// Waiting without an attempt charged: the target was unavailable or asked to wait.
    Snoozed,
    /// Held by a worker under a lease.
    Running,
    /// Stopped until an operator retries or cancels it.
    Stopped(FailureMode),
}

impl JobState {
    /// The name shown and accepted by the CLI, the API and the dashboard: `pending`,
    /// `snoozed`, `running`, or the failure mode of a stopped job.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Snoozed => "snoozed",
            Self::Running => "running",
            Self::Stopped(mode) => mode.as_str(),
        }
    }

    /// The failure mode of a stopped job.
    pub fn failure_mode(self) -> Option<FailureMode> {
        match self {
            Self::Stopped(mode) => Some(mode),
            _ => None,
        }
    }

    /// Whether an operator must act (the job is stopped).
    pub fn is_stopped(self) -> bool {
        matches!(self, Self::Stopped(_))
    }

    /// The state of a stored job.
    pub(crate) fn of(row: &sync_queue::Model) -> Self {
        if let Some(mode) = row.failure_mode.as_deref().and_then(FailureMode::parse) {
            Self::Stopped(mode)
        } else if row.lease_owner.is_some() {
            Self::Running
        } else if row.snoozed_since.is_some() {
            Self::Snoozed
        } else {
            Self::Pending
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "pending" => Ok(Self::Pending),
            "snoozed" => Ok(Self::Snoozed),
            "running" => Ok(Self::Running),
            other => FailureMode::parse(other).map(Self::Stopped).ok_or_else(|| {
                format!(
                    "\"{other}\" is not a job state: use pending, snoozed, running, failed or a failure mode ({})",
                    FailureMode::ALL.map(FailureMode::as_str).join(", ")
                )
            }),
        }
    }
}

/// Which jobs a list asks for, by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateFilter {
    /// Jobs in exactly this state.
    Is(JobState),
    /// Stopped jobs, whatever their failure mode (`failed`).
    Stopped,
}

impl FromStr for StateFilter {
    type Err = String;

    /// `failed` (or `stopped`) means every stopped job; anything else is a [`JobState`].
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "failed" | "stopped" => Ok(Self::Stopped),
            other => other.parse().map(Self::Is),
        }
    }
}

/// One job of the queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The job id.
    pub id: i64,
    /// The provider.
    pub provider: String,
    /// The object to sync.
    pub object: ObjectRef,
    /// Where the job is in its life.
    pub state: JobState,
    /// Recoverable failures so far (snoozes do not count).
    pub failed_attempts: u32,
    /// When it may run (ms since the epoch); meaningful while pending or snoozed.
    pub not_before: i64,
    /// When its current snooze began (ms), while snoozed.
    pub snoozed_since: Option<i64>,
    /// Why it was enqueued.
    pub triggered_by: String,
    /// When it was (last) enqueued (ms).
    pub triggered_at: i64,
    /// The object's state carried by the job, if any.
    pub snapshot: Option<Value>,
    /// The last error's messages, for operators.
    pub last_error: Option<String>,
    /// The last error's full text (e.g. the external system's answer).
    pub last_error_detail: Option<String>,
    /// The worker holding it, while running.
    pub worker: Option<String>,
    /// It sends even data the provider believes unchanged.
    pub force: bool,
    /// How many enqueues were merged into it.
    pub coalesced: u32,
}

impl From<sync_queue::Model> for Job {
    fn from(row: sync_queue::Model) -> Self {
        let state = JobState::of(&row);
        Self {
            id: row.id,
            provider: row.provider,
            object: ObjectRef::new(row.object_type, row.object_id),
            state,
            failed_attempts: u32::try_from(row.failed_attempts).unwrap_or_default(),
            not_before: row.not_before,
            snoozed_since: row.snoozed_since,
            triggered_by: row.triggered_by,
            triggered_at: row.triggered_at,
            snapshot: row
                .snapshot
                .map(|text| serde_json::from_str(&text).unwrap_or(Value::String(text))),
            last_error: row.last_error,
            last_error_detail: row.last_error_detail,
            worker: row.lease_owner,
            force: row.force_send != 0,
            coalesced: u32::try_from(row.coalesced).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_and_print_the_same_names() {
        for state in [
            JobState::Pending,
            JobState::Snoozed,
            JobState::Running,
            JobState::Stopped(FailureMode::Exceeded),
            JobState::Stopped(FailureMode::Timeout),
        ] {
            assert_eq!(state.to_string().parse::<JobState>(), Ok(state));
        }
        assert_eq!("failed".parse(), Ok(StateFilter::Stopped));
        assert_eq!(
            "permanent".parse(),
            Ok(StateFilter::Is(JobState::Stopped(FailureMode::Permanent)))
        );
        assert!(
            "done"
                .parse::<StateFilter>()
                .unwrap_err()
                .contains("not a job state")
        );
    }
}
