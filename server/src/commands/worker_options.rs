//! The worker's settings on the command line, over the configuration file's `"worker"`
//! section and its environment variables, over the defaults.

use crate::config::Config;
use clap::Args;
use clap::builder::RangedU64ValueParser;
use outsync_queue::RetryPolicy;
use outsync_queue::worker::ProviderLimits;
use outsync_queue::{UnknownProviders, WorkerConfig};
use std::time::Duration;

/// A command-line value that is not a number of seconds.
#[derive(Debug, thiserror::Error)]
#[error("\"{0}\" is not a number of seconds")]
struct NotSeconds(String);

fn seconds(text: &str) -> Result<f64, NotSeconds> {
    text.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .ok_or_else(|| NotSeconds(text.to_owned()))
}

/// Options that override the worker's settings (`outsync worker`, `serve` and `sync`).
#[derive(Args, Debug, Default, Clone)]
pub(crate) struct WorkerOptions {
    /// Jobs run at once (default 16).
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..=4096))]
    concurrency: Option<usize>,
    /// Jobs claimed per statement at most (default 64).
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..=10_000))]
    batch_size: Option<usize>,
    /// How long a claim holds a job, in seconds (default 300).
    #[arg(long, value_parser = seconds)]
    lease_seconds: Option<f64>,
    /// How long running jobs may finish after SIGTERM or Ctrl-C before the rest go back to
    /// the queue, in seconds (default 30).
    #[arg(long, value_parser = seconds)]
    shutdown_grace_seconds: Option<f64>,
    /// Recoverable failures before a job stops as `exceeded`, for every provider
    /// (default: each provider's own).
    #[arg(long, value_parser = RangedU64ValueParser::<u32>::new().range(1..=1000))]
    max_attempts: Option<u32>,
    /// Connections in the queue database's pool (default 8 on SQLite, 16 on PostgreSQL).
    #[arg(long, value_parser = RangedU64ValueParser::<u32>::new().range(1..=1000))]
    pool_size: Option<u32>,
    /// Jobs of providers this worker does not run: `keep` them queued for another worker
    /// (default) or `stop` them as `config` problems. They are never deleted.
    #[arg(long)]
    unknown_providers: Option<UnknownProviders>,
}

impl WorkerOptions {
    /// Applies the pool size to `config` (it is opened later).
    pub(crate) fn apply_to_database(&self, config: &mut Config) {
        if let Some(size) = self.pool_size {
            config.database_pool_size = Some(size);
        }
    }

    /// The worker configuration: these options, over the file and the environment, over
    /// the defaults.
    pub(crate) fn worker_config(&self, config: &Config) -> WorkerConfig {
        let file = &config.worker;
        let defaults = WorkerConfig::default();
        let mut retry = RetryPolicy::default();
        if let Some(base) = file.backoff_base {
            retry.base = base;
        }
        if let Some(cap) = file.backoff_cap {
            retry.cap = cap;
        }
        if let Some(cap) = file.snooze_cap {
            retry.snooze_cap = cap;
        }
        let max_attempts = self.max_attempts.or(file.max_attempts);
        let mut limits = std::collections::HashMap::new();
        for (identifier, _) in &config.providers {
            limits.insert(
                identifier.clone(),
                ProviderLimits {
                    max_attempts,
                    ..ProviderLimits::default()
                },
            );
        }
        for (identifier, own) in &file.providers {
            let mut policy = retry;
            if let Some(base) = own.backoff_base {
                policy.base = base;
            }
            if let Some(cap) = own.backoff_cap {
                policy.cap = cap;
            }
            limits.insert(
                identifier.clone(),
                ProviderLimits {
                    concurrency: own.concurrency,
                    rate_per_second: own.rate_per_second,
                    max_attempts: own.max_attempts.or(max_attempts),
                    retry: Some(policy),
                },
            );
        }
        let mut worker = WorkerConfig {
            concurrency: self
                .concurrency
                .or(file.concurrency)
                .unwrap_or(defaults.concurrency),
            batch_size: self
                .batch_size
                .or(file.batch_size)
                .unwrap_or(defaults.batch_size),
            lease: self
                .lease_seconds
                .map(Duration::from_secs_f64)
                .or(file.lease)
                .unwrap_or(defaults.lease),
            job_timeout: file.job_timeout.unwrap_or(defaults.job_timeout),
            shutdown_grace: self
                .shutdown_grace_seconds
                .map(Duration::from_secs_f64)
                .or(file.shutdown_grace)
                .unwrap_or(defaults.shutdown_grace),
            unknown_providers: self
                .unknown_providers
                .or(file.unknown_providers)
                .unwrap_or_default(),
            retry,
            limits,
            postgres_listen_url: config
                .database_url
                .starts_with("postgres")
                .then(|| config.database_url.clone()),
            reap_interval: Duration::from_secs(config.scheduler_interval.max(1)),
            ..defaults
        };
        // A sync must end before its lease does, or another worker would take it meanwhile.
        if worker.job_timeout >= worker.lease {
            worker.job_timeout = worker.lease.mul_f64(0.9);
        }
        worker
    }
}
