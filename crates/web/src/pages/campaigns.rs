//! Outbound campaigns for supervisors (R-CALL-05): list, create with a rule, generate the
//! call list, assign it to agents, follow progress, close. Agents work their call list in
//! the console.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use waterdesk_services::campaigns::{CampaignInput, CampaignView};
use waterdesk_store::campaigns::{Campaign, Target};

use super::{Choice, FlashQuery, Layout, RawForm, after_form, dict_choices, html};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/campaigns", get(list_page).post(create))
        .route("/campaigns/{id}", get(detail_page))
        .route("/campaigns/{id}/generate", post(generate))
        .route("/campaigns/{id}/assign", post(assign))
        .route("/campaigns/{id}/close", post(close))
}

#[derive(Template)]
#[template(path = "campaigns/list.html")]
pub struct ListPage {
    layout: Layout,
    campaigns: Vec<CampaignView>,
    categories: Vec<Choice>,
}

async fn list_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    let s = st.services();
    let campaigns = s.campaign_list(&p).await?;
    let categories = dict_choices(&st, &p, ctx.lang, "category", false).await?;
    let layout = Layout::new(&st, &p, &ctx, "camp.title", &f).await;
    Ok(html(&ListPage { layout, campaigns, categories }))
}

async fn create(State(st): State<AppState>, Auth(p, ctx): Auth, f: RawForm) -> Result<Response, ApiError> {
    let kind = f.get("kind").to_string();
    let lines = |k: &str| -> Vec<String> {
        f.get(k).lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
    };
    let rule = match kind.as_str() {
        "arrears" => {
            let fen = waterdesk_domain::money::Fen::parse_yuan(f.get("min_arrears_yuan")).map(|x| x.0).unwrap_or(-1);
            serde_json::json!({"min_arrears_fen": fen, "min_days_overdue": f.int("min_days_overdue").unwrap_or(-1)})
        }
        "return_visit" => serde_json::json!({"categories": f.all("categories"), "days": f.int("days").unwrap_or(-1)}),
        _ if !f.get("book_no").trim().is_empty() => serde_json::json!({"book_no": f.get("book_no").trim()}),
        _ => serde_json::json!({"account_nos": lines("account_nos")}),
    };
    let input = CampaignInput {
        name: f.get("name").to_string(),
        kind,
        rule,
        questions: lines("questions"),
        max_attempts: f.int("max_attempts"),
        retry_minutes: f.int("retry_minutes"),
        sms_template: f.get("sms_template").to_string(),
    };
    match st.services().campaign_create(&p, &input, &ctx.audit()).await {
        Ok(c) => after_form(&format!("/campaigns/{}", c.campaign.id), Ok(()), "created"),
        Err(e) => after_form::<()>("/campaigns", Err(e), ""),
    }
}

#[derive(Template)]
#[template(path = "campaigns/detail.html")]
pub struct DetailPage {
    layout: Layout,
    campaign: Campaign,
    rule: String,
    progress: BTreeMap<String, i64>,
    total: i64,
    targets: Vec<Target>,
    agents: Vec<(i64, String)>,
    agent_names: BTreeMap<i64, String>,
}

impl DetailPage {
    fn agent_name(&self, id: &Option<i64>) -> String {
        id.and_then(|i| self.agent_names.get(&i).cloned()).unwrap_or_default()
    }
}

async fn detail_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    let s = st.services();
    let d = s.campaign_get(&p, id).await?;
    let agents = s.campaign_agents(&p).await?;
    let mut layout = Layout::new(&st, &p, &ctx, "camp.title", &f).await;
    layout.title = d.campaign.name.clone();
    let targets = d.targets;
    Ok(html(&DetailPage {
        rule: d.campaign.rule.to_string(),
        total: d.progress.values().sum(),
        progress: d.progress,
        targets,
        agent_names: agents.iter().cloned().collect(),
        agents,
        campaign: d.campaign,
        layout,
    }))
}

async fn generate(State(st): State<AppState>, Auth(p, ctx): Auth, Path(id): Path<i64>) -> Result<Response, ApiError> {
    after_form(&format!("/campaigns/{id}"), st.services().campaign_generate(&p, id, &ctx.audit()).await, "saved")
}

async fn assign(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    f: RawForm,
) -> Result<Response, ApiError> {
    let agents: Vec<i64> = f.all("agents").iter().filter_map(|a| a.parse().ok()).collect();
    after_form(&format!("/campaigns/{id}"), st.services().campaign_assign(&p, id, &agents, &ctx.audit()).await, "saved")
}

async fn close(State(st): State<AppState>, Auth(p, ctx): Auth, Path(id): Path<i64>) -> Result<Response, ApiError> {
    after_form(&format!("/campaigns/{id}"), st.services().campaign_close(&p, id, &ctx.audit()).await, "saved")
}
