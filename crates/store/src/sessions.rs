//! Server-side sessions (web cookie and API bearer) and integration tokens.
//!
//! Only SHA-256 hashes of tokens are stored: a leaked database does not leak sessions.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::{StoreError, StoreResult, flag, t, ts, ts_opt};

#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub user_id: i64,
    /// `web` (cookie) or `api` (bearer from `/api/v1/auth/login`).
    pub kind: String,
    pub csrf_token: String,
    /// Password was right but the TOTP code is still due.
    pub mfa_pending: bool,
    pub ip: String,
    pub created_at: jiff::Timestamp,
    pub last_seen_at: jiff::Timestamp,
    pub expires_at: jiff::Timestamp,
    pub revoked_at: Option<jiff::Timestamp>,
}

fn from_row(r: &AnyRow) -> StoreResult<Session> {
    Ok(Session {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        kind: r.try_get("kind")?,
        csrf_token: r.try_get("csrf_token")?,
        mfa_pending: flag(r, "mfa_pending")?,
        ip: r.try_get("ip")?,
        created_at: ts(r, "created_at")?,
        last_seen_at: ts(r, "last_seen_at")?,
        expires_at: ts(r, "expires_at")?,
        revoked_at: ts_opt(r, "revoked_at")?,
    })
}

#[allow(clippy::too_many_arguments)]
pub async fn insert(
    conn: &mut AnyConnection,
    token_hash: &str,
    user_id: i64,
    kind: &str,
    csrf_token: &str,
    mfa_pending: bool,
    ip: &str,
    user_agent: &str,
    now: jiff::Timestamp,
    expires_at: jiff::Timestamp,
) -> StoreResult<i64> {
    let now = t(now);
    let row = sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, kind, csrf_token, mfa_pending, ip, user_agent, created_at,
            last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) RETURNING id",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(kind)
    .bind(csrf_token)
    .bind(i64::from(mfa_pending))
    .bind(ip)
    .bind(user_agent)
    .bind(now)
    .bind(t(expires_at))
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("id")?)
}

pub async fn get_by_hash(conn: &mut AnyConnection, token_hash: &str) -> StoreResult<Option<Session>> {
    let row = sqlx::query(
        "SELECT id, user_id, kind, csrf_token, mfa_pending, ip, created_at, last_seen_at, expires_at, revoked_at
         FROM sessions WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Marks activity (sliding idle timeout).
pub async fn touch(conn: &mut AnyConnection, id: i64, now: jiff::Timestamp) -> StoreResult<()> {
    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2").bind(t(now)).bind(id).execute(conn).await?;
    Ok(())
}

pub async fn clear_mfa(conn: &mut AnyConnection, id: i64) -> StoreResult<()> {
    sqlx::query("UPDATE sessions SET mfa_pending = 0 WHERE id = $1").bind(id).execute(conn).await?;
    Ok(())
}

pub async fn revoke(conn: &mut AnyConnection, id: i64, now: jiff::Timestamp) -> StoreResult<()> {
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(t(now))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Revokes every session of a user except `keep` (after a password change or reset).
pub async fn revoke_all_for_user(
    conn: &mut AnyConnection,
    user_id: i64,
    keep: Option<i64>,
    now: jiff::Timestamp,
) -> StoreResult<u64> {
    let r = sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL AND id <> $3")
        .bind(t(now))
        .bind(user_id)
        .bind(keep.unwrap_or(-1))
        .execute(conn)
        .await?;
    Ok(r.rows_affected())
}

/// Deletes sessions that ended before `before`.
pub async fn purge(conn: &mut AnyConnection, before: jiff::Timestamp) -> StoreResult<u64> {
    let r = sqlx::query("DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1")
        .bind(t(before))
        .execute(conn)
        .await?;
    Ok(r.rows_affected())
}

/// An integration token (service account with scopes).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub token_prefix: String,
    /// Space-separated permissions this token may use (a subset of the account's).
    pub scopes: String,
    pub expires_at: Option<jiff::Timestamp>,
    pub last_used_at: Option<jiff::Timestamp>,
    pub revoked_at: Option<jiff::Timestamp>,
    pub created_at: jiff::Timestamp,
}

fn token_from_row(r: &AnyRow) -> StoreResult<ApiToken> {
    Ok(ApiToken {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        name: r.try_get("name")?,
        token_prefix: r.try_get("token_prefix")?,
        scopes: r.try_get("scopes")?,
        expires_at: ts_opt(r, "expires_at")?,
        last_used_at: ts_opt(r, "last_used_at")?,
        revoked_at: ts_opt(r, "revoked_at")?,
        created_at: ts(r, "created_at")?,
    })
}

const TOKEN_COLS: &str = "id, user_id, name, token_prefix, scopes, expires_at, last_used_at, revoked_at, created_at";

#[allow(clippy::too_many_arguments)]
pub async fn insert_token(
    conn: &mut AnyConnection,
    user_id: i64,
    name: &str,
    token_hash: &str,
    token_prefix: &str,
    scopes: &str,
    expires_at: Option<jiff::Timestamp>,
    now: jiff::Timestamp,
) -> StoreResult<i64> {
    let now = t(now);
    let row = sqlx::query(
        "INSERT INTO api_tokens (user_id, name, token_hash, token_prefix, scopes, expires_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(user_id)
    .bind(name)
    .bind(token_hash)
    .bind(token_prefix)
    .bind(scopes)
    .bind(expires_at.map(t))
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("id")?)
}

pub async fn token_by_hash(conn: &mut AnyConnection, token_hash: &str) -> StoreResult<Option<ApiToken>> {
    let sql = format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE token_hash = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(token_hash).fetch_optional(conn).await?;
    row.as_ref().map(token_from_row).transpose()
}

pub async fn tokens_for_user(conn: &mut AnyConnection, user_id: i64) -> StoreResult<Vec<ApiToken>> {
    let sql = format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE user_id = $1 ORDER BY id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user_id).fetch_all(conn).await?;
    rows.iter().map(token_from_row).collect()
}

pub async fn token_used(conn: &mut AnyConnection, id: i64, now: jiff::Timestamp) -> StoreResult<()> {
    sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2").bind(t(now)).bind(id).execute(conn).await?;
    Ok(())
}

pub async fn revoke_token(conn: &mut AnyConnection, id: i64, now: jiff::Timestamp) -> StoreResult<()> {
    let now = t(now);
    let r = sqlx::query("UPDATE api_tokens SET revoked_at = $1, updated_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    if r.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
