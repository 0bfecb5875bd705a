//! Custom reports page (R-DATA-03/04): the caller's reports and those shared with their
//! unit, a builder (dimensions, indicators, filters, period, sharing, schedule, recipients)
//! that previews or saves, a report's result with totals, its Excel export and a
//! print-friendly page.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use waterdesk_domain::kpi::Indicator;
use waterdesk_domain::permissions::perm;
use waterdesk_services::reports::{
    DIMENSIONS, Definition, EVERY, PERIOD_KINDS, PeriodSpec, ReportInput, ReportResult, ReportView, ScheduleSpec,
    dimension_label, period_label,
};
use waterdesk_services::stats::Filters;
use waterdesk_services::{Principal, ServiceError};
use waterdesk_store::reports::ReportRun;

use super::{FlashQuery, Layout, RawForm, after_form, dict_choices, html, pick};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::i18n::Lang;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reports", get(list_page).post(create))
        .route("/reports/{id}", get(detail_page).post(update))
        .route("/reports/{id}/delete", post(delete))
        .route("/reports/{id}/export.xlsx", get(export))
        .route("/reports/{id}/print", get(print_page))
}

/// A checkbox or option.
pub struct Opt {
    pub value: String,
    pub label: String,
    pub on: bool,
}

/// The builder form, filled from a report or a preview.
pub struct Builder {
    /// Where "save" posts.
    pub action: String,
    /// The caller may save (a new report, or their own).
    pub editable: bool,
    pub name: String,
    pub dims: Vec<Opt>,
    pub inds: Vec<Opt>,
    pub types: Vec<Opt>,
    pub units: Vec<Opt>,
    pub categories: Vec<Opt>,
    pub channels: Vec<Opt>,
    pub sources: Vec<Opt>,
    pub periods: Vec<Opt>,
    /// Fixed period: first and last day (inclusive), `YYYY-MM-DD`.
    pub from: String,
    pub to: String,
    pub shared: bool,
    pub every: Vec<Opt>,
    pub day: i64,
    pub at_time: String,
    pub recipients: String,
    pub can_schedule: bool,
    /// Some filter is set: the filter section starts open.
    pub filters_open: bool,
}

/// A result as the page shows it.
pub struct Table {
    pub headers: Vec<String>,
    pub keys: usize,
    pub rows: Vec<Vec<String>>,
    pub totals: Vec<String>,
    pub period: String,
    pub at: String,
    pub filters: String,
}

fn table(r: &ReportResult, layout: &Layout) -> Table {
    let en = layout.lang == Lang::En;
    let fmt = |v: &serde_json::Value, rate: bool| match (v.as_f64(), rate) {
        (None, _) => "—".to_string(),
        (Some(x), true) => format!("{:.2}%", x * 100.0),
        (Some(x), false) => format!("{x}"),
    };
    let values = |vals: &[serde_json::Value]| -> Vec<String> {
        vals.iter().zip(&r.indicators).map(|(v, c)| fmt(v, c.rate)).collect()
    };
    let filters = if en { &r.filters_en } else { &r.filters_zh };
    Table {
        headers: r
            .dimensions
            .iter()
            .chain(&r.indicators)
            .map(|c| if en { c.en.clone() } else { c.zh.clone() })
            .collect(),
        keys: r.dimensions.len(),
        rows: r
            .rows
            .iter()
            .map(|g| {
                let mut row: Vec<String> =
                    g.keys.iter().map(|k| if en { k.en.clone() } else { k.zh.clone() }).collect();
                row.extend(values(&g.values));
                row
            })
            .collect(),
        totals: values(&r.totals.values),
        period: r.period.clone(),
        at: layout.dt(&r.at),
        filters: if filters.is_empty() { layout.t("report.no_filters").to_string() } else { filters.clone() },
    }
}

/// The builder's choices with the definition's selections marked.
async fn builder(
    st: &AppState,
    p: &Principal,
    lang: Lang,
    action: String,
    editable: bool,
    name: &str,
    input: &ReportInput,
) -> Result<Builder, ApiError> {
    let d = &input.definition;
    let s = st.services();
    let mark = |choices: Vec<(String, String)>, on: &[String]| -> Vec<Opt> {
        choices.into_iter().map(|(value, label)| Opt { on: on.contains(&value), value, label }).collect()
    };
    let types = s
        .order_types(p)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.code, pick(lang, &t.name_zh, &t.name_en)))
        .collect();
    let scope = s.scope_unit_ids(p).await?;
    let units = {
        let mut c = s.db.read().await.map_err(ServiceError::from)?;
        waterdesk_store::units::list(&mut c).await.map_err(ServiceError::from)?
    };
    let units = units
        .into_iter()
        .filter(|u| scope.as_ref().is_none_or(|s| s.contains(&u.id)))
        .map(|u| (u.id.to_string(), pick(lang, &u.name, &u.name_en)))
        .collect();
    let unit_ids: Vec<String> = d.filters.units.iter().map(|u| u.to_string()).collect();
    let dict = |code: &'static str| dict_choices(st, p, lang, code, true);
    let (categories, channels, sources) = (
        dict("category").await.unwrap_or_default(),
        dict("channel").await.unwrap_or_default(),
        dict("source").await.unwrap_or_default(),
    );
    let label = |(zh, en): (&str, &str)| pick(lang, zh, en);
    let date = |x: &Option<String>, back: bool| -> String {
        let Some(x) = x.as_deref() else { return String::new() };
        let day = x
            .parse::<jiff::civil::Date>()
            .ok()
            .or_else(|| x.parse::<jiff::Timestamp>().ok().map(|t| t.to_zoned(s.tz.clone()).date()));
        match day {
            Some(d) if back => d.yesterday().map(|d| d.to_string()).unwrap_or_default(),
            Some(d) => d.to_string(),
            None => String::new(),
        }
    };
    Ok(Builder {
        action,
        editable,
        name: name.to_string(),
        dims: DIMENSIONS
            .iter()
            .map(|x| Opt {
                value: x.to_string(),
                label: label(dimension_label(x)),
                on: d.dimensions.iter().any(|y| y == x),
            })
            .collect(),
        inds: Indicator::ALL
            .iter()
            .map(|i| Opt {
                value: i.code().to_string(),
                label: label(i.label()),
                on: d.indicators.iter().any(|y| y == i.code()),
            })
            .collect(),
        types: mark(types, &d.filters.types),
        units: mark(units, &unit_ids),
        categories: mark(categories, &d.filters.categories),
        channels: mark(channels, &d.filters.channels),
        sources: mark(sources, &d.filters.sources),
        periods: PERIOD_KINDS
            .iter()
            .map(|k| Opt { value: k.to_string(), label: label(period_label(k)), on: d.period.kind == *k })
            .collect(),
        from: date(&d.period.from, false),
        // The stored end is exclusive; the form shows the last day.
        to: date(&d.period.to, true),
        shared: input.shared,
        every: EVERY
            .iter()
            .map(|e| Opt {
                value: e.to_string(),
                label: lang.t(&format!("report.every.{e}")).to_string(),
                on: input.schedule.every == *e,
            })
            .collect(),
        day: input.schedule.day,
        at_time: input.schedule.at_time.clone(),
        recipients: input.recipients.join(", "),
        can_schedule: p.has(perm::REPORT_EXPORT),
        filters_open: !d.filters.is_empty(),
    })
}

/// The builder's fields as a report input.
fn input_of(f: &RawForm) -> ReportInput {
    let list = |k: &str| f.all(k).into_iter().filter(|x| !x.trim().is_empty()).collect::<Vec<_>>();
    // The form's end date is the last day; the definition's end is exclusive.
    let to = f
        .get("to")
        .trim()
        .parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.tomorrow().ok())
        .map(|d| d.to_string())
        .or_else(|| Some(f.get("to").trim().to_string()).filter(|s| !s.is_empty()));
    let kind = f.get("period").trim();
    let fixed = kind == "fixed";
    ReportInput {
        name: f.get("name").to_string(),
        definition: Definition {
            dimensions: list("dim"),
            indicators: list("ind"),
            filters: Filters {
                types: list("f_type"),
                categories: list("f_category"),
                channels: list("f_channel"),
                sources: list("f_source"),
                units: f.all("f_unit").iter().filter_map(|u| u.trim().parse().ok()).collect(),
            },
            period: PeriodSpec {
                kind: if kind.is_empty() { "last_month".into() } else { kind.to_string() },
                from: if fixed { Some(f.get("from").trim().to_string()).filter(|s| !s.is_empty()) } else { None },
                to: if fixed { to } else { None },
            },
        },
        shared: f.flag("shared"),
        schedule: ScheduleSpec {
            every: if f.get("every").is_empty() { "none".into() } else { f.get("every").to_string() },
            day: f.int("day").unwrap_or(1),
            at_time: if f.get("at_time").is_empty() { "08:00".into() } else { f.get("at_time").to_string() },
        },
        recipients: f
            .get("recipients")
            .split([',', ';', '\n', ' ', '，', '；'])
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect(),
    }
}

/// A new report's starting point: the twenty indicators of last month by handling unit.
fn blank() -> ReportInput {
    ReportInput {
        name: String::new(),
        definition: Definition {
            dimensions: vec!["unit".into()],
            indicators: Indicator::DESIGN.iter().map(|i| i.code().to_string()).collect(),
            filters: Filters::default(),
            period: PeriodSpec::default(),
        },
        shared: false,
        schedule: ScheduleSpec::default(),
        recipients: Vec::new(),
    }
}

fn input_from_view(v: &ReportView) -> ReportInput {
    ReportInput {
        name: v.name.clone(),
        definition: v.definition.clone(),
        shared: v.shared,
        schedule: v.schedule.clone(),
        recipients: v.recipients.clone(),
    }
}

/// A report in the list.
pub struct Item {
    pub id: i64,
    pub name: String,
    pub owner: String,
    pub mine: bool,
    pub shared: bool,
    pub schedule: String,
    pub next: String,
}

fn schedule_text(lang: Lang, s: &ScheduleSpec) -> String {
    let every = lang.t(&format!("report.every.{}", s.every));
    match s.every.as_str() {
        "none" => every.to_string(),
        "weekly" => format!("{every} {}{} {}", if lang == Lang::En { "day " } else { "周" }, s.day, s.at_time),
        "monthly" => format!("{every} {}{} {}", s.day, if lang == Lang::En { "." } else { "日" }, s.at_time),
        _ => format!("{every} {}", s.at_time),
    }
}

#[derive(Template)]
#[template(path = "reports/list.html")]
pub struct ListPage {
    layout: Layout,
    reports: Vec<Item>,
    b: Builder,
    result: Option<Table>,
    error: String,
}

/// The list and an empty builder.
async fn list_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    render_list(&st, &p, &ctx, &f, None).await
}

/// The list and the builder; with `preview`, the builder's definition run without saving.
async fn render_list(
    st: &AppState,
    p: &Principal,
    ctx: &crate::auth::RequestCtx,
    flash: &FlashQuery,
    preview: Option<ReportInput>,
) -> Result<Response, ApiError> {
    let s = st.services();
    let list = s.report_list(p).await?;
    let layout = Layout::new(st, p, ctx, "report.title", flash).await;
    let reports = list
        .iter()
        .map(|v| Item {
            id: v.id,
            name: v.name.clone(),
            owner: v.owner_name.clone(),
            mine: v.can_edit,
            shared: v.shared,
            schedule: schedule_text(ctx.lang, &v.schedule),
            next: v.next_run_at.map(|t| layout.dt(&t)).unwrap_or_default(),
        })
        .collect();
    let (mut result, mut error) = (None, String::new());
    if let Some(input) = &preview {
        match s.report_preview(p, input.name.trim(), &input.definition).await {
            Ok(r) => result = Some(table(&r, &layout)),
            Err(e @ ServiceError::Validation { .. }) => error = validation_text(ctx.lang, &e),
            Err(e) => return Err(e.into()),
        }
    }
    let input = preview.unwrap_or_else(blank);
    let b = builder(st, p, ctx.lang, "/reports".into(), true, &input.name, &input).await?;
    Ok(html(&ListPage { layout, reports, b, result, error }))
}

fn validation_text(lang: Lang, e: &ServiceError) -> String {
    match e {
        ServiceError::Validation { field, detail, code } => {
            format!("{} {field}: {} ({code})", lang.t("error.validation_failed"), detail)
        }
        e => e.to_string(),
    }
}

/// Saves a new report, or (`op=preview`, from any builder) runs the definition unsaved.
async fn create(State(st): State<AppState>, Auth(p, ctx): Auth, f: RawForm) -> Result<Response, ApiError> {
    if f.get("op") == "preview" {
        return render_list(&st, &p, &ctx, &FlashQuery::default(), Some(input_of(&f))).await;
    }
    match st.services().report_create(&p, &input_of(&f), &ctx.audit()).await {
        Ok(v) => after_form(&format!("/reports/{}", v.id), Ok(()), "created"),
        Err(e) => after_form::<()>("/reports", Err(e), ""),
    }
}

async fn update(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    f: RawForm,
) -> Result<Response, ApiError> {
    after_form(
        &format!("/reports/{id}"),
        st.services().report_update(&p, id, &input_of(&f), &ctx.audit()).await,
        "saved",
    )
}

async fn delete(State(st): State<AppState>, Auth(p, ctx): Auth, Path(id): Path<i64>) -> Result<Response, ApiError> {
    match st.services().report_delete(&p, id, &ctx.audit()).await {
        Ok(()) => after_form("/reports", Ok(()), "deleted"),
        Err(e) => after_form::<()>(&format!("/reports/{id}"), Err(e), ""),
    }
}

/// A scheduled delivery as a row.
pub struct RunRow {
    pub period: String,
    pub due: String,
    pub status: String,
    pub rows: i64,
    pub attempts: i64,
    pub error: String,
}

#[derive(Template)]
#[template(path = "reports/detail.html")]
pub struct DetailPage {
    layout: Layout,
    id: i64,
    owner: String,
    b: Builder,
    result: Table,
    runs: Vec<RunRow>,
    can_export: bool,
}

async fn detail_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    let s = st.services();
    let v = s.report_get(&p, id).await?;
    let r = s.report_run(&p, id).await?;
    let runs = s.report_runs(&p, id).await?;
    let mut layout = Layout::new(&st, &p, &ctx, "report.title", &f).await;
    layout.title = v.name.clone();
    let input = input_from_view(&v);
    let b = builder(&st, &p, ctx.lang, format!("/reports/{id}"), v.can_edit, &v.name, &input).await?;
    let runs = runs
        .iter()
        .map(|r: &ReportRun| RunRow {
            period: r.period_key.clone(),
            due: layout.dt(&r.due_at),
            status: ctx.lang.t(&format!("report.run.{}", r.status)).to_string(),
            rows: r.rows,
            attempts: r.attempts,
            error: r.error.clone(),
        })
        .collect();
    let result = table(&r, &layout);
    Ok(html(&DetailPage {
        layout,
        id,
        owner: v.owner_name.clone(),
        b,
        result,
        runs,
        can_export: p.has(perm::REPORT_EXPORT),
    }))
}

/// The report run now, as an Excel workbook in the page's language.
async fn export(State(st): State<AppState>, Auth(p, ctx): Auth, Path(id): Path<i64>) -> Result<Response, ApiError> {
    p.require(perm::REPORT_EXPORT)?;
    let r = st.services().report_run(&p, id).await?;
    crate::api::reports::xlsx_response(r, ctx.lang, id).await
}

#[derive(Template)]
#[template(path = "reports/print.html")]
pub struct PrintPage {
    layout: Layout,
    id: i64,
    name: String,
    result: Table,
    printed: String,
}

/// The report run now, on a page made for paper (A4 landscape, no navigation).
async fn print_page(State(st): State<AppState>, Auth(p, ctx): Auth, Path(id): Path<i64>) -> Result<Response, ApiError> {
    let s = st.services();
    let r = s.report_run(&p, id).await?;
    let mut layout = Layout::new(&st, &p, &ctx, "report.title", &FlashQuery::default()).await;
    layout.title = r.name.clone();
    let printed = layout.dt(&s.now());
    let result = table(&r, &layout);
    Ok(html(&PrintPage { layout, id, name: r.name.clone(), result, printed }))
}
