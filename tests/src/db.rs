//! Test databases: a fresh SQLite file, and a fresh schema on the machine's PostgreSQL.
//!
//! PostgreSQL's URL comes from `OUTSYNC_TEST_POSTGRES_URL` (CI sets it), defaulting to the
//! local server `postgres://postgres@127.0.0.1:5432/test`.

use outsync_queue::connect;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// The backends queue tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file in a temporary directory.
    Sqlite,
    /// A fresh schema on PostgreSQL.
    Postgres,
}

/// A connected, migrated test database and the URL that reaches it.
#[derive(Debug, Clone)]
pub struct TestDb {
    /// Which backend.
    pub backend: Backend,
    /// A URL other processes can connect to (same file or schema).
    pub url: String,
    /// The connection.
    pub db: DatabaseConnection,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}_{}_{}_{nanos:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The PostgreSQL server URL tests use.
pub fn postgres_url() -> String {
    std::env::var("OUTSYNC_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A temporary directory for one test.
pub fn temp_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique_name(&format!("outsync_{label}")));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A fresh database on `backend`.
pub async fn fresh(backend: Backend) -> TestDb {
    let url = match backend {
        Backend::Sqlite => {
            let path = temp_dir("sqlite").join("queue.db");
            format!("sqlite://{}?mode=rwc", path.display())
        }
        Backend::Postgres => schema_url(&postgres_url()).await,
    };
    let db = connect(&url).await.expect("connect and migrate");
    TestDb { backend, url, db }
}

/// A fresh, migrated schema on the PostgreSQL server at `server`.
pub async fn fresh_on_postgres(server: &str) -> TestDb {
    let url = schema_url(server).await;
    let db = connect(&url).await.expect("connect and migrate");
    TestDb {
        backend: Backend::Postgres,
        url,
        db,
    }
}

/// A URL of a fresh, empty database on `backend` (not migrated; for SQLite the file does
/// not exist yet).
pub async fn fresh_url(backend: Backend) -> String {
    match backend {
        Backend::Sqlite => {
            let path = temp_dir("sqlite").join("queue.db");
            format!("sqlite://{}?mode=rwc", path.display())
        }
        Backend::Postgres => schema_url(&postgres_url()).await,
    }
}

/// Creates a fresh schema on `server` and returns a URL whose `search_path` is that schema.
async fn schema_url(server: &str) -> String {
    let admin = sea_orm::Database::connect(server)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {server} is needed for queue tests: {e}"));
    drop_stale_schemas(server, &admin).await;
    let schema = unique_name("outsync_t");
    admin
        .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create schema");
    admin.close().await.ok();
    let separator = if server.contains('?') { '&' } else { '?' };
    format!("{server}{separator}options=-c%20search_path%3D{schema}")
}

/// A fresh database on PostgreSQL, or `None` when the server cannot be reached and this is
/// not CI: the test says it was skipped. Under CI (`CI` set) an unreachable server fails
/// the test, as PostgreSQL tests must run there.
pub async fn fresh_postgres_or_skip(test: &str) -> Option<TestDb> {
    let server = postgres_url();
    let reachable = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        sea_orm::Database::connect(&server),
    )
    .await
    .is_ok_and(|connected| connected.is_ok());
    if !reachable && std::env::var_os("CI").is_none() {
        eprintln!(
            "SKIPPED {test} on PostgreSQL: no server at OUTSYNC_TEST_POSTGRES_URL ({}); CI runs it",
            postgres_url().split('@').next_back().unwrap_or_default()
        );
        return None;
    }
    Some(fresh(Backend::Postgres).await)
}

/// Declares a queue test that runs on each backend as a case of its own:
/// `backend_test! { async fn name(t) { ... } }` makes `name::sqlite` and `name::postgres`,
/// each with a fresh [`TestDb`] in `t`. The PostgreSQL case is skipped (with a message)
/// when no server is reachable outside CI.
#[macro_export]
macro_rules! backend_test {
    (async fn $name:ident($t:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($t: $crate::db::TestDb) $body

            #[tokio::test]
            async fn sqlite() {
                run($crate::db::fresh($crate::db::Backend::Sqlite).await).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(db) =
                    $crate::db::fresh_postgres_or_skip(module_path!()).await
                {
                    run(db).await;
                }
            }
        }
    };
}

/// Drops test schemas left behind by earlier test processes (once per process and server).
async fn drop_stale_schemas(server: &str, admin: &DatabaseConnection) {
    static CLEANED: tokio::sync::Mutex<Vec<String>> = tokio::sync::Mutex::const_new(Vec::new());
    let mut cleaned = CLEANED.lock().await;
    if cleaned.iter().any(|done| done == server) {
        return;
    }
    cleaned.push(server.to_owned());
    let own = format!("outsync_t_{}_%", std::process::id());
    let rows = admin
        .query_all_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT schema_name FROM information_schema.schemata \
             WHERE schema_name LIKE 'outsync\\_t\\_%' AND schema_name NOT LIKE $1",
            [own.into()],
        ))
        .await
        .unwrap_or_default();
    for row in rows {
        if let Ok(name) = row.try_get::<String>("", "schema_name") {
            let _ = admin
                .execute_unprepared(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                .await;
        }
    }
}
