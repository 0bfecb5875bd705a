//! The database handle: a backend-neutral pool pair and transaction helpers.
//!
//! SQLite gets two pools on the same file: many readers (WAL lets them run beside the
//! writer) and a single writer connection, so writers queue in-process instead of
//! failing with `SQLITE_BUSY`. PostgreSQL uses one pool for both.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor};

use crate::{StoreError, StoreResult, dialect};

/// A connection from either pool.
pub type Conn = sqlx::pool::PoolConnection<Any>;
/// A write transaction.
pub type Tx = sqlx::Transaction<'static, Any>;

/// Which engine is behind the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The engine behind an open connection (for code that holds no `Db`).
    pub fn of(conn: &sqlx::AnyConnection) -> Backend {
        if conn.backend_name() == "PostgreSQL" { Backend::Postgres } else { Backend::Sqlite }
    }

    /// Chooses the backend from a URL scheme.
    pub fn from_url(url: &str) -> StoreResult<Backend> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => Err(StoreError::UnsupportedUrl(redact_url(url))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Hides the password in a database URL for logs and messages.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((auth, host)) = rest.split_once('@')
    {
        return match auth.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => format!("{scheme}://{auth}@{host}"),
        };
    }
    url.to_string()
}

/// Pool sizes and timeouts.
#[derive(Debug, Clone)]
pub struct DbOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// SQLite `PRAGMA synchronous` in WAL mode: FULL (default) or NORMAL.
    pub sqlite_sync_normal: bool,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions { max_connections: 16, acquire_timeout: Duration::from_secs(10), sqlite_sync_normal: false }
    }
}

/// The database: a backend tag and its pools.
#[derive(Clone, Debug)]
pub struct Db {
    backend: Backend,
    read: AnyPool,
    write: AnyPool,
    /// The group-commit tasks' own connection (PostgreSQL; on SQLite it is the writer).
    grouped: AnyPool,
    url: String,
}

impl Db {
    /// Connects to `url` (`sqlite://…` or `postgres://…`). For SQLite the file and its
    /// directory are created if missing.
    pub async fn connect(url: &str, opts: &DbOptions) -> StoreResult<Db> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let connect_err = |e: sqlx::Error| StoreError::Connect { url: redact_url(url), reason: e.to_string() };
        match backend {
            Backend::Sqlite => {
                let url = sqlite_url(url)?;
                let options = AnyConnectOptions::from_str(&url).map_err(connect_err)?;
                let sync: &'static str =
                    if opts.sqlite_sync_normal { "PRAGMA synchronous = NORMAL" } else { "PRAGMA synchronous = FULL" };
                let pool = move |max: u32| {
                    AnyPoolOptions::new()
                        .max_connections(max)
                        .min_connections(1)
                        .acquire_timeout(opts.acquire_timeout)
                        .after_connect(move |conn, _meta| {
                            Box::pin(async move {
                                // WAL for readers beside the writer; FULL so a commit
                                // survives power loss; foreign keys enforced.
                                conn.execute("PRAGMA journal_mode = WAL").await?;
                                conn.execute(sync).await?;
                                conn.execute("PRAGMA foreign_keys = ON").await?;
                                conn.execute("PRAGMA busy_timeout = 10000").await?;
                                Ok(())
                            })
                        })
                };
                let write = pool(1).connect_with(options.clone()).await.map_err(connect_err)?;
                let read = pool(opts.max_connections.max(2)).connect_with(options).await.map_err(connect_err)?;
                Ok(Db { backend, read, grouped: write.clone(), write, url: redact_url(&url) })
            }
            Backend::Postgres => {
                let options = AnyConnectOptions::from_str(url).map_err(connect_err)?;
                let pool = AnyPoolOptions::new()
                    .max_connections(opts.max_connections)
                    .acquire_timeout(opts.acquire_timeout)
                    .connect_with(options.clone())
                    .await
                    .map_err(connect_err)?;
                // Group commits must not queue behind the readers for a connection.
                let grouped = AnyPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(opts.acquire_timeout)
                    .test_before_acquire(false)
                    .connect_lazy_with(options);
                Ok(Db { backend, read: pool.clone(), write: pool, grouped, url: redact_url(url) })
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL with its password hidden.
    pub fn url_redacted(&self) -> &str {
        &self.url
    }

    /// The pool for reads.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// A connection for reads.
    pub async fn read(&self) -> StoreResult<Conn> {
        Ok(self.read.acquire().await?)
    }

    /// Opens a read-only transaction that sees one snapshot of the database throughout
    /// (PostgreSQL: repeatable read; SQLite: a read transaction in WAL mode sees the
    /// database as of its first read). For reports whose queries must agree.
    pub async fn snapshot(&self) -> StoreResult<Tx> {
        let mut tx = self.read.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        }
        Ok(tx)
    }

    /// Opens a write transaction. Every multi-row write goes through one of these.
    pub async fn begin(&self) -> StoreResult<Tx> {
        Ok(self.write.begin_with(dialect::begin_write(self.backend)).await?)
    }

    /// Opens the transaction of a group commit (see [`crate::Batcher`]).
    pub(crate) async fn begin_grouped(&self) -> StoreResult<Tx> {
        Ok(self.grouped.begin_with(dialect::begin_write(self.backend)).await?)
    }

    /// Runs `f` in a write transaction, committing on `Ok` and rolling back on `Err`.
    pub async fn transaction<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<StoreError>,
        F: for<'c> FnOnce(&'c mut Tx) -> futures_core::future::BoxFuture<'c, Result<T, E>>,
    {
        let mut tx = self.begin().await?;
        match f(&mut tx).await {
            Ok(v) => {
                tx.commit().await.map_err(StoreError::from)?;
                Ok(v)
            }
            Err(e) => {
                // Dropping the transaction rolls it back; an explicit rollback reports errors.
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    /// Checks that the database answers (for `/readyz`).
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    /// Closes the pools.
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
        self.grouped.close().await;
    }
}

/// Normalises a SQLite URL: creates the parent directory and asks sqlx to create the
/// file (`mode=rwc`) unless the URL says otherwise.
fn sqlite_url(url: &str) -> StoreResult<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or_default();
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() {
        return Err(StoreError::UnsupportedUrl(url.to_string()));
    }
    if path != ":memory:"
        && let Some(parent) = Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| StoreError::Connect {
            url: url.to_string(),
            reason: format!("cannot create directory {}: {e}", parent.display()),
        })?;
    }
    let query = if query.contains("mode=") {
        query.to_string()
    } else if query.is_empty() {
        "mode=rwc".to_string()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_from_url() {
        assert_eq!(Backend::from_url("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::from_url("postgres://u@h/d").unwrap(), Backend::Postgres);
        assert!(
            matches!(Backend::from_url("mysql://u:secret@h/d"), Err(StoreError::UnsupportedUrl(u)) if !u.contains("secret"))
        );
    }

    #[test]
    fn redacts_password() {
        assert_eq!(redact_url("postgres://bob:pw@host/db"), "postgres://bob:***@host/db");
        assert_eq!(redact_url("sqlite://data/w.db"), "sqlite://data/w.db");
        assert_eq!(redact_url("postgres://bob@host/db"), "postgres://bob@host/db");
    }

    #[test]
    fn sqlite_url_adds_create_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/w.db");
        let u = sqlite_url(&format!("sqlite://{}", p.display())).unwrap();
        assert!(u.ends_with("?mode=rwc"));
        assert!(p.parent().unwrap().exists());
    }
}

/// Savepoints inside a transaction (the same SQL on both engines): a failed step rolls
/// back to its savepoint and the transaction goes on.
#[derive(Debug, Clone, Copy)]
pub enum Savepoint {
    Set,
    Release,
    RollBack,
}

pub async fn savepoint(conn: &mut sqlx::AnyConnection, step: Savepoint) -> StoreResult<()> {
    let sql = match step {
        Savepoint::Set => "SAVEPOINT step",
        Savepoint::Release => "RELEASE SAVEPOINT step",
        Savepoint::RollBack => "ROLLBACK TO SAVEPOINT step",
    };
    sqlx::query(sql).execute(conn).await?;
    Ok(())
}
