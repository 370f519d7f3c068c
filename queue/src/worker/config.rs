//! How a worker behaves: [`WorkerConfig`] and the policy for jobs of providers it does not
//! run.

use super::ProviderLimits;
use crate::RetryPolicy;
use std::collections::HashMap;
use std::time::Duration;

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The worker's name in leases and run records (default: host name, process id and a
    /// random suffix).
    pub id: String,
    /// Jobs run at once.
    pub concurrency: usize,
    /// Jobs claimed per statement at most.
    pub batch_size: usize,
    /// How long a claim holds a job; a worker that vanishes loses its jobs after this.
    pub lease: Duration,
    /// A sync running longer is stopped with failure mode `timeout` (keep it below `lease`).
    pub job_timeout: Duration,
    /// How often an idle worker looks for due jobs when no wake-up arrives.
    pub poll_interval: Duration,
    /// How often expired leases are taken back.
    pub reap_interval: Duration,
    /// Backoff and lease-expiry policy (a provider's [`ProviderLimits::retry`] overrides it).
    pub retry: RetryPolicy,
    /// Limits per provider identifier.
    pub limits: HashMap<String, ProviderLimits>,
    /// What happens to jobs of providers this worker does not run. They are never
    /// deleted: by default they stay queued for a worker that runs them.
    pub unknown_providers: UnknownProviders,
    /// How long shutdown waits for running jobs before releasing them.
    pub shutdown_grace: Duration,
    /// A PostgreSQL URL to `LISTEN` on for wake-ups from other processes.
    pub postgres_listen_url: Option<String>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            id: default_worker_id(),
            concurrency: 16,
            batch_size: 64,
            lease: Duration::from_secs(300),
            job_timeout: Duration::from_secs(120),
            poll_interval: Duration::from_secs(1),
            reap_interval: Duration::from_secs(15),
            retry: RetryPolicy::default(),
            limits: HashMap::new(),
            unknown_providers: UnknownProviders::Keep,
            shutdown_grace: Duration::from_secs(30),
            postgres_listen_url: None,
        }
    }
}

/// The policy for jobs of providers a worker does not run (another worker may).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UnknownProviders {
    /// Leave them queued for a worker that runs them; warn once per provider and count
    /// them ([`Worker::unknown_provider_jobs`](super::Worker::unknown_provider_jobs)). The default.
    #[default]
    Keep,
    /// Stop them with failure mode `config`, so that they show among the sync problems
    /// until an operator retries or purges them. Nothing is deleted. Only for a queue whose
    /// workers all run the same providers: a worker with this policy also stops jobs that
    /// another worker could have run.
    Stop,
}

impl std::str::FromStr for UnknownProviders {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "keep" => Ok(Self::Keep),
            "stop" => Ok(Self::Stop),
            other => Err(format!("\"{other}\" is not a policy: use keep or stop")),
        }
    }
}

fn default_worker_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "worker".to_owned());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!("{host}-{}-{nanos:08x}", std::process::id())
}
