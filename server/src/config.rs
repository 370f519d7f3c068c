//! The service configuration: one JSON file with the database, the source schema and the
//! providers, plus environment overrides. Secrets stay in the environment or in files.

use outsync_core::queue::{Queue, connect};
use outsync_core::schema::{ComputedFields, SourceSchema};
use outsync_core::{OutboundSyncProvider, ProviderConfig, Registry};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A loaded configuration.
pub(crate) struct Config {
    /// Where the queue lives (`OUTSYNC_DATABASE_URL` overrides it).
    pub(crate) database_url: String,
    /// The source schema.
    pub(crate) schema: Arc<SourceSchema>,
    /// Provider identifier → settings.
    pub(crate) providers: Vec<(String, Value)>,
    /// Seconds between scheduler rounds (`OUTSYNC_SCHEDULER_INTERVAL` overrides it).
    pub(crate) scheduler_interval: u64,
}

fn fail(path: &Path, message: impl std::fmt::Display) -> String {
    format!("configuration {}: {message}", path.display())
}

impl Config {
    /// Reads `path`:
    ///
    /// ```json
    /// {"database_url": "sqlite://outsync.db?mode=rwc",
    ///  "schema": "basket" | {"models": [...], "fields": [...]} | {"file": "schema.json"},
    ///  "providers": {"basket": {"base_url": "...", "api_key_env": "BASKET_API_KEY"}},
    ///  "scheduler_interval_seconds": 5}
    /// ```
    pub(crate) fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| fail(path, format!("cannot read it: {e}")))?;
        let document: Value =
            serde_json::from_str(&text).map_err(|e| fail(path, format!("not valid JSON: {e}")))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let database_url = std::env::var("OUTSYNC_DATABASE_URL")
            .ok()
            .or_else(|| {
                document
                    .get("database_url")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "sqlite://outsync.db?mode=rwc".to_owned());
        let schema =
            Arc::new(load_schema(document.get("schema"), &base).map_err(|e| fail(path, e))?);
        let providers = match document.get("providers") {
            Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            None => Vec::new(),
            Some(other) => {
                return Err(fail(
                    path,
                    format!("\"providers\" must be an object of provider settings, got {other}"),
                ));
            }
        };
        let scheduler_interval = std::env::var("OUTSYNC_SCHEDULER_INTERVAL")
            .ok()
            .and_then(|v| v.parse().ok())
            .or_else(|| {
                document
                    .get("scheduler_interval_seconds")
                    .and_then(Value::as_u64)
            })
            .unwrap_or(5);
        Ok(Self {
            database_url,
            schema,
            providers,
            scheduler_interval,
        })
    }

    /// Builds every configured provider; all problems are collected.
    pub(crate) fn build_providers(
        &self,
    ) -> Result<Vec<Arc<dyn OutboundSyncProvider>>, Vec<String>> {
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

    /// The queue for the configured providers, and its database.
    pub(crate) async fn open_queue(
        &self,
    ) -> Result<(Queue, outsync_core::sea_orm::DatabaseConnection), String> {
        let db = connect(&self.database_url)
            .await
            .map_err(|e| format!("{e}: {}", error_chain(&e)))?;
        let queue = Queue::new(self.providers.iter().map(|(id, _)| id.clone()))
            .with_database_clock(&db)
            .await
            .map_err(|e| format!("{e}: {}", error_chain(&e)))?;
        Ok((queue, db))
    }
}

/// The causes of an error, joined.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    parts.join(": ")
}

fn computed() -> ComputedFields {
    outsync_basket::computed_fields()
}

fn load_schema(value: Option<&Value>, base: &Path) -> Result<SourceSchema, String> {
    match value {
        None => Err("\"schema\" is missing: the source models and fields mappings read".into()),
        Some(Value::String(name)) if name == "basket" => {
            outsync_basket::basket_schema().map_err(|e| e.to_string())
        }
        Some(Value::String(other)) => Err(format!(
            "\"schema\": no built-in schema \"{other}\" (built in: basket)"
        )),
        Some(Value::Object(map)) if map.contains_key("file") => {
            let file = map["file"]
                .as_str()
                .ok_or("\"schema.file\" must be a path")?;
            let path: PathBuf = base.join(file);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read schema {}: {e}", path.display()))?;
            SourceSchema::from_json(&text, &computed()).map_err(|e| e.to_string())
        }
        Some(inline) => {
            SourceSchema::from_json(&inline.to_string(), &computed()).map_err(|e| e.to_string())
        }
    }
}
