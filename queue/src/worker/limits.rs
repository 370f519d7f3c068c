//! Per-provider concurrency and rate limits.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, Semaphore};
use tokio::time::Instant;

/// Limits and retry settings for one provider's jobs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProviderLimits {
    /// Recoverable failures before a job stops as `exceeded` (default: the provider's
    /// `max_attempts()`).
    pub max_attempts: Option<u32>,
    /// Backoff for this provider's jobs (default: the worker's).
    pub retry: Option<crate::RetryPolicy>,
    /// At most this many of the provider's jobs run at once (default: the worker's
    /// concurrency).
    pub concurrency: Option<usize>,
    /// At most this many of the provider's jobs start per second.
    pub rate_per_second: Option<f64>,
}

/// Spaces job starts evenly: one every `1 / rate` seconds.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    interval: Duration,
    next: Mutex<Instant>,
}

impl RateLimiter {
    pub(crate) fn new(rate_per_second: f64) -> Self {
        Self {
            interval: Duration::from_secs_f64(1.0 / rate_per_second.max(1e-6)),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits for the next free slot.
    pub(crate) async fn until_ready(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// The gates a provider's jobs pass before they run.
#[derive(Debug, Clone)]
pub(crate) struct ProviderGate {
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) rate: Option<Arc<RateLimiter>>,
}

impl ProviderGate {
    pub(crate) fn new(limits: ProviderLimits, default_concurrency: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(
                limits.concurrency.unwrap_or(default_concurrency).max(1),
            )),
            rate: limits
                .rate_per_second
                .map(|rate| Arc::new(RateLimiter::new(rate))),
        }
    }
}
