//! Recurring order plans (R-WO-12) and callbacks to the systems orders come from
//! (R-WO-10): the dispatchers' plans with their runs, the administrators' webhook
//! subscriptions with their delivery attempts.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use waterdesk_services::plans::{PlanDetail, PlanInput, PlanView};
use waterdesk_services::webhooks::SubscriptionInput;
use waterdesk_store::plans::PlanRun;
use waterdesk_store::webhooks::{Delivery, Subscription};

use crate::auth::Auth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_plans, create_plan))
        .routes(routes!(get_plan, update_plan))
        .routes(routes!(enable_plan))
        .routes(routes!(disable_plan))
        .routes(routes!(plan_runs))
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(get_webhook, update_webhook))
        .routes(routes!(enable_webhook))
        .routes(routes!(disable_webhook))
        .routes(routes!(webhook_deliveries))
}

/// How many rows a list returns.
#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LimitQuery {
    /// 1–500 (default 50).
    pub limit: Option<i64>,
}

/// Recurring plans with their next due time and last run.
#[utoipa::path(get, path = "/plans", tag = "orders",
    responses((status = 200, body = Vec<PlanView>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn list_plans(State(st): State<AppState>, Auth(p, _): Auth) -> Result<axum::Json<Vec<PlanView>>, ApiError> {
    Ok(axum::Json(st.services().plan_list(&p).await?))
}

/// Create a recurring plan (`fixed`: one order per period; `meter_age`: one meter
/// replacement per old meter); it starts with its next scheduled time.
#[utoipa::path(post, path = "/plans", tag = "orders", request_body = PlanInput,
    responses((status = 201, body = PlanView), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn create_plan(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Json(b): Json<PlanInput>,
) -> Result<(StatusCode, axum::Json<PlanView>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(st.services().plan_create(&p, &b, &ctx.audit()).await?)))
}

/// A plan with its latest 20 runs.
#[utoipa::path(get, path = "/plans/{id}", tag = "orders", params(("id" = i64, Path)),
    responses((status = 200, body = PlanDetail), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_plan(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<PlanDetail>, ApiError> {
    Ok(axum::Json(st.services().plan_get(&p, id, 20).await?))
}

/// Replace a plan's definition (runs already made stay).
#[utoipa::path(put, path = "/plans/{id}", tag = "orders", params(("id" = i64, Path)), request_body = PlanInput,
    responses((status = 200, body = PlanView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn update_plan(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Json(b): Json<PlanInput>,
) -> Result<axum::Json<PlanView>, ApiError> {
    Ok(axum::Json(st.services().plan_update(&p, id, &b, &ctx.audit()).await?))
}

/// Enable a plan; it starts with its next scheduled time (missed periods are not made up).
#[utoipa::path(post, path = "/plans/{id}/enable", tag = "orders", params(("id" = i64, Path)),
    responses((status = 200, body = PlanView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn enable_plan(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<PlanView>, ApiError> {
    Ok(axum::Json(st.services().plan_set_enabled(&p, id, true, &ctx.audit()).await?))
}

#[utoipa::path(post, path = "/plans/{id}/disable", tag = "orders", params(("id" = i64, Path)),
    responses((status = 200, body = PlanView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn disable_plan(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<PlanView>, ApiError> {
    Ok(axum::Json(st.services().plan_set_enabled(&p, id, false, &ctx.audit()).await?))
}

/// A plan's runs, newest first, each with the orders it created.
#[utoipa::path(get, path = "/plans/{id}/runs", tag = "orders", params(("id" = i64, Path), LimitQuery),
    responses((status = 200, body = Vec<PlanRun>), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn plan_runs(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
    Query(q): Query<LimitQuery>,
) -> Result<axum::Json<Vec<PlanRun>>, ApiError> {
    Ok(axum::Json(st.services().plan_get(&p, id, q.limit.unwrap_or(50)).await?.runs))
}

/// Callback subscriptions with their latest attempt (the secret is never returned).
#[utoipa::path(get, path = "/webhooks", tag = "admin",
    responses((status = 200, body = Vec<Subscription>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn list_webhooks(
    State(st): State<AppState>,
    Auth(p, _): Auth,
) -> Result<axum::Json<Vec<Subscription>>, ApiError> {
    Ok(axum::Json(st.services().webhook_list(&p).await?))
}

/// Subscribe a system to order events; see docs/INTEGRATION-webhooks.md.
#[utoipa::path(post, path = "/webhooks", tag = "admin", request_body = SubscriptionInput,
    responses((status = 201, body = Subscription), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn create_webhook(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Json(b): Json<SubscriptionInput>,
) -> Result<(StatusCode, axum::Json<Subscription>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(st.services().webhook_create(&p, &b, &ctx.audit()).await?)))
}

#[utoipa::path(get, path = "/webhooks/{id}", tag = "admin", params(("id" = i64, Path)),
    responses((status = 200, body = Subscription), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_webhook(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<Subscription>, ApiError> {
    Ok(axum::Json(st.services().webhook_get(&p, id).await?))
}

/// Replace a subscription (an empty `secret` keeps the stored one).
#[utoipa::path(put, path = "/webhooks/{id}", tag = "admin", params(("id" = i64, Path)), request_body = SubscriptionInput,
    responses((status = 200, body = Subscription), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn update_webhook(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Json(b): Json<SubscriptionInput>,
) -> Result<axum::Json<Subscription>, ApiError> {
    Ok(axum::Json(st.services().webhook_update(&p, id, &b, &ctx.audit()).await?))
}

#[utoipa::path(post, path = "/webhooks/{id}/enable", tag = "admin", params(("id" = i64, Path)),
    responses((status = 200, body = Subscription), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn enable_webhook(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<Subscription>, ApiError> {
    Ok(axum::Json(st.services().webhook_set_enabled(&p, id, true, &ctx.audit()).await?))
}

/// Disable a subscription: nothing is queued for it, queued callbacks are dropped.
#[utoipa::path(post, path = "/webhooks/{id}/disable", tag = "admin", params(("id" = i64, Path)),
    responses((status = 200, body = Subscription), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn disable_webhook(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<Subscription>, ApiError> {
    Ok(axum::Json(st.services().webhook_set_enabled(&p, id, false, &ctx.audit()).await?))
}

/// A subscription's delivery attempts, newest first (status code, attempt, error).
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "admin", params(("id" = i64, Path), LimitQuery),
    responses((status = 200, body = Vec<Delivery>), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn webhook_deliveries(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
    Query(q): Query<LimitQuery>,
) -> Result<axum::Json<Vec<Delivery>>, ApiError> {
    Ok(axum::Json(st.services().webhook_deliveries(&p, id, q.limit.unwrap_or(50)).await?))
}
