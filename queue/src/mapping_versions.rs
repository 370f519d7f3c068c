//! Mappings as numbered versions in the queue's database (`mapping_version`): who saved
//! each, when, and why; the configuration file seeds the first. A worker given a
//! [`MappingReloader`] picks up a new version without a restart, and each run records the
//! version it used.

use super::Queue;
use super::error::QueueError;
use super::sql::{begin_write, get, statement};
use outsync_core::{ConfiguredProvider, SyncError};
use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// One saved version of a provider's mappings.
#[derive(Debug, Clone, PartialEq)]
pub struct MappingVersion {
    /// The provider.
    pub provider: String,
    /// 1 for the first, then counting up.
    pub version: i64,
    /// The mappings (a JSON list, outsync's format).
    pub mappings: Value,
    /// Who saved it (`config file`, `dashboard`, `cli`, or a name).
    pub author: String,
    /// Why, if they said (`rollback to version 2`).
    pub note: Option<String>,
    /// When (ms since the epoch).
    pub created_at: i64,
}

fn version_from(row: &QueryResult) -> Result<MappingVersion, QueueError> {
    let read = || -> Result<(MappingVersion, String), sea_orm::DbErr> {
        Ok((
            MappingVersion {
                provider: get(row, "provider")?,
                version: get(row, "version")?,
                mappings: Value::Null,
                author: get(row, "author")?,
                note: get(row, "note")?,
                created_at: get(row, "created_at")?,
            },
            get(row, "mappings")?,
        ))
    };
    let (mut version, text) = read().map_err(QueueError::db("reading mapping versions"))?;
    version.mappings = serde_json::from_str(&text).map_err(|error| QueueError::CorruptRecord {
        table: "mapping_version",
        id: version.version,
        problem: format!("the mappings are not JSON: {error}"),
    })?;
    Ok(version)
}

const COLUMNS: &str = "provider, version, mappings, author, note, created_at";

/// The author of versions seeded from the configuration file.
pub const CONFIG_FILE: &str = "config file";

impl Queue {
    /// Saves `mappings` as `provider`'s next version; returns its number. Check them first
    /// (the server builds the provider with them): a worker that cannot build a version
    /// keeps the one it has.
    pub async fn save_mapping_version(
        &self,
        conn: &DatabaseConnection,
        provider: &str,
        mappings: &Value,
        author: &str,
        note: Option<&str>,
    ) -> Result<i64, QueueError> {
        let tx = begin_write(conn)
            .await
            .map_err(QueueError::db("starting a transaction"))?;
        let latest = latest_in(&tx, provider).await?.unwrap_or(0);
        tx.execute_raw(statement(
            &tx,
            &format!("INSERT INTO mapping_version ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"),
            vec![
                provider.into(),
                (latest + 1).into(),
                mappings.to_string().into(),
                author.into(),
                note.map(str::to_owned).into(),
                self.now_ms().into(),
            ],
        ))
        .await
        .map_err(QueueError::db("saving a mapping version"))?;
        tx.commit()
            .await
            .map_err(QueueError::db("saving a mapping version"))?;
        Ok(latest + 1)
    }

    /// Records the configuration file's `mappings` for `provider`: saved as a new version
    /// (author [`CONFIG_FILE`]) when there is none yet or the file's mappings changed since
    /// the file last seeded a version; otherwise versions saved since (in the dashboard or
    /// with the CLI) stay in force. Returns the latest version.
    pub async fn seed_mapping_version(
        &self,
        conn: &DatabaseConnection,
        provider: &str,
        mappings: &Value,
    ) -> Result<i64, QueueError> {
        let versions = self.mapping_versions(conn, provider).await?;
        let from_file = versions
            .iter()
            .find(|version| version.author == CONFIG_FILE);
        match (versions.first(), from_file) {
            (Some(latest), Some(seeded)) if seeded.mappings == *mappings => Ok(latest.version),
            _ => {
                self.save_mapping_version(conn, provider, mappings, CONFIG_FILE, None)
                    .await
            }
        }
    }

    /// `provider`'s latest version number, if it has any.
    pub async fn latest_mapping_version<C: ConnectionTrait>(
        &self,
        conn: &C,
        provider: &str,
    ) -> Result<Option<i64>, QueueError> {
        latest_in(conn, provider).await
    }

    /// Every version of `provider`, newest first.
    pub async fn mapping_versions<C: ConnectionTrait>(
        &self,
        conn: &C,
        provider: &str,
    ) -> Result<Vec<MappingVersion>, QueueError> {
        let rows = conn
            .query_all_raw(statement(
                conn,
                &format!("SELECT {COLUMNS} FROM mapping_version WHERE provider = $1 ORDER BY version DESC"),
                vec![provider.into()],
            ))
            .await
            .map_err(QueueError::db("reading mapping versions"))?;
        rows.iter().map(version_from).collect()
    }

    /// Version `version` of `provider`, if it exists.
    pub async fn mapping_version<C: ConnectionTrait>(
        &self,
        conn: &C,
        provider: &str,
        version: i64,
    ) -> Result<Option<MappingVersion>, QueueError> {
        version_in(conn, provider, version).await
    }
}

async fn version_in<C: ConnectionTrait>(
    conn: &C,
    provider: &str,
    version: i64,
) -> Result<Option<MappingVersion>, QueueError> {
    let row = conn
        .query_one_raw(statement(
            conn,
            &format!("SELECT {COLUMNS} FROM mapping_version WHERE provider = $1 AND version = $2"),
            vec![provider.into(), version.into()],
        ))
        .await
        .map_err(QueueError::db("reading a mapping version"))?;
    row.as_ref().map(version_from).transpose()
}

async fn latest_in<C: ConnectionTrait>(
    conn: &C,
    provider: &str,
) -> Result<Option<i64>, QueueError> {
    let row = conn
        .query_one_raw(statement(
            conn,
            "SELECT MAX(version) AS latest FROM mapping_version WHERE provider = $1",
            vec![provider.into()],
        ))
        .await
        .map_err(QueueError::db("reading the latest mapping version"))?;
    row.map(|row| get::<Option<i64>>(&row, "latest"))
        .transpose()
        .map(Option::flatten)
        .map_err(QueueError::db("reading the latest mapping version"))
}

/// Builds a provider anew with other mappings: the service rebuilds it from its settings
/// with `mappings` in place of the configured ones (checking them as at start).
pub trait MappingReloader: Send + Sync {
    /// `provider_id` with `mappings`.
    fn rebuild(&self, provider_id: &str, mappings: &Value)
    -> Result<ConfiguredProvider, SyncError>;
}

/// How often a worker looks for new mapping versions.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// A worker's providers by mapping version: rebuilt when a newer version appears.
pub(crate) struct VersionedProviders {
    reloader: Arc<dyn MappingReloader>,
    /// provider → (version, provider built with it).
    current: RwLock<HashMap<String, (i64, Arc<ConfiguredProvider>)>>,
    /// provider → the latest version that could not be built (not tried again).
    unusable: Mutex<HashMap<String, i64>>,
    checked_at: Mutex<Option<Instant>>,
}

impl VersionedProviders {
    pub(crate) fn new(reloader: Arc<dyn MappingReloader>) -> Self {
        Self {
            reloader,
            current: RwLock::default(),
            unusable: Mutex::default(),
            checked_at: Mutex::default(),
        }
    }

    /// The provider to run `provider_id`'s next job with, and its mapping version (`None`
    /// while no version is stored: the configured mappings).
    pub(crate) async fn provider(
        &self,
        db: &DatabaseConnection,
        provider_id: &str,
        configured: &Arc<ConfiguredProvider>,
    ) -> (Arc<ConfiguredProvider>, Option<i64>) {
        let due = {
            let mut checked = self
                .checked_at
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let due = checked.is_none_or(|at| at.elapsed() >= CHECK_EVERY);
            if due {
                *checked = Some(Instant::now());
            }
            due
        };
        if due {
            self.refresh(db).await;
        }
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        match current.get(provider_id) {
            Some((version, provider)) => (provider.clone(), Some(*version)),
            None => (configured.clone(), None),
        }
    }

    /// Loads and builds every provider whose latest version is newer than the loaded one.
    async fn refresh(&self, db: &DatabaseConnection) {
        let rows = match db
            .query_all_raw(statement(
                db,
                "SELECT provider, MAX(version) AS latest FROM mapping_version GROUP BY provider",
                vec![],
            ))
            .await
        {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(%error, "cannot look for new mapping versions");
                return;
            }
        };
        for row in rows {
            let (Ok(provider), Ok(latest)) =
                (get::<String>(&row, "provider"), get::<i64>(&row, "latest"))
            else {
                continue;
            };
            let loaded = self
                .current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&provider)
                .map(|(version, _)| *version);
            let unusable = self
                .unusable
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&provider)
                .copied();
            if loaded == Some(latest) || unusable == Some(latest) {
                continue;
            }
            let Ok(Some(version)) = version_in(db, &provider, latest).await else {
                continue;
            };
            match self.reloader.rebuild(&provider, &version.mappings) {
                Ok(built) => {
                    tracing::info!(
                        provider,
                        version = latest,
                        "mappings changed: using the new version"
                    );
                    self.current
                        .write()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(provider, (latest, Arc::new(built)));
                }
                Err(error) => {
                    tracing::error!(provider, version = latest, error = %error, "a mapping version cannot be used; keeping the one in use");
                    self.unusable
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(provider, latest);
                }
            }
        }
    }
}
