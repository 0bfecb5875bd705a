//! Background work: the job worker and the cross-replica event listener (DESIGN §3.4).
//!
//! Jobs are rows in the `jobs` table, written in the same transaction as the business
//! change that needs them (the outbox). Workers claim due jobs with a lease — on
//! PostgreSQL with `FOR UPDATE SKIP LOCKED`, so any number of replicas share the queue —
//! run them, and mark them done; a failure is retried with exponential backoff until
//! `max_attempts`, then dead-lettered for an administrator. A worker that dies leaves
//! its jobs `running` with an expired lease, and another worker picks them up: delivery
//! is at least once, so handlers must be idempotent (exactly-once effect).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use waterdesk_services::{Event, EventBus, Services};
use waterdesk_store::jobs::{self, ClaimedJob, NewJob};
use waterdesk_store::{AnyConnection, StoreResult};

/// Boxed future returned by handlers.
pub type JobFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// A kind of job. `run` must be idempotent: it may run more than once.
pub trait Job: Send + Sync + 'static {
    /// The stable name stored in the `kind` column.
    fn kind(&self) -> &'static str;
    fn run(&self, services: Services, payload: serde_json::Value) -> JobFuture;
}

/// Enqueues a job inside the caller's transaction.
pub async fn enqueue(
    conn: &mut AnyConnection,
    kind: &str,
    payload: &serde_json::Value,
    run_at: jiff::Timestamp,
    dedupe_key: Option<&str>,
    now: jiff::Timestamp,
) -> StoreResult<Option<i64>> {
    jobs::enqueue(conn, &NewJob { kind, payload, run_at, max_attempts: DEFAULT_MAX_ATTEMPTS, dedupe_key }, now).await
}

/// Attempts before a job is dead-lettered.
pub const DEFAULT_MAX_ATTEMPTS: i64 = 8;

/// Worker settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Name stored in `locked_by` (host and process).
    pub name: String,
    /// Jobs claimed per round.
    pub batch: i64,
    /// How long a claim is valid before another worker may take the job.
    pub lease: jiff::SignedDuration,
    /// Sleep when the queue is empty.
    pub idle_poll: Duration,
    /// First retry delay; doubles per attempt, capped at one hour.
    pub backoff_base: jiff::SignedDuration,
    /// How often the escalation watcher runs (R-WO-05).
    pub sla_scan: Duration,
    /// How often the scheduler of recurring plans runs (R-WO-12).
    pub plan_scan: Duration,
    /// How often the indicator facts refresher looks for newly settled orders when it has
    /// nothing left to do (ARCHITECTURE D24); with a backlog it runs on without pause.
    pub facts_scan: Duration,
    /// How often scheduled reports are looked for (R-DATA-04).
    pub report_scan: Duration,
    /// How often open dashboards are told of new orders and contacts (`stats.changed`).
    pub stats_pulse: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            name: format!("worker-{}", std::process::id()),
            batch: 16,
            lease: jiff::SignedDuration::from_mins(5),
            idle_poll: Duration::from_millis(500),
            backoff_base: jiff::SignedDuration::from_secs(5),
            sla_scan: Duration::from_secs(15),
            plan_scan: Duration::from_secs(60),
            facts_scan: Duration::from_secs(30),
            report_scan: Duration::from_secs(60),
            stats_pulse: Duration::from_secs(3),
        }
    }
}

/// Delay before retry number `attempt` (1-based), with ±20 % jitter, capped at an hour.
pub fn backoff(base: jiff::SignedDuration, attempt: i64) -> jiff::SignedDuration {
    let exp = u32::try_from(attempt.clamp(1, 20) - 1).unwrap_or(0);
    let secs = (base.as_secs_f64() * 2f64.powi(exp as i32)).min(3600.0);
    let jitter = rand::rng().random_range(0.8..1.2);
    jiff::SignedDuration::from_secs_f64(secs * jitter)
}

/// The worker: a registry of job kinds and the claim loop.
#[derive(Clone)]
pub struct Worker {
    services: Services,
    handlers: Arc<HashMap<&'static str, Arc<dyn Job>>>,
    cfg: WorkerConfig,
}

impl Worker {
    pub fn new(services: Services, cfg: WorkerConfig) -> Self {
        let mut w = Worker { services, handlers: Arc::new(HashMap::new()), cfg };
        w.register(Arc::new(PurgeSessions));
        w.register(Arc::new(AutoDispatch));
        w.register(Arc::new(WebhookDeliver));
        w.register(Arc::new(ReportDeliver));
        w
    }

    pub fn register(&mut self, job: Arc<dyn Job>) {
        Arc::make_mut(&mut self.handlers).insert(job.kind(), job);
    }

    /// Runs one round: claims due jobs and runs them. Returns how many ran.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let now = self.services.now();
        let claimed = jobs::claim(&self.services.db, &self.cfg.name, now, self.cfg.lease, self.cfg.batch).await?;
        let n = claimed.len();
        for job in claimed {
            self.run_job(job).await?;
        }
        Ok(n)
    }

    async fn run_job(&self, job: ClaimedJob) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        let result = match self.handlers.get(job.kind.as_str()) {
            None => Err(anyhow::anyhow!("no handler for job kind {}", job.kind)),
            Some(h) => match serde_json::from_str(&job.payload) {
                Ok(payload) => {
                    // A panicking handler must not take the worker down.
                    let fut = h.run(self.services.clone(), payload);
                    match tokio::spawn(fut).await {
                        Ok(r) => r,
                        Err(e) => Err(anyhow::anyhow!("job panicked: {e}")),
                    }
                }
                Err(e) => Err(anyhow::anyhow!("bad payload: {e}")),
            },
        };
        let now = self.services.now();
        let mut tx = self.services.db.begin().await?;
        match result {
            Ok(()) => {
                jobs::complete(&mut tx, job.id, now).await?;
                metrics_done(&job.kind, "done", started);
            }
            Err(e) => {
                let retry_at =
                    (job.attempts < job.max_attempts).then(|| now + backoff(self.cfg.backoff_base, job.attempts));
                let status = if retry_at.is_some() { "retry" } else { "dead" };
                tracing::warn!(job.id = job.id, job.kind = %job.kind, job.attempts = job.attempts, job.status = status, error = %e, "job failed");
                jobs::fail(&mut tx, job.id, &format!("{e:#}"), retry_at, now).await?;
                metrics_done(&job.kind, status, started);
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Runs until `shutdown` resolves.
    pub async fn run(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        // The timers run beside the claim loop, never inside its select: a round of claimed
        // jobs is never dropped half-way (its jobs would sit `running` until their leases
        // ran out).
        let timers = tokio::spawn(self.clone().timers(shutdown.clone()));
        let facts = tokio::spawn(self.clone().facts_refresher(shutdown.clone()));
        loop {
            if *shutdown.borrow() {
                break;
            }
            match self.run_once().await {
                Ok(0) => {
                    tokio::select! {
                        _ = tokio::time::sleep(self.cfg.idle_poll) => {}
                        _ = shutdown.changed() => {}
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "job worker round failed");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
        let _ = timers.await;
        let _ = facts.await;
    }

    /// Keeps the stored indicator facts of orders current (ARCHITECTURE D24) and writes
    /// the search keys of orders registered before they were kept (D27), in its own task
    /// so that a large backlog (after an upgrade or a bulk load) never holds up the
    /// escalation watcher.
    async fn facts_refresher(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        const ROUND: usize = 5_000;
        loop {
            let text = match self.services.backfill_order_text(ROUND as i64 * 4).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(error = %e, "order text backfill round failed");
                    0
                }
            };
            let pause = match self.services.refresh_facts(ROUND).await {
                Ok(n) if n >= ROUND || text > 0 => Duration::ZERO,
                Ok(_) => self.cfg.facts_scan,
                Err(e) => {
                    tracing::error!(error = %e, "indicator facts refresher round failed");
                    self.cfg.facts_scan
                }
            };
            if *shutdown.borrow() {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Periodic work: housekeeping jobs, the escalation watcher, the plan scheduler.
    async fn timers(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut schedule_housekeeping = tokio::time::interval(Duration::from_secs(3600));
        let mut sla_scan = tokio::time::interval(self.cfg.sla_scan);
        sla_scan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut plan_scan = tokio::time::interval(self.cfg.plan_scan);
        plan_scan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut report_scan = tokio::time::interval(self.cfg.report_scan);
        report_scan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stats_pulse = tokio::time::interval(self.cfg.stats_pulse);
        stats_pulse.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stamp = None;
        loop {
            if *shutdown.borrow() {
                return;
            }
            tokio::select! {
                r = shutdown.changed() => {
                    if r.is_err() {
                        return;
                    }
                }
                _ = schedule_housekeeping.tick() => {
                    let now = self.services.now();
                    let key = format!("purge_sessions:{}", now.strftime("%Y%m%d%H"));
                    if let Ok(mut tx) = self.services.db.begin().await {
                        let ok = enqueue(&mut tx, "purge_sessions", &serde_json::json!({}), now, Some(&key), now).await.is_ok();
                        if ok { let _ = tx.commit().await; }
                    }
                }
                _ = sla_scan.tick() => {
                    // Rounds until the backlog is worked off (after a restart it may be large).
                    loop {
                        match self.services.escalate_due(waterdesk_services::escalation::BATCH).await {
                            Ok(n) if n > 0 => continue,
                            Ok(_) => break,
                            Err(e) => { tracing::error!(error = %e, "escalation watcher round failed"); break; }
                        }
                    }
                }
                _ = stats_pulse.tick() => {
                    // Live refresh of the dashboards (R-DATA-07): one cheap look per tick.
                    if let Err(e) = self.services.stats_pulse(&mut stamp).await {
                        tracing::warn!(error = %e, "stats pulse failed");
                    }
                }
                _ = plan_scan.tick() => {
                    // Exactly once per period across rounds and replicas (unique runs).
                    if let Err(e) = self.services.plans_run_due(self.services.now()).await {
                        tracing::error!(error = %e, "plan scheduler round failed");
                    }
                }
                _ = report_scan.tick() => {
                    // Exactly once per period across rounds and replicas (unique runs).
                    if let Err(e) = self.services.reports_run_due(self.services.now()).await {
                        tracing::error!(error = %e, "report scheduler round failed");
                    }
                }
            }
        }
    }
}

fn metrics_done(kind: &str, status: &'static str, started: std::time::Instant) {
    tracing::debug!(
        job.kind = kind,
        job.status = status,
        duration_ms = started.elapsed().as_millis() as u64,
        "job finished"
    );
}

/// Deletes sessions that ended more than a day ago.
struct PurgeSessions;

impl Job for PurgeSessions {
    fn kind(&self) -> &'static str {
        "purge_sessions"
    }

    fn run(&self, services: Services, _payload: serde_json::Value) -> JobFuture {
        Box::pin(async move {
            let before = services.now() - jiff::SignedDuration::from_hours(24);
            let mut tx = services.db.begin().await?;
            let n = waterdesk_store::sessions::purge(&mut tx, before).await?;
            // Rate-limit windows that ended more than a day ago (the longest is an hour).
            let counters = waterdesk_store::rate_limits::purge(&mut tx, before.as_second()).await?;
            tx.commit().await?;
            tracing::info!(sessions.purged = n, rate_limits.purged = counters, "purged old sessions and counters");
            Ok(())
        })
    }
}

/// Automatic dispatch of an emergency (R-WO-06); idempotent: an order already
/// dispatched, or moved on, is left alone.
struct AutoDispatch;

impl Job for AutoDispatch {
    fn kind(&self) -> &'static str {
        waterdesk_services::dispatch::AUTO_DISPATCH_JOB
    }

    fn run(&self, services: Services, payload: serde_json::Value) -> JobFuture {
        Box::pin(async move {
            let id = payload["order_id"].as_i64().ok_or_else(|| anyhow::anyhow!("payload without order_id"))?;
            let to = services.auto_dispatch(id).await?;
            tracing::info!(order.id = id, assignee = ?to, "automatic dispatch");
            Ok(())
        })
    }
}

/// A callback to an order's originating system (R-WO-10): one signed POST; a non-2xx
/// answer or a network error fails the job, which the queue retries with backoff.
struct WebhookDeliver;

impl Job for WebhookDeliver {
    fn kind(&self) -> &'static str {
        waterdesk_services::webhooks::WEBHOOK_JOB
    }

    fn run(&self, services: Services, payload: serde_json::Value) -> JobFuture {
        Box::pin(async move {
            use waterdesk_services::webhooks::DeliveryOutcome;
            match services.webhook_deliver(&payload).await? {
                DeliveryOutcome::Delivered => Ok(()),
                DeliveryOutcome::Skipped(why) => {
                    tracing::info!(webhook.skipped = why, "callback not sent");
                    Ok(())
                }
                DeliveryOutcome::Failed(e) => Err(anyhow::anyhow!("callback failed: {e}")),
            }
        })
    }
}

/// A scheduled report's delivery (R-DATA-04): the workbook e-mailed to its recipients; a
/// mail server failure fails the job, which the queue retries with backoff.
struct ReportDeliver;

impl Job for ReportDeliver {
    fn kind(&self) -> &'static str {
        waterdesk_services::reports::REPORT_JOB
    }

    fn run(&self, services: Services, payload: serde_json::Value) -> JobFuture {
        Box::pin(async move {
            use waterdesk_services::reports::Delivery;
            let id = payload["run_id"].as_i64().ok_or_else(|| anyhow::anyhow!("payload without run_id"))?;
            match services.report_deliver(id).await? {
                Delivery::Sent { rows, recipients } => {
                    tracing::info!(report.run = id, rows, recipients, "report delivered");
                    Ok(())
                }
                Delivery::Skipped(why) => {
                    tracing::info!(report.run = id, report.skipped = %why, "report not sent");
                    Ok(())
                }
                Delivery::Failed(e) => Err(anyhow::anyhow!("report e-mail failed: {e}")),
            }
        })
    }
}

/// Listens for PostgreSQL notifications and republishes them on the local bus, so every
/// replica's SSE clients see every replica's events. Reconnects on failure.
pub async fn pg_event_listener(url: String, bus: EventBus, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        match sqlx::postgres::PgListener::connect(&url).await {
            Ok(mut l) => {
                if let Err(e) = l.listen(waterdesk_services::events::PG_CHANNEL).await {
                    tracing::error!(error = %e, "LISTEN failed");
                } else {
                    loop {
                        tokio::select! {
                            _ = shutdown.changed() => return,
                            n = l.recv() => match n {
                                Ok(n) => match serde_json::from_str::<Event>(n.payload()) {
                                    Ok(e) => bus.publish_local(e),
                                    Err(e) => tracing::warn!(error = %e, "malformed event notification"),
                                },
                                Err(e) => { tracing::warn!(error = %e, "event listener lost its connection"); break; }
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "event listener cannot connect"),
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = jiff::SignedDuration::from_secs(5);
        let b1 = backoff(base, 1).as_secs_f64();
        let b4 = backoff(base, 4).as_secs_f64();
        assert!((4.0..=6.0).contains(&b1), "{b1}");
        assert!((32.0..=48.0).contains(&b4), "{b4}");
        assert!(backoff(base, 30).as_secs_f64() <= 3600.0 * 1.2);
    }
}
