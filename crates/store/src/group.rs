//! Group commit: many small writes of one kind committed as one transaction, and written
//! with as few statements as the kind allows.
//!
//! A busy hotline registers contacts by the thousand per minute, each a short write (a
//! number, a row, an audit entry). Committing each alone makes the commit — BEGIN, COMMIT
//! and the fsync behind it, and on PostgreSQL the time the day's counter row and the audit
//! head stay locked — the bottleneck; running them one after another in a shared
//! transaction still costs a round trip per statement per write. Here the writes queue in
//! front of one task that hands whatever has queued to the kind's [`BatchWrite::write`] at
//! once: numbers for the whole batch in one statement, the rows in one multi-row insert,
//! the audit entries in one. Every caller is answered only after the commit: nobody sees
//! success for a write that is not durable, and a failed commit fails every write of its
//! batch.
//!
//! If the batch fails (one bad write among good ones), it is rolled back and each write
//! runs again alone in its own transaction, so only the failing write is lost. Writes may
//! therefore run twice and must touch nothing but the database. Nothing waits on purpose:
//! an idle writer runs a lone write at once; writes pile up only while the previous batch
//! commits, which is exactly when grouping pays.

use std::sync::{Arc, Mutex};

use futures_core::future::BoxFuture;
use sqlx::AnyConnection;
use tokio::sync::{mpsc, oneshot};

use crate::{Db, StoreError};

/// Most writes in one transaction; bounds the work lost to one failed commit and keeps
/// a multi-row statement well below the parameter limits.
pub const MAX_BATCH: usize = 64;
/// Queued writes beyond which callers wait to enqueue (back-pressure).
const QUEUE: usize = 1024;

/// A kind of write that can be done for many items at once.
pub trait BatchWrite: Send + Sync + 'static {
    type Item: Send + 'static;
    type Output: Send + 'static;
    type Error: From<StoreError> + Send + 'static;

    /// Writes `items` (1 to [`MAX_BATCH`]) inside the open transaction `conn` and returns
    /// one output per item, in order. Must not commit; on an error the whole transaction
    /// is rolled back and every item is retried alone.
    fn write<'c>(
        &'c self,
        conn: &'c mut AnyConnection,
        items: &'c [Self::Item],
    ) -> BoxFuture<'c, Result<Vec<Self::Output>, Self::Error>>;
}

type Answer<W> = oneshot::Sender<Result<<W as BatchWrite>::Output, <W as BatchWrite>::Error>>;
type Pending<W> = (<W as BatchWrite>::Item, Answer<W>);

/// The queue in front of one kind's group-commit task. Cheap to clone; the task is
/// started on first use, and again if it ever stopped (a panicking write ends it; its
/// batch is answered with an error). The last handle dropped ends the task.
///
/// The task runs on a thread of its own: on the request runtime, every round trip of
/// the one connection that all grouped writes go through would wait its turn behind the
/// requests' tasks (measured on two cores: a 4-statement write took 0.7–1 ms there).
pub struct Batcher<W: BatchWrite> {
    db: Db,
    writer: Arc<W>,
    queue: Arc<Mutex<Option<mpsc::Sender<Pending<W>>>>>,
}

impl<W: BatchWrite> Clone for Batcher<W> {
    fn clone(&self) -> Self {
        Batcher { db: self.db.clone(), writer: self.writer.clone(), queue: self.queue.clone() }
    }
}

impl<W: BatchWrite> std::fmt::Debug for Batcher<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher").field("kind", &std::any::type_name::<W>()).finish()
    }
}

impl<W: BatchWrite> Batcher<W> {
    pub fn new(db: &Db, writer: W) -> Self {
        Batcher { db: db.clone(), writer: Arc::new(writer), queue: Default::default() }
    }

    /// Writes `item` as part of a group commit; returns its output once it is durable.
    pub async fn write(&self, item: W::Item) -> Result<W::Output, W::Error> {
        let (answer, result) = oneshot::channel();
        if self.sender().send((item, answer)).await.is_err() {
            return Err(W::Error::from(commit_failed("the writer task has stopped")));
        }
        match result.await {
            Ok(r) => r,
            Err(_) => Err(W::Error::from(commit_failed("the write was abandoned"))),
        }
    }

    fn sender(&self) -> mpsc::Sender<Pending<W>> {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        match q.as_ref() {
            Some(tx) if !tx.is_closed() => tx.clone(),
            _ => {
                let (tx, rx) = mpsc::channel(QUEUE);
                let (db, writer) = (self.db.clone(), self.writer.clone());
                let started = std::thread::Builder::new().name("wd-group-commit".into()).spawn(move || {
                    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                        Ok(rt) => rt.block_on(run(db, writer, rx)),
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

/// Why a batch did not commit.
enum Failed<E> {
    /// The kind's write failed: the transaction was rolled back.
    Write(E),
    /// BEGIN or COMMIT failed.
    Commit(StoreError),
}

/// The group-commit task: takes what has queued, writes it in one transaction, answers.
async fn run<W: BatchWrite>(db: Db, writer: Arc<W>, mut rx: mpsc::Receiver<Pending<W>>) {
    let mut pending: Vec<Pending<W>> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut pending, MAX_BATCH).await > 0 {
        let (items, answers): (Vec<W::Item>, Vec<Answer<W>>) = pending.drain(..).unzip();
        match together(&db, &*writer, &items).await {
            Ok(outputs) => {
                for (answer, out) in answers.into_iter().zip(outputs) {
                    let _ = answer.send(Ok(out));
                }
            }
            Err(Failed::Write(e)) if items.len() == 1 => {
                let _ = answers.into_iter().next().map(|a| a.send(Err(e)));
            }
            // One write failed: its partners deserve a commit without it.
            Err(Failed::Write(_)) => {
                for (i, answer) in answers.into_iter().enumerate() {
                    let r = match together(&db, &*writer, std::slice::from_ref(&items[i])).await {
                        Ok(mut out) => Ok(out.remove(0)),
                        Err(Failed::Write(e)) => Err(e),
                        Err(Failed::Commit(e)) => Err(W::Error::from(commit_failed(&e.to_string()))),
                    };
                    let _ = answer.send(r);
                }
            }
            Err(Failed::Commit(e)) => {
                let reason = e.to_string();
                tracing::warn!(error = %reason, writes = items.len(), "group commit failed");
                for answer in answers {
                    let _ = answer.send(Err(W::Error::from(commit_failed(&reason))));
                }
            }
        }
    }
}

/// Writes `items` in one transaction and commits.
async fn together<W: BatchWrite>(db: &Db, writer: &W, items: &[W::Item]) -> Result<Vec<W::Output>, Failed<W::Error>> {
    let mut tx = db.begin_grouped().await.map_err(Failed::Commit)?;
    let outputs = match writer.write(&mut tx, items).await {
        Ok(o) if o.len() == items.len() => o,
        Ok(o) => {
            let _ = tx.rollback().await;
            let reason = format!("the batch writer returned {} outputs for {} items", o.len(), items.len());
            return Err(Failed::Commit(commit_failed(&reason)));
        }
        Err(e) => {
            let _ = tx.rollback().await;
            return Err(Failed::Write(e));
        }
    };
    tx.commit().await.map_err(|e| Failed::Commit(e.into()))?;
    Ok(outputs)
}
