//! Opening the queue database with settings that suit a job queue.

use super::error::QueueError;
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use std::time::Duration;

/// Connects to `url` (`sqlite://outsync.db?mode=rwc`, `sqlite::memory:`,
/// `postgres://…`) and applies the migrations.
///
/// SQLite gets WAL journaling, `synchronous=NORMAL` and a 10 s busy timeout (a writer waits
/// for another instead of failing); an in-memory database uses a single connection, since
/// every connection would otherwise see a database of its own.
pub async fn connect(url: &str) -> Result<DatabaseConnection, QueueError> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(30));
    if url.starts_with("sqlite") {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        options.max_connections(if in_memory { 1 } else { 8 });
        if in_memory {
            options
                .min_connections(1)
                .idle_timeout(None::<Duration>)
                .max_lifetime(None::<Duration>);
        }
        options.map_sqlx_sqlite_opts(|sqlite| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            sqlite
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
        });
    } else {
        options.max_connections(16);
    }
    let db = Database::connect(options)
        .await
        .map_err(QueueError::db("connecting to the queue database"))?;
    super::Queue::migrate(&db).await?;
    Ok(db)
}
