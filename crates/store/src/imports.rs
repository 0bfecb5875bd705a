//! Background import runs (issue 3): status, progress and the final report.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::{StoreResult, t, ts, ts_opt};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportRun {
    pub id: i64,
    /// `customers`, `readings`, `bills` or `payments`.
    pub kind: String,
    pub mode: String,
    pub file_name: String,
    pub file_sha256: String,
    pub file_bytes: i64,
    pub user_id: i64,
    /// `running`, `done`, `failed` or `interrupted`.
    pub status: String,
    /// Rows in the file and rows handled so far.
    pub total: i64,
    pub done: i64,
    /// The import report as JSON once finished (or the error of a failed run).
    #[schema(value_type = Object)]
    pub report: Option<serde_json::Value>,
    pub created_at: jiff::Timestamp,
    pub beat_at: jiff::Timestamp,
    pub finished_at: Option<jiff::Timestamp>,
}

const COLS: &str = "id, kind, mode, file_name, file_sha256, file_bytes, user_id, status, total, done, report, created_at, beat_at, finished_at";

fn run(r: &AnyRow) -> StoreResult<ImportRun> {
    let report: String = r.try_get("report")?;
    Ok(ImportRun {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        mode: r.try_get("mode")?,
        file_name: r.try_get("file_name")?,
        file_sha256: r.try_get("file_sha256")?,
        file_bytes: r.try_get("file_bytes")?,
        user_id: r.try_get("user_id")?,
        status: r.try_get("status")?,
        total: r.try_get("total")?,
        done: r.try_get("done")?,
        report: serde_json::from_str(&report).ok(),
        created_at: ts(r, "created_at")?,
        beat_at: ts(r, "beat_at")?,
        finished_at: ts_opt(r, "finished_at")?,
    })
}

pub struct NewRun<'a> {
    pub kind: &'a str,
    pub mode: &'a str,
    pub file_name: &'a str,
    pub file_sha256: &'a str,
    pub file_bytes: i64,
    pub user_id: i64,
    pub total: i64,
}

pub async fn insert(conn: &mut AnyConnection, n: &NewRun<'_>, now: jiff::Timestamp) -> StoreResult<i64> {
    let row = sqlx::query(
        "INSERT INTO imports (kind, mode, file_name, file_sha256, file_bytes, user_id, status, total, created_at, beat_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'running', $7, $8, $8) RETURNING id",
    )
    .bind(n.kind)
    .bind(n.mode)
    .bind(n.file_name)
    .bind(n.file_sha256)
    .bind(n.file_bytes)
    .bind(n.user_id)
    .bind(n.total)
    .bind(t(now))
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("id")?)
}

/// Progress of a running import (and proof that its process is alive).
pub async fn beat(conn: &mut AnyConnection, id: i64, done: i64, now: jiff::Timestamp) -> StoreResult<()> {
    sqlx::query("UPDATE imports SET done = $1, beat_at = $2 WHERE id = $3 AND status = 'running'")
        .bind(done)
        .bind(t(now))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn finish(
    conn: &mut AnyConnection,
    id: i64,
    status: &str,
    done: i64,
    report: &serde_json::Value,
    now: jiff::Timestamp,
) -> StoreResult<()> {
    sqlx::query("UPDATE imports SET status = $1, done = $2, report = $3, beat_at = $4, finished_at = $4 WHERE id = $5")
        .bind(status)
        .bind(done)
        .bind(report.to_string())
        .bind(t(now))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get(conn: &mut AnyConnection, id: i64) -> StoreResult<Option<ImportRun>> {
    let sql = format!("SELECT {COLS} FROM imports WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(run).transpose()
}

/// The newest runs, of one user or of everybody.
pub async fn list(conn: &mut AnyConnection, user_id: Option<i64>, limit: i64) -> StoreResult<Vec<ImportRun>> {
    let sql = format!("SELECT {COLS} FROM imports WHERE ($1 = 0 OR user_id = $1) ORDER BY id DESC LIMIT $2");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user_id.unwrap_or(0)).bind(limit).fetch_all(conn).await?;
    rows.iter().map(run).collect()
}

/// Marks runs left `running` by a stopped process (one-process SQLite deployments, at start).
pub async fn mark_interrupted(conn: &mut AnyConnection, now: jiff::Timestamp) -> StoreResult<u64> {
    let r = sqlx::query("UPDATE imports SET status = 'interrupted', finished_at = $1 WHERE status = 'running'")
        .bind(t(now))
        .execute(conn)
        .await?;
    Ok(r.rows_affected())
}
