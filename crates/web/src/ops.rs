//! Operations endpoints (R-INT-04): liveness, readiness, Prometheus metrics, OpenAPI.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// Liveness: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers.
pub async fn readyz(State(st): State<AppState>) -> Response {
    match st.services().db.ping().await {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ready", "database": st.services().db.backend().name()})),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "unavailable", "database": "unreachable"})),
            )
                .into_response()
        }
    }
}

/// Prometheus text format.
pub async fn metrics(State(st): State<AppState>) -> Response {
    match &st.0.metrics {
        Some(h) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], h.render()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The OpenAPI 3.1 document, generated from the code.
pub async fn openapi(State(st): State<AppState>) -> Response {
    let body = st.0.openapi_json.get().cloned().unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
