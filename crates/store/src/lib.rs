//! Storage for waterdesk on SQLite (embedded default) and PostgreSQL.
//!
//! One repository layer: every query is written once in portable SQL with `$n`
//! placeholders, which both SQLite and PostgreSQL accept, and runs through sqlx's `Any`
//! driver. The few dialect differences (identity columns, row locking) live in
//! [`dialect`]. Adding a backend (MySQL/MariaDB, a distributed engine) means a new
//! [`Backend`] variant, its DDL tokens and a placeholder rewrite in the same module —
//! not a rewrite of the repositories. See docs/ARCHITECTURE.md.

pub mod attachments;
pub mod audit;
pub mod billing;
pub mod bulk;
pub mod campaigns;
pub mod contacts;
pub mod customers;
pub mod db;
pub mod dialect;
pub mod dicts;
pub mod duplicates;
pub mod error;
pub mod events;
pub mod group;
pub mod imports;
pub mod jobs;
pub mod migrate;
pub mod numbers;
pub mod order_query;
pub mod order_text;
pub mod orders;
pub mod params;
pub mod plans;
pub mod progress;
pub mod rate_limits;
pub mod reports;
pub mod roles;
pub mod sessions;
pub mod sql;
pub mod stats;
pub mod units;
pub mod users;
pub mod webhooks;

pub use db::{Backend, Conn, Db, DbOptions, Savepoint, Tx, savepoint};
pub use error::{StoreError, StoreResult};
pub use futures_core::future::BoxFuture;
pub use group::{BatchWrite, Batcher};
pub use sqlx::AnyConnection;

use sqlx::Row;
use sqlx::any::AnyRow;

/// Reads a timestamp column stored as text.
pub(crate) fn ts(row: &AnyRow, col: &str) -> StoreResult<jiff::Timestamp> {
    let s: String = row.try_get(col)?;
    waterdesk_domain::time::from_db(&s).ok_or(StoreError::Corrupt(col.to_string()))
}

/// Reads a nullable timestamp column stored as text.
pub(crate) fn ts_opt(row: &AnyRow, col: &str) -> StoreResult<Option<jiff::Timestamp>> {
    let s: Option<String> = row.try_get(col)?;
    match s {
        None => Ok(None),
        Some(s) => waterdesk_domain::time::from_db(&s).map(Some).ok_or(StoreError::Corrupt(col.to_string())),
    }
}

/// Reads a 0/1 flag column.
pub(crate) fn flag(row: &AnyRow, col: &str) -> StoreResult<bool> {
    let v: i64 = row.try_get(col)?;
    Ok(v != 0)
}

/// Storage text of an instant.
pub(crate) fn t(ts: jiff::Timestamp) -> String {
    waterdesk_domain::time::to_db(ts)
}
