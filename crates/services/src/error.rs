//! Service errors: each variant is something a caller can show or act on, with a stable
//! snake_case code that the web layer turns into a status and a localised message.

use waterdesk_store::StoreError;

pub type ServiceResult<T> = Result<T, ServiceError>;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Input that fails a rule; `code` is a stable reason, `field` names the input.
    #[error("invalid {field}: {detail}")]
    Validation { field: String, code: &'static str, detail: String },
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("account locked until {until}")]
    AccountLocked { until: jiff::Timestamp },
    #[error("account disabled")]
    AccountDisabled,
    #[error("second factor required")]
    TotpRequired,
    #[error("wrong second-factor code")]
    InvalidTotp,
    #[error("not signed in")]
    Unauthenticated,
    #[error("session expired")]
    SessionExpired,
    #[error("permission {permission} required")]
    Forbidden { permission: String },
    #[error("the password must be changed first")]
    PasswordChangeRequired,
    #[error("second factor enrolment required")]
    TotpEnrolmentRequired,
    #[error("{entity} not found")]
    NotFound { entity: &'static str },
    #[error("{entity} already exists")]
    Duplicate { entity: &'static str },
    #[error("{entity} is still in use")]
    InUse { entity: &'static str },
    /// Somebody else changed the record since it was read (optimistic concurrency).
    #[error("{entity} was changed meanwhile")]
    Conflict { entity: &'static str },
    #[error("separation of duties forbids combining {0}")]
    SeparationOfDuties(String),
    /// An outside system (billing, SMS …) failed or answered nonsense.
    #[error("{service} system unavailable")]
    Upstream { service: &'static str },
    /// Too many requests from one client (or about one record); try again after the given seconds.
    #[error("too many requests, retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: i64 },
    #[error(transparent)]
    Store(StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Validation { .. } => "validation_failed",
            ServiceError::InvalidCredentials => "invalid_credentials",
            ServiceError::AccountLocked { .. } => "account_locked",
            ServiceError::AccountDisabled => "account_disabled",
            ServiceError::TotpRequired => "totp_required",
            ServiceError::InvalidTotp => "invalid_totp",
            ServiceError::Unauthenticated => "unauthenticated",
            ServiceError::SessionExpired => "session_expired",
            ServiceError::Forbidden { .. } => "forbidden",
            ServiceError::PasswordChangeRequired => "password_change_required",
            ServiceError::TotpEnrolmentRequired => "totp_enrolment_required",
            ServiceError::NotFound { .. } => "not_found",
            ServiceError::Duplicate { .. } => "duplicate",
            ServiceError::InUse { .. } => "in_use",
            ServiceError::Conflict { .. } => "conflict",
            ServiceError::SeparationOfDuties(_) => "separation_of_duties",
            ServiceError::Upstream { .. } => "upstream_unavailable",
            ServiceError::RateLimited { .. } => "rate_limited",
            ServiceError::Store(StoreError::Conflict(_)) => "duplicate",
            ServiceError::Store(_) | ServiceError::Internal(_) => "internal",
        }
    }

    pub fn validation(field: &str, code: &'static str, detail: impl Into<String>) -> Self {
        ServiceError::Validation { field: field.to_string(), code, detail: detail.into() }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        ServiceError::Store(e)
    }
}
