//! Users, their roles and the state the login rules need (failures, lockout, TOTP).

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::sql::Sql;
use crate::{Backend, StoreError, StoreResult, dialect, flag, t, ts, ts_opt};

/// A stored user (staff member, service account or portal customer).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub unit_id: i64,
    /// `staff`, `service` (integration account) or `customer`.
    pub kind: String,
    /// `own`, `unit`, `unit_tree` or `all`.
    pub data_scope: String,
    pub phone: String,
    pub email: String,
    #[serde(skip)]
    pub password_hash: String,
    pub password_changed_at: jiff::Timestamp,
    pub must_change_password: bool,
    pub failed_attempts: i64,
    pub locked_until: Option<jiff::Timestamp>,
    pub disabled: bool,
    #[serde(skip)]
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
    pub last_login_at: Option<jiff::Timestamp>,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

/// Fields of a new user.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub unit_id: i64,
    pub kind: &'a str,
    pub data_scope: &'a str,
    pub phone: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub must_change_password: bool,
}

const COLS: &str = "id, username, display_name, unit_id, kind, data_scope, phone, email, password_hash, \
    password_changed_at, must_change_password, failed_attempts, locked_until, disabled, totp_secret, \
    totp_enabled, last_login_at, created_at, updated_at";

fn from_row(r: &AnyRow) -> StoreResult<User> {
    Ok(User {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        unit_id: r.try_get("unit_id")?,
        kind: r.try_get("kind")?,
        data_scope: r.try_get("data_scope")?,
        phone: r.try_get("phone")?,
        email: r.try_get("email")?,
        password_hash: r.try_get("password_hash")?,
        password_changed_at: ts(r, "password_changed_at")?,
        must_change_password: flag(r, "must_change_password")?,
        failed_attempts: r.try_get("failed_attempts")?,
        locked_until: ts_opt(r, "locked_until")?,
        disabled: flag(r, "disabled")?,
        totp_secret: r.try_get("totp_secret")?,
        totp_enabled: flag(r, "totp_enabled")?,
        last_login_at: ts_opt(r, "last_login_at")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

pub async fn insert(conn: &mut AnyConnection, u: &NewUser<'_>, now: jiff::Timestamp) -> StoreResult<i64> {
    let now = t(now);
    let row = sqlx::query(
        "INSERT INTO users (username, display_name, unit_id, kind, data_scope, phone, email, password_hash,
            password_changed_at, must_change_password, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9, $9) RETURNING id",
    )
    .bind(u.username)
    .bind(u.display_name)
    .bind(u.unit_id)
    .bind(u.kind)
    .bind(u.data_scope)
    .bind(u.phone)
    .bind(u.email)
    .bind(u.password_hash)
    .bind(now)
    .bind(i64::from(u.must_change_password))
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("id")?)
}

pub async fn get(conn: &mut AnyConnection, id: i64) -> StoreResult<Option<User>> {
    let sql = format!("SELECT {COLS} FROM users WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn get_by_username(conn: &mut AnyConnection, username: &str) -> StoreResult<Option<User>> {
    let sql = format!("SELECT {COLS} FROM users WHERE username = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(username).fetch_optional(conn).await?;
    row.as_ref().map(from_row).transpose()
}

/// Filters for the user list.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Matches username or display name (substring).
    pub q: Option<String>,
    pub unit_id: Option<i64>,
    pub role_code: Option<String>,
    pub kind: Option<String>,
    /// Keyset: users with id greater than this.
    pub after_id: Option<i64>,
    pub limit: i64,
}

/// A page of users ordered by id.
pub async fn list(conn: &mut AnyConnection, backend: Backend, f: &UserFilter) -> StoreResult<Vec<User>> {
    let mut sql = Sql::default();
    sql.push("SELECT ");
    sql.push(
        "id, username, display_name, unit_id, kind, data_scope, phone, email, password_hash, \
         password_changed_at, must_change_password, failed_attempts, locked_until, disabled, totp_secret, \
         totp_enabled, last_login_at, created_at, updated_at FROM users WHERE 1=1",
    );
    if let Some(q) = f.q.as_deref().filter(|q| !q.is_empty()) {
        let pat = format!("%{}%", dialect::like_escape(q));
        let op = dialect::ilike(backend);
        sql.push(" AND (username ");
        push_op(&mut sql, op);
        sql.bind(pat.clone()).push(" ESCAPE '\\' OR display_name ");
        push_op(&mut sql, op);
        sql.bind(pat).push(" ESCAPE '\\')");
    }
    if let Some(u) = f.unit_id {
        sql.push(" AND unit_id = ").bind(u);
    }
    if let Some(k) = f.kind.as_deref() {
        sql.push(" AND kind = ").bind(k);
    }
    if let Some(r) = f.role_code.as_deref() {
        sql.push(" AND id IN (SELECT ur.user_id FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE r.code = ")
            .bind(r)
            .push(")");
    }
    if let Some(a) = f.after_id {
        sql.push(" AND id > ").bind(a);
    }
    sql.push(" ORDER BY id LIMIT ").bind(f.limit.clamp(1, 500));
    let rows = sql.query().fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

fn push_op(sql: &mut Sql, op: &'static str) {
    sql.push(op).push(" ");
}

/// Updates the profile fields an administrator edits.
#[allow(clippy::too_many_arguments)]
pub async fn update_profile(
    conn: &mut AnyConnection,
    id: i64,
    display_name: &str,
    unit_id: i64,
    data_scope: &str,
    phone: &str,
    email: &str,
    disabled: bool,
    now: jiff::Timestamp,
) -> StoreResult<()> {
    let r = sqlx::query(
        "UPDATE users SET display_name = $1, unit_id = $2, data_scope = $3, phone = $4, email = $5, disabled = $6,
            updated_at = $7 WHERE id = $8",
    )
    .bind(display_name)
    .bind(unit_id)
    .bind(data_scope)
    .bind(phone)
    .bind(email)
    .bind(i64::from(disabled))
    .bind(t(now))
    .bind(id)
    .execute(conn)
    .await?;
    not_found_if_zero(r.rows_affected())
}

fn not_found_if_zero(n: u64) -> StoreResult<()> {
    if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

pub async fn set_password(
    conn: &mut AnyConnection,
    id: i64,
    hash: &str,
    must_change: bool,
    now: jiff::Timestamp,
) -> StoreResult<()> {
    let now = t(now);
    let r = sqlx::query(
        "UPDATE users SET password_hash = $1, password_changed_at = $2, must_change_password = $3,
            failed_attempts = 0, locked_until = NULL, updated_at = $2 WHERE id = $4",
    )
    .bind(hash)
    .bind(now)
    .bind(i64::from(must_change))
    .bind(id)
    .execute(conn)
    .await?;
    not_found_if_zero(r.rows_affected())
}

/// Records a failed login; returns the new failure count.
pub async fn record_failure(
    conn: &mut AnyConnection,
    id: i64,
    lock_until: Option<jiff::Timestamp>,
    now: jiff::Timestamp,
) -> StoreResult<i64> {
    let row = sqlx::query(
        "UPDATE users SET failed_attempts = failed_attempts + 1, locked_until = COALESCE($1, locked_until),
            updated_at = $2 WHERE id = $3 RETURNING failed_attempts",
    )
    .bind(lock_until.map(t))
    .bind(t(now))
    .bind(id)
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("failed_attempts")?)
}

/// Locks a user until the given time.
pub async fn lock_until(
    conn: &mut AnyConnection,
    id: i64,
    until: jiff::Timestamp,
    now: jiff::Timestamp,
) -> StoreResult<()> {
    let r = sqlx::query("UPDATE users SET locked_until = $1, updated_at = $2 WHERE id = $3")
        .bind(t(until))
        .bind(t(now))
        .bind(id)
        .execute(conn)
        .await?;
    not_found_if_zero(r.rows_affected())
}

pub async fn record_success(conn: &mut AnyConnection, id: i64, now: jiff::Timestamp) -> StoreResult<()> {
    let now = t(now);
    sqlx::query(
        "UPDATE users SET failed_attempts = 0, locked_until = NULL, last_login_at = $1, updated_at = $1 WHERE id = $2",
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn unlock(conn: &mut AnyConnection, id: i64, now: jiff::Timestamp) -> StoreResult<()> {
    let r = sqlx::query("UPDATE users SET failed_attempts = 0, locked_until = NULL, updated_at = $1 WHERE id = $2")
        .bind(t(now))
        .bind(id)
        .execute(conn)
        .await?;
    not_found_if_zero(r.rows_affected())
}

pub async fn set_totp(
    conn: &mut AnyConnection,
    id: i64,
    secret: Option<&str>,
    enabled: bool,
    now: jiff::Timestamp,
) -> StoreResult<()> {
    let r = sqlx::query("UPDATE users SET totp_secret = $1, totp_enabled = $2, updated_at = $3 WHERE id = $4")
        .bind(secret)
        .bind(i64::from(enabled))
        .bind(t(now))
        .bind(id)
        .execute(conn)
        .await?;
    not_found_if_zero(r.rows_affected())
}

/// Replaces the user's roles.
pub async fn set_roles(conn: &mut AnyConnection, user_id: i64, role_ids: &[i64]) -> StoreResult<()> {
    sqlx::query("DELETE FROM user_roles WHERE user_id = $1").bind(user_id).execute(&mut *conn).await?;
    for rid in role_ids {
        sqlx::query("INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2)")
            .bind(user_id)
            .bind(*rid)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The codes of the user's roles.
pub async fn role_codes(conn: &mut AnyConnection, user_id: i64) -> StoreResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT r.code AS code FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = $1 ORDER BY r.code",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok(r.try_get("code")?)).collect()
}

/// The union of the permissions of the user's roles.
pub async fn permissions(conn: &mut AnyConnection, user_id: i64) -> StoreResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT DISTINCT rp.permission AS permission FROM user_roles ur
         JOIN role_permissions rp ON rp.role_id = ur.role_id WHERE ur.user_id = $1 ORDER BY rp.permission",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok(r.try_get("permission")?)).collect()
}

/// The user's role codes and the union of their permissions, in one query (sign-in and
/// every authenticated request need both).
pub async fn grants(conn: &mut AnyConnection, user_id: i64) -> StoreResult<(Vec<String>, Vec<String>)> {
    Ok(with_grants(conn, user_id).await?.map(|(_, roles, permissions)| (roles, permissions)).unwrap_or_default())
}

/// A user with their role codes and permissions, in one query (every authenticated
/// request asks for this): one row per grant, the user's columns repeated.
pub async fn with_grants(conn: &mut AnyConnection, id: i64) -> StoreResult<Option<(User, Vec<String>, Vec<String>)>> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT {COLS}, g.grant_kind, g.grant_code FROM users LEFT JOIN (
                SELECT ur.user_id AS uid, 'r' AS grant_kind, r.code AS grant_code FROM user_roles ur
                    JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = $1
                UNION
                SELECT ur.user_id AS uid, 'p' AS grant_kind, rp.permission AS grant_code FROM user_roles ur
                    JOIN role_permissions rp ON rp.role_id = ur.role_id WHERE ur.user_id = $1
             ) g ON g.uid = users.id
             WHERE users.id = $1 ORDER BY g.grant_kind, g.grant_code"
        )
    });
    let rows = sqlx::query(SQL.as_str()).bind(id).fetch_all(conn).await?;
    let Some(first) = rows.first() else { return Ok(None) };
    let user = from_row(first)?;
    let (mut roles, mut permissions) = (Vec::new(), Vec::new());
    for r in &rows {
        let kind: Option<String> = r.try_get("grant_kind")?;
        let code: Option<String> = r.try_get("grant_code")?;
        match (kind.as_deref(), code) {
            (Some("r"), Some(c)) => roles.push(c),
            (Some(_), Some(c)) => permissions.push(c),
            _ => {}
        }
    }
    Ok(Some((user, roles, permissions)))
}

/// Enabled users holding a permission through their roles: (id, display name), by name.
pub async fn with_permission(conn: &mut AnyConnection, permission: &str) -> StoreResult<Vec<(i64, String)>> {
    let rows = sqlx::query(
        "SELECT DISTINCT u.id AS id, u.display_name AS name FROM users u
         JOIN user_roles ur ON ur.user_id = u.id JOIN role_permissions rp ON rp.role_id = ur.role_id
         WHERE rp.permission = $1 AND u.disabled = 0 ORDER BY u.display_name",
    )
    .bind(permission)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("name")?))).collect()
}

pub async fn count(conn: &mut AnyConnection) -> StoreResult<i64> {
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM users").fetch_one(conn).await?.try_get("n")?)
}

/// Counts of users: (all, disabled, locked at `now`).
pub async fn stats(conn: &mut AnyConnection, now: jiff::Timestamp) -> StoreResult<(i64, i64, i64)> {
    let r = sqlx::query(
        "SELECT COUNT(*) AS total,
                COALESCE(SUM(CASE WHEN disabled = 1 THEN 1 ELSE 0 END), 0) AS disabled,
                COALESCE(SUM(CASE WHEN locked_until > $1 THEN 1 ELSE 0 END), 0) AS locked
         FROM users",
    )
    .bind(t(now))
    .fetch_one(conn)
    .await?;
    Ok((r.try_get("total")?, r.try_get("disabled")?, r.try_get("locked")?))
}
