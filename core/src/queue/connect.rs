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
    list_password_for_redaction(url);
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

/// Lists the password of `url` for redaction (as written and decoded), so no error or log
/// line shows it.
fn list_password_for_redaction(url: &str) {
    if let Some(password) = url_password(url) {
        crate::Secret::new(password);
        crate::Secret::new(percent_encoding::percent_decode_str(password).decode_utf8_lossy());
    }
}

/// The password in a database URL's user information (`scheme://user:password@host/…`).
fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let (user_info, _host) = authority.rsplit_once('@')?;
    let (_user, password) = user_info.split_once(':')?;
    (!password.is_empty()).then_some(password)
}

#[cfg(test)]
mod tests {
    use super::url_password;

    #[test]
    fn finds_the_password_of_a_database_url() {
        assert_eq!(
            url_password("postgres://outsync:s3cr%40t-pw@db.internal:5432/queue?sslmode=require"),
            Some("s3cr%40t-pw")
        );
        assert_eq!(url_password("postgres://outsync@db/queue"), None);
        assert_eq!(url_password("sqlite://outsync.db?mode=rwc"), None);
        assert_eq!(url_password("postgres://u:@db/q"), None);
    }

    #[test]
    fn a_database_password_is_redacted_as_written_and_decoded() {
        super::list_password_for_redaction("postgres://outsync:pw%2Fredact-me@db:5432/q");
        assert_eq!(
            crate::secret::redact("pw%2Fredact-me and pw/redact-me"),
            "*** and ***"
        );
    }
}
