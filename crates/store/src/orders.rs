//! Work orders (issue 5, R-WO-01..13): order types with their workflow and SLA targets as
//! JSON (the services check them with `domain::workflow` / `domain::sla` before storing).

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::sql::Sql;
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
    /// The first reply (答复) to the customer.
    pub replied_at: Option<jiff::Timestamp>,
    /// When the escalation watcher looks at the order next (`None`: no clock runs).
    pub sla_check_at: Option<jiff::Timestamp>,
    /// Past the complete deadline (超期) at some point; never reset.
    pub overdue: bool,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

const ORDER_COLS: &str = "id, order_no, type_code, state, suspended_from, version, origin, origin_ref, contact_id, \
    customer_id, account_id, category, impact, urgency, priority, title, content, address, lat_e6, lng_e6, caller, \
    unit_id, assignee_id, created_by, master_id, fields, accepted_at, dispatched_at, acknowledged_at, arrived_at, \
    resolved_at, concluded_at, replied_at, sla_check_at, overdue, created_at, updated_at";

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
        replied_at: crate::ts_opt(r, "replied_at")?,
        sla_check_at: crate::ts_opt(r, "sla_check_at")?,
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
        .fetch_one(&mut *conn)
        .await?;
    let created = order(&row)?;
    crate::order_text::index_one(conn, created.id, o.title, o.content, o.address).await?;
    Ok(created)
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
    /// The step carries a reply to the customer (stamps `replied_at` the first time).
    pub replied: bool,
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
/// now; `None`: somebody else moved it first (the caller reports a conflict). The
/// escalation watcher is asked to look at the order again (`sla_check_at = now`).
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
        concluded_at = CASE WHEN $9 = 'concluded' THEN $6 ELSE concluded_at END,
        replied_at = CASE WHEN $10 = 1 THEN COALESCE(replied_at, $6) ELSE replied_at END,
        sla_check_at = $6
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
        .bind(i64::from(c.replied))
        .fetch_optional(&mut *conn)
        .await?;
    // Every step may change the order's stored indicator facts: it is replayed until
    // they are computed again (ARCHITECTURE D24).
    if row.is_some() {
        crate::stats::forget_facts(conn, id).await?;
    }
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

/// The orders of data scope `own`: assigned to or created by the user, and for a crew
/// member the unassigned orders dispatched to their unit (to take them, 抢单).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnOrders {
    pub user_id: i64,
    pub take_unit: Option<i64>,
}

impl OwnOrders {
    /// ` AND (…)` over the work-order columns that `col` names (a table alias or an index's).
    pub fn push(&self, q: &mut Sql, col: impl Fn(&'static str) -> &'static str) {
        q.push(" AND (").push(col("assignee_id")).push(" = ").bind(self.user_id);
        q.push(" OR ").push(col("created_by")).push(" = ").bind(self.user_id);
        if let Some(u) = self.take_unit {
            q.push(" OR (").push(col("assignee_id")).push(" IS NULL AND ").push(col("state"));
            q.push(" = 'dispatched' AND ").push(col("unit_id")).push(" = ").bind(u).push(")");
        }
        q.push(")");
    }
}

/// Filters of an order list (the dispatcher's queue, a crew's orders).
#[derive(Debug, Clone, Default)]
pub struct OrderFilter<'a> {
    /// Handling units in the caller's data scope (`None`: all).
    pub units: Option<&'a [i64]>,
    /// Data scope `own`: only these orders.
    pub own: Option<OwnOrders>,
    pub states: Option<&'a [String]>,
    /// Only orders that are neither concluded, rejected nor cancelled.
    pub open: bool,
    pub type_code: Option<&'a str>,
    pub assignee_id: Option<i64>,
    /// With `assignee_id`: also the orders dispatched to this unit without a person.
    pub or_unclaimed_in: Option<i64>,
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
    if let Some(own) = f.own {
        own.push(&mut q, |c| c);
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
    match (f.assignee_id, f.or_unclaimed_in) {
        (Some(a), Some(u)) => {
            q.push(" AND (assignee_id = ").bind(a);
            q.push(" OR (assignee_id IS NULL AND state = 'dispatched' AND unit_id = ").bind(u).push("))");
        }
        (Some(a), None) => {
            q.push(" AND assignee_id = ").bind(a);
        }
        _ => {}
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

/// Orders whose escalation check is due, earliest first.
pub async fn sla_due(conn: &mut AnyConnection, now: jiff::Timestamp, limit: i64) -> StoreResult<Vec<Order>> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT {ORDER_COLS} FROM work_orders WHERE sla_check_at IS NOT NULL AND sla_check_at <= $1
             ORDER BY sla_check_at LIMIT $2"
        )
    });
    let rows = sqlx::query(SQL.as_str()).bind(t(now)).bind(limit).fetch_all(conn).await?;
    rows.iter().map(order).collect()
}

/// Records that a threshold fired; `false` if it had fired before (each fires once).
pub async fn escalation_mark(
    conn: &mut AnyConnection,
    order_id: i64,
    deadline: &str,
    stage: &str,
    due_at: jiff::Timestamp,
    now: jiff::Timestamp,
) -> StoreResult<bool> {
    let r = sqlx::query(
        "INSERT INTO order_escalations (order_id, deadline, stage, due_at, fired_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (order_id, deadline, stage) DO NOTHING",
    )
    .bind(order_id)
    .bind(deadline)
    .bind(stage)
    .bind(t(due_at))
    .bind(t(now))
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Sets the next escalation check (and the overdue flag) if the order still has
/// `version`; `false`: a transition came in between and the check must be redone.
pub async fn sla_reschedule(
    conn: &mut AnyConnection,
    id: i64,
    version: i64,
    next: Option<jiff::Timestamp>,
    overdue: bool,
) -> StoreResult<bool> {
    let r = sqlx::query(
        "UPDATE work_orders SET sla_check_at = $1, overdue = CASE WHEN $2 = 1 THEN 1 ELSE overdue END
         WHERE id = $3 AND version = $4",
    )
    .bind(next.map(t))
    .bind(i64::from(overdue))
    .bind(id)
    .bind(version)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// A threshold that fired on an order.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Escalation {
    pub order_id: i64,
    /// `acknowledge`, `arrive`, `complete` or `reply`.
    pub deadline: String,
    /// `tier2`, `tier3` or `overdue`.
    pub stage: String,
    /// When the threshold was reached.
    pub due_at: Option<jiff::Timestamp>,
    /// When the watcher fired it.
    pub fired_at: jiff::Timestamp,
}

/// The escalations of an order, in the order they fired.
pub async fn escalations(conn: &mut AnyConnection, order_id: i64) -> StoreResult<Vec<Escalation>> {
    let rows = sqlx::query(
        "SELECT order_id, deadline, stage, due_at, fired_at FROM order_escalations WHERE order_id = $1 ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let due: String = r.try_get("due_at")?;
            Ok(Escalation {
                order_id: r.try_get("order_id")?,
                deadline: r.try_get("deadline")?,
                stage: r.try_get("stage")?,
                due_at: waterdesk_domain::time::from_db(&due),
                fired_at: ts(r, "fired_at")?,
            })
        })
        .collect()
}

/// A crew member as dispatch sees them: unit, skills, last position, open workload.
#[derive(Debug, Clone)]
pub struct CrewRow {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub unit_id: i64,
    pub unit_name: String,
    pub unit_path: String,
    pub skills: String,
    pub position: Option<(i64, i64, jiff::Timestamp)>,
    pub open_orders: i64,
}

/// Active staff holding `order.handle` (but not the superuser role `admin`, which holds
/// every permission), optionally only in `units`, with their last
/// position and the orders they have in hand (dispatched, acknowledged, in progress).
pub async fn crew(conn: &mut AnyConnection, units: Option<&[i64]>) -> StoreResult<Vec<CrewRow>> {
    let mut q = crate::sql::Sql::default();
    q.push(
        "SELECT u.id, u.username, u.display_name, u.unit_id, un.name AS unit_name, un.path AS unit_path, u.skills,
            p.lat_e6, p.lng_e6, p.at AS pos_at,
            (SELECT COUNT(*) FROM work_orders w WHERE w.assignee_id = u.id
                AND w.state IN ('dispatched', 'acknowledged', 'in_progress')) AS open_orders
         FROM users u JOIN units un ON un.id = u.unit_id
         LEFT JOIN crew_positions p ON p.user_id = u.id
         WHERE u.disabled = 0 AND u.kind = 'staff'
           AND EXISTS (SELECT 1 FROM user_roles ur JOIN role_permissions rp ON rp.role_id = ur.role_id
                       WHERE ur.user_id = u.id AND rp.permission = 'order.handle')
           AND NOT EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id
                           WHERE ur.user_id = u.id AND r.code = 'admin')",
    );
    if let Some(units) = units {
        crate::customers::push_in(&mut q, " AND u.unit_id IN (", units);
    }
    q.push(" ORDER BY u.id");
    let rows = q.query().fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            let lat: Option<i64> = r.try_get("lat_e6")?;
            let lng: Option<i64> = r.try_get("lng_e6")?;
            let at = crate::ts_opt(r, "pos_at")?;
            Ok(CrewRow {
                user_id: r.try_get("id")?,
                username: r.try_get("username")?,
                display_name: r.try_get("display_name")?,
                unit_id: r.try_get("unit_id")?,
                unit_name: r.try_get("unit_name")?,
                unit_path: r.try_get("unit_path")?,
                skills: r.try_get("skills")?,
                position: match (lat, lng, at) {
                    (Some(a), Some(b), Some(t)) => Some((a, b, t)),
                    _ => None,
                },
                open_orders: r.try_get("open_orders")?,
            })
        })
        .collect()
}

/// Stores a crew member's position (the latest ping wins; an older ping is ignored).
pub async fn set_position(
    conn: &mut AnyConnection,
    user_id: i64,
    lat_e6: i64,
    lng_e6: i64,
    accuracy_m: Option<i64>,
    at: jiff::Timestamp,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO crew_positions (user_id, lat_e6, lng_e6, accuracy_m, at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id) DO UPDATE SET lat_e6 = excluded.lat_e6, lng_e6 = excluded.lng_e6,
            accuracy_m = excluded.accuracy_m, at = excluded.at
         WHERE crew_positions.at <= excluded.at",
    )
    .bind(user_id)
    .bind(lat_e6)
    .bind(lng_e6)
    .bind(accuracy_m)
    .bind(t(at))
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets a user's skills (order type codes, comma-separated; empty: every type).
pub async fn set_skills(conn: &mut AnyConnection, user_id: i64, skills: &str) -> StoreResult<bool> {
    let r = sqlx::query("UPDATE users SET skills = $1 WHERE id = $2").bind(skills).bind(user_id).execute(conn).await?;
    Ok(r.rows_affected() == 1)
}
