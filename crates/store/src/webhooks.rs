//! Callbacks to the systems orders come from (R-WO-10): webhook subscriptions and the
//! record of every delivery attempt.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::{StoreResult, flag, t, ts, ts_opt};

/// A subscription as stored; the secret never leaves the server through this type.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Subscription {
    pub id: i64,
    pub name: String,
    pub url: String,
    #[serde(skip)]
    pub secret: String,
    /// Comma-separated event kinds.
    pub events: String,
    /// Comma-separated order origins; empty: every origin.
    pub origins: String,
    pub enabled: bool,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
    /// The latest attempt: whether it succeeded, its HTTP status, its error, when.
    pub last_ok: Option<bool>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<jiff::Timestamp>,
}

const COLS: &str = "s.id, s.name, s.url, s.secret, s.events, s.origins, s.enabled, s.created_at, s.updated_at, \
    d.ok AS last_ok, d.status_code AS last_status_code, d.error AS last_error, d.at AS last_attempt_at";

const FROM: &str = "FROM webhook_subscriptions s LEFT JOIN webhook_deliveries d ON d.id = \
    (SELECT MAX(x.id) FROM webhook_deliveries x WHERE x.subscription_id = s.id)";

fn subscription(r: &AnyRow) -> StoreResult<Subscription> {
    let last_ok: Option<i64> = r.try_get("last_ok")?;
    Ok(Subscription {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        url: r.try_get("url")?,
        secret: r.try_get("secret")?,
        events: r.try_get("events")?,
        origins: r.try_get("origins")?,
        enabled: flag(r, "enabled")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
        last_ok: last_ok.map(|v| v != 0),
        last_status_code: r.try_get("last_status_code")?,
        last_error: r.try_get("last_error")?,
        last_attempt_at: ts_opt(r, "last_attempt_at")?,
    })
}

/// What a subscription is made of; an empty secret on update keeps the stored one.
#[derive(Debug, Clone)]
pub struct SubscriptionFields<'a> {
    pub name: &'a str,
    pub url: &'a str,
    pub secret: &'a str,
    pub events: &'a str,
    pub origins: &'a str,
    pub enabled: bool,
}

pub async fn insert(conn: &mut AnyConnection, f: &SubscriptionFields<'_>, now: jiff::Timestamp) -> StoreResult<i64> {
    let row = sqlx::query(
        "INSERT INTO webhook_subscriptions (name, url, secret, events, origins, enabled, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(f.name)
    .bind(f.url)
    .bind(f.secret)
    .bind(f.events)
    .bind(f.origins)
    .bind(i64::from(f.enabled))
    .bind(t(now))
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("id")?)
}

/// Replaces a subscription; `false`: no such subscription.
pub async fn update(
    conn: &mut AnyConnection,
    id: i64,
    f: &SubscriptionFields<'_>,
    now: jiff::Timestamp,
) -> StoreResult<bool> {
    let r = sqlx::query(
        "UPDATE webhook_subscriptions SET name = $1, url = $2, secret = CASE WHEN $3 = '' THEN secret ELSE $3 END,
            events = $4, origins = $5, enabled = $6, updated_at = $7 WHERE id = $8",
    )
    .bind(f.name)
    .bind(f.url)
    .bind(f.secret)
    .bind(f.events)
    .bind(f.origins)
    .bind(i64::from(f.enabled))
    .bind(t(now))
    .bind(id)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn set_enabled(conn: &mut AnyConnection, id: i64, enabled: bool, now: jiff::Timestamp) -> StoreResult<bool> {
    let r = sqlx::query("UPDATE webhook_subscriptions SET enabled = $1, updated_at = $2 WHERE id = $3")
        .bind(i64::from(enabled))
        .bind(t(now))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn get(conn: &mut AnyConnection, id: i64) -> StoreResult<Option<Subscription>> {
    static SQL: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("SELECT {COLS} {FROM} WHERE s.id = $1"));
    let row = sqlx::query(SQL.as_str()).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(subscription).transpose()
}

/// Every subscription (or the enabled ones), with its latest attempt.
pub async fn list(conn: &mut AnyConnection, only_enabled: bool) -> StoreResult<Vec<Subscription>> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!("SELECT {COLS} {FROM} WHERE ($1 = 0 OR s.enabled = 1) ORDER BY s.name, s.id")
    });
    let rows = sqlx::query(SQL.as_str()).bind(i64::from(only_enabled)).fetch_all(conn).await?;
    rows.iter().map(subscription).collect()
}

/// The enabled subscriptions, without their deliveries (the transition's hot path).
pub async fn enabled(conn: &mut AnyConnection) -> StoreResult<Vec<(i64, String, String)>> {
    let rows = sqlx::query("SELECT id, events, origins FROM webhook_subscriptions WHERE enabled = 1 ORDER BY id")
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("events")?, r.try_get("origins")?))).collect()
}

/// One delivery attempt.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: i64,
    pub subscription_id: i64,
    /// The delivery id sent as `X-Waterdesk-Delivery` (the same for every attempt).
    pub job_id: i64,
    pub attempt: i64,
    pub order_id: i64,
    pub event: String,
    pub ok: bool,
    pub status_code: Option<i64>,
    pub error: String,
    pub duration_ms: i64,
    pub at: jiff::Timestamp,
}

/// An attempt to record.
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    pub subscription_id: i64,
    pub job_id: i64,
    pub attempt: i64,
    pub order_id: i64,
    pub event: &'a str,
    pub ok: bool,
    pub status_code: Option<i64>,
    pub error: &'a str,
    pub duration_ms: i64,
}

pub async fn record(conn: &mut AnyConnection, d: &NewDelivery<'_>, now: jiff::Timestamp) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (subscription_id, job_id, attempt, order_id, event, ok, status_code, error,
            duration_ms, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(d.subscription_id)
    .bind(d.job_id)
    .bind(d.attempt)
    .bind(d.order_id)
    .bind(d.event)
    .bind(i64::from(d.ok))
    .bind(d.status_code)
    .bind(d.error)
    .bind(d.duration_ms)
    .bind(t(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether a delivery (job) has succeeded before: a job run again after a crash between
/// the POST and its completion does not post twice.
pub async fn delivered(conn: &mut AnyConnection, job_id: i64) -> StoreResult<bool> {
    let r = sqlx::query("SELECT 1 AS one FROM webhook_deliveries WHERE job_id = $1 AND ok = 1")
        .bind(job_id)
        .fetch_optional(conn)
        .await?;
    Ok(r.is_some())
}

/// A subscription's latest attempts, newest first.
pub async fn deliveries(conn: &mut AnyConnection, subscription_id: i64, limit: i64) -> StoreResult<Vec<Delivery>> {
    let rows = sqlx::query(
        "SELECT id, subscription_id, job_id, attempt, order_id, event, ok, status_code, error, duration_ms, at
         FROM webhook_deliveries WHERE subscription_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(subscription_id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Delivery {
                id: r.try_get("id")?,
                subscription_id: r.try_get("subscription_id")?,
                job_id: r.try_get("job_id")?,
                attempt: r.try_get("attempt")?,
                order_id: r.try_get("order_id")?,
                event: r.try_get("event")?,
                ok: flag(r, "ok")?,
                status_code: r.try_get("status_code")?,
                error: r.try_get("error")?,
                duration_ms: r.try_get("duration_ms")?,
                at: ts(r, "at")?,
            })
        })
        .collect()
}

/// The job carrying a delivery, found by its dedupe key: (id, attempts so far).
pub async fn job_of(conn: &mut AnyConnection, dedupe_key: &str) -> StoreResult<Option<(i64, i64)>> {
    let r = sqlx::query("SELECT id, attempts FROM jobs WHERE dedupe_key = $1")
        .bind(dedupe_key)
        .fetch_optional(conn)
        .await?;
    r.map(|r| Ok((r.try_get("id")?, r.try_get("attempts")?))).transpose()
}

/// The originating contact of a concluded order is answered: `open` becomes `replied`,
/// with the order's reply when the agent recorded none. Other statuses are left alone.
pub async fn contact_replied(
    conn: &mut AnyConnection,
    contact_id: i64,
    reply: &str,
    now: jiff::Timestamp,
) -> StoreResult<bool> {
    let r = sqlx::query(
        "UPDATE contacts SET status = 'replied', reply = CASE WHEN reply = '' THEN $1 ELSE reply END,
            replied_at = COALESCE(replied_at, $2), updated_at = $2
         WHERE id = $3 AND status = 'open'",
    )
    .bind(reply)
    .bind(t(now))
    .bind(contact_id)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}
