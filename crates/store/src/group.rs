//! Group commit: many small write transactions committed as one.
//!
//! A busy hotline registers contacts and call events by the thousand per minute, each a
//! short transaction (a number, a row, an audit entry). Committing each alone makes the
//! commit — BEGIN, COMMIT and the fsync behind it, and on PostgreSQL the time the day's
//! counter row and the audit head stay locked — the bottleneck. Here the writes queue for
//! one task that runs whatever has queued in one transaction, each write inside its own
//! savepoint so that a failing write is rolled back alone, and answers every caller only
//! after the commit: a caller never sees success for a write that is not durable. A
//! failed commit fails every write of its batch.
//!
//! Savepoints cost a round trip each, so a batch first runs without them; only when one
//! of its writes fails is the batch rolled back and run again with a savepoint around
//! each write. Nothing waits on purpose: an idle writer runs a lone write at once; writes
//! pile up only while the previous batch commits, which is exactly when grouping pays.

use std::sync::{Arc, Mutex};

use futures_core::future::BoxFuture;
use sqlx::AnyConnection;
use tokio::sync::{mpsc, oneshot};

use crate::db::{Savepoint, savepoint};
use crate::{Db, StoreError};

/// Most writes in one transaction; bounds the work lost to one failed commit.
const MAX_BATCH: usize = 64;
/// Queued writes beyond which callers wait to enqueue (back-pressure).
const QUEUE: usize = 1024;

/// A queued write, type-erased: it may run more than once (see [`Db::grouped`]) and keeps
/// its last result until the fate of its batch is known.
trait Job: Send + Sync {
    /// Runs the write on the batch's connection; says whether it succeeded.
    fn run<'c>(&'c self, conn: &'c mut AnyConnection) -> BoxFuture<'c, bool>;
    /// Answers the caller: its own result, or the batch's commit failure.
    fn deliver(self: Box<Self>, commit_failure: Option<&str>);
}

/// The sending end of the group-commit queue.
type Queue = mpsc::Sender<Box<dyn Job>>;

struct Write<T, E, F> {
    f: F,
    result: Mutex<Option<Result<T, E>>>,
    answer: oneshot::Sender<Result<T, E>>,
}

impl<T, E, F> Job for Write<T, E, F>
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
    F: for<'c> Fn(&'c mut AnyConnection) -> BoxFuture<'c, Result<T, E>> + Send + Sync + 'static,
{
    fn run<'c>(&'c self, conn: &'c mut AnyConnection) -> BoxFuture<'c, bool> {
        Box::pin(async move {
            let r = (self.f)(conn).await;
            let ok = r.is_ok();
            *self.result.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
            ok
        })
    }

    fn deliver(self: Box<Self>, commit_failure: Option<&str>) {
        let r = self.result.into_inner().unwrap_or_else(|p| p.into_inner());
        let r = match (r, commit_failure) {
            (Some(Ok(_)), Some(reason)) => Err(E::from(commit_failed(reason))),
            (Some(r), _) => r,
            (None, _) => Err(E::from(commit_failed("the write did not run"))),
        };
        let _ = self.answer.send(r);
    }
}

/// The queue in front of the group-commit task; started on first use, and again if it
/// ever stopped (a panicking write ends the task; its batch is answered with an error).
///
/// The task runs on a thread of its own: on the request runtime, every round trip of
/// the one connection that all grouped writes go through would wait its turn behind the
/// requests' tasks (measured on two cores: a 4-statement write took 0.7–1 ms there).
#[derive(Debug, Default, Clone)]
pub(crate) struct GroupCommit {
    queue: Arc<Mutex<Option<Queue>>>,
}

impl GroupCommit {
    /// Closes the queue: the task finishes what was queued and ends.
    pub(crate) fn close(&self) {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    fn sender(&self, db: &Db) -> Queue {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        match q.as_ref() {
            Some(tx) if !tx.is_closed() => tx.clone(),
            _ => {
                let (tx, rx) = mpsc::channel(QUEUE);
                // The task's own handle has no queue: the last user handle dropped (or
                // `Db::close`) closes the queue and ends the thread.
                let db = db.without_group();
                let started = std::thread::Builder::new().name("wd-group-commit".into()).spawn(move || {
                    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                        Ok(rt) => rt.block_on(run(db, rx)),
                        Err(e) => tracing::error!(error = %e, "group commit: no runtime"),
                    }
                });
                if let Err(e) = started {
                    tracing::error!(error = %e, "group commit: cannot start its thread");
                }
                *q = Some(tx.clone());
                tx
            }
        }
    }
}

/// The commit of a batch failed; every write in it was rolled back.
fn commit_failed(reason: &str) -> StoreError {
    StoreError::Sqlx(sqlx::Error::Protocol(format!("group commit failed: {reason}")))
}

impl Db {
    /// Runs `f` as one write of a group commit and returns its result once it is durable.
    ///
    /// `f` sees a connection inside a transaction shared with other writes: it must not
    /// commit, and if it fails its changes (only its own) are rolled back. It may run
    /// twice (when another write of its batch fails, the batch is run again with a
    /// savepoint around each write), so it must touch nothing but the database. Use it
    /// for short, frequent writes; long ones would hold up everybody in the batch.
    pub async fn grouped<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: for<'c> Fn(&'c mut AnyConnection) -> BoxFuture<'c, Result<T, E>> + Send + Sync + 'static,
    {
        let (answer, result) = oneshot::channel::<Result<T, E>>();
        let job: Box<dyn Job> = Box::new(Write { f, result: Mutex::new(None), answer });
        if self.group.sender(self).send(job).await.is_err() {
            return Err(E::from(commit_failed("the writer task has stopped")));
        }
        match result.await {
            Ok(r) => r,
            Err(_) => Err(E::from(commit_failed("the write was abandoned"))),
        }
    }
}

/// The group-commit task: takes what has queued, runs it in one transaction, answers.
async fn run(db: Db, mut rx: mpsc::Receiver<Box<dyn Job>>) {
    let mut jobs: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let batch = std::mem::take(&mut jobs);
        let outcome = match run_together(&db, &batch).await {
            Ok(true) => Ok(()),
            // One write failed: its partners deserve a commit without it.
            Ok(false) => run_apart(&db, &batch).await,
            Err(e) => Err(e),
        };
        let failure = outcome.err().map(|e| e.to_string());

        if let Some(reason) = &failure {
            tracing::warn!(error = %reason, writes = batch.len(), "group commit failed");
        }
        for job in batch {
            job.deliver(failure.as_deref());
        }
    }
}

/// The common case: every write succeeds, one transaction, no savepoints. A lone write
/// that fails is rolled back and answered with its error. `Ok(false)`: a write of
/// several failed and the transaction was rolled back.
async fn run_together(db: &Db, batch: &[Box<dyn Job>]) -> Result<bool, StoreError> {
    let mut tx = db.begin_grouped().await?;
    for job in batch {
        if !job.run(&mut tx).await {
            tx.rollback().await?;
            return Ok(batch.len() == 1);
        }
    }
    tx.commit().await?;

    Ok(true)
}

/// After a failure: the batch again, each write inside its own savepoint, so that a
/// failing write is rolled back alone.
async fn run_apart(db: &Db, batch: &[Box<dyn Job>]) -> Result<(), StoreError> {
    let mut tx = db.begin_grouped().await?;
    for job in batch {
        savepoint(&mut tx, Savepoint::Set).await?;
        if !job.run(&mut tx).await {
            savepoint(&mut tx, Savepoint::RollBack).await?;
        }
        savepoint(&mut tx, Savepoint::Release).await?;
    }
    tx.commit().await?;
    Ok(())
}
