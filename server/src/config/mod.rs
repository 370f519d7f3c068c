//! The service configuration: one JSON file with the database, the source schema, the
//! providers and the worker's settings, plus environment overrides. Secrets stay in the
//! environment or in files. Loading is strict: an unknown key anywhere, or a value that
//! does not parse (in the file or the environment), is an error that names it.

mod error;
mod keys;
mod settings;

pub(crate) use error::{ConfigError, SchemaError};

pub(crate) use keys::did_you_mean;
pub(crate) use settings::WorkerSettings;

use outsync_core::schema::{ComputedFields, SourceSchema};
use outsync_core::{ConfiguredProvider, ProviderConfig, Registry};
use outsync_queue::{DatabaseSettings, Queue};
use outsync_sources::Sources;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The keys of the configuration file's top level.
const TOP_KEYS: &[&str] = &[
    "database_url",
    "database_pool_size",
    "schema",
    "providers",
    "scheduler_interval_seconds",
    "worker",
    "sources",
];

/// The default queue database: an SQLite file in the working directory.
pub(crate) const DEFAULT_DATABASE_URL: &str = "sqlite://outsync.db?mode=rwc";

/// A loaded configuration.
pub(crate) struct Config {
    /// Where the queue lives (`OUTSYNC_DATABASE_URL` overrides it).
    pub(crate) database_url: String,
    /// Connections in the queue database's pool (`OUTSYNC_DATABASE_POOL_SIZE`).
    pub(crate) database_pool_size: Option<u32>,
    /// The source schema.
    pub(crate) schema: Arc<SourceSchema>,
    /// Provider identifier → settings.
    pub(crate) providers: Vec<(String, Value)>,
    /// Seconds between scheduler rounds (`OUTSYNC_SCHEDULER_INTERVAL` overrides it).
    pub(crate) scheduler_interval: u64,
    /// The worker's settings from the file and the environment.
    pub(crate) worker: WorkerSettings,
    /// The `"sources"` section: where objects come from when a job carries none.
    pub(crate) sources: Option<Value>,
}

/// How a command uses the queue database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Create the database if it is missing, and migrate it (`outsync migrate`, `--create`).
    Create,
    /// Migrate an existing database and write to it; a missing SQLite file is an error.
    Write,
    /// Only read: an SQLite file is opened read-only, nothing is migrated.
    Read,
}

/// What the queue database is, for error messages (set when it is opened).
static DATABASE: OnceLock<String> = OnceLock::new();

/// The opened queue database's description (`the SQLite file q.db`), if one was opened.
pub(crate) fn database_description() -> Option<&'static str> {
    DATABASE.get().map(String::as_str)
}

impl Config {
    /// Reads `path`:
    ///
    /// ```json
    /// {"database_url": "sqlite://outsync.db?mode=rwc", "database_pool_size": 8,
    ///  "schema": "basket" | {"models": [...], "fields": [...]} | {"file": "schema.json"},
    ///  "providers": {"basket": {"base_url": "...", "api_key_env": "BASKET_API_KEY"}},
    ///  "scheduler_interval_seconds": 5,
    ///  "worker": {"concurrency": 16, "shutdown_grace_seconds": 30, ...}}
    /// ```
    pub(crate) fn load(path: &Path) -> Result<Self, ConfigError> {
        let file = path.to_path_buf();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
            file: file.clone(),
            source,
        })?;
        let document: Value =
            serde_json::from_str(&text).map_err(|source| ConfigError::NotJson {
                file: file.clone(),
                source,
            })?;
        let Value::Object(document) = document else {
            return Err(ConfigError::NotAnObject { file });
        };
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut problems = keys::unknown_keys(&document, TOP_KEYS, "the top level");
        let providers = read_providers(&document, &mut problems);
        let database_url = match settings::env("OUTSYNC_DATABASE_URL")
            .or_else(|| settings::key(&document, "", "database_url"))
        {
            Some(source) => source.text().unwrap_or_else(|problem| {
                problems.push(problem.to_string());
                String::new()
            }),
            None => DEFAULT_DATABASE_URL.to_owned(),
        };
        let database_pool_size = settings::env("OUTSYNC_DATABASE_POOL_SIZE")
            .or_else(|| settings::key(&document, "", "database_pool_size"))
            .and_then(|source| {
                source
                    .whole(1, 1000)
                    .map_err(|problem| problems.push(problem.to_string()))
                    .ok()
            })
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        let scheduler_interval = settings::env("OUTSYNC_SCHEDULER_INTERVAL")
            .or_else(|| settings::env("INTERVAL_SCHEDULER_SECONDS"))
            .or_else(|| settings::key(&document, "", "scheduler_interval_seconds"))
            .map_or(Some(5), |source| {
                source
                    .whole(1, 86_400)
                    .map_err(|problem| problems.push(problem.to_string()))
                    .ok()
            })
            .unwrap_or(5);
        let empty = Map::new();
        let worker_section = match document.get("worker") {
            None => &empty,
            Some(Value::Object(section)) => {
                problems.extend(keys::unknown_keys(
                    section,
                    settings::WORKER_KEYS,
                    "\"worker\"",
                ));
                section
            }
            Some(other) => {
                problems.push(format!(
                    "\"worker\" must be an object of settings, got {other}"
                ));
                &empty
            }
        };
        let configured: Vec<String> = providers.iter().map(|(id, _)| id.clone()).collect();
        let worker = settings::worker_settings(worker_section, &configured, &mut problems);
        let schema = load_schema(document.get("schema"), &base).map_err(|problem| {
            problems.push(problem.to_string());
        });
        match (schema, problems.is_empty()) {
            (Ok(schema), true) => Ok(Self {
                database_url,
                database_pool_size,
                schema: Arc::new(schema),
                providers,
                scheduler_interval,
                worker,
                sources: document.get("sources").cloned(),
            }),
            _ => Err(ConfigError::Invalid { file, problems }),
        }
    }

    /// Reads the `"sources"` section and connects its SQL sources; `None` without one.
    pub(crate) async fn open_sources(&self) -> Result<Option<Arc<Sources>>, ConfigError> {
        let Some(section) = &self.sources else {
            return Ok(None);
        };
        let sources = Sources::open(section, self.schema.clone())
            .await
            .map_err(|error| ConfigError::Sources {
                problem: error.messages().join("\n"),
            })?;
        Ok(Some(Arc::new(sources)))
    }

    /// Builds every configured provider; all problems are collected.
    pub(crate) fn build_providers(&self) -> Result<Vec<Arc<ConfiguredProvider>>, Vec<String>> {
        let registry = Registry::global().map_err(|e| vec![e.to_string()])?;
        let mut built = Vec::new();
        let mut problems = Vec::new();
        for (identifier, settings) in &self.providers {
            let config = ProviderConfig {
                settings: settings.clone(),
                schema: self.schema.clone(),
            };
            match registry.build(identifier, &config) {
                Ok(provider) => built.push(Arc::from(provider)),
                Err(error) => problems.extend(error.messages().iter().cloned()),
            }
        }
        if problems.is_empty() {
            Ok(built)
        } else {
            Err(problems)
        }
    }

    /// The configured providers, built; a configuration without any is an error for the
    /// commands that run or enqueue jobs.
    pub(crate) fn require_providers(&self) -> Result<Vec<Arc<ConfiguredProvider>>, ConfigError> {
        if self.providers.is_empty() {
            return Err(ConfigError::NoProviders);
        }
        self.build_providers()
            .map_err(|problems| ConfigError::Providers { problems })
    }

    /// Opens the queue database for `access` and a queue for `providers` (checked against
    /// their mappings), or for the configured identifiers when `providers` is `None`.
    pub(crate) async fn open_queue(
        &self,
        access: Access,
        providers: Option<&[Arc<ConfiguredProvider>]>,
    ) -> Result<(Queue, outsync_queue::sea_orm::DatabaseConnection), crate::commands::Exit> {
        let _ = DATABASE.set(outsync_queue::describe(&self.database_url));
        let url = self.url_for(access)?;
        let settings = DatabaseSettings {
            pool_size: self.database_pool_size,
            read_only: access == Access::Read && url.starts_with("sqlite"),
            ..DatabaseSettings::default()
        };
        let db = outsync_queue::open(&url, &settings).await?;
        match access {
            Access::Create | Access::Write => Queue::migrate(&db).await?,
            Access::Read => {
                if !Queue::is_migrated(&db).await? {
                    return Err(crate::commands::Exit::failure(format!(
                        "the queue database ({}) is not set up for this version of outsync: run `outsync migrate`",
                        outsync_queue::describe(&self.database_url)
                    )));
                }
            }
        }
        let queue = match providers {
            // Knowing its providers, the queue also refuses a job without a snapshot that
            // no configured source could load.
            Some(providers) => {
                let loadable = outsync_sources::LoadableObjects::read(self.sources.as_ref())
                    .map_err(|error| ConfigError::Sources {
                        problem: error.messages().join("\n"),
                    })?;
                Queue::for_providers(providers).with_loadable_objects(
                    move |provider, object_type| loadable.can_load(provider, object_type),
                )
            }
            None => Queue::new(self.providers.iter().map(|(id, _)| id.clone())),
        };
        let queue = queue.with_database_clock(&db).await?;
        Ok((queue, db))
    }

    /// The database URL to open for `access`: a missing SQLite file is only created when
    /// asked to.
    fn url_for(&self, access: Access) -> Result<String, ConfigError> {
        let url = &self.database_url;
        let Some(path) = outsync_queue::sqlite_file(url) else {
            return Ok(url.clone());
        };
        if access == Access::Create {
            if url.contains("mode=") {
                return Ok(url.clone());
            }
            let separator = if url.contains('?') { '&' } else { '?' };
            return Ok(format!("{url}{separator}mode=rwc"));
        }
        if !Path::new(&path).exists() {
            return Err(ConfigError::MissingSqliteFile {
                path: path.to_owned(),
            });
        }
        Ok(url.clone())
    }
}

/// The `"providers"` section, each provider's keys checked against what it reads.
fn read_providers(
    document: &Map<String, Value>,
    problems: &mut Vec<String>,
) -> Vec<(String, Value)> {
    let providers = match document.get("providers") {
        Some(Value::Object(map)) => map,
        None => return Vec::new(),
        Some(other) => {
            problems.push(format!(
                "\"providers\" must be an object of provider settings, got {other}"
            ));
            return Vec::new();
        }
    };
    let registry = Registry::global().ok();
    for (identifier, settings) in providers {
        let Some(registry) = &registry else { break };
        let at = format!("\"providers.{identifier}\"");
        let Ok(registration) = registry.get(identifier) else {
            let known: Vec<&str> = registry.providers().iter().map(|r| r.identifier).collect();
            problems.push(format!(
                "{at}: no provider \"{identifier}\" is registered{} (registered: {})",
                did_you_mean(identifier, known.iter().copied()),
                known.join(", ")
            ));
            continue;
        };
        match settings {
            Value::Object(own) => {
                let mut allowed = vec!["mappings"];
                allowed.extend_from_slice(registration.settings);
                problems.extend(keys::unknown_keys(own, &allowed, &at));
            }
            other => problems.push(format!("{at} must be an object of settings, got {other}")),
        }
    }
    providers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn computed() -> ComputedFields {
    outsync_basket::computed_fields()
}

fn load_schema(value: Option<&Value>, base: &Path) -> Result<SourceSchema, SchemaError> {
    match value {
        None => Err(SchemaError::Missing),
        Some(Value::String(name)) if name == "basket" => Ok(outsync_basket::basket_schema()?),
        Some(Value::String(other)) => Err(SchemaError::UnknownBuiltIn(other.clone())),
        Some(Value::Object(map)) if map.contains_key("file") => {
            let file = map["file"].as_str().ok_or(SchemaError::FileNotAPath)?;
            let path: PathBuf = base.join(file);
            let text = std::fs::read_to_string(&path)
                .map_err(|source| SchemaError::Unreadable { path, source })?;
            Ok(SourceSchema::from_json(&text, &computed())?)
        }
        Some(inline) => Ok(SourceSchema::from_json(&inline.to_string(), &computed())?),
    }
}
