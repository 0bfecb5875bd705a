//! Dispatch (R-WO-06): crew positions, skills, ranked suggestions, and automatic dispatch
//! of emergencies.
//!
//! Suggestions rank every active crew member (`order.handle`) with `domain::dispatch`:
//! distance from their last known position to the site, their open workload, whether the
//! order's type is among their skills and whether the site lies in their service area —
//! the unit subtree of the order's account (or, without an account, of the order's
//! handling unit). A level-1 order that reaches `accepted` (or is registered, if its type
//! accepts without approval) gets an `order.auto_dispatch` job in the same transaction;
//! the job dispatches to the best free, skilled candidate, or tells the dispatchers that
//! nobody was free and leaves the order in their queue.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use waterdesk_domain::dispatch::{Candidate, Ranked, Weights, auto_pick, rank};
use waterdesk_domain::permissions::perm;
use waterdesk_domain::workflow::{Action, State};
use waterdesk_store::jobs::NewJob;
use waterdesk_store::orders::{self as repo, CrewRow, Order};
use waterdesk_store::{AnyConnection, customers, units};

use crate::audit::{AuditCtx, security_in};
use crate::input::{commit, coordinate, degrees};
use crate::orders::ActInput;
use crate::{Principal, ServiceError, ServiceResult, Services};

/// The job kind of automatic dispatch.
pub const AUTO_DISPATCH_JOB: &str = "order.auto_dispatch";

/// A ranked crew member.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Suggestion {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub unit_id: i64,
    pub unit_name: String,
    /// Metres from their last known position (`None`: unknown or older than 2 hours).
    pub distance_m: Option<f64>,
    pub position_at: Option<jiff::Timestamp>,
    /// Orders in hand (dispatched, acknowledged, in progress).
    pub open_orders: i64,
    pub skilled: bool,
    pub in_area: bool,
    /// Below the workload limit.
    pub free: bool,
    /// Equivalent kilometres; lower is better.
    pub score: f64,
}

/// A position ping from the field app.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PositionInput {
    pub lat: f64,
    pub lng: f64,
    /// Accuracy radius in metres, as the phone reports it.
    pub accuracy_m: Option<f64>,
}

/// Whether the order's type is among the skills (an empty list means every type).
fn skilled(skills: &str, type_code: &str) -> bool {
    let mut list = skills.split(',').map(str::trim).filter(|s| !s.is_empty()).peekable();
    list.peek().is_none() || list.any(|s| s == type_code)
}

impl Services {
    /// The crew ranked for an order, best first.
    async fn ranked_crew(&self, conn: &mut AnyConnection, o: &Order) -> ServiceResult<Vec<(Ranked, CrewRow)>> {
        let area_unit = match o.account_id {
            Some(a) => customers::get_account(conn, a).await?.map_or(o.unit_id, |a| a.unit_id),
            None => o.unit_id,
        };
        let area = units::get(conn, area_unit).await?.map(|u| u.path).unwrap_or_default();
        let crew = repo::crew(conn, None).await?;
        let now = self.now();
        let candidates: Vec<Candidate> = crew
            .iter()
            .map(|c| Candidate {
                user_id: c.user_id,
                position: c
                    .position
                    .map(|(lat, lng, at)| ((degrees(lat), degrees(lng)), now.duration_since(at).as_secs())),
                open_orders: c.open_orders,
                skilled: skilled(&c.skills, &o.type_code),
                in_area: !area.is_empty() && (c.unit_path.starts_with(&area) || area.starts_with(&c.unit_path)),
            })
            .collect();
        let site = o.lat_e6.zip(o.lng_e6).map(|(a, b)| (degrees(a), degrees(b)));
        let ranked = rank(site, &candidates, &Weights::default());
        let mut by_id: std::collections::HashMap<i64, CrewRow> = crew.into_iter().map(|c| (c.user_id, c)).collect();
        Ok(ranked.into_iter().filter_map(|r| by_id.remove(&r.user_id).map(|c| (r, c))).collect())
    }

    /// Crew members ranked for dispatching an order (R-WO-06).
    pub async fn dispatch_suggestions(
        &self,
        p: &Principal,
        order_id: i64,
        limit: i64,
    ) -> ServiceResult<Vec<Suggestion>> {
        p.require(perm::ORDER_DISPATCH)?;
        if !(1..=200).contains(&limit) {
            return Err(ServiceError::validation("limit", "invalid_limit", "1 to 200"));
        }
        let o = self.order_get(p, order_id).await?.order;
        let mut c = self.db.read().await?;
        let ranked = self.ranked_crew(&mut c, &o).await?;
        Ok(ranked
            .into_iter()
            .take(limit as usize)
            .map(|(r, c)| Suggestion {
                user_id: c.user_id,
                username: c.username,
                display_name: c.display_name,
                unit_id: c.unit_id,
                unit_name: c.unit_name,
                distance_m: r.distance_m.map(|m| m.round()),
                position_at: c.position.map(|(_, _, at)| at),
                open_orders: r.open_orders,
                skilled: r.skilled,
                in_area: r.in_area,
                free: r.free,
                score: (r.score * 100.0).round() / 100.0,
            })
            .collect())
    }

    /// Records the caller's position (the field app pings it). Telemetry: not audited.
    pub async fn crew_position(&self, p: &Principal, i: &PositionInput) -> ServiceResult<()> {
        p.require(perm::ORDER_HANDLE)?;
        let (lat, lng) = (coordinate("lat", i.lat, 90.0)?, coordinate("lng", i.lng, 180.0)?);
        let accuracy = match i.accuracy_m {
            Some(a) if !(0.0..=100_000.0).contains(&a) => {
                return Err(ServiceError::validation("accuracy_m", "out_of_range", "0 to 100000 metres"));
            }
            a => a.map(|a| a.round() as i64),
        };
        let mut tx = self.db.begin().await?;
        repo::set_position(&mut tx, p.user_id, lat, lng, accuracy, self.now()).await?;
        commit(tx).await
    }

    /// Sets a crew member's skills: the order types they handle (empty: every type).
    pub async fn crew_set_skills(
        &self,
        p: &Principal,
        user_id: i64,
        skills: &[String],
        ctx: &AuditCtx,
    ) -> ServiceResult<()> {
        p.require(perm::ADMIN_USER_WRITE)?;
        let mut tx = self.db.begin().await?;
        let known: Vec<String> = repo::list_types(&mut tx).await?.into_iter().map(|t| t.code).collect();
        let mut list: Vec<&str> = skills.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
        list.sort_unstable();
        list.dedup();
        if let Some(bad) = list.iter().find(|s| !known.iter().any(|k| k == *s)) {
            return Err(ServiceError::validation("skills", "unknown_type", format!("not an order type: {bad}")));
        }
        if !repo::set_skills(&mut tx, user_id, &list.join(",")).await? {
            return Err(ServiceError::NotFound { entity: "user" });
        }
        let params = serde_json::json!({"user_id": user_id, "skills": list});
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "crew.skills", "ok", params).await?;
        commit(tx).await
    }

    /// Queues automatic dispatch of an emergency in the caller's transaction.
    pub(crate) async fn queue_auto_dispatch(&self, conn: &mut AnyConnection, o: &Order) -> ServiceResult<()> {
        if o.priority != 1 || o.assignee_id.is_some() || !matches!(o.state.as_str(), "registered" | "accepted") {
            return Ok(());
        }
        let now = self.now();
        let payload = serde_json::json!({"order_id": o.id});
        let key = format!("{AUTO_DISPATCH_JOB}:{}:{}", o.id, o.version);
        let job =
            NewJob { kind: AUTO_DISPATCH_JOB, payload: &payload, run_at: now, max_attempts: 5, dedupe_key: Some(&key) };
        waterdesk_store::jobs::enqueue(conn, &job, now).await?;
        Ok(())
    }

    /// Automatic dispatch of an emergency (the job's work): accepts the order if its type
    /// allows that without approval, then dispatches it to the best free, skilled crew
    /// member. Returns the assignee, or `None` when the order no longer qualifies or nobody
    /// is free (the dispatchers are told).
    pub async fn auto_dispatch(&self, order_id: i64) -> ServiceResult<Option<i64>> {
        let sys = Principal::system();
        let ctx = AuditCtx::cli("auto-dispatch");
        let mut o = {
            let mut c = self.db.read().await?;
            match repo::get(&mut c, order_id).await? {
                Some(o) => o,
                None => return Ok(None),
            }
        };
        if o.priority != 1 || o.assignee_id.is_some() {
            return Ok(None);
        }
        let note = |s: &str| ActInput { version: 0, note: s.into(), ..ActInput::default() };
        if o.state == State::Registered.code() {
            let w = {
                let mut c = self.db.read().await?;
                self.workflow_of(&mut c, &o.type_code).await?.1
            };
            let to = w.steps_from(State::Registered).find(|s| s.action == Action::Accept).map(|s| s.to);
            if to != Some(State::Accepted) {
                return Ok(None); // approval first, or no acceptance step: people decide
            }
            let i = ActInput { version: o.version, ..note("紧急工单自动受理") };
            o = match self.order_act(&sys, o.id, "accept", &i, &ctx).await {
                Ok(o) => o,
                Err(ServiceError::Conflict { .. }) => return Ok(None), // somebody acted first
                Err(e) => return Err(e),
            };
        }
        if o.state != State::Accepted.code() {
            return Ok(None);
        }
        let best = {
            let mut c = self.db.read().await?;
            let ranked = self.ranked_crew(&mut c, &o).await?;
            let just: Vec<Ranked> = ranked.iter().map(|(r, _)| r.clone()).collect();
            auto_pick(&just).map(|r| r.user_id)
        };
        let Some(crew) = best else {
            let mut tx = self.db.begin().await?;
            let payload = serde_json::json!({"order_id": o.id, "order_no": o.order_no, "title": o.title});
            let topic = format!("perm:{}", perm::ORDER_DISPATCH);
            let (_, e) = self.events.emit(&mut tx, "order.auto_dispatch_failed", &topic, payload, self.now()).await?;
            commit(tx).await?;
            self.events.after_commit([e]);
            tracing::warn!(order.id = o.id, "automatic dispatch found nobody free");
            return Ok(None);
        };
        let i = ActInput { version: o.version, assignee_id: Some(crew), ..note("紧急工单自动派单") };
        match self.order_act(&sys, o.id, "dispatch", &i, &ctx).await {
            Ok(_) => Ok(Some(crew)),
            Err(ServiceError::Conflict { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// An open order on the dispatcher's board.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BoardOrder {
    pub id: i64,
    pub order_no: String,
    pub type_code: String,
    pub title: String,
    pub address: String,
    pub state: String,
    pub priority: i64,
    pub overdue: bool,
    /// Waiting for a dispatcher (registered, awaiting approval, accepted).
    pub waiting: bool,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub assignee_id: Option<i64>,
    pub assignee: String,
    pub created_at: jiff::Timestamp,
}

/// A crew member on the board.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BoardCrew {
    pub user_id: i64,
    pub display_name: String,
    pub unit_name: String,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub position_at: Option<jiff::Timestamp>,
    pub open_orders: i64,
}

/// The dispatcher's board: open orders (waiting ones first, then by priority and age)
/// and the crews with their positions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Board {
    pub orders: Vec<BoardOrder>,
    pub crews: Vec<BoardCrew>,
}

impl Services {
    /// The live queue and map of the dispatcher console (R-WO-06): up to 200 open orders
    /// in the caller's data scope and every crew member.
    pub async fn dispatch_board(&self, p: &Principal) -> ServiceResult<Board> {
        p.require(perm::ORDER_DISPATCH)?;
        let q = crate::orders::OrderQuery { open: true, limit: Some(200), ..Default::default() };
        let open = self.order_list(p, &q).await?;
        let crew = {
            let mut c = self.db.read().await?;
            repo::crew(&mut c, None).await?
        };
        let name = |id: Option<i64>| {
            id.and_then(|id| crew.iter().find(|c| c.user_id == id)).map(|c| c.display_name.clone()).unwrap_or_default()
        };
        let mut orders: Vec<BoardOrder> = open
            .into_iter()
            .map(|o| BoardOrder {
                waiting: matches!(o.state.as_str(), "registered" | "pending_approval" | "accepted"),
                lat: o.lat_e6.map(degrees),
                lng: o.lng_e6.map(degrees),
                assignee: name(o.assignee_id),
                id: o.id,
                order_no: o.order_no,
                type_code: o.type_code,
                title: o.title,
                address: o.address,
                state: o.state,
                priority: o.priority,
                overdue: o.overdue,
                assignee_id: o.assignee_id,
                created_at: o.created_at,
            })
            .collect();
        orders.sort_by(|a, b| {
            b.waiting.cmp(&a.waiting).then(a.priority.cmp(&b.priority)).then(a.created_at.cmp(&b.created_at))
        });
        let crews = crew
            .into_iter()
            .map(|c| BoardCrew {
                user_id: c.user_id,
                display_name: c.display_name,
                unit_name: c.unit_name,
                lat: c.position.map(|(lat, _, _)| degrees(lat)),
                lng: c.position.map(|(_, lng, _)| degrees(lng)),
                position_at: c.position.map(|(_, _, at)| at),
                open_orders: c.open_orders,
            })
            .collect();
        Ok(Board { orders, crews })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn skills_lists() {
        assert!(super::skilled("", "repair"));
        assert!(super::skilled(" , ", "repair"));
        assert!(super::skilled("repair,outage", "outage"));
        assert!(!super::skilled("repair,outage", "hazard"));
    }
}
