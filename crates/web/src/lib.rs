//! The HTTP layer of waterdesk (axum): the JSON API, the server-rendered pages, live
//! events, operations endpoints and assets. Handlers parse, authorise through the
//! principal, call one service function and render; no SQL and no business rule here.

pub mod api;
pub mod assets;
pub mod auth;
pub mod context;
pub mod error;
pub mod extract;
pub mod i18n;
pub mod ops;
pub mod pages;
pub mod state;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use state::{AppState, WebSettings};

/// Builds the whole application router.
pub fn app(state: AppState) -> Router {
    let (api_router, openapi) = api::router().split_for_parts();
    let json = openapi.to_pretty_json().unwrap_or_default();
    let _ = state.0.openapi_json.set(json);
    let request_id = HeaderName::from_static("x-request-id");
    let max_body = state.0.settings.max_body_bytes;
    let timeout = state.0.settings.request_timeout;
    Router::new()
        .merge(api_router)
        .merge(pages::router())
        .route("/api/openapi.json", get(ops::openapi))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/assets/{*path}", get(assets::asset))
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(state.clone(), context::context))
        // The context middleware enforces the limits (larger for imports) while buffering.
        .layer(DefaultBodyLimit::max(
            max_body.max(state.0.settings.max_import_bytes).max(state.0.settings.max_attachment_bytes),
        ))
        .layer(security_header("x-content-type-options", "nosniff"))
        .layer(security_header("x-frame-options", "DENY"))
        .layer(security_header("referrer-policy", "same-origin"))
        .layer(security_header(
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; \
             connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(CatchPanicLayer::new())
        .with_state(state)
}

/// Adds a header to every response that does not set it itself.
fn security_header(name: &'static str, value: &'static str) -> SetResponseHeaderLayer<axum::http::HeaderValue> {
    SetResponseHeaderLayer::if_not_present(HeaderName::from_static(name), axum::http::HeaderValue::from_static(value))
}

async fn fallback() -> error::ApiError {
    error::ApiError::not_found()
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
