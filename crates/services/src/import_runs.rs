//! Imports in the background (R-CUS-03, "progress shown for large files"): the upload is
//! checked at once (permission, columns, size), then runs in a task of this process. The
//! uploader sees progress live (`import.progress` events over SSE) and can always ask for
//! the run's state; on PostgreSQL the run's row is updated every two seconds so that any
//! replica can answer, and a run whose process stopped reads as `interrupted`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use waterdesk_domain::permissions::perm;
use waterdesk_store::Backend;
use waterdesk_store::imports::{self as repo, ImportRun, NewRun};

use crate::audit::AuditCtx;
use crate::import::{ImportKind, ImportMode};
use crate::{Event, Principal, ServiceError, ServiceResult, Services};

/// Runs of this process: id → (done, total).
#[derive(Clone, Default, Debug)]
pub struct Running(Arc<Mutex<HashMap<i64, (usize, usize)>>>);

impl Running {
    fn set(&self, id: i64, done: usize, total: usize) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(id, (done, total));
        }
    }

    fn get(&self, id: i64) -> Option<(usize, usize)> {
        self.0.lock().ok().and_then(|m| m.get(&id).copied())
    }

    fn remove(&self, id: i64) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(&id);
        }
    }
}

/// A run whose process has not reported for this long is considered stopped.
const STALE: i64 = 60;

impl Services {
    /// Starts an import in the background after checking the file.
    pub async fn import_start(
        &self,
        p: &Principal,
        kind: ImportKind,
        mode: ImportMode,
        file_name: &str,
        bytes: Vec<u8>,
        ctx: &AuditCtx,
    ) -> ServiceResult<ImportRun> {
        let total = self.import_check(p, kind, mode, &bytes)?;
        let file_name: String = file_name.chars().filter(|c| !c.is_control()).take(200).collect();
        let sha = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&bytes))
        };
        let now = self.now();
        let id = {
            let mut tx = self.db.begin().await?;
            let id = repo::insert(
                &mut tx,
                &NewRun {
                    kind: kind.name(),
                    mode: mode.name(),
                    file_name: if file_name.is_empty() { "upload" } else { &file_name },
                    file_sha256: &sha,
                    file_bytes: bytes.len() as i64,
                    user_id: p.user_id,
                    total: total as i64,
                },
                now,
            )
            .await?;
            crate::input::commit(tx).await?;
            id
        };
        self.imports.set(id, 0, total);
        let (svc, p2, ctx) = (self.clone(), p.clone(), ctx.clone());
        tokio::spawn(async move { svc.import_task(id, p2, kind, mode, bytes, ctx).await });
        self.import_run(p, id).await
    }

    async fn import_task(
        self,
        id: i64,
        p: Principal,
        kind: ImportKind,
        mode: ImportMode,
        bytes: Vec<u8>,
        ctx: AuditCtx,
    ) {
        let topic = format!("user:{}", p.user_id);
        let beat = (self.db.backend() == Backend::Postgres).then(|| {
            let svc = self.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    let Some((done, _)) = svc.imports.get(id) else { return };
                    if let Ok(mut tx) = svc.db.begin().await {
                        let _ = repo::beat(&mut tx, id, done as i64, svc.now()).await;
                        let _ = tx.commit().await;
                    }
                }
            })
        });
        let progress = {
            let (running, events, topic) = (self.imports.clone(), self.events.clone(), topic.clone());
            move |done: usize, total: usize| {
                running.set(id, done, total);
                events.publish_local(Event {
                    id: 0,
                    kind: "import.progress".into(),
                    topic: topic.clone(),
                    payload: serde_json::json!({"id": id, "done": done, "total": total}),
                });
            }
        };
        let result = self.import(&p, kind, &bytes, mode, &ctx, &progress).await;
        if let Some(b) = beat {
            b.abort();
        }
        let total = self.imports.get(id).map(|(_, t)| t).unwrap_or(0);
        let (status, report) = match &result {
            Ok(r) => ("done", serde_json::to_value(r).unwrap_or_default()),
            Err(e) => {
                tracing::error!(import = id, error = %e, "import failed");
                ("failed", serde_json::json!({"code": e.code(), "message": e.to_string()}))
            }
        };
        let now = self.now();
        let finished = async {
            let mut tx = self.db.begin().await?;
            repo::finish(&mut tx, id, status, total as i64, &report, now).await?;
            let payload = serde_json::json!({"id": id, "status": status, "kind": kind.name()});
            let (_, pending) = self.events.emit(&mut tx, "import.finished", &topic, payload, now).await?;
            crate::input::commit(tx).await?;
            self.events.after_commit([pending]);
            Ok::<_, ServiceError>(())
        };
        if let Err(e) = finished.await {
            tracing::error!(import = id, error = %e, "could not record the end of an import");
        }
        self.imports.remove(id);
    }

    /// One run, with live progress; only its uploader or an administrator sees it.
    pub async fn import_run(&self, p: &Principal, id: i64) -> ServiceResult<ImportRun> {
        let mut c = self.db.read().await?;
        let run = repo::get(&mut c, id).await?.ok_or(ServiceError::NotFound { entity: "import" })?;
        if run.user_id != p.user_id && !p.has(perm::ADMIN_JOB_READ) {
            return Err(ServiceError::NotFound { entity: "import" });
        }
        self.live(&mut c, run).await
    }

    /// The caller's recent runs (an administrator's: everybody's).
    pub async fn import_runs(&self, p: &Principal) -> ServiceResult<Vec<ImportRun>> {
        if !p.has(perm::CUSTOMER_WRITE) && !p.has(perm::BILLING_WRITE) && !p.has(perm::ADMIN_JOB_READ) {
            return Err(ServiceError::Forbidden { permission: perm::CUSTOMER_WRITE.into() });
        }
        let mut c = self.db.read().await?;
        let user = (!p.has(perm::ADMIN_JOB_READ)).then_some(p.user_id);
        let mut out = Vec::new();
        for r in repo::list(&mut c, user, 50).await? {
            out.push(self.live(&mut c, r).await?);
        }
        Ok(out)
    }

    /// A run's state with this process's live progress. A `running` row that no process
    /// is running (and, on PostgreSQL, that has not reported for a minute) was interrupted.
    async fn live(&self, c: &mut waterdesk_store::AnyConnection, mut run: ImportRun) -> ServiceResult<ImportRun> {
        if run.status != "running" {
            return Ok(run);
        }
        if let Some((done, _)) = self.imports.get(run.id) {
            run.done = done as i64;
            return Ok(run);
        }
        // It may have finished since the row was read: read it again.
        run = repo::get(c, run.id).await?.ok_or(ServiceError::NotFound { entity: "import" })?;
        if run.status == "running"
            && self.imports.get(run.id).is_none()
            && (self.db.backend() == Backend::Sqlite || (self.now() - run.beat_at).get_seconds() > STALE)
        {
            run.status = "interrupted".into();
        }
        Ok(run)
    }

    /// At start of a one-process (SQLite) deployment: runs left running were interrupted.
    pub async fn imports_mark_interrupted(&self) -> ServiceResult<u64> {
        if self.db.backend() != Backend::Sqlite {
            return Ok(0);
        }
        let mut tx = self.db.begin().await?;
        let n = repo::mark_interrupted(&mut tx, self.now()).await?;
        crate::input::commit(tx).await?;
        Ok(n)
    }
}
