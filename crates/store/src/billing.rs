//! The built-in ledger: tariffs, bills, payments and their allocation to bills.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::{StoreResult, t, ts};

/// Stores a tariff (definition as JSON) if its code is new.
pub async fn ensure_tariff(
    conn: &mut AnyConnection,
    code: &str,
    name: &str,
    name_en: &str,
    definition: &str,
    now: jiff::Timestamp,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO tariffs (code, name, name_en, definition, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (code) DO NOTHING",
    )
    .bind(code)
    .bind(name)
    .bind(name_en)
    .bind(definition)
    .bind(t(now))
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TariffRow {
    pub code: String,
    pub name: String,
    pub name_en: String,
    /// JSON of the tariff definition (tiers, prices in fen, sewage charge).
    pub definition: String,
}

pub async fn tariff(conn: &mut AnyConnection, code: &str) -> StoreResult<Option<TariffRow>> {
    let row = sqlx::query("SELECT code, name, name_en, definition FROM tariffs WHERE code = $1")
        .bind(code)
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        Ok(TariffRow {
            code: r.try_get("code")?,
            name: r.try_get("name")?,
            name_en: r.try_get("name_en")?,
            definition: r.try_get("definition")?,
        })
    })
    .transpose()
}

pub async fn tariffs(conn: &mut AnyConnection) -> StoreResult<Vec<TariffRow>> {
    let rows = sqlx::query("SELECT code, name, name_en, definition FROM tariffs ORDER BY code").fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            Ok(TariffRow {
                code: r.try_get("code")?,
                name: r.try_get("name")?,
                name_en: r.try_get("name_en")?,
                definition: r.try_get("definition")?,
            })
        })
        .collect()
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Bill {
    pub id: i64,
    pub account_id: i64,
    /// `YYYY-MM`.
    pub period: String,
    pub read_from: String,
    pub read_to: String,
    pub volume: i64,
    pub water_fen: i64,
    pub sewage_fen: i64,
    pub total_fen: i64,
    pub paid_fen: i64,
    /// `unpaid`, `partial`, `paid`.
    pub status: String,
    pub due_on: String,
    /// Annual cumulative m³ after this bill.
    pub ytd_after: i64,
    /// Tier lines as JSON.
    pub lines: String,
    pub created_at: jiff::Timestamp,
}

fn bill(r: &AnyRow) -> StoreResult<Bill> {
    Ok(Bill {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        period: r.try_get("period")?,
        read_from: r.try_get("read_from")?,
        read_to: r.try_get("read_to")?,
        volume: r.try_get("volume")?,
        water_fen: r.try_get("water_fen")?,
        sewage_fen: r.try_get("sewage_fen")?,
        total_fen: r.try_get("total_fen")?,
        paid_fen: r.try_get("paid_fen")?,
        status: r.try_get("status")?,
        due_on: r.try_get("due_on")?,
        ytd_after: r.try_get("ytd_after")?,
        lines: r.try_get("lines")?,
        created_at: ts(r, "created_at")?,
    })
}

const BILL_COLS: &str = "id, account_id, period, read_from, read_to, volume, water_fen, sewage_fen, total_fen, paid_fen, \
    status, due_on, ytd_after, lines, created_at";

/// A bill to insert.
#[derive(Debug, Clone)]
pub struct NewBill<'a> {
    pub account_id: i64,
    pub period: &'a str,
    pub read_from: &'a str,
    pub read_to: &'a str,
    pub volume: i64,
    pub water_fen: i64,
    pub sewage_fen: i64,
    pub due_on: &'a str,
    pub ytd_after: i64,
    pub lines: &'a str,
}

pub async fn insert_bill(conn: &mut AnyConnection, b: &NewBill<'_>, now: jiff::Timestamp) -> StoreResult<i64> {
    let total = b.water_fen + b.sewage_fen;
    let status = if total == 0 { "paid" } else { "unpaid" };
    let row = sqlx::query(
        "INSERT INTO bills (account_id, period, read_from, read_to, volume, water_fen, sewage_fen, total_fen, paid_fen,
            status, due_on, ytd_after, lines, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $11, $12, $13, $13) RETURNING id",
    )
    .bind(b.account_id)
    .bind(b.period)
    .bind(b.read_from)
    .bind(b.read_to)
    .bind(b.volume)
    .bind(b.water_fen)
    .bind(b.sewage_fen)
    .bind(total)
    .bind(status)
    .bind(b.due_on)
    .bind(b.ytd_after)
    .bind(b.lines)
    .bind(t(now))
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("id")?)
}

/// The bill of an account for a period (`YYYY-MM`), if any.
pub async fn bill_for(conn: &mut AnyConnection, account_id: i64, period: &str) -> StoreResult<Option<Bill>> {
    let sql = format!("SELECT {BILL_COLS} FROM bills WHERE account_id = $1 AND period = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).bind(period).fetch_optional(conn).await?;
    row.as_ref().map(bill).transpose()
}

/// Bills of an account, newest first.
pub async fn bills_of(conn: &mut AnyConnection, account_id: i64, limit: i64) -> StoreResult<Vec<Bill>> {
    let sql = format!("SELECT {BILL_COLS} FROM bills WHERE account_id = $1 ORDER BY period DESC LIMIT $2");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).bind(limit).fetch_all(conn).await?;
    rows.iter().map(bill).collect()
}

/// Unpaid and partly paid bills of an account, oldest first (payments settle these in order).
pub async fn open_bills(conn: &mut AnyConnection, account_id: i64) -> StoreResult<Vec<Bill>> {
    let sql = format!("SELECT {BILL_COLS} FROM bills WHERE account_id = $1 AND status <> 'paid' ORDER BY period");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).fetch_all(conn).await?;
    rows.iter().map(bill).collect()
}

/// The annual cumulative use at the latest bill of `year` (`YYYY`), or 0.
pub async fn ytd(conn: &mut AnyConnection, account_id: i64, year: &str) -> StoreResult<i64> {
    let row = sqlx::query(
        "SELECT ytd_after FROM bills WHERE account_id = $1 AND period LIKE $2 ORDER BY period DESC LIMIT 1",
    )
    .bind(account_id)
    .bind(format!("{year}-%"))
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.try_get("ytd_after")).transpose()?.unwrap_or(0))
}

/// Adds a payment share to a bill and updates its status.
pub async fn pay_bill(conn: &mut AnyConnection, bill_id: i64, amount: i64, now: jiff::Timestamp) -> StoreResult<()> {
    sqlx::query(
        "UPDATE bills SET paid_fen = paid_fen + $1,
            status = CASE WHEN paid_fen + $1 >= total_fen THEN 'paid' ELSE 'partial' END, updated_at = $2 WHERE id = $3",
    )
    .bind(amount)
    .bind(t(now))
    .bind(bill_id)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub id: i64,
    pub account_id: i64,
    pub channel: String,
    pub amount_fen: i64,
    pub paid_at: jiff::Timestamp,
    pub external_txn_id: String,
    pub note: String,
}

fn payment(r: &AnyRow) -> StoreResult<Payment> {
    Ok(Payment {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        channel: r.try_get("channel")?,
        amount_fen: r.try_get("amount_fen")?,
        paid_at: ts(r, "paid_at")?,
        external_txn_id: r.try_get("external_txn_id")?,
        note: r.try_get("note")?,
    })
}

/// Records a payment unless its external transaction id is known; returns
/// `(payment id, newly inserted)`.
#[allow(clippy::too_many_arguments)]
pub async fn insert_payment(
    conn: &mut AnyConnection,
    account_id: i64,
    channel: &str,
    amount: i64,
    paid_at: jiff::Timestamp,
    external_txn_id: &str,
    note: &str,
    now: jiff::Timestamp,
) -> StoreResult<(i64, bool)> {
    let row = sqlx::query(
        "INSERT INTO payments (account_id, channel, amount_fen, paid_at, external_txn_id, note, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (external_txn_id) DO NOTHING RETURNING id",
    )
    .bind(account_id)
    .bind(channel)
    .bind(amount)
    .bind(t(paid_at))
    .bind(external_txn_id)
    .bind(note)
    .bind(t(now))
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(r) = row {
        return Ok((r.try_get("id")?, true));
    }
    let r =
        sqlx::query("SELECT id FROM payments WHERE external_txn_id = $1").bind(external_txn_id).fetch_one(conn).await?;
    Ok((r.try_get("id")?, false))
}

pub async fn get_payment(conn: &mut AnyConnection, id: i64) -> StoreResult<Option<Payment>> {
    let row = sqlx::query(
        "SELECT id, account_id, channel, amount_fen, paid_at, external_txn_id, note FROM payments WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(payment).transpose()
}

/// Payments of an account with money not yet allocated to bills (credit, 预存), oldest
/// first: (payment id, unallocated fen).
pub async fn unallocated_payments(conn: &mut AnyConnection, account_id: i64) -> StoreResult<Vec<(i64, i64)>> {
    let rows = sqlx::query(
        "SELECT p.id AS id, p.amount_fen - CAST(COALESCE((SELECT SUM(a.amount_fen) FROM payment_allocations a
            WHERE a.payment_id = p.id), 0) AS BIGINT) AS remaining
         FROM payments p WHERE p.account_id = $1 ORDER BY p.paid_at, p.id",
    )
    .bind(account_id)
    .fetch_all(conn)
    .await?;
    let all: Vec<(i64, i64)> =
        rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("remaining")?))).collect::<StoreResult<_>>()?;
    Ok(all.into_iter().filter(|(_, left)| *left > 0).collect())
}

pub async fn allocate(conn: &mut AnyConnection, payment_id: i64, bill_id: i64, amount: i64) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO payment_allocations (payment_id, bill_id, amount_fen) VALUES ($1, $2, $3)
         ON CONFLICT (payment_id, bill_id) DO UPDATE SET amount_fen = payment_allocations.amount_fen + $3",
    )
    .bind(payment_id)
    .bind(bill_id)
    .bind(amount)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn payments_of(conn: &mut AnyConnection, account_id: i64, limit: i64) -> StoreResult<Vec<Payment>> {
    let rows = sqlx::query(
        "SELECT id, account_id, channel, amount_fen, paid_at, external_txn_id, note FROM payments
         WHERE account_id = $1 ORDER BY paid_at DESC, id DESC LIMIT $2",
    )
    .bind(account_id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(payment).collect()
}

/// (billed total, paid total) over all bills of an account; payments not yet allocated
/// (credit) are the difference between payments and allocations.
pub async fn balance(conn: &mut AnyConnection, account_id: i64) -> StoreResult<(i64, i64, i64)> {
    let b = sqlx::query("SELECT CAST(COALESCE(SUM(total_fen), 0) AS BIGINT) AS billed, CAST(COALESCE(SUM(paid_fen), 0) AS BIGINT) AS paid
         FROM bills WHERE account_id = $1")
        .bind(account_id)
        .fetch_one(&mut *conn)
        .await?;
    let p = sqlx::query(
        "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) AS received FROM payments WHERE account_id = $1",
    )
    .bind(account_id)
    .fetch_one(conn)
    .await?;
    Ok((b.try_get("billed")?, b.try_get("paid")?, p.try_get("received")?))
}
