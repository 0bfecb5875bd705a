//! The service layer: the only place business rules run (DESIGN §3, principle 2).
//!
//! HTML pages, the JSON API and the CLI all call these functions, so the same request
//! gives the same result by the same logic whichever way it arrives. Each function takes
//! the acting [`Principal`], checks its permission, runs its rules, writes in one
//! transaction (with the audit entry and events), and returns plain data.

pub mod access;
pub mod admin;
pub mod attachments;
pub mod audit;
pub mod auth;
pub mod billing_provider;
pub mod blob_s3;
pub mod bootstrap;
pub mod campaigns;
pub mod clock;
pub mod config;
pub mod contacts;
pub mod customers;
pub mod dashboard;
pub mod dispatch;
pub mod duplicates;
pub mod error;
pub mod escalation;
pub mod events;
pub mod import;
pub mod import_runs;
mod input;
pub mod mail;
pub mod order_query;
pub mod order_views;
pub mod orders;
pub mod overview;
pub mod plans;
pub mod principal;
pub mod progress;
pub mod reports;
pub mod seed;
pub mod seed_work;
pub mod sheet;
pub mod stats;
pub mod webhooks;

use std::sync::Arc;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::AuthConfig;
pub use error::{ServiceError, ServiceResult};
pub use events::{Event, EventBus};
pub use principal::Principal;
use waterdesk_store::Db;

/// Everything a service call needs: the database, the clock, the policies.
#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub auth: Arc<AuthConfig>,
    pub tz: jiff::tz::TimeZone,
    pub events: EventBus,
    /// Where account balances come from.
    pub billing: Arc<billing_provider::BillingConfig>,
    /// Progress of the imports this process is running: id → (done, total).
    pub imports: import_runs::Running,
    /// Where attachment bytes live.
    pub blobs: Arc<dyn attachments::BlobStore>,
    pub limits: attachments::AttachmentLimits,
    /// Contact registrations, committed in groups (ARCHITECTURE D17).
    pub(crate) contact_writes: waterdesk_store::Batcher<contacts::ContactWrites>,
    /// Outgoing e-mail (scheduled reports).
    pub mailer: Arc<dyn mail::Mailer>,
    /// Supervisor dashboards computed recently, per data scope.
    pub dashboards: dashboard::DashboardCache,
    /// Limits of the public progress look-up.
    pub progress_limits: progress::ProgressLimits,
}

impl Services {
    pub fn new(db: Db, clock: Arc<dyn Clock>, auth: AuthConfig, tz: jiff::tz::TimeZone) -> Self {
        let events = EventBus::new(db.backend());
        let contact_writes = waterdesk_store::Batcher::new(&db, contacts::ContactWrites { tz: tz.clone() });
        Services {
            contact_writes,
            db,
            clock,
            auth: Arc::new(auth),
            tz,
            events,
            billing: Arc::new(Default::default()),
            imports: Default::default(),
            blobs: attachments::local_store(std::path::Path::new("data")),
            limits: Default::default(),
            mailer: Arc::new(mail::NoMailer),
            dashboards: Default::default(),
            progress_limits: Default::default(),
        }
    }

    /// Uses another blob store for attachments, with its limits.
    pub fn with_blobs(mut self, blobs: Arc<dyn attachments::BlobStore>, limits: attachments::AttachmentLimits) -> Self {
        self.blobs = blobs;
        self.limits = limits;
        self
    }

    /// Sends e-mail through `mailer`.
    pub fn with_mailer(mut self, mailer: Arc<dyn mail::Mailer>) -> Self {
        self.mailer = mailer;
        self
    }

    /// Uses another billing provider.
    pub fn with_billing(mut self, billing: billing_provider::BillingConfig) -> Self {
        self.billing = Arc::new(billing);
        self
    }

    pub fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }
}
