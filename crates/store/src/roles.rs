//! Roles as editable sets of permission strings.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::{StoreError, StoreResult, flag, t, ts};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Role {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub description: String,
    pub builtin: bool,
    pub permissions: Vec<String>,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

fn from_row(r: &AnyRow) -> StoreResult<Role> {
    Ok(Role {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        name_en: r.try_get("name_en")?,
        description: r.try_get("description")?,
        builtin: flag(r, "builtin")?,
        permissions: Vec::new(),
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

async fn load_permissions(conn: &mut AnyConnection, role: &mut Role) -> StoreResult<()> {
    let rows = sqlx::query("SELECT permission FROM role_permissions WHERE role_id = $1 ORDER BY permission")
        .bind(role.id)
        .fetch_all(conn)
        .await?;
    role.permissions = rows.iter().map(|r| r.try_get("permission")).collect::<Result<_, _>>()?;
    Ok(())
}

pub async fn insert(
    conn: &mut AnyConnection,
    code: &str,
    name: &str,
    name_en: &str,
    description: &str,
    builtin: bool,
    now: jiff::Timestamp,
) -> StoreResult<i64> {
    let now = t(now);
    let row = sqlx::query(
        "INSERT INTO roles (code, name, name_en, description, builtin, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(code)
    .bind(name)
    .bind(name_en)
    .bind(description)
    .bind(i64::from(builtin))
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("id")?)
}

pub async fn update(
    conn: &mut AnyConnection,
    id: i64,
    name: &str,
    name_en: &str,
    description: &str,
    now: jiff::Timestamp,
) -> StoreResult<()> {
    let r = sqlx::query("UPDATE roles SET name = $1, name_en = $2, description = $3, updated_at = $4 WHERE id = $5")
        .bind(name)
        .bind(name_en)
        .bind(description)
        .bind(t(now))
        .bind(id)
        .execute(conn)
        .await?;
    if r.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Replaces the role's permissions.
pub async fn set_permissions(conn: &mut AnyConnection, role_id: i64, perms: &[String]) -> StoreResult<()> {
    sqlx::query("DELETE FROM role_permissions WHERE role_id = $1").bind(role_id).execute(&mut *conn).await?;
    for p in perms {
        sqlx::query("INSERT INTO role_permissions (role_id, permission) VALUES ($1, $2)")
            .bind(role_id)
            .bind(p.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn get(conn: &mut AnyConnection, id: i64) -> StoreResult<Option<Role>> {
    let row = sqlx::query(
        "SELECT id, code, name, name_en, description, builtin, created_at, updated_at FROM roles WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        None => Ok(None),
        Some(r) => {
            let mut role = from_row(&r)?;
            load_permissions(conn, &mut role).await?;
            Ok(Some(role))
        }
    }
}

pub async fn get_by_code(conn: &mut AnyConnection, code: &str) -> StoreResult<Option<Role>> {
    let row = sqlx::query("SELECT id FROM roles WHERE code = $1").bind(code).fetch_optional(&mut *conn).await?;
    match row {
        None => Ok(None),
        Some(r) => get(conn, r.try_get("id")?).await,
    }
}

/// All roles with their permissions, by code.
pub async fn list(conn: &mut AnyConnection) -> StoreResult<Vec<Role>> {
    let rows = sqlx::query(
        "SELECT id, code, name, name_en, description, builtin, created_at, updated_at FROM roles ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut role = from_row(r)?;
        load_permissions(conn, &mut role).await?;
        out.push(role);
    }
    Ok(out)
}

/// How many users hold the role.
pub async fn holders(conn: &mut AnyConnection, id: i64) -> StoreResult<i64> {
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM user_roles WHERE role_id = $1")
        .bind(id)
        .fetch_one(conn)
        .await?
        .try_get("n")?)
}

pub async fn delete(conn: &mut AnyConnection, id: i64) -> StoreResult<()> {
    let r = sqlx::query("DELETE FROM roles WHERE id = $1").bind(id).execute(conn).await?;
    if r.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
