//! Conditional queries over work orders (R-DATA-02), saved queries, and Excel exports of a
//! query's result with progress (R-DATA-03). The query language is in docs/QUERIES.md.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use tokio_stream::wrappers::ReceiverStream;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use waterdesk_services::order_query::{ExportRun, QueryPage, SavedQueryInput};
use waterdesk_store::order_query::SavedQuery;

use crate::auth::Auth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path};
use crate::i18n::Lang;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(run_query))
        .routes(routes!(start_export))
        .routes(routes!(export_status))
        .routes(routes!(export_file))
        .routes(routes!(list_saved, create_saved))
        .routes(routes!(get_saved, update_saved, delete_saved))
}

/// Run a query over the work orders in the caller's data scope: `{"where": {"all"|"any":
/// [conditions or groups]}, "sort": [{"field", "dir"}], "limit", "after"}` (docs/QUERIES.md).
/// Refusals are 422 `validation_failed` whose `detail` starts with a stable code
/// (`query_unknown_field`, `query_bad_operator`, `query_bad_value`, `query_too_complex`,
/// `query_range_too_large`, `query_bad_sort`, `query_bad_cursor` …) and whose `field` is
/// the JSON path of the culprit.
#[utoipa::path(post, path = "/orders/query", tag = "orders", request_body(content = Object, description = "The query document"),
    responses((status = 200, body = QueryPage), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn run_query(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Json(doc): Json<serde_json::Value>,
) -> Result<axum::Json<QueryPage>, ApiError> {
    Ok(axum::Json(st.services().order_query(&p, &doc).await?))
}

/// Start an Excel export of a query's whole result (`limit` and `after` are ignored).
/// Answers 202 with the run; poll it for progress, then download its file. More rows than
/// the caller may export (200,000 with `report.export`, else 20,000) → 422 with
/// `export_too_large` and the count in `detail`.
#[utoipa::path(post, path = "/orders/query/exports", tag = "orders", request_body(content = Object, description = "The query document"),
    responses((status = 202, body = ExportRun), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn start_export(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Json(doc): Json<serde_json::Value>,
) -> Result<(StatusCode, axum::Json<ExportRun>), ApiError> {
    let run = st.services().order_export_start(&p, &doc, ctx.lang == Lang::Zh, &ctx.audit()).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(run)))
}

/// An export's progress: `running` with rows done of total, `done`, or `failed`. Only
/// its owner sees it; runs live in the process that started them for 30 minutes.
#[utoipa::path(get, path = "/orders/query/exports/{id}", tag = "orders", params(("id" = String, Path)),
    responses((status = 200, body = ExportRun), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn export_status(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<ExportRun>, ApiError> {
    Ok(axum::Json(st.services().order_export_status(&p, &id)?))
}

/// The finished workbook (.xlsx): Chinese headers (English with `Accept-Language: en` at
/// the start), dates as Excel dates, frozen header, autofilter.
#[utoipa::path(get, path = "/orders/query/exports/{id}/file", tag = "orders", params(("id" = String, Path)),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", description = "The workbook"),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn export_file(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (file, name) = st.services().order_export_file(&p, &id)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(super::exports::send_file(file, tx));
    Ok(super::exports::attachment(
        Body::from_stream(ReceiverStream::new(rx)),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &name,
    ))
}

/// The caller's saved queries and those shared in their unit.
#[utoipa::path(get, path = "/queries", tag = "orders",
    responses((status = 200, body = Vec<SavedQuery>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn list_saved(State(st): State<AppState>, Auth(p, _): Auth) -> Result<axum::Json<Vec<SavedQuery>>, ApiError> {
    Ok(axum::Json(st.services().saved_queries(&p).await?))
}

/// Save a query (checked like a run); `shared` makes it visible to the caller's unit.
#[utoipa::path(post, path = "/queries", tag = "orders", request_body = SavedQueryInput,
    responses((status = 201, body = SavedQuery), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_saved(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Json(b): Json<SavedQueryInput>,
) -> Result<(StatusCode, axum::Json<SavedQuery>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(st.services().saved_query_create(&p, &b, &ctx.audit()).await?)))
}

/// A saved query: the caller's own, or shared in their unit.
#[utoipa::path(get, path = "/queries/{id}", tag = "orders", params(("id" = i64, Path)),
    responses((status = 200, body = SavedQuery), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_saved(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<SavedQuery>, ApiError> {
    Ok(axum::Json(st.services().saved_query(&p, id).await?))
}

/// Replace one of the caller's own saved queries (others' shared ones are read-only: 403).
#[utoipa::path(put, path = "/queries/{id}", tag = "orders", params(("id" = i64, Path)), request_body = SavedQueryInput,
    responses((status = 200, body = SavedQuery), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_saved(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Json(b): Json<SavedQueryInput>,
) -> Result<axum::Json<SavedQuery>, ApiError> {
    Ok(axum::Json(st.services().saved_query_update(&p, id, &b, &ctx.audit()).await?))
}

/// Delete one of the caller's own saved queries.
#[utoipa::path(delete, path = "/queries/{id}", tag = "orders", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn delete_saved(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    st.services().saved_query_delete(&p, id, &ctx.audit()).await?;
    Ok(StatusCode::NO_CONTENT)
}
