//! What the public progress look-up reads (R-DATA-06): an order's id by its number, and
//! the last four digits of a customer's phones.

use sqlx::{AnyConnection, Row};

use crate::StoreResult;

/// The id of the order with this number (工单号).
pub async fn order_id_by_no(conn: &mut AnyConnection, no: &str) -> StoreResult<Option<i64>> {
    let row = sqlx::query("SELECT id FROM work_orders WHERE order_no = $1").bind(no).fetch_optional(conn).await?;
    row.map(|r| r.try_get("id")).transpose().map_err(Into::into)
}

/// The last four digits of every phone of a customer.
pub async fn customer_last4(conn: &mut AnyConnection, customer_id: i64) -> StoreResult<Vec<String>> {
    let rows = sqlx::query("SELECT last4 FROM customer_phones WHERE customer_id = $1")
        .bind(customer_id)
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r| r.try_get("last4").map_err(Into::into)).collect()
}

/// An order whose customer has a phone: (order number, the phone's last four digits) — the
/// example the demo prints for the progress page.
pub async fn example(conn: &mut AnyConnection) -> StoreResult<Option<(String, String)>> {
    let row = sqlx::query(
        "SELECT o.order_no, p.last4 FROM work_orders o JOIN customer_phones p ON p.customer_id = o.customer_id
         ORDER BY o.id, p.id LIMIT 1",
    )
    .fetch_optional(conn)
    .await?;
    row.map(|r| Ok((r.try_get("order_no")?, r.try_get("last4")?))).transpose()
}
