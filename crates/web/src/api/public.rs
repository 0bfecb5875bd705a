//! Public operations (no sign-in; credentials are ignored): the customer's progress
//! look-up (R-DATA-06), rate-limited per client address and per number.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use waterdesk_services::progress::{ProgressFacts, ProgressQuery};

use crate::auth::Ctx;
use crate::error::{ApiError, ErrorBody};
use crate::i18n::Lang;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(post_progress))
}

/// A milestone of the progress.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Milestone {
    /// `registered`, `accepted`, `dispatched`, `arrived`, `resolved`, `concluded`, `replied`.
    pub stage: String,
    pub label: String,
    pub at: jiff::Timestamp,
}

/// Where an order or contact stands, as its customer may see it — nothing more.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Progress {
    pub number: String,
    /// `order` or `contact`.
    pub kind: String,
    /// The order type, or the contact's category.
    pub type_label: String,
    /// The order's category, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category_label: Option<String>,
    pub registered_at: jiff::Timestamp,
    /// `received`, `accepted`, `dispatched`, `taken`, `on_site`, `handled`, `on_hold`,
    /// `concluded`, `cancelled`, `rejected`, `replied`.
    pub stage: String,
    pub stage_label: String,
    pub milestones: Vec<Milestone>,
    /// What the customer was answered, once concluded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
}

impl Progress {
    pub fn new(f: ProgressFacts, lang: Lang) -> Progress {
        let pick = |(zh, en): (String, String)| if lang == Lang::En { en } else { zh };
        Progress {
            number: f.number,
            kind: f.kind.to_string(),
            type_label: pick(f.type_label),
            category_label: f.category_label.map(pick),
            registered_at: f.registered_at,
            stage: f.stage.to_string(),
            stage_label: lang.t(&format!("progress.stage.{}", f.stage)).to_string(),
            milestones: f
                .milestones
                .into_iter()
                .map(|(stage, at)| Milestone {
                    stage: stage.to_string(),
                    label: lang.t(&format!("progress.milestone.{stage}")).to_string(),
                    at,
                })
                .collect(),
            reply: f.reply,
        }
    }
}

/// The progress of an order (`WO…`) or contact (`C…`) for its customer, who proves it is
/// theirs with the last four digits of their phone. No sign-in. An unknown number and
/// digits that do not match answer alike: 404 `progress_not_found`. At most 10 look-ups
/// per client address in 10 minutes and 5 failed look-ups per number in an hour, else 429
/// `rate_limited` with `Retry-After` (counted in the database, across replicas).
#[utoipa::path(post, path = "/public/progress", tag = "public", request_body = ProgressQuery,
    responses((status = 200, body = Progress), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody)),
    security(()))]
async fn post_progress(
    State(st): State<AppState>,
    ctx: Ctx,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<axum::Json<Progress>, ApiError> {
    let s = st.services();
    // Counted first, so that malformed requests count too.
    s.progress_admit(&ctx.0.ip).await?;
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
    if !json {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"));
    }
    let q: ProgressQuery = serde_json::from_slice(&body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_json").detail(e.to_string())
        } else {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").detail(e.to_string())
        }
    })?;
    match s.progress_lookup(&ctx.0.ip, &q).await? {
        Some(f) => Ok(axum::Json(Progress::new(f, ctx.0.lang))),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "progress_not_found")),
    }
}
