//! The dispatcher console (R-WO-06): the live queue of open orders — waiting ones first,
//! by priority and age — beside a map of the orders and the crews. The page renders the
//! queue; `dispatch.js` keeps both fresh from `GET /api/v1/dispatch/board` (every 15 s,
//! and at once when an escalation or a failed automatic dispatch is announced) and draws
//! the map with Leaflet (from npm, embedded) over a plain coordinate grid: no tiles from
//! the internet.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use waterdesk_services::dispatch::BoardOrder;

use super::orders::state_label;
use super::{FlashQuery, Layout, html};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::Query;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/dispatch", get(board_page))
}

/// A row of the queue.
pub struct QueueRow {
    pub o: BoardOrder,
    pub state: String,
    pub age: String,
}

#[derive(Template)]
#[template(path = "dispatch/board.html")]
pub struct BoardPage {
    layout: Layout,
    rows: Vec<QueueRow>,
    waiting: usize,
    overdue: usize,
    crews: usize,
}

async fn board_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    let board = st.services().dispatch_board(&p).await?;
    let layout = Layout::new(&st, &p, &ctx, "dispatch.title", &f).await;
    let now = st.services().now();
    let waiting = board.orders.iter().filter(|o| o.waiting).count();
    let overdue = board.orders.iter().filter(|o| o.overdue).count();
    let crews = board.crews.len();
    let rows = board
        .orders
        .into_iter()
        .map(|o| {
            let mins = now.duration_since(o.created_at).as_mins().max(0);
            let age = if mins < 60 {
                format!("{mins}′")
            } else if mins < 48 * 60 {
                format!("{}h", mins / 60)
            } else {
                format!("{}d", mins / 1440)
            };
            QueueRow { state: state_label(ctx.lang, &o.state), age, o }
        })
        .collect();
    Ok(html(&BoardPage { layout, rows, waiting, overdue, crews }))
}
