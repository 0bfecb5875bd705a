//! The search keys of work-order text (issue 6, R-DATA-02, ARCHITECTURE D27, migration
//! 0020): postings `(key, order_id)` of each order's title, content and address, written
//! with the order, so a free-text query reads the orders of its rarest key instead of
//! every row its other conditions leave.

use sqlx::{AnyConnection, Row};
use waterdesk_domain::grams;

use crate::bulk::OnConflict;
use crate::sql::Value;
use crate::{Backend, StoreResult};

/// Writes the postings of new orders: `(id, title, content, address)`.
pub async fn index(conn: &mut AnyConnection, backend: Backend, orders: &[(i64, &str, &str, &str)]) -> StoreResult<()> {
    crate::bulk::insert(conn, backend, "order_text_keys", &["key", "order_id"], &postings(orders)).await
}

fn postings(orders: &[(i64, &str, &str, &str)]) -> Vec<Vec<Value>> {
    orders
        .iter()
        .flat_map(|(id, title, content, address)| {
            grams::text_keys(&[title, content, address]).into_iter().map(move |k| vec![Value::I64(k), Value::I64(*id)])
        })
        .collect()
}

/// [`index`] of one order.
pub async fn index_one(
    conn: &mut AnyConnection,
    id: i64,
    title: &str,
    content: &str,
    address: &str,
) -> StoreResult<()> {
    let backend = Backend::of(conn);
    index(conn, backend, &[(id, title, content, address)]).await
}

/// Orders with an id below this have no postings yet (the backfill of orders registered
/// before migration 0020); 1 or less: every order has them.
pub async fn unindexed_below(conn: &mut AnyConnection) -> StoreResult<i64> {
    let below: Option<i64> =
        sqlx::query_scalar("SELECT below FROM order_text_backfill WHERE id = 1").fetch_optional(conn).await?;
    Ok(below.unwrap_or(0))
}

/// Indexes up to `limit` of the newest orders not indexed yet, inside the caller's write
/// transaction; returns how many ids were covered (0: done).
pub async fn backfill(conn: &mut AnyConnection, backend: Backend, limit: i64) -> StoreResult<i64> {
    let below = unindexed_below(&mut *conn).await?;
    if below <= 1 {
        return Ok(0);
    }
    let low = (below - limit).max(1);
    let rows = sqlx::query("SELECT id, title, content, address FROM work_orders WHERE id >= $1 AND id < $2")
        .bind(low)
        .bind(below)
        .fetch_all(&mut *conn)
        .await?;
    let texts = rows
        .iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("title")?, r.try_get("content")?, r.try_get("address")?)))
        .collect::<StoreResult<Vec<(i64, String, String, String)>>>()?;
    let orders: Vec<(i64, &str, &str, &str)> =
        texts.iter().map(|(id, a, b, c)| (*id, a.as_str(), b.as_str(), c.as_str())).collect();
    // Orders registered since the migration have theirs already.
    let rows = postings(&orders);
    crate::bulk::insert_with(conn, backend, "order_text_keys", &["key", "order_id"], &rows, OnConflict::Skip).await?;
    sqlx::query("UPDATE order_text_backfill SET below = $1 WHERE id = 1").bind(low).execute(&mut *conn).await?;
    Ok(below - low)
}

/// Of `keys`, the one with the fewest postings if it has fewer than `cap` (counting stops
/// at `cap`, so a common key costs at most `cap` index entries); `None`: every key is
/// common (or there are none), a text is better found by reading rows in order.
pub async fn rarest(conn: &mut AnyConnection, keys: &[i64], cap: i64) -> StoreResult<Option<i64>> {
    let mut best: Option<(i64, i64)> = None;
    for &k in keys {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM order_text_keys WHERE key = $1 LIMIT $2) AS postings",
        )
        .bind(k)
        .bind(cap)
        .fetch_one(&mut *conn)
        .await?;
        if n < cap && best.is_none_or(|(_, m)| n < m) {
            best = Some((k, n));
        }
        if n == 0 {
            break;
        }
    }
    Ok(best.map(|(k, _)| k))
}
