//! Organisation units (单位): a tree with a materialised path for subtree scoping.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::{StoreError, StoreResult, flag, t, ts};

/// A stored unit.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Unit {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub kind: String,
    /// `/1/4/9/`: ids from the root down to this unit.
    pub path: String,
    pub sort_order: i64,
    pub enabled: bool,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

/// Fields of a new unit.
#[derive(Debug, Clone)]
pub struct NewUnit<'a> {
    pub parent_id: Option<i64>,
    pub code: &'a str,
    pub name: &'a str,
    pub name_en: &'a str,
    pub kind: &'a str,
    pub sort_order: i64,
}

const COLS: &str = "id, parent_id, code, name, name_en, kind, path, sort_order, enabled, created_at, updated_at";

fn from_row(r: &AnyRow) -> StoreResult<Unit> {
    Ok(Unit {
        id: r.try_get("id")?,
        parent_id: r.try_get("parent_id")?,
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        name_en: r.try_get("name_en")?,
        kind: r.try_get("kind")?,
        path: r.try_get("path")?,
        sort_order: r.try_get("sort_order")?,
        enabled: flag(r, "enabled")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

/// Inserts a unit under its parent and sets its path.
pub async fn insert(conn: &mut AnyConnection, u: &NewUnit<'_>, now: jiff::Timestamp) -> StoreResult<Unit> {
    let parent_path = match u.parent_id {
        Some(pid) => get(conn, pid).await?.ok_or(StoreError::Reference(format!("parent unit {pid}")))?.path,
        None => "/".to_string(),
    };
    let now_s = t(now);
    let id: i64 = sqlx::query(
        "INSERT INTO units (parent_id, code, name, name_en, kind, path, sort_order, enabled, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, '', $6, 1, $7, $7) RETURNING id",
    )
    .bind(u.parent_id)
    .bind(u.code)
    .bind(u.name)
    .bind(u.name_en)
    .bind(u.kind)
    .bind(u.sort_order)
    .bind(&now_s)
    .fetch_one(&mut *conn)
    .await?
    .try_get("id")?;
    let path = format!("{parent_path}{id}/");
    sqlx::query("UPDATE units SET path = $1 WHERE id = $2").bind(&path).bind(id).execute(&mut *conn).await?;
    get(conn, id).await?.ok_or(StoreError::NotFound)
}

/// Updates name, English name, kind, order and enabled flag.
#[allow(clippy::too_many_arguments)]
pub async fn update(
    conn: &mut AnyConnection,
    id: i64,
    name: &str,
    name_en: &str,
    kind: &str,
    sort_order: i64,
    enabled: bool,
    now: jiff::Timestamp,
) -> StoreResult<()> {
    let r = sqlx::query(
        "UPDATE units SET name = $1, name_en = $2, kind = $3, sort_order = $4, enabled = $5, updated_at = $6 WHERE id = $7",
    )
    .bind(name)
    .bind(name_en)
    .bind(kind)
    .bind(sort_order)
    .bind(i64::from(enabled))
    .bind(t(now))
    .bind(id)
    .execute(conn)
    .await?;
    if r.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub async fn get(conn: &mut AnyConnection, id: i64) -> StoreResult<Option<Unit>> {
    let sql = format!("SELECT {COLS} FROM units WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn get_by_code(conn: &mut AnyConnection, code: &str) -> StoreResult<Option<Unit>> {
    let sql = format!("SELECT {COLS} FROM units WHERE code = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(code).fetch_optional(conn).await?;
    row.as_ref().map(from_row).transpose()
}

/// All units in tree order (by path, then order).
pub async fn list(conn: &mut AnyConnection) -> StoreResult<Vec<Unit>> {
    let sql = format!("SELECT {COLS} FROM units ORDER BY path");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// Number of units and of users directly in a unit, to refuse deleting a used unit.
pub async fn usage(conn: &mut AnyConnection, id: i64) -> StoreResult<(i64, i64)> {
    let children: i64 = sqlx::query("SELECT COUNT(*) AS n FROM units WHERE parent_id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?
        .try_get("n")?;
    let users: i64 = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE unit_id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?
        .try_get("n")?;
    Ok((children, users))
}

pub async fn delete(conn: &mut AnyConnection, id: i64) -> StoreResult<()> {
    let r = sqlx::query("DELETE FROM units WHERE id = $1").bind(id).execute(conn).await?;
    if r.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
