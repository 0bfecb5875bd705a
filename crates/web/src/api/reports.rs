//! Custom reports (R-DATA-03/04): saved definitions of the service indicators — dimensions,
//! indicators, filters, period — shared with the owner's unit and e-mailed on a schedule;
//! run as JSON, exported as Excel, or previewed without saving.

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use waterdesk_domain::permissions::perm;
use waterdesk_services::reports::{Definition, ReportInput, ReportResult, ReportView, XLSX_MIME, report_xlsx};
use waterdesk_store::reports::ReportRun;

use crate::api::exports::attachment;
use crate::auth::Auth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path};
use crate::i18n::Lang;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_reports, create_report))
        .routes(routes!(get_report, update_report, delete_report))
        .routes(routes!(run_report))
        .routes(routes!(export_report))
        .routes(routes!(report_runs))
        .routes(routes!(preview_report))
}

/// The caller's reports and those shared with their unit, by name.
#[utoipa::path(get, path = "/reports", tag = "stats",
    responses((status = 200, body = Vec<ReportView>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn list_reports(State(st): State<AppState>, Auth(p, _): Auth) -> Result<axum::Json<Vec<ReportView>>, ApiError> {
    Ok(axum::Json(st.services().report_list(&p).await?))
}

/// Save a report (owned by the caller, in the caller's unit). A schedule needs
/// `report.export` and at least one recipient. Validation codes (in `detail`):
/// `unknown_dimension`, `multiple_periods`, `unknown_indicator`, `no_indicators`,
/// `unknown_type`, `unknown_unit`, `too_many_values`, `invalid_period`, `invalid_time`,
/// `invalid_range`, `range_too_long`, `invalid_schedule`, `invalid_day`, `invalid_email`,
/// `too_many_recipients`, `no_recipients`, `required`, `too_long`.
#[utoipa::path(post, path = "/reports", tag = "stats", request_body = ReportInput,
    responses((status = 201, body = ReportView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_report(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Json(b): Json<ReportInput>,
) -> Result<(StatusCode, axum::Json<ReportView>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(st.services().report_create(&p, &b, &ctx.audit()).await?)))
}

/// A report the caller owns or that is shared with their unit.
#[utoipa::path(get, path = "/reports/{id}", tag = "stats", params(("id" = i64, Path)),
    responses((status = 200, body = ReportView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_report(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<ReportView>, ApiError> {
    Ok(axum::Json(st.services().report_get(&p, id).await?))
}

/// Replace a report (its owner only: others get 403).
#[utoipa::path(put, path = "/reports/{id}", tag = "stats", params(("id" = i64, Path)), request_body = ReportInput,
    responses((status = 200, body = ReportView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn update_report(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Json(b): Json<ReportInput>,
) -> Result<axum::Json<ReportView>, ApiError> {
    Ok(axum::Json(st.services().report_update(&p, id, &b, &ctx.audit()).await?))
}

/// Delete a report and its run history (its owner only).
#[utoipa::path(delete, path = "/reports/{id}", tag = "stats", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn delete_report(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    st.services().report_delete(&p, id, &ctx.audit()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Run a report now in the caller's data scope: one row per group with the chosen
/// indicators (counts as integers, rates in [0, 1], null over nothing) and the totals.
#[utoipa::path(post, path = "/reports/{id}/run", tag = "stats", params(("id" = i64, Path)),
    responses((status = 200, body = ReportResult), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn run_report(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<ReportResult>, ApiError> {
    Ok(axum::Json(st.services().report_run(&p, id).await?))
}

/// Run a report now and download it as an Excel workbook (needs `report.export`): headers
/// in the caller's language, rates as percentages, a totals row, frozen header, autofilter.
#[utoipa::path(get, path = "/reports/{id}/export.xlsx", tag = "stats", params(("id" = i64, Path)),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        description = "XLSX workbook"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn export_report(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    p.require(perm::REPORT_EXPORT).map_err(ApiError::from)?;
    let r = st.services().report_run(&p, id).await?;
    xlsx_response(r, ctx.lang, id).await
}

/// The workbook of a result as a download (written off the async threads).
pub(crate) async fn xlsx_response(r: ReportResult, lang: Lang, id: i64) -> Result<Response, ApiError> {
    let day = r.from.strftime("%Y%m%d").to_string();
    let bytes =
        tokio::task::spawn_blocking(move || report_xlsx(&r, lang == Lang::En)).await.map_err(ApiError::internal)??;
    Ok(attachment(Body::from(bytes), XLSX_MIME, &format!("report-{id}-{day}.xlsx")))
}

/// A report's latest 20 scheduled deliveries.
#[utoipa::path(get, path = "/reports/{id}/runs", tag = "stats", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<ReportRun>), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn report_runs(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<Vec<ReportRun>>, ApiError> {
    Ok(axum::Json(st.services().report_runs(&p, id).await?))
}

/// An unsaved definition to run.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewInput {
    #[serde(default)]
    pub name: String,
    pub definition: Definition,
}

/// Run a definition without saving it (the builder's preview).
#[utoipa::path(post, path = "/reports/preview", tag = "stats", request_body = PreviewInput,
    responses((status = 200, body = ReportResult), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn preview_report(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Json(b): Json<PreviewInput>,
) -> Result<axum::Json<ReportResult>, ApiError> {
    Ok(axum::Json(st.services().report_preview(&p, &b.name, &b.definition).await?))
}
