//! File imports (R-CUS-03): the request body is the file itself, CSV (UTF-8 or GBK) or
//! XLSX. Small files can be imported in the request; large ones run in the background
//! (`background=true`) with progress over SSE and `GET /imports/runs/{id}`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use waterdesk_services::import::{ImportKind, ImportMode, ImportPreview, ImportReport};
use waterdesk_store::imports::ImportRun;

use crate::auth::Auth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(preview))
        .routes(routes!(run_import))
        .routes(routes!(list_runs))
        .routes(routes!(get_run))
}

fn kind_of(s: &str) -> Result<ImportKind, ApiError> {
    ImportKind::parse(s).ok_or_else(ApiError::not_found)
}

/// Show how a file would be read: format, encoding, column mapping, first rows.
#[utoipa::path(post, path = "/imports/{kind}/preview", tag = "customers",
    params(("kind" = String, Path, description = "customers, readings, bills or payments")),
    request_body(content = String, content_type = "text/csv", description = "CSV (UTF-8 or GBK) or XLSX file"),
    responses((status = 200, body = ImportPreview), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn preview(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(kind): Path<String>,
    body: Bytes,
) -> Result<axum::Json<ImportPreview>, ApiError> {
    Ok(axum::Json(st.services().import_preview(&p, kind_of(&kind)?, &body)?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// `all_or_nothing` (default) or `skip_bad_rows`.
    pub mode: Option<ImportMode>,
    /// Run in the background: answers 202 with the run at once.
    #[serde(default)]
    pub background: bool,
    /// The file's name, for the list of runs.
    pub file_name: Option<String>,
}

/// Import a file: customers (one row per account; a known account number updates),
/// readings, bills or payments. Re-importing a file changes nothing.
#[utoipa::path(post, path = "/imports/{kind}", tag = "customers",
    params(("kind" = String, Path, description = "customers, readings, bills or payments"), ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "CSV (UTF-8 or GBK) or XLSX file"),
    responses((status = 200, body = ImportReport), (status = 202, body = ImportRun, description = "started in the background"),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn run_import(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(kind): Path<String>,
    Query(q): Query<ImportQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let kind = kind_of(&kind)?;
    let mode = q.mode.unwrap_or(ImportMode::AllOrNothing);
    let s = st.services();
    if q.background {
        let name = q.file_name.unwrap_or_default();
        let run = s.import_start(&p, kind, mode, &name, body.to_vec(), &ctx.audit()).await?;
        return Ok((StatusCode::ACCEPTED, axum::Json(run)).into_response());
    }
    Ok(axum::Json(s.import(&p, kind, &body, mode, &ctx.audit(), &|_, _| {}).await?).into_response())
}

/// The caller's recent import runs (all users' with `admin.job.read`).
#[utoipa::path(get, path = "/imports/runs", tag = "customers", responses((status = 200, body = Vec<ImportRun>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn list_runs(State(st): State<AppState>, Auth(p, _): Auth) -> Result<axum::Json<Vec<ImportRun>>, ApiError> {
    Ok(axum::Json(st.services().import_runs(&p).await?))
}

/// One import run: status, progress (`done` of `total` rows) and, when finished, the report.
#[utoipa::path(get, path = "/imports/runs/{id}", tag = "customers", params(("id" = i64, Path)),
    responses((status = 200, body = ImportRun), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_run(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<ImportRun>, ApiError> {
    Ok(axum::Json(st.services().import_run(&p, id).await?))
}
