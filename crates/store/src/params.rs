//! System parameters (系统参数): typed key/value settings editable at run time.

use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::{StoreError, StoreResult, t, ts};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Parameter {
    pub key: String,
    pub value: String,
    /// `int`, `bool`, `string`.
    pub value_type: String,
    pub description_zh: String,
    pub description_en: String,
    pub updated_by: String,
    pub updated_at: jiff::Timestamp,
}

/// Inserts a parameter if it does not exist yet (defaults at start-up).
pub async fn ensure(
    conn: &mut AnyConnection,
    key: &str,
    value: &str,
    value_type: &str,
    description_zh: &str,
    description_en: &str,
    now: jiff::Timestamp,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO parameters (key, value, value_type, description_zh, description_en, updated_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'system', $6, $6) ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(value)
    .bind(value_type)
    .bind(description_zh)
    .bind(description_en)
    .bind(t(now))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn list(conn: &mut AnyConnection) -> StoreResult<Vec<Parameter>> {
    let rows = sqlx::query(
        "SELECT key, value, value_type, description_zh, description_en, updated_by, updated_at FROM parameters ORDER BY key",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Parameter {
                key: r.try_get("key")?,
                value: r.try_get("value")?,
                value_type: r.try_get("value_type")?,
                description_zh: r.try_get("description_zh")?,
                description_en: r.try_get("description_en")?,
                updated_by: r.try_get("updated_by")?,
                updated_at: ts(r, "updated_at")?,
            })
        })
        .collect()
}

pub async fn get(conn: &mut AnyConnection, key: &str) -> StoreResult<Option<Parameter>> {
    list_one(conn, key).await
}

async fn list_one(conn: &mut AnyConnection, key: &str) -> StoreResult<Option<Parameter>> {
    let row = sqlx::query(
        "SELECT key, value, value_type, description_zh, description_en, updated_by, updated_at FROM parameters WHERE key = $1",
    )
    .bind(key)
    .fetch_optional(conn)
    .await?;
    match row {
        None => Ok(None),
        Some(r) => Ok(Some(Parameter {
            key: r.try_get("key")?,
            value: r.try_get("value")?,
            value_type: r.try_get("value_type")?,
            description_zh: r.try_get("description_zh")?,
            description_en: r.try_get("description_en")?,
            updated_by: r.try_get("updated_by")?,
            updated_at: ts(&r, "updated_at")?,
        })),
    }
}

pub async fn set(conn: &mut AnyConnection, key: &str, value: &str, by: &str, now: jiff::Timestamp) -> StoreResult<()> {
    let r = sqlx::query("UPDATE parameters SET value = $1, updated_by = $2, updated_at = $3 WHERE key = $4")
        .bind(value)
        .bind(by)
        .bind(t(now))
        .bind(key)
        .execute(conn)
        .await?;
    if r.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
