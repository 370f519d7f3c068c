//! Opening the queue database with settings that suit a job queue.

use super::error::QueueError;
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use std::time::Duration;

/// How to open the queue database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseSettings {
    /// Connections in the pool at most (default: 8 on SQLite, 16 on PostgreSQL; an
    /// in-memory SQLite database always uses one).
    pub pool_size: Option<u32>,
    /// How long to wait for the database to answer when connecting (default 5 s).
    pub connect_timeout: Duration,
    /// Open an SQLite file read-only (for commands that only read, so they work on a
    /// file they may not write).
    pub read_only: bool,
    /// SQLite `synchronous=FULL`: every commit is on disk before it returns, so it
    /// survives a power loss, not only a crash of the process (the default, `NORMAL` in
    /// WAL mode, may lose the last commits on power loss, never corrupts).
    pub sqlite_full_sync: bool,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            pool_size: None,
            connect_timeout: Duration::from_secs(5),
            read_only: false,
            sqlite_full_sync: false,
        }
    }
}

/// Connects to `url` (`sqlite://outsync.db?mode=rwc`, `sqlite::memory:`,
/// `postgres://…`) with the default [`DatabaseSettings`] and applies the migrations.
pub async fn connect(url: &str) -> Result<DatabaseConnection, QueueError> {
    let db = open(url, &DatabaseSettings::default()).await?;
    super::Queue::migrate(&db).await?;
    Ok(db)
}

/// Opens the database at `url` without migrating it.
///
/// SQLite gets WAL journaling, `synchronous=NORMAL` and a 10 s busy timeout (a writer waits
/// for another instead of failing); an in-memory database uses a single connection, since
/// every connection would otherwise see a database of its own. A database that cannot be
/// reached within `connect_timeout` is an error naming it (file, or host and port); the
/// URL's password never appears in an error.
///
/// A read-only SQLite reader whose folder it may not write (another user's queue) cannot
/// create the write-ahead log's shared-memory file. When no writer has the database open
/// (no log exists), SQLite answers "readonly directory"; the reader then opens the file as
/// immutable, which needs no such file.
pub async fn open(
    url: &str,
    settings: &DatabaseSettings,
) -> Result<DatabaseConnection, QueueError> {
    outsync_core::secret::register_url_password(url);
    match connect_with(url, settings, false).await {
        Err(QueueError::Connect { problem, .. })
            if settings.read_only && problem.contains(READONLY_DIRECTORY) =>
        {
            connect_with(url, settings, true).await
        }
        other => other,
    }
}

/// How SQLite's `SQLITE_READONLY_DIRECTORY` appears in sqlx's error text.
const READONLY_DIRECTORY: &str = "(code: 1544)";

async fn connect_with(
    url: &str,
    settings: &DatabaseSettings,
    immutable: bool,
) -> Result<DatabaseConnection, QueueError> {
    let target = describe(url);
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(settings.connect_timeout)
        .acquire_timeout(settings.connect_timeout.max(Duration::from_secs(30)));
    if url.starts_with("sqlite") {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        options.max_connections(if in_memory {
            1
        } else {
            settings.pool_size.unwrap_or(8).max(1)
        });
        if in_memory {
            options
                .min_connections(1)
                .idle_timeout(None::<Duration>)
                .max_lifetime(None::<Duration>);
        }
        sqlite_settings(&mut options, settings, immutable);
    } else {
        options.max_connections(settings.pool_size.unwrap_or(16).max(1));
        postgres_settings(&mut options, url);
    }
    let connecting = Database::connect(options);
    match tokio::time::timeout(
        settings.connect_timeout + Duration::from_secs(1),
        connecting,
    )
    .await
    {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(source)) => Err(QueueError::Connect {
            target,
            problem: outsync_core::secret::redact(&source.to_string()).into_owned(),
        }),
        Err(_) => Err(QueueError::Connect {
            target,
            problem: format!(
                "no answer within {} s",
                settings.connect_timeout.as_secs_f64()
            ),
        }),
    }
}

/// Prepared statements each SQLite connection keeps (sqlx keeps 100 by default).
#[cfg(feature = "sqlite")]
const STATEMENT_CACHE: usize = 16;

/// WAL journaling, `synchronous=NORMAL` (or `FULL`) and a 10 s busy timeout; or read-only
/// (and `immutable`, for a reader that cannot create the log's files).
#[cfg(feature = "sqlite")]
fn sqlite_settings(options: &mut ConnectOptions, settings: &DatabaseSettings, immutable: bool) {
    let (read_only, full_sync) = (settings.read_only, settings.sqlite_full_sync);
    options.map_sqlx_sqlite_opts(move |sqlite| {
        use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
        let sqlite = sqlite
            .busy_timeout(Duration::from_secs(10))
            .statement_cache_capacity(STATEMENT_CACHE);
        if read_only {
            sqlite
                .read_only(true)
                .create_if_missing(false)
                .immutable(immutable)
        } else {
            sqlite
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(if full_sync {
                    SqliteSynchronous::Full
                } else {
                    SqliteSynchronous::Normal
                })
        }
    });
}

/// Sets TCP_NODELAY on each new connection (see [`crate::tcp_nodelay`]). This is the
/// pool's only `after_connect`: sea-orm's own (for `set_schema_search_path`, which outsync
/// does not use) would be replaced by it.
#[cfg(feature = "postgres")]
fn postgres_settings(options: &mut ConnectOptions, url: &str) {
    use sea_orm::sqlx::postgres::PgConnectOptions;
    // A URL that does not parse fails in sea-orm's connect, with its error.
    let Ok(parsed) = url.parse::<PgConnectOptions>() else {
        return;
    };
    let (host, port) = (parsed.get_host().to_owned(), parsed.get_port());
    // Named in `pg_stat_activity`, unless the URL names the connections itself.
    if parsed.get_application_name().is_none() {
        options.map_sqlx_postgres_opts(|postgres| postgres.application_name(APPLICATION_NAME));
    }
    options.map_sqlx_postgres_pool_opts(move |pool| {
        let host = host.clone();
        pool.after_connect(move |_connection, _metadata| {
            let host = host.clone();
            Box::pin(async move {
                crate::tcp_nodelay::set_on_connections_to(&host, port).await;
                Ok(())
            })
        })
    });
}

/// The `application_name` of outsync's PostgreSQL connections when the URL gives none
/// (`?application_name=…`).
pub const APPLICATION_NAME: &str = "outsync";

#[cfg(not(feature = "postgres"))]
fn postgres_settings(_options: &mut ConnectOptions, _url: &str) {}

/// Without the `sqlite` feature, connecting to an SQLite URL fails with sea-orm's error.
#[cfg(not(feature = "sqlite"))]
fn sqlite_settings(_options: &mut ConnectOptions, _settings: &DatabaseSettings, _immutable: bool) {}

/// The file an SQLite URL points at (`sqlite://queue.db?mode=rwc` → `queue.db`); `None`
/// for other databases and in-memory SQLite.
pub fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite:")?;
    if rest.contains(":memory:") || rest.contains("mode=memory") {
        return None;
    }
    let path = rest.trim_start_matches("//").split('?').next()?;
    (!path.is_empty()).then_some(path)
}

/// What `url` points at, for messages, without credentials: `the SQLite file queue.db`,
/// `PostgreSQL at db.internal:5432`.
pub fn describe(url: &str) -> String {
    if url.starts_with("sqlite:") {
        return match sqlite_file(url) {
            Some(path) => format!("the SQLite file {path}"),
            None => "an in-memory SQLite database".to_owned(),
        };
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return "a database URL that cannot be read (expected sqlite://… or postgres://…)"
            .to_owned();
    };
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let host_part = match before_query.rfind('@') {
        Some(at) => &before_query[at + 1..],
        None => before_query,
    };
    // libpq's query parameters `host` and `port` win over the URL's authority.
    let parameter = |key: &str| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(name, _)| *name == key)
            .map(|(_, value)| value)
    };
    let authority = host_part.split('/').next().unwrap_or_default();
    // The port follows the last ':' that is not inside an IPv6 address's brackets.
    let (mut name, mut port) = match authority.rsplit_once(':') {
        Some((name, port)) if !port.contains(']') => (name, Some(port)),
        _ => (authority, None),
    };
    if let Some(value) = parameter("host") {
        if value.starts_with('/') {
            return format!("PostgreSQL at the socket directory {value}");
        }
        name = value;
    }
    port = parameter("port").or(port);
    let host = if name.is_empty() {
        "the local socket".to_owned()
    } else {
        format!("{name}:{}", port.unwrap_or("5432"))
    };
    let name = if scheme.starts_with("postgres") {
        "PostgreSQL"
    } else {
        scheme
    };
    format!("{name} at {host}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn describes_a_database_without_credentials() {
        use super::describe;
        assert_eq!(
            describe("postgres://u:Secret@127.0.0.1:99999/db"),
            "PostgreSQL at 127.0.0.1:99999"
        );
        assert_eq!(
            describe("postgres://u:p@db.internal/q"),
            "PostgreSQL at db.internal:5432"
        );
        assert_eq!(
            describe("sqlite:///var/lib/outsync/q.db?mode=rwc"),
            "the SQLite file /var/lib/outsync/q.db"
        );
        assert_eq!(describe("sqlite://q.db"), "the SQLite file q.db");
        assert!(!describe("postgres://u:Secret@?host=/x").contains("Secret"));
        assert_eq!(
            describe("postgres://u:Secret@127.0.0.1/db?host=/x"),
            "PostgreSQL at the socket directory /x"
        );
        assert_eq!(
            describe("postgres://u:p@127.0.0.1/db?port=6432&sslmode=disable"),
            "PostgreSQL at 127.0.0.1:6432"
        );
        assert_eq!(
            describe("postgres://u:p@localhost:5433/db?host=db.internal"),
            "PostgreSQL at db.internal:5433"
        );
        assert_eq!(
            describe("postgres://u:Secret@[::1]:5433/db"),
            "PostgreSQL at [::1]:5433"
        );
    }

    #[test]
    fn a_database_password_is_redacted_as_written_and_decoded() {
        outsync_core::secret::register_url_password("postgres://outsync:pw%2Fredact-me@db:5432/q");
        assert_eq!(
            outsync_core::secret::redact("pw%2Fredact-me and pw/redact-me"),
            "*** and ***"
        );
    }
}
