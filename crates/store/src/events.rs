//! Domain events recorded in the business transaction (the outbox's log side).

use sqlx::{AnyConnection, Row};

use crate::{StoreResult, t};

/// Records an event; returns its id.
pub async fn insert(
    conn: &mut AnyConnection,
    kind: &str,
    topic: &str,
    payload: &serde_json::Value,
    now: jiff::Timestamp,
) -> StoreResult<i64> {
    let row = sqlx::query("INSERT INTO events (kind, topic, payload, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
        .bind(kind)
        .bind(topic)
        .bind(payload.to_string())
        .bind(t(now))
        .fetch_one(conn)
        .await?;
    Ok(row.try_get("id")?)
}

/// PostgreSQL only: queues a notification that is delivered when the transaction commits.
pub async fn notify(conn: &mut AnyConnection, channel: &str, payload: &str) -> StoreResult<()> {
    sqlx::query("SELECT 1 AS ok FROM pg_notify($1, $2)").bind(channel).bind(payload).execute(conn).await?;
    Ok(())
}
