//! Statistics (R-DATA-01/04/05): the service indicators of DESIGN §5 grouped freely, and
//! the quick counts.

use axum::extract::State;
use waterdesk_services::dashboard::Dashboard;
use waterdesk_services::stats::{IndicatorQuery, IndicatorRow, QuickCounts};

use crate::auth::Auth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Query;
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_indicators))
        .routes(routes!(get_quick_counts))
        .routes(routes!(get_dashboard))
}

/// The indicators of the orders registered in `[from, to)` in the caller's data scope, as
/// of `at`, one row per group (`group_by`: unit, type, category, channel, source, day, week,
/// month). Rates are numbers in [0, 1], null over an empty denominator.
#[utoipa::path(get, path = "/stats/indicators", tag = "stats", params(IndicatorQuery),
    responses((status = 200, body = Vec<IndicatorRow>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_indicators(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Query(q): Query<IndicatorQuery>,
) -> Result<axum::Json<Vec<IndicatorRow>>, ApiError> {
    Ok(axum::Json(st.services().indicators_query(&p, &q).await?))
}

/// Quick counts (R-DATA-01): received and completed today, unprocessed, in progress,
/// awaiting conclusion, visited today, overdue — in the caller's data scope.
#[utoipa::path(get, path = "/stats/quick", tag = "stats",
    responses((status = 200, body = QuickCounts), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn get_quick_counts(State(st): State<AppState>, Auth(p, _): Auth) -> Result<axum::Json<QuickCounts>, ApiError> {
    Ok(axum::Json(st.services().quick_counts(&p).await?))
}

/// The supervisor dashboard (R-DATA-07) in the caller's data scope: today's intake by
/// channel (contacts and orders), open and overdue orders by handling unit, handling
/// timeliness and return-visit satisfaction per day of registration over the last 30 days
/// (the indicators of `/stats/indicators`), the 10 most frequent order type × category
/// pairs and the repairs of the last 30 days by map cell. Cached per scope: the current
/// figures for 5 s, the trends for 60 s.
#[utoipa::path(get, path = "/stats/dashboard", tag = "stats",
    responses((status = 200, body = Dashboard), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn get_dashboard(State(st): State<AppState>, Auth(p, _): Auth) -> Result<axum::Json<Dashboard>, ApiError> {
    Ok(axum::Json(st.services().dashboard(&p).await?))
}
