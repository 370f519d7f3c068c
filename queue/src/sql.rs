//! Raw statements shared by SQLite and PostgreSQL. Statements are written with `$N`
//! placeholders. PostgreSQL takes them as they are; for SQLite every `$N` becomes a plain
//! `?` with the values laid out in order of appearance, because binding thousands of
//! numbered `?NNN` parameters is quadratic in sqlx's SQLite driver (7,000 vs 170,000 rows/s
//! in a batch insert).

use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value};

/// A statement for `conn`'s backend.
pub(crate) fn statement<C: ConnectionTrait>(conn: &C, sql: &str, values: Vec<Value>) -> Statement {
    let backend = conn.get_database_backend();
    match backend {
        DbBackend::Postgres => Statement::from_sql_and_values(backend, sql, values),
        _ => {
            let (text, ordered) = positional(sql, &values);
            Statement::from_sql_and_values(backend, text, ordered)
        }
    }
}

/// Rewrites `$N` placeholders to `?` and orders (and repeats) the values to match.
fn positional(sql: &str, values: &[Value]) -> (String, Vec<Value>) {
    let mut text = String::with_capacity(sql.len());
    let mut ordered = Vec::with_capacity(values.len());
    let mut chars = sql.char_indices().peekable();
    while let Some((_, character)) = chars.next() {
        if character != '$' {
            text.push(character);
            continue;
        }
        let mut number = 0usize;
        let mut digits = 0;
        while let Some(&(_, digit)) = chars.peek() {
            let Some(value) = digit.to_digit(10) else {
                break;
            };
            number = number * 10 + value as usize;
            digits += 1;
            chars.next();
        }
        match values.get(number.wrapping_sub(1)) {
            Some(value) if digits > 0 => {
                text.push('?');
                ordered.push(value.clone());
            }
            _ => {
                text.push('$');
                if digits > 0 {
                    text.push_str(&number.to_string());
                }
            }
        }
    }
    (text, ordered)
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
    use sea_orm::Value;

    #[test]
    fn numbers_placeholders_row_by_row() {
        assert_eq!(super::values_list(2, 3, 1), "($2,$3,$4),($5,$6,$7)");
    }

    #[test]
    fn sqlite_placeholders_follow_the_order_of_appearance() {
        let values = vec![Value::from(10i64), Value::from(20i64), Value::from("x")];
        let (text, ordered) = super::positional("a = $2 AND b = $1 OR c = $2 AND d = $3", &values);
        assert_eq!(text, "a = ? AND b = ? OR c = ? AND d = ?");
        assert_eq!(
            ordered,
            [
                Value::from(20i64),
                Value::from(10i64),
                Value::from(20i64),
                Value::from("x")
            ]
        );
    }
}
