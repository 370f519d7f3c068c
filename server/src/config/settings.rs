//! Reading typed settings from the configuration file and the environment, each problem
//! naming the key (`worker.concurrency`) or the variable (`OUTSYNC_CONCURRENCY`).

use super::error::SettingError;
use outsync_queue::UnknownProviders;
use serde_json::{Map, Value};
use std::time::Duration;

/// A setting's value and where it was read, for messages.
pub(crate) struct Source<'a> {
    /// `worker.concurrency` or `OUTSYNC_CONCURRENCY`.
    pub(crate) name: String,
    pub(crate) value: SourceValue<'a>,
}

/// A value from the file (JSON) or the environment (text).
pub(crate) enum SourceValue<'a> {
    Json(&'a Value),
    Text(String),
}

impl Source<'_> {
    fn shown(&self) -> String {
        match &self.value {
            SourceValue::Json(value) => value.to_string(),
            SourceValue::Text(text) => format!("\"{text}\""),
        }
    }

    fn fail(&self, expected: &str) -> SettingError {
        SettingError::Invalid {
            setting: self.name.clone(),
            expected: expected.to_owned(),
            got: self.shown(),
        }
    }

    /// A whole number in `min..=max`.
    pub(crate) fn whole(&self, min: u64, max: u64) -> Result<u64, SettingError> {
        let number = match &self.value {
            SourceValue::Json(value) => value.as_u64(),
            SourceValue::Text(text) => text.trim().parse().ok(),
        };
        number
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| self.fail(&format!("a whole number from {min} to {max}")))
    }

    /// A number in `min..=max`, described as `what` in the error.
    fn number(&self, min: f64, max: f64, what: &str) -> Result<f64, SettingError> {
        let number = match &self.value {
            SourceValue::Json(value) => value.as_f64(),
            SourceValue::Text(text) => text.trim().parse().ok(),
        };
        number
            .filter(|n| n.is_finite() && *n >= min && *n <= max)
            .ok_or_else(|| self.fail(&format!("{what} from {min} to {max}")))
    }

    /// A number of seconds in `min..=max`.
    pub(crate) fn seconds(&self, min: f64, max: f64) -> Result<Duration, SettingError> {
        self.number(min, max, "a number of seconds")
            .map(Duration::from_secs_f64)
    }

    /// A rate in `min..=max` per second.
    pub(crate) fn rate(&self, min: f64, max: f64) -> Result<f64, SettingError> {
        self.number(min, max, "a number per second")
    }

    /// Text.
    pub(crate) fn text(&self) -> Result<String, SettingError> {
        match &self.value {
            SourceValue::Json(Value::String(text)) => Ok(text.clone()),
            SourceValue::Text(text) => Ok(text.clone()),
            SourceValue::Json(_) => Err(self.fail("a string")),
        }
    }

    /// The unknown-provider policy.
    pub(crate) fn policy(&self) -> Result<UnknownProviders, SettingError> {
        self.text()?
            .parse()
            .map_err(|problem: String| SettingError::Refused {
                setting: self.name.clone(),
                problem,
            })
    }
}

/// The environment variable `name`, if set (an empty value counts as unset).
pub(crate) fn env(name: &str) -> Option<Source<'static>> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.is_empty())
        .map(|value| Source {
            name: format!("environment variable {name}"),
            value: SourceValue::Text(value),
        })
}

/// The key `key` of `object`, found at `at`.
pub(crate) fn key<'a>(object: &'a Map<String, Value>, at: &str, key: &str) -> Option<Source<'a>> {
    object.get(key).map(|value| Source {
        name: if at.is_empty() {
            format!("\"{key}\"")
        } else {
            format!("\"{at}.{key}\"")
        },
        value: SourceValue::Json(value),
    })
}

/// The worker's settings from the file's `"worker"` section and the environment, before
/// command-line options apply.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct WorkerSettings {
    pub(crate) concurrency: Option<usize>,
    pub(crate) batch_size: Option<usize>,
    pub(crate) lease: Option<Duration>,
    pub(crate) job_timeout: Option<Duration>,
    pub(crate) shutdown_grace: Option<Duration>,
    pub(crate) snooze_cap: Option<Duration>,
    pub(crate) unknown_providers: Option<UnknownProviders>,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) backoff_base: Option<Duration>,
    pub(crate) backoff_cap: Option<Duration>,
    /// Provider identifier → its own settings.
    pub(crate) providers: Vec<(String, ProviderWorkerSettings)>,
}

/// Per-provider worker settings (`worker.providers.<id>`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ProviderWorkerSettings {
    pub(crate) max_attempts: Option<u32>,
    pub(crate) backoff_base: Option<Duration>,
    pub(crate) backoff_cap: Option<Duration>,
    pub(crate) concurrency: Option<usize>,
    pub(crate) rate_per_second: Option<f64>,
}

/// The keys of the `"worker"` section.
pub(crate) const WORKER_KEYS: &[&str] = &[
    "concurrency",
    "batch_size",
    "lease_seconds",
    "job_timeout_seconds",
    "shutdown_grace_seconds",
    "snooze_cap_seconds",
    "unknown_providers",
    "max_attempts",
    "backoff_base_seconds",
    "backoff_cap_seconds",
    "providers",
];

/// The keys of `"worker.providers.<id>"`.
pub(crate) const PROVIDER_WORKER_KEYS: &[&str] = &[
    "max_attempts",
    "backoff_base_seconds",
    "backoff_cap_seconds",
    "concurrency",
    "rate_per_second",
];

const DAY: f64 = 86_400.0;

fn usize_of(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

fn u32_of(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// Reads the `"worker"` section (`section` may be empty), then lets environment variables
/// override it. Every problem is collected.
pub(crate) fn worker_settings(
    section: &Map<String, Value>,
    configured: &[String],
    problems: &mut Vec<String>,
) -> WorkerSettings {
    let mut settings = WorkerSettings::default();
    let at = "worker";
    let pick = |name: &str, variable: &str| env(variable).or_else(|| key(section, at, name));
    let mut record = |result: Result<(), SettingError>| {
        if let Err(problem) = result {
            problems.push(problem.to_string());
        }
    };
    if let Some(source) = pick("concurrency", "OUTSYNC_CONCURRENCY") {
        record(
            source
                .whole(1, 4096)
                .map(|n| settings.concurrency = Some(usize_of(n))),
        );
    }
    if let Some(source) = pick("batch_size", "OUTSYNC_BATCH_SIZE") {
        record(
            source
                .whole(1, 10_000)
                .map(|n| settings.batch_size = Some(usize_of(n))),
        );
    }
    if let Some(source) = pick("lease_seconds", "OUTSYNC_LEASE_SECONDS") {
        record(source.seconds(1.0, DAY).map(|d| settings.lease = Some(d)));
    }
    if let Some(source) = pick("job_timeout_seconds", "OUTSYNC_JOB_TIMEOUT_SECONDS") {
        record(
            source
                .seconds(0.1, DAY)
                .map(|d| settings.job_timeout = Some(d)),
        );
    }
    if let Some(source) = pick("shutdown_grace_seconds", "OUTSYNC_SHUTDOWN_GRACE_SECONDS") {
        record(
            source
                .seconds(0.0, 3600.0)
                .map(|d| settings.shutdown_grace = Some(d)),
        );
    }
    if let Some(source) = pick("snooze_cap_seconds", "OUTSYNC_SNOOZE_CAP_SECONDS") {
        record(
            source
                .seconds(0.0, 30.0 * DAY)
                .map(|d| settings.snooze_cap = Some(d)),
        );
    }
    if let Some(source) = pick("unknown_providers", "OUTSYNC_UNKNOWN_PROVIDERS") {
        record(
            source
                .policy()
                .map(|p| settings.unknown_providers = Some(p)),
        );
    }
    if let Some(source) = pick("max_attempts", "OUTSYNC_MAX_ATTEMPTS") {
        record(
            source
                .whole(1, 1000)
                .map(|n| settings.max_attempts = Some(u32_of(n))),
        );
    }
    if let Some(source) = pick("backoff_base_seconds", "OUTSYNC_BACKOFF_BASE_SECONDS") {
        record(
            source
                .seconds(0.001, DAY)
                .map(|d| settings.backoff_base = Some(d)),
        );
    }
    if let Some(source) = pick("backoff_cap_seconds", "OUTSYNC_BACKOFF_CAP_SECONDS") {
        record(
            source
                .seconds(0.001, 30.0 * DAY)
                .map(|d| settings.backoff_cap = Some(d)),
        );
    }
    match section.get("providers") {
        None => {}
        Some(Value::Object(by_provider)) => {
            for (identifier, value) in by_provider {
                let at = format!("worker.providers.{identifier}");
                if !configured.contains(identifier) {
                    problems.push(format!(
                        "\"{at}\": \"{identifier}\" is not one of the configured providers{}",
                        super::keys::did_you_mean(
                            identifier,
                            configured.iter().map(String::as_str)
                        )
                    ));
                    continue;
                }
                let Value::Object(own) = value else {
                    problems.push(format!(
                        "\"{at}\" must be an object of settings, got {value}"
                    ));
                    continue;
                };
                problems.extend(super::keys::unknown_keys(
                    own,
                    PROVIDER_WORKER_KEYS,
                    &format!("\"{at}\""),
                ));
                settings.providers.push((
                    identifier.clone(),
                    provider_worker_settings(own, &at, problems),
                ));
            }
        }
        Some(other) => problems.push(format!(
            "\"worker.providers\" must be an object keyed by provider, got {other}"
        )),
    }
    settings
}

fn provider_worker_settings(
    own: &Map<String, Value>,
    at: &str,
    problems: &mut Vec<String>,
) -> ProviderWorkerSettings {
    let mut settings = ProviderWorkerSettings::default();
    let mut record = |result: Result<(), SettingError>| {
        if let Err(problem) = result {
            problems.push(problem.to_string());
        }
    };
    if let Some(source) = key(own, at, "max_attempts") {
        record(
            source
                .whole(1, 1000)
                .map(|n| settings.max_attempts = Some(u32_of(n))),
        );
    }
    if let Some(source) = key(own, at, "backoff_base_seconds") {
        record(
            source
                .seconds(0.001, DAY)
                .map(|d| settings.backoff_base = Some(d)),
        );
    }
    if let Some(source) = key(own, at, "backoff_cap_seconds") {
        record(
            source
                .seconds(0.001, 30.0 * DAY)
                .map(|d| settings.backoff_cap = Some(d)),
        );
    }
    if let Some(source) = key(own, at, "concurrency") {
        record(
            source
                .whole(1, 4096)
                .map(|n| settings.concurrency = Some(usize_of(n))),
        );
    }
    if let Some(source) = key(own, at, "rate_per_second") {
        record(
            source
                .rate(0.001, 1_000_000.0)
                .map(|rate| settings.rate_per_second = Some(rate)),
        );
    }
    settings
}
