//! The append-only audit log with its hash chain (R-SYS-03).
//!
//! There is deliberately no update or delete here. Appending takes the row lock on
//! `audit_head` (an `UPDATE`), so concurrent writers on PostgreSQL are serialised and the
//! chain stays linear; on SQLite the single writer connection already serialises them.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use waterdesk_domain::audit::{AuditContent, ChainProblem, ChainVerifier, chain_hash};

use crate::sql::Sql;
use crate::{Db, StoreError, StoreResult, t, ts};

/// An entry to append.
#[derive(Debug, Clone, Default)]
pub struct NewAuditEntry {
    pub event_type: String,
    pub user_id: Option<i64>,
    pub username: String,
    pub unit_id: Option<i64>,
    pub ip: String,
    pub method: String,
    pub path: String,
    /// JSON text with secrets already redacted.
    pub params: String,
    /// `ok`, `denied`, `failed`, `error`.
    pub outcome: String,
    pub status: i64,
}

/// A stored entry.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub seq: i64,
    pub occurred_at: jiff::Timestamp,
    pub event_type: String,
    pub user_id: Option<i64>,
    pub username: String,
    pub unit_id: Option<i64>,
    pub ip: String,
    pub method: String,
    pub path: String,
    pub params: String,
    pub outcome: String,
    pub status: i64,
    pub hash: String,
}

/// Appends one entry inside the caller's transaction; returns its sequence number.
pub async fn append(conn: &mut AnyConnection, e: &NewAuditEntry, now: jiff::Timestamp) -> StoreResult<i64> {
    append_many(conn, &[(e, now)]).await
}

/// Appends entries in order inside the caller's transaction with two statements whatever
/// their number (three on SQLite): the head moves by their count, the entries are chained
/// here and inserted in one statement. Returns the first entry's sequence number.
pub async fn append_many(conn: &mut AnyConnection, entries: &[(&NewAuditEntry, jiff::Timestamp)]) -> StoreResult<i64> {
    let n = entries.len() as i64;
    if n == 0 {
        return Err(StoreError::Corrupt("append_many: no entries".into()));
    }
    let last_at = t(entries[entries.len() - 1].1);
    let head = sqlx::query("UPDATE audit_head SET seq = seq + $1, updated_at = $2 WHERE id = 1 RETURNING seq, hash")
        .bind(n)
        .bind(&last_at)
        .fetch_one(&mut *conn)
        .await?;
    let first: i64 = head.try_get::<i64, _>("seq")? - n + 1;
    let mut prev: String = head.try_get("hash")?;
    // (seq, occurred_at, prev_hash, hash) of each entry.
    let mut links = Vec::with_capacity(entries.len());
    for (i, (e, at)) in entries.iter().enumerate() {
        let at = t(*at);
        let content = AuditContent {
            seq: first + i as i64,
            occurred_at: &at,
            event_type: &e.event_type,
            user_id: e.user_id,
            username: &e.username,
            unit_id: e.unit_id,
            ip: &e.ip,
            method: &e.method,
            path: &e.path,
            params: &e.params,
            outcome: &e.outcome,
            status: e.status,
        };
        let hash = chain_hash(&prev, &content);
        links.push((at, std::mem::replace(&mut prev, hash.clone()), hash));
    }
    // PostgreSQL moves the head in the same statement (one round trip less on the
    // hottest path: every audited write); SQLite has no data-modifying CTEs.
    let pg = crate::Backend::of(conn) == crate::Backend::Postgres;
    let mut sql = String::with_capacity(256 + entries.len() * 80);
    if pg {
        sql.push_str("WITH entry AS (");
    }
    sql.push_str(
        "INSERT INTO audit_log (seq, occurred_at, event_type, user_id, username, unit_id, ip, method, path, params, \
         outcome, status, prev_hash, hash) VALUES ",
    );
    const COLS: usize = 14;
    crate::bulk::push_value_rows(&mut sql, entries.len(), COLS);
    if pg {
        sql.push_str(&format!(") UPDATE audit_head SET hash = ${} WHERE id = 1", entries.len() * COLS + 1));
    }
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (i, ((e, _), (at, prev_hash, hash))) in entries.iter().zip(&links).enumerate() {
        q = q
            .bind(first + i as i64)
            .bind(at.clone())
            .bind(e.event_type.clone())
            .bind(e.user_id)
            .bind(e.username.clone())
            .bind(e.unit_id)
            .bind(e.ip.clone())
            .bind(e.method.clone())
            .bind(e.path.clone())
            .bind(e.params.clone())
            .bind(e.outcome.clone())
            .bind(e.status)
            .bind(prev_hash.clone())
            .bind(hash.clone());
    }
    if pg {
        q = q.bind(prev.clone());
    }
    q.execute(&mut *conn).await?;
    if !pg {
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1").bind(&prev).execute(&mut *conn).await?;
    }
    Ok(first)
}

/// Appends one entry in its own transaction.
pub async fn append_now(db: &Db, e: &NewAuditEntry, now: jiff::Timestamp) -> StoreResult<i64> {
    let mut tx = db.begin().await?;
    let seq = append(&mut tx, e, now).await?;
    tx.commit().await?;
    Ok(seq)
}

fn from_row(r: &AnyRow) -> StoreResult<AuditEntry> {
    Ok(AuditEntry {
        seq: r.try_get("seq")?,
        occurred_at: ts(r, "occurred_at")?,
        event_type: r.try_get("event_type")?,
        user_id: r.try_get("user_id")?,
        username: r.try_get("username")?,
        unit_id: r.try_get("unit_id")?,
        ip: r.try_get("ip")?,
        method: r.try_get("method")?,
        path: r.try_get("path")?,
        params: r.try_get("params")?,
        outcome: r.try_get("outcome")?,
        status: r.try_get("status")?,
        hash: r.try_get("hash")?,
    })
}

/// Search filters for the audit page and API.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub username: Option<String>,
    pub ip: Option<String>,
    pub event_type: Option<String>,
    pub from: Option<jiff::Timestamp>,
    pub to: Option<jiff::Timestamp>,
    /// Keyset: entries with seq below this (newest first).
    pub before_seq: Option<i64>,
    pub limit: i64,
}

/// Newest-first page of entries matching the filter.
pub async fn search(conn: &mut AnyConnection, f: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
    let mut sql = Sql::new(
        "SELECT seq, occurred_at, event_type, user_id, username, unit_id, ip, method, path, params, outcome, status, hash
         FROM audit_log WHERE 1=1",
    );
    if let Some(u) = f.username.as_deref().filter(|s| !s.is_empty()) {
        sql.push(" AND username = ").bind(u);
    }
    if let Some(ip) = f.ip.as_deref().filter(|s| !s.is_empty()) {
        sql.push(" AND ip = ").bind(ip);
    }
    if let Some(ty) = f.event_type.as_deref().filter(|s| !s.is_empty()) {
        sql.push(" AND event_type = ").bind(ty);
    }
    if let Some(from) = f.from {
        sql.push(" AND occurred_at >= ").bind(t(from));
    }
    if let Some(to) = f.to {
        sql.push(" AND occurred_at < ").bind(t(to));
    }
    if let Some(b) = f.before_seq {
        sql.push(" AND seq < ").bind(b);
    }
    sql.push(" ORDER BY seq DESC LIMIT ").bind(f.limit.clamp(1, 1000));
    let rows = sql.query().fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// The distinct event types present (for the filter drop-down).
pub async fn event_types(conn: &mut AnyConnection) -> StoreResult<Vec<String>> {
    let rows = sqlx::query("SELECT DISTINCT event_type FROM audit_log ORDER BY event_type").fetch_all(conn).await?;
    rows.iter().map(|r| Ok(r.try_get("event_type")?)).collect()
}

/// Result of verifying the whole chain.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    pub checked: i64,
    pub problems: Vec<ChainProblem>,
}

/// Walks the whole log in sequence order, in pages, and checks every link.
pub async fn verify(db: &Db) -> StoreResult<VerifyReport> {
    let mut conn = db.read().await?;
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut *conn).await?;
    let head_seq: i64 = head.try_get("seq")?;
    let head_hash: String = head.try_get("hash")?;
    let mut v = ChainVerifier::default();
    let mut last: i64 = i64::MIN;
    loop {
        let rows = sqlx::query(
            "SELECT seq, occurred_at, event_type, user_id, username, unit_id, ip, method, path, params, outcome,
                status, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 5000",
        )
        .bind(last)
        .fetch_all(&mut *conn)
        .await?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let occurred_at: String = r.try_get("occurred_at")?;
            let event_type: String = r.try_get("event_type")?;
            let username: String = r.try_get("username")?;
            let ip: String = r.try_get("ip")?;
            let method: String = r.try_get("method")?;
            let path: String = r.try_get("path")?;
            let params: String = r.try_get("params")?;
            let outcome: String = r.try_get("outcome")?;
            let prev_hash: String = r.try_get("prev_hash")?;
            let hash: String = r.try_get("hash")?;
            let seq: i64 = r.try_get("seq")?;
            let c = AuditContent {
                seq,
                occurred_at: &occurred_at,
                event_type: &event_type,
                user_id: r.try_get("user_id")?,
                username: &username,
                unit_id: r.try_get("unit_id")?,
                ip: &ip,
                method: &method,
                path: &path,
                params: &params,
                outcome: &outcome,
                status: r.try_get("status")?,
            };
            v.push(&c, &prev_hash, &hash);
            last = seq;
        }
    }
    let (checked, problems) = v.finish(head_seq, &head_hash);
    Ok(VerifyReport { checked, problems })
}

/// Sign-in outcomes per UTC hour since `from`: (hour as `YYYY-MM-DDTHH`, successes, failures).
pub async fn sign_ins_per_hour(
    conn: &mut AnyConnection,
    from: jiff::Timestamp,
) -> StoreResult<Vec<(String, i64, i64)>> {
    let rows = sqlx::query(
        "SELECT substr(occurred_at, 1, 13) AS hour,
                SUM(CASE WHEN event_type = 'auth.login' THEN 1 ELSE 0 END) AS ok,
                SUM(CASE WHEN event_type = 'auth.login_failed' THEN 1 ELSE 0 END) AS failed
         FROM audit_log
         WHERE occurred_at >= $1 AND event_type IN ('auth.login', 'auth.login_failed')
         GROUP BY substr(occurred_at, 1, 13) ORDER BY hour",
    )
    .bind(t(from))
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("hour")?, r.try_get("ok")?, r.try_get("failed")?))).collect()
}
