//! One error type for the HTTP layer (after realworld-axum-sqlx's `http/error.rs`).
//!
//! A handler returns `ApiError`; its response carries an [`ErrorInfo`] extension and no
//! body yet. The [`crate::context`] middleware, which knows the request's language and
//! whether it came from a page or the API, renders the body: JSON
//! `{"error": {"code", "message", "field", "detail", "request_id"}}` for the API, an HTML
//! page (or a redirect to the sign-in page) for pages. Internals are logged once, here,
//! and never shown.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use waterdesk_services::ServiceError;
use waterdesk_store::StoreError;

/// What the renderer needs to know about an error.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub code: &'static str,
    pub field: Option<String>,
    pub detail: Option<String>,
    /// Seconds for a `Retry-After` header (rate limits).
    pub retry_after: Option<i64>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub info: ErrorInfo,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str) -> Self {
        ApiError { status, info: ErrorInfo { code, field: None, detail: None, retry_after: None } }
    }

    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.info.detail = Some(d.into());
        self
    }

    pub fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found")
    }

    /// A failure of the server itself (logged; the client sees only the code).
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal")
    }

    pub fn code(&self) -> &'static str {
        self.info.code
    }
}

/// Status for each service error.
pub fn status_of(e: &ServiceError) -> StatusCode {
    match e {
        ServiceError::Validation { .. } | ServiceError::SeparationOfDuties(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ServiceError::InvalidCredentials
        | ServiceError::TotpRequired
        | ServiceError::InvalidTotp
        | ServiceError::Unauthenticated
        | ServiceError::SessionExpired => StatusCode::UNAUTHORIZED,
        ServiceError::AccountLocked { .. } => StatusCode::LOCKED,
        ServiceError::AccountDisabled
        | ServiceError::Forbidden { .. }
        | ServiceError::PasswordChangeRequired
        | ServiceError::TotpEnrolmentRequired => StatusCode::FORBIDDEN,
        ServiceError::NotFound { .. } => StatusCode::NOT_FOUND,
        ServiceError::Duplicate { .. }
        | ServiceError::InUse { .. }
        | ServiceError::Conflict { .. }
        | ServiceError::Store(StoreError::Conflict(_)) => StatusCode::CONFLICT,
        ServiceError::Upstream { .. } => StatusCode::BAD_GATEWAY,
        ServiceError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        ServiceError::Store(_) | ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let status = status_of(&e);
        if let ServiceError::Upstream { service } = &e {
            return ApiError::new(status, "upstream_unavailable").detail(format!("{service} system unavailable"));
        }
        if status.is_server_error() {
            tracing::error!(error = %e, "internal error");
            return ApiError::new(status, "internal");
        }
        let code = e.code();
        let (field, detail) = match &e {
            ServiceError::Validation { field, detail, code } => {
                (Some(field.clone()), Some(format!("{code}: {detail}")))
            }
            ServiceError::Forbidden { permission } => (None, Some(format!("permission {permission} required"))),
            ServiceError::AccountLocked { until } => (None, Some(format!("locked until {until}"))),
            ServiceError::RateLimited { retry_after_secs } => {
                let retry_after = Some(*retry_after_secs);
                let detail = Some(format!("retry after {retry_after_secs} s"));
                return ApiError { status, info: ErrorInfo { code, field: None, detail, retry_after } };
            }
            ServiceError::NotFound { entity }
            | ServiceError::Duplicate { entity }
            | ServiceError::InUse { entity }
            | ServiceError::Conflict { entity } => (None, Some((*entity).to_string())),
            _ => (None, None),
        };
        ApiError { status, info: ErrorInfo { code, field, detail, retry_after: None } }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ServiceError::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = self.status.into_response();
        r.extensions_mut().insert(self.info);
        r
    }
}

/// The JSON error body (for the OpenAPI document).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine code, e.g. `validation_failed`, `forbidden`.
    pub code: String,
    /// Human message in the request's language (zh-CN default, `Accept-Language: en`).
    pub message: String,
    /// The input field at fault, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Technical detail (English).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// The code for a bare status produced outside handlers (router, layers).
pub fn code_for_status(s: StatusCode) -> &'static str {
    match s.as_u16() {
        400 => "bad_request",
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "timeout",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "invalid_body",
        429 => "rate_limited",
        _ => "internal",
    }
}
