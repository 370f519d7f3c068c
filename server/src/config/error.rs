//! Typed configuration errors: each names the file, the setting or the variable.

use std::path::PathBuf;

/// A setting whose value is not one it accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SettingError {
    /// The value has the wrong type or range.
    #[error("{setting} must be {expected}, got {got}")]
    Invalid {
        /// `"worker.concurrency"` or `environment variable OUTSYNC_CONCURRENCY`.
        setting: String,
        /// What it accepts.
        expected: String,
        /// What it holds.
        got: String,
    },
    /// The value has the right type but is refused.
    #[error("{setting}: {problem}")]
    Refused {
        /// Where the value was read.
        setting: String,
        /// Why it is refused.
        problem: String,
    },
}

/// The source schema the configuration names cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SchemaError {
    /// No `schema` key.
    #[error("\"schema\" is missing: the source models and fields mappings read")]
    Missing,
    /// `"schema": "name"` with an unknown name.
    #[error("\"schema\": no built-in schema \"{0}\" (built in: basket)")]
    UnknownBuiltIn(String),
    /// `"schema": {"file": …}` whose file is not a string.
    #[error("\"schema.file\" must be a path")]
    FileNotAPath,
    /// The schema file cannot be read.
    #[error("cannot read schema {}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The schema does not load.
    #[error(transparent)]
    Invalid(#[from] outsync_core::schema::SchemaError),
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// The file cannot be read.
    #[error("configuration {}: cannot read it: {source}", file.display())]
    Unreadable {
        /// The file.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("configuration {}: not valid JSON: {source}", file.display())]
    NotJson {
        /// The file.
        file: PathBuf,
        /// Where and why.
        source: serde_json::Error,
    },
    /// The file is JSON but not an object.
    #[error("configuration {}: the configuration must be a JSON object", file.display())]
    NotAnObject {
        /// The file.
        file: PathBuf,
    },
    /// Settings are wrong; every problem found is listed.
    #[error("configuration {}: {}", file.display(), listed(problems))]
    Invalid {
        /// The file.
        file: PathBuf,
        /// Each problem, naming its key or variable.
        problems: Vec<String>,
    },
    /// A command that syncs found no provider to sync with.
    #[error(
        "no providers are configured (\"providers\" is missing or empty): there would be nothing to sync"
    )]
    NoProviders,
    /// Configured providers cannot be built.
    #[error("{}", problems.join("\n"))]
    Providers {
        /// Each provider's problems, naming the provider.
        problems: Vec<String>,
    },
    /// `OUTSYNC_API_TOKEN_FILE` cannot be read.
    #[error("OUTSYNC_API_TOKEN_FILE: cannot read {path}: {source}")]
    TokenUnreadable {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// No API token, or one too short to be a secret.
    #[error(
        "set OUTSYNC_API_TOKEN (or OUTSYNC_API_TOKEN_FILE) to a secret of at least 16 characters: every API call and the dashboard login need it"
    )]
    WeakToken,
    /// The `"sources"` section is wrong, or a SQL source cannot connect.
    #[error("{problem}")]
    Sources {
        /// What is wrong, naming the key.
        problem: String,
    },
    /// The SQLite queue file is missing and was not to be created.
    #[error(
        "the SQLite file {path} does not exist: create it with `outsync migrate` (or pass --create)"
    )]
    MissingSqliteFile {
        /// The file.
        path: String,
    },
}

fn listed(problems: &[String]) -> String {
    match problems {
        [one] => one.clone(),
        many => format!("{} problems:\n  {}", many.len(), many.join("\n  ")),
    }
}
