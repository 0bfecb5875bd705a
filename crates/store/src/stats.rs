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
use crate::{StoreResult, t, ts};

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
    let mut q = Sql::new(
        "SELECT o.id, o.created_at, o.type_code, o.priority, o.unit_id, o.category, o.replied_at,
            COALESCE(c.channel, o.origin) AS channel, COALESCE(c.source, o.origin) AS source
         FROM work_orders o LEFT JOIN contacts c ON c.id = o.contact_id WHERE",
    );
    push_cohort(&mut q, f);
    // Channel and source need the contact; the events query below does without them (the
    // events of orders they leave out are skipped when merged).
    push_in_text(&mut q, " AND COALESCE(c.channel, o.origin) IN (", f.channels);
    push_in_text(&mut q, " AND COALESCE(c.source, o.origin) IN (", f.sources);
    q.push(" AND o.id > ").bind(after);
    q.push(" ORDER BY o.id LIMIT ").bind(limit);
    let rows = q.query().fetch_all(&mut *conn).await?;
    let mut orders = rows
        .iter()
        .map(|r| {
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
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let (Some(first), Some(last)) = (orders.first().map(|o| o.id), orders.last().map(|o| o.id)) else {
        return Ok(orders);
    };
    // The page's events: the same cohort, ids within the page's range.
    let mut q = Sql::new(
        "SELECT e.order_id, e.at, e.action, e.to_state,
            CASE WHEN e.action = 'visit' THEN e.fields ELSE '' END AS fields
         FROM order_events e JOIN work_orders o ON o.id = e.order_id WHERE",
    );
    push_cohort(&mut q, f);
    q.push(" AND o.id >= ").bind(first);
    q.push(" AND o.id <= ").bind(last);
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

/// One grouped pass over the orders in `units` (`None`: all) that can count — open ones,
/// and those registered or concluded today; "today" is `[start, end)`.
pub async fn quick_counts(
    conn: &mut AnyConnection,
    units: Option<&[i64]>,
    (start, end): (jiff::Timestamp, jiff::Timestamp),
) -> StoreResult<QuickRow> {
    let (start, end) = (t(start), t(end));
    let (start2, end2) = (start.clone(), end.clone());
    let mut q = Sql::new("SELECT COALESCE(SUM(CASE WHEN o.created_at >= ");
    q.bind(start.clone()).push(" AND o.created_at < ").bind(end.clone());
    q.push(
        " THEN 1 ELSE 0 END), 0) AS received,
        COALESCE(SUM(CASE WHEN o.state = 'registered' THEN 1 ELSE 0 END), 0) AS unprocessed,
        COALESCE(SUM(CASE WHEN o.state IN ('pending_approval', 'accepted', 'dispatched', 'acknowledged', 'in_progress')
            OR (o.state = 'suspended' AND o.suspended_from NOT IN ('resolved', 'verified'))
            THEN 1 ELSE 0 END), 0) AS in_progress,
        COALESCE(SUM(CASE WHEN o.state IN ('resolved', 'verified')
            OR (o.state = 'suspended' AND o.suspended_from IN ('resolved', 'verified'))
            THEN 1 ELSE 0 END), 0) AS awaiting_conclusion,
        COALESCE(SUM(CASE WHEN o.state = 'concluded' AND o.concluded_at >= ",
    );
    q.bind(start.clone()).push(" AND o.concluded_at < ").bind(end.clone());
    q.push(" THEN 1 ELSE 0 END), 0) AS completed, COALESCE(SUM(CASE WHEN o.state = 'concluded' AND o.concluded_at >= ");
    q.bind(start).push(" AND o.concluded_at < ").bind(end);
    q.push(
        " THEN CASE WHEN EXISTS (SELECT 1 FROM order_events e WHERE e.order_id = o.id AND e.action = 'visit')
            THEN 1 ELSE 0 END ELSE 0 END), 0) AS visited,
        COALESCE(SUM(CASE WHEN o.overdue = 1 AND (o.state IN ('registered', 'pending_approval', 'accepted',
            'dispatched', 'acknowledged', 'in_progress')
            OR (o.state = 'suspended' AND o.suspended_from NOT IN ('resolved', 'verified')))
            THEN 1 ELSE 0 END), 0) AS overdue
        FROM work_orders o
        WHERE (o.state IN ('registered', 'pending_approval', 'accepted', 'dispatched', 'acknowledged',
                'in_progress', 'resolved', 'verified', 'suspended')
            OR (o.created_at >= ",
    );
    // Only the orders that can count are read (indexed: state, created_at, concluded_at).
    q.bind(start2.clone()).push(" AND o.created_at < ").bind(end2.clone());
    q.push(") OR (o.concluded_at >= ").bind(start2).push(" AND o.concluded_at < ").bind(end2).push("))");
    if let Some(units) = units {
        crate::customers::push_in(&mut q, " AND o.unit_id IN (", units);
    }
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
