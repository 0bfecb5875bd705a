//! Live events for pages (SSE) and other in-process listeners.
//!
//! Events are written to the `events` table inside the business transaction. For live
//! delivery, on PostgreSQL the same transaction issues `pg_notify`, which PostgreSQL
//! delivers to every replica's listener only if the transaction commits; on SQLite
//! (one process) the service publishes to the local bus after commit. Live delivery is
//! best-effort by design; anything that must happen goes through a job.

use serde::Serialize;
use tokio::sync::broadcast;
use waterdesk_store::{AnyConnection, Backend, StoreResult, events};

/// Channel name used with LISTEN/NOTIFY.
pub const PG_CHANNEL: &str = "waterdesk_events";

/// One live event.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Event {
    pub id: i64,
    pub kind: String,
    /// Who may see it: `all`, `user:<id>`, `unit:<id>`, `perm:<permission>`.
    pub topic: String,
    pub payload: serde_json::Value,
}

/// Fan-out of events to this process's subscribers.
#[derive(Clone, Debug)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
    backend: Backend,
}

impl EventBus {
    pub fn new(backend: Backend) -> Self {
        let (tx, _) = broadcast::channel(1024);
        EventBus { tx, backend }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// Whether anybody in this process listens (an open event stream).
    pub fn has_subscribers(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Delivers to local subscribers (used by the PostgreSQL listener and after SQLite commits).
    pub fn publish_local(&self, e: Event) {
        // No subscribers is not an error.
        let _ = self.tx.send(e);
    }

    /// Records an event in the transaction. Returns its id and what must be published after
    /// commit (nothing on PostgreSQL, where NOTIFY already rides on the commit).
    pub async fn emit(
        &self,
        conn: &mut AnyConnection,
        kind: &str,
        topic: &str,
        payload: serde_json::Value,
        now: jiff::Timestamp,
    ) -> StoreResult<(i64, Option<Event>)> {
        let id = events::insert(conn, kind, topic, &payload, now).await?;
        let e = Event { id, kind: kind.to_string(), topic: topic.to_string(), payload };
        match self.backend {
            Backend::Postgres => {
                let text = serde_json::to_string(&e).unwrap_or_default();
                // NOTIFY payloads are limited to 8000 bytes; big payloads travel by id only.
                let text = if text.len() < 7900 {
                    text
                } else {
                    serde_json::json!({"id": e.id, "kind": e.kind, "topic": e.topic, "payload": null}).to_string()
                };
                waterdesk_store::events::notify(conn, PG_CHANNEL, &text).await?;
                Ok((id, None))
            }
            Backend::Sqlite => Ok((id, Some(e))),
        }
    }

    /// Publishes what `emit` returned, after the transaction committed.
    pub fn after_commit(&self, pending: impl IntoIterator<Item = Option<Event>>) {
        for e in pending.into_iter().flatten() {
            self.publish_local(e);
        }
    }
}
