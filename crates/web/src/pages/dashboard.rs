//! The supervisor dashboard (R-DATA-07) and the public progress page (R-DATA-06).
//!
//! `/dashboard` renders the frame, the first figures and the labels of the codes in the
//! page's language; `dashboard.js` draws the charts with ECharts and the repair map with
//! Leaflet (both from npm, embedded; no map tiles from the internet) from
//! `GET /api/v1/stats/dashboard`, every 30 s and at once when the server announces a
//! change (`stats.changed` over the event stream). `/progress` is the customer's look-up:
//! no sign-in, a small form that `progress.js` posts as JSON to `/api/v1/public/progress`.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use waterdesk_services::ServiceError;

use super::{FlashQuery, Layout, html, pick};
use crate::auth::{Auth, Ctx};
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/dashboard", get(dashboard_page)).route("/progress", get(progress_page))
}

#[derive(Template)]
#[template(path = "stats/dashboard.html")]
pub struct DashboardPage {
    layout: Layout,
    /// The first figures (JSON), so the charts draw before the first refresh.
    data: String,
    /// Labels of the codes and the charts' texts (JSON).
    labels: String,
}

/// The texts the script needs, by key.
const TEXTS: &[&str] = &[
    "sup.contacts",
    "sup.orders",
    "sup.open",
    "sup.overdue",
    "sup.timeliness",
    "sup.satisfaction",
    "sup.registered",
    "sup.updated",
    "sup.repairs",
    "sup.no_data",
];

async fn dashboard_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    axum::extract::Query(f): axum::extract::Query<FlashQuery>,
) -> Result<Response, ApiError> {
    let s = st.services();
    let lang = ctx.lang;
    let d = s.dashboard(&p).await?;
    let mut c = s.db.read().await.map_err(ServiceError::from)?;
    let units: BTreeMap<String, String> = waterdesk_store::units::list(&mut c)
        .await
        .map_err(ServiceError::from)?
        .into_iter()
        .map(|u| (u.id.to_string(), pick(lang, &u.name, &u.name_en)))
        .collect();
    let types: BTreeMap<String, String> = waterdesk_store::orders::list_types(&mut c)
        .await
        .map_err(ServiceError::from)?
        .into_iter()
        .map(|t| (t.code.clone(), pick(lang, &t.name_zh, &t.name_en)))
        .collect();
    let dict = |items: Vec<waterdesk_store::dicts::DictItem>| -> BTreeMap<String, String> {
        items.into_iter().map(|i| (i.code.clone(), pick(lang, &i.label_zh, &i.label_en))).collect()
    };
    let mut channels = dict(waterdesk_store::dicts::items(&mut c, "channel", true).await.map_err(ServiceError::from)?);
    // Orders registered without a contact are counted by their origin.
    for o in waterdesk_services::orders::ORIGINS {
        channels.entry((*o).to_string()).or_insert_with(|| lang.t(&format!("order.origin.{o}")).to_string());
    }
    let categories = dict(waterdesk_store::dicts::items(&mut c, "category", true).await.map_err(ServiceError::from)?);
    drop(c);
    let texts: BTreeMap<&str, &str> = TEXTS.iter().map(|k| (k.trim_start_matches("sup."), lang.t(k))).collect();
    let labels = serde_json::json!({
        "units": units, "types": types, "channels": channels, "categories": categories, "texts": texts,
        "lang": lang.code(),
    })
    .to_string();
    let data = serde_json::to_string(&d).map_err(ApiError::internal)?;
    let layout = Layout::new(&st, &p, &ctx, "sup.title", &f).await;
    Ok(html(&DashboardPage { layout, data, labels }))
}

#[derive(Template)]
#[template(path = "progress.html")]
pub struct ProgressPage {
    lang: Lang,
    hotline: String,
    org_name: String,
    /// The utility's time zone (IANA name): times are shown as the utility tells them.
    tz: String,
}

impl ProgressPage {
    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }
}

/// The customer's progress look-up: public, works on a phone.
async fn progress_page(State(st): State<AppState>, ctx: Ctx) -> Response {
    let s = st.services();
    let org_name = s.param_value("org.name").await.ok().flatten().unwrap_or_default();
    let hotline = s.param_value("org.hotline").await.ok().flatten().unwrap_or_default();
    let tz = s.tz.iana_name().unwrap_or("Asia/Shanghai").to_string();
    html(&ProgressPage { lang: ctx.0.lang, hotline, org_name, tz })
}
