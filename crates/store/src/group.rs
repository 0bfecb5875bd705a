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
//! Nothing waits on purpose: an idle writer runs a lone write at once (without a
//! savepoint); writes pile up only while the previous batch commits, which is exactly
//! when grouping them pays.

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

/// Delivers a write's result once the fate of its batch is known (`None`: committed).
type Deliver = Box<dyn FnOnce(Option<&str>) + Send>;
/// A queued write: runs on the batch's connection, says whether it succeeded.
type Job = Box<dyn for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, (bool, Deliver)> + Send>;

/// The queue in front of the group-commit task; started on first use, and again if it
/// ever stopped (a panicking write ends the task; its batch is answered with an error).
#[derive(Debug, Default, Clone)]
pub(crate) struct GroupCommit {
    queue: Arc<Mutex<Option<mpsc::Sender<Job>>>>,
}

impl GroupCommit {
    fn sender(&self, db: &Db) -> mpsc::Sender<Job> {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        match q.as_ref() {
            Some(tx) if !tx.is_closed() => tx.clone(),
            _ => {
                let (tx, rx) = mpsc::channel(QUEUE);
                tokio::spawn(run(db.clone(), rx));
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
    /// commit, and if it fails its changes (only its own) are rolled back. Use it for
    /// short, frequent writes; long ones would hold up everybody in the batch.
    pub async fn grouped<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T, E>> + Send + 'static,
    {
        let (answer, result) = oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |conn| {
            Box::pin(async move {
                let r = f(conn).await;
                let ok = r.is_ok();
                let deliver: Deliver = Box::new(move |failed: Option<&str>| {
                    let r = match failed {
                        Some(reason) if ok => Err(E::from(commit_failed(reason))),
                        _ => r,
                    };
                    let _ = answer.send(r);
                });
                (ok, deliver)
            })
        });
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
async fn run(db: Db, mut rx: mpsc::Receiver<Job>) {
    let mut jobs: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let batch = std::mem::take(&mut jobs);
        let mut delivered = Vec::with_capacity(batch.len());
        match run_batch(&db, batch, &mut delivered).await {
            Ok(()) => delivered.into_iter().for_each(|d| d(None)),
            Err(e) => {
                let reason = e.to_string();
                tracing::warn!(error = %reason, writes = delivered.len(), "group commit failed");
                delivered.into_iter().for_each(|d| d(Some(&reason)));
            }
        }
    }
}

/// Runs a batch in one transaction. A lone write runs bare (its failure rolls the
/// transaction back); several run each inside a savepoint.
async fn run_batch(db: &Db, batch: Vec<Job>, delivered: &mut Vec<Deliver>) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    let alone = batch.len() == 1;
    let mut any_ok = false;
    for job in batch {
        if !alone {
            savepoint(&mut tx, Savepoint::Set).await?;
        }
        let (ok, deliver) = job(&mut tx).await;
        delivered.push(deliver);
        any_ok |= ok;
        if !alone {
            savepoint(&mut tx, if ok { Savepoint::Release } else { Savepoint::RollBack }).await?;
            if !ok {
                savepoint(&mut tx, Savepoint::Release).await?;
            }
        }
    }
    if any_ok {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(())
}
