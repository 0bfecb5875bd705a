//! Outbound campaigns and call lists (R-CALL-05), the SMS outbox, QA score sheets and
//! reviews, and evaluations per agent (R-CALL-06).

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use waterdesk_services::campaigns::{
    AttemptInput, CallItem, CampaignDetail, CampaignInput, CampaignView, Generated, Review, ReviewInput, SheetInput,
};
use waterdesk_store::campaigns::{AgentScores, Attempt, Sheet, Sms, Target};

use crate::auth::Auth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_campaigns, create_campaign))
        .routes(routes!(get_campaign))
        .routes(routes!(generate))
        .routes(routes!(assign))
        .routes(routes!(close))
        .routes(routes!(call_list))
        .routes(routes!(attempts, record_attempt))
        .routes(routes!(sms_outbox))
        .routes(routes!(sheets, create_sheet))
        .routes(routes!(review))
        .routes(routes!(agent_scores))
}

#[utoipa::path(get, path = "/campaigns", tag = "campaigns", responses((status = 200, body = Vec<CampaignView>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn list_campaigns(
    State(st): State<AppState>,
    Auth(p, _): Auth,
) -> Result<axum::Json<Vec<CampaignView>>, ApiError> {
    Ok(axum::Json(st.services().campaign_list(&p).await?))
}

/// Create a campaign: return visits, arrears reminders or a survey, with its rule.
#[utoipa::path(post, path = "/campaigns", tag = "campaigns", request_body = CampaignInput,
    responses((status = 201, body = CampaignView), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn create_campaign(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Json(b): Json<CampaignInput>,
) -> Result<(StatusCode, axum::Json<CampaignView>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(st.services().campaign_create(&p, &b, &ctx.audit()).await?)))
}

#[utoipa::path(get, path = "/campaigns/{id}", tag = "campaigns", params(("id" = i64, Path)),
    responses((status = 200, body = CampaignDetail), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_campaign(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<CampaignDetail>, ApiError> {
    Ok(axum::Json(st.services().campaign_get(&p, id).await?))
}

/// Generate (or top up) the call list from the campaign's rule; targets already on the list
/// are not added again.
#[utoipa::path(post, path = "/campaigns/{id}/generate", tag = "campaigns", params(("id" = i64, Path)),
    responses((status = 200, body = Generated), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn generate(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<Generated>, ApiError> {
    Ok(axum::Json(st.services().campaign_generate(&p, id, &ctx.audit()).await?))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// User ids of the agents, served in turn.
    pub agents: Vec<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Assigned {
    pub assigned: usize,
}

/// Share the unassigned targets among agents, in turn.
#[utoipa::path(post, path = "/campaigns/{id}/assign", tag = "campaigns", params(("id" = i64, Path)), request_body = AssignBody,
    responses((status = 200, body = Assigned), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn assign(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Json(b): Json<AssignBody>,
) -> Result<axum::Json<Assigned>, ApiError> {
    Ok(axum::Json(Assigned { assigned: st.services().campaign_assign(&p, id, &b.agents, &ctx.audit()).await? }))
}

#[utoipa::path(post, path = "/campaigns/{id}/close", tag = "campaigns", params(("id" = i64, Path)),
    responses((status = 200, body = CampaignView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn close(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<CampaignView>, ApiError> {
    Ok(axum::Json(st.services().campaign_close(&p, id, &ctx.audit()).await?))
}

/// The caller's due calls of active campaigns, oldest first.
#[utoipa::path(get, path = "/calls", tag = "campaigns", responses((status = 200, body = Vec<CallItem>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn call_list(State(st): State<AppState>, Auth(p, _): Auth) -> Result<axum::Json<Vec<CallItem>>, ApiError> {
    Ok(axum::Json(st.services().call_list(&p).await?))
}

#[utoipa::path(get, path = "/campaign-targets/{id}/attempts", tag = "campaigns", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Attempt>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn attempts(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<Vec<Attempt>>, ApiError> {
    Ok(axum::Json(st.services().target_attempts(&p, id).await?))
}

/// Record a call attempt: reached (with satisfaction or survey answers), no answer
/// (retried; SMS after the last attempt if the campaign has one), refused, wrong number.
#[utoipa::path(post, path = "/campaign-targets/{id}/attempts", tag = "campaigns", params(("id" = i64, Path)), request_body = AttemptInput,
    responses((status = 200, body = Target), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn record_attempt(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Json(b): Json<AttemptInput>,
) -> Result<axum::Json<Target>, ApiError> {
    Ok(axum::Json(st.services().attempt_record(&p, id, &b, &ctx.audit()).await?))
}

/// Text messages queued for the SMS provider, newest first.
#[utoipa::path(get, path = "/sms/outbox", tag = "campaigns", responses((status = 200, body = Vec<Sms>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn sms_outbox(State(st): State<AppState>, Auth(p, _): Auth) -> Result<axum::Json<Vec<Sms>>, ApiError> {
    Ok(axum::Json(st.services().sms_outbox(&p).await?))
}

#[utoipa::path(get, path = "/qa/sheets", tag = "campaigns", responses((status = 200, body = Vec<Sheet>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn sheets(State(st): State<AppState>, Auth(p, _): Auth) -> Result<axum::Json<Vec<Sheet>>, ApiError> {
    Ok(axum::Json(st.services().qa_sheets(&p).await?))
}

/// Create a QA score sheet: items with their most points.
#[utoipa::path(post, path = "/qa/sheets", tag = "campaigns", request_body = SheetInput,
    responses((status = 201, body = Sheet), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn create_sheet(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Json(b): Json<SheetInput>,
) -> Result<(StatusCode, axum::Json<Sheet>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(st.services().qa_sheet_create(&p, &b, &ctx.audit()).await?)))
}

/// Score an agent's contact on a sheet (服务规范度); scoring again replaces your review.
#[utoipa::path(post, path = "/contacts/{id}/qa", tag = "campaigns", params(("id" = i64, Path)), request_body = ReviewInput,
    responses((status = 200, body = Review), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn review(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Json(b): Json<ReviewInput>,
) -> Result<axum::Json<Review>, ApiError> {
    Ok(axum::Json(st.services().qa_review(&p, id, &b, &ctx.audit()).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    /// RFC 3339, inclusive (default: 30 days before `to`).
    pub from: Option<jiff::Timestamp>,
    /// RFC 3339, exclusive (default: the end of today).
    pub to: Option<jiff::Timestamp>,
}

/// Evaluations per agent over a period: QA points, IVR ratings, return-visit satisfaction.
#[utoipa::path(get, path = "/evaluations/agents", tag = "campaigns", params(PeriodQuery),
    responses((status = 200, body = Vec<AgentScores>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn agent_scores(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Query(q): Query<PeriodQuery>,
) -> Result<axum::Json<Vec<AgentScores>>, ApiError> {
    let s = st.services();
    let end_of_today = s.now().to_zoned(s.tz.clone()).tomorrow().and_then(|z| z.start_of_day()).map(|z| z.timestamp());
    let to = q.to.unwrap_or_else(|| end_of_today.unwrap_or_else(|_| s.now()));
    let from = q.from.unwrap_or_else(|| to.checked_sub(jiff::SignedDuration::from_hours(24 * 30)).unwrap_or(to));
    Ok(axum::Json(st.services().agent_scores(&p, from, to).await?))
}
