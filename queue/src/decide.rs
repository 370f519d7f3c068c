//! What happens to a job after an attempt that did not succeed: one pure function,
//! [`decide`], that the worker and the reaper both call, tested without a database.

use crate::{FailureMode, LeaseExpiry, RetryPolicy};
use outsync_core::SyncError;
use std::time::Duration;

/// How an attempt failed.
#[derive(Debug, Clone, Copy)]
pub enum Failure<'a> {
    /// The provider (or the object source) returned this error.
    Sync(&'a SyncError),
    /// The sync ran past the worker's `job_timeout` and was stopped.
    TimedOut,
    /// The sync panicked, or its task died.
    Crashed,
    /// The worker holding the job vanished: its lease expired.
    LeaseExpired,
}

/// The job's count before the attempt, and its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// Failed attempts before this one.
    pub failed_before: u32,
    /// The attempts a job may make (`max_attempts`).
    pub max_attempts: u32,
    /// How long the job has been snoozing in a row (`None`: it was not snoozing).
    pub snoozed_for: Option<Duration>,
}

/// What happens next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Back to pending after a backoff, with this many failed attempts.
    Retry {
        /// The new count of failed attempts.
        failed_attempts: u32,
    },
    /// Back to pending without an attempt charged: the target is unavailable or asked to
    /// wait (`Retry-After`), and the job has snoozed less than the policy's cap.
    Snooze,
    /// Stopped until an operator retries or cancels it.
    Stop {
        /// Why.
        mode: FailureMode,
        /// The new count of failed attempts.
        failed_attempts: u32,
    },
}

/// Decides what follows a failed attempt:
///
/// - a recoverable error from an unavailable target or with `Retry-After` snoozes, until the
///   job has snoozed `policy.snooze_cap` in a row; from then on it counts as an attempt;
/// - a recoverable error (and an expired lease, by default) costs an attempt, and the
///   `max_attempts`-th stops the job as `exceeded`;
/// - `Permanent` and `Config` errors stop the job as `permanent` and `config`, a timeout as
///   `timeout`, a crash as `internal`, without an attempt charged;
/// - an expired lease stops the job as `timeout` under [`LeaseExpiry::Timeout`].
///
/// ```
/// use outsync_core::SyncError;
/// use outsync_queue::decide::{Attempt, Decision, Failure, decide};
/// use outsync_queue::{FailureMode, RetryPolicy};
/// let attempt = Attempt { failed_before: 4, max_attempts: 5, snoozed_for: None };
/// let error = SyncError::recoverable("HTTP 500");
/// assert_eq!(
///     decide(Failure::Sync(&error), &attempt, &RetryPolicy::default()),
///     Decision::Stop { mode: FailureMode::Exceeded, failed_attempts: 5 }
/// );
/// ```
pub fn decide(failure: Failure<'_>, attempt: &Attempt, policy: &RetryPolicy) -> Decision {
    let before = attempt.failed_before;
    let counted = || {
        let failed_attempts = before.saturating_add(1);
        if failed_attempts >= attempt.max_attempts.max(1) {
            Decision::Stop {
                mode: FailureMode::Exceeded,
                failed_attempts,
            }
        } else {
            Decision::Retry { failed_attempts }
        }
    };
    let stop = |mode| Decision::Stop {
        mode,
        failed_attempts: before,
    };
    match failure {
        Failure::Sync(error @ SyncError::Recoverable { .. }) => {
            let wants_to_wait = error.is_target_unavailable() || error.retry_after().is_some();
            let snoozed = attempt.snoozed_for.unwrap_or(Duration::ZERO);
            if wants_to_wait && snoozed < policy.snooze_cap {
                Decision::Snooze
            } else {
                counted()
            }
        }
        Failure::Sync(SyncError::Config { .. }) => stop(FailureMode::Config),
        // `Permanent`, and any kind a later outsync-core adds: stop rather than guess.
        Failure::Sync(_) => stop(FailureMode::Permanent),
        Failure::TimedOut => stop(FailureMode::Timeout),
        Failure::Crashed => stop(FailureMode::Internal),
        Failure::LeaseExpired => match policy.on_lease_expiry {
            LeaseExpiry::Retry => counted(),
            LeaseExpiry::Timeout => Decision::Stop {
                mode: FailureMode::Timeout,
                failed_attempts: before.saturating_add(1),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(failed_before: u32, snoozed_for: Option<u64>) -> Attempt {
        Attempt {
            failed_before,
            max_attempts: 3,
            snoozed_for: snoozed_for.map(Duration::from_secs),
        }
    }

    #[test]
    fn recoverable_errors_count_until_max_attempts() {
        let policy = RetryPolicy::default();
        let error = SyncError::recoverable("HTTP 500");
        let decide = |before| decide(Failure::Sync(&error), &attempt(before, None), &policy);
        assert_eq!(decide(0), Decision::Retry { failed_attempts: 1 });
        assert_eq!(decide(1), Decision::Retry { failed_attempts: 2 });
        assert_eq!(
            decide(2),
            Decision::Stop {
                mode: FailureMode::Exceeded,
                failed_attempts: 3
            }
        );
    }

    #[test]
    fn an_unavailable_target_or_retry_after_snoozes_until_the_cap() {
        let policy = RetryPolicy {
            snooze_cap: Duration::from_secs(600),
            ..RetryPolicy::default()
        };
        let unavailable = SyncError::unavailable("connection refused");
        let rate_limited =
            SyncError::recoverable("HTTP 429").with_retry_after(Duration::from_secs(30));
        for error in [&unavailable, &rate_limited] {
            // Even at the last attempt, a snooze charges nothing.
            assert_eq!(
                decide(Failure::Sync(error), &attempt(2, None), &policy),
                Decision::Snooze
            );
            assert_eq!(
                decide(Failure::Sync(error), &attempt(2, Some(599)), &policy),
                Decision::Snooze
            );
            assert_eq!(
                decide(Failure::Sync(error), &attempt(0, Some(600)), &policy),
                Decision::Retry { failed_attempts: 1 }
            );
        }
        let never = RetryPolicy {
            snooze_cap: Duration::ZERO,
            ..policy
        };
        assert_eq!(
            decide(Failure::Sync(&unavailable), &attempt(0, None), &never),
            Decision::Retry { failed_attempts: 1 }
        );
    }

    #[test]
    fn other_failures_stop_with_their_mode() {
        let policy = RetryPolicy::default();
        let permanent = SyncError::permanent("HTTP 400");
        let config = SyncError::config("bad key");
        for (failure, mode, failed_attempts) in [
            (Failure::Sync(&permanent), FailureMode::Permanent, 1),
            (Failure::Sync(&config), FailureMode::Config, 1),
            (Failure::TimedOut, FailureMode::Timeout, 1),
            (Failure::Crashed, FailureMode::Internal, 1),
        ] {
            assert_eq!(
                decide(failure, &attempt(1, None), &policy),
                Decision::Stop {
                    mode,
                    failed_attempts
                }
            );
        }
    }

    #[test]
    fn an_expired_lease_retries_or_times_out_by_policy() {
        let retry = RetryPolicy::default();
        assert_eq!(
            decide(Failure::LeaseExpired, &attempt(0, None), &retry),
            Decision::Retry { failed_attempts: 1 }
        );
        assert_eq!(
            decide(Failure::LeaseExpired, &attempt(2, None), &retry),
            Decision::Stop {
                mode: FailureMode::Exceeded,
                failed_attempts: 3
            }
        );
        let timeout = RetryPolicy {
            on_lease_expiry: LeaseExpiry::Timeout,
            ..retry
        };
        assert_eq!(
            decide(Failure::LeaseExpired, &attempt(0, None), &timeout),
            Decision::Stop {
                mode: FailureMode::Timeout,
                failed_attempts: 1
            }
        );
    }
}
