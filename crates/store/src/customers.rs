//! Customers, their phones, accounts (户号), holders' history, meters and readings.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::sql::Sql;
use crate::{StoreError, StoreResult, flag, t, ts};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Customer {
    pub id: i64,
    /// `person` or `organisation`.
    pub kind: String,
    pub name: String,
    pub id_type: String,
    pub id_number: String,
    pub email: String,
    pub wechat_openid: String,
    pub note: String,
    pub unit_id: i64,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

/// Fields of a customer.
#[derive(Debug, Clone)]
pub struct CustomerFields<'a> {
    pub kind: &'a str,
    pub name: &'a str,
    pub id_type: &'a str,
    pub id_number: &'a str,
    pub email: &'a str,
    pub wechat_openid: &'a str,
    pub note: &'a str,
    pub unit_id: i64,
}

const CUSTOMER_COLS: &str =
    "id, kind, name, id_type, id_number, email, wechat_openid, note, unit_id, created_at, updated_at";

fn customer(r: &AnyRow) -> StoreResult<Customer> {
    Ok(Customer {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        name: r.try_get("name")?,
        id_type: r.try_get("id_type")?,
        id_number: r.try_get("id_number")?,
        email: r.try_get("email")?,
        wechat_openid: r.try_get("wechat_openid")?,
        note: r.try_get("note")?,
        unit_id: r.try_get("unit_id")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

pub async fn insert_customer(
    conn: &mut AnyConnection,
    c: &CustomerFields<'_>,
    now: jiff::Timestamp,
) -> StoreResult<i64> {
    let row = sqlx::query(
        "INSERT INTO customers (kind, name, id_type, id_number, email, wechat_openid, note, unit_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
    )
    .bind(c.kind)
    .bind(c.name)
    .bind(c.id_type)
    .bind(c.id_number)
    .bind(c.email)
    .bind(c.wechat_openid)
    .bind(c.note)
    .bind(c.unit_id)
    .bind(t(now))
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("id")?)
}

pub async fn update_customer(
    conn: &mut AnyConnection,
    id: i64,
    c: &CustomerFields<'_>,
    now: jiff::Timestamp,
) -> StoreResult<()> {
    let r = sqlx::query(
        "UPDATE customers SET kind = $1, name = $2, id_type = $3, id_number = $4, email = $5, wechat_openid = $6,
            note = $7, unit_id = $8, updated_at = $9 WHERE id = $10",
    )
    .bind(c.kind)
    .bind(c.name)
    .bind(c.id_type)
    .bind(c.id_number)
    .bind(c.email)
    .bind(c.wechat_openid)
    .bind(c.note)
    .bind(c.unit_id)
    .bind(t(now))
    .bind(id)
    .execute(conn)
    .await?;
    if r.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub async fn get_customer(conn: &mut AnyConnection, id: i64) -> StoreResult<Option<Customer>> {
    let sql = format!("SELECT {CUSTOMER_COLS} FROM customers WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(customer).transpose()
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CustomerPhone {
    pub id: i64,
    pub phone: String,
    pub label: String,
}

/// Replaces a customer's phone numbers (already normalised).
pub async fn set_phones(
    conn: &mut AnyConnection,
    customer_id: i64,
    phones: &[(String, String)],
    now: jiff::Timestamp,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM customer_phones WHERE customer_id = $1").bind(customer_id).execute(&mut *conn).await?;
    let now = t(now);
    for (phone, label) in phones {
        let last4: String = phone.chars().skip(phone.chars().count().saturating_sub(4)).collect();
        sqlx::query(
            "INSERT INTO customer_phones (customer_id, phone, last4, label, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(customer_id)
        .bind(phone.as_str())
        .bind(last4)
        .bind(label.as_str())
        .bind(&now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn phones(conn: &mut AnyConnection, customer_id: i64) -> StoreResult<Vec<CustomerPhone>> {
    let rows = sqlx::query("SELECT id, phone, label FROM customer_phones WHERE customer_id = $1 ORDER BY id")
        .bind(customer_id)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| Ok(CustomerPhone { id: r.try_get("id")?, phone: r.try_get("phone")?, label: r.try_get("label")? }))
        .collect()
}

/// How a customer matched a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    AccountNo,
    Phone,
    PhoneLast4,
    NameExact,
    NamePrefix,
    Name,
    Address,
}

/// The indexed look-ups of a search (substrings go through [`find_by_grams`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    AccountNo,
    Phone,
    PhoneLast4,
    NameExact,
    NamePrefix,
}

impl From<Lookup> for MatchKind {
    fn from(l: Lookup) -> MatchKind {
        match l {
            Lookup::AccountNo => MatchKind::AccountNo,
            Lookup::Phone => MatchKind::Phone,
            Lookup::PhoneLast4 => MatchKind::PhoneLast4,
            Lookup::NameExact => MatchKind::NameExact,
            Lookup::NamePrefix => MatchKind::NamePrefix,
        }
    }
}

/// Customer ids matching one indexed look-up, in id order, at most `limit`.
pub async fn find(
    conn: &mut AnyConnection,
    by: Lookup,
    value: &str,
    units: Option<&[i64]>,
    limit: i64,
) -> StoreResult<Vec<i64>> {
    let mut sql = match by {
        Lookup::AccountNo => Sql::new(
            "SELECT DISTINCT c.id AS id FROM customers c JOIN accounts a ON a.holder_id = c.id WHERE a.account_no = ",
        ),
        Lookup::Phone => Sql::new(
            "SELECT DISTINCT c.id AS id FROM customers c JOIN customer_phones p ON p.customer_id = c.id WHERE p.phone = ",
        ),
        Lookup::PhoneLast4 => Sql::new(
            "SELECT DISTINCT c.id AS id FROM customers c JOIN customer_phones p ON p.customer_id = c.id WHERE p.last4 = ",
        ),
        Lookup::NameExact => Sql::new("SELECT c.id AS id FROM customers c WHERE c.name = "),
        // A prefix as a range, so the index on `name` serves it on every backend (LIKE
        // 'x%' uses an index on neither SQLite, case-insensitive LIKE, nor PostgreSQL
        // without a pattern-ops index).
        Lookup::NamePrefix => Sql::new("SELECT c.id AS id FROM customers c WHERE c.name >= "),
    };
    sql.bind(value);
    if by == Lookup::NamePrefix {
        sql.push(" AND c.name < ").bind(format!("{value}\u{10FFFF}"));
    }
    if let Some(units) = units {
        push_in(&mut sql, " AND c.unit_id IN (", units);
    }
    sql.push(" ORDER BY id LIMIT ").bind(limit);
    let rows = sql.query().fetch_all(conn).await?;
    rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
}

/// Appends `prefix v1, v2 … )`; an empty list matches nothing.
pub(crate) fn push_in(sql: &mut Sql, prefix: &'static str, ids: &[i64]) {
    sql.push(prefix);
    if ids.is_empty() {
        sql.push("NULL");
    }
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(*id);
    }
    sql.push(")");
}

// ---- accounts ------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Account {
    pub id: i64,
    pub account_no: String,
    pub holder_id: i64,
    pub address: String,
    pub lat_e6: Option<i64>,
    pub lon_e6: Option<i64>,
    /// `residential`, `non_residential` or `special`.
    pub category: String,
    /// `active`, `suspended` or `closed`.
    pub status: String,
    pub book_no: String,
    pub unit_id: i64,
    pub tariff_code: String,
    pub household_size: i64,
    pub e_bill: bool,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

#[derive(Debug, Clone)]
pub struct AccountFields<'a> {
    pub account_no: &'a str,
    pub holder_id: i64,
    pub address: &'a str,
    pub lat_e6: Option<i64>,
    pub lon_e6: Option<i64>,
    pub category: &'a str,
    pub status: &'a str,
    pub book_no: &'a str,
    pub unit_id: i64,
    pub tariff_code: &'a str,
    pub household_size: i64,
    pub e_bill: bool,
}

const ACCOUNT_COLS: &str = "id, account_no, holder_id, address, lat_e6, lon_e6, category, status, book_no, unit_id, \
    tariff_code, household_size, e_bill, created_at, updated_at";

fn account(r: &AnyRow) -> StoreResult<Account> {
    Ok(Account {
        id: r.try_get("id")?,
        account_no: r.try_get("account_no")?,
        holder_id: r.try_get("holder_id")?,
        address: r.try_get("address")?,
        lat_e6: r.try_get("lat_e6")?,
        lon_e6: r.try_get("lon_e6")?,
        category: r.try_get("category")?,
        status: r.try_get("status")?,
        book_no: r.try_get("book_no")?,
        unit_id: r.try_get("unit_id")?,
        tariff_code: r.try_get("tariff_code")?,
        household_size: r.try_get("household_size")?,
        e_bill: flag(r, "e_bill")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

/// The searchable form of an address: without white space.
pub fn address_key(address: &str) -> String {
    address.chars().filter(|c| !c.is_whitespace()).collect()
}

pub async fn insert_account(conn: &mut AnyConnection, a: &AccountFields<'_>, now: jiff::Timestamp) -> StoreResult<i64> {
    let now = t(now);
    let row = sqlx::query(
        "INSERT INTO accounts (account_no, holder_id, address, address_key, lat_e6, lon_e6, category, status, book_no,
            unit_id, tariff_code, household_size, e_bill, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING id",
    )
    .bind(a.account_no)
    .bind(a.holder_id)
    .bind(a.address)
    .bind(address_key(a.address))
    .bind(a.lat_e6)
    .bind(a.lon_e6)
    .bind(a.category)
    .bind(a.status)
    .bind(a.book_no)
    .bind(a.unit_id)
    .bind(a.tariff_code)
    .bind(a.household_size)
    .bind(i64::from(a.e_bill))
    .bind(&now)
    .fetch_one(&mut *conn)
    .await?;
    let id: i64 = row.try_get("id")?;
    sqlx::query("INSERT INTO account_holders (account_id, customer_id, from_at, reason, created_at) VALUES ($1, $2, $3, 'opened', $3)")
        .bind(id)
        .bind(a.holder_id)
        .bind(&now)
        .execute(&mut *conn)
        .await?;
    Ok(id)
}

/// Updates an account's data; a new holder closes the old holder's period (过户 history).
pub async fn update_account(
    conn: &mut AnyConnection,
    id: i64,
    a: &AccountFields<'_>,
    reason: &str,
    now: jiff::Timestamp,
) -> StoreResult<()> {
    let old = get_account(conn, id).await?.ok_or(StoreError::NotFound)?;
    let now_s = t(now);
    sqlx::query(
        "UPDATE accounts SET holder_id = $1, address = $2, address_key = $3, lat_e6 = $4, lon_e6 = $5, category = $6,
            status = $7, book_no = $8, unit_id = $9, tariff_code = $10, household_size = $11, e_bill = $12,
            updated_at = $13 WHERE id = $14",
    )
    .bind(a.holder_id)
    .bind(a.address)
    .bind(address_key(a.address))
    .bind(a.lat_e6)
    .bind(a.lon_e6)
    .bind(a.category)
    .bind(a.status)
    .bind(a.book_no)
    .bind(a.unit_id)
    .bind(a.tariff_code)
    .bind(a.household_size)
    .bind(i64::from(a.e_bill))
    .bind(&now_s)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    if old.holder_id != a.holder_id {
        sqlx::query("UPDATE account_holders SET to_at = $1 WHERE account_id = $2 AND to_at IS NULL")
            .bind(&now_s)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        sqlx::query("INSERT INTO account_holders (account_id, customer_id, from_at, reason, created_at) VALUES ($1, $2, $3, $4, $3)")
            .bind(id)
            .bind(a.holder_id)
            .bind(&now_s)
            .bind(reason)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn get_account(conn: &mut AnyConnection, id: i64) -> StoreResult<Option<Account>> {
    let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(account).transpose()
}

pub async fn get_account_by_no(conn: &mut AnyConnection, no: &str) -> StoreResult<Option<Account>> {
    let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE account_no = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(no).fetch_optional(conn).await?;
    row.as_ref().map(account).transpose()
}

/// Accounts currently held by a customer.
pub async fn accounts_of(conn: &mut AnyConnection, customer_id: i64) -> StoreResult<Vec<Account>> {
    let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE holder_id = $1 ORDER BY account_no");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(customer_id).fetch_all(conn).await?;
    rows.iter().map(account).collect()
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HolderPeriod {
    pub customer_id: i64,
    pub customer_name: String,
    pub from_at: jiff::Timestamp,
    pub to_at: Option<jiff::Timestamp>,
    pub reason: String,
}

pub async fn holder_history(conn: &mut AnyConnection, account_id: i64) -> StoreResult<Vec<HolderPeriod>> {
    let rows = sqlx::query(
        "SELECT h.customer_id AS customer_id, c.name AS customer_name, h.from_at AS from_at, h.to_at AS to_at, h.reason AS reason
         FROM account_holders h JOIN customers c ON c.id = h.customer_id WHERE h.account_id = $1 ORDER BY h.id",
    )
    .bind(account_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(HolderPeriod {
                customer_id: r.try_get("customer_id")?,
                customer_name: r.try_get("customer_name")?,
                from_at: ts(r, "from_at")?,
                to_at: crate::ts_opt(r, "to_at")?,
                reason: r.try_get("reason")?,
            })
        })
        .collect()
}

// ---- meters and readings -------------------------------------------------------------

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Meter {
    pub id: i64,
    pub account_id: i64,
    pub serial: String,
    /// 口径, mm.
    pub diameter_mm: i64,
    pub model: String,
    pub installed_on: String,
    pub removed_on: Option<String>,
    pub initial_reading: i64,
    pub last_reading: Option<i64>,
    pub last_read_on: Option<String>,
}

fn meter(r: &AnyRow) -> StoreResult<Meter> {
    Ok(Meter {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        serial: r.try_get("serial")?,
        diameter_mm: r.try_get("diameter_mm")?,
        model: r.try_get("model")?,
        installed_on: r.try_get("installed_on")?,
        removed_on: r.try_get("removed_on")?,
        initial_reading: r.try_get("initial_reading")?,
        last_reading: r.try_get("last_reading")?,
        last_read_on: r.try_get("last_read_on")?,
    })
}

const METER_COLS: &str =
    "id, account_id, serial, diameter_mm, model, installed_on, removed_on, initial_reading, last_reading, last_read_on";

#[allow(clippy::too_many_arguments)]
pub async fn insert_meter(
    conn: &mut AnyConnection,
    account_id: i64,
    serial: &str,
    diameter_mm: i64,
    model: &str,
    installed_on: &str,
    initial_reading: i64,
    now: jiff::Timestamp,
) -> StoreResult<i64> {
    let row = sqlx::query(
        "INSERT INTO meters (account_id, serial, diameter_mm, model, installed_on, initial_reading, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(account_id)
    .bind(serial)
    .bind(diameter_mm)
    .bind(model)
    .bind(installed_on)
    .bind(initial_reading)
    .bind(t(now))
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("id")?)
}

/// Marks a meter removed (meter change: the new meter starts its own readings).
pub async fn remove_meter(conn: &mut AnyConnection, id: i64, on: &str, now: jiff::Timestamp) -> StoreResult<()> {
    sqlx::query("UPDATE meters SET removed_on = $1, updated_at = $2 WHERE id = $3")
        .bind(on)
        .bind(t(now))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn meter_serial_exists(conn: &mut AnyConnection, serial: &str) -> StoreResult<bool> {
    Ok(sqlx::query("SELECT id FROM meters WHERE serial = $1").bind(serial).fetch_optional(conn).await?.is_some())
}

pub async fn meters_of(conn: &mut AnyConnection, account_id: i64) -> StoreResult<Vec<Meter>> {
    let sql = format!("SELECT {METER_COLS} FROM meters WHERE account_id = $1 ORDER BY installed_on, id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).fetch_all(conn).await?;
    rows.iter().map(meter).collect()
}

pub async fn meter_by_serial(conn: &mut AnyConnection, serial: &str) -> StoreResult<Option<Meter>> {
    let sql = format!("SELECT {METER_COLS} FROM meters WHERE serial = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(serial).fetch_optional(conn).await?;
    row.as_ref().map(meter).transpose()
}

/// The reading of a meter on a day, if recorded.
pub async fn reading_on(conn: &mut AnyConnection, meter_id: i64, read_on: &str) -> StoreResult<Option<i64>> {
    let row = sqlx::query("SELECT reading FROM meter_readings WHERE meter_id = $1 AND read_on = $2")
        .bind(meter_id)
        .bind(read_on)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| r.try_get("reading")).transpose()?)
}

pub async fn get_meter(conn: &mut AnyConnection, id: i64) -> StoreResult<Option<Meter>> {
    let sql = format!("SELECT {METER_COLS} FROM meters WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(meter).transpose()
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reading {
    pub id: i64,
    pub meter_id: i64,
    pub read_on: String,
    pub reading: i64,
    pub volume: i64,
    /// `manual`, `self`, `import`, `smart`.
    pub source: String,
    pub bill_id: Option<i64>,
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_reading(
    conn: &mut AnyConnection,
    meter_id: i64,
    account_id: i64,
    read_on: &str,
    reading: i64,
    volume: i64,
    source: &str,
    now: jiff::Timestamp,
) -> StoreResult<i64> {
    let row = sqlx::query(
        "INSERT INTO meter_readings (meter_id, account_id, read_on, reading, volume, source, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(meter_id)
    .bind(account_id)
    .bind(read_on)
    .bind(reading)
    .bind(volume)
    .bind(source)
    .bind(t(now))
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("UPDATE meters SET last_reading = $1, last_read_on = $2, updated_at = $3 WHERE id = $4")
        .bind(reading)
        .bind(read_on)
        .bind(t(now))
        .bind(meter_id)
        .execute(&mut *conn)
        .await?;
    Ok(row.try_get("id")?)
}

pub async fn set_reading_bill(conn: &mut AnyConnection, reading_id: i64, bill_id: i64) -> StoreResult<()> {
    sqlx::query("UPDATE meter_readings SET bill_id = $1 WHERE id = $2")
        .bind(bill_id)
        .bind(reading_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The newest readings of an account, newest first.
pub async fn readings_of(conn: &mut AnyConnection, account_id: i64, limit: i64) -> StoreResult<Vec<Reading>> {
    let rows = sqlx::query(
        "SELECT id, meter_id, read_on, reading, volume, source, bill_id FROM meter_readings
         WHERE account_id = $1 ORDER BY read_on DESC, id DESC LIMIT $2",
    )
    .bind(account_id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Reading {
                id: r.try_get("id")?,
                meter_id: r.try_get("meter_id")?,
                read_on: r.try_get("read_on")?,
                reading: r.try_get("reading")?,
                volume: r.try_get("volume")?,
                source: r.try_get("source")?,
                bill_id: r.try_get("bill_id")?,
            })
        })
        .collect()
}

// ---- search grams --------------------------------------------------------------------

/// A customer's search grams (`search_grams` rows): the bigrams of the name and of each
/// account's address key, and the addresses' house-number tokens, distinct.
pub fn search_grams(name: &str, address_keys: &[String]) -> Vec<String> {
    let mut grams = waterdesk_domain::grams::bigrams(name);
    for key in address_keys {
        for g in waterdesk_domain::grams::bigrams(key).into_iter().chain(waterdesk_domain::grams::house_tokens(key)) {
            if !grams.contains(&g) {
                grams.push(g);
            }
        }
    }
    grams
}

/// Rebuilds the search bigrams of the given customers from their names and the addresses
/// of the accounts they hold.
pub async fn reindex(conn: &mut AnyConnection, backend: crate::Backend, ids: &[i64]) -> StoreResult<()> {
    for chunk in ids.chunks(500) {
        let mut del = Sql::new("DELETE FROM search_grams WHERE customer_id");
        push_in(&mut del, " IN (", chunk);
        del.query().execute(&mut *conn).await?;
        let mut q = Sql::new("SELECT id, name FROM customers WHERE id");
        push_in(&mut q, " IN (", chunk);
        let names = q.query().fetch_all(&mut *conn).await?;
        let mut q = Sql::new("SELECT holder_id, address_key FROM accounts WHERE holder_id");
        push_in(&mut q, " IN (", chunk);
        let addrs = q.query().fetch_all(&mut *conn).await?;
        let mut rows: Vec<Vec<crate::sql::Value>> = Vec::new();
        for r in &names {
            let id: i64 = r.try_get("id")?;
            let keys = addrs
                .iter()
                .filter(|a| a.try_get::<i64, _>("holder_id").ok() == Some(id))
                .map(|a| a.try_get::<String, _>("address_key"))
                .collect::<Result<Vec<_>, _>>()?;
            let grams = search_grams(&r.try_get::<String, _>("name")?, &keys);
            rows.extend(grams.into_iter().map(|g| vec![crate::sql::Value::Text(g), crate::sql::Value::I64(id)]));
        }
        crate::bulk::insert(conn, backend, "search_grams", &["gram", "customer_id"], &rows).await?;
    }
    Ok(())
}

/// Customers whose name or an account address contains `q` (at least two characters),
/// found through the bigram index, in id order.
pub async fn find_by_grams(
    conn: &mut AnyConnection,
    q: &str,
    units: Option<&[i64]>,
    limit: i64,
) -> StoreResult<Vec<i64>> {
    let bigrams = waterdesk_domain::grams::by_selectivity(waterdesk_domain::grams::bigrams(q));
    // A road and house number in the query drive the search through its token; an index
    // built before tokens existed has none, so an empty answer falls back to bigrams.
    let tokens = waterdesk_domain::grams::house_tokens(q);
    if !tokens.is_empty() {
        let grams: Vec<String> = tokens.into_iter().chain(bigrams.iter().cloned()).collect();
        let hits = find_by_gram_list(conn, &grams, q, units, limit).await?;
        if !hits.is_empty() {
            return Ok(hits);
        }
    }
    find_by_gram_list(conn, &bigrams, q, units, limit).await
}

async fn find_by_gram_list(
    conn: &mut AnyConnection,
    grams: &[String],
    q: &str,
    units: Option<&[i64]>,
    limit: i64,
) -> StoreResult<Vec<i64>> {
    let Some((first, rest)) = grams.split_first() else { return Ok(vec![]) };
    let mut sql = Sql::new(
        "SELECT g1.customer_id AS id FROM search_grams g1 JOIN customers c ON c.id = g1.customer_id WHERE g1.gram = ",
    );
    sql.bind(first.as_str());
    for g in rest.iter().take(6) {
        sql.push(" AND EXISTS (SELECT 1 FROM search_grams g WHERE g.gram = ")
            .bind(g.as_str())
            .push(" AND g.customer_id = g1.customer_id)");
    }
    let key: String = q.chars().filter(|c| !c.is_whitespace()).collect();
    let pattern = format!("%{}%", crate::dialect::like_escape(&key));
    sql.push(" AND (c.name LIKE ")
        .bind(pattern.clone())
        .push(" ESCAPE '\\' OR EXISTS (SELECT 1 FROM accounts a WHERE a.holder_id = c.id AND a.address_key LIKE ")
        .bind(pattern)
        .push(" ESCAPE '\\'))");
    if let Some(units) = units {
        push_in(&mut sql, " AND c.unit_id IN (", units);
    }
    sql.push(" ORDER BY g1.customer_id LIMIT ").bind(limit);
    let rows = sql.query().fetch_all(conn).await?;
    rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
}

/// Ids of customers after `after`, for batch jobs.
pub async fn customer_ids_after(conn: &mut AnyConnection, after: i64, limit: i64) -> StoreResult<Vec<i64>> {
    let rows = sqlx::query("SELECT id FROM customers WHERE id > $1 ORDER BY id LIMIT $2")
        .bind(after)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
}

// ---- exports -------------------------------------------------------------------------

/// One page of an export, in id order after `after`, limited to `units` when given.
/// Each row is text cells in the export's column order; the id is the keyset cursor.
pub async fn export_page(
    conn: &mut AnyConnection,
    kind: ExportKind,
    after: i64,
    units: Option<&[i64]>,
    limit: i64,
) -> StoreResult<Vec<(i64, Vec<String>)>> {
    let mut sql = match kind {
        ExportKind::Customers => Sql::new(
            "SELECT a.id AS id, a.account_no AS c1, c.name AS c2, c.kind AS c3, c.id_number AS c4,
                COALESCE((SELECT p.phone FROM customer_phones p WHERE p.customer_id = c.id ORDER BY p.id LIMIT 1), '') AS c5,
                a.address AS c6, a.category AS c7, a.status AS c8, a.book_no AS c9, CAST(a.household_size AS TEXT) AS c10,
                a.tariff_code AS c11
             FROM accounts a JOIN customers c ON c.id = a.holder_id WHERE a.id > ",
        ),
        ExportKind::Bills => Sql::new(
            "SELECT b.id AS id, a.account_no AS c1, b.period AS c2, b.read_from AS c3, b.read_to AS c4,
                CAST(b.volume AS TEXT) AS c5, CAST(b.water_fen AS TEXT) AS c6, CAST(b.sewage_fen AS TEXT) AS c7,
                CAST(b.total_fen AS TEXT) AS c8, CAST(b.paid_fen AS TEXT) AS c9, b.status AS c10, b.due_on AS c11
             FROM bills b JOIN accounts a ON a.id = b.account_id WHERE b.id > ",
        ),
        ExportKind::Meters => Sql::new(
            "SELECT m.id AS id, a.account_no AS c1, m.serial AS c2, CAST(m.diameter_mm AS TEXT) AS c3, m.model AS c4,
                m.installed_on AS c5, COALESCE(m.removed_on, '') AS c6, CAST(m.initial_reading AS TEXT) AS c7,
                COALESCE(CAST(m.last_reading AS TEXT), '') AS c8, '' AS c9, '' AS c10, '' AS c11
             FROM meters m JOIN accounts a ON a.id = m.account_id WHERE m.id > ",
        ),
        ExportKind::Readings => Sql::new(
            "SELECT r.id AS id, a.account_no AS c1, m.serial AS c2, r.read_on AS c3, CAST(r.reading AS TEXT) AS c4,
                CAST(r.volume AS TEXT) AS c5, r.source AS c6, '' AS c7, '' AS c8, '' AS c9, '' AS c10, '' AS c11
             FROM meter_readings r JOIN accounts a ON a.id = r.account_id JOIN meters m ON m.id = r.meter_id WHERE r.id > ",
        ),
        ExportKind::Payments => Sql::new(
            "SELECT p.id AS id, a.account_no AS c1, p.paid_at AS c2, CAST(p.amount_fen AS TEXT) AS c3, p.channel AS c4,
                p.external_txn_id AS c5, p.note AS c6, '' AS c7, '' AS c8, '' AS c9, '' AS c10, '' AS c11
             FROM payments p JOIN accounts a ON a.id = p.account_id WHERE p.id > ",
        ),
    };
    sql.bind(after);
    if let Some(units) = units {
        push_in(&mut sql, " AND a.unit_id IN (", units);
    }
    sql.push(match kind {
        ExportKind::Customers => " ORDER BY a.id LIMIT ",
        ExportKind::Bills => " ORDER BY b.id LIMIT ",
        ExportKind::Payments => " ORDER BY p.id LIMIT ",
        ExportKind::Meters => " ORDER BY m.id LIMIT ",
        ExportKind::Readings => " ORDER BY r.id LIMIT ",
    })
    .bind(limit);
    let rows = sql.query().fetch_all(conn).await?;
    let n = kind.columns().len();
    rows.iter()
        .map(|r| {
            let id: i64 = r.try_get("id")?;
            let cells =
                (1..=n).map(|i| r.try_get::<String, _>(format!("c{i}").as_str())).collect::<Result<Vec<_>, _>>()?;
            Ok((id, cells))
        })
        .collect()
}

/// What can be exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    Customers,
    Meters,
    Readings,
    Bills,
    Payments,
}

impl ExportKind {
    pub fn parse(s: &str) -> Option<ExportKind> {
        match s {
            "customers" => Some(ExportKind::Customers),
            "bills" => Some(ExportKind::Bills),
            "payments" => Some(ExportKind::Payments),
            "meters" => Some(ExportKind::Meters),
            "readings" => Some(ExportKind::Readings),
            _ => None,
        }
    }

    /// Column headers (the import's field names where they match).
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            ExportKind::Customers => &[
                "account_no",
                "name",
                "kind",
                "id_number",
                "phone",
                "address",
                "category",
                "status",
                "book_no",
                "household_size",
                "tariff_code",
            ],
            ExportKind::Bills => &[
                "account_no",
                "period",
                "read_from",
                "read_to",
                "volume",
                "water_fen",
                "sewage_fen",
                "total_fen",
                "paid_fen",
                "status",
                "due_on",
            ],
            ExportKind::Payments => &["account_no", "paid_at", "amount_fen", "channel", "external_txn_id", "note"],
            ExportKind::Meters => &[
                "account_no",
                "meter_serial",
                "diameter_mm",
                "model",
                "installed_on",
                "removed_on",
                "initial_reading",
                "last_reading",
            ],
            ExportKind::Readings => &["account_no", "meter_serial", "read_on", "reading", "volume", "source"],
        }
    }
}

/// Customers with their phones and accounts, for many ids at once (search results):
/// three queries instead of three per customer. Missing ids are left out.
pub async fn customers_with_details(
    conn: &mut AnyConnection,
    ids: &[i64],
) -> StoreResult<Vec<(Customer, Vec<CustomerPhone>, Vec<Account>)>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = Sql::default();
    q.push("SELECT id, kind, name, id_type, id_number, email, wechat_openid, note, unit_id, created_at, updated_at FROM customers WHERE id");
    push_in(&mut q, " IN (", ids);
    let customers: Vec<Customer> =
        q.query().fetch_all(&mut *conn).await?.iter().map(customer).collect::<StoreResult<_>>()?;
    let mut q = Sql::new("SELECT id, customer_id, phone, label FROM customer_phones WHERE customer_id");
    push_in(&mut q, " IN (", ids);
    q.push(" ORDER BY id");
    let phone_rows = q.query().fetch_all(&mut *conn).await?;
    let mut q = Sql::default();
    q.push(
        "SELECT id, account_no, holder_id, address, lat_e6, lon_e6, category, status, book_no, unit_id, \
         tariff_code, household_size, e_bill, created_at, updated_at FROM accounts WHERE holder_id",
    );
    push_in(&mut q, " IN (", ids);
    q.push(" ORDER BY account_no");
    let accounts: Vec<Account> =
        q.query().fetch_all(&mut *conn).await?.iter().map(account).collect::<StoreResult<_>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(c) = customers.iter().find(|c| c.id == *id).cloned() else { continue };
        let phones = phone_rows
            .iter()
            .filter(|r| r.try_get::<i64, _>("customer_id").ok() == Some(*id))
            .map(|r| Ok(CustomerPhone { id: r.try_get("id")?, phone: r.try_get("phone")?, label: r.try_get("label")? }))
            .collect::<StoreResult<Vec<_>>>()?;
        let accs = accounts.iter().filter(|a| a.holder_id == *id).cloned().collect();
        out.push((c, phones, accs));
    }
    Ok(out)
}
