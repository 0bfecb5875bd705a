//! The dispatcher console's data (R-WO-06): the live queue and the map.

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use waterdesk_services::dispatch::Board;

use crate::auth::Auth;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(board))
}

/// Open orders in the caller's scope (waiting ones first, by priority and age) and the
/// crews with their last positions and workload.
#[utoipa::path(get, path = "/dispatch/board", tag = "orders",
    responses((status = 200, body = Board), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn board(State(st): State<AppState>, Auth(p, _): Auth) -> Result<axum::Json<Board>, ApiError> {
    Ok(axum::Json(st.services().dispatch_board(&p).await?))
}
