//! Raw statements shared by SQLite and PostgreSQL. Statements are written with `$N`
//! placeholders; SQLite gets `?N`, which binds by the same numbers.

use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value};

/// A statement for `conn`'s backend.
pub(crate) fn statement<C: ConnectionTrait>(conn: &C, sql: &str, values: Vec<Value>) -> Statement {
    let backend = conn.get_database_backend();
    let text = match backend {
        DbBackend::Postgres => sql.to_owned(),
        _ => sql.replace('$', "?"),
    };
    Statement::from_sql_and_values(backend, text, values)
}

/// Numbered placeholders for a multi-row `VALUES` list: `($1,$2),($3,$4)` for 2 rows of
/// 2 columns, starting after `offset` parameters.
pub(crate) fn values_list(rows: usize, columns: usize, offset: usize) -> String {
    let mut text = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        if row > 0 {
            text.push(',');
        }
        text.push('(');
        for column in 0..columns {
            if column > 0 {
                text.push(',');
            }
            text.push('$');
            text.push_str(&(offset + row * columns + column + 1).to_string());
        }
        text.push(')');
    }
    text
}

/// Reads column `name` of `row`, naming the column when it fails.
pub(crate) fn get<T: sea_orm::TryGetable>(
    row: &QueryResult,
    name: &str,
) -> Result<T, sea_orm::DbErr> {
    row.try_get("", name)
}

/// Begins a transaction that will write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`): a transaction that reads first and writes later cannot wait for
/// another writer and would fail with "database is locked".
pub(crate) async fn begin_write(
    db: &sea_orm::DatabaseConnection,
) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    db.begin_with_options(TransactionOptions {
        isolation_level: None,
        access_mode: None,
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
    })
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_placeholders_row_by_row() {
        assert_eq!(super::values_list(2, 3, 1), "($2,$3,$4),($5,$6,$7)");
    }
}
