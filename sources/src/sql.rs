//! A SQL source: one query per object type against the application's own database, on a
//! read-only connection of its own.

use crate::spec::SqlSpec;
use outsync_core::schema::{FieldPath, SourceSchema};
use outsync_core::{ObjectRef, SyncError};
use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend,
    FromQueryResult, Statement, TransactionTrait,
};
use serde_json::{Map, Value};
use std::time::Duration;

/// A child model filled by its own query.
#[derive(Debug, Clone)]
struct ChildQuery {
    model: String,
    /// Where the children go in the parent object (`positions`).
    path: Vec<String>,
    query: String,
}

/// Loads objects with a query per object.
#[derive(Debug, Clone)]
pub(crate) struct SqlSource {
    db: DatabaseConnection,
    query: String,
    json_column: Option<String>,
    children: Vec<ChildQuery>,
    id_path: Option<FieldPath>,
}

/// Opens a read-only connection to the application's database at `url`.
pub(crate) async fn connect(url: &str) -> Result<DatabaseConnection, SyncError> {
    let read_only_url = if url.starts_with("sqlite:") && !url.contains("mode=") {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}mode=ro")
    } else {
        url.to_owned()
    };
    let mut options = ConnectOptions::new(read_only_url);
    options
        .sqlx_logging(false)
        .max_connections(16)
        .connect_timeout(Duration::from_secs(10));
    Database::connect(options).await.map_err(|error| {
        SyncError::unavailable(outsync_core::secret::redact(&format!(
            "cannot connect to the application database: {error}"
        )))
    })
}

impl SqlSource {
    /// A source running `spec`'s queries on `db` for objects of `object_type`.
    pub(crate) fn new(
        spec: &SqlSpec,
        db: DatabaseConnection,
        schema: &SourceSchema,
        object_type: &str,
    ) -> Result<Self, SyncError> {
        let children = spec
            .children
            .iter()
            .map(|(model, query)| {
                let found = schema.model(model).filter(|m| m.parent.as_deref() == Some(object_type));
                let path = found.and_then(|m| m.path.as_ref()).ok_or_else(|| {
                    SyncError::config(format!(
                        "sources.\"{object_type}\".children: \"{model}\" is not a child model of {object_type} in the schema"
                    ))
                })?;
                Ok(ChildQuery {
                    model: model.clone(),
                    path: path.to_string().split('.').map(str::to_owned).collect(),
                    query: query.clone(),
                })
            })
            .collect::<Result<_, SyncError>>()?;
        Ok(Self {
            db,
            query: spec.query.clone(),
            json_column: spec.json_column.clone(),
            children,
            id_path: schema.model(object_type).and_then(|m| m.id_path.clone()),
        })
    }

    fn statement(&self, query: &str, id: &str) -> Statement {
        Statement::from_sql_and_values(self.db.get_database_backend(), query, [id.into()])
    }

    /// Runs `query` with `id` in a read-only transaction (where the database has them).
    async fn rows(&self, query: &str, id: &str, what: &str) -> Result<Vec<Value>, SyncError> {
        let failed = |error: sea_orm::DbErr| {
            SyncError::recoverable(outsync_core::secret::redact(&format!("{what}: {error}")))
        };
        let statement = self.statement(query, id);
        if self.db.get_database_backend() == DbBackend::Sqlite {
            return Value::find_by_statement(statement)
                .all(&self.db)
                .await
                .map_err(failed);
        }
        let transaction = self
            .db
            .begin_with_config(None, Some(AccessMode::ReadOnly))
            .await
            .map_err(failed)?;
        let rows = Value::find_by_statement(statement)
            .all(&transaction)
            .await
            .map_err(failed)?;
        transaction.commit().await.map_err(failed)?;
        Ok(rows)
    }

    /// A row as the object: its columns, or the JSON in `json_column`.
    fn object_of(&self, row: Value, what: &str) -> Result<Value, SyncError> {
        let Some(column) = &self.json_column else {
            return Ok(row);
        };
        match row.get(column) {
            Some(Value::String(text)) => serde_json::from_str(text).map_err(|error| {
                SyncError::permanent(format!("{what}: column \"{column}\" is not JSON: {error}"))
            }),
            Some(value @ Value::Object(_)) => Ok(value.clone()),
            _ => Err(SyncError::permanent(format!(
                "{what}: the query returned no JSON column \"{column}\""
            ))),
        }
    }

    /// The object's current state, or `None` when the query finds no row.
    pub(crate) async fn load(&self, object: &ObjectRef) -> Result<Option<Value>, SyncError> {
        let what = format!("loading {object}");
        let mut rows = self.rows(&self.query, &object.id, &what).await?.into_iter();
        let Some(row) = rows.next() else {
            return Ok(None);
        };
        if rows.next().is_some() {
            return Err(SyncError::config(format!(
                "{what}: the query of sources.\"{}\" returned more than one row",
                object.object_type
            )));
        }
        let mut found = self.object_of(row, &what)?;
        for child in &self.children {
            let what = format!("loading the {} of {object}", child.model);
            let rows = self.rows(&child.query, &object.id, &what).await?;
            insert_at(&mut found, &child.path, Value::Array(rows));
        }
        if let Some(id_path) = &self.id_path {
            let id = id_path
                .lookup(&found)
                .map(outsync_core::mapping::value_to_string)
                .unwrap_or_default();
            if id != object.id {
                return Err(SyncError::config(format!(
                    "{what}: the query returned the object with id \"{id}\" at \"{id_path}\", not \"{}\"",
                    object.id
                )));
            }
        }
        Ok(Some(found))
    }

    /// The ids `query` returns (first column of each row) for `object`.
    pub(crate) async fn related_ids(
        &self,
        query: &str,
        object: &ObjectRef,
    ) -> Result<Vec<String>, SyncError> {
        let what = format!("looking up what is related to {object}");
        let rows = self.rows(query, &object.id, &what).await?;
        Ok(rows
            .iter()
            .filter_map(|row| row.as_object()?.values().next())
            .map(outsync_core::mapping::value_to_string)
            .filter(|id| !id.is_empty())
            .collect())
    }

    /// Checks every query against the database (`EXPLAIN`), naming the one that fails by
    /// its configuration `key`.
    pub(crate) async fn check(&self, key: &str) -> Result<(), SyncError> {
        let mut queries = vec![(format!("sources.\"{key}\".query"), &self.query)];
        for child in &self.children {
            queries.push((
                format!("sources.\"{key}\".children.\"{}\"", child.model),
                &child.query,
            ));
        }
        for (name, query) in queries {
            // "0" reads as a number and as text, whatever the id column is.
            let explain = self.statement(&format!("EXPLAIN {query}"), "0");
            self.db.query_all_raw(explain).await.map_err(|error| {
                SyncError::config(outsync_core::secret::redact(&format!(
                    "{name} does not run: {error}"
                )))
            })?;
        }
        Ok(())
    }
}

/// Puts `value` at the dotted `path` of `object`, creating objects on the way.
fn insert_at(object: &mut Value, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = object;
    for key in parents {
        let Value::Object(map) = current else { return };
        current = map
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if let Value::Object(map) = current {
        map.insert(last.clone(), value);
    }
}
