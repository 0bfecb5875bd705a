//! The start-up sequence: database, migrations, base data, worker, event listener, HTTP.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use waterdesk_jobs::{Worker, WorkerConfig};
use waterdesk_services::bootstrap::{BootstrapReport, FirstUsers};
use waterdesk_services::{Clock, Services};
use waterdesk_store::{Db, DbOptions};
use waterdesk_web::{AppState, WebSettings};

use crate::config::Settings;

/// Opens the database and applies pending migrations.
pub async fn open_db(settings: &Settings, data_dir: &Path) -> anyhow::Result<Db> {
    let url = settings.database_url(data_dir);
    let opts = DbOptions {
        max_connections: settings.database.max_connections,
        sqlite_sync_normal: settings.database.sqlite_synchronous == "normal",
        ..Default::default()
    };
    let db = Db::connect(&url, &opts).await?;
    waterdesk_store::migrate::run(&db).await?;
    Ok(db)
}

/// The services over an open database.
pub fn services(db: Db, settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Services> {
    Ok(Services::new(db, clock, settings.auth_config(), settings.time_zone()?)
        .with_billing(settings.billing.clone())
        .with_mailer(settings.smtp.mailer()))
}

/// The configured attachment store: the data directory, or an S3-compatible bucket.
pub async fn blob_store(
    settings: &Settings,
    data_dir: &Path,
) -> anyhow::Result<Arc<dyn waterdesk_services::attachments::BlobStore>> {
    let Some(cfg) = settings.attachments.s3() else {
        return Ok(waterdesk_services::attachments::local_store(data_dir));
    };
    let store = waterdesk_services::blob_s3::S3Store::new(&cfg).map_err(|e| anyhow::anyhow!(e))?;
    // A wrong key or a missing bucket is reported now rather than at the first photo; the
    // server starts anyway, as the storage may only be down for a moment.
    match tokio::time::timeout(Duration::from_secs(5), store.probe()).await {
        Ok(Ok(())) => tracing::info!(s3.endpoint = %cfg.endpoint, s3.bucket = %cfg.bucket, "attachments in S3"),
        Ok(Err(e)) => tracing::warn!(error = %e, "attachments: the S3 bucket cannot be reached"),
        Err(_) => tracing::warn!(s3.endpoint = %cfg.endpoint, "attachments: the S3 endpoint did not answer within 5 s"),
    }
    Ok(Arc::new(store))
}

fn metrics_handle() -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    static HANDLE: OnceLock<Option<metrics_exporter_prometheus::PrometheusHandle>> = OnceLock::new();
    HANDLE.get_or_init(|| metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder().ok()).clone()
}

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    pub services: Services,
    pub report: BootstrapReport,
    shutdown: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, finishes in-flight requests and background rounds.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        for h in self.background {
            let _ = tokio::time::timeout(Duration::from_secs(10), h).await;
        }
        self.server.await??;
        // Closing waits for checked-out connections; do not hang on a leaked one.
        if tokio::time::timeout(Duration::from_secs(5), self.services.db.close()).await.is_err() {
            tracing::warn!("database pool did not close within 5 s");
        }
        Ok(())
    }

    /// Waits until the server ends (after a shutdown signal).
    pub async fn wait(self) -> anyhow::Result<()> {
        let mut rx = self.shutdown.subscribe();
        let _ = rx.wait_for(|v| *v).await;
        self.stop().await
    }

    pub fn shutdown_sender(&self) -> tokio::sync::watch::Sender<bool> {
        self.shutdown.clone()
    }
}

/// Options for `start`.
pub struct StartOptions {
    pub settings: Settings,
    pub data_dir: PathBuf,
    pub demo: bool,
    pub clock: Arc<dyn Clock>,
    /// Listen here instead of `settings.server.bind` (tests bind port 0).
    pub listener: Option<tokio::net::TcpListener>,
}

/// Starts everything and returns once the server accepts connections.
pub async fn start(o: StartOptions) -> anyhow::Result<Running> {
    std::fs::create_dir_all(&o.data_dir)
        .with_context(|| format!("cannot create data directory {}", o.data_dir.display()))?;
    let db = open_db(&o.settings, &o.data_dir).await?;
    let services = services(db.clone(), &o.settings, o.clock.clone())?.with_blobs(
        blob_store(&o.settings, &o.data_dir).await?,
        waterdesk_services::attachments::AttachmentLimits {
            max_attachment_bytes: o.settings.server.max_attachment_bytes,
        },
    );
    let first = if o.demo { FirstUsers::Demo } else { FirstUsers::Administrator };
    let report = services.bootstrap(first).await?;
    let interrupted = services.imports_mark_interrupted().await?;
    if interrupted > 0 {
        tracing::warn!(interrupted, "imports left running by the previous process were marked interrupted");
    }
    if !report.demo_logins.is_empty() {
        let lines: String = report.demo_logins.iter().map(|(u, p, r)| format!("{u} {p} {r}\n")).collect();
        let path = o.data_dir.join("demo-logins.txt");
        std::fs::write(&path, lines).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut background = Vec::new();
    if o.settings.jobs.enabled {
        let cfg = WorkerConfig {
            idle_poll: Duration::from_millis(o.settings.jobs.poll_ms),
            sla_scan: Duration::from_secs(o.settings.jobs.sla_scan_secs.max(1)),
            facts_scan: Duration::from_secs(o.settings.jobs.facts_scan_secs.max(1)),
            backoff_base: jiff::SignedDuration::from_secs(o.settings.jobs.backoff_secs.clamp(1, 3600) as i64),
            ..Default::default()
        };
        let worker = Worker::new(services.clone(), cfg);
        background.push(tokio::spawn(worker.run(rx.clone())));
    }
    if db.backend() == waterdesk_store::Backend::Postgres {
        let url = o.settings.database_url(&o.data_dir);
        background.push(tokio::spawn(waterdesk_jobs::pg_event_listener(url, services.events.clone(), rx.clone())));
    }
    let listener = match o.listener {
        Some(l) => l,
        None => tokio::net::TcpListener::bind(&o.settings.server.bind)
            .await
            .with_context(|| format!("cannot listen on {}", o.settings.server.bind))?,
    };
    let addr = listener.local_addr()?;
    let web = WebSettings {
        max_body_bytes: o.settings.server.max_body_bytes,
        max_import_bytes: o.settings.server.max_import_bytes,
        max_attachment_bytes: o.settings.server.max_attachment_bytes,
        request_timeout: Duration::from_secs(o.settings.server.request_timeout_secs),
        trust_forwarded_for: o.settings.server.trust_forwarded_for,
        cti_secret: Some(o.settings.cti.secret.clone()).filter(|s| !s.is_empty()),
    };
    let state = AppState::new(services.clone(), web, metrics_handle());
    let mut srx = rx.clone();
    let server = tokio::spawn(waterdesk_web::serve(listener, state, async move {
        let _ = srx.wait_for(|v| *v).await;
    }));
    Ok(Running { addr, services, report, shutdown: tx, server, background })
}
