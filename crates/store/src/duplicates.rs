//! Duplicate reports and merging (并单, R-WO-09): candidate open orders near a site, and
//! the links of a master order to the reports merged into it (migration 0009).

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::sql::Sql;
use crate::{StoreResult, t, ts};

/// The predicate of the partial index `work_orders_open_site`, repeated verbatim so that
/// SQLite's planner (which matches the terms literally) and PostgreSQL's both use it.
const OPEN: &str = " AND state NOT IN ('concluded', 'rejected', 'cancelled')";

/// An open order that may be the same incident as a new report.
#[derive(Debug, Clone)]
pub struct CandidateRow {
    pub id: i64,
    pub order_no: String,
    pub type_code: String,
    pub state: String,
    pub title: String,
    pub address: String,
    pub lat_e6: i64,
    pub lng_e6: i64,
    pub unit_id: i64,
    pub created_at: jiff::Timestamp,
}

/// Where and when to look.
#[derive(Debug, Clone)]
pub struct Near<'a> {
    pub type_code: &'a str,
    /// Latitude and longitude ranges in microdegrees (inclusive).
    pub lat_e6: (i64, i64),
    pub lng_e6: (i64, i64),
    /// Registered in [since, until].
    pub since: jiff::Timestamp,
    pub until: jiff::Timestamp,
    /// Leave this order out (the order looking for its duplicates).
    pub exclude: Option<i64>,
    /// Handling units in the caller's data scope (`None`: all).
    pub units: Option<&'a [i64]>,
}

/// Open orders of a type inside a box and a registration window (the services measure the
/// exact distance). At most `limit`, oldest first.
pub async fn open_near(conn: &mut AnyConnection, n: &Near<'_>, limit: i64) -> StoreResult<Vec<CandidateRow>> {
    let mut q = Sql::new(
        "SELECT id, order_no, type_code, state, title, address, lat_e6, lng_e6, unit_id, created_at
         FROM work_orders WHERE type_code = ",
    );
    q.bind(n.type_code);
    q.push(OPEN);
    q.push(" AND lat_e6 BETWEEN ").bind(n.lat_e6.0).push(" AND ").bind(n.lat_e6.1);
    q.push(" AND lng_e6 BETWEEN ").bind(n.lng_e6.0).push(" AND ").bind(n.lng_e6.1);
    q.push(" AND created_at >= ").bind(t(n.since)).push(" AND created_at <= ").bind(t(n.until));
    if let Some(x) = n.exclude {
        q.push(" AND id <> ").bind(x);
    }
    if let Some(units) = n.units {
        crate::customers::push_in(&mut q, " AND unit_id IN (", units);
    }
    q.push(" ORDER BY created_at, id LIMIT ").bind(limit);
    let rows = q.query().fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            Ok(CandidateRow {
                id: r.try_get("id")?,
                order_no: r.try_get("order_no")?,
                type_code: r.try_get("type_code")?,
                state: r.try_get("state")?,
                title: r.try_get("title")?,
                address: r.try_get("address")?,
                lat_e6: r.try_get("lat_e6")?,
                lng_e6: r.try_get("lng_e6")?,
                unit_id: r.try_get("unit_id")?,
                created_at: ts(r, "created_at")?,
            })
        })
        .collect()
}

/// The SQL of [`open_near`] for a plan check (tests, EXPLAIN).
pub fn open_near_sql_for_plan() -> String {
    format!(
        "SELECT id FROM work_orders WHERE type_code = $1{OPEN} AND lat_e6 BETWEEN $2 AND $3 \
         AND lng_e6 BETWEEN $4 AND $5 AND created_at >= $6 AND created_at <= $7"
    )
}

/// A report joined to a master order.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Link {
    pub id: i64,
    pub master_id: i64,
    /// `order` (a merged order) or `contact` (a contact attached to the master).
    pub kind: String,
    pub order_id: Option<i64>,
    pub order_no: Option<String>,
    pub contact_id: Option<i64>,
    pub contact_no: Option<String>,
    /// Who reported it (informed when the master concludes).
    pub caller: String,
    pub note: String,
    pub created_by: Option<i64>,
    pub created_at: jiff::Timestamp,
}

fn link(r: &AnyRow) -> StoreResult<Link> {
    Ok(Link {
        id: r.try_get("id")?,
        master_id: r.try_get("master_id")?,
        kind: r.try_get("kind")?,
        order_id: r.try_get("order_id")?,
        order_no: r.try_get("order_no")?,
        contact_id: r.try_get("contact_id")?,
        contact_no: r.try_get("contact_no")?,
        caller: r.try_get("caller")?,
        note: r.try_get("note")?,
        created_by: r.try_get("created_by")?,
        created_at: ts(r, "created_at")?,
    })
}

/// A link to record.
#[derive(Debug, Clone)]
pub struct NewLink<'a> {
    pub master_id: i64,
    pub kind: &'a str,
    pub order_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub caller: &'a str,
    pub note: &'a str,
    pub created_by: Option<i64>,
}

pub async fn insert_link(conn: &mut AnyConnection, l: &NewLink<'_>, now: jiff::Timestamp) -> StoreResult<i64> {
    let row = sqlx::query(
        "INSERT INTO order_links (master_id, kind, order_id, contact_id, caller, note, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(l.master_id)
    .bind(l.kind)
    .bind(l.order_id)
    .bind(l.contact_id)
    .bind(l.caller)
    .bind(l.note)
    .bind(l.created_by)
    .bind(t(now))
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("id")?)
}

/// The reports joined to a master, in the order they were joined.
pub async fn links(conn: &mut AnyConnection, master_id: i64) -> StoreResult<Vec<Link>> {
    let rows = sqlx::query(
        "SELECT l.id, l.master_id, l.kind, l.order_id, w.order_no, l.contact_id, c.contact_no, l.caller, l.note,
            l.created_by, l.created_at
         FROM order_links l
         LEFT JOIN work_orders w ON w.id = l.order_id
         LEFT JOIN contacts c ON c.id = l.contact_id
         WHERE l.master_id = $1 ORDER BY l.id",
    )
    .bind(master_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(link).collect()
}

/// The master a contact was attached to as a report, if any.
pub async fn contact_master(conn: &mut AnyConnection, contact_id: i64) -> StoreResult<Option<i64>> {
    let row = sqlx::query("SELECT master_id FROM order_links WHERE contact_id = $1 AND kind = 'contact'")
        .bind(contact_id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| r.try_get("master_id")).transpose()?)
}

/// Moves every report of `from` to `to` (merging an order that had reports of its own);
/// returns the moved links as (order id, contact id).
pub async fn move_links(
    conn: &mut AnyConnection,
    from: i64,
    to: i64,
    now: jiff::Timestamp,
) -> StoreResult<Vec<(Option<i64>, Option<i64>)>> {
    let rows = sqlx::query(
        "UPDATE order_links SET master_id = $1, updated_at = $2 WHERE master_id = $3 RETURNING order_id, contact_id",
    )
    .bind(to)
    .bind(t(now))
    .bind(from)
    .fetch_all(&mut *conn)
    .await?;
    // The merged orders follow their links: every one points at the top master.
    sqlx::query("UPDATE work_orders SET master_id = $1 WHERE master_id = $2").bind(to).bind(from).execute(conn).await?;
    rows.iter().map(|r| Ok((r.try_get("order_id")?, r.try_get("contact_id")?))).collect()
}

/// Records the master of a merged order (its transition to `cancelled` is recorded by the
/// services with the usual version check and event).
pub async fn set_master(conn: &mut AnyConnection, order_id: i64, master_id: i64) -> StoreResult<()> {
    sqlx::query("UPDATE work_orders SET master_id = $1 WHERE id = $2")
        .bind(master_id)
        .bind(order_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The phone numbers already queued for `purpose` and `reference` (so a repeated
/// conclusion tells nobody twice).
pub async fn sms_phones(conn: &mut AnyConnection, purpose: &str, reference: &str) -> StoreResult<Vec<String>> {
    let rows = sqlx::query("SELECT phone FROM sms_outbox WHERE ref = $1 AND purpose = $2")
        .bind(reference)
        .bind(purpose)
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r| Ok(r.try_get("phone")?)).collect()
}
