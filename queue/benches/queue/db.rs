//! The databases measured, and the raw limit of each: what the database itself does per
//! second with the writes a drain makes, without outsync.

use outsync_queue::{DatabaseSettings, Queue, open};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, Value};
use std::time::Instant;

/// A database the benchmark runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// An SQLite file with outsync's defaults (WAL, `synchronous=NORMAL`).
    Sqlite,
    /// An SQLite file with `synchronous=FULL`.
    SqliteFull,
    /// A fresh schema on the PostgreSQL server.
    Postgres,
}

impl Target {
    /// How the figures name it.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::SqliteFull => "SQLite FULL",
            Self::Postgres => "PostgreSQL",
        }
    }
}

/// The PostgreSQL server (`OUTSYNC_BENCH_POSTGRES_URL`, default the local one; `skip`
/// measures SQLite only).
pub(crate) fn postgres_server() -> Option<String> {
    let url = std::env::var("OUTSYNC_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    (url != "skip").then_some(url)
}

/// A fresh, migrated database on `target`, and its URL.
pub(crate) async fn fresh(target: Target, label: &str) -> (DatabaseConnection, String) {
    let url = match target {
        Target::Sqlite | Target::SqliteFull => {
            let dir =
                std::env::temp_dir().join(format!("outsync-bench-{}-{label}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("bench dir");
            format!("sqlite://{}?mode=rwc", dir.join("queue.db").display())
        }
        Target::Postgres => {
            let server = postgres_server().expect("a PostgreSQL server");
            let admin = sea_orm::Database::connect(&server).await.expect("postgres");
            let schema = format!("outsync_bench_{label}");
            admin
                .execute_unprepared(&format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
                ))
                .await
                .expect("schema");
            admin.close().await.ok();
            let separator = if server.contains('?') { '&' } else { '?' };
            format!("{server}{separator}options=-c%20search_path%3D{schema}")
        }
    };
    (connect(target, &url).await, url)
}

/// Connects to `url` as `target` wants, and migrates.
pub(crate) async fn connect(target: Target, url: &str) -> DatabaseConnection {
    let settings = DatabaseSettings {
        sqlite_full_sync: target == Target::SqliteFull,
        ..DatabaseSettings::default()
    };
    let db = open(url, &settings).await.expect("open");
    Queue::migrate(&db).await.expect("migrate");
    db
}

async fn exec(db: &DatabaseConnection, sql: String) {
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("raw statement");
}

/// The raw limit in objects/s: transactions that each delete 100 jobs and insert 3
/// results and 1 run row per job (what a drain writes per 100 orders), as bound
/// statements of the same driver, `clients` transactions at a time (each on its own
/// connection), over `batches` transactions in all.
pub(crate) async fn raw_limit(db: &DatabaseConnection, batches: usize, clients: usize) -> f64 {
    let jobs = batches * 100;
    exec(
        db,
        format!(
            "INSERT INTO sync_queue (provider, object_type, object_id, snapshot, triggered_by, \
             triggered_at, not_before) SELECT 'raw', 'Order', 'R' || n, '{{\"code\": 1}}', 'raw', 0, 0 \
             FROM ({}) AS numbers",
            numbers(jobs)
        ),
    )
    .await;
    let first: i64 = {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT MIN(id) AS id FROM sync_queue WHERE provider = 'raw'",
            ))
            .await
            .expect("min id")
            .expect("a row");
        row.try_get("", "id").expect("id")
    };
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..clients {
        let db = db.clone();
        tasks.spawn(async move {
            for batch in (client..batches).step_by(clients) {
                raw_batch(&db, first, batch).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    (jobs * 3) as f64 / started.elapsed().as_secs_f64()
}

/// Placeholders for `rows` rows of `columns` values on `db`'s backend.
fn placeholders(db: &DatabaseConnection, rows: usize, columns: usize) -> String {
    let postgres = db.get_database_backend() == sea_orm::DbBackend::Postgres;
    let mut text = String::new();
    for row in 0..rows {
        text.push_str(if row == 0 { "(" } else { ",(" });
        for column in 0..columns {
            if column > 0 {
                text.push(',');
            }
            if postgres {
                text.push_str(&format!("${}", row * columns + column + 1));
            } else {
                text.push('?');
            }
        }
        text.push(')');
    }
    text
}

/// One raw transaction: jobs `batch * 100 ..` deleted, their results and runs inserted.
async fn raw_batch(db: &DatabaseConnection, first: i64, batch: usize) {
    let low = first + (batch * 100) as i64;
    let mut results: Vec<Value> = Vec::with_capacity(300 * 9);
    let mut runs: Vec<Value> = Vec::with_capacity(100 * 4);
    for job in 0..100 {
        let id = format!("R{}", batch * 100 + job);
        for (mapping, child) in [("orders", ""), ("tickets", "1"), ("tickets", "2")] {
            results.extend([
                Value::from(id.clone()),
                child.into(),
                mapping.into(),
                mapping.into(),
                "number".into(),
                format!("{id}{child}").into(),
                "update".into(),
                "{\"_id\": 1}".into(),
                1i64.into(),
            ]);
        }
        runs.extend([
            Value::from(id.clone()),
            "bench".into(),
            "{\"update\": 3}".into(),
            1i64.into(),
        ]);
    }
    let backend = db.get_database_backend();
    let delete = Statement::from_sql_and_values(
        backend,
        if backend == sea_orm::DbBackend::Postgres {
            "DELETE FROM sync_queue WHERE id >= $1 AND id < $2"
        } else {
            "DELETE FROM sync_queue WHERE id >= ? AND id < ?"
        },
        [low.into(), (low + 100).into()],
    );
    let insert_results = Statement::from_sql_and_values(
        backend,
        format!(
            "INSERT INTO sync_result (provider, object_type, object_id, child_id, mapping_id, \
             external_object_type, external_id_field, id_value, action, sync_info, transmitted_at) \
             SELECT 'raw', 'Order', v.* FROM (VALUES {}) AS v WHERE true \
             ON CONFLICT (provider, object_type, object_id, child_id, mapping_id) \
             DO UPDATE SET action = excluded.action",
            placeholders(db, 300, 9)
        ),
        results,
    );
    let insert_runs = Statement::from_sql_and_values(
        backend,
        format!(
            "INSERT INTO sync_run (at, provider, object_type, object_id, triggered_by, attempt, \
             outcome, actions, duration_ms, worker) \
             SELECT 1, 'raw', 'Order', v.column1, v.column2, 1, 'success', v.column3, v.column4, 'w' \
             FROM (VALUES {}) AS v",
            placeholders(db, 100, 4)
        ),
        runs,
    );
    let tx = sea_orm::TransactionTrait::begin(db).await.expect("begin");
    for statement in [delete, insert_results, insert_runs] {
        tx.execute_raw(statement).await.expect("raw batch");
    }
    tx.commit().await.expect("commit");
}

/// The raw insert limit in rows/s: `rows` jobs with snapshots of `snapshot_len` bytes
/// inserted by one statement the database fills itself (no parameters, no client-side
/// work), into the queue table with its indexes and triggers, in one transaction.
pub(crate) async fn raw_insert_limit(
    db: &DatabaseConnection,
    rows: usize,
    snapshot_len: usize,
) -> f64 {
    let snapshot = "x".repeat(snapshot_len);
    let sql = format!(
        "INSERT INTO sync_queue (provider, object_type, object_id, snapshot, triggered_by, \
         triggered_at, not_before, force_send) SELECT 'raw', 'Order', 'R' || n, '{snapshot}', \
         'raw', 0, -1, 0 FROM ({}) AS numbers",
        numbers(rows)
    );
    let started = Instant::now();
    let tx = sea_orm::TransactionTrait::begin(db).await.expect("begin");
    tx.execute_raw(Statement::from_string(tx.get_database_backend(), sql))
        .await
        .expect("raw insert");
    tx.commit().await.expect("commit");
    rows as f64 / started.elapsed().as_secs_f64()
}

/// A subquery of the numbers `0..count` in column `n`, on SQLite and PostgreSQL.
fn numbers(count: usize) -> String {
    format!(
        "WITH RECURSIVE counter(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM counter \
         WHERE n + 1 < {count}) SELECT n FROM counter"
    )
}
