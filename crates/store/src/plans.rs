//! Recurring order plans (R-WO-12): plans with their schedule and template, their runs
//! (unique per plan and period, so a period's orders are created once) and the orders
//! each run created.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::{StoreResult, flag, t, ts};

/// A plan as stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Plan {
    pub id: i64,
    pub name: String,
    /// `fixed` (one order per period) or `meter_age` (one per old meter).
    pub kind: String,
    pub type_code: String,
    /// `daily`, `weekly` or `monthly`.
    pub every: String,
    /// Weekday 1 (Monday) – 7 for weekly plans, day of month 1–31 for monthly ones.
    pub day: i64,
    /// Local time of day, `HH:MM`.
    pub at_time: String,
    pub title: String,
    pub content: String,
    pub address: String,
    pub impact: String,
    pub urgency: String,
    pub lat_e6: Option<i64>,
    pub lng_e6: Option<i64>,
    /// `meter_age`: meters installed at least this many years ago.
    pub meter_age_years: i64,
    /// `meter_age`: at most this many orders per period.
    pub max_per_run: i64,
    /// The handling unit of the plan's orders.
    pub unit_id: i64,
    pub enabled: bool,
    /// Periods due before this instant are not run.
    pub active_from: jiff::Timestamp,
    pub created_by: Option<i64>,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

const COLS: &str = "id, name, kind, type_code, every, day, at_time, title, content, address, impact, urgency, \
    lat_e6, lng_e6, meter_age_years, max_per_run, unit_id, enabled, active_from, created_by, created_at, updated_at";

fn plan(r: &AnyRow) -> StoreResult<Plan> {
    Ok(Plan {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        type_code: r.try_get("type_code")?,
        every: r.try_get("every")?,
        day: r.try_get("day")?,
        at_time: r.try_get("at_time")?,
        title: r.try_get("title")?,
        content: r.try_get("content")?,
        address: r.try_get("address")?,
        impact: r.try_get("impact")?,
        urgency: r.try_get("urgency")?,
        lat_e6: r.try_get("lat_e6")?,
        lng_e6: r.try_get("lng_e6")?,
        meter_age_years: r.try_get("meter_age_years")?,
        max_per_run: r.try_get("max_per_run")?,
        unit_id: r.try_get("unit_id")?,
        enabled: flag(r, "enabled")?,
        active_from: ts(r, "active_from")?,
        created_by: r.try_get("created_by")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

/// What a plan is made of (checked by the services).
#[derive(Debug, Clone)]
pub struct PlanFields<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub type_code: &'a str,
    pub every: &'a str,
    pub day: i64,
    pub at_time: &'a str,
    pub title: &'a str,
    pub content: &'a str,
    pub address: &'a str,
    pub impact: &'a str,
    pub urgency: &'a str,
    pub lat_e6: Option<i64>,
    pub lng_e6: Option<i64>,
    pub meter_age_years: i64,
    pub max_per_run: i64,
    pub unit_id: i64,
}

/// Inserts an enabled plan that starts now.
pub async fn insert(
    conn: &mut AnyConnection,
    f: &PlanFields<'_>,
    created_by: Option<i64>,
    now: jiff::Timestamp,
) -> StoreResult<Plan> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "INSERT INTO order_plans (name, kind, type_code, every, day, at_time, title, content, address, impact,
                urgency, lat_e6, lng_e6, meter_age_years, max_per_run, unit_id, enabled, active_from, created_by,
                created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 1, $17, $18, $17, $17)
             RETURNING {COLS}"
        )
    });
    let row = sqlx::query(SQL.as_str())
        .bind(f.name)
        .bind(f.kind)
        .bind(f.type_code)
        .bind(f.every)
        .bind(f.day)
        .bind(f.at_time)
        .bind(f.title)
        .bind(f.content)
        .bind(f.address)
        .bind(f.impact)
        .bind(f.urgency)
        .bind(f.lat_e6)
        .bind(f.lng_e6)
        .bind(f.meter_age_years)
        .bind(f.max_per_run)
        .bind(f.unit_id)
        .bind(t(now))
        .bind(created_by)
        .fetch_one(conn)
        .await?;
    plan(&row)
}

/// Replaces a plan's definition (not whether it is enabled); `None`: no such plan.
pub async fn update(
    conn: &mut AnyConnection,
    id: i64,
    f: &PlanFields<'_>,
    now: jiff::Timestamp,
) -> StoreResult<Option<Plan>> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "UPDATE order_plans SET name = $1, kind = $2, type_code = $3, every = $4, day = $5, at_time = $6,
                title = $7, content = $8, address = $9, impact = $10, urgency = $11, lat_e6 = $12, lng_e6 = $13,
                meter_age_years = $14, max_per_run = $15, unit_id = $16, updated_at = $17
             WHERE id = $18 RETURNING {COLS}"
        )
    });
    let row = sqlx::query(SQL.as_str())
        .bind(f.name)
        .bind(f.kind)
        .bind(f.type_code)
        .bind(f.every)
        .bind(f.day)
        .bind(f.at_time)
        .bind(f.title)
        .bind(f.content)
        .bind(f.address)
        .bind(f.impact)
        .bind(f.urgency)
        .bind(f.lat_e6)
        .bind(f.lng_e6)
        .bind(f.meter_age_years)
        .bind(f.max_per_run)
        .bind(f.unit_id)
        .bind(t(now))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(plan).transpose()
}

/// Enables or disables a plan. A plan that is enabled again starts from now: the periods
/// it was off for are not made up.
pub async fn set_enabled(
    conn: &mut AnyConnection,
    id: i64,
    enabled: bool,
    now: jiff::Timestamp,
) -> StoreResult<Option<Plan>> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "UPDATE order_plans SET active_from = CASE WHEN $1 = 1 AND enabled = 0 THEN $2 ELSE active_from END,
                enabled = $1, updated_at = $2
             WHERE id = $3 RETURNING {COLS}"
        )
    });
    let row = sqlx::query(SQL.as_str()).bind(i64::from(enabled)).bind(t(now)).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(plan).transpose()
}

pub async fn get(conn: &mut AnyConnection, id: i64) -> StoreResult<Option<Plan>> {
    static SQL: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("SELECT {COLS} FROM order_plans WHERE id = $1"));
    let row = sqlx::query(SQL.as_str()).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(plan).transpose()
}

/// Every plan, or only the enabled ones, by name.
pub async fn list(conn: &mut AnyConnection, only_enabled: bool) -> StoreResult<Vec<Plan>> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!("SELECT {COLS} FROM order_plans WHERE ($1 = 0 OR enabled = 1) ORDER BY name, id")
    });
    let rows = sqlx::query(SQL.as_str()).bind(i64::from(only_enabled)).fetch_all(conn).await?;
    rows.iter().map(plan).collect()
}

/// A period's run of a plan.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlanRun {
    pub id: i64,
    pub plan_id: i64,
    /// `2026-11-29`, `2026-W48` or `2026-11`.
    pub period_key: String,
    /// When the period's run fell due.
    pub due_at: jiff::Timestamp,
    pub orders_created: i64,
    /// Why nothing was created, if so.
    pub note: String,
    pub created_at: jiff::Timestamp,
    /// The orders the run created.
    pub orders: Vec<RunOrder>,
}

/// An order a run created.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunOrder {
    pub order_id: i64,
    pub order_no: String,
    pub state: String,
    pub meter_id: Option<i64>,
}

/// Whether the plan has run for the period.
pub async fn run_exists(conn: &mut AnyConnection, plan_id: i64, period_key: &str) -> StoreResult<bool> {
    let r = sqlx::query("SELECT 1 AS one FROM plan_runs WHERE plan_id = $1 AND period_key = $2")
        .bind(plan_id)
        .bind(period_key)
        .fetch_optional(conn)
        .await?;
    Ok(r.is_some())
}

/// Claims a period for a plan: the run's id, or `None` if the period has its run already.
/// On PostgreSQL a concurrent claim of the same period waits for this transaction and then
/// finds the row; on SQLite the single writer serialises them.
pub async fn claim_run(
    conn: &mut AnyConnection,
    plan_id: i64,
    period_key: &str,
    due_at: jiff::Timestamp,
    now: jiff::Timestamp,
) -> StoreResult<Option<i64>> {
    let row = sqlx::query(
        "INSERT INTO plan_runs (plan_id, period_key, due_at, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (plan_id, period_key) DO NOTHING RETURNING id",
    )
    .bind(plan_id)
    .bind(period_key)
    .bind(t(due_at))
    .bind(t(now))
    .fetch_optional(conn)
    .await?;
    row.map(|r| r.try_get("id")).transpose().map_err(Into::into)
}

/// Records what a run did.
pub async fn finish_run(conn: &mut AnyConnection, run_id: i64, orders_created: i64, note: &str) -> StoreResult<()> {
    sqlx::query("UPDATE plan_runs SET orders_created = $1, note = $2 WHERE id = $3")
        .bind(orders_created)
        .bind(note)
        .bind(run_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Links an order to the run that created it.
pub async fn add_run_order(
    conn: &mut AnyConnection,
    run_id: i64,
    order_id: i64,
    meter_id: Option<i64>,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO plan_run_orders (run_id, order_id, meter_id) VALUES ($1, $2, $3)")
        .bind(run_id)
        .bind(order_id)
        .bind(meter_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A plan's latest runs, newest first, with their orders.
pub async fn runs(conn: &mut AnyConnection, plan_id: i64, limit: i64) -> StoreResult<Vec<PlanRun>> {
    let rows = sqlx::query(
        "SELECT id, plan_id, period_key, due_at, orders_created, note, created_at FROM plan_runs
         WHERE plan_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(plan_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut runs = rows
        .iter()
        .map(|r| {
            Ok(PlanRun {
                id: r.try_get("id")?,
                plan_id: r.try_get("plan_id")?,
                period_key: r.try_get("period_key")?,
                due_at: ts(r, "due_at")?,
                orders_created: r.try_get("orders_created")?,
                note: r.try_get("note")?,
                created_at: ts(r, "created_at")?,
                orders: Vec::new(),
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let Some(oldest) = runs.last().map(|r| r.id) else { return Ok(runs) };
    let rows = sqlx::query(
        "SELECT ro.run_id, ro.order_id, ro.meter_id, w.order_no, w.state
         FROM plan_run_orders ro JOIN plan_runs r ON r.id = ro.run_id JOIN work_orders w ON w.id = ro.order_id
         WHERE r.plan_id = $1 AND r.id >= $2 ORDER BY ro.order_id",
    )
    .bind(plan_id)
    .bind(oldest)
    .fetch_all(conn)
    .await?;
    for r in &rows {
        let run_id: i64 = r.try_get("run_id")?;
        if let Some(run) = runs.iter_mut().find(|x| x.id == run_id) {
            run.orders.push(RunOrder {
                order_id: r.try_get("order_id")?,
                order_no: r.try_get("order_no")?,
                state: r.try_get("state")?,
                meter_id: r.try_get("meter_id")?,
            });
        }
    }
    Ok(runs)
}

/// A meter due for replacement, with what its order needs from the account.
#[derive(Debug, Clone)]
pub struct OldMeter {
    pub meter_id: i64,
    pub serial: String,
    pub diameter_mm: i64,
    pub installed_on: String,
    pub account_id: i64,
    pub account_no: String,
    pub holder_id: i64,
    pub address: String,
    pub lat_e6: Option<i64>,
    pub lon_e6: Option<i64>,
}

/// Installed meters of open accounts in the unit subtree `unit_path`, installed on or before
/// `installed_by` (a local date), oldest first — except meters that already have a plan's
/// order that is still open or was created since `period_start`.
pub async fn old_meters(
    conn: &mut AnyConnection,
    unit_path: &str,
    installed_by: &str,
    period_start: jiff::Timestamp,
    limit: i64,
) -> StoreResult<Vec<OldMeter>> {
    let rows = sqlx::query(
        "SELECT m.id, m.serial, m.diameter_mm, m.installed_on, a.id AS account_id, a.account_no, a.holder_id,
            a.address, a.lat_e6, a.lon_e6
         FROM meters m JOIN accounts a ON a.id = m.account_id JOIN units u ON u.id = a.unit_id
         WHERE m.removed_on IS NULL AND m.installed_on <= $1 AND a.status <> 'closed' AND u.path LIKE $2
           AND NOT EXISTS (SELECT 1 FROM plan_run_orders ro JOIN work_orders w ON w.id = ro.order_id
                           WHERE ro.meter_id = m.id
                             AND (w.state NOT IN ('concluded', 'rejected', 'cancelled') OR w.created_at >= $3))
         ORDER BY m.installed_on, m.id LIMIT $4",
    )
    .bind(installed_by)
    .bind(format!("{unit_path}%"))
    .bind(t(period_start))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(OldMeter {
                meter_id: r.try_get("id")?,
                serial: r.try_get("serial")?,
                diameter_mm: r.try_get("diameter_mm")?,
                installed_on: r.try_get("installed_on")?,
                account_id: r.try_get("account_id")?,
                account_no: r.try_get("account_no")?,
                holder_id: r.try_get("holder_id")?,
                address: r.try_get("address")?,
                lat_e6: r.try_get("lat_e6")?,
                lon_e6: r.try_get("lon_e6")?,
            })
        })
        .collect()
}

/// The latest run of every plan that has one: (plan id, period key, orders created, when).
pub async fn last_runs(conn: &mut AnyConnection) -> StoreResult<Vec<(i64, String, i64, jiff::Timestamp)>> {
    let rows = sqlx::query(
        "SELECT r.plan_id, r.period_key, r.orders_created, r.created_at FROM plan_runs r
         WHERE r.id = (SELECT MAX(x.id) FROM plan_runs x WHERE x.plan_id = r.plan_id)",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((r.try_get("plan_id")?, r.try_get("period_key")?, r.try_get("orders_created")?, ts(r, "created_at")?))
        })
        .collect()
}
