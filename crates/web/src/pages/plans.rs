//! Recurring order plans for dispatchers (R-WO-12) — the list, a create form, a plan's
//! runs with the orders they created — and the administrators' callback subscriptions
//! (R-WO-10) with their delivery attempts.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use waterdesk_domain::workflow::State as OrderState;
use waterdesk_services::orders::ORIGINS;
use waterdesk_services::plans::{PlanInput, PlanView};
use waterdesk_services::webhooks::{EVENTS, SubscriptionInput};
use waterdesk_store::plans::PlanRun;
use waterdesk_store::webhooks::{Delivery, Subscription};

use super::{Choice, FlashQuery, Layout, RawForm, after_form, html, pick};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::i18n::Lang;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/plans", get(list_page).post(create))
        .route("/plans/{id}", get(detail_page))
        .route("/plans/{id}/enable", post(enable))
        .route("/plans/{id}/disable", post(disable))
        .route("/admin/webhooks", get(hooks_page).post(create_hook))
        .route("/admin/webhooks/{id}", get(hook_page))
        .route("/admin/webhooks/{id}/enable", post(enable_hook))
        .route("/admin/webhooks/{id}/disable", post(disable_hook))
}

/// A plan as a row: labels in the page's language.
pub struct PlanRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub type_name: String,
    pub schedule: String,
    pub next: String,
    pub last: String,
    pub enabled: bool,
    pub template: String,
}

fn row(layout: &Layout, types: &[Choice], v: &PlanView) -> PlanRow {
    let p = &v.plan;
    let lang = layout.lang;
    let day = match p.every.as_str() {
        "weekly" => format!(" {}{}", if lang == Lang::En { "day " } else { "周" }, p.day),
        "monthly" => format!(" {}{}", p.day, if lang == Lang::En { "." } else { "日" }),
        _ => String::new(),
    };
    let mut template = format!(
        "{} · {}/{}",
        p.title,
        lang.t(&format!("order.level.{}", p.impact)),
        lang.t(&format!("order.level.{}", p.urgency))
    );
    if p.kind == "meter_age" {
        template.push_str(&format!(" · ≥ {} {} · ≤ {}", p.meter_age_years, lang.t("plan.years_short"), p.max_per_run));
    }
    PlanRow {
        id: p.id,
        name: p.name.clone(),
        kind: lang.t(&format!("plan.kind.{}", p.kind)).to_string(),
        type_name: types.iter().find(|(c, _)| *c == p.type_code).map_or(p.type_code.clone(), |(_, l)| l.clone()),
        schedule: format!("{}{day} {}", lang.t(&format!("plan.every.{}", p.every)), p.at_time),
        next: v.next_due_at.map(|t| layout.dt(&t)).unwrap_or_default(),
        last: match (&v.last_period, v.last_orders) {
            (Some(k), Some(n)) => format!("{k} · {n}"),
            _ => String::new(),
        },
        enabled: p.enabled,
        template,
    }
}

async fn type_choices(st: &AppState, p: &waterdesk_services::Principal, lang: Lang) -> Result<Vec<Choice>, ApiError> {
    Ok(st.services().order_types(p).await?.into_iter().map(|t| (t.code, pick(lang, &t.name_zh, &t.name_en))).collect())
}

#[derive(Template)]
#[template(path = "plans/list.html")]
pub struct ListPage {
    layout: Layout,
    plans: Vec<PlanRow>,
    types: Vec<Choice>,
    levels: Vec<Choice>,
}

async fn list_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    let plans = st.services().plan_list(&p).await?;
    let types = type_choices(&st, &p, ctx.lang).await?;
    let layout = Layout::new(&st, &p, &ctx, "plan.title", &f).await;
    let plans = plans.iter().map(|v| row(&layout, &types, v)).collect();
    let levels = ["low", "medium", "high"]
        .iter()
        .map(|l| (l.to_string(), ctx.lang.t(&format!("order.level.{l}")).to_string()))
        .collect();
    Ok(html(&ListPage { layout, plans, types, levels }))
}

async fn create(State(st): State<AppState>, Auth(p, ctx): Auth, f: RawForm) -> Result<Response, ApiError> {
    let meter_age = f.get("kind") == "meter_age";
    let num = |k: &str| f.get(k).trim().parse::<f64>().ok();
    let input = PlanInput {
        name: f.get("name").into(),
        kind: f.get("kind").into(),
        type_code: if meter_age { String::new() } else { f.get("type_code").into() },
        every: f.get("every").into(),
        day: f.int("day").unwrap_or(0),
        at_time: f.get("at_time").into(),
        title: f.get("title").into(),
        content: f.get("content").into(),
        address: f.get("address").into(),
        impact: f.get("impact").into(),
        urgency: f.get("urgency").into(),
        lat: num("lat"),
        lng: num("lng"),
        meter_age_years: if meter_age { Some(f.int("meter_age_years").unwrap_or(0)) } else { None },
        max_per_run: if meter_age { f.int("max_per_run") } else { None },
        unit_id: None,
    };
    match st.services().plan_create(&p, &input, &ctx.audit()).await {
        Ok(v) => after_form(&format!("/plans/{}", v.plan.id), Ok(()), "created"),
        Err(e) => after_form::<()>("/plans", Err(e), ""),
    }
}

/// A run as a row.
pub struct RunRow {
    pub period: String,
    pub due: String,
    pub at: String,
    pub count: i64,
    pub note: String,
    /// (order id, number, state label)
    pub orders: Vec<(i64, String, String)>,
}

#[derive(Template)]
#[template(path = "plans/detail.html")]
pub struct DetailPage {
    layout: Layout,
    plan: PlanRow,
    runs: Vec<RunRow>,
}

async fn detail_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    let d = st.services().plan_get(&p, id, 50).await?;
    let types = type_choices(&st, &p, ctx.lang).await?;
    let mut layout = Layout::new(&st, &p, &ctx, "plan.title", &f).await;
    layout.title = d.view.plan.name.clone();
    let plan = row(&layout, &types, &d.view);
    let lang = ctx.lang;
    let state = |code: &str| {
        OrderState::parse(code).map(|s| pick(lang, s.label().0, s.label().1)).unwrap_or_else(|| code.to_string())
    };
    let runs = d
        .runs
        .iter()
        .map(|r: &PlanRun| RunRow {
            period: r.period_key.clone(),
            due: layout.dt(&r.due_at),
            at: layout.dt(&r.created_at),
            count: r.orders_created,
            note: r.note.clone(),
            orders: r.orders.iter().map(|o| (o.order_id, o.order_no.clone(), state(&o.state))).collect(),
        })
        .collect();
    Ok(html(&DetailPage { layout, plan, runs }))
}

async fn enable(State(st): State<AppState>, Auth(p, ctx): Auth, Path(id): Path<i64>) -> Result<Response, ApiError> {
    after_form(&format!("/plans/{id}"), st.services().plan_set_enabled(&p, id, true, &ctx.audit()).await, "saved")
}

async fn disable(State(st): State<AppState>, Auth(p, ctx): Auth, Path(id): Path<i64>) -> Result<Response, ApiError> {
    after_form(&format!("/plans/{id}"), st.services().plan_set_enabled(&p, id, false, &ctx.audit()).await, "saved")
}

#[derive(Template)]
#[template(path = "admin/webhooks.html")]
pub struct HooksPage {
    layout: Layout,
    hooks: Vec<Subscription>,
    events: Vec<Choice>,
    origins: Vec<Choice>,
    can_write: bool,
}

async fn hooks_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    let hooks = st.services().webhook_list(&p).await?;
    let lang = ctx.lang;
    let events = EVENTS.iter().map(|e| (e.to_string(), lang.t(&format!("hook.event.{e}")).to_string())).collect();
    let origins = ORIGINS.iter().map(|o| (o.to_string(), lang.t(&format!("order.origin.{o}")).to_string())).collect();
    let layout = Layout::new(&st, &p, &ctx, "hook.title", &f).await;
    let can_write = p.has(waterdesk_domain::permissions::perm::ADMIN_PARAM_WRITE);
    Ok(html(&HooksPage { layout, hooks, events, origins, can_write }))
}

async fn create_hook(State(st): State<AppState>, Auth(p, ctx): Auth, f: RawForm) -> Result<Response, ApiError> {
    let input = SubscriptionInput {
        name: f.get("name").into(),
        url: f.get("url").into(),
        secret: f.get("secret").into(),
        events: f.all("events"),
        origins: f.all("origins"),
        enabled: true,
    };
    after_form("/admin/webhooks", st.services().webhook_create(&p, &input, &ctx.audit()).await, "created")
}

#[derive(Template)]
#[template(path = "admin/webhook.html")]
pub struct HookPage {
    layout: Layout,
    hook: Subscription,
    deliveries: Vec<Delivery>,
    can_write: bool,
}

async fn hook_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    let s = st.services();
    let hook = s.webhook_get(&p, id).await?;
    let deliveries = s.webhook_deliveries(&p, id, 200).await?;
    let mut layout = Layout::new(&st, &p, &ctx, "hook.title", &f).await;
    layout.title = hook.name.clone();
    let can_write = p.has(waterdesk_domain::permissions::perm::ADMIN_PARAM_WRITE);
    Ok(html(&HookPage { layout, hook, deliveries, can_write }))
}

async fn enable_hook(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let r = st.services().webhook_set_enabled(&p, id, true, &ctx.audit()).await;
    after_form(&format!("/admin/webhooks/{id}"), r, "saved")
}

async fn disable_hook(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let r = st.services().webhook_set_enabled(&p, id, false, &ctx.audit()).await;
    after_form(&format!("/admin/webhooks/{id}"), r, "saved")
}
