//! The external-object ledger in the queue's database (`external_holding`,
//! `external_object`), so that every worker sharing the queue sees the same holdings,
//! notes and locks. See [`outsync_core::ledger`].

use crate::clock::SharedClock;
use crate::sql::{get, statement};
use outsync_core::ledger::{KeyLock, KeyedTurns};
use outsync_core::{ExternalKey, ExternalLedger, Holder, ObjectRef, SyncError, async_trait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, QueryResult};
use serde_json::Value;
use std::time::{Duration, Instant};

/// How long a lock on an external key lasts if its worker vanishes without unlocking.
const LEASE: Duration = Duration::from_secs(120);
/// How long [`ExternalLedger::lock`] waits for another worker's turn to end.
const PATIENCE: Duration = Duration::from_secs(30);

/// One provider's ledger in the queue's database.
#[derive(Debug, Clone)]
pub struct QueueLedger {
    db: DatabaseConnection,
    provider: String,
    clock: SharedClock,
    /// Names this ledger's locks in the database (one per process and provider).
    owner: String,
    turns: KeyedTurns,
}

impl QueueLedger {
    /// The ledger of `provider` in `db`, timed by `clock`.
    pub fn new(db: DatabaseConnection, provider: &str, clock: SharedClock) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        Self {
            db,
            provider: provider.to_owned(),
            clock,
            owner: format!("{}-{nanos:x}", std::process::id()),
            turns: KeyedTurns::default(),
        }
    }

    async fn run(
        &self,
        what: &str,
        sql: &str,
        values: Vec<sea_orm::Value>,
    ) -> Result<u64, SyncError> {
        self.db
            .execute_raw(statement(&self.db, sql, values))
            .await
            .map(|done| done.rows_affected())
            .map_err(|error| failed(what, &error))
    }

    async fn rows(
        &self,
        what: &str,
        sql: &str,
        values: Vec<sea_orm::Value>,
    ) -> Result<Vec<QueryResult>, SyncError> {
        self.db
            .query_all_raw(statement(&self.db, sql, values))
            .await
            .map_err(|error| failed(what, &error))
    }

    fn key_values(&self, key: &ExternalKey) -> Vec<sea_orm::Value> {
        vec![
            self.provider.clone().into(),
            key.object_type.clone().into(),
            key.id.clone().into(),
        ]
    }

    /// Takes the database lease on `key` if it is free, expired or already ours.
    async fn try_lease(&self, key: &ExternalKey) -> Result<bool, SyncError> {
        let now = self.clock.now_ms();
        let until = now + i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
        let mut values = self.key_values(key);
        values.extend([now.into(), self.owner.clone().into(), until.into()]);
        let taken = self
            .run(
                &format!("locking {key}"),
                "INSERT INTO external_object (provider, external_type, external_id, updated_at, lease_owner, lease_until) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (provider, external_type, external_id) DO UPDATE \
                 SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until \
                 WHERE external_object.lease_owner IS NULL OR external_object.lease_until < $4 \
                 OR external_object.lease_owner = $5",
                values,
            )
            .await?;
        Ok(taken > 0)
    }
}

fn failed(what: &str, error: &DbErr) -> SyncError {
    SyncError::recoverable(format!("{what}: queue database error: {error}"))
}

fn holder_from(row: &QueryResult) -> Result<Holder, DbErr> {
    Ok(Holder::new(
        ObjectRef::new(
            get::<String>(row, "holder_type")?,
            get::<String>(row, "holder_id")?,
        ),
        get::<String>(row, "holder_mapping")?,
        get::<String>(row, "holder_child")?,
    ))
}

fn key_from(row: &QueryResult) -> Result<ExternalKey, DbErr> {
    Ok(ExternalKey::new(
        get::<String>(row, "external_type")?,
        get::<String>(row, "external_id")?,
    ))
}

fn holder_values(provider: &str, holder: &Holder) -> Vec<sea_orm::Value> {
    vec![
        provider.into(),
        holder.object.object_type.clone().into(),
        holder.object.id.clone().into(),
        holder.mapping.clone().into(),
        holder.child.clone().into(),
    ]
}

#[async_trait]
impl ExternalLedger for QueueLedger {
    async fn lock(&self, key: &ExternalKey) -> Result<KeyLock, SyncError> {
        // Within this process, callers take turns in memory; the database lease orders
        // this process against the others.
        let turn = self.turns.take(key).await;
        let started = Instant::now();
        let mut wait = Duration::from_millis(5);
        while !self.try_lease(key).await? {
            if started.elapsed() > PATIENCE {
                return Err(SyncError::recoverable(format!(
                    "{key} stayed locked by another worker for {} s",
                    PATIENCE.as_secs()
                )));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_millis(200));
        }
        Ok(KeyLock::new(key.clone(), turn))
    }

    async fn unlock(&self, lock: KeyLock) -> Result<(), SyncError> {
        let mut values = self.key_values(&lock.key);
        values.push(self.owner.clone().into());
        let unlocked = self
            .run(
                &format!("unlocking {}", lock.key),
                "UPDATE external_object SET lease_owner = NULL, lease_until = NULL \
                 WHERE provider = $1 AND external_type = $2 AND external_id = $3 AND lease_owner = $4",
                values,
            )
            .await;
        drop(lock);
        unlocked.map(drop)
    }

    async fn hold(&self, holder: &Holder, key: &ExternalKey) -> Result<(), SyncError> {
        let mut values = holder_values(&self.provider, holder);
        values.extend([
            key.object_type.clone().into(),
            key.id.clone().into(),
            self.clock.now_ms().into(),
        ]);
        self.run(
            &format!("recording that {holder} holds {key}"),
            "INSERT INTO external_holding (provider, holder_type, holder_id, holder_mapping, holder_child, external_type, external_id, held_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            values,
        )
        .await
        .map(drop)
    }

    async fn release(&self, holder: &Holder, key: &ExternalKey) -> Result<(), SyncError> {
        let mut values = holder_values(&self.provider, holder);
        values.extend([key.object_type.clone().into(), key.id.clone().into()]);
        self.run(
            &format!("recording that {holder} let go of {key}"),
            "DELETE FROM external_holding WHERE provider = $1 AND holder_type = $2 AND holder_id = $3 \
             AND holder_mapping = $4 AND holder_child = $5 AND external_type = $6 AND external_id = $7",
            values,
        )
        .await
        .map(drop)
    }

    async fn holders(&self, key: &ExternalKey) -> Result<Vec<Holder>, SyncError> {
        let what = format!("reading the holders of {key}");
        self.rows(
            &what,
            "SELECT holder_type, holder_id, holder_mapping, holder_child FROM external_holding \
             WHERE provider = $1 AND external_type = $2 AND external_id = $3 \
             ORDER BY holder_type, holder_id, holder_mapping, holder_child",
            self.key_values(key),
        )
        .await?
        .iter()
        .map(holder_from)
        .collect::<Result<_, _>>()
        .map_err(|error| failed(&what, &error))
    }

    async fn holdings_of(
        &self,
        object: &ObjectRef,
    ) -> Result<Vec<(Holder, ExternalKey)>, SyncError> {
        let what = format!("reading what {object} holds");
        self.rows(
            &what,
            "SELECT holder_type, holder_id, holder_mapping, holder_child, external_type, external_id \
             FROM external_holding WHERE provider = $1 AND holder_type = $2 AND holder_id = $3 \
             ORDER BY holder_mapping, holder_child",
            vec![
                self.provider.clone().into(),
                object.object_type.clone().into(),
                object.id.clone().into(),
            ],
        )
        .await?
        .iter()
        .map(|row| Ok((holder_from(row)?, key_from(row)?)))
        .collect::<Result<_, DbErr>>()
        .map_err(|error| failed(&what, &error))
    }

    async fn note(&self, key: &ExternalKey) -> Result<Option<Value>, SyncError> {
        let what = format!("reading the note about {key}");
        let rows = self
            .rows(
                &what,
                "SELECT note FROM external_object WHERE provider = $1 AND external_type = $2 AND external_id = $3",
                self.key_values(key),
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let text: Option<String> = get(row, "note").map_err(|error| failed(&what, &error))?;
        text.map(|text| {
            serde_json::from_str(&text).map_err(|error| {
                SyncError::permanent(format!("{what}: the stored note is not JSON: {error}"))
            })
        })
        .transpose()
    }

    async fn set_note(&self, key: &ExternalKey, note: &Value) -> Result<(), SyncError> {
        let mut values = self.key_values(key);
        values.extend([note.to_string().into(), self.clock.now_ms().into()]);
        self.run(
            &format!("writing the note about {key}"),
            "INSERT INTO external_object (provider, external_type, external_id, note, updated_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (provider, external_type, external_id) DO UPDATE \
             SET note = excluded.note, updated_at = excluded.updated_at",
            values,
        )
        .await
        .map(drop)
    }
}
