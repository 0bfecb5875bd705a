//! Work orders (issue 5, R-WO-01..13): order types with their workflow and SLA targets as
//! JSON (the services check them with `domain::workflow` / `domain::sla` before storing).

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::{StoreResult, flag, t, ts};

/// An order type as stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrderType {
    pub id: i64,
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// `domain::workflow::Workflow` as JSON.
    pub workflow: String,
    /// SLA targets per priority level as JSON.
    pub targets: String,
    /// `domain::sla::Calendar` as JSON; empty: round the clock.
    pub calendar: String,
    pub enabled: bool,
    pub sort_order: i64,
    pub updated_at: jiff::Timestamp,
}

/// What an order type is made of (for inserts and updates).
#[derive(Debug, Clone)]
pub struct OrderTypeFields<'a> {
    pub code: &'a str,
    pub name_zh: &'a str,
    pub name_en: &'a str,
    pub workflow: &'a str,
    pub targets: &'a str,
    pub calendar: &'a str,
    pub enabled: bool,
    pub sort_order: i64,
}

const TYPE_COLS: &str = "id, code, name_zh, name_en, workflow, targets, calendar, enabled, sort_order, updated_at";

fn order_type(r: &AnyRow) -> StoreResult<OrderType> {
    Ok(OrderType {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        name_zh: r.try_get("name_zh")?,
        name_en: r.try_get("name_en")?,
        workflow: r.try_get("workflow")?,
        targets: r.try_get("targets")?,
        calendar: r.try_get("calendar")?,
        enabled: flag(r, "enabled")?,
        sort_order: r.try_get("sort_order")?,
        updated_at: ts(r, "updated_at")?,
    })
}

/// Inserts a type unless its code exists; returns whether it was inserted.
pub async fn insert_type_if_missing(
    conn: &mut AnyConnection,
    f: &OrderTypeFields<'_>,
    now: jiff::Timestamp,
) -> StoreResult<bool> {
    let r = sqlx::query(
        "INSERT INTO order_types (code, name_zh, name_en, workflow, targets, calendar, enabled, sort_order, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (code) DO NOTHING",
    )
    .bind(f.code)
    .bind(f.name_zh)
    .bind(f.name_en)
    .bind(f.workflow)
    .bind(f.targets)
    .bind(f.calendar)
    .bind(i64::from(f.enabled))
    .bind(f.sort_order)
    .bind(t(now))
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Replaces a type's definition; returns whether the type exists.
pub async fn update_type(conn: &mut AnyConnection, f: &OrderTypeFields<'_>, now: jiff::Timestamp) -> StoreResult<bool> {
    let r = sqlx::query(
        "UPDATE order_types SET name_zh = $1, name_en = $2, workflow = $3, targets = $4, calendar = $5, enabled = $6,
            sort_order = $7, updated_at = $8 WHERE code = $9",
    )
    .bind(f.name_zh)
    .bind(f.name_en)
    .bind(f.workflow)
    .bind(f.targets)
    .bind(f.calendar)
    .bind(i64::from(f.enabled))
    .bind(f.sort_order)
    .bind(t(now))
    .bind(f.code)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// All types in display order.
pub async fn list_types(conn: &mut AnyConnection) -> StoreResult<Vec<OrderType>> {
    static SQL: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("SELECT {TYPE_COLS} FROM order_types ORDER BY sort_order, code"));
    let rows = sqlx::query(SQL.as_str()).fetch_all(conn).await?;
    rows.iter().map(order_type).collect()
}

/// One type by code.
pub async fn get_type(conn: &mut AnyConnection, code: &str) -> StoreResult<Option<OrderType>> {
    static SQL: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("SELECT {TYPE_COLS} FROM order_types WHERE code = $1"));
    let row = sqlx::query(SQL.as_str()).bind(code).fetch_optional(conn).await?;
    row.as_ref().map(order_type).transpose()
}
