//! Recurring order plans (R-WO-12): patrol routes and other periodic work as `fixed` plans
//! (one order per period from a template), and periodic meter replacement by meter age as
//! `meter_age` plans (one `meter_replace` order per meter older than N years, at most M
//! per period, oldest first, never a second one for a meter while an earlier plan order
//! for it is open or was created in the same period).
//!
//! The scheduler ([`Services::plans_run_due`], every minute in every replica's worker)
//! runs each enabled plan whose current period has fallen due. A run claims its period in
//! `plan_runs` — unique per plan and period key — and creates its orders through the same
//! rules as registration (number, event, audit; origin `plan`), all in one transaction: a
//! second round, a second replica or a restart creates nothing twice. Periods missed while
//! no scheduler ran are not made up: only the current period's run is created.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use waterdesk_domain::permissions::perm;
use waterdesk_domain::schedule::{Every, Period, Schedule, format_time, parse_time};
use waterdesk_domain::workflow::Level;
use waterdesk_store::orders as order_repo;
use waterdesk_store::plans::{self as repo, Plan, PlanFields, PlanRun};
use waterdesk_store::units;

use crate::audit::{AuditCtx, security_in};
use crate::input::{commit, one_of, opt_text, text};
use crate::orders::OrderInput;
use crate::{Principal, ServiceError, ServiceResult, Services};

pub const PLAN_KINDS: &[&str] = &["fixed", "meter_age"];
/// The order type of meter-age plans.
pub const METER_REPLACE: &str = "meter_replace";

fn v(field: &str, code: &'static str, detail: impl Into<String>) -> ServiceError {
    ServiceError::validation(field, code, detail)
}

/// A plan as a dispatcher enters it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    pub name: String,
    /// `fixed` (default): one order per period; `meter_age`: one meter replacement per old meter.
    #[serde(default)]
    pub kind: String,
    /// The order type (`patrol`, `maintenance` …); `meter_age` plans create `meter_replace`.
    #[serde(default)]
    pub type_code: String,
    /// `daily`, `weekly` or `monthly`.
    pub every: String,
    /// Weekly: weekday 1 (Monday) – 7; monthly: day of month 1–31 (the last day in shorter months).
    #[serde(default)]
    pub day: i64,
    /// Local time of day, `HH:MM` (the utility's time zone).
    pub at_time: String,
    /// The orders' title (`meter_age`: followed by the meter's serial).
    pub title: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub address: String,
    /// `low`, `medium` or `high`.
    pub impact: String,
    pub urgency: String,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    /// `meter_age`: meters installed at least this many years ago (1–50).
    pub meter_age_years: Option<i64>,
    /// `meter_age`: at most this many orders per period (1–500, default 50).
    pub max_per_run: Option<i64>,
    /// Handling unit of the orders (default: the caller's unit).
    pub unit_id: Option<i64>,
}

/// A plan with when it runs next and what its last run did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanView {
    pub plan: Plan,
    /// When the next period's run falls due (`None` while disabled).
    pub next_due_at: Option<Timestamp>,
    /// The latest run's period key, time and number of orders.
    pub last_period: Option<String>,
    pub last_run_at: Option<Timestamp>,
    pub last_orders: Option<i64>,
}

/// A plan with its latest runs.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanDetail {
    #[serde(flatten)]
    pub view: PlanView,
    pub runs: Vec<PlanRun>,
}

/// A checked plan (owned values for [`PlanFields`]).
struct Checked {
    name: String,
    kind: String,
    type_code: String,
    every: &'static str,
    day: i64,
    at_time: String,
    title: String,
    content: String,
    address: String,
    impact: String,
    urgency: String,
    lat_e6: Option<i64>,
    lng_e6: Option<i64>,
    meter_age_years: i64,
    max_per_run: i64,
    unit_id: i64,
}

impl Checked {
    fn fields(&self) -> PlanFields<'_> {
        PlanFields {
            name: &self.name,
            kind: &self.kind,
            type_code: &self.type_code,
            every: self.every,
            day: self.day,
            at_time: &self.at_time,
            title: &self.title,
            content: &self.content,
            address: &self.address,
            impact: &self.impact,
            urgency: &self.urgency,
            lat_e6: self.lat_e6,
            lng_e6: self.lng_e6,
            meter_age_years: self.meter_age_years,
            max_per_run: self.max_per_run,
            unit_id: self.unit_id,
        }
    }
}

/// A plan's schedule as the domain sees it (`None`: a stored value no longer parses).
pub fn schedule_of(p: &Plan) -> Option<Schedule> {
    let every = Every::parse(&p.every)?;
    Schedule::new(every, i8::try_from(p.day).ok()?, parse_time(&p.at_time).ok()?).ok()
}

/// When an enabled plan runs next: the first period whose run is due after the plan became
/// active and that has not run yet (at most two months ahead).
fn next_due(p: &Plan, last_period: Option<&str>, now: Timestamp, tz: &jiff::tz::TimeZone) -> Option<Timestamp> {
    if !p.enabled {
        return None;
    }
    let s = schedule_of(p)?;
    (0..=62)
        .map(|d| s.period(now + SignedDuration::from_hours(24 * d), tz))
        .find_map(|per| (per.due >= p.active_from && Some(per.key.as_str()) != last_period).then_some(per.due))
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

impl Services {
    async fn check_plan(&self, p: &Principal, i: &PlanInput) -> ServiceResult<Checked> {
        let name = text("name", &i.name, 100)?;
        let kind =
            if i.kind.trim().is_empty() { "fixed".to_string() } else { one_of("kind", i.kind.trim(), PLAN_KINDS)? };
        let meter_age = kind == "meter_age";
        let type_code = match (meter_age, i.type_code.trim()) {
            (true, "" | METER_REPLACE) => METER_REPLACE.to_string(),
            (true, _) => return Err(v("type_code", "invalid_type", "meter-age plans create meter_replace orders")),
            (false, "") => return Err(v("type_code", "required", "the order type of the plan's orders")),
            (false, t) => t.to_string(),
        };
        let every =
            Every::parse(i.every.trim()).ok_or_else(|| v("every", "invalid_schedule", "daily, weekly or monthly"))?;
        let at = parse_time(&i.at_time).map_err(|e| v("at_time", "invalid_time", e.to_string()))?;
        let day = i8::try_from(i.day).unwrap_or(0);
        let schedule = Schedule::new(every, day, at).map_err(|e| v("day", "invalid_day", e.to_string()))?;
        let title = text("title", &i.title, if meter_age { 60 } else { 100 })?;
        let content = opt_text("content", &i.content, 2000)?;
        let address = opt_text("address", &i.address, 200)?;
        let level = |f: &str, x: &str| {
            Level::parse(x.trim())
                .map(|_| x.trim().to_string())
                .ok_or_else(|| v(f, "invalid_level", "low, medium or high"))
        };
        let (impact, urgency) = (level("impact", &i.impact)?, level("urgency", &i.urgency)?);
        let coord = |f: &str, x: Option<f64>, max: f64| match x {
            None => Ok(None),
            Some(x) => crate::input::micro_degrees(x, max)
                .map(Some)
                .ok_or_else(|| v(f, "invalid_coordinate", format!("between -{max} and {max}"))),
        };
        let (lat_e6, lng_e6) = (coord("lat", i.lat, 90.0)?, coord("lng", i.lng, 180.0)?);
        let (meter_age_years, max_per_run) = if meter_age {
            let years = i.meter_age_years.ok_or_else(|| v("meter_age_years", "required", "1 to 50 years"))?;
            if !(1..=50).contains(&years) {
                return Err(v("meter_age_years", "out_of_range", "1 to 50 years"));
            }
            let max = i.max_per_run.unwrap_or(50);
            if !(1..=500).contains(&max) {
                return Err(v("max_per_run", "out_of_range", "1 to 500 orders per period"));
            }
            (years, max)
        } else {
            (0, 0)
        };
        let unit_id = i.unit_id.unwrap_or(p.unit_id);
        let mut c = self.db.read().await?;
        let t = order_repo::get_type(&mut c, &type_code)
            .await?
            .ok_or_else(|| v("type_code", "unknown_type", "no such order type"))?;
        if !t.enabled {
            return Err(v("type_code", "type_disabled", "this order type is disabled"));
        }
        if units::get(&mut c, unit_id).await?.is_none() || !self.in_scope(p, unit_id).await? {
            return Err(v("unit_id", "unknown_unit", "a handling unit in your data scope"));
        }
        Ok(Checked {
            name,
            kind,
            type_code,
            every: schedule.every.code(),
            day: i64::from(schedule.day),
            at_time: format_time(schedule.at),
            title,
            content,
            address,
            impact,
            urgency,
            lat_e6,
            lng_e6,
            meter_age_years,
            max_per_run,
            unit_id,
        })
    }

    async fn plan_views(&self, plans: Vec<Plan>) -> ServiceResult<Vec<PlanView>> {
        let last = {
            let mut c = self.db.read().await?;
            repo::last_runs(&mut c).await?
        };
        let now = self.now();
        Ok(plans
            .into_iter()
            .map(|plan| {
                let l = last.iter().find(|(id, ..)| *id == plan.id);
                PlanView {
                    next_due_at: next_due(&plan, l.map(|x| x.1.as_str()), now, &self.tz),
                    last_period: l.map(|x| x.1.clone()),
                    last_orders: l.map(|x| x.2),
                    last_run_at: l.map(|x| x.3),
                    plan,
                }
            })
            .collect())
    }

    async fn plan_view(&self, plan: Plan) -> ServiceResult<PlanView> {
        let mut v = self.plan_views(vec![plan]).await?;
        v.pop().ok_or(ServiceError::NotFound { entity: "plan" })
    }

    /// Every plan, by name (R-WO-12).
    pub async fn plan_list(&self, p: &Principal) -> ServiceResult<Vec<PlanView>> {
        p.require(perm::ORDER_DISPATCH)?;
        let plans = {
            let mut c = self.db.read().await?;
            repo::list(&mut c, false).await?
        };
        self.plan_views(plans).await
    }

    /// A plan with its latest runs.
    pub async fn plan_get(&self, p: &Principal, id: i64, runs: i64) -> ServiceResult<PlanDetail> {
        p.require(perm::ORDER_DISPATCH)?;
        if !(1..=500).contains(&runs) {
            return Err(v("limit", "invalid_limit", "1 to 500"));
        }
        let (plan, runs) = {
            let mut c = self.db.read().await?;
            let plan = repo::get(&mut c, id).await?.ok_or(ServiceError::NotFound { entity: "plan" })?;
            (plan, repo::runs(&mut c, id, runs).await?)
        };
        Ok(PlanDetail { view: self.plan_view(plan).await?, runs })
    }

    /// Creates a plan; it starts with its next scheduled time.
    pub async fn plan_create(&self, p: &Principal, i: &PlanInput, ctx: &AuditCtx) -> ServiceResult<PlanView> {
        p.require(perm::ORDER_DISPATCH)?;
        let c = self.check_plan(p, i).await?;
        let mut tx = self.db.begin().await?;
        let plan = repo::insert(&mut tx, &c.fields(), p.actor(), self.now()).await?;
        let params = serde_json::json!({"id": plan.id, "name": plan.name, "kind": plan.kind, "type": plan.type_code,
            "every": plan.every, "day": plan.day, "at": plan.at_time});
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "plan.create", "ok", params).await?;
        commit(tx).await?;
        self.plan_view(plan).await
    }

    /// Replaces a plan's definition; runs already made stay.
    pub async fn plan_update(&self, p: &Principal, id: i64, i: &PlanInput, ctx: &AuditCtx) -> ServiceResult<PlanView> {
        p.require(perm::ORDER_DISPATCH)?;
        let c = self.check_plan(p, i).await?;
        let mut tx = self.db.begin().await?;
        let plan = repo::update(&mut tx, id, &c.fields(), self.now())
            .await?
            .ok_or(ServiceError::NotFound { entity: "plan" })?;
        let params = serde_json::json!({"id": id, "name": plan.name, "kind": plan.kind, "type": plan.type_code,
            "every": plan.every, "day": plan.day, "at": plan.at_time});
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "plan.update", "ok", params).await?;
        commit(tx).await?;
        self.plan_view(plan).await
    }

    /// Enables or disables a plan; enabled again, it starts with its next scheduled time.
    pub async fn plan_set_enabled(
        &self,
        p: &Principal,
        id: i64,
        enabled: bool,
        ctx: &AuditCtx,
    ) -> ServiceResult<PlanView> {
        p.require(perm::ORDER_DISPATCH)?;
        let mut tx = self.db.begin().await?;
        let plan = repo::set_enabled(&mut tx, id, enabled, self.now())
            .await?
            .ok_or(ServiceError::NotFound { entity: "plan" })?;
        let event = if enabled { "plan.enable" } else { "plan.disable" };
        security_in(&mut tx, self, &ctx.clone().for_principal(p), event, "ok", serde_json::json!({"id": id})).await?;
        commit(tx).await?;
        self.plan_view(plan).await
    }

    /// The scheduler's round: runs every enabled plan whose current period is due at `now`
    /// and has not run. Returns how many orders were created. A plan whose run fails on a
    /// rule (its order type was disabled, say) gets its period recorded with the reason, so
    /// it is not retried every minute; other failures are retried next round.
    pub async fn plans_run_due(&self, now: Timestamp) -> ServiceResult<usize> {
        let plans = {
            let mut c = self.db.read().await?;
            repo::list(&mut c, true).await?
        };
        let mut created = 0;
        for plan in plans {
            let Some(schedule) = schedule_of(&plan) else {
                tracing::warn!(plan.id = plan.id, "plan with an unreadable schedule skipped");
                continue;
            };
            let period = schedule.period(now, &self.tz);
            if period.due > now || period.due < plan.active_from {
                continue;
            }
            {
                let mut c = self.db.read().await?;
                if repo::run_exists(&mut c, plan.id, &period.key).await? {
                    continue;
                }
            }
            match self.plan_run(&plan, &period, now).await {
                Ok(n) => created += n,
                Err(e @ ServiceError::Validation { .. }) => {
                    tracing::warn!(plan.id = plan.id, plan.period = %period.key, error = %e, "plan run refused");
                    self.plan_run_refused(&plan, &period, now, &e.to_string()).await?;
                }
                Err(e) => tracing::error!(plan.id = plan.id, plan.period = %period.key, error = %e, "plan run failed"),
            }
        }
        Ok(created)
    }

    /// One period's run of a plan, in one transaction; 0 if another scheduler had it.
    async fn plan_run(&self, plan: &Plan, period: &Period, now: Timestamp) -> ServiceResult<usize> {
        let mut tx = self.db.begin().await?;
        let Some(run) = repo::claim_run(&mut tx, plan.id, &period.key, period.due, now).await? else {
            return Ok(0);
        };
        // The orders are the plan's: registered by the system in the plan's handling unit.
        let mut p = Principal::system();
        (p.unit_id, p.username, p.display_name) = (plan.unit_id, "scheduler".into(), format!("plan {}", plan.id));
        let ctx = AuditCtx {
            ip: "local".into(),
            method: "JOB".into(),
            path: format!("plans/{}/{}", plan.id, period.key),
            ..Default::default()
        };
        let degrees = |e6: Option<i64>| e6.map(crate::input::degrees);
        let base = OrderInput {
            type_code: plan.type_code.clone(),
            origin: "plan".into(),
            origin_ref: format!("plan:{}:{}", plan.id, period.key),
            impact: plan.impact.clone(),
            urgency: plan.urgency.clone(),
            title: plan.title.clone(),
            content: plan.content.clone(),
            address: plan.address.clone(),
            lat: degrees(plan.lat_e6),
            lng: degrees(plan.lng_e6),
            ..Default::default()
        };
        let mut orders = Vec::new();
        if plan.kind == "meter_age" {
            let path = units::get(&mut tx, plan.unit_id).await?.map(|u| u.path).unwrap_or_default();
            let today = now.to_zoned(self.tz.clone()).date();
            let cutoff = today
                .checked_sub(jiff::Span::new().years(plan.meter_age_years))
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            let meters = if path.is_empty() {
                vec![]
            } else {
                repo::old_meters(&mut tx, &path, &cutoff.to_string(), period.start, plan.max_per_run).await?
            };
            for m in meters {
                let detail = format!(
                    "表号 {}，口径 DN{}，安装于 {}（户号 {}）",
                    m.serial, m.diameter_mm, m.installed_on, m.account_no
                );
                let i = OrderInput {
                    origin_ref: truncate(&format!("{}:meter:{}", base.origin_ref, m.meter_id), 100),
                    customer_id: Some(m.holder_id),
                    account_id: Some(m.account_id),
                    title: truncate(&format!("{} {}", plan.title, m.serial), 100),
                    content: truncate(format!("{}\n{detail}", plan.content).trim(), 4000),
                    address: truncate(&m.address, 200),
                    lat: degrees(m.lat_e6),
                    lng: degrees(m.lon_e6),
                    ..base.clone()
                };
                let o = self.order_create_in(&mut tx, &p, &i, &ctx, now).await?;
                repo::add_run_order(&mut tx, run, o.id, Some(m.meter_id)).await?;
                orders.push(o.order_no);
            }
        } else {
            let o = self.order_create_in(&mut tx, &p, &base, &ctx, now).await?;
            repo::add_run_order(&mut tx, run, o.id, None).await?;
            orders.push(o.order_no);
        }
        let note = if orders.is_empty() { "nothing due" } else { "" };
        repo::finish_run(&mut tx, run, orders.len() as i64, note).await?;
        let params = serde_json::json!({"plan_id": plan.id, "period": period.key, "orders": orders.len()});
        security_in(&mut tx, self, &ctx.clone().for_principal(&p), "plan.run", "ok", params).await?;
        let mut pending = Vec::new();
        if !orders.is_empty() {
            let payload = serde_json::json!({"plan_id": plan.id, "name": plan.name, "period": period.key,
                "orders": orders});
            let topic = format!("perm:{}", perm::ORDER_DISPATCH);
            pending.push(self.events.emit(&mut tx, "plan.run", &topic, payload, now).await?.1);
        }
        commit(tx).await?;
        self.events.after_commit(pending);
        tracing::info!(plan.id = plan.id, plan.period = %period.key, orders = orders.len(), "plan run");
        Ok(orders.len())
    }

    /// Records a period whose run was refused, with the reason (unless another scheduler
    /// ran it meanwhile).
    async fn plan_run_refused(&self, plan: &Plan, period: &Period, now: Timestamp, why: &str) -> ServiceResult<()> {
        let mut tx = self.db.begin().await?;
        if let Some(run) = repo::claim_run(&mut tx, plan.id, &period.key, period.due, now).await? {
            repo::finish_run(&mut tx, run, 0, &truncate(why, 500)).await?;
            let ctx = AuditCtx { ip: "local".into(), method: "JOB".into(), ..AuditCtx::default() }.with_user(
                None,
                "scheduler",
                Some(plan.unit_id),
            );
            let params = serde_json::json!({"plan_id": plan.id, "period": period.key, "reason": why});
            security_in(&mut tx, self, &ctx, "plan.run", "refused", params).await?;
        }
        commit(tx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(every: &str, day: i64, at: &str, active_from: &str) -> Plan {
        let t: Timestamp = active_from.parse().unwrap();
        Plan {
            id: 1,
            name: "p".into(),
            kind: "fixed".into(),
            type_code: "patrol".into(),
            every: every.into(),
            day,
            at_time: at.into(),
            title: "t".into(),
            content: String::new(),
            address: String::new(),
            impact: "low".into(),
            urgency: "low".into(),
            lat_e6: None,
            lng_e6: None,
            meter_age_years: 0,
            max_per_run: 0,
            unit_id: 1,
            enabled: true,
            active_from: t,
            created_by: None,
            created_at: t,
            updated_at: t,
        }
    }

    #[test]
    fn next_due_skips_what_ran_and_what_came_before_the_plan() {
        let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
        let ts = |s: &str| s.parse::<Timestamp>().unwrap();
        // Created Sunday 10:00 local; daily at 08:00: the first run is Monday's.
        let p = plan("daily", 0, "08:00", "2026-11-29T02:00:00Z");
        assert_eq!(next_due(&p, None, ts("2026-11-29T02:00:00Z"), &tz), Some(ts("2026-11-30T00:00:00Z")));
        // Monday 08:30, not run yet: due now; once run, Tuesday.
        assert_eq!(next_due(&p, None, ts("2026-11-30T00:30:00Z"), &tz), Some(ts("2026-11-30T00:00:00Z")));
        assert_eq!(next_due(&p, Some("2026-11-30"), ts("2026-11-30T00:30:00Z"), &tz), Some(ts("2026-12-01T00:00:00Z")));
        // Monthly on the 31st: November's is the 30th.
        let p = plan("monthly", 31, "06:00", "2026-11-01T00:00:00Z");
        assert_eq!(next_due(&p, Some("2026-10"), ts("2026-11-02T00:00:00Z"), &tz), Some(ts("2026-11-29T22:00:00Z")));
        let off = Plan { enabled: false, ..p };
        assert_eq!(next_due(&off, None, ts("2026-11-02T00:00:00Z"), &tz), None);
    }
}
