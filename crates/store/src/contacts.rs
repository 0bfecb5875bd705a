//! Contact records (来电/来件), CTI events and agent extensions (issue 4).

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::sql::Sql;
use crate::{StoreError, StoreResult, t, ts, ts_opt};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Contact {
    pub id: i64,
    /// 热线编号, e.g. `C20261121-000001`.
    pub contact_no: String,
    /// From the `channel` dictionary (hotline, wechat, web, …).
    pub channel: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// From the `source` dictionary (customer, gov_12345, …).
    pub source: String,
    /// `draft` (opened by a call, not yet recorded by the agent), `open`, `replied`.
    pub status: String,
    pub caller: String,
    pub called: String,
    pub customer_id: Option<i64>,
    pub account_id: Option<i64>,
    pub agent_id: Option<i64>,
    pub unit_id: i64,
    /// From the `category` dictionary (consultation, complaint, …).
    pub category: String,
    pub content: String,
    pub address: String,
    /// 答复: what the customer was told.
    pub reply: String,
    pub replied_at: Option<jiff::Timestamp>,
    pub call_id: Option<String>,
    pub recording_url: String,
    pub started_at: jiff::Timestamp,
    pub answered_at: Option<jiff::Timestamp>,
    pub ended_at: Option<jiff::Timestamp>,
    pub duration_s: Option<i64>,
    /// IVR satisfaction 1–5 after the call.
    pub ivr_rating: Option<i64>,
    /// The work order this contact created or joined.
    pub order_no: String,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

const COLS_LIST: &str = "id, contact_no, channel, direction, source, status, caller, called, customer_id, account_id, agent_id, \
    unit_id, category, content, address, reply, replied_at, call_id, recording_url, started_at, answered_at, ended_at, \
    duration_s, ivr_rating, order_no, created_at, updated_at";

fn contact(r: &AnyRow) -> StoreResult<Contact> {
    Ok(Contact {
        id: r.try_get("id")?,
        contact_no: r.try_get("contact_no")?,
        channel: r.try_get("channel")?,
        direction: r.try_get("direction")?,
        source: r.try_get("source")?,
        status: r.try_get("status")?,
        caller: r.try_get("caller")?,
        called: r.try_get("called")?,
        customer_id: r.try_get("customer_id")?,
        account_id: r.try_get("account_id")?,
        agent_id: r.try_get("agent_id")?,
        unit_id: r.try_get("unit_id")?,
        category: r.try_get("category")?,
        content: r.try_get("content")?,
        address: r.try_get("address")?,
        reply: r.try_get("reply")?,
        replied_at: ts_opt(r, "replied_at")?,
        call_id: r.try_get("call_id")?,
        recording_url: r.try_get("recording_url")?,
        started_at: ts(r, "started_at")?,
        answered_at: ts_opt(r, "answered_at")?,
        ended_at: ts_opt(r, "ended_at")?,
        duration_s: r.try_get("duration_s")?,
        ivr_rating: r.try_get("ivr_rating")?,
        order_no: r.try_get("order_no")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

/// The fields an agent records.
#[derive(Debug, Clone)]
pub struct ContactFields<'a> {
    pub channel: &'a str,
    pub direction: &'a str,
    pub source: &'a str,
    pub caller: &'a str,
    pub customer_id: Option<i64>,
    pub account_id: Option<i64>,
    pub category: &'a str,
    pub content: &'a str,
    pub address: &'a str,
    pub reply: &'a str,
}

/// A contact to insert.
#[derive(Debug, Clone)]
pub struct NewContact<'a> {
    pub contact_no: &'a str,
    pub fields: ContactFields<'a>,
    pub status: &'a str,
    pub agent_id: Option<i64>,
    pub unit_id: i64,
    pub call_id: Option<&'a str>,
    pub called: &'a str,
    pub started_at: jiff::Timestamp,
    pub now: jiff::Timestamp,
}

/// Inserts a contact and returns it as stored.
pub async fn insert(conn: &mut AnyConnection, c: &NewContact<'_>) -> StoreResult<Contact> {
    let mut v = insert_many(conn, std::slice::from_ref(c)).await?;
    v.pop().ok_or_else(|| StoreError::Corrupt("contacts: insert returned no row".into()))
}

/// Inserts contacts in one statement and returns them as stored, in the order given.
pub async fn insert_many(conn: &mut AnyConnection, rows: &[NewContact<'_>]) -> StoreResult<Vec<Contact>> {
    const COLS: usize = 20;
    let mut sql = String::with_capacity(400 + rows.len() * 120);
    sql.push_str(
        "INSERT INTO contacts (contact_no, channel, direction, source, status, caller, called, customer_id, \
         account_id, agent_id, unit_id, category, content, address, reply, replied_at, call_id, started_at, \
         created_at, updated_at) VALUES ",
    );
    crate::bulk::push_value_rows(&mut sql, rows.len(), COLS);
    sql.push_str(" RETURNING ");
    sql.push_str(COLS_LIST);
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for c in rows {
        let f = &c.fields;
        let replied_at = (!f.reply.is_empty()).then(|| t(c.now));
        q = q
            .bind(c.contact_no.to_string())
            .bind(f.channel.to_string())
            .bind(f.direction.to_string())
            .bind(f.source.to_string())
            .bind(c.status.to_string())
            .bind(f.caller.to_string())
            .bind(c.called.to_string())
            .bind(f.customer_id)
            .bind(f.account_id)
            .bind(c.agent_id)
            .bind(c.unit_id)
            .bind(f.category.to_string())
            .bind(f.content.to_string())
            .bind(f.address.to_string())
            .bind(f.reply.to_string())
            .bind(replied_at)
            .bind(c.call_id.map(str::to_string))
            .bind(t(c.started_at))
            .bind(t(c.now))
            .bind(t(c.now));
    }
    let stored = q.fetch_all(conn).await?;
    // RETURNING gives no promise of order: put the rows back in the order given.
    let mut by_no: std::collections::HashMap<String, Contact> =
        stored.iter().map(|r| contact(r).map(|c| (c.contact_no.clone(), c))).collect::<StoreResult<_>>()?;
    rows.iter()
        .map(|c| by_no.remove(c.contact_no).ok_or_else(|| StoreError::Corrupt("contacts: insert lost a row".into())))
        .collect()
}

/// Records what the agent entered; the contact leaves `draft`.
pub async fn update(
    conn: &mut AnyConnection,
    id: i64,
    f: &ContactFields<'_>,
    status: &str,
    now: jiff::Timestamp,
) -> StoreResult<()> {
    let r = sqlx::query(
        "UPDATE contacts SET channel = $1, direction = $2, source = $3, caller = $4, customer_id = $5, account_id = $6,
            category = $7, content = $8, address = $9,
            replied_at = CASE WHEN $10 <> '' AND reply <> $10 THEN $12 ELSE replied_at END,
            reply = $10, status = $11, updated_at = $12
         WHERE id = $13",
    )
    .bind(f.channel)
    .bind(f.direction)
    .bind(f.source)
    .bind(f.caller)
    .bind(f.customer_id)
    .bind(f.account_id)
    .bind(f.category)
    .bind(f.content)
    .bind(f.address)
    .bind(f.reply)
    .bind(status)
    .bind(t(now))
    .bind(id)
    .execute(conn)
    .await?;
    if r.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub async fn get(conn: &mut AnyConnection, id: i64) -> StoreResult<Option<Contact>> {
    let sql = format!("SELECT {COLS_LIST} FROM contacts WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(contact).transpose()
}

pub async fn by_no(conn: &mut AnyConnection, no: &str) -> StoreResult<Option<Contact>> {
    let sql = format!("SELECT {COLS_LIST} FROM contacts WHERE contact_no = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(no).fetch_optional(conn).await?;
    row.as_ref().map(contact).transpose()
}

pub async fn by_call(conn: &mut AnyConnection, call_id: &str) -> StoreResult<Option<Contact>> {
    let sql = format!("SELECT {COLS_LIST} FROM contacts WHERE call_id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(call_id).fetch_optional(conn).await?;
    row.as_ref().map(contact).transpose()
}

/// Call facts from the telephone system; each only fills what is still empty, so events
/// may come in any order and more than once.
#[derive(Debug, Clone, Default)]
pub struct CallFacts<'a> {
    pub agent_id: Option<i64>,
    pub answered_at: Option<jiff::Timestamp>,
    pub ended_at: Option<jiff::Timestamp>,
    pub recording_url: Option<&'a str>,
    pub ivr_rating: Option<i64>,
}

pub async fn set_call_facts(
    conn: &mut AnyConnection,
    id: i64,
    f: &CallFacts<'_>,
    now: jiff::Timestamp,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE contacts SET
            agent_id = COALESCE(agent_id, $1),
            answered_at = COALESCE(answered_at, $2),
            ended_at = COALESCE(ended_at, $3),
            recording_url = CASE WHEN recording_url = '' THEN COALESCE($4, '') ELSE recording_url END,
            ivr_rating = COALESCE($5, ivr_rating),
            updated_at = $6
         WHERE id = $7",
    )
    .bind(f.agent_id)
    .bind(f.answered_at.map(t))
    .bind(f.ended_at.map(t))
    .bind(f.recording_url)
    .bind(f.ivr_rating)
    .bind(t(now))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    // Duration: from answer (or ring) to hang-up, once both are known.
    let c = get(conn, id).await?.ok_or(StoreError::NotFound)?;
    if let (Some(end), None) = (c.ended_at, c.duration_s) {
        let from = c.answered_at.unwrap_or(c.started_at);
        let secs = end.as_second().saturating_sub(from.as_second()).max(0);
        sqlx::query("UPDATE contacts SET duration_s = $1 WHERE id = $2").bind(secs).bind(id).execute(conn).await?;
    }
    Ok(())
}

pub async fn set_order(conn: &mut AnyConnection, id: i64, order_no: &str, now: jiff::Timestamp) -> StoreResult<()> {
    sqlx::query("UPDATE contacts SET order_no = $1, updated_at = $2 WHERE id = $3")
        .bind(order_no)
        .bind(t(now))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Filters for listing contacts; every one optional.
#[derive(Debug, Clone, Default)]
pub struct ContactFilter<'a> {
    pub units: Option<&'a [i64]>,
    pub agent_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub account_id: Option<i64>,
    pub caller: Option<&'a str>,
    pub categories: Option<&'a [String]>,
    pub channel: Option<&'a str>,
    pub status: Option<&'a str>,
    pub from: Option<jiff::Timestamp>,
    pub to: Option<jiff::Timestamp>,
    /// Keyset cursor: ids below this one.
    pub before: Option<i64>,
    /// Ascending by id after this one (stable for the daily interface), instead of newest first.
    pub after: Option<i64>,
}

/// Contacts matching a filter: newest first (or ascending with `after`), at most `limit`.
pub async fn list(conn: &mut AnyConnection, f: &ContactFilter<'_>, limit: i64) -> StoreResult<Vec<Contact>> {
    let mut q = Sql::default();
    q.push("SELECT ").push(COLS_LIST).push(" FROM contacts WHERE 1 = 1");
    if let Some(units) = f.units {
        crate::customers::push_in(&mut q, " AND unit_id IN (", units);
    }
    if let Some(a) = f.agent_id {
        q.push(" AND agent_id = ").bind(a);
    }
    if let Some(c) = f.customer_id {
        q.push(" AND customer_id = ").bind(c);
    }
    if let Some(a) = f.account_id {
        q.push(" AND account_id = ").bind(a);
    }
    if let Some(c) = f.caller {
        q.push(" AND caller = ").bind(c.to_string());
    }
    if let Some(cats) = f.categories {
        q.push(" AND category IN (");
        for (i, c) in cats.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(c.clone());
        }
        q.push(")");
    }
    if let Some(c) = f.channel {
        q.push(" AND channel = ").bind(c.to_string());
    }
    if let Some(s) = f.status {
        q.push(" AND status = ").bind(s.to_string());
    }
    if let Some(from) = f.from {
        q.push(" AND started_at >= ").bind(t(from));
    }
    if let Some(to) = f.to {
        q.push(" AND started_at < ").bind(t(to));
    }
    match (f.after, f.before) {
        (Some(after), _) => {
            q.push(" AND id > ").bind(after).push(" ORDER BY id LIMIT ").bind(limit);
        }
        (None, Some(before)) => {
            q.push(" AND id < ").bind(before).push(" ORDER BY id DESC LIMIT ").bind(limit);
        }
        (None, None) => {
            q.push(" ORDER BY id DESC LIMIT ").bind(limit);
        }
    }
    q.query().fetch_all(conn).await?.iter().map(contact).collect()
}

/// Records a telephone event once: false when (call, event) was seen before.
pub async fn cti_event_once(
    conn: &mut AnyConnection,
    call_id: &str,
    event: &str,
    payload: &str,
    now: jiff::Timestamp,
) -> StoreResult<bool> {
    let r = sqlx::query(
        "INSERT INTO cti_events (call_id, event, payload, received_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (call_id, event) DO NOTHING",
    )
    .bind(call_id)
    .bind(event)
    .bind(payload)
    .bind(t(now))
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The agent signed in at an extension, if any.
pub async fn agent_at(conn: &mut AnyConnection, extension: &str) -> StoreResult<Option<i64>> {
    let row = sqlx::query("SELECT user_id FROM agent_extensions WHERE extension = $1")
        .bind(extension)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| r.try_get("user_id")).transpose()?)
}

pub async fn extension_of(conn: &mut AnyConnection, user_id: i64) -> StoreResult<Option<String>> {
    let row = sqlx::query("SELECT extension FROM agent_extensions WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| r.try_get("extension")).transpose()?)
}

/// Seats an agent at an extension (moving them from any other, and whoever sat there away).
pub async fn seat(conn: &mut AnyConnection, user_id: i64, extension: &str, now: jiff::Timestamp) -> StoreResult<()> {
    sqlx::query("DELETE FROM agent_extensions WHERE user_id = $1 OR extension = $2")
        .bind(user_id)
        .bind(extension)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO agent_extensions (extension, user_id, since) VALUES ($1, $2, $3)")
        .bind(extension)
        .bind(user_id)
        .bind(t(now))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn unseat(conn: &mut AnyConnection, user_id: i64) -> StoreResult<()> {
    sqlx::query("DELETE FROM agent_extensions WHERE user_id = $1").bind(user_id).execute(conn).await?;
    Ok(())
}
