//! Shared state of the HTTP layer.

use std::sync::Arc;
use std::time::Duration;

use waterdesk_services::Services;

/// HTTP settings (from the `[server]` section of the configuration).
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest accepted file for imports (`/api/v1/imports/…`), in bytes.
    pub max_import_bytes: usize,
    /// Largest accepted attachment upload (`…/attachments`), in bytes.
    pub max_attachment_bytes: usize,
    /// Requests running longer are answered with 408.
    pub request_timeout: Duration,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// Shared secret the PBX signs CTI events with; `None` turns the endpoint off.
    pub cti_secret: Option<String>,
}

impl Default for WebSettings {
    fn default() -> Self {
        WebSettings {
            max_body_bytes: 2 * 1024 * 1024,
            max_import_bytes: 100 * 1024 * 1024,
            max_attachment_bytes: 50 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            trust_forwarded_for: false,
            cti_secret: None,
        }
    }
}

pub struct Inner {
    pub services: Services,
    pub settings: WebSettings,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    pub openapi_json: std::sync::OnceLock<String>,
}

/// Cheap to clone: one `Arc`.
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl AppState {
    pub fn new(
        services: Services,
        settings: WebSettings,
        metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    ) -> Self {
        AppState(Arc::new(Inner { services, settings, metrics, openapi_json: std::sync::OnceLock::new() }))
    }

    pub fn services(&self) -> &Services {
        &self.0.services
    }
}
