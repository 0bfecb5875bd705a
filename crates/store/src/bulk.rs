//! Bulk inserts for seeding and imports: many rows per statement, ids chosen by the
//! caller (so related rows can refer to each other without a round trip per row).

use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::sql::Value;
use crate::{Backend, StoreResult, dialect};

/// Bound parameters per statement stay below SQLite's limit (32,766).
const MAX_PARAMS: usize = 30_000;
const MAX_ROWS: usize = 1_000;

/// Inserts `rows` (each with one value per column) into `table`.
/// `table` and `columns` are identifiers from the code, never from input.
pub async fn insert(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &'static str,
    columns: &[&'static str],
    rows: &[Vec<Value>],
) -> StoreResult<()> {
    insert_with(conn, backend, table, columns, rows, OnConflict::Fail).await
}

/// What an insert does with a row whose key is there already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// The statement fails (and with it the transaction).
    Fail,
    /// The row is skipped.
    Skip,
}

/// [`insert`], with a choice of what happens to rows whose key is there already.
pub async fn insert_with(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &'static str,
    columns: &[&'static str],
    rows: &[Vec<Value>],
    on_conflict: OnConflict,
) -> StoreResult<()> {
    let per = (MAX_PARAMS / columns.len().max(1)).clamp(1, MAX_ROWS);
    for chunk in rows.chunks(per) {
        let mut sql = String::with_capacity(64 + chunk.len() * columns.len() * 6);
        sql.push_str("INSERT INTO ");
        sql.push_str(table);
        sql.push_str(" (");
        sql.push_str(&columns.join(", "));
        sql.push_str(") VALUES ");
        let mut n = 0;
        for (i, row) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for j in 0..row.len() {
                if j > 0 {
                    sql.push_str(", ");
                }
                n += 1;
                dialect::push_bulk_placeholder(backend, &mut sql, n);
            }
            sql.push(')');
        }
        if on_conflict == OnConflict::Skip {
            sql.push_str(" ON CONFLICT DO NOTHING");
        }
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for row in chunk {
            for v in row {
                q = match v {
                    Value::I64(i) => q.bind(*i),
                    Value::Text(s) => q.bind(s.clone()),
                    Value::NullI64 => q.bind(None::<i64>),
                    Value::NullText => q.bind(None::<String>),
                };
            }
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Appends `(p, p, …), (…)`: `rows` groups of `cols` numbered placeholders `$1 …`
/// (multi-row inserts of the hot paths, which bind their values themselves).
pub(crate) fn push_value_rows(sql: &mut String, rows: usize, cols: usize) {
    use std::fmt::Write;
    for i in 0..rows {
        sql.push_str(if i == 0 { "(" } else { ", (" });
        for j in 0..cols {
            let sep = if j == 0 { "" } else { ", " };
            let _ = write!(sql, "{sep}${}", i * cols + j + 1);
        }
        sql.push(')');
    }
}

/// The next free id of a table (the caller holds the write lock: one writer on SQLite,
/// the seeding transaction on PostgreSQL).
pub async fn next_id(conn: &mut AnyConnection, table: &'static str) -> StoreResult<i64> {
    let sql = format!("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) AS m FROM {table}");
    let row = sqlx::query(AssertSqlSafe(sql)).fetch_one(conn).await?;
    Ok(row.try_get::<i64, _>("m")? + 1)
}

/// After inserting explicit ids, moves the table's id generator past them.
pub async fn sync_ids(conn: &mut AnyConnection, backend: Backend, table: &'static str) -> StoreResult<()> {
    if let Some(sql) = dialect::sync_identity(backend, table) {
        sqlx::query(AssertSqlSafe(sql)).execute(conn).await?;
    }
    Ok(())
}
