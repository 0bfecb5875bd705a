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

/// A work order as stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Order {
    pub id: i64,
    pub order_no: String,
    pub type_code: String,
    pub state: String,
    pub suspended_from: Option<String>,
    /// Optimistic version: every transition names the version it saw.
    pub version: i64,
    pub origin: String,
    pub origin_ref: String,
    pub contact_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub account_id: Option<i64>,
    pub category: String,
    pub impact: String,
    pub urgency: String,
    pub priority: i64,
    pub title: String,
    pub content: String,
    pub address: String,
    pub lat_e6: Option<i64>,
    pub lng_e6: Option<i64>,
    pub caller: String,
    pub unit_id: i64,
    pub assignee_id: Option<i64>,
    pub created_by: Option<i64>,
    pub master_id: Option<i64>,
    /// Fields filled in by the steps (JSON object).
    pub fields: String,
    pub accepted_at: Option<jiff::Timestamp>,
    pub dispatched_at: Option<jiff::Timestamp>,
    pub acknowledged_at: Option<jiff::Timestamp>,
    pub arrived_at: Option<jiff::Timestamp>,
    pub resolved_at: Option<jiff::Timestamp>,
    pub concluded_at: Option<jiff::Timestamp>,
    pub overdue: bool,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

const ORDER_COLS: &str = "id, order_no, type_code, state, suspended_from, version, origin, origin_ref, contact_id, \
    customer_id, account_id, category, impact, urgency, priority, title, content, address, lat_e6, lng_e6, caller, \
    unit_id, assignee_id, created_by, master_id, fields, accepted_at, dispatched_at, acknowledged_at, arrived_at, \
    resolved_at, concluded_at, overdue, created_at, updated_at";

fn order(r: &AnyRow) -> StoreResult<Order> {
    Ok(Order {
        id: r.try_get("id")?,
        order_no: r.try_get("order_no")?,
        type_code: r.try_get("type_code")?,
        state: r.try_get("state")?,
        suspended_from: r.try_get("suspended_from")?,
        version: r.try_get("version")?,
        origin: r.try_get("origin")?,
        origin_ref: r.try_get("origin_ref")?,
        contact_id: r.try_get("contact_id")?,
        customer_id: r.try_get("customer_id")?,
        account_id: r.try_get("account_id")?,
        category: r.try_get("category")?,
        impact: r.try_get("impact")?,
        urgency: r.try_get("urgency")?,
        priority: r.try_get("priority")?,
        title: r.try_get("title")?,
        content: r.try_get("content")?,
        address: r.try_get("address")?,
        lat_e6: r.try_get("lat_e6")?,
        lng_e6: r.try_get("lng_e6")?,
        caller: r.try_get("caller")?,
        unit_id: r.try_get("unit_id")?,
        assignee_id: r.try_get("assignee_id")?,
        created_by: r.try_get("created_by")?,
        master_id: r.try_get("master_id")?,
        fields: r.try_get("fields")?,
        accepted_at: crate::ts_opt(r, "accepted_at")?,
        dispatched_at: crate::ts_opt(r, "dispatched_at")?,
        acknowledged_at: crate::ts_opt(r, "acknowledged_at")?,
        arrived_at: crate::ts_opt(r, "arrived_at")?,
        resolved_at: crate::ts_opt(r, "resolved_at")?,
        concluded_at: crate::ts_opt(r, "concluded_at")?,
        overdue: flag(r, "overdue")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

/// A new order's content.
#[derive(Debug, Clone)]
pub struct NewOrder<'a> {
    pub order_no: &'a str,
    pub type_code: &'a str,
    pub origin: &'a str,
    pub origin_ref: &'a str,
    pub contact_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub account_id: Option<i64>,
    pub category: &'a str,
    pub impact: &'a str,
    pub urgency: &'a str,
    pub priority: i64,
    pub title: &'a str,
    pub content: &'a str,
    pub address: &'a str,
    pub lat_e6: Option<i64>,
    pub lng_e6: Option<i64>,
    pub caller: &'a str,
    pub unit_id: i64,
    pub created_by: Option<i64>,
}

/// Inserts an order in `registered` and returns it.
pub async fn insert(conn: &mut AnyConnection, o: &NewOrder<'_>, now: jiff::Timestamp) -> StoreResult<Order> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "INSERT INTO work_orders (order_no, type_code, state, origin, origin_ref, contact_id, customer_id,
                account_id, category, impact, urgency, priority, title, content, address, lat_e6, lng_e6, caller,
                unit_id, created_by, created_at, updated_at)
             VALUES ($1, $2, 'registered', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                $19, $20, $20)
             RETURNING {ORDER_COLS}"
        )
    });
    let row = sqlx::query(SQL.as_str())
        .bind(o.order_no)
        .bind(o.type_code)
        .bind(o.origin)
        .bind(o.origin_ref)
        .bind(o.contact_id)
        .bind(o.customer_id)
        .bind(o.account_id)
        .bind(o.category)
        .bind(o.impact)
        .bind(o.urgency)
        .bind(o.priority)
        .bind(o.title)
        .bind(o.content)
        .bind(o.address)
        .bind(o.lat_e6)
        .bind(o.lng_e6)
        .bind(o.caller)
        .bind(o.unit_id)
        .bind(o.created_by)
        .bind(t(now))
        .fetch_one(conn)
        .await?;
    order(&row)
}

pub async fn get(conn: &mut AnyConnection, id: i64) -> StoreResult<Option<Order>> {
    static SQL: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("SELECT {ORDER_COLS} FROM work_orders WHERE id = $1"));
    let row = sqlx::query(SQL.as_str()).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(order).transpose()
}

/// What a transition changes on the order row.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub state: &'a str,
    pub suspended_from: Option<&'a str>,
    pub unit_id: i64,
    pub assignee_id: Option<i64>,
    pub fields: &'a str,
    /// The milestone column to stamp with `now` the first time (e.g. `accepted_at`).
    pub milestone: Option<Milestone>,
}

/// Milestones whose first time is kept on the order (SLA and KPI inputs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Milestone {
    Accepted,
    Dispatched,
    Acknowledged,
    Arrived,
    Resolved,
    Concluded,
}

impl Milestone {
    fn code(self) -> &'static str {
        match self {
            Milestone::Accepted => "accepted",
            Milestone::Dispatched => "dispatched",
            Milestone::Acknowledged => "acknowledged",
            Milestone::Arrived => "arrived",
            Milestone::Resolved => "resolved",
            Milestone::Concluded => "concluded",
        }
    }
}

/// Applies a transition if the order still has `version` and returns the order as it is
/// now; `None`: somebody else moved it first (the caller reports a conflict).
pub async fn apply(
    conn: &mut AnyConnection,
    id: i64,
    version: i64,
    c: &Change<'_>,
    now: jiff::Timestamp,
) -> StoreResult<Option<Order>> {
    // One statement for every milestone: the first acceptance, dispatch, acknowledgement
    // and arrival are kept; resolution and conclusion record the latest.
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "UPDATE work_orders SET state = $1, suspended_from = $2, unit_id = $3, assignee_id = $4, fields = $5,
        version = version + 1, updated_at = $6,
        accepted_at = CASE WHEN $9 = 'accepted' THEN COALESCE(accepted_at, $6) ELSE accepted_at END,
        dispatched_at = CASE WHEN $9 = 'dispatched' THEN COALESCE(dispatched_at, $6) ELSE dispatched_at END,
        acknowledged_at = CASE WHEN $9 = 'acknowledged' THEN COALESCE(acknowledged_at, $6) ELSE acknowledged_at END,
        arrived_at = CASE WHEN $9 = 'arrived' THEN COALESCE(arrived_at, $6) ELSE arrived_at END,
        resolved_at = CASE WHEN $9 = 'resolved' THEN $6 ELSE resolved_at END,
        concluded_at = CASE WHEN $9 = 'concluded' THEN $6 ELSE concluded_at END
        WHERE id = $7 AND version = $8
        RETURNING {ORDER_COLS}"
        )
    });
    let row = sqlx::query(SQL.as_str())
        .bind(c.state)
        .bind(c.suspended_from)
        .bind(c.unit_id)
        .bind(c.assignee_id)
        .bind(c.fields)
        .bind(t(now))
        .bind(id)
        .bind(version)
        .bind(c.milestone.map_or("", Milestone::code))
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(order).transpose()
}

/// One transition of an order's history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrderEvent {
    pub id: i64,
    pub order_id: i64,
    pub action: String,
    pub from_state: String,
    pub to_state: String,
    pub actor_id: Option<i64>,
    pub note: String,
    pub fields: String,
    pub lat_e6: Option<i64>,
    pub lng_e6: Option<i64>,
    pub at: jiff::Timestamp,
}

/// A transition to record.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub action: &'a str,
    pub from_state: &'a str,
    pub to_state: &'a str,
    pub actor_id: Option<i64>,
    pub note: &'a str,
    pub fields: &'a str,
    pub lat_e6: Option<i64>,
    pub lng_e6: Option<i64>,
}

pub async fn add_event(
    conn: &mut AnyConnection,
    order_id: i64,
    e: &NewEvent<'_>,
    now: jiff::Timestamp,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO order_events (order_id, action, from_state, to_state, actor_id, note, fields, lat_e6, lng_e6, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(order_id)
    .bind(e.action)
    .bind(e.from_state)
    .bind(e.to_state)
    .bind(e.actor_id)
    .bind(e.note)
    .bind(e.fields)
    .bind(e.lat_e6)
    .bind(e.lng_e6)
    .bind(t(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// The order's history, oldest first.
pub async fn events(conn: &mut AnyConnection, order_id: i64) -> StoreResult<Vec<OrderEvent>> {
    let rows = sqlx::query(
        "SELECT id, order_id, action, from_state, to_state, actor_id, note, fields, lat_e6, lng_e6, at
         FROM order_events WHERE order_id = $1 ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(OrderEvent {
                id: r.try_get("id")?,
                order_id: r.try_get("order_id")?,
                action: r.try_get("action")?,
                from_state: r.try_get("from_state")?,
                to_state: r.try_get("to_state")?,
                actor_id: r.try_get("actor_id")?,
                note: r.try_get("note")?,
                fields: r.try_get("fields")?,
                lat_e6: r.try_get("lat_e6")?,
                lng_e6: r.try_get("lng_e6")?,
                at: ts(r, "at")?,
            })
        })
        .collect()
}

/// Opens a pause of the SLA clock (suspension).
pub async fn pause(conn: &mut AnyConnection, order_id: i64, now: jiff::Timestamp) -> StoreResult<()> {
    sqlx::query("INSERT INTO order_pauses (order_id, started_at) VALUES ($1, $2)")
        .bind(order_id)
        .bind(t(now))
        .execute(conn)
        .await?;
    Ok(())
}

/// Closes the open pause, if any.
pub async fn unpause(conn: &mut AnyConnection, order_id: i64, now: jiff::Timestamp) -> StoreResult<()> {
    sqlx::query("UPDATE order_pauses SET ended_at = $1 WHERE order_id = $2 AND ended_at IS NULL")
        .bind(t(now))
        .bind(order_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The SLA clock's pauses, oldest first (an open one has no end).
pub async fn pauses(
    conn: &mut AnyConnection,
    order_id: i64,
) -> StoreResult<Vec<(jiff::Timestamp, Option<jiff::Timestamp>)>> {
    let rows = sqlx::query("SELECT started_at, ended_at FROM order_pauses WHERE order_id = $1 ORDER BY started_at")
        .bind(order_id)
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r| Ok((ts(r, "started_at")?, crate::ts_opt(r, "ended_at")?))).collect()
}

/// Filters of an order list (the dispatcher's queue, a crew's orders).
#[derive(Debug, Clone, Default)]
pub struct OrderFilter<'a> {
    /// Handling units in the caller's data scope (`None`: all).
    pub units: Option<&'a [i64]>,
    pub states: Option<&'a [String]>,
    /// Only orders that are neither concluded, rejected nor cancelled.
    pub open: bool,
    pub type_code: Option<&'a str>,
    pub assignee_id: Option<i64>,
    pub priority: Option<i64>,
    /// Keyset paging, newest first: orders with an id below this.
    pub before: Option<i64>,
}

/// A page of orders, newest first.
pub async fn list(conn: &mut AnyConnection, f: &OrderFilter<'_>, limit: i64) -> StoreResult<Vec<Order>> {
    let mut q = crate::sql::Sql::default();
    q.push("SELECT ").push(ORDER_COLS).push(" FROM work_orders WHERE 1 = 1");
    if let Some(units) = f.units {
        crate::customers::push_in(&mut q, " AND unit_id IN (", units);
    }
    if let Some(states) = f.states {
        q.push(" AND state IN (");
        for (i, s) in states.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(s.clone());
        }
        q.push(")");
    }
    if f.open {
        q.push(" AND state NOT IN ('concluded', 'rejected', 'cancelled')");
    }
    if let Some(t) = f.type_code {
        q.push(" AND type_code = ").bind(t);
    }
    if let Some(a) = f.assignee_id {
        q.push(" AND assignee_id = ").bind(a);
    }
    if let Some(p) = f.priority {
        q.push(" AND priority = ").bind(p);
    }
    if let Some(b) = f.before {
        q.push(" AND id < ").bind(b);
    }
    q.push(" ORDER BY id DESC LIMIT ").bind(limit);
    q.query().fetch_all(conn).await?.iter().map(order).collect()
}
