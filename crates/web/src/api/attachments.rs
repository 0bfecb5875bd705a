//! Attachments of orders and contacts (R-WO-07, R-CALL-01): the file is the raw request
//! body, its type in `Content-Type`, the rest in the query.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use waterdesk_services::attachments::Upload;
use waterdesk_store::attachments::{Attachment, Owner};

use crate::auth::Auth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_order, add_order))
        .routes(routes!(list_contact, add_contact))
        .routes(routes!(download))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// `before`, `during`, `after`, `signature` or `other` (default).
    pub stage: Option<String>,
    /// The file's name on the phone or PC.
    pub name: Option<String>,
    /// Where it was taken.
    pub lat: Option<f64>,
    pub lng: Option<f64>,
}

fn upload(headers: &HeaderMap, q: UploadQuery) -> Upload {
    Upload {
        content_type: headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string(),
        file_name: q.name.unwrap_or_default(),
        stage: q.stage.unwrap_or_default(),
        lat: q.lat,
        lng: q.lng,
    }
}

async fn add(
    st: AppState,
    p_ctx: Auth,
    owner: Owner,
    headers: HeaderMap,
    q: UploadQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Auth(p, ctx) = p_ctx;
    let (a, new) = st.services().attachment_add(&p, owner, &upload(&headers, q), &body, &ctx.audit()).await?;
    let status = if new { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, axum::Json(a)).into_response())
}

/// The attachments of an order.
#[utoipa::path(get, path = "/orders/{id}/attachments", tag = "orders", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Attachment>), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn list_order(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<Vec<Attachment>>, ApiError> {
    Ok(axum::Json(st.services().attachments(&p, Owner::Order(id)).await?))
}

/// Attach a photo (JPEG, PNG, WebP ≤ 10 MiB), a short video (MP4, MOV, WebM) or a
/// signature to an order. 201 when stored; 200 with the stored one when the same file was
/// sent before.
#[utoipa::path(post, path = "/orders/{id}/attachments", tag = "orders", params(("id" = i64, Path), UploadQuery),
    request_body(content = String, content_type = "image/jpeg", description = "the file's bytes; Content-Type as the file is"),
    responses((status = 201, body = Attachment), (status = 200, body = Attachment), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn add_order(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    add(st, auth, Owner::Order(id), headers, q, body).await
}

/// The attachments of a contact.
#[utoipa::path(get, path = "/contacts/{id}/attachments", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Attachment>), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn list_contact(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<Vec<Attachment>>, ApiError> {
    Ok(axum::Json(st.services().attachments(&p, Owner::Contact(id)).await?))
}

/// Attach a file (photo or short video) to a contact.
#[utoipa::path(post, path = "/contacts/{id}/attachments", tag = "contacts", params(("id" = i64, Path), UploadQuery),
    request_body(content = String, content_type = "image/jpeg", description = "the file's bytes; Content-Type as the file is"),
    responses((status = 201, body = Attachment), (status = 200, body = Attachment), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn add_contact(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    add(st, auth, Owner::Contact(id), headers, q, body).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DownloadQuery {
    /// The 320 px JPEG thumbnail of an image instead of the file.
    #[serde(default)]
    pub thumb: bool,
}

/// An attachment's file (or thumbnail), for whoever may see its order or contact.
#[utoipa::path(get, path = "/attachments/{id}", tag = "orders", params(("id" = i64, Path), DownloadQuery),
    responses((status = 200, description = "the file"), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn download(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
    Query(q): Query<DownloadQuery>,
) -> Result<Response, ApiError> {
    let (a, bytes) = st.services().attachment_bytes(&p, id, q.thumb).await?;
    let mut resp = Body::from(bytes).into_response();
    let h = resp.headers_mut();
    let ct = if q.thumb { "image/jpeg" } else { a.content_type.as_str() };
    if let Ok(v) = HeaderValue::from_str(ct) {
        h.insert(header::CONTENT_TYPE, v);
    }
    // Shown inline (photos in the page), never interpreted as anything else.
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=86400"));
    let name = format!("attachment-{}.{}", a.id, a.content_type.rsplit('/').next().unwrap_or("bin"));
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}
