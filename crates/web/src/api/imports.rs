//! File imports (R-CUS-03): the body is the CSV file itself (UTF-8 or GBK).

use axum::body::Bytes;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use waterdesk_services::import::{ImportMode, ImportPreview, ImportReport};

use crate::auth::Auth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Query;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(preview_customers)).routes(routes!(import_customers))
}

/// Show how a customers file would be read: encoding, column mapping, first rows.
#[utoipa::path(post, path = "/imports/customers/preview", tag = "customers", request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportPreview), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn preview_customers(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    body: Bytes,
) -> Result<axum::Json<ImportPreview>, ApiError> {
    Ok(axum::Json(st.services().import_preview(&p, &body)?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// `all_or_nothing` (default) or `skip_bad_rows`.
    pub mode: Option<ImportMode>,
}

/// Import customers, accounts and meters (one row per account; a known account number updates).
#[utoipa::path(post, path = "/imports/customers", tag = "customers", params(ImportQuery), request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportReport), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn import_customers(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(q): Query<ImportQuery>,
    body: Bytes,
) -> Result<axum::Json<ImportReport>, ApiError> {
    let mode = q.mode.unwrap_or(ImportMode::AllOrNothing);
    Ok(axum::Json(st.services().import_customers(&p, &body, mode, &ctx.audit()).await?))
}
