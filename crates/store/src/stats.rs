//! Statistics over work orders (issue 6, R-DATA-01/04/05): the facts of a cohort for the
//! service indicators (`domain::kpi`), read a page of orders at a time with their state
//! histories and return visits, and the quick counts as one grouped query.
//!
//! Where the grouping keys come from: the handling unit is the order's `unit_id`; the
//! channel (反映形式) and source (反映来源) are those of the contact the order was registered
//! from (one primary-key join), and the order's `origin` (`portal`, `api`, `billing`,
//! `hotline12345`, `alarm`, `plan`, `staff`) for orders registered without a contact.
//!
//! Return visits: every `visit` event of an order is one successful attempt (the step
//! requires a satisfaction rating). Outbound return-visit campaigns evaluate contacts, not
//! orders (`campaign_targets.source_contact_id`), so they are not counted here.

use sqlx::{AnyConnection, Row};

use crate::sql::Sql;
use crate::{StoreError, StoreResult, t, ts};

/// Orders registered in `[from, to)`, in the handling units `units` (`None`: all), and —
/// when the lists are not empty — of these order types, categories, channels and sources
/// (a custom report's filters, R-DATA-04).
#[derive(Debug, Clone, Copy)]
pub struct CohortFilter<'a> {
    pub from: jiff::Timestamp,
    pub to: jiff::Timestamp,
    pub units: Option<&'a [i64]>,
    pub types: &'a [String],
    pub categories: &'a [String],
    pub channels: &'a [String],
    pub sources: &'a [String],
}

impl<'a> CohortFilter<'a> {
    /// Whether a loaded order passes the filter (for orders read by id).
    pub fn keeps(&self, o: &OrderFactsRow) -> bool {
        let within = |list: &[String], v: &str| list.is_empty() || list.iter().any(|x| x == v);
        self.from <= o.registered_at
            && o.registered_at < self.to
            && self.units.is_none_or(|u| u.contains(&o.unit_id))
            && within(self.types, &o.type_code)
            && within(self.categories, &o.category)
            && within(self.channels, &o.channel)
            && within(self.sources, &o.source)
    }

    /// The filter on `order_facts`' own columns (everything but the time range).
    fn push_facts(&self, q: &mut Sql) {
        if let Some(units) = self.units {
            crate::customers::push_in(q, " AND unit_id IN (", units);
        }
        push_in_text(q, " AND type_code IN (", self.types);
        push_in_text(q, " AND category IN (", self.categories);
        push_in_text(q, " AND channel IN (", self.channels);
        push_in_text(q, " AND source IN (", self.sources);
    }

    /// Every order registered in `[from, to)` in `units`.
    pub fn new(from: jiff::Timestamp, to: jiff::Timestamp, units: Option<&'a [i64]>) -> Self {
        CohortFilter { from, to, units, types: &[], categories: &[], channels: &[], sources: &[] }
    }
}

/// ` AND <column> IN (…)` unless `values` is empty (no filter).
fn push_in_text(q: &mut Sql, prefix: &'static str, values: &[String]) {
    if values.is_empty() {
        return;
    }
    q.push(prefix);
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(v.clone());
    }
    q.push(")");
}

/// One order's facts as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFactsRow {
    pub id: i64,
    pub registered_at: jiff::Timestamp,
    pub type_code: String,
    pub priority: i64,
    pub unit_id: i64,
    pub category: String,
    pub channel: String,
    pub source: String,
    pub replied_at: Option<jiff::Timestamp>,
    /// State changes after registration, oldest first: (instant, new state). Events that
    /// change no state (register, urge, supervise) are left out.
    pub history: Vec<(jiff::Timestamp, String)>,
    /// Return visits, oldest first: (instant, satisfaction code).
    pub visits: Vec<(jiff::Timestamp, String)>,
}

fn push_cohort(q: &mut Sql, f: &CohortFilter<'_>) {
    q.push(" o.created_at >= ").bind(t(f.from));
    q.push(" AND o.created_at < ").bind(t(f.to));
    if let Some(units) = f.units {
        crate::customers::push_in(q, " AND o.unit_id IN (", units);
    }
    push_in_text(q, " AND o.type_code IN (", f.types);
    push_in_text(q, " AND o.category IN (", f.categories);
}

/// A page of the cohort, by ascending id after `after` (keyset paging), with each order's
/// history and visits: two queries per page whatever its size. A `visit` is a state change
/// (verified → concluded), so it is both a history entry and a visit.
pub async fn cohort_page(
    conn: &mut AnyConnection,
    f: &CohortFilter<'_>,
    after: i64,
    limit: i64,
) -> StoreResult<Vec<OrderFactsRow>> {
    let mut q = Sql::new(ORDERS);
    push_cohort(&mut q, f);
    // Channel and source need the contact; the events query below does without them (the
    // events of orders they leave out are skipped when merged).
    push_in_text(&mut q, " AND COALESCE(c.channel, o.origin) IN (", f.channels);
    push_in_text(&mut q, " AND COALESCE(c.source, o.origin) IN (", f.sources);
    q.push(" AND o.id > ").bind(after);
    q.push(" ORDER BY o.id LIMIT ").bind(limit);
    let rows = q.query().fetch_all(&mut *conn).await?;
    let mut orders = rows.iter().map(facts_row).collect::<StoreResult<Vec<_>>>()?;
    let (Some(first), Some(last)) = (orders.first().map(|o| o.id), orders.last().map(|o| o.id)) else {
        return Ok(orders);
    };
    // The page's events: the same cohort, ids within the page's range.
    let mut q = Sql::new(EVENTS);
    push_cohort(&mut q, f);
    q.push(" AND o.id >= ").bind(first);
    q.push(" AND o.id <= ").bind(last);
    attach_events(conn, q, &mut orders).await?;
    Ok(orders)
}

const ORDERS: &str = "SELECT o.id, o.created_at, o.type_code, o.priority, o.unit_id, o.category, o.replied_at,
        COALESCE(c.channel, o.origin) AS channel, COALESCE(c.source, o.origin) AS source
     FROM work_orders o LEFT JOIN contacts c ON c.id = o.contact_id WHERE";

const EVENTS: &str = "SELECT e.order_id, e.at, e.action, e.to_state,
        CASE WHEN e.action = 'visit' THEN e.fields ELSE '' END AS fields
     FROM order_events e JOIN work_orders o ON o.id = e.order_id WHERE";

fn facts_row(r: &sqlx::any::AnyRow) -> StoreResult<OrderFactsRow> {
    Ok(OrderFactsRow {
        id: r.try_get("id")?,
        registered_at: ts(r, "created_at")?,
        type_code: r.try_get("type_code")?,
        priority: r.try_get("priority")?,
        unit_id: r.try_get("unit_id")?,
        category: r.try_get("category")?,
        channel: r.try_get("channel")?,
        source: r.try_get("source")?,
        replied_at: crate::ts_opt(r, "replied_at")?,
        history: Vec::new(),
        visits: Vec::new(),
    })
}

/// Reads the state-changing events `q` selects (`EVENTS` plus conditions) into `orders`
/// (sorted by id).
async fn attach_events(conn: &mut AnyConnection, mut q: Sql, orders: &mut [OrderFactsRow]) -> StoreResult<()> {
    q.push(" AND e.from_state <> e.to_state ORDER BY e.order_id, e.id");
    let events = q.query().fetch_all(&mut *conn).await?;
    let mut i = 0;
    for r in &events {
        let id: i64 = r.try_get("order_id")?;
        while i < orders.len() && orders[i].id < id {
            i += 1;
        }
        let Some(o) = orders.get_mut(i).filter(|o| o.id == id) else { continue };
        let at = ts(r, "at")?;
        let action: String = r.try_get("action")?;
        let to_state: String = r.try_get("to_state")?;
        if action == "visit" {
            let fields: String = r.try_get("fields")?;
            let v: serde_json::Value = serde_json::from_str(&fields).unwrap_or_default();
            o.visits.push((at, v["satisfaction"].as_str().unwrap_or_default().to_string()));
        }
        o.history.push((at, to_state));
    }
    Ok(())
}

/// The facts of the orders `ids` (any order), by ascending id; two queries.
pub async fn facts_by_ids(conn: &mut AnyConnection, ids: &[i64]) -> StoreResult<Vec<OrderFactsRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new(ORDERS);
    crate::customers::push_in(&mut q, " o.id IN (", ids);
    q.push(" ORDER BY o.id");
    let rows = q.query().fetch_all(&mut *conn).await?;
    let mut orders = rows.iter().map(facts_row).collect::<StoreResult<Vec<_>>>()?;
    let mut q = Sql::new(EVENTS);
    crate::customers::push_in(&mut q, " e.order_id IN (", ids);
    attach_events(conn, q, &mut orders).await?;
    Ok(orders)
}

/// The quick counts of R-DATA-01 (see `services::stats::QuickCounts` for the definitions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuickRow {
    pub received: i64,
    pub unprocessed: i64,
    pub in_progress: i64,
    pub awaiting_conclusion: i64,
    pub completed: i64,
    pub visited: i64,
    pub overdue: i64,
}

/// The quick counts of the orders in `units` (`None`: all); "today" is `[start, end)`.
/// One statement of three parts, each answered from an index alone (migration 0018): the
/// open stages, today's registrations, today's conclusions.
pub async fn quick_counts(
    conn: &mut AnyConnection,
    units: Option<&[i64]>,
    (start, end): (jiff::Timestamp, jiff::Timestamp),
) -> StoreResult<QuickRow> {
    let (start, end) = (t(start), t(end));
    let mut q = Sql::new(
        "SELECT open.unprocessed, open.in_progress, open.awaiting_conclusion, open.overdue, today.received,
            done.completed, done.visited
        FROM (SELECT
            COALESCE(SUM(CASE WHEN o.state = 'registered' THEN 1 ELSE 0 END), 0) AS unprocessed,
            COALESCE(SUM(CASE WHEN o.state IN ('pending_approval', 'accepted', 'dispatched', 'acknowledged',
                    'in_progress')
                OR (o.state = 'suspended' AND o.suspended_from NOT IN ('resolved', 'verified'))
                THEN 1 ELSE 0 END), 0) AS in_progress,
            COALESCE(SUM(CASE WHEN o.state IN ('resolved', 'verified')
                OR (o.state = 'suspended' AND o.suspended_from IN ('resolved', 'verified'))
                THEN 1 ELSE 0 END), 0) AS awaiting_conclusion,
            COALESCE(SUM(CASE WHEN o.overdue = 1 AND (o.state IN ('registered', 'pending_approval', 'accepted',
                    'dispatched', 'acknowledged', 'in_progress')
                OR (o.state = 'suspended' AND o.suspended_from NOT IN ('resolved', 'verified')))
                THEN 1 ELSE 0 END), 0) AS overdue
            FROM work_orders o
            WHERE o.state IN ('registered', 'pending_approval', 'accepted', 'dispatched', 'acknowledged',
                'in_progress', 'resolved', 'verified', 'suspended')",
    );
    if let Some(units) = units {
        crate::customers::push_in(&mut q, " AND o.unit_id IN (", units);
    }
    q.push(") open, (SELECT COUNT(*) AS received FROM work_orders o WHERE o.created_at >= ");
    q.bind(start.clone()).push(" AND o.created_at < ").bind(end.clone());
    if let Some(units) = units {
        crate::customers::push_in(&mut q, " AND o.unit_id IN (", units);
    }
    q.push(
        ") today, (SELECT COALESCE(SUM(CASE WHEN o.state = 'concluded' THEN 1 ELSE 0 END), 0) AS completed,
            COALESCE(SUM(CASE WHEN o.state = 'concluded' AND EXISTS (SELECT 1 FROM order_events e
                WHERE e.order_id = o.id AND e.action = 'visit') THEN 1 ELSE 0 END), 0) AS visited
            FROM work_orders o WHERE o.concluded_at IS NOT NULL AND o.concluded_at >= ",
    );
    q.bind(start).push(" AND o.concluded_at < ").bind(end);
    if let Some(units) = units {
        crate::customers::push_in(&mut q, " AND o.unit_id IN (", units);
    }
    q.push(") done");
    let r = q.query().fetch_one(conn).await?;
    Ok(QuickRow {
        received: r.try_get("received")?,
        unprocessed: r.try_get("unprocessed")?,
        in_progress: r.try_get("in_progress")?,
        awaiting_conclusion: r.try_get("awaiting_conclusion")?,
        completed: r.try_get("completed")?,
        visited: r.try_get("visited")?,
        overdue: r.try_get("overdue")?,
    })
}

// --- Stored facts (ARCHITECTURE D24) ------------------------------------------------------

use waterdesk_domain::kpi::FACT_COUNTS;

/// One order's stored facts (`kpi::Standing`): settled, or open and not suspended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandingFacts {
    pub order_id: i64,
    /// The order version the facts were computed from.
    pub version: i64,
    pub registered_at: jiff::Timestamp,
    /// From when the counts hold (the order's last fact; column `settled_at`).
    pub since: jiff::Timestamp,
    /// Overdue unprocessed after this instant.
    pub overdue_after: Option<jiff::Timestamp>,
    pub unit_id: i64,
    pub type_code: String,
    pub category: String,
    pub channel: String,
    pub source: String,
    pub counts: [u64; 18],
}

/// What the sums are grouped by (`hour`: the UTC hour of registration, from which the
/// caller cuts its periods).
#[derive(Debug, Clone, Copy, Default)]
pub struct FactGrouping {
    pub unit: bool,
    pub type_code: bool,
    pub category: bool,
    pub channel: bool,
    pub source: bool,
    pub hour: bool,
}

/// One group of stored orders: the keys grouped by are `Some`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactSum {
    pub unit_id: Option<i64>,
    pub type_code: Option<String>,
    pub category: Option<String>,
    pub channel: Option<String>,
    pub source: Option<String>,
    /// The start of the UTC hour of registration.
    pub hour: Option<jiff::Timestamp>,
    pub orders: u64,
    /// Of them, overdue unprocessed at the instant asked for.
    pub overdue: u64,
    pub counts: [u64; 18],
}

/// The sums of the cohort's stored facts that hold at `at` (since no later than it),
/// grouped: one pass over the cohort's rows of `order_facts` (clustered by registration
/// time on SQLite).
pub async fn fact_sums(
    conn: &mut AnyConnection,
    f: &CohortFilter<'_>,
    at: jiff::Timestamp,
    by: FactGrouping,
) -> StoreResult<Vec<FactSum>> {
    let keys: Vec<&'static str> = [
        (by.unit, "unit_id"),
        (by.type_code, "type_code"),
        (by.category, "category"),
        (by.channel, "channel"),
        (by.source, "source"),
        (by.hour, "registered_hour"),
    ]
    .into_iter()
    .filter_map(|(on, col)| on.then_some(col))
    .collect();
    let mut q = Sql::new("SELECT COUNT(*) AS n");
    for k in &keys {
        q.push(", ").push(k);
    }
    for c in FACT_COUNTS {
        q.push(", CAST(SUM(").push(c).push(") AS BIGINT) AS ").push(c);
    }
    q.push(", CAST(SUM(CASE WHEN overdue_after < ").bind(t(at)).push(" THEN 1 ELSE 0 END) AS BIGINT) AS overdue");
    q.push(" FROM order_facts WHERE registered_at >= ");
    q.bind(t(f.from)).push(" AND registered_at < ").bind(t(f.to));
    q.push(" AND settled_at <= ").bind(t(at));
    f.push_facts(&mut q);
    for (i, k) in keys.iter().enumerate() {
        q.push(if i == 0 { " GROUP BY " } else { ", " }).push(k);
    }
    let rows = q.query().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            let n: i64 = r.try_get("n")?;
            // SUM over no rows is NULL (no group then, but be exact).
            let sum = |c: &str| -> StoreResult<u64> { Ok(r.try_get::<Option<i64>, _>(c)?.unwrap_or(0).max(0) as u64) };
            let mut counts = [0u64; 18];
            for (i, c) in FACT_COUNTS.iter().enumerate() {
                counts[i] = sum(c)?;
            }
            let hour = if by.hour {
                let h: i64 = r.try_get("registered_hour")?;
                Some(
                    h.checked_mul(3600)
                        .and_then(|s| jiff::Timestamp::from_second(s).ok())
                        .ok_or_else(|| StoreError::Corrupt("order_facts.registered_hour".into()))?,
                )
            } else {
                None
            };
            Ok(FactSum {
                unit_id: if by.unit { Some(r.try_get("unit_id")?) } else { None },
                type_code: if by.type_code { Some(r.try_get("type_code")?) } else { None },
                category: if by.category { Some(r.try_get("category")?) } else { None },
                channel: if by.channel { Some(r.try_get("channel")?) } else { None },
                source: if by.source { Some(r.try_get("source")?) } else { None },
                hour,
                orders: n.max(0) as u64,
                overdue: sum("overdue")?,
                counts,
            })
        })
        .collect()
}

/// The orders of the cohort that [`fact_sums`] does not count and must be replayed:
/// those without current facts (suspended, or changed since; through the partial index
/// `work_orders_facts_due`) and those whose facts hold only after `at`. Channel and source are not
/// filtered for the former (they need the contact): check [`CohortFilter::keeps`].
pub async fn replay_ids(conn: &mut AnyConnection, f: &CohortFilter<'_>, at: jiff::Timestamp) -> StoreResult<Vec<i64>> {
    let mut q = Sql::new("SELECT o.id FROM work_orders o WHERE o.facts_version <> o.version AND");
    push_cohort(&mut q, f);
    q.push(" UNION ALL SELECT order_id FROM order_facts WHERE settled_at > ").bind(t(at));
    q.push(" AND registered_at >= ").bind(t(f.from)).push(" AND registered_at < ").bind(t(f.to));
    f.push_facts(&mut q);
    let rows = q.query().fetch_all(&mut *conn).await?;
    let mut ids = rows.iter().map(|r| r.try_get::<i64, _>(0)).collect::<Result<Vec<_>, _>>()?;
    ids.sort_unstable();
    Ok(ids)
}

/// Orders whose facts are missing or out of date, by id after `after`: (id, version),
/// at most `limit`. Suspended orders are left out (they have none, see `kpi::standing`).
pub async fn facts_due(conn: &mut AnyConnection, after: i64, limit: i64) -> StoreResult<Vec<(i64, i64)>> {
    // One ordered range of the partial index `(state, id)` per state: an `IN` over the
    // states made PostgreSQL read every due order and sort them (480 ms a chunk on
    // 680,000 due orders).
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let parts: Vec<String> = waterdesk_domain::workflow::State::ALL
            .iter()
            .filter(|s| **s != waterdesk_domain::workflow::State::Suspended)
            .enumerate()
            .map(|(i, s)| {
                format!(
                    "SELECT id, version FROM (SELECT id, version FROM work_orders WHERE facts_version <> version
                        AND state = '{}' AND id > $1 ORDER BY id LIMIT $2) s{i}",
                    s.code()
                )
            })
            .collect();
        format!("SELECT id, version FROM ({}) due ORDER BY id LIMIT $2", parts.join(" UNION ALL "))
    });
    let rows = sqlx::query(SQL.as_str()).bind(after).bind(limit).fetch_all(conn).await?;
    rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("version")?))).collect()
}

/// Stores facts computed from the order versions they name, inside the caller's write
/// transaction; an order that has moved on since is skipped (the next round computes
/// it again). Returns how many were stored.
pub async fn store_facts(
    conn: &mut AnyConnection,
    backend: crate::Backend,
    facts: &[StandingFacts],
) -> StoreResult<usize> {
    if facts.is_empty() {
        return Ok(0);
    }
    // The orders' versions now, locked until commit (SQLite: the writer's lock already).
    let ids: Vec<i64> = facts.iter().map(|f| f.order_id).collect();
    let mut q = Sql::default();
    crate::customers::push_in(&mut q, "SELECT id, version FROM work_orders WHERE id IN (", &ids);
    if backend == crate::Backend::Postgres {
        q.push(" FOR UPDATE");
    }
    let now: std::collections::HashMap<i64, i64> = q
        .query()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("version")?)))
        .collect::<StoreResult<_>>()?;
    let kept: Vec<&StandingFacts> = facts.iter().filter(|f| now.get(&f.order_id) == Some(&f.version)).collect();
    if kept.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = kept.iter().map(|f| f.order_id).collect();
    let mut q = Sql::default();
    crate::customers::push_in(&mut q, "UPDATE work_orders SET facts_version = version WHERE id IN (", &ids);
    q.query().execute(&mut *conn).await?;
    let mut q = Sql::default();
    crate::customers::push_in(&mut q, "DELETE FROM order_facts WHERE order_id IN (", &ids);
    q.query().execute(&mut *conn).await?;
    use crate::sql::Value;
    let rows: Vec<Vec<Value>> = kept
        .iter()
        .map(|f| {
            let mut row = vec![
                Value::Text(t(f.registered_at)),
                Value::I64(f.registered_at.as_second().div_euclid(3600)),
                Value::I64(f.order_id),
                Value::Text(t(f.since)),
                Value::opt_text(f.overdue_after.map(t)),
                Value::I64(f.unit_id),
                Value::Text(f.type_code.clone()),
                Value::Text(f.category.clone()),
                Value::Text(f.channel.clone()),
                Value::Text(f.source.clone()),
            ];
            row.extend(f.counts.iter().map(|c| Value::I64(*c as i64)));
            row
        })
        .collect();
    const KEYS: [&str; 10] = [
        "registered_at",
        "registered_hour",
        "order_id",
        "settled_at",
        "overdue_after",
        "unit_id",
        "type_code",
        "category",
        "channel",
        "source",
    ];
    let columns: Vec<&'static str> = KEYS.into_iter().chain(FACT_COUNTS).collect();
    crate::bulk::insert(conn, backend, "order_facts", &columns, &rows).await?;
    Ok(kept.len())
}

/// Forgets an order's facts (inside a transition: they would be counted twice, stored
/// and replayed).
pub async fn forget_facts(conn: &mut AnyConnection, order_id: i64) -> StoreResult<()> {
    sqlx::query("DELETE FROM order_facts WHERE order_id = $1").bind(order_id).execute(conn).await?;
    Ok(())
}

/// Forgets the facts of every order of a type (its deadlines, calendar or workflow
/// changed): they are replayed until the refresher has computed them again.
pub async fn forget_type_facts(conn: &mut AnyConnection, type_code: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM order_facts WHERE type_code = $1").bind(type_code).execute(&mut *conn).await?;
    sqlx::query("UPDATE work_orders SET facts_version = -1 WHERE type_code = $1 AND facts_version <> -1")
        .bind(type_code)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

// ---- the supervisor dashboard (R-DATA-07) ----------------------------------------------

/// Open stages (suspended included): what "open" means on the dashboard and in the quick counts.
const OPEN_STATES: &str = "('registered', 'pending_approval', 'accepted', 'dispatched', 'acknowledged',
    'in_progress', 'resolved', 'verified', 'suspended')";

/// Contacts started in `[start, end)` by channel (反映形式), in `units` (`None`: all);
/// a contact's unit is its agent's.
pub async fn contacts_by_channel(
    conn: &mut AnyConnection,
    units: Option<&[i64]>,
    (start, end): (jiff::Timestamp, jiff::Timestamp),
) -> StoreResult<Vec<(String, i64)>> {
    let mut q = Sql::new("SELECT channel, COUNT(*) AS n FROM contacts WHERE started_at >= ");
    q.bind(t(start)).push(" AND started_at < ").bind(t(end));
    if let Some(units) = units {
        crate::customers::push_in(&mut q, " AND unit_id IN (", units);
    }
    q.push(" GROUP BY channel");
    let rows = q.query().fetch_all(conn).await?;
    rows.iter().map(|r| Ok((r.try_get("channel")?, r.try_get("n")?))).collect()
}

/// Orders registered in `[start, end)` by channel — their contact's, else their origin
/// (as the indicators group them) — in the handling units `units` (`None`: all).
pub async fn orders_by_channel(
    conn: &mut AnyConnection,
    units: Option<&[i64]>,
    (start, end): (jiff::Timestamp, jiff::Timestamp),
) -> StoreResult<Vec<(String, i64)>> {
    let mut q = Sql::new(
        "SELECT COALESCE(c.channel, o.origin) AS channel, COUNT(*) AS n
         FROM work_orders o LEFT JOIN contacts c ON c.id = o.contact_id WHERE o.created_at >= ",
    );
    q.bind(t(start)).push(" AND o.created_at < ").bind(t(end));
    if let Some(units) = units {
        crate::customers::push_in(&mut q, " AND o.unit_id IN (", units);
    }
    q.push(" GROUP BY COALESCE(c.channel, o.origin)");
    let rows = q.query().fetch_all(conn).await?;
    rows.iter().map(|r| Ok((r.try_get("channel")?, r.try_get("n")?))).collect()
}

/// Open orders per handling unit: (unit, open, overdue), overdue as in the quick counts
/// (not yet resolved and flagged by the escalation watcher). Reads the open orders only
/// (work_orders_state).
pub async fn open_by_unit(conn: &mut AnyConnection, units: Option<&[i64]>) -> StoreResult<Vec<(i64, i64, i64)>> {
    let mut q = Sql::new(
        "SELECT o.unit_id, COUNT(*) AS open,
            COALESCE(SUM(CASE WHEN o.overdue = 1 AND (o.state IN ('registered', 'pending_approval', 'accepted',
                'dispatched', 'acknowledged', 'in_progress')
                OR (o.state = 'suspended' AND o.suspended_from NOT IN ('resolved', 'verified')))
                THEN 1 ELSE 0 END), 0) AS overdue
         FROM work_orders o WHERE o.state IN ",
    );
    q.push(OPEN_STATES);
    if let Some(units) = units {
        crate::customers::push_in(&mut q, " AND o.unit_id IN (", units);
    }
    q.push(" GROUP BY o.unit_id ORDER BY o.unit_id");
    let rows = q.query().fetch_all(conn).await?;
    rows.iter().map(|r| Ok((r.try_get("unit_id")?, r.try_get("open")?, r.try_get("overdue")?))).collect()
}

/// The `limit` most frequent (order type, category) pairs among the orders registered in
/// `[start, end)`, most frequent first (ties by type and category).
pub async fn top_categories(
    conn: &mut AnyConnection,
    units: Option<&[i64]>,
    (start, end): (jiff::Timestamp, jiff::Timestamp),
    limit: i64,
) -> StoreResult<Vec<(String, String, i64)>> {
    let mut q = Sql::new("SELECT o.type_code, o.category, COUNT(*) AS n FROM work_orders o WHERE o.created_at >= ");
    q.bind(t(start)).push(" AND o.created_at < ").bind(t(end));
    if let Some(units) = units {
        crate::customers::push_in(&mut q, " AND o.unit_id IN (", units);
    }
    q.push(" GROUP BY o.type_code, o.category ORDER BY n DESC, o.type_code, o.category LIMIT ").bind(limit);
    let rows = q.query().fetch_all(conn).await?;
    rows.iter().map(|r| Ok((r.try_get("type_code")?, r.try_get("category")?, r.try_get("n")?))).collect()
}

/// Side of a map cell in microdegrees (0.005° ≈ 550 m north–south, 480 m east–west at 30° N).
pub const CELL_E6: i64 = 5000;

/// Orders of `type_code` registered in `[start, end)` with a site, counted per map cell of
/// [`CELL_E6`]: (cell row = lat_e6 / CELL_E6, cell column = lng_e6 / CELL_E6, count), the
/// `limit` fullest cells first. Reads the type's period through work_orders_type_created.
pub async fn cells_of_type(
    conn: &mut AnyConnection,
    units: Option<&[i64]>,
    type_code: &str,
    (start, end): (jiff::Timestamp, jiff::Timestamp),
    limit: i64,
) -> StoreResult<Vec<(i64, i64, i64)>> {
    // Integer division truncates toward zero on both engines; CELL_E6 is a literal.
    let mut q = Sql::new(
        "SELECT o.lat_e6 / 5000 AS cy, o.lng_e6 / 5000 AS cx, COUNT(*) AS n FROM work_orders o WHERE o.type_code = ",
    );
    q.bind(type_code.to_string()).push(" AND o.created_at >= ").bind(t(start));
    q.push(" AND o.created_at < ").bind(t(end)).push(" AND o.lat_e6 IS NOT NULL AND o.lng_e6 IS NOT NULL");
    if let Some(units) = units {
        crate::customers::push_in(&mut q, " AND o.unit_id IN (", units);
    }
    q.push(" GROUP BY 1, 2 ORDER BY n DESC, 1, 2 LIMIT ").bind(limit);
    let rows = q.query().fetch_all(conn).await?;
    rows.iter().map(|r| Ok((r.try_get("cy")?, r.try_get("cx")?, r.try_get("n")?))).collect()
}

/// The newest order event and contact ids: a cheap "has anything changed" stamp (two
/// primary-key look-ups) for the live refresh of the dashboards.
pub async fn change_stamp(conn: &mut AnyConnection) -> StoreResult<(i64, i64)> {
    let r = sqlx::query(
        "SELECT (SELECT COALESCE(MAX(id), 0) FROM order_events) AS e, (SELECT COALESCE(MAX(id), 0) FROM contacts) AS c",
    )
    .fetch_one(conn)
    .await?;
    Ok((r.try_get("e")?, r.try_get("c")?))
}
