//! The supervisor dashboard (R-DATA-07): today's intake by channel, open and overdue
//! orders by handling unit, the daily handling timeliness and satisfaction of the last
//! 30 days, the top order categories and a map of repairs — in the caller's data scope.
//!
//! The trends are the service indicators of DESIGN §5 (`processed_on_time_rate`,
//! `visit_satisfied_rate`) computed by [`Services::indicators`] grouped by day of
//! registration: the same code path as `/api/v1/stats/indicators`, no second formula.
//! That pass reads every order of the 30 days with its events (≈50 µs an order,
//! docs/PERFORMANCE.md), so the trend is cached per data scope for [`TREND_TTL_SECS`]
//! and the cheap parts for [`CURRENT_TTL_SECS`]; concurrent requests of one scope wait
//! for one computation instead of starting their own.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use utoipa::ToSchema;
use waterdesk_domain::permissions::perm;
use waterdesk_store::stats as repo;

use crate::{Principal, ServiceError, ServiceResult, Services};

/// How long the current figures (intake, open, categories, map) are reused.
pub const CURRENT_TTL_SECS: i64 = 5;
/// How long the 30-day trend is reused (its points are days).
pub const TREND_TTL_SECS: i64 = 60;
/// Days in the trends, the categories and the map (today included).
pub const DAYS: i64 = 30;
/// Categories listed.
pub const TOP: i64 = 10;
/// The order type whose sites make the repair map.
pub const REPAIR_TYPE: &str = "repair";
/// Map cells returned at most (the fullest).
pub const MAX_CELLS: i64 = 500;

/// Today's intake on one channel (反映形式; orders without a contact: their origin).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct IntakeRow {
    pub channel: String,
    /// Contacts (来电/来件) started today.
    pub contacts: i64,
    /// Orders registered today.
    pub orders: i64,
}

/// The open orders of one handling unit now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UnitLoad {
    pub unit_id: i64,
    /// Open orders (registered to verified, suspended included).
    pub open: i64,
    /// Among them, not yet resolved and past the complete deadline (as the quick counts).
    pub overdue: i64,
}

/// One day of the trends: the orders registered that day (local day), as of now.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TrendDay {
    /// `2026-11-29`.
    pub day: String,
    pub registered: u64,
    /// 处理消件数: the denominator of the handling timeliness.
    pub resolved_items: u64,
    /// 处理及时数.
    pub processed_on_time: u64,
    /// 处理及时率 (`processed_on_time_rate`), null when nothing is resolved yet.
    pub processed_on_time_rate: Option<f64>,
    /// Orders with a successful return visit (the denominator of the satisfaction rate).
    pub visited: u64,
    /// 回访客户满意数.
    pub visit_satisfied: u64,
    /// 回访客户满意率 (`visit_satisfied_rate`), null when nobody was visited.
    pub visit_satisfied_rate: Option<f64>,
}

/// An (order type, category) pair and its orders of the last 30 days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CategoryCount {
    pub type_code: String,
    /// The order's category (empty when none was given).
    pub category: String,
    pub orders: i64,
}

/// A map cell of repairs: its centre and how many repair orders lie in it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct HeatCell {
    pub lat: f64,
    pub lng: f64,
    pub orders: i64,
}

/// The dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Dashboard {
    /// When the current figures were computed (they may be up to 5 s old).
    pub generated_at: Timestamp,
    /// When the trends were computed (up to 60 s old).
    pub trend_generated_at: Timestamp,
    /// Today, in the service's zone.
    pub today: String,
    /// Today's intake by channel, busiest first.
    pub intake: Vec<IntakeRow>,
    /// Open and overdue orders by handling unit, by unit id.
    pub units: Vec<UnitLoad>,
    /// The last 30 days, oldest first, every day present.
    pub trend: Vec<TrendDay>,
    /// The 10 most frequent (type, category) pairs of the last 30 days.
    pub top_categories: Vec<CategoryCount>,
    /// Repair orders of the last 30 days with a site, by map cell (0.005°), fullest first.
    pub repairs: Vec<HeatCell>,
    /// Side of a map cell in degrees.
    pub cell_deg: f64,
}

#[derive(Debug, Clone)]
struct Current {
    at: Timestamp,
    today: String,
    intake: Vec<IntakeRow>,
    units: Vec<UnitLoad>,
    top_categories: Vec<CategoryCount>,
    repairs: Vec<HeatCell>,
}

#[derive(Default)]
struct Slot {
    current: Option<Arc<Current>>,
    trend: Option<(Timestamp, Arc<Vec<TrendDay>>)>,
}

/// Dashboards computed recently, per data scope.
#[derive(Clone, Default)]
pub struct DashboardCache {
    slots: Arc<std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>>,
}

impl DashboardCache {
    fn slot(&self, key: &str) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut g = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        g.entry(key.to_string()).or_default().clone()
    }
}

fn fresh(at: Timestamp, now: Timestamp, ttl: i64) -> bool {
    at <= now && now.duration_since(at) < SignedDuration::from_secs(ttl)
}

impl Services {
    /// The dashboard in the caller's data scope (`report.read`).
    pub async fn dashboard(&self, p: &Principal) -> ServiceResult<Dashboard> {
        p.require(perm::REPORT_READ)?;
        let units = self.scope_unit_ids(p).await?;
        let key = match &units {
            None => "all".to_string(),
            Some(ids) => {
                let mut ids = ids.clone();
                ids.sort_unstable();
                ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
            }
        };
        let slot = self.dashboards.slot(&key);
        let mut slot = slot.lock().await;
        let now = self.now();
        let current = match &slot.current {
            Some(c) if fresh(c.at, now, CURRENT_TTL_SECS) => c.clone(),
            _ => {
                let c = Arc::new(self.dashboard_current(units.as_deref(), now).await?);
                slot.current = Some(c.clone());
                c
            }
        };
        let (trend_at, trend) = match &slot.trend {
            Some((at, t)) if fresh(*at, now, TREND_TTL_SECS) => (*at, t.clone()),
            _ => {
                let t = Arc::new(self.dashboard_trend(p, now).await?);
                slot.trend = Some((now, t.clone()));
                (now, t)
            }
        };
        Ok(Dashboard {
            generated_at: current.at,
            trend_generated_at: trend_at,
            today: current.today.clone(),
            intake: current.intake.clone(),
            units: current.units.clone(),
            trend: trend.as_ref().clone(),
            top_categories: current.top_categories.clone(),
            repairs: current.repairs.clone(),
            cell_deg: repo::CELL_E6 as f64 / 1e6,
        })
    }

    /// The local day of `now` and the start of the 30-day window, as instants.
    fn dashboard_days(&self, now: Timestamp) -> ServiceResult<(jiff::civil::Date, Timestamp, Timestamp, Timestamp)> {
        let internal = |e: jiff::Error| ServiceError::Internal(e.to_string());
        let today = now.to_zoned(self.tz.clone()).start_of_day().map_err(internal)?;
        let tomorrow = today.tomorrow().and_then(|d| d.start_of_day()).map_err(internal)?;
        let first = today.checked_sub(jiff::Span::new().days(DAYS - 1)).map_err(internal)?;
        Ok((today.date(), first.timestamp(), today.timestamp(), tomorrow.timestamp()))
    }

    async fn dashboard_current(&self, units: Option<&[i64]>, now: Timestamp) -> ServiceResult<Current> {
        let (today, first, start, end) = self.dashboard_days(now)?;
        let mut c = self.db.read().await?;
        let mut intake: BTreeMap<String, IntakeRow> = BTreeMap::new();
        for (channel, n) in repo::contacts_by_channel(&mut c, units, (start, end)).await? {
            intake.entry(channel.clone()).or_insert_with(|| IntakeRow { channel, ..Default::default() }).contacts += n;
        }
        for (channel, n) in repo::orders_by_channel(&mut c, units, (start, end)).await? {
            intake.entry(channel.clone()).or_insert_with(|| IntakeRow { channel, ..Default::default() }).orders += n;
        }
        let mut intake: Vec<IntakeRow> = intake.into_values().collect();
        intake.sort_by(|a, b| (b.contacts + b.orders).cmp(&(a.contacts + a.orders)).then(a.channel.cmp(&b.channel)));
        let units_now = repo::open_by_unit(&mut c, units)
            .await?
            .into_iter()
            .map(|(unit_id, open, overdue)| UnitLoad { unit_id, open, overdue })
            .collect();
        let top_categories = repo::top_categories(&mut c, units, (first, end), TOP)
            .await?
            .into_iter()
            .map(|(type_code, category, orders)| CategoryCount { type_code, category, orders })
            .collect();
        let half = repo::CELL_E6 as f64 / 2.0;
        let centre = |cell: i64| {
            // Truncation toward zero: cell k covers [k, k+1) cells above 0 and (k-1, k] below.
            let edge = (cell * repo::CELL_E6) as f64;
            (if cell >= 0 { edge + half } else { edge - half }) / 1e6
        };
        let repairs = repo::cells_of_type(&mut c, units, REPAIR_TYPE, (first, end), MAX_CELLS)
            .await?
            .into_iter()
            .map(|(cy, cx, orders)| HeatCell { lat: centre(cy), lng: centre(cx), orders })
            .collect();
        Ok(Current { at: now, today: today.to_string(), intake, units: units_now, top_categories, repairs })
    }

    /// Handling timeliness and satisfaction per day of registration over the last 30
    /// days, as of `now`, through [`Services::indicators`].
    async fn dashboard_trend(&self, p: &Principal, now: Timestamp) -> ServiceResult<Vec<TrendDay>> {
        let (today, first, _, end) = self.dashboard_days(now)?;
        let rows = self.indicators(p, first, end, Some(now), "day").await?;
        let by_day: HashMap<String, waterdesk_domain::kpi::Indicators> =
            rows.into_iter().filter_map(|r| Some((r.period?, r.exact))).collect();
        let mut out = Vec::with_capacity(DAYS as usize);
        for back in (0..DAYS).rev() {
            let day =
                today.checked_sub(jiff::Span::new().days(back)).map_err(|e| ServiceError::Internal(e.to_string()))?;
            let key = day.to_string();
            let i = by_day.get(&key).cloned().unwrap_or_default();
            out.push(TrendDay {
                day: key,
                registered: i.registered,
                resolved_items: i.resolved_items,
                processed_on_time: i.processed_on_time,
                processed_on_time_rate: i.processed_on_time_rate.map(|r| r.value()),
                visited: i.visited,
                visit_satisfied: i.visit_satisfied,
                visit_satisfied_rate: i.visit_satisfied_rate.map(|r| r.value()),
            });
        }
        Ok(out)
    }

    /// Publishes `stats.changed` (topic `perm:report.read`) on this process's bus when an
    /// order event or a contact was added since the last call (`last`), so that open
    /// dashboards refresh at once. Two primary-key look-ups, and none while nobody listens;
    /// every replica's worker runs it, so every replica's pages hear of every change.
    pub async fn stats_pulse(&self, last: &mut Option<(i64, i64)>) -> ServiceResult<bool> {
        if !self.events.has_subscribers() {
            *last = None;
            return Ok(false);
        }
        let mut c = self.db.read().await?;
        let stamp = repo::change_stamp(&mut c).await?;
        let changed = last.is_some_and(|l| l != stamp);
        *last = Some(stamp);
        if changed {
            self.events.publish_local(crate::Event {
                id: 0,
                kind: "stats.changed".into(),
                topic: format!("perm:{}", perm::REPORT_READ),
                payload: serde_json::json!({}),
            });
        }
        Ok(changed)
    }
}
