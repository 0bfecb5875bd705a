//! Contacts (来电/来件), the agent's extension, the screen pop, the daily interface for
//! other systems (R-CALL-01..04, 07, 08) and the CTI event endpoint for the PBX.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use waterdesk_services::contacts::{ContactInput, ContactPage, ContactView, CtiEvent, CtiOutcome, ScreenPop};
use waterdesk_store::contacts::ContactFilter;

use crate::auth::Auth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_contacts, create_contact))
        .routes(routes!(daily_contacts))
        .routes(routes!(get_contact, update_contact))
        .routes(routes!(screen_pop))
        .routes(routes!(get_extension, set_extension, clear_extension))
        .routes(routes!(cti_event))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ContactQuery {
    /// `me` for the caller's own contacts, or a user id.
    pub agent: Option<String>,
    pub customer_id: Option<i64>,
    pub account_id: Option<i64>,
    pub caller: Option<String>,
    pub category: Option<String>,
    pub channel: Option<String>,
    /// `draft`, `open` or `replied`.
    pub status: Option<String>,
    /// Started at or after (RFC 3339).
    pub from: Option<jiff::Timestamp>,
    /// Started before (RFC 3339).
    pub to: Option<jiff::Timestamp>,
    /// Keyset cursor from `next`.
    pub before: Option<i64>,
    /// 1–500, default 50.
    pub limit: Option<i64>,
}

/// Contacts in the caller's data scope, newest first; filters combine with AND.
#[utoipa::path(get, path = "/contacts", tag = "contacts", params(ContactQuery),
    responses((status = 200, body = ContactPage), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn list_contacts(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Query(q): Query<ContactQuery>,
) -> Result<axum::Json<ContactPage>, ApiError> {
    let agent_id = match q.agent.as_deref() {
        None => None,
        Some("me") => Some(p.user_id),
        Some(id) => Some(id.parse().map_err(|_| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").detail("agent: `me` or a user id")
        })?),
    };
    let categories = q.category.map(|c| vec![c]);
    let f = ContactFilter {
        agent_id,
        customer_id: q.customer_id,
        account_id: q.account_id,
        caller: q.caller.as_deref(),
        categories: categories.as_deref(),
        channel: q.channel.as_deref(),
        status: q.status.as_deref(),
        from: q.from,
        to: q.to,
        before: q.before,
        ..Default::default()
    };
    Ok(axum::Json(st.services().contact_list(&p, f, q.limit.unwrap_or(50)).await?))
}

/// Record a contact (walk-in, web, WeChat, e-mail, or a call without CTI). The contact
/// number (热线编号) is allocated in the same transaction.
#[utoipa::path(post, path = "/contacts", tag = "contacts", request_body = ContactInput,
    responses((status = 201, body = ContactView), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn create_contact(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Json(b): Json<ContactInput>,
) -> Result<(StatusCode, axum::Json<ContactView>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(st.services().contact_create(&p, &b, &ctx.audit()).await?)))
}

#[utoipa::path(get, path = "/contacts/{id}", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 200, body = ContactView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_contact(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<ContactView>, ApiError> {
    Ok(axum::Json(st.services().contact_get(&p, id).await?))
}

/// Record what the agent entered on a contact (a call's draft) or correct it.
#[utoipa::path(put, path = "/contacts/{id}", tag = "contacts", params(("id" = i64, Path)), request_body = ContactInput,
    responses((status = 200, body = ContactView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn update_contact(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Json(b): Json<ContactInput>,
) -> Result<axum::Json<ContactView>, ApiError> {
    Ok(axum::Json(st.services().contact_update(&p, id, &b, &ctx.audit()).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DailyQuery {
    /// Local day, `YYYY-MM-DD` (required).
    pub day: Option<jiff::civil::Date>,
    /// Comma-separated categories; default `consultation,complaint,suggestion`.
    pub category: Option<String>,
    /// Cursor from `next` (ascending ids).
    pub after: Option<i64>,
    /// 1–500, default 100.
    pub limit: Option<i64>,
}

/// R-CALL-08: a day's consultations, complaints and suggestions for other systems, in
/// stable ascending order; page with `after` until `next` is null.
#[utoipa::path(get, path = "/contacts/daily", tag = "contacts", params(DailyQuery),
    responses((status = 200, body = ContactPage), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn daily_contacts(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Query(q): Query<DailyQuery>,
) -> Result<axum::Json<ContactPage>, ApiError> {
    p.require(waterdesk_domain::permissions::perm::CONTACT_READ)?;
    let day = q.day.ok_or_else(|| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").detail("day: required, YYYY-MM-DD")
    })?;
    let cats: Vec<String> = q
        .category
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let page = st.services().contacts_daily(&p, day, &cats, q.after.unwrap_or(0), q.limit.unwrap_or(100)).await?;
    Ok(axum::Json(page))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PopQuery {
    pub contact_id: Option<i64>,
    pub caller: Option<String>,
}

/// The screen pop: customers matching the caller's number, their accounts' arrears and
/// recent contacts (R-CALL-03).
#[utoipa::path(get, path = "/cti/pop", tag = "contacts", params(PopQuery),
    responses((status = 200, body = ScreenPop), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn screen_pop(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Query(q): Query<PopQuery>,
) -> Result<axum::Json<ScreenPop>, ApiError> {
    Ok(axum::Json(st.services().screen_pop(&p, q.contact_id, q.caller.as_deref().unwrap_or("")).await?))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    /// The telephone extension the agent sits at (null: none).
    pub extension: Option<String>,
}

#[utoipa::path(get, path = "/agent/extension", tag = "contacts", responses((status = 200, body = Extension)), security(("bearer" = [])))]
async fn get_extension(State(st): State<AppState>, Auth(p, _): Auth) -> Result<axum::Json<Extension>, ApiError> {
    Ok(axum::Json(Extension { extension: st.services().agent_extension(&p).await? }))
}

/// Sit at a telephone extension: calls ringing there pop up on this agent's screen.
#[utoipa::path(put, path = "/agent/extension", tag = "contacts", request_body = Extension,
    responses((status = 200, body = Extension), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn set_extension(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Json(b): Json<Extension>,
) -> Result<axum::Json<Extension>, ApiError> {
    let ext = st.services().agent_seat(&p, b.extension.as_deref().unwrap_or(""), &ctx.audit()).await?;
    Ok(axum::Json(Extension { extension: Some(ext) }))
}

#[utoipa::path(delete, path = "/agent/extension", tag = "contacts", responses((status = 204)), security(("bearer" = [])))]
async fn clear_extension(State(st): State<AppState>, Auth(p, ctx): Auth) -> Result<StatusCode, ApiError> {
    st.services().agent_unseat(&p, &ctx.audit()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How far the PBX's clock may be from ours, in seconds.
const MAX_SKEW: i64 = 300;

/// The signature a PBX sends: `sha256=` + hex HMAC-SHA256(secret, "<timestamp>.<body>").
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks `X-Waterdesk-Signature: sha256=<hex>` = HMAC-SHA256(secret, "<timestamp>.<body>")
/// with `X-Waterdesk-Timestamp: <unix seconds>` within five minutes.
pub fn verify_signature(secret: &str, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), ApiError> {
    let bad = || ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature");
    let ts = headers.get("x-waterdesk-timestamp").and_then(|v| v.to_str().ok()).ok_or_else(bad)?;
    let when: i64 = ts.trim().parse().map_err(|_| bad())?;
    if (now - when).abs() > MAX_SKEW {
        return Err(bad().detail("timestamp outside the 5-minute window"));
    }
    let sig = headers
        .get("x-waterdesk-signature")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("sha256="))
        .and_then(|h| hex::decode(h).ok())
        .ok_or_else(bad)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| bad())?;
    mac.update(ts.trim().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&sig).map_err(|_| bad())
}

/// Telephone events from the PBX (ringing, answered, hangup, ivr_rating), signed with the
/// shared secret of `[cti] secret`; see docs/INTEGRATION-cti.md. Repeated events are
/// answered with `duplicate: true` and change nothing.
#[utoipa::path(post, path = "/cti/events", tag = "contacts", request_body = CtiEvent,
    responses((status = 200, body = CtiOutcome), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody, description = "CTI is not configured"), (status = 422, body = ErrorBody)))]
async fn cti_event(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::Json<CtiOutcome>, ApiError> {
    let secret = st.0.settings.cti_secret.as_deref().ok_or_else(ApiError::not_found)?;
    verify_signature(secret, &headers, &body, st.services().now().as_second())?;
    let e: CtiEvent = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").detail(e.to_string()))?;
    Ok(axum::Json(st.services().cti_event(&e).await?))
}
