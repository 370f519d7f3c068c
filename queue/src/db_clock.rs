//! Time from the database server, so that workers on many hosts agree on leases and
//! schedules even when their own clocks disagree.

use super::clock::{Clock, SharedClock, SystemClock};
use super::error::QueueError;
use super::is_postgres;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The database server's clock, read as this host's clock plus a measured offset.
///
/// Lease expiries, retry times and schedules are compared across workers; taken from each
/// worker's own clock, a host running ten minutes fast would take back the live jobs of
/// every other host. A `DatabaseClock` measures how far the database's clock is from the
/// local one (PostgreSQL's `clock_timestamp()`, corrected by half the round trip) and keeps
/// measuring in the background. On SQLite the database lives on this host: the offset is 0.
#[derive(Debug, Clone)]
pub struct DatabaseClock {
    local: SharedClock,
    offset_ms: Arc<AtomicI64>,
}

impl DatabaseClock {
    /// Measures the offset of `db`'s clock from the system clock.
    pub async fn measure(db: &DatabaseConnection) -> Result<Self, QueueError> {
        Self::measure_with(db, Arc::new(SystemClock)).await
    }

    /// Measures the offset of `db`'s clock from `local` (tests pass a skewed clock).
    pub async fn measure_with(
        db: &DatabaseConnection,
        local: SharedClock,
    ) -> Result<Self, QueueError> {
        let clock = Self {
            local,
            offset_ms: Arc::new(AtomicI64::new(0)),
        };
        clock.resync(db).await?;
        Ok(clock)
    }

    /// The database's clock minus the local clock, in ms, as last measured.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Measures the offset again.
    pub async fn resync(&self, db: &DatabaseConnection) -> Result<i64, QueueError> {
        if !is_postgres(db) {
            return Ok(0);
        }
        let before = self.local.now_ms();
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT AS now_ms",
            ))
            .await
            .map_err(QueueError::db("reading the database clock"))?;
        let after = self.local.now_ms();
        let database_ms: i64 = row
            .and_then(|row| row.try_get("", "now_ms").ok())
            .unwrap_or(before);
        let offset = database_ms - (before + (after - before) / 2);
        self.offset_ms.store(offset, Ordering::Relaxed);
        Ok(offset)
    }

    /// Re-measures every `interval` in a background task, which ends when the last clone
    /// of this clock is dropped. Errors keep the previous offset.
    pub fn refresh_every(&self, db: DatabaseConnection, interval: Duration) {
        let weak: Weak<AtomicI64> = Arc::downgrade(&self.offset_ms);
        let local = self.local.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(offset_ms) = weak.upgrade() else {
                    return;
                };
                let clock = Self {
                    local: local.clone(),
                    offset_ms,
                };
                if let Err(error) = clock.resync(&db).await {
                    tracing::warn!(%error, "cannot read the database clock; keeping the last offset");
                }
            }
        });
    }
}

impl Clock for DatabaseClock {
    fn now_ms(&self) -> i64 {
        self.local.now_ms() + self.offset_ms()
    }
}
