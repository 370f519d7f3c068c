//! # outsync-sources
//!
//! Where the worker gets an object when a job carries no snapshot (or when the source is
//! preferred): the application's HTTP API or its SQL database, configured in JSON, per
//! object type and provider:
//!
//! ```json
//! "sources": {
//!   "*": {"kind": "snapshot"},
//!   "UserProfile": {"kind": "http", "base_url": "http://app/api", "url": "{base_url}/users/{id}/",
//!                   "pointer": "/data", "token_env": "APP_TOKEN",
//!                   "related": {"Addon": {"url": "{base_url}/users/{id}/addons/", "pointer": "/ids"}}},
//!   "Order": {"kind": "sql", "database_url_env": "APP_DATABASE_URL",
//!             "query": "SELECT * FROM orders WHERE code = $1",
//!             "children": {"OrderPosition": "SELECT * FROM positions WHERE order_code = $1"}},
//!   "basket/Addon": {"kind": "http", "url": "http://app/api/addons/{id}/"}
//! }
//! ```
//!
//! The most specific key wins: `provider/Type`, `provider/*`, `Type`, `*`. [`Sources`]
//! implements [`ObjectSource`]; `related` names objects to enqueue along with one (a user's
//! add-ons, whose payload embeds the user).

mod http;
pub mod spec;
mod sql;

use http::HttpSource;
use outsync_core::schema::SourceSchema;
use outsync_core::{ObjectRef, ObjectSource, SyncError, async_trait};
use serde_json::Value;
use spec::{RelatedLookup, RelatedSpec, SourceKind, read_sources};
use sql::SqlSource;
use std::collections::HashMap;
use std::sync::Arc;

/// A source ready to load.
#[derive(Debug, Clone)]
enum Loader {
    Snapshot,
    Http(Arc<HttpSource>),
    Sql(Arc<SqlSource>),
}

#[derive(Debug, Clone)]
struct Entry {
    key: String,
    loader: Loader,
    prefer_source: bool,
    related: Vec<RelatedSpec>,
}

/// The configured object sources, by provider and object type.
#[derive(Debug, Clone)]
pub struct Sources {
    entries: HashMap<String, Entry>,
    /// Some key names a provider (`provider/…`): only then does a lookup build those keys.
    by_provider: bool,
    schema: Arc<SourceSchema>,
}

impl Sources {
    /// Reads the `"sources"` section and connects the SQL sources (one read-only pool per
    /// database URL). Problems name the key.
    pub async fn open(section: &Value, schema: Arc<SourceSchema>) -> Result<Self, SyncError> {
        let mut databases: HashMap<String, sea_orm::DatabaseConnection> = HashMap::new();
        let mut entries = HashMap::new();
        for (key, entry) in read_sources(section)? {
            let object_type = key.rsplit('/').next().unwrap_or_default().to_owned();
            if object_type != "*" && schema.model(&object_type).is_none() {
                return Err(SyncError::config(format!(
                    "sources.\"{key}\": the schema has no model \"{object_type}\""
                )));
            }
            let loader = match &entry.kind {
                SourceKind::Snapshot => Loader::Snapshot,
                SourceKind::Http(spec) => Loader::Http(Arc::new(HttpSource::new(spec.clone())?)),
                SourceKind::Sql(spec) => {
                    if object_type == "*" {
                        return Err(SyncError::config(format!(
                            "sources.\"{key}\": a sql source names its object type (its query reads one table)"
                        )));
                    }
                    let url = spec.database_url.expose();
                    let db = match databases.get(url) {
                        Some(db) => db.clone(),
                        None => {
                            let db = sql::connect(url)
                                .await
                                .map_err(|error| error.in_context(&format!("sources.\"{key}\"")))?;
                            databases.insert(url.to_owned(), db.clone());
                            db
                        }
                    };
                    Loader::Sql(Arc::new(SqlSource::new(spec, db, &schema, &object_type)?))
                }
            };
            entries.insert(
                key.clone(),
                Entry {
                    key,
                    loader,
                    prefer_source: entry.prefer_source,
                    related: entry.related,
                },
            );
        }
        let by_provider = entries.keys().any(|key| key.contains('/'));
        Ok(Self {
            entries,
            by_provider,
            schema,
        })
    }

    /// The configured keys and kinds (`UserProfile: http, Order: sql`), sorted.
    pub fn describe(&self) -> String {
        let mut keys: Vec<String> = self
            .entries
            .values()
            .map(|entry| {
                let kind = match entry.loader {
                    Loader::Snapshot => "snapshot",
                    Loader::Http(_) => "http",
                    Loader::Sql(_) => "sql",
                };
                format!("{}: {kind}", entry.key)
            })
            .collect();
        keys.sort();
        keys.join(", ")
    }

    /// No source is configured (every job must carry its object).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry for `provider`'s objects of `object_type`. Called for every job that loads.
    fn entry(&self, provider: &str, object_type: &str) -> Option<&Entry> {
        most_specific(&self.entries, self.by_provider, provider, object_type)
    }

    /// Every problem of the sources for a service running `providers`: the first SQL query
    /// that fails ([`check`](Self::check)), and each related object no source could load
    /// (its enqueues would be refused). Empty when the sources are ready.
    pub async fn problems_for(&self, providers: &[&str]) -> Vec<String> {
        let mut problems = match self.check().await {
            Ok(()) => Vec::new(),
            Err(error) => error.messages().to_vec(),
        };
        problems.extend(self.unloadable_related(providers));
        problems
    }

    /// Related objects no source could load, for any of `providers`: each a problem
    /// naming the key, the related type and the provider.
    fn unloadable_related(&self, providers: &[&str]) -> Vec<String> {
        let mut entries: Vec<&Entry> = self.entries.values().collect();
        entries.sort_by_key(|entry| &entry.key);
        let mut problems = Vec::new();
        for entry in entries {
            let for_provider = entry.key.split_once('/').map(|(provider, _)| provider);
            for related in &entry.related {
                for &provider in providers {
                    if for_provider.is_some_and(|only| only != provider) {
                        continue;
                    }
                    let loads = self
                        .entry(provider, &related.object_type)
                        .is_some_and(|found| !matches!(found.loader, Loader::Snapshot));
                    if !loads {
                        problems.push(format!(
                            "sources.\"{}\": related {} of provider \"{provider}\" could not be loaded: add sources.\"{}\" (an http or sql source)",
                            entry.key, related.object_type, related.object_type
                        ));
                    }
                }
            }
        }
        problems
    }

    /// Runs every SQL query against its database (`EXPLAIN`), naming the first that fails.
    pub async fn check(&self) -> Result<(), SyncError> {
        let mut entries: Vec<&Entry> = self.entries.values().collect();
        entries.sort_by_key(|entry| &entry.key);
        for entry in entries {
            if let Loader::Sql(source) = &entry.loader {
                source.check(&entry.key).await?;
            }
        }
        Ok(())
    }

    /// The objects to enqueue along with `object` for `provider` (`related` of its
    /// source), e.g. the add-ons a changed user authors.
    pub async fn related(
        &self,
        provider: &str,
        object: &ObjectRef,
    ) -> Result<Vec<ObjectRef>, SyncError> {
        let Some(entry) = self.entry(provider, &object.object_type) else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        for related in &entry.related {
            let ids = match (&entry.loader, &related.lookup) {
                (Loader::Http(source), RelatedLookup::Http { url, pointer }) => {
                    source.related_ids(url, pointer, object).await?
                }
                (Loader::Sql(source), RelatedLookup::Sql { query }) => {
                    source.related_ids(query, object).await?
                }
                _ => Vec::new(),
            };
            found.extend(
                ids.into_iter()
                    .map(|id| ObjectRef::new(related.object_type.clone(), id)),
            );
        }
        Ok(found)
    }
}

/// The value of the most specific key for `provider`'s objects of `object_type`:
/// `provider/Type`, `provider/*`, `Type`, `*` (the first two only when `by_provider`, i.e.
/// some key names a provider).
fn most_specific<'a, T>(
    entries: &'a HashMap<String, T>,
    by_provider: bool,
    provider: &str,
    object_type: &str,
) -> Option<&'a T> {
    let for_provider = || {
        entries
            .get(&format!("{provider}/{object_type}"))
            .or_else(|| entries.get(&format!("{provider}/*")))
    };
    by_provider
        .then(for_provider)
        .flatten()
        .or_else(|| entries.get(object_type))
        .or_else(|| entries.get("*"))
}

/// Which objects the `"sources"` section can load, read without connecting anything: the
/// door's check that a job without a snapshot has a source to load it from.
#[derive(Debug, Clone, Default)]
pub struct LoadableObjects {
    /// For each key, whether it loads (`http`, `sql`) rather than needing a snapshot.
    loads: HashMap<String, bool>,
    by_provider: bool,
}

impl LoadableObjects {
    /// What `section` (the configuration's `"sources"`, `None` without one) can load.
    pub fn read(section: Option<&Value>) -> Result<Self, SyncError> {
        let Some(section) = section else {
            return Ok(Self::default());
        };
        let loads: HashMap<String, bool> = read_sources(section)?
            .into_iter()
            .map(|(key, entry)| (key, !matches!(entry.kind, SourceKind::Snapshot)))
            .collect();
        let by_provider = loads.keys().any(|key| key.contains('/'));
        Ok(Self { loads, by_provider })
    }

    /// Whether a source can load `provider`'s objects of `object_type`.
    pub fn can_load(&self, provider: &str, object_type: &str) -> bool {
        most_specific(&self.loads, self.by_provider, provider, object_type) == Some(&true)
    }
}

#[async_trait]
impl ObjectSource for Sources {
    async fn load(&self, object: &ObjectRef) -> Result<Option<Value>, SyncError> {
        self.load_for("", object).await
    }

    async fn load_for(
        &self,
        provider: &str,
        object: &ObjectRef,
    ) -> Result<Option<Value>, SyncError> {
        let Some(entry) = self.entry(provider, &object.object_type) else {
            return Err(SyncError::config(format!(
                "the job has no snapshot and no source is configured for {} (add sources.\"{}\" or sources.\"*\")",
                object.object_type, object.object_type
            )));
        };
        match &entry.loader {
            Loader::Snapshot => Err(SyncError::config(format!(
                "the job has no snapshot and sources.\"{}\" is \"snapshot\": the application must send the object, or configure an http or sql source",
                entry.key
            ))),
            Loader::Http(source) => {
                let id_path = self
                    .schema
                    .model(&object.object_type)
                    .and_then(|model| model.id_path.as_ref());
                source.load(object, id_path).await
            }
            Loader::Sql(source) => source.load(object).await,
        }
    }

    fn preferred_over_snapshot(&self, provider: &str, object_type: &str) -> bool {
        self.entry(provider, object_type)
            .is_some_and(|entry| entry.prefer_source)
    }
}

#[cfg(test)]
mod tests {
    use super::LoadableObjects;
    use serde_json::json;

    #[test]
    fn loadable_objects_follow_the_most_specific_key_and_snapshot_loads_nothing() {
        let none = LoadableObjects::read(None).unwrap();
        assert!(!none.can_load("basket", "UserProfile"));
        let section = json!({
            "*": {"kind": "snapshot"},
            "UserProfile": {"kind": "http", "url": "http://app/users/{id}"},
            "basket/Addon": {"kind": "http", "url": "http://app/addons/{id}"},
            "crm/UserProfile": {"kind": "snapshot"}
        });
        let loadable = LoadableObjects::read(Some(&section)).unwrap();
        assert!(loadable.can_load("basket", "UserProfile"));
        assert!(
            !loadable.can_load("crm", "UserProfile"),
            "provider/Type wins"
        );
        assert!(loadable.can_load("basket", "Addon"));
        assert!(!loadable.can_load("crm", "Addon"), "\"*\" is a snapshot");
        let typo = json!({"UserProfile": {"kind": "http", "url": "http://x/{id}", "pointr": "/"}});
        let problem = LoadableObjects::read(Some(&typo)).unwrap_err().to_string();
        assert!(problem.contains("did you mean \"pointer\"?"), "{problem}");
    }
}
