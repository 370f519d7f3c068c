//! When to try a failed job again.

use std::time::Duration;

/// Exponential backoff with jitter, capped: attempt `n` waits about
/// `base * 2^(n-1)`, at most `cap`, spread by ±`jitter` so that jobs failing together do not
/// retry together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// The wait after the first failure.
    pub base: Duration,
    /// The longest wait.
    pub cap: Duration,
    /// The fraction (0.0–1.0) by which a wait is randomly shortened or lengthened.
    pub jitter: f64,
    /// What the reaper does with a job whose lease expired: retry it (counting an attempt)
    /// or stop it with failure mode `timeout`.
    pub on_lease_expiry: LeaseExpiry,
    /// How long a job may snooze in a row (the target unavailable, or asking to wait with
    /// `Retry-After`) before each snooze counts as a failed attempt (default 24 h).
    pub snooze_cap: Duration,
}

/// What happens to a job whose worker vanished or overran its lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseExpiry {
    /// Count an attempt and retry (the default: a crashed worker is not the object's fault).
    Retry,
    /// Stop with failure mode `timeout`; an operator retries it.
    Timeout,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(10),
            cap: Duration::from_secs(3600),
            jitter: 0.2,
            on_lease_expiry: LeaseExpiry::Retry,
            snooze_cap: Duration::from_secs(24 * 3600),
        }
    }
}

impl RetryPolicy {
    /// The wait after `failed_attempts` failures (1 = the first), with `seed` choosing the
    /// jitter (e.g. the job id, so the result is reproducible in tests).
    pub fn backoff(&self, failed_attempts: u32, seed: u64) -> Duration {
        let exponent = failed_attempts.saturating_sub(1).min(30);
        let raw = self.base.saturating_mul(1u32 << exponent).min(self.cap);
        let jitter = self.jitter.clamp(0.0, 1.0);
        if jitter == 0.0 {
            return raw;
        }
        // A cheap, deterministic spread in [-1, 1): jitter needs no cryptographic quality.
        let mut x = seed
            .wrapping_add(u64::from(failed_attempts))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^= x >> 31;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x ^= x >> 29;
        #[allow(clippy::cast_precision_loss)]
        let unit = (x >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
        let factor = 1.0 + jitter * unit;
        raw.mul_f64(factor).min(self.cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_jitter_and_cap() {
        let policy = RetryPolicy::default();
        for attempt in 1..=12u32 {
            let ideal = Duration::from_secs(10 * (1u64 << (attempt - 1))).min(policy.cap);
            for seed in 0..50 {
                let wait = policy.backoff(attempt, seed);
                assert!(wait <= policy.cap, "attempt {attempt}: {wait:?}");
                assert!(
                    wait >= ideal.mul_f64(0.8),
                    "attempt {attempt}: {wait:?} < 0.8 × {ideal:?}"
                );
                assert!(wait <= ideal.mul_f64(1.2), "attempt {attempt}: {wait:?}");
            }
        }
    }

    #[test]
    fn without_jitter_is_exact() {
        let policy = RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        assert_eq!(policy.backoff(1, 7), Duration::from_secs(10));
        assert_eq!(policy.backoff(3, 7), Duration::from_secs(40));
        assert_eq!(policy.backoff(40, 7), Duration::from_secs(3600));
    }
}
