//! Per-day number allocation (热线编号, 工单号) inside the business transaction.
//!
//! One upsert both creates the day's counter and increments it, returning the new value.
//! On PostgreSQL `ON CONFLICT DO UPDATE` takes the counter row's lock until the
//! transaction ends, so concurrent allocations queue and never repeat; on SQLite the
//! single writer serialises them. A rolled-back transaction gives its number back.

use sqlx::{AnyConnection, Row};
use waterdesk_domain::numbering::{DocNumber, NumberKind, day_key};

use crate::StoreResult;

/// Allocates the next number of `kind` for the local day of `now` in `tz`.
pub async fn allocate(
    conn: &mut AnyConnection,
    kind: NumberKind,
    now: jiff::Timestamp,
    tz: &jiff::tz::TimeZone,
) -> StoreResult<DocNumber> {
    let day = day_key(now, tz);
    let row = sqlx::query(
        "INSERT INTO number_counters (kind, day, last_seq) VALUES ($1, $2, 1)
         ON CONFLICT (kind, day) DO UPDATE SET last_seq = number_counters.last_seq + 1
         RETURNING last_seq",
    )
    .bind(kind.prefix())
    .bind(&day)
    .fetch_one(conn)
    .await?;
    let seq: i64 = row.try_get("last_seq")?;
    Ok(DocNumber { kind, day, seq })
}

/// Reserves `n` consecutive numbers of `kind` for a local `day` (`YYYYMMDD`) and returns
/// the first sequence number (bulk loads: one statement per day and kind).
pub async fn allocate_range(conn: &mut AnyConnection, kind: NumberKind, day: &str, n: i64) -> StoreResult<i64> {
    let row = sqlx::query(
        "INSERT INTO number_counters (kind, day, last_seq) VALUES ($1, $2, $3)
         ON CONFLICT (kind, day) DO UPDATE SET last_seq = number_counters.last_seq + $3
         RETURNING last_seq",
    )
    .bind(kind.prefix())
    .bind(day)
    .bind(n)
    .fetch_one(conn)
    .await?;
    let last: i64 = row.try_get("last_seq")?;
    Ok(last - n + 1)
}
