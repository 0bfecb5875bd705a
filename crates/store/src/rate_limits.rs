//! Fixed-window counters of the rate limiter (public endpoints, R-DATA-06), in the
//! database so that every replica counts against the same numbers. A bucket is a text key
//! (`progress:ip:203.0.113.9`); its window is identified by its start in Unix seconds.

use sqlx::{AnyConnection, Row};

use crate::{StoreResult, t};

/// The hits of `bucket` in the window starting at `window_start` (0 when the stored
/// window is an older one, or there is none). A read: a refused client costs no write.
pub async fn peek(conn: &mut AnyConnection, bucket: &str, window_start: i64) -> StoreResult<i64> {
    let row = sqlx::query("SELECT window_start, hits FROM rate_limits WHERE bucket = $1")
        .bind(bucket)
        .fetch_optional(conn)
        .await?;
    let Some(r) = row else { return Ok(0) };
    let start: i64 = r.try_get("window_start")?;
    Ok(if start == window_start { r.try_get("hits")? } else { 0 })
}

/// Counts one hit of `bucket` in the window starting at `window_start` and returns the
/// window's hits so far, this one included. One upsert: concurrent hits from several
/// replicas are counted exactly (the row lock / the single writer serialises them). A
/// replica whose clock lags behind never moves a bucket back to an older window.
pub async fn hit(conn: &mut AnyConnection, bucket: &str, window_start: i64, now: jiff::Timestamp) -> StoreResult<i64> {
    let row = sqlx::query(
        "INSERT INTO rate_limits (bucket, window_start, hits, created_at, updated_at) VALUES ($1, $2, 1, $3, $4)
         ON CONFLICT (bucket) DO UPDATE SET
            hits = CASE WHEN excluded.window_start > rate_limits.window_start THEN 1
                        ELSE rate_limits.hits + 1 END,
            window_start = CASE WHEN excluded.window_start > rate_limits.window_start
                                THEN excluded.window_start ELSE rate_limits.window_start END,
            updated_at = excluded.updated_at
         RETURNING hits",
    )
    .bind(bucket)
    .bind(window_start)
    .bind(t(now))
    .bind(t(now))
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("hits")?)
}

/// Deletes the buckets whose window started before `before` (Unix seconds).
pub async fn purge(conn: &mut AnyConnection, before: i64) -> StoreResult<u64> {
    let r = sqlx::query("DELETE FROM rate_limits WHERE window_start < $1").bind(before).execute(conn).await?;
    Ok(r.rows_affected())
}
