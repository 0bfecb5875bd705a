//! The audit log (read-only: there is no write or delete endpoint) and the job queue view.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use waterdesk_store::audit::{AuditEntry, AuditFilter};
use waterdesk_store::jobs::JobRow;

use crate::auth::Auth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Query;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_audit)).routes(routes!(list_jobs))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub username: Option<String>,
    pub ip: Option<String>,
    pub event_type: Option<String>,
    /// RFC 3339 instant (inclusive).
    pub from: Option<jiff::Timestamp>,
    /// RFC 3339 instant (exclusive).
    pub to: Option<jiff::Timestamp>,
    /// Keyset cursor from `next_before`.
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
}

/// Search the audit log, newest first.
#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn search_audit(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Query(q): Query<AuditQuery>,
) -> Result<axum::Json<AuditPage>, ApiError> {
    let limit = super::limit_or_default(q.limit);
    let f = AuditFilter {
        username: q.username,
        ip: q.ip,
        event_type: q.event_type,
        from: q.from,
        to: q.to,
        before_seq: q.before,
        limit,
    };
    let items = st.services().audit_search(&p, &f).await?;
    let next_before = (items.len() as i64 == limit).then(|| items.last().map(|e| e.seq)).flatten();
    Ok(axum::Json(AuditPage { items, next_before }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct JobsQuery {
    /// `pending`, `running`, `done` or `dead`.
    pub status: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobsPage {
    pub items: Vec<JobRow>,
    /// Jobs per status.
    pub counts: Vec<(String, i64)>,
}

/// Background jobs, newest first, with counts per status.
#[utoipa::path(get, path = "/jobs", tag = "system", params(JobsQuery), responses((status = 200, body = JobsPage)), security(("bearer" = [])))]
async fn list_jobs(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Query(q): Query<JobsQuery>,
) -> Result<axum::Json<JobsPage>, ApiError> {
    let (items, counts) = st.services().jobs_list(&p, q.status.as_deref(), super::limit_or_default(q.limit)).await?;
    Ok(axum::Json(JobsPage { items, counts }))
}
