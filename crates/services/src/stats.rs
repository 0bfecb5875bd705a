//! Statistics (issue 6, R-DATA-01/04/05): the service indicators of DESIGN §5 over the
//! database — the cohort read a page at a time (`store::stats`), each order turned into
//! `domain::kpi::OrderFacts` with its type's targets and calendar (as the escalation
//! watcher uses them), streamed through a `kpi::Report` — and the quick counts.

use std::collections::{BTreeMap, HashMap};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use waterdesk_domain::kpi::{
    self, Cohort, GroupBy, GroupKey, Indicator, Indicators, Keys, OrderFacts, Period, PeriodKey, Satisfaction, Value,
    VisitAttempt,
};
use waterdesk_domain::permissions::perm;
use waterdesk_domain::sla::{Calendar, Targets};
use waterdesk_domain::workflow::{State, Workflow};
use waterdesk_store::AnyConnection;
use waterdesk_store::stats::{self as repo, CohortFilter, FactGrouping, OrderFactsRow, StandingFacts};

use crate::escalation::targets_of;
use crate::input::commit;
use crate::{Principal, ServiceError, ServiceResult, Services};

/// The longest cohort a report may span.
pub const MAX_RANGE_DAYS: i64 = 400;
/// Orders read per page.
const PAGE: i64 = 2000;

fn v(field: &str, code: &'static str, detail: impl Into<String>) -> ServiceError {
    ServiceError::validation(field, code, detail)
}

/// What an indicator report asks for; every field optional (the current month, now, one row).
#[derive(Debug, Clone, Default, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct IndicatorQuery {
    /// Start of the cohort (registered at or after): RFC 3339, or a date `2026-06-01`
    /// (midnight in the service's zone). Default: the start of the current month.
    pub from: Option<String>,
    /// End of the cohort (registered before), same forms. Default: `from` + one month.
    pub to: Option<String>,
    /// The instant the figures are evaluated as of (default: now).
    pub at: Option<String>,
    /// Comma list of `unit`, `type`, `category`, `channel`, `source` and one of `day`,
    /// `week`, `month`; empty: the whole cohort as one row.
    pub group_by: Option<String>,
}

/// One group of an indicator report: the keys grouped by, and every indicator by its code
/// (`domain::kpi::Indicator::ALL`): counts as integers, rates as numbers in [0, 1] or null
/// when their denominator is 0.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IndicatorRow {
    pub unit_id: Option<i64>,
    pub type_code: Option<String>,
    pub category: Option<String>,
    pub channel: Option<String>,
    pub source: Option<String>,
    /// `2026-06-01`, `2026-W23` or `2026-06`.
    pub period: Option<String>,
    #[schema(value_type = Object)]
    pub indicators: BTreeMap<&'static str, serde_json::Value>,
    /// The exact figures (for pages and exports).
    #[serde(skip)]
    pub exact: Indicators,
}

impl IndicatorRow {
    pub fn new(key: GroupKey, i: Indicators) -> IndicatorRow {
        let indicators = Indicator::ALL
            .into_iter()
            .map(|ind| {
                let value = match i.get(ind) {
                    Value::Count(n) => serde_json::json!(n),
                    Value::Rate(r) => r.map_or(serde_json::Value::Null, |r| serde_json::json!(r.value())),
                };
                (ind.code(), value)
            })
            .collect();
        IndicatorRow {
            unit_id: key.unit,
            type_code: key.order_type,
            category: key.category,
            channel: key.channel,
            source: key.source,
            period: key.period.map(|p| p.to_string()),
            indicators,
            exact: i,
        }
    }
}

/// Parses a `group_by` list; unknown keys are refused with `unknown_group_by`.
pub fn parse_group_by(s: &str) -> ServiceResult<GroupBy> {
    let mut g = GroupBy::default();
    for k in s.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        let period = match k {
            "unit" => {
                g.unit = true;
                None
            }
            "type" => {
                g.order_type = true;
                None
            }
            "category" => {
                g.category = true;
                None
            }
            "channel" => {
                g.channel = true;
                None
            }
            "source" => {
                g.source = true;
                None
            }
            "day" => Some(Period::Day),
            "week" => Some(Period::Week),
            "month" => Some(Period::Month),
            other => {
                return Err(v(
                    "group_by",
                    "unknown_group_by",
                    format!("not a grouping: {other} (unit, type, category, channel, source, day, week, month)"),
                ));
            }
        };
        if let Some(p) = period {
            if g.period.is_some_and(|q| q != p) {
                return Err(v("group_by", "multiple_periods", "at most one of day, week, month"));
            }
            g.period = Some(p);
        }
    }
    Ok(g)
}

/// Which orders of the cohort count (a custom report's filters); an empty list does not
/// filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Filters {
    /// Order type codes (`repair`, `complaint`, …).
    pub types: Vec<String>,
    /// Business categories (反映类别, dictionary `category`).
    pub categories: Vec<String>,
    /// Channels (反映形式, dictionary `channel`; or the order's origin without a contact).
    pub channels: Vec<String>,
    /// Sources (反映来源, dictionary `source`; or the order's origin without a contact).
    pub sources: Vec<String>,
    /// Handling units (within the caller's data scope).
    pub units: Vec<i64>,
}

impl Filters {
    pub fn is_empty(&self) -> bool {
        self == &Filters::default()
    }
}

/// A type's flags and, per priority level 1–4, its targets and calendar.
struct TypeFacts {
    requires_reply: bool,
    requires_visit: bool,
    levels: Vec<(Targets, Calendar)>,
}

impl Services {
    /// An instant from RFC 3339 or a date (midnight in the service's zone).
    pub(crate) fn instant(&self, field: &str, s: &str) -> ServiceResult<Timestamp> {
        let s = s.trim();
        if let Ok(t) = s.parse::<Timestamp>() {
            return Ok(t);
        }
        s.parse::<jiff::civil::Date>()
            .ok()
            .and_then(|d| d.to_zoned(self.tz.clone()).ok())
            .map(|z| z.timestamp())
            .ok_or_else(|| v(field, "invalid_time", "an RFC 3339 instant or a date YYYY-MM-DD"))
    }

    /// [`Self::indicators`] from a query as the API receives it.
    pub async fn indicators_query(&self, p: &Principal, q: &IndicatorQuery) -> ServiceResult<Vec<IndicatorRow>> {
        p.require(perm::REPORT_READ)?;
        let opt = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        let from = match opt(&q.from) {
            Some(s) => self.instant("from", &s)?,
            None => {
                let today = self.now().to_zoned(self.tz.clone()).date();
                today
                    .first_of_month()
                    .to_zoned(self.tz.clone())
                    .map_err(|e| v("from", "invalid_time", e.to_string()))?
                    .timestamp()
            }
        };
        let to = match opt(&q.to) {
            Some(s) => self.instant("to", &s)?,
            None => from
                .to_zoned(self.tz.clone())
                .checked_add(jiff::Span::new().months(1))
                .map_err(|e| v("to", "invalid_time", e.to_string()))?
                .timestamp(),
        };
        let at = opt(&q.at).map(|s| self.instant("at", &s)).transpose()?;
        self.indicators(p, from, to, at, q.group_by.as_deref().unwrap_or("")).await
    }

    /// The indicators (DESIGN §5) of the orders registered in `[from, to)` in the caller's
    /// data scope, evaluated as of `at` (default now), grouped by `group_by` (a comma list,
    /// see [`parse_group_by`]); periods are cut in the service's zone.
    pub async fn indicators(
        &self,
        p: &Principal,
        from: Timestamp,
        to: Timestamp,
        at: Option<Timestamp>,
        group_by: &str,
    ) -> ServiceResult<Vec<IndicatorRow>> {
        p.require(perm::REPORT_READ)?;
        let group_by = parse_group_by(group_by)?;
        self.indicators_filtered(p, from, to, at, group_by, &Filters::default()).await
    }

    /// [`Self::indicators`] of the orders that pass `filters` (custom reports, R-DATA-04):
    /// the one code path of every indicator figure.
    pub async fn indicators_filtered(
        &self,
        p: &Principal,
        from: Timestamp,
        to: Timestamp,
        at: Option<Timestamp>,
        group_by: GroupBy,
        filters: &Filters,
    ) -> ServiceResult<Vec<IndicatorRow>> {
        p.require(perm::REPORT_READ)?;
        if from >= to {
            return Err(v("from", "invalid_range", "`from` must be before `to`"));
        }
        if to.duration_since(from) > SignedDuration::from_hours(24 * MAX_RANGE_DAYS) {
            return Err(v("to", "range_too_long", format!("at most {MAX_RANGE_DAYS} days")));
        }
        let at = at.unwrap_or_else(|| self.now());
        // The caller's scope, narrowed to the units asked for.
        let units = match (self.scope_unit_ids(p).await?, filters.units.is_empty()) {
            (scope, true) => scope,
            (None, false) => Some(filters.units.clone()),
            (Some(scope), false) => Some(filters.units.iter().copied().filter(|u| scope.contains(u)).collect()),
        };
        let filter = CohortFilter {
            types: &filters.types,
            categories: &filters.categories,
            channels: &filters.channels,
            sources: &filters.sources,
            ..CohortFilter::new(from, to, units.as_deref())
        };
        // One snapshot for the stored sums and the replayed rest: an order changed in
        // between would otherwise be counted twice or not at all.
        let mut tx = self.db.snapshot().await?;
        let types = TypeTable::load(&mut tx).await?;
        let mut report = kpi::Report::new(Cohort { from, to }, at, group_by, self.tz.clone());
        if !self.add_stored(&mut tx, &mut report, &filter, at).await? {
            // Periods cut in a zone whose offset is not whole hours: replay everything.
            report = kpi::Report::new(Cohort { from, to }, at, group_by, self.tz.clone());
            let mut after = 0;
            loop {
                let page = repo::cohort_page(&mut tx, &filter, after, PAGE).await?;
                let Some(last) = page.last() else { break };
                after = last.id;
                for o in &page {
                    report.add(&types.facts(o));
                }
                if (page.len() as i64) < PAGE {
                    break;
                }
            }
        } else {
            let ids = repo::replay_ids(&mut tx, &filter, at).await?;
            for chunk in ids.chunks(PAGE as usize) {
                for o in repo::facts_by_ids(&mut tx, chunk).await?.iter().filter(|o| filter.keeps(o)) {
                    report.add(&types.facts(o));
                }
            }
        }
        tx.rollback().await.map_err(waterdesk_store::StoreError::from)?;
        Ok(report.finish().into_iter().map(|(k, i)| IndicatorRow::new(k, i)).collect())
    }

    /// Adds the stored sums of the cohort's orders whose facts hold at `at` (ARCHITECTURE D24).
    /// `false` (nothing added): the report's periods cannot be cut from whole UTC hours.
    async fn add_stored(
        &self,
        conn: &mut AnyConnection,
        report: &mut kpi::Report,
        filter: &CohortFilter<'_>,
        at: Timestamp,
    ) -> ServiceResult<bool> {
        let g = report.group_by();
        let by = FactGrouping {
            unit: g.unit,
            type_code: g.order_type,
            category: g.category,
            channel: g.channel,
            source: g.source,
            hour: g.period.is_some(),
        };
        let sums = repo::fact_sums(conn, filter, at, by).await?;
        let last_instant = SignedDuration::from_secs(3600) - SignedDuration::from_micros(1);
        let mut keyed = Vec::with_capacity(sums.len());
        for s in sums {
            let registered = s.hour.unwrap_or(filter.from);
            if let (Some(p), Some(h)) = (g.period, s.hour) {
                let end = h.checked_add(last_instant).map_err(|e| ServiceError::Internal(e.to_string()))?;
                if PeriodKey::of(p, h, &self.tz) != PeriodKey::of(p, end, &self.tz) {
                    return Ok(false);
                }
            }
            let keys = Keys {
                unit: s.unit_id.unwrap_or_default(),
                order_type: s.type_code.unwrap_or_default(),
                category: s.category.unwrap_or_default(),
                channel: s.channel.unwrap_or_default(),
                source: s.source.unwrap_or_default(),
            };
            keyed.push((g.key_of(&keys, registered, &self.tz), Indicators::from_facts(s.orders, s.overdue, s.counts)));
        }
        for (key, counts) in keyed {
            report.add_counts(key, &counts);
        }
        Ok(true)
    }

    /// Stores the indicator facts of orders that have none or outdated ones, at
    /// most about `max` per call; returns how many were stored. Run by the job worker's
    /// timer (and `waterdesk seed`); reports are exact whether it has caught up or not.
    pub async fn refresh_facts(&self, max: usize) -> ServiceResult<usize> {
        const CHUNK: i64 = 500;
        let mut stored = 0;
        let mut after = 0;
        while stored < max {
            let mut c = self.db.read().await?;
            let due = repo::facts_due(&mut c, after, CHUNK).await?;
            let Some(&(last, _)) = due.last() else { break };
            after = last;
            let ids: Vec<i64> = due.iter().map(|d| d.0).collect();
            let versions: HashMap<i64, i64> = due.iter().copied().collect();
            let facts = self.standing_facts_of(&mut c, &ids, &versions).await?;
            drop(c);
            let mut tx = self.db.begin().await?;
            stored += repo::store_facts(&mut tx, self.db.backend(), &facts).await?;
            commit(tx).await?;
            if (due.len() as i64) < CHUNK {
                break;
            }
        }
        Ok(stored)
    }
}

impl Services {
    /// The indicator facts (`kpi::standing`) of the orders `ids` that have them (all but
    /// suspended ones), computed from their rows as read through `conn`, each stamped with
    /// its version in `versions` (orders missing there are left out). The one computation
    /// behind the refresher and `seed`.
    pub(crate) async fn standing_facts_of(
        &self,
        conn: &mut AnyConnection,
        ids: &[i64],
        versions: &HashMap<i64, i64>,
    ) -> ServiceResult<Vec<StandingFacts>> {
        let types = TypeTable::load(conn).await?;
        let rows = repo::facts_by_ids(conn, ids).await?;
        Ok(rows
            .iter()
            .filter_map(|o| {
                let version = *versions.get(&o.id)?;
                let s = kpi::standing(&types.facts(o), &self.tz)?;
                Some(StandingFacts {
                    order_id: o.id,
                    version,
                    registered_at: o.registered_at,
                    since: s.since,
                    overdue_after: s.overdue_after,
                    unit_id: o.unit_id,
                    type_code: o.type_code.clone(),
                    category: o.category.clone(),
                    channel: o.channel.clone(),
                    source: o.source.clone(),
                    counts: s.counts.fact_counts(),
                })
            })
            .collect())
    }
}

/// Every order type's flags, targets and calendars, to turn stored rows into
/// `kpi::OrderFacts` as the escalation watcher sees them.
struct TypeTable {
    types: HashMap<String, TypeFacts>,
    fallback: TypeFacts,
}

impl TypeTable {
    async fn load(c: &mut AnyConnection) -> ServiceResult<TypeTable> {
        let mut types: HashMap<String, TypeFacts> = HashMap::new();
        for t in waterdesk_store::orders::list_types(c).await? {
            let w: Option<Workflow> = serde_json::from_str(&t.workflow).ok();
            let levels = (1..=4).map(|l| targets_of(&t, l)).collect();
            types.insert(
                t.code.clone(),
                TypeFacts {
                    requires_reply: w.as_ref().is_some_and(|w| w.customer_reply),
                    requires_visit: w.as_ref().is_some_and(|w| w.return_visit),
                    levels,
                },
            );
        }
        let fallback = TypeFacts {
            requires_reply: false,
            requires_visit: false,
            levels: (1..=4u8).map(|l| (waterdesk_domain::sla::default_targets(l), Calendar::always())).collect(),
        };
        Ok(TypeTable { types, fallback })
    }

    fn facts<'a>(&'a self, o: &OrderFactsRow) -> OrderFacts<'a> {
        let t = self.types.get(&o.type_code).unwrap_or(&self.fallback);
        let (targets, calendar) = &t.levels[(o.priority.clamp(1, 4) - 1) as usize];
        OrderFacts {
            registered_at: o.registered_at,
            history: o.history.iter().filter_map(|(at, s)| Some((*at, State::parse(s)?))).collect(),
            targets: *targets,
            calendar,
            requires_reply: t.requires_reply,
            replied_at: o.replied_at,
            requires_visit: t.requires_visit,
            visits: o.visits.iter().map(|(at, s)| VisitAttempt { at: *at, rating: Satisfaction::parse(s) }).collect(),
            keys: Keys {
                unit: o.unit_id,
                order_type: o.type_code.clone(),
                category: o.category.clone(),
                channel: o.channel.clone(),
                source: o.source.clone(),
            },
        }
    }
}

/// The quick counts (R-DATA-01) over the orders in the caller's data scope, as of now;
/// "today" is the current day in the service's zone. Stages as in DESIGN §5; a suspended
/// order counts in the stage it was suspended from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct QuickCounts {
    /// 今日受理: orders registered today (any state now).
    pub received: i64,
    /// 未处理: orders in `registered` (not yet accepted), whenever registered.
    pub unprocessed: i64,
    /// 处理中: open orders accepted but not resolved — `pending_approval`, `accepted`,
    /// `dispatched`, `acknowledged`, `in_progress`, or suspended from one of them.
    pub in_progress: i64,
    /// 待办结: resolved or verified (or suspended there), awaiting verification, the
    /// return visit or conclusion.
    pub awaiting_conclusion: i64,
    /// 今日办结: orders concluded today.
    pub completed: i64,
    /// 今日回访: orders concluded today by a return visit (the `visit` step concludes).
    pub visited: i64,
    /// 超期: open orders not yet resolved (suspended included) that the escalation watcher
    /// found past their complete deadline (`work_orders.overdue`; it looks every 15 s).
    pub overdue: i64,
}

impl Services {
    /// The quick counts in the caller's data scope (one grouped query).
    pub async fn quick_counts(&self, p: &Principal) -> ServiceResult<QuickCounts> {
        p.require(perm::REPORT_READ)?;
        let units = self.scope_unit_ids(p).await?;
        let internal = |e: jiff::Error| ServiceError::Internal(e.to_string());
        let start = self.now().to_zoned(self.tz.clone()).start_of_day().map_err(internal)?;
        let end = start.tomorrow().and_then(|d| d.start_of_day()).map_err(internal)?;
        let mut c = self.db.read().await?;
        let r = repo::quick_counts(&mut c, units.as_deref(), (start.timestamp(), end.timestamp())).await?;
        Ok(QuickCounts {
            received: r.received,
            unprocessed: r.unprocessed,
            in_progress: r.in_progress,
            awaiting_conclusion: r.awaiting_conclusion,
            completed: r.completed,
            visited: r.visited,
            overdue: r.overdue,
        })
    }
}
