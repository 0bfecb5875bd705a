//! Order types for administrators (R-WO-02/04/08/13): the list, and one type's editor —
//! names, SLA targets per priority level as a grid of minutes, the business calendar
//! (working hours, weekdays, holidays, 调休 make-up days), and the workflow, shown as a
//! table of its steps and edited as JSON. Every save goes through
//! `Services::order_type_update`, which refuses an unsound workflow with the reason.

use std::collections::BTreeSet;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use waterdesk_domain::permissions::perm;
use waterdesk_domain::sla::{Calendar, Deadline, Targets};
use waterdesk_domain::workflow::{State as OrderState, Workflow};
use waterdesk_services::ServiceError;
use waterdesk_services::orders::{OrderTypeInput, TargetsByLevel, default_targets_by_level};
use waterdesk_store::orders::OrderType;

use super::{FlashQuery, Layout, RawForm, after_form, html, pick};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/order-types", get(list_page))
        .route("/admin/order-types/{code}", get(edit_page).post(save))
}

/// A row of the list.
pub struct TypeRow {
    pub t: OrderType,
    pub name: String,
    pub steps: usize,
    pub calendar: bool,
}

#[derive(Template)]
#[template(path = "admin/order_types.html")]
pub struct ListPage {
    layout: Layout,
    rows: Vec<TypeRow>,
}

async fn list_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    p.require(perm::ADMIN_DICT_WRITE)?;
    let layout = Layout::new(&st, &p, &ctx, "otype.title", &f).await;
    let rows = st
        .services()
        .order_types(&p)
        .await?
        .into_iter()
        .map(|t| TypeRow {
            name: pick(ctx.lang, &t.name_zh, &t.name_en),
            steps: serde_json::from_str::<Workflow>(&t.workflow).map(|w| w.steps.len()).unwrap_or(0),
            calendar: !t.calendar.is_empty(),
            t,
        })
        .collect();
    Ok(html(&ListPage { layout, rows }))
}

/// A step of the workflow, for reading.
pub struct StepRow {
    pub action: String,
    pub from: String,
    pub to: String,
    pub permission: String,
    pub required: String,
}

#[derive(Template)]
#[template(path = "admin/order_type.html")]
pub struct EditPage {
    layout: Layout,
    t: OrderType,
    /// (level, [acknowledge, arrive, complete, reply] minutes as text).
    targets: Vec<(String, Vec<String>)>,
    deadlines: Vec<String>,
    office: bool,
    start: String,
    end: String,
    /// (1–7, label, checked).
    weekdays: Vec<(i8, String, bool)>,
    holidays: String,
    workdays: String,
    workflow_json: String,
    return_visit: bool,
    customer_reply: bool,
    steps: Vec<StepRow>,
}

fn hhmm(min: u16) -> String {
    format!("{:02}:{:02}", min / 60, min % 60)
}

async fn edit_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(code): Path<String>,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    p.require(perm::ADMIN_DICT_WRITE)?;
    let lang = ctx.lang;
    let t = st
        .services()
        .order_types(&p)
        .await?
        .into_iter()
        .find(|t| t.code == code)
        .ok_or(ServiceError::NotFound { entity: "order_type" })?;
    let mut layout = Layout::new(&st, &p, &ctx, "otype.title", &f).await;
    layout.title = pick(lang, &t.name_zh, &t.name_en);
    let by_level: TargetsByLevel = serde_json::from_str(&t.targets).unwrap_or_else(|_| default_targets_by_level());
    let targets = (1..=4)
        .map(|l| {
            let tg = by_level.get(&l.to_string()).copied();
            let cells = Deadline::ALL
                .iter()
                .map(|d| tg.and_then(|tg| d.target(&tg)).map(|m| m.to_string()).unwrap_or_default())
                .collect();
            (l.to_string(), cells)
        })
        .collect();
    let deadlines = Deadline::ALL.iter().map(|d| pick(lang, d.label().0, d.label().1)).collect();
    let cal: Option<Calendar> = serde_json::from_str(&t.calendar).ok();
    let hours = cal.as_ref().and_then(|c| c.hours);
    let days = ["一", "二", "三", "四", "五", "六", "日"];
    let days_en = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let weekdays = (1..=7i8)
        .map(|d| {
            let on = cal.as_ref().map_or(d <= 5, |c| c.weekdays.contains(&d));
            let i = (d - 1) as usize;
            (d, pick(lang, &format!("周{}", days[i]), days_en[i]), on)
        })
        .collect();
    let dates = |set: Option<&BTreeSet<jiff::civil::Date>>| {
        set.map(|s| s.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")).unwrap_or_default()
    };
    let workflow: Workflow = serde_json::from_str(&t.workflow).map_err(|e| ServiceError::Internal(e.to_string()))?;
    let state = |s: &OrderState| pick(lang, s.label().0, s.label().1);
    let steps = workflow
        .steps
        .iter()
        .map(|s| StepRow {
            action: pick(lang, s.action.label().0, s.action.label().1),
            from: s.from.iter().map(state).collect::<Vec<_>>().join("、"),
            to: if s.action.keeps_state() { "—".into() } else { state(&s.to) },
            permission: s.permission.clone(),
            required: s.required.join(", "),
        })
        .collect();
    let steps_only = serde_json::json!({ "steps": workflow.steps });
    Ok(html(&EditPage {
        layout,
        targets,
        deadlines,
        office: hours.is_some(),
        start: hhmm(hours.map_or(8 * 60 + 30, |h| h.0)),
        end: hhmm(hours.map_or(17 * 60 + 30, |h| h.1)),
        weekdays,
        holidays: dates(cal.as_ref().map(|c| &c.holidays)),
        workdays: dates(cal.as_ref().map(|c| &c.workdays)),
        workflow_json: serde_json::to_string_pretty(&steps_only).unwrap_or_default(),
        return_visit: workflow.return_visit,
        customer_reply: workflow.customer_reply,
        steps,
        t,
    }))
}

fn bad(field: &str, code: &'static str, detail: impl Into<String>) -> ServiceError {
    ServiceError::validation(field, code, detail)
}

/// Minutes of the day from `HH:MM` (24:00 allowed as the end of the day).
fn minutes(s: &str, field: &str) -> Result<u16, ServiceError> {
    let (h, m) = s.trim().split_once(':').ok_or_else(|| bad(field, "invalid_time", "HH:MM"))?;
    let (h, m): (u16, u16) = (
        h.parse().map_err(|_| bad(field, "invalid_time", "HH:MM"))?,
        m.parse().map_err(|_| bad(field, "invalid_time", "HH:MM"))?,
    );
    if m >= 60 || h * 60 + m > 1440 {
        return Err(bad(field, "invalid_time", "00:00–24:00"));
    }
    Ok(h * 60 + m)
}

fn date_set(text: &str, field: &str) -> Result<BTreeSet<jiff::civil::Date>, ServiceError> {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == '，')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| bad(field, "invalid_date", format!("not a date (YYYY-MM-DD): {s}"))))
        .collect()
}

/// The form as an order type definition.
fn input_of(f: &RawForm) -> Result<OrderTypeInput, ServiceError> {
    let mut targets = TargetsByLevel::new();
    for level in 1..=4 {
        let cell = |d: Deadline| -> Result<Option<u32>, ServiceError> {
            let v = f.get(&format!("t{level}_{}", d.code()));
            if v.trim().is_empty() {
                return Ok(None);
            }
            v.trim().parse().map(Some).map_err(|_| bad("targets", "invalid_target", format!("minutes, not {v}")))
        };
        let t = Targets {
            acknowledge: cell(Deadline::Acknowledge)?,
            arrive: cell(Deadline::Arrive)?,
            complete: cell(Deadline::Complete)?,
            reply: cell(Deadline::Reply)?,
        };
        targets.insert(level.to_string(), t);
    }
    let calendar = if f.get("calendar") == "office" {
        let weekdays = f.all("weekday").iter().filter_map(|d| d.parse().ok()).collect();
        Some(Calendar {
            hours: Some((minutes(f.get("start"), "start")?, minutes(f.get("end"), "end")?)),
            weekdays,
            holidays: date_set(f.get("holidays"), "holidays")?,
            workdays: date_set(f.get("workdays"), "workdays")?,
        })
    } else {
        None
    };
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Steps {
        steps: Vec<waterdesk_domain::workflow::Step>,
    }
    let steps: Steps = serde_json::from_str(f.get("workflow"))
        .map_err(|e| bad("workflow", "invalid_workflow", format!("not a workflow: {e}")))?;
    let workflow =
        Workflow { steps: steps.steps, return_visit: f.flag("return_visit"), customer_reply: f.flag("customer_reply") };
    Ok(OrderTypeInput {
        name_zh: f.get("name_zh").to_string(),
        name_en: f.get("name_en").to_string(),
        workflow,
        targets,
        calendar,
        enabled: f.flag("enabled"),
        sort_order: f.int("sort_order").unwrap_or(0),
    })
}

async fn save(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(code): Path<String>,
    f: RawForm,
) -> Result<Response, ApiError> {
    p.require(perm::ADMIN_DICT_WRITE)?;
    let to = format!("/admin/order-types/{}", urlencoding::encode(&code));
    let r = match input_of(&f) {
        Ok(i) => st.services().order_type_update(&p, &code, &i, &ctx.audit()).await,
        Err(e) => Err(e),
    };
    after_form(&to, r, "saved")
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_and_dates() {
        assert_eq!(super::minutes("08:30", "start").unwrap(), 510);
        assert_eq!(super::minutes("24:00", "end").unwrap(), 1440);
        assert!(super::minutes("8.30", "start").is_err());
        assert!(super::minutes("25:00", "start").is_err());
        assert!(super::minutes("10:75", "start").is_err());
        let d = super::date_set("2026-10-01\n2026-10-02, 2026-10-03", "holidays").unwrap();
        assert_eq!(d.len(), 3);
        assert!(super::date_set("2026-13-01", "holidays").is_err());
    }
}
