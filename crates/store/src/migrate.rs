//! Versioned, embedded migrations, run at start and by `waterdesk migrate`.
//!
//! A migration is a SQL script with dialect tokens (see [`crate::dialect::ddl`]). Each
//! runs in its own transaction (both engines have transactional DDL) and is recorded in
//! `schema_migrations` with a checksum; a released migration is never edited — the
//! checksum check refuses a database whose history differs from the binary's.

use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Row};

use crate::{Db, StoreError, StoreResult};

/// One migration: version, name, script.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub script: &'static str,
}

/// All migrations, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "foundation", script: include_str!("../migrations/0001_foundation.sql") },
    Migration { version: 2, name: "customers", script: include_str!("../migrations/0002_customers.sql") },
    Migration { version: 3, name: "search_grams", script: include_str!("../migrations/0003_search_grams.sql") },
    Migration { version: 4, name: "imports", script: include_str!("../migrations/0004_imports.sql") },
    Migration { version: 5, name: "contacts", script: include_str!("../migrations/0005_contacts.sql") },
    Migration { version: 6, name: "campaigns", script: include_str!("../migrations/0006_campaigns.sql") },
    Migration { version: 7, name: "work_orders", script: include_str!("../migrations/0007_work_orders.sql") },
    Migration { version: 8, name: "sla_dispatch", script: include_str!("../migrations/0008_sla_dispatch.sql") },
    Migration { version: 9, name: "duplicates", script: include_str!("../migrations/0009_duplicates.sql") },
    Migration { version: 10, name: "plans_callbacks", script: include_str!("../migrations/0010_plans_callbacks.sql") },
    Migration { version: 11, name: "attachments", script: include_str!("../migrations/0011_attachments.sql") },
    Migration {
        version: 12,
        name: "dispatch_indexes",
        script: include_str!("../migrations/0012_dispatch_indexes.sql"),
    },
    Migration { version: 13, name: "quick_counts", script: include_str!("../migrations/0013_quick_counts.sql") },
    Migration { version: 14, name: "order_queries", script: include_str!("../migrations/0014_order_queries.sql") },
    Migration { version: 15, name: "reports", script: include_str!("../migrations/0015_reports.sql") },
    Migration {
        version: 16,
        name: "dashboard_progress",
        script: include_str!("../migrations/0016_dashboard_progress.sql"),
    },
    Migration { version: 17, name: "order_facts", script: include_str!("../migrations/0017_order_facts.sql") },
    Migration {
        version: 18,
        name: "quick_counts_covering",
        script: include_str!("../migrations/0018_quick_counts_covering.sql"),
    },
    Migration {
        version: 19,
        name: "open_order_facts",
        script: include_str!("../migrations/0019_open_order_facts.sql"),
    },
    Migration { version: 20, name: "order_text_keys", script: include_str!("../migrations/0020_order_text_keys.sql") },
    Migration {
        version: 21,
        name: "order_facts_hour",
        script: include_str!("../migrations/0021_order_facts_hour.sql"),
    },
];

/// What `run` did.
#[derive(Debug, Clone, Default)]
pub struct MigrationReport {
    pub applied: Vec<i64>,
    pub already: usize,
}

fn checksum(script: &str) -> String {
    hex::encode(Sha256::digest(script.as_bytes()))
}

/// Splits a script into statements at `;` that ends a line (no procedural code here).
fn statements(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in script.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") || trimmed.is_empty() {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if trimmed.ends_with(';') {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

/// Applies every pending migration.
pub async fn run(db: &Db) -> StoreResult<MigrationReport> {
    let mut tx = db.begin().await?;
    serialise(db, &mut tx).await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            checksum TEXT NOT NULL,
            applied_at TEXT NOT NULL
        )",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;

    let mut report = MigrationReport::default();
    for m in MIGRATIONS {
        let mut tx = db.begin().await?;
        serialise(db, &mut tx).await?;
        let existing = sqlx::query("SELECT checksum FROM schema_migrations WHERE version = $1")
            .bind(m.version)
            .fetch_optional(&mut *tx)
            .await?;
        let sum = checksum(m.script);
        if let Some(row) = existing {
            let stored: String = row.try_get("checksum")?;
            if stored != sum {
                return Err(StoreError::Migration {
                    version: m.version,
                    name: m.name.to_string(),
                    reason: "the applied migration differs from this build's (edited after release?)".into(),
                });
            }
            report.already += 1;
            continue;
        }
        let script = crate::dialect::ddl(db.backend(), m.script);
        for stmt in statements(&script) {
            sqlx::query(AssertSqlSafe(stmt)).execute(&mut *tx).await.map_err(|e| StoreError::Migration {
                version: m.version,
                name: m.name.to_string(),
                reason: e.to_string(),
            })?;
        }
        sqlx::query("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)")
            .bind(m.version)
            .bind(m.name)
            .bind(sum)
            .bind(crate::t(jiff::Timestamp::now()))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(migration.version = m.version, migration.name = m.name, "applied migration");
        report.applied.push(m.version);
    }
    Ok(report)
}

/// Replicas starting together against one PostgreSQL database take turns: each migration
/// transaction holds an advisory lock, so the second finds the work done instead of
/// colliding on the catalogue. (SQLite's single writer already serialises them.)
async fn serialise(db: &Db, tx: &mut crate::Tx) -> StoreResult<()> {
    if db.backend() == crate::Backend::Postgres {
        // "waterdesk" as a number: the lock's key, private to this application.
        sqlx::query("SELECT pg_advisory_xact_lock(7761114130000001)").execute(&mut **tx).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_statements() {
        let s = statements("-- c\nCREATE TABLE a (x INT);\n\nINSERT INTO a\nVALUES (1);\n");
        assert_eq!(s.len(), 2);
        assert!(s[1].contains("VALUES (1);"));
    }

    #[test]
    fn foundation_splits_cleanly() {
        for m in MIGRATIONS {
            for s in statements(m.script) {
                assert!(s.trim_end().ends_with(';'), "{s}");
            }
        }
    }
}
