//! Statistics page (R-DATA-01/04/05): the quick counts, and the service indicators of a
//! month grouped by handling unit, with the zh/en labels of `domain::kpi::Indicator`.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use waterdesk_domain::kpi::{Indicator, Indicators, Value};
use waterdesk_services::stats::{IndicatorQuery, QuickCounts};

use super::{FlashQuery, Layout, html};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::Query;
use crate::i18n::Lang;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/stats", get(stats_page))
}

/// The page's query: a month `2026-06` (default: the current one).
#[derive(Debug, Default, serde::Deserialize)]
pub struct StatsQuery {
    pub month: Option<String>,
}

pub struct UnitRow {
    pub unit: String,
    pub values: Vec<String>,
}

#[derive(Template)]
#[template(path = "stats/index.html")]
pub struct StatsPage {
    layout: Layout,
    quick: QuickCounts,
    month: String,
    headers: Vec<&'static str>,
    rows: Vec<UnitRow>,
    total: Vec<String>,
}

/// The indicators shown: DESIGN's twenty and closing timeliness.
fn columns() -> Vec<Indicator> {
    let mut v = Indicator::DESIGN.to_vec();
    v.push(Indicator::CLOSING_TIMELINESS);
    v
}

fn cells(i: &Indicators) -> Vec<String> {
    columns()
        .into_iter()
        .map(|c| match i.get(c) {
            Value::Count(n) => n.to_string(),
            Value::Rate(Some(r)) => r.to_string(),
            Value::Rate(None) => "—".to_string(),
        })
        .collect()
}

async fn stats_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(q): Query<StatsQuery>,
) -> Result<Response, ApiError> {
    let s = st.services();
    let quick = s.quick_counts(&p).await?;
    let month = q
        .month
        .as_deref()
        .map(str::trim)
        .filter(|m| m.len() == 7 && format!("{m}-01").parse::<jiff::civil::Date>().is_ok())
        .map(str::to_string)
        .unwrap_or_else(|| s.now().to_zoned(s.tz.clone()).strftime("%Y-%m").to_string());
    let iq = IndicatorQuery { from: Some(format!("{month}-01")), group_by: Some("unit".into()), ..Default::default() };
    let groups = s.indicators_query(&p, &iq).await?;
    let units: std::collections::HashMap<i64, (String, String)> = {
        let mut c = s.db.read().await.map_err(waterdesk_services::ServiceError::from)?;
        waterdesk_store::units::list(&mut c)
            .await
            .map_err(waterdesk_services::ServiceError::from)?
            .into_iter()
            .map(|u| (u.id, (u.name, u.name_en)))
            .collect()
    };
    let mut all = Indicators::default();
    let rows = groups
        .iter()
        .map(|g| {
            all.merge(&g.exact);
            let id = g.unit_id.unwrap_or_default();
            let unit = match (units.get(&id), ctx.lang) {
                (Some((_, en)), Lang::En) if !en.is_empty() => en.clone(),
                (Some((zh, _)), _) => zh.clone(),
                (None, _) => id.to_string(),
            };
            UnitRow { unit, values: cells(&g.exact) }
        })
        .collect();
    let headers = columns()
        .into_iter()
        .map(|c| {
            let (zh, en) = c.label();
            if ctx.lang == Lang::En { en } else { zh }
        })
        .collect();
    let layout = Layout::new(&st, &p, &ctx, "stats.title", &FlashQuery::default()).await;
    Ok(html(&StatsPage { layout, quick, month, headers, rows, total: cells(&all) }))
}
