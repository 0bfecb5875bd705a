//! Live updates (server-sent events) and announcements.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::Stream;
use serde::{Deserialize, Serialize};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use waterdesk_services::{Event, Principal};

use crate::auth::Auth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream_events)).routes(routes!(create_announcement))
}

/// Whether the principal may see an event with this topic.
pub fn visible(p: &Principal, topic: &str) -> bool {
    match topic.split_once(':') {
        None => topic == "all",
        Some(("user", id)) => id.parse() == Ok(p.user_id),
        Some(("unit", id)) => id.parse() == Ok(p.unit_id),
        Some(("perm", perm)) => p.has(perm),
        Some(_) => false,
    }
}

/// Live events for the caller (`text/event-stream`): each SSE message has the event kind
/// as its `event` and the event as JSON `data`.
#[utoipa::path(get, path = "/events/stream", tag = "system", responses((status = 200, content_type = "text/event-stream", description = "event stream")), security(("bearer" = [])))]
async fn stream_events(
    State(st): State<AppState>,
    Auth(p, _): Auth,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = st.services().events.subscribe();
    let stream = BroadcastStream::new(rx).filter_map(move |r: Result<Event, _>| {
        let e = r.ok()?;
        if !visible(&p, &e.topic) {
            return None;
        }
        let data = serde_json::to_string(&e).ok()?;
        Some(Ok(SseEvent::default().event(e.kind.clone()).id(e.id.to_string()).data(data)))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnnouncementBody {
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AnnouncementCreated {
    pub event_id: i64,
}

/// Broadcast an announcement to every signed-in user.
#[utoipa::path(post, path = "/announcements", tag = "system", request_body = AnnouncementBody,
    responses((status = 202, body = AnnouncementCreated), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn create_announcement(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Json(b): Json<AnnouncementBody>,
) -> Result<(StatusCode, axum::Json<AnnouncementCreated>), ApiError> {
    let event_id = st.services().announce(&p, &b.message, &ctx.audit()).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(AnnouncementCreated { event_id })))
}
