//! The job queue table: jobs are written in the business transaction (outbox) and
//! claimed by workers with a lease, so a crashed worker's jobs are picked up again.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::{Backend, Db, StoreResult, dialect, t, ts, ts_opt};

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    pub kind: &'a str,
    pub payload: &'a serde_json::Value,
    pub run_at: jiff::Timestamp,
    pub max_attempts: i64,
    /// At most one job per key is ever enqueued (idempotent producers).
    pub dedupe_key: Option<&'a str>,
}

/// A job a worker holds.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    /// Attempts including this one.
    pub attempts: i64,
    pub max_attempts: i64,
}

/// A job as shown to administrators.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: jiff::Timestamp,
    pub last_error: Option<String>,
    pub locked_until: Option<jiff::Timestamp>,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

/// Enqueues a job; returns its id, or `None` when the dedupe key already exists.
pub async fn enqueue(conn: &mut AnyConnection, j: &NewJob<'_>, now: jiff::Timestamp) -> StoreResult<Option<i64>> {
    let now = t(now);
    let row = sqlx::query(
        "INSERT INTO jobs (kind, payload, status, attempts, max_attempts, run_at, dedupe_key, created_at, updated_at)
         VALUES ($1, $2, 'pending', 0, $3, $4, $5, $6, $6) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
    )
    .bind(j.kind)
    .bind(j.payload.to_string())
    .bind(j.max_attempts)
    .bind(t(j.run_at))
    .bind(j.dedupe_key)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    row.map(|r| r.try_get("id")).transpose().map_err(Into::into)
}

/// Claims up to `limit` due jobs (and jobs whose lease expired) for `worker`.
pub async fn claim(
    db: &Db,
    worker: &str,
    now: jiff::Timestamp,
    lease: jiff::SignedDuration,
    limit: i64,
) -> StoreResult<Vec<ClaimedJob>> {
    let sql = claim_sql(db.backend());
    let now_s = t(now);
    let mut tx = db.begin().await?;
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(t(now + lease))
        .bind(worker)
        .bind(&now_s)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    rows.iter()
        .map(|r| {
            Ok(ClaimedJob {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                payload: r.try_get("payload")?,
                attempts: r.try_get("attempts")?,
                max_attempts: r.try_get("max_attempts")?,
            })
        })
        .collect()
}

fn claim_sql(backend: Backend) -> String {
    format!(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_until = $1, locked_by = $2, updated_at = $3
         WHERE id IN (
            SELECT id FROM jobs
            WHERE (status = 'pending' AND run_at <= $3) OR (status = 'running' AND locked_until < $3)
            ORDER BY run_at LIMIT $4{}
         ) RETURNING id, kind, payload, attempts, max_attempts",
        dialect::claim_lock(backend)
    )
}

/// Marks a job done.
pub async fn complete(conn: &mut AnyConnection, id: i64, now: jiff::Timestamp) -> StoreResult<()> {
    sqlx::query("UPDATE jobs SET status = 'done', locked_until = NULL, locked_by = NULL, last_error = NULL, updated_at = $1 WHERE id = $2")
        .bind(t(now))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records a failure: reschedules at `retry_at`, or dead-letters when `None`.
pub async fn fail(
    conn: &mut AnyConnection,
    id: i64,
    error: &str,
    retry_at: Option<jiff::Timestamp>,
    now: jiff::Timestamp,
) -> StoreResult<()> {
    let (status, run_at) = match retry_at {
        Some(at) => ("pending", Some(t(at))),
        None => ("dead", None),
    };
    sqlx::query(
        "UPDATE jobs SET status = $1, run_at = COALESCE($2, run_at), last_error = $3, locked_until = NULL, locked_by = NULL,
            updated_at = $4 WHERE id = $5",
    )
    .bind(status)
    .bind(run_at)
    .bind(error)
    .bind(t(now))
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Puts a dead job back in the queue (administrator action).
pub async fn retry(conn: &mut AnyConnection, id: i64, now: jiff::Timestamp) -> StoreResult<bool> {
    let now = t(now);
    let r = sqlx::query("UPDATE jobs SET status = 'pending', attempts = 0, run_at = $1, updated_at = $1 WHERE id = $2 AND status = 'dead'")
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

fn row(r: &AnyRow) -> StoreResult<JobRow> {
    Ok(JobRow {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        max_attempts: r.try_get("max_attempts")?,
        run_at: ts(r, "run_at")?,
        last_error: r.try_get("last_error")?,
        locked_until: ts_opt(r, "locked_until")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

pub async fn get(conn: &mut AnyConnection, id: i64) -> StoreResult<Option<JobRow>> {
    let r = sqlx::query(
        "SELECT id, kind, status, attempts, max_attempts, run_at, last_error, locked_until, created_at, updated_at
         FROM jobs WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    r.as_ref().map(row).transpose()
}

/// Newest jobs, optionally of one status.
pub async fn list(conn: &mut AnyConnection, status: Option<&str>, limit: i64) -> StoreResult<Vec<JobRow>> {
    let rows = sqlx::query(
        "SELECT id, kind, status, attempts, max_attempts, run_at, last_error, locked_until, created_at, updated_at
         FROM jobs WHERE ($1 IS NULL OR status = $1) ORDER BY id DESC LIMIT $2",
    )
    .bind(status)
    .bind(limit.clamp(1, 500))
    .fetch_all(conn)
    .await?;
    rows.iter().map(row).collect()
}

/// Job counts per status.
pub async fn counts(conn: &mut AnyConnection) -> StoreResult<Vec<(String, i64)>> {
    let rows =
        sqlx::query("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status ORDER BY status").fetch_all(conn).await?;
    rows.iter().map(|r| Ok((r.try_get("status")?, r.try_get("n")?))).collect()
}
