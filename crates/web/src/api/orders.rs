//! Work orders (R-WO-01..13): order types with their workflows, registration, the
//! transitions of the closed loop, an order with its history.

use axum::extract::State;
use axum::http::StatusCode;
use waterdesk_services::dispatch::{PositionInput, Suggestion};
use waterdesk_services::escalation::OrderSla;
use waterdesk_services::orders::{ActInput, OrderDetail, OrderInput, OrderQuery, OrderTypeInput};
use waterdesk_store::orders::{Order, OrderType};

use crate::auth::Auth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_types))
        .routes(routes!(update_type))
        .routes(routes!(list_orders, create_order))
        .routes(routes!(get_order))
        .routes(routes!(act))
        .routes(routes!(order_sla))
        .routes(routes!(suggestions))
        .routes(routes!(position))
        .routes(routes!(set_skills))
        .routes(routes!(duplicates))
        .routes(routes!(merge))
        .routes(routes!(link_contact))
        .routes(routes!(links))
}

/// Order types with their workflow, SLA targets and calendar (JSON text).
#[utoipa::path(get, path = "/order-types", tag = "orders", responses((status = 200, body = Vec<OrderType>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn list_types(State(st): State<AppState>, Auth(p, _): Auth) -> Result<axum::Json<Vec<OrderType>>, ApiError> {
    Ok(axum::Json(st.services().order_types(&p).await?))
}

/// Replace an order type's definition; refused unless the workflow is sound (R-WO-02).
#[utoipa::path(put, path = "/order-types/{code}", tag = "orders", params(("code" = String, Path)), request_body = OrderTypeInput,
    responses((status = 200, body = OrderType), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn update_type(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(code): Path<String>,
    Json(b): Json<OrderTypeInput>,
) -> Result<axum::Json<OrderType>, ApiError> {
    Ok(axum::Json(st.services().order_type_update(&p, &code, &b, &ctx.audit()).await?))
}

/// Orders in the caller's data scope, newest first (keyset paging with `before`).
#[utoipa::path(get, path = "/orders", tag = "orders", params(OrderQuery),
    responses((status = 200, body = Vec<Order>), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn list_orders(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Query(q): Query<OrderQuery>,
) -> Result<axum::Json<Vec<Order>>, ApiError> {
    Ok(axum::Json(st.services().order_list(&p, &q).await?))
}

/// Register an order (from a contact, staff or another system).
#[utoipa::path(post, path = "/orders", tag = "orders", request_body = OrderInput,
    responses((status = 201, body = Order), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn create_order(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Json(b): Json<OrderInput>,
) -> Result<(StatusCode, axum::Json<Order>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(st.services().order_create(&p, &b, &ctx.audit()).await?)))
}

/// An order with its transitions.
#[utoipa::path(get, path = "/orders/{id}", tag = "orders", params(("id" = i64, Path)),
    responses((status = 200, body = OrderDetail), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_order(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<OrderDetail>, ApiError> {
    Ok(axum::Json(st.services().order_get(&p, id).await?))
}

/// Apply an action (accept, dispatch, acknowledge, start, complete, verify, visit, suspend,
/// resume, cancel, urge …). The type's workflow decides; `version` must be the order's
/// current one (409 otherwise).
#[utoipa::path(post, path = "/orders/{id}/actions/{action}", tag = "orders", params(("id" = i64, Path), ("action" = String, Path)),
    request_body = ActInput,
    responses((status = 200, body = Order), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn act(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path((id, action)): Path<(i64, String)>,
    Json(b): Json<ActInput>,
) -> Result<axum::Json<Order>, ApiError> {
    Ok(axum::Json(st.services().order_act(&p, id, &action, &b, &ctx.audit()).await?))
}

/// The order's deadlines (due times, share used) and escalations (R-WO-04/05).
#[utoipa::path(get, path = "/orders/{id}/sla", tag = "orders", params(("id" = i64, Path)),
    responses((status = 200, body = OrderSla), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn order_sla(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<OrderSla>, ApiError> {
    Ok(axum::Json(st.services().order_sla(&p, id).await?))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct SuggestionQuery {
    /// How many candidates, 1–200 (default 10).
    limit: Option<i64>,
}

/// Crew members ranked for dispatching the order: distance from their last position,
/// open workload, skills, service area (R-WO-06).
#[utoipa::path(get, path = "/orders/{id}/suggestions", tag = "orders", params(("id" = i64, Path), SuggestionQuery),
    responses((status = 200, body = Vec<Suggestion>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn suggestions(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
    Query(q): Query<SuggestionQuery>,
) -> Result<axum::Json<Vec<Suggestion>>, ApiError> {
    Ok(axum::Json(st.services().dispatch_suggestions(&p, id, q.limit.unwrap_or(10)).await?))
}

/// The caller's position, pinged by the field app for dispatch (crew members only).
#[utoipa::path(post, path = "/crew/position", tag = "orders", request_body = PositionInput,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn position(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Json(b): Json<PositionInput>,
) -> Result<StatusCode, ApiError> {
    st.services().crew_position(&p, &b).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SkillsInput {
    /// Order type codes; empty: every type.
    skills: Vec<String>,
}

/// Set the order types a crew member handles (dispatch prefers skilled crews).
#[utoipa::path(put, path = "/crew/{user_id}/skills", tag = "orders", params(("user_id" = i64, Path)), request_body = SkillsInput,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn set_skills(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(user_id): Path<i64>,
    Json(b): Json<SkillsInput>,
) -> Result<StatusCode, ApiError> {
    st.services().crew_set_skills(&p, user_id, &b.skills, &ctx.audit()).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- Duplicates and merging (并单, R-WO-09) ------------------------------------------

use waterdesk_services::duplicates::{
    DuplicateCandidate, DuplicateQuery, LinkContactInput, MergeInput, Merged, OrderLinks,
};
use waterdesk_store::duplicates::Link;

/// Open orders that a report of `type` at (`lat`, `lng`) may duplicate: same type, within
/// 300 m and 72 h, nearest first — offered for merging before or after registration.
#[utoipa::path(get, path = "/orders/duplicates", tag = "orders", params(DuplicateQuery),
    responses((status = 200, body = Vec<DuplicateCandidate>), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn duplicates(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Query(q): Query<DuplicateQuery>,
) -> Result<axum::Json<Vec<DuplicateCandidate>>, ApiError> {
    Ok(axum::Json(st.services().order_duplicates(&p, &q).await?))
}

/// Merge another order of the same type into this one (并单): the duplicate is cancelled
/// with a note, its reports and callers join this order and hear when it concludes.
#[utoipa::path(post, path = "/orders/{id}/merge", tag = "orders", params(("id" = i64, Path)),
    request_body = MergeInput,
    responses((status = 200, body = Merged), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn merge(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Json(b): Json<MergeInput>,
) -> Result<axum::Json<Merged>, ApiError> {
    Ok(axum::Json(st.services().order_merge(&p, id, &b, &ctx.audit()).await?))
}

/// Attach a contact to this order as a further report of the same incident.
#[utoipa::path(post, path = "/orders/{id}/contacts", tag = "orders", params(("id" = i64, Path)),
    request_body = LinkContactInput,
    responses((status = 201, body = Link), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn link_contact(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Json(b): Json<LinkContactInput>,
) -> Result<(StatusCode, axum::Json<Link>), ApiError> {
    let link = st.services().order_link_contact(&p, id, b.contact_id, &ctx.audit()).await?;
    Ok((StatusCode::CREATED, axum::Json(link)))
}

/// The reports merged into or attached to this order, and the order it was merged into.
#[utoipa::path(get, path = "/orders/{id}/links", tag = "orders", params(("id" = i64, Path)),
    responses((status = 200, body = OrderLinks), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn links(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<OrderLinks>, ApiError> {
    Ok(axum::Json(st.services().order_links(&p, id).await?))
}
