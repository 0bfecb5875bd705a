//! Custom reports (R-DATA-03/04): a user picks dimensions, indicators, filters and a
//! period, saves the report, shares it with their unit, and may have it e-mailed as an
//! Excel workbook daily, weekly or monthly.
//!
//! Running a report is the statistics' one code path (`Services::indicators_filtered`,
//! DESIGN §5) in the runner's data scope; the result is a table — the group keys with
//! their labels, the chosen indicators, a totals row merged exactly
//! (`kpi::Indicators::merge`) — that the API returns as JSON, the page shows and prints, and
//! [`report_xlsx`] writes as a workbook.
//!
//! Schedules ([`Services::reports_run_due`], every minute in each replica's worker): a
//! report whose `next_run_at` has come claims the current schedule period in
//! `report_runs` (unique per report and period start) and queues one `report.deliver` job
//! in the same transaction; the job computes the report as of the period's due time in its
//! owner's scope, writes the workbook and sends it. A failed send fails the job, which the
//! queue retries with backoff. Periods missed while no scheduler ran are not made up.

use std::collections::HashMap;

use jiff::civil::Date;
use jiff::{SignedDuration, Span, Timestamp};
use rust_xlsxwriter::{Format, FormatBorder, Workbook, XlsxError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use waterdesk_domain::kpi::{Indicator, Indicators, Value};
use waterdesk_domain::permissions::perm;
use waterdesk_domain::schedule::{Every, Schedule, format_time, parse_time};
use waterdesk_store::reports::{self as repo, NewRun, Report, ReportFields, ReportRun};
use waterdesk_store::{dicts, orders as order_repo, units};

use crate::audit::{AuditCtx, security_in};
use crate::input::{commit, text};
use crate::mail::{Mail, MailError, is_address};
use crate::principal::AuthVia;
use crate::stats::{Filters, IndicatorRow, parse_group_by};
use crate::{Principal, ServiceError, ServiceResult, Services};

/// The grouping dimensions, in display order.
pub const DIMENSIONS: &[&str] = &["unit", "type", "category", "channel", "source", "day", "week", "month"];
/// Relative periods (evaluated when the report runs) and `fixed`.
pub const PERIOD_KINDS: &[&str] =
    &["today", "yesterday", "this_week", "last_week", "this_month", "last_month", "fixed"];
/// Schedules.
pub const EVERY: &[&str] = &["none", "daily", "weekly", "monthly"];
pub const MAX_RECIPIENTS: usize = 20;
/// Values per filter list.
pub const MAX_FILTER_VALUES: usize = 100;
/// The queue's job kind of a scheduled delivery.
pub const REPORT_JOB: &str = "report.deliver";
/// Attempts of a delivery before the job is dead-lettered.
const MAX_ATTEMPTS: i64 = 8;
pub const XLSX_MIME: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn v(field: &str, code: &'static str, detail: impl Into<String>) -> ServiceError {
    ServiceError::validation(field, code, detail)
}

/// A dimension's (中文, English) header.
pub fn dimension_label(code: &str) -> (&'static str, &'static str) {
    match code {
        "unit" => ("处理单位", "Handling unit"),
        "type" => ("工单类型", "Order type"),
        "category" => ("反映类别", "Category"),
        "channel" => ("反映形式", "Channel"),
        "source" => ("反映来源", "Source"),
        "day" => ("日期", "Day"),
        "week" => ("周", "Week"),
        "month" => ("月份", "Month"),
        _ => ("", ""),
    }
}

/// A period kind's (中文, English) name.
pub fn period_label(code: &str) -> (&'static str, &'static str) {
    match code {
        "today" => ("今天", "Today"),
        "yesterday" => ("昨天", "Yesterday"),
        "this_week" => ("本周", "This week"),
        "last_week" => ("上周", "Last week"),
        "this_month" => ("本月", "This month"),
        "last_month" => ("上月", "Last month"),
        "fixed" => ("指定日期", "Fixed dates"),
        _ => ("", ""),
    }
}

/// The cohort of a report: a period relative to when it runs, or fixed dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PeriodSpec {
    /// `today`, `yesterday`, `this_week`, `last_week` (ISO weeks), `this_month`,
    /// `last_month` (default) or `fixed`.
    pub kind: String,
    /// `fixed`: registered at or after (RFC 3339, or a date at midnight in the service's zone).
    pub from: Option<String>,
    /// `fixed`: registered before (exclusive), same forms.
    pub to: Option<String>,
}

impl Default for PeriodSpec {
    fn default() -> Self {
        PeriodSpec { kind: "last_month".into(), from: None, to: None }
    }
}

/// What a report shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Definition {
    /// Group by, in column order: `unit`, `type`, `category`, `channel`, `source` and at
    /// most one of `day`, `week`, `month`; empty: one row for the whole cohort.
    pub dimensions: Vec<String>,
    /// Indicator codes in column order (`domain::kpi::Indicator`, e.g. `registered`,
    /// `processed_on_time_rate`); at least one.
    pub indicators: Vec<String>,
    pub filters: Filters,
    pub period: PeriodSpec,
}

/// When a report is e-mailed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleSpec {
    /// `none` (default), `daily`, `weekly` or `monthly`.
    pub every: String,
    /// Weekly: weekday 1 (Monday) – 7; monthly: day of month 1–31 (the last day in shorter months).
    pub day: i64,
    /// Local time of day `HH:MM` (the service's zone).
    pub at_time: String,
}

impl Default for ScheduleSpec {
    fn default() -> Self {
        ScheduleSpec { every: "none".into(), day: 1, at_time: "08:00".into() }
    }
}

/// A report as its owner enters it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportInput {
    pub name: String,
    pub definition: Definition,
    /// Visible to (and runnable by) the owner's unit; only the owner edits it.
    #[serde(default)]
    pub shared: bool,
    #[serde(default)]
    pub schedule: ScheduleSpec,
    /// Where scheduled runs are e-mailed (at most 20 addresses).
    #[serde(default)]
    pub recipients: Vec<String>,
}

/// A saved report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportView {
    pub id: i64,
    pub name: String,
    pub owner_id: i64,
    pub owner_name: String,
    pub unit_id: i64,
    pub shared: bool,
    pub definition: Definition,
    pub schedule: ScheduleSpec,
    pub recipients: Vec<String>,
    /// When the next scheduled delivery falls due (`None`: not scheduled).
    pub next_run_at: Option<Timestamp>,
    /// The caller owns the report (may edit, share, schedule and delete it).
    pub can_edit: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A column of a report result.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Column {
    pub code: String,
    pub zh: String,
    pub en: String,
    /// A rate (shown as a percentage); otherwise a count.
    pub rate: bool,
}

/// A group key with its labels.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyCell {
    /// The key as stored: a unit id, a type, dictionary or period code.
    pub value: String,
    pub zh: String,
    pub en: String,
}

/// One row of a result.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResultRow {
    /// One per dimension (empty for the totals row).
    pub keys: Vec<KeyCell>,
    /// One per indicator: counts as integers, rates as numbers in [0, 1], null over an
    /// empty denominator.
    #[schema(value_type = Vec<Object>)]
    pub values: Vec<serde_json::Value>,
    #[serde(skip)]
    pub exact: Indicators,
}

/// A report's result.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportResult {
    pub name: String,
    /// The cohort `[from, to)` and the instant the figures are evaluated as of.
    pub from: Timestamp,
    pub to: Timestamp,
    pub at: Timestamp,
    /// `at` in the service's zone, `2026-07-01 08:00`.
    pub at_local: String,
    /// The cohort's first and last local day, `2026-06-01 – 2026-06-30`.
    pub period: String,
    pub filters: Filters,
    /// The filters in words (中文, English); empty: none.
    pub filters_zh: String,
    pub filters_en: String,
    pub dimensions: Vec<Column>,
    pub indicators: Vec<Column>,
    pub rows: Vec<ResultRow>,
    /// The whole cohort (rates from the summed counts, not averaged).
    pub totals: ResultRow,
}

/// A definition checked: normalised, with its parsed parts.
struct Checked {
    def: Definition,
    indicators: Vec<Indicator>,
}

/// A report checked for saving.
struct CheckedReport {
    name: String,
    def: Checked,
    shared: bool,
    schedule: Option<Schedule>,
    recipients: Vec<String>,
}

/// Trimmed, de-duplicated, non-empty values, each at most 50 characters, at most 100.
fn clean_list(field: &str, values: &[String]) -> ServiceResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for x in values.iter().map(|x| x.trim()).filter(|x| !x.is_empty()) {
        if x.chars().count() > 50 {
            return Err(v(field, "too_long", "at most 50 characters per value"));
        }
        if !out.iter().any(|o| o == x) {
            out.push(x.to_string());
        }
    }
    if out.len() > MAX_FILTER_VALUES {
        return Err(v(field, "too_many_values", format!("at most {MAX_FILTER_VALUES} values")));
    }
    Ok(out)
}

fn schedule_of(r: &Report) -> Option<Schedule> {
    let every = Every::parse(&r.every)?;
    Schedule::new(every, i8::try_from(r.day).ok()?, parse_time(&r.at_time).ok()?).ok()
}

/// The first due time of `s` strictly after `now` (schedules have a period every month at
/// least, so 62 days always find one).
fn next_due(s: &Schedule, now: Timestamp, tz: &jiff::tz::TimeZone) -> Option<Timestamp> {
    (0..=62).map(|d| s.period(now + SignedDuration::from_hours(24 * d), tz).due).find(|due| *due > now)
}

fn split_recipients(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty()).map(str::to_string).collect()
}

impl Services {
    fn midnight(&self, d: Date) -> ServiceResult<Timestamp> {
        d.to_zoned(self.tz.clone()).map(|z| z.timestamp()).map_err(|e| ServiceError::Internal(e.to_string()))
    }

    /// The cohort `[from, to)` of a period spec for a report run at `now`.
    pub fn report_cohort(&self, spec: &PeriodSpec, now: Timestamp) -> ServiceResult<(Timestamp, Timestamp)> {
        let today = now.to_zoned(self.tz.clone()).date();
        let add = |d: Date, s: Span| d.checked_add(s).map_err(|e| ServiceError::Internal(e.to_string()));
        let monday = add(today, Span::new().days(-i64::from(today.weekday().to_monday_zero_offset())))?;
        let (a, b) = match spec.kind.as_str() {
            "today" => (today, add(today, Span::new().days(1))?),
            "yesterday" => (add(today, Span::new().days(-1))?, today),
            "this_week" => (monday, add(monday, Span::new().weeks(1))?),
            "last_week" => (add(monday, Span::new().weeks(-1))?, monday),
            "this_month" => (today.first_of_month(), add(today.first_of_month(), Span::new().months(1))?),
            "last_month" => (add(today.first_of_month(), Span::new().months(-1))?, today.first_of_month()),
            "fixed" => {
                let get = |field: &str, x: &Option<String>| {
                    let s = x.as_deref().map(str::trim).filter(|s| !s.is_empty());
                    let s = s.ok_or_else(|| v(field, "invalid_period", "fixed periods need `from` and `to`"))?;
                    self.instant(field, s)
                };
                let (from, to) = (get("period.from", &spec.from)?, get("period.to", &spec.to)?);
                return Ok((from, to));
            }
            other => {
                return Err(v(
                    "period.kind",
                    "invalid_period",
                    format!("not a period: {other} ({})", PERIOD_KINDS.join(", ")),
                ));
            }
        };
        Ok((self.midnight(a)?, self.midnight(b)?))
    }

    /// Checks a definition for the caller: known dimensions and indicators, filters on
    /// known order types and units, a valid period. `author`: the units filtered on must be
    /// in the caller's scope (saving, previewing); running a saved report instead counts
    /// only the filtered units within the runner's scope (a colleague with a narrower scope
    /// runs a shared report over less).
    async fn check_definition(&self, p: &Principal, d: &Definition, author: bool) -> ServiceResult<Checked> {
        let mut dimensions: Vec<String> = Vec::new();
        for x in d.dimensions.iter().map(|x| x.trim()).filter(|x| !x.is_empty()) {
            if !DIMENSIONS.contains(&x) {
                return Err(v(
                    "dimensions",
                    "unknown_dimension",
                    format!("not a dimension: {x} ({})", DIMENSIONS.join(", ")),
                ));
            }
            if !dimensions.iter().any(|y| y == x) {
                dimensions.push(x.to_string());
            }
        }
        parse_group_by(&dimensions.join(",")).map_err(|e| match e {
            ServiceError::Validation { code, detail, .. } => v("dimensions", code, detail),
            e => e,
        })?;
        let mut indicators: Vec<Indicator> = Vec::new();
        for x in d.indicators.iter().map(|x| x.trim()).filter(|x| !x.is_empty()) {
            let i = Indicator::parse(x)
                .ok_or_else(|| v("indicators", "unknown_indicator", format!("not an indicator: {x}")))?;
            if !indicators.contains(&i) {
                indicators.push(i);
            }
        }
        if indicators.is_empty() {
            return Err(v("indicators", "no_indicators", "pick at least one indicator"));
        }
        let f = &d.filters;
        let filters = Filters {
            types: clean_list("filters.types", &f.types)?,
            categories: clean_list("filters.categories", &f.categories)?,
            channels: clean_list("filters.channels", &f.channels)?,
            sources: clean_list("filters.sources", &f.sources)?,
            units: {
                let mut u = f.units.clone();
                u.sort_unstable();
                u.dedup();
                if u.len() > MAX_FILTER_VALUES {
                    return Err(v("filters.units", "too_many_values", format!("at most {MAX_FILTER_VALUES} values")));
                }
                u
            },
        };
        {
            let mut c = self.db.read().await?;
            if !filters.types.is_empty() {
                let known = order_repo::list_types(&mut c).await?;
                if let Some(t) = filters.types.iter().find(|t| !known.iter().any(|k| &k.code == *t)) {
                    return Err(v("filters.types", "unknown_type", format!("no order type {t}")));
                }
            }
            let scope = self.scope_unit_ids(p).await?;
            for u in &filters.units {
                let outside = author && scope.as_ref().is_some_and(|s| !s.contains(u));
                if outside || units::get(&mut c, *u).await?.is_none() {
                    return Err(v("filters.units", "unknown_unit", format!("no unit {u} in your data scope")));
                }
            }
        }
        let kind = d.period.kind.trim().to_string();
        let period = if kind == "fixed" {
            PeriodSpec { kind, from: d.period.from.clone(), to: d.period.to.clone() }
        } else {
            PeriodSpec { kind, from: None, to: None }
        };
        let (from, to) = self.report_cohort(&period, self.now())?;
        if from >= to {
            return Err(v("period.from", "invalid_range", "`from` must be before `to`"));
        }
        if to.duration_since(from) > SignedDuration::from_hours(24 * crate::stats::MAX_RANGE_DAYS) {
            return Err(v("period.to", "range_too_long", format!("at most {} days", crate::stats::MAX_RANGE_DAYS)));
        }
        Ok(Checked {
            def: Definition {
                dimensions,
                indicators: indicators.iter().map(|i| i.code().to_string()).collect(),
                filters,
                period,
            },
            indicators,
        })
    }

    async fn check_report(&self, p: &Principal, i: &ReportInput) -> ServiceResult<CheckedReport> {
        let name = text("name", &i.name, 100)?;
        let def = self.check_definition(p, &i.definition, true).await?;
        let s = &i.schedule;
        let every = s.every.trim();
        let schedule = match every {
            "" | "none" => None,
            _ => {
                let e = Every::parse(every)
                    .ok_or_else(|| v("schedule.every", "invalid_schedule", "none, daily, weekly or monthly"))?;
                let at = parse_time(&s.at_time).map_err(|e| v("schedule.at_time", "invalid_time", e.to_string()))?;
                let day = i8::try_from(s.day).unwrap_or(0);
                Some(Schedule::new(e, day, at).map_err(|e| v("schedule.day", "invalid_day", e.to_string()))?)
            }
        };
        let mut recipients: Vec<String> = Vec::new();
        for r in i.recipients.iter().map(|r| r.trim()).filter(|r| !r.is_empty()) {
            if !is_address(r) {
                return Err(v("recipients", "invalid_email", format!("not an e-mail address: {r}")));
            }
            if !recipients.iter().any(|x| x.eq_ignore_ascii_case(r)) {
                recipients.push(r.to_string());
            }
        }
        if recipients.len() > MAX_RECIPIENTS {
            return Err(v("recipients", "too_many_recipients", format!("at most {MAX_RECIPIENTS} addresses")));
        }
        if schedule.is_some() {
            // A delivery is an export that leaves the system.
            p.require(perm::REPORT_EXPORT)?;
            if recipients.is_empty() {
                return Err(v("recipients", "no_recipients", "a scheduled report needs at least one recipient"));
            }
        }
        Ok(CheckedReport { name, def, shared: i.shared, schedule, recipients })
    }

    fn report_view(&self, p: &Principal, r: Report) -> ReportView {
        let definition: Definition = serde_json::from_str(&r.definition).unwrap_or_default();
        ReportView {
            id: r.id,
            name: r.name,
            owner_id: r.owner_id,
            owner_name: r.owner_name,
            unit_id: r.unit_id,
            shared: r.shared,
            definition,
            schedule: ScheduleSpec { every: r.every, day: r.day, at_time: r.at_time },
            recipients: split_recipients(&r.recipients),
            next_run_at: r.next_run_at,
            can_edit: r.owner_id == p.user_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }

    /// A report the caller may see (their own, or shared with their unit).
    async fn visible_report(&self, p: &Principal, id: i64) -> ServiceResult<Report> {
        p.require(perm::REPORT_READ)?;
        let mut c = self.db.read().await?;
        match repo::get(&mut c, id).await? {
            Some(r) if r.owner_id == p.user_id || (r.shared && r.unit_id == p.unit_id) => Ok(r),
            _ => Err(ServiceError::NotFound { entity: "report" }),
        }
    }

    /// A report the caller owns.
    async fn own_report(&self, p: &Principal, id: i64) -> ServiceResult<Report> {
        let r = self.visible_report(p, id).await?;
        if r.owner_id != p.user_id {
            return Err(ServiceError::Forbidden { permission: "report.owner".into() });
        }
        Ok(r)
    }

    /// The caller's reports and those shared with their unit, by name.
    pub async fn report_list(&self, p: &Principal) -> ServiceResult<Vec<ReportView>> {
        p.require(perm::REPORT_READ)?;
        let list = {
            let mut c = self.db.read().await?;
            repo::visible(&mut c, p.user_id, p.unit_id).await?
        };
        Ok(list.into_iter().map(|r| self.report_view(p, r)).collect())
    }

    pub async fn report_get(&self, p: &Principal, id: i64) -> ServiceResult<ReportView> {
        let r = self.visible_report(p, id).await?;
        Ok(self.report_view(p, r))
    }

    /// A report's latest scheduled runs.
    pub async fn report_runs(&self, p: &Principal, id: i64) -> ServiceResult<Vec<ReportRun>> {
        let r = self.visible_report(p, id).await?;
        let mut c = self.db.read().await?;
        Ok(repo::runs(&mut c, r.id, 20).await?)
    }

    fn fields<'a>(
        &self,
        c: &'a CheckedReport,
        def: &'a str,
        recipients: &'a str,
        at_time: &'a str,
    ) -> ReportFields<'a> {
        ReportFields {
            name: &c.name,
            definition: def,
            shared: c.shared,
            every: c.schedule.map_or("none", |s| s.every.code()),
            day: c.schedule.map_or(0, |s| i64::from(s.day)),
            at_time,
            recipients,
            next_run_at: c.schedule.as_ref().and_then(|s| next_due(s, self.now(), &self.tz)),
        }
    }

    /// Saves a new report owned by the caller, in the caller's unit.
    pub async fn report_create(&self, p: &Principal, i: &ReportInput, ctx: &AuditCtx) -> ServiceResult<ReportView> {
        p.require(perm::REPORT_READ)?;
        let c = self.check_report(p, i).await?;
        let def = serde_json::to_string(&c.def.def).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let recipients = c.recipients.join(",");
        let at_time = c.schedule.map_or_else(|| "08:00".to_string(), |s| format_time(s.at));
        let mut tx = self.db.begin().await?;
        let fields = self.fields(&c, &def, &recipients, &at_time);
        let id = repo::insert(&mut tx, p.user_id, p.unit_id, &fields, self.now()).await?;
        let params = serde_json::json!({"id": id, "name": c.name, "shared": c.shared,
            "every": c.schedule.map(|s| s.every.code()), "recipients": c.recipients.len()});
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "report.create", "ok", params).await?;
        commit(tx).await?;
        self.report_get(p, id).await
    }

    /// Replaces the caller's report (definition, sharing, schedule, recipients).
    pub async fn report_update(
        &self,
        p: &Principal,
        id: i64,
        i: &ReportInput,
        ctx: &AuditCtx,
    ) -> ServiceResult<ReportView> {
        self.own_report(p, id).await?;
        let c = self.check_report(p, i).await?;
        let def = serde_json::to_string(&c.def.def).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let recipients = c.recipients.join(",");
        let at_time = c.schedule.map_or_else(|| "08:00".to_string(), |s| format_time(s.at));
        let mut tx = self.db.begin().await?;
        if !repo::update(&mut tx, id, &self.fields(&c, &def, &recipients, &at_time), self.now()).await? {
            return Err(ServiceError::NotFound { entity: "report" });
        }
        let params = serde_json::json!({"id": id, "name": c.name, "shared": c.shared,
            "every": c.schedule.map(|s| s.every.code()), "recipients": c.recipients.len()});
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "report.update", "ok", params).await?;
        commit(tx).await?;
        self.report_get(p, id).await
    }

    /// Deletes the caller's report and its run history.
    pub async fn report_delete(&self, p: &Principal, id: i64, ctx: &AuditCtx) -> ServiceResult<()> {
        let r = self.own_report(p, id).await?;
        let mut tx = self.db.begin().await?;
        repo::delete(&mut tx, id).await?;
        let params = serde_json::json!({"id": id, "name": r.name});
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "report.delete", "ok", params).await?;
        commit(tx).await
    }

    /// Runs a saved report now, in the caller's data scope.
    pub async fn report_run(&self, p: &Principal, id: i64) -> ServiceResult<ReportResult> {
        let r = self.visible_report(p, id).await?;
        let def: Definition = serde_json::from_str(&r.definition).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let c = self.check_definition(p, &def, false).await?;
        let now = self.now();
        let (from, to) = self.report_cohort(&c.def.period, now)?;
        self.report_compute(p, &r.name, &c, from, to, now).await
    }

    /// Runs a definition without saving it (the builder's preview), now.
    pub async fn report_preview(&self, p: &Principal, name: &str, d: &Definition) -> ServiceResult<ReportResult> {
        p.require(perm::REPORT_READ)?;
        let c = self.check_definition(p, d, true).await?;
        let now = self.now();
        let (from, to) = self.report_cohort(&c.def.period, now)?;
        self.report_compute(p, name, &c, from, to, now).await
    }

    async fn report_compute(
        &self,
        p: &Principal,
        name: &str,
        c: &Checked,
        from: Timestamp,
        to: Timestamp,
        at: Timestamp,
    ) -> ServiceResult<ReportResult> {
        let d = &c.def;
        let group_by = parse_group_by(&d.dimensions.join(","))?;
        let groups = self.indicators_filtered(p, from, to, Some(at), group_by, &d.filters).await?;
        let labels = self.key_labels().await?;
        let label = |dim: &str, key: &str| -> KeyCell {
            let (zh, en) = labels.get(&(dim_dict(dim), key.to_string())).cloned().unwrap_or_default();
            KeyCell {
                value: key.to_string(),
                zh: if zh.is_empty() { key.to_string() } else { zh },
                en: if en.is_empty() { key.to_string() } else { en },
            }
        };
        let values = |i: &Indicators| -> Vec<serde_json::Value> {
            c.indicators
                .iter()
                .map(|ind| match i.get(*ind) {
                    Value::Count(n) => serde_json::json!(n),
                    Value::Rate(r) => r.map_or(serde_json::Value::Null, |r| serde_json::json!(r.value())),
                })
                .collect()
        };
        let mut total = Indicators::default();
        let mut rows: Vec<(Vec<String>, ResultRow)> = groups
            .iter()
            .map(|g: &IndicatorRow| {
                total.merge(&g.exact);
                let mut sort = Vec::new();
                let keys = d
                    .dimensions
                    .iter()
                    .map(|dim| {
                        let key = match dim.as_str() {
                            "unit" => g.unit_id.map(|u| u.to_string()),
                            "type" => g.type_code.clone(),
                            "category" => g.category.clone(),
                            "channel" => g.channel.clone(),
                            "source" => g.source.clone(),
                            _ => g.period.clone(),
                        }
                        .unwrap_or_default();
                        sort.push(if dim == "unit" {
                            format!("{:020}", g.unit_id.unwrap_or_default())
                        } else {
                            key.clone()
                        });
                        label(dim, &key)
                    })
                    .collect();
                (sort, ResultRow { keys, values: values(&g.exact), exact: g.exact })
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let (filters_zh, filters_en) = self.filters_text(&d.filters, &labels);
        let col = |code: &str, (zh, en): (&str, &str), rate: bool| Column {
            code: code.to_string(),
            zh: zh.to_string(),
            en: en.to_string(),
            rate,
        };
        let last_day = (to - SignedDuration::from_secs(1)).to_zoned(self.tz.clone()).date();
        Ok(ReportResult {
            name: name.to_string(),
            from,
            to,
            at,
            at_local: at.to_zoned(self.tz.clone()).strftime("%Y-%m-%d %H:%M").to_string(),
            period: format!("{} – {last_day}", from.to_zoned(self.tz.clone()).date()),
            filters: d.filters.clone(),
            filters_zh,
            filters_en,
            dimensions: d.dimensions.iter().map(|x| col(x, dimension_label(x), false)).collect(),
            indicators: c.indicators.iter().map(|i| col(i.code(), i.label(), i.is_rate())).collect(),
            rows: rows.into_iter().map(|(_, r)| r).collect(),
            totals: ResultRow { keys: Vec::new(), values: values(&total), exact: total },
        })
    }

    /// Labels of group keys: (dictionary, code) → (中文, English), for units (`unit`, by
    /// id), order types (`type`) and the category, channel and source dictionaries.
    async fn key_labels(&self) -> ServiceResult<HashMap<(&'static str, String), (String, String)>> {
        let mut c = self.db.read().await?;
        let mut m = HashMap::new();
        for u in units::list(&mut c).await? {
            m.insert(("unit", u.id.to_string()), (u.name, u.name_en));
        }
        for t in order_repo::list_types(&mut c).await? {
            m.insert(("type", t.code), (t.name_zh, t.name_en));
        }
        for dict in ["category", "channel", "source"] {
            for i in dicts::items(&mut c, dict, true).await? {
                m.insert((dim_dict(dict), i.code), (i.label_zh, i.label_en));
            }
        }
        Ok(m)
    }

    fn filters_text(
        &self,
        f: &Filters,
        labels: &HashMap<(&'static str, String), (String, String)>,
    ) -> (String, String) {
        let mut zh = Vec::new();
        let mut en = Vec::new();
        let mut add = |dim: &str, values: Vec<String>| {
            if values.is_empty() {
                return;
            }
            let (lz, le) = dimension_label(dim);
            let names = |en: bool| {
                values
                    .iter()
                    .map(|x| match labels.get(&(dim_dict(dim), x.clone())) {
                        Some((_, e)) if en && !e.is_empty() => e.clone(),
                        Some((z, _)) if !z.is_empty() => z.clone(),
                        _ => x.clone(),
                    })
                    .collect::<Vec<_>>()
            };
            zh.push(format!("{lz}：{}", names(false).join("、")));
            en.push(format!("{le}: {}", names(true).join(", ")));
        };
        add("unit", f.units.iter().map(|u| u.to_string()).collect());
        add("type", f.types.clone());
        add("category", f.categories.clone());
        add("channel", f.channels.clone());
        add("source", f.sources.clone());
        (zh.join("；"), en.join("; "))
    }
}

/// The label table a dimension's keys are looked up in.
fn dim_dict(dim: &str) -> &'static str {
    match dim {
        "unit" => "unit",
        "type" => "type",
        "category" => "category",
        "channel" => "channel",
        "source" => "source",
        _ => "period",
    }
}

fn xe(e: XlsxError) -> ServiceError {
    ServiceError::Internal(format!("xlsx: {e}"))
}

/// Rows above the header: title, period, filters.
pub const XLSX_HEADER_ROW: u32 = 3;

/// A report result as an Excel workbook (R-DATA-03): a title row, the period and the
/// filters, a bold header in the language asked for (Chinese by default), counts as
/// integers, rates as percentages (`0.00%`; empty over an empty denominator), a totals row
/// (合计), the header and key columns frozen, an autofilter over the groups.
pub fn report_xlsx(r: &ReportResult, en: bool) -> ServiceResult<Vec<u8>> {
    let pick = |c: &Column| if en { c.en.clone() } else { c.zh.clone() };
    let mut book = Workbook::new();
    // Rows stream to a temporary file: a report grouped by unit × type × day stays flat.
    let ws = book.add_worksheet_with_constant_memory().map_err(xe)?;
    ws.set_name(if en { "Report" } else { "报表" }).map_err(xe)?;
    let title = Format::new().set_bold().set_font_size(14);
    let header = Format::new().set_bold().set_background_color(0xDDEBF7).set_border(FormatBorder::Thin).set_text_wrap();
    let count = Format::new().set_num_format("#,##0");
    let rate = Format::new().set_num_format("0.00%");
    let total_label = Format::new().set_bold().set_border_top(FormatBorder::Thin);
    let total_count = Format::new().set_bold().set_num_format("#,##0").set_border_top(FormatBorder::Thin);
    let total_rate = Format::new().set_bold().set_num_format("0.00%").set_border_top(FormatBorder::Thin);
    let dims = r.dimensions.len() as u16;
    let cols = dims + r.indicators.len() as u16;
    let columns: Vec<&Column> = r.dimensions.iter().chain(&r.indicators).collect();
    for (i, c) in columns.iter().enumerate() {
        let width =
            (pick(c).chars().map(|ch| if ch.is_ascii() { 1.0 } else { 2.0 }).sum::<f64>() + 2.0).clamp(10.0, 40.0);
        ws.set_column_width(i as u16, width).map_err(xe)?;
    }
    let at = &r.at_local;
    ws.write_string_with_format(0, 0, &r.name, &title).map_err(xe)?;
    let (period, asof, filters, none, total) = if en {
        ("Period", "as of", "Filters", "none", "Total")
    } else {
        ("统计期间", "截至", "筛选条件", "无", "合计")
    };
    ws.write_string(1, 0, format!("{period}: {} ({asof} {at})", r.period)).map_err(xe)?;
    let f = if en { &r.filters_en } else { &r.filters_zh };
    ws.write_string(2, 0, format!("{filters}: {}", if f.is_empty() { none } else { f })).map_err(xe)?;
    let h = XLSX_HEADER_ROW;
    for (i, c) in columns.iter().enumerate() {
        ws.write_string_with_format(h, i as u16, pick(c), &header).map_err(xe)?;
    }
    let write_values = |ws: &mut rust_xlsxwriter::Worksheet, row: u32, values: &[serde_json::Value], total: bool| {
        for (j, (val, c)) in values.iter().zip(&r.indicators).enumerate() {
            let col = dims + j as u16;
            let Some(x) = val.as_f64() else { continue };
            let fmt = match (c.rate, total) {
                (true, false) => &rate,
                (false, false) => &count,
                (true, true) => &total_rate,
                (false, true) => &total_count,
            };
            ws.write_number_with_format(row, col, x, fmt).map_err(xe)?;
        }
        Ok::<_, ServiceError>(())
    };
    let mut row = h + 1;
    for g in &r.rows {
        for (j, k) in g.keys.iter().enumerate() {
            ws.write_string(row, j as u16, if en { &k.en } else { &k.zh }).map_err(xe)?;
        }
        write_values(ws, row, &g.values, false)?;
        row += 1;
    }
    let last_data = row.saturating_sub(1).max(h);
    if dims > 0 {
        ws.write_string_with_format(row, 0, total, &total_label).map_err(xe)?;
    }
    for j in 1..dims {
        ws.write_blank(row, j, &total_label).map_err(xe)?;
    }
    write_values(ws, row, &r.totals.values, true)?;
    ws.set_freeze_panes(h + 1, dims).map_err(xe)?;
    ws.autofilter(h, 0, last_data, cols.saturating_sub(1)).map_err(xe)?;
    book.save_to_buffer().map_err(xe)
}

/// What a scheduled delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent {
        rows: usize,
        recipients: usize,
    },
    /// Nothing to do, or nothing that a retry would change.
    Skipped(String),
    /// The mail server failed; the job is retried.
    Failed(String),
}

impl Services {
    /// The scheduler's round: every report whose next delivery is due claims the current
    /// schedule period (once, whatever the rounds and replicas) and queues its delivery.
    /// Returns how many periods were claimed.
    pub async fn reports_run_due(&self, now: Timestamp) -> ServiceResult<usize> {
        let due = {
            let mut c = self.db.read().await?;
            repo::due(&mut c, now, 500).await?
        };
        let mut claimed = 0;
        for r in due {
            let mut tx = self.db.begin().await?;
            let Some(s) = schedule_of(&r) else {
                tracing::warn!(report.id = r.id, "report with an unreadable schedule unscheduled");
                repo::set_next_run(&mut tx, r.id, None).await?;
                commit(tx).await?;
                continue;
            };
            let period = s.period(now, &self.tz);
            // A period missed while nothing ran (its due time is not in this period) is
            // not made up.
            if period.due <= now {
                let def: Definition = serde_json::from_str(&r.definition).unwrap_or_default();
                match self.report_cohort(&def.period, period.due) {
                    Ok(cohort) => {
                        let run = NewRun {
                            report_id: r.id,
                            period_key: &period.key,
                            period_start: period.start,
                            cohort,
                            due_at: period.due,
                        };
                        if let Some(id) = repo::claim_run(&mut tx, &run, now).await? {
                            let payload = serde_json::json!({ "run_id": id });
                            let key = format!("report_run:{id}");
                            let job = waterdesk_store::jobs::NewJob {
                                kind: REPORT_JOB,
                                payload: &payload,
                                run_at: now,
                                max_attempts: MAX_ATTEMPTS,
                                dedupe_key: Some(&key),
                            };
                            waterdesk_store::jobs::enqueue(&mut tx, &job, now).await?;
                            claimed += 1;
                        }
                    }
                    Err(e) => tracing::warn!(report.id = r.id, error = %e, "scheduled report has no cohort"),
                }
            }
            repo::set_next_run(&mut tx, r.id, next_due(&s, now, &self.tz)).await?;
            commit(tx).await?;
        }
        Ok(claimed)
    }

    async fn finish_run(&self, run: i64, status: &str, rows: usize, error: &str) -> ServiceResult<()> {
        let mut tx = self.db.begin().await?;
        repo::finish_run(&mut tx, run, status, rows as i64, error, self.now()).await?;
        commit(tx).await
    }

    /// Delivers a claimed run (the `report.deliver` job): the report as of the period's due
    /// time in its owner's scope, as a workbook, to its recipients. Idempotent: a run
    /// already sent or skipped is left alone.
    pub async fn report_deliver(&self, run_id: i64) -> ServiceResult<Delivery> {
        let (run, report) = {
            let mut c = self.db.read().await?;
            let Some(run) = repo::get_run(&mut c, run_id).await? else {
                return Ok(Delivery::Skipped("no such run".into()));
            };
            let report = repo::get(&mut c, run.report_id).await?;
            (run, report)
        };
        if matches!(run.status.as_str(), "sent" | "skipped") {
            return Ok(Delivery::Skipped(format!("already {}", run.status)));
        }
        let Some(report) = report else { return Ok(Delivery::Skipped("the report was deleted".into())) };
        let skip = |why: String| async move {
            self.finish_run(run_id, "skipped", 0, &why).await?;
            Ok::<_, ServiceError>(Delivery::Skipped(why))
        };
        let recipients = split_recipients(&report.recipients);
        if recipients.is_empty() {
            return skip("no recipients".into()).await;
        }
        let owner = {
            let mut c = self.db.read().await?;
            self.load_principal(&mut c, report.owner_id, AuthVia::Session).await
        };
        let owner = match owner {
            Ok(o) if o.has(perm::REPORT_READ) && o.has(perm::REPORT_EXPORT) => o,
            Ok(_) => return skip("the owner may no longer export reports".into()).await,
            Err(e) => return skip(format!("the owner cannot act: {e}")).await,
        };
        let def: Definition = serde_json::from_str(&report.definition).unwrap_or_default();
        let checked = match self.check_definition(&owner, &def, false).await {
            Ok(c) => c,
            Err(e @ ServiceError::Validation { .. }) => {
                return skip(format!("the definition no longer holds: {e}")).await;
            }
            Err(e) => return Err(e),
        };
        let result =
            self.report_compute(&owner, &report.name, &checked, run.cohort_from, run.cohort_to, run.due_at).await?;
        let body = format!(
            "{}\n统计期间 Period: {}\n筛选条件 Filters: {}\n分组数 Groups: {}\n\n此邮件由 waterdesk 按计划自动发送，附件为 Excel 报表。\nSent on schedule by waterdesk; the report is attached as an Excel workbook.\n",
            report.name,
            result.period,
            if result.filters_zh.is_empty() { "无 none" } else { &result.filters_zh },
            result.rows.len(),
        );
        let (rows, subject) = (result.rows.len(), format!("{} {}", report.name, result.period));
        // The workbook is written off the async threads (a large report takes a moment).
        let bytes = tokio::task::spawn_blocking(move || report_xlsx(&result, false))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))??;
        let mail = Mail {
            to: recipients.clone(),
            subject,
            body,
            attachment: Some((format!("report-{}-{}.xlsx", report.id, run.period_key), bytes, XLSX_MIME)),
        };
        match self.mailer.send(&mail).await {
            Ok(()) => {
                self.finish_run(run_id, "sent", rows, "").await?;
                tracing::info!(report.id = report.id, report.period = %run.period_key, recipients = recipients.len(), "report sent");
                Ok(Delivery::Sent { rows, recipients: recipients.len() })
            }
            Err(e @ (MailError::NotConfigured | MailError::Message(_))) => skip(e.to_string()).await,
            Err(MailError::Transport(e)) => {
                self.finish_run(run_id, "failed", rows, &e).await?;
                Ok(Delivery::Failed(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_have_labels() {
        for d in DIMENSIONS {
            assert!(!dimension_label(d).0.is_empty(), "{d}");
        }
        for k in PERIOD_KINDS {
            assert!(!period_label(k).0.is_empty(), "{k}");
        }
    }

    #[test]
    fn next_due_is_strictly_later() {
        let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
        let s = Schedule::new(Every::Daily, 0, jiff::civil::Time::constant(8, 0, 0, 0)).unwrap();
        let at: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap(); // 08:00 in Hangzhou
        assert_eq!(next_due(&s, at, &tz), Some("2026-06-02T00:00:00Z".parse().unwrap()));
        let before: Timestamp = "2026-05-31T23:59:00Z".parse().unwrap();
        assert_eq!(next_due(&s, before, &tz), Some(at));
        let m = Schedule::new(Every::Monthly, 31, jiff::civil::Time::constant(6, 0, 0, 0)).unwrap();
        assert_eq!(next_due(&m, at, &tz), Some("2026-06-29T22:00:00Z".parse().unwrap()));
    }
}
