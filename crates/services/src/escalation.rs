//! The escalation watcher (R-WO-05): at 50 % of a deadline the dispatchers (tier 2) are
//! told, at 80 % the supervisors (tier 3), at 100 % the order is overdue (超期) — each
//! exactly once, across restarts and replicas, and never while the order is suspended.
//!
//! A transition sets the order's `sla_check_at` to its own time. The watcher reads only
//! orders whose check is due, recomputes their clocks from the stored milestones and
//! pauses (`domain::sla::thresholds`), records every threshold that has passed in
//! `order_escalations` — unique per order, deadline and stage, so a second watcher or a
//! second run records nothing — and sets the next check time. The live notices are
//! emitted in the same transaction as the marks, so they go out exactly when a mark is
//! new. If a transition moves the order while the watcher works, the watcher's
//! transaction is rolled back and the order is looked at again.

use waterdesk_domain::permissions::perm;
use waterdesk_domain::sla::{Calendar, Clock, Deadline, Stage, Targets, default_targets, thresholds};
use waterdesk_domain::workflow::{Action, State, Workflow};
use waterdesk_store::orders::{self as repo, Escalation, Order, OrderType};

use crate::input::commit;
use crate::{Principal, ServiceResult, Services};

/// Orders examined per round of the watcher.
pub const BATCH: i64 = 500;

/// The deadlines of an order that are still running.
pub fn open_deadlines(o: &Order, w: &Workflow) -> Vec<Deadline> {
    let state = State::parse(&o.state);
    let effective = match state {
        Some(State::Suspended) => o.suspended_from.as_deref().and_then(State::parse),
        s => s,
    };
    let Some(state) = effective else { return vec![] };
    if state.is_terminal() {
        return vec![];
    }
    let has = |a: Action| w.steps.iter().any(|s| s.action == a);
    let mut open = Vec::new();
    if has(Action::Acknowledge) && o.acknowledged_at.is_none() {
        open.push(Deadline::Acknowledge);
    }
    if has(Action::Start) && o.arrived_at.is_none() {
        open.push(Deadline::Arrive);
    }
    if !matches!(state, State::Resolved | State::Verified) {
        open.push(Deadline::Complete);
    }
    if w.customer_reply && o.replied_at.is_none() {
        open.push(Deadline::Reply);
    }
    open
}

/// The SLA targets of a type at a priority level, and its calendar.
pub fn targets_of(t: &OrderType, priority: i64) -> (Targets, Calendar) {
    let level = priority.clamp(1, 4);
    let targets = serde_json::from_str::<crate::orders::TargetsByLevel>(&t.targets)
        .ok()
        .and_then(|m| m.get(&level.to_string()).copied())
        .unwrap_or_else(|| default_targets(level as u8));
    let calendar = if t.calendar.is_empty() {
        Calendar::always()
    } else {
        serde_json::from_str(&t.calendar).unwrap_or_else(|_| Calendar::always())
    };
    (targets, calendar)
}

/// Who hears of a threshold: tier 2 the dispatchers, tier 3 the supervisors (holders of
/// `order.verify`), overdue both; the assignee always.
fn audiences(stage: Stage, assignee: Option<i64>) -> Vec<String> {
    let mut v = match stage {
        Stage::Tier2 => vec![format!("perm:{}", perm::ORDER_DISPATCH)],
        Stage::Tier3 => vec![format!("perm:{}", perm::ORDER_VERIFY)],
        _ => vec![format!("perm:{}", perm::ORDER_DISPATCH), format!("perm:{}", perm::ORDER_VERIFY)],
    };
    v.extend(assignee.map(|a| format!("user:{a}")));
    v
}

impl Services {
    /// One round of the watcher: fires the thresholds due by now on up to `limit` orders.
    /// Returns how many thresholds fired.
    pub async fn escalate_due(&self, limit: i64) -> ServiceResult<usize> {
        let now = self.now();
        let due = {
            let mut c = self.db.read().await?;
            repo::sla_due(&mut c, now, limit).await?
        };
        let mut fired = 0;
        for o in due {
            fired += self.escalate_one(o.id, now).await?;
        }
        Ok(fired)
    }

    async fn escalate_one(&self, id: i64, now: jiff::Timestamp) -> ServiceResult<usize> {
        let mut tx = self.db.begin().await?;
        let Some(o) = repo::get(&mut tx, id).await? else { return Ok(0) };
        if o.sla_check_at.is_none_or(|at| at > now) {
            return Ok(0); // another watcher got here first
        }
        let (t, w) = self.workflow_of(&mut tx, &o.type_code).await?;
        let (targets, calendar) = targets_of(&t, o.priority);
        let open = open_deadlines(&o, &w);
        let clock = Clock { started: o.accepted_at, pauses: repo::pauses(&mut tx, id).await? };
        let all = thresholds(&targets, &open, &clock, &calendar, &self.tz);
        let (mut fired, mut overdue, mut pending) = (0, false, Vec::new());
        for th in all.iter().filter(|th| th.at <= now) {
            if !repo::escalation_mark(&mut tx, id, th.deadline.code(), th.stage.code(), th.at, now).await? {
                continue;
            }
            fired += 1;
            overdue |= th.deadline == Deadline::Complete && th.stage == Stage::Overdue;
            let payload = serde_json::json!({
                "order_id": o.id, "order_no": o.order_no, "title": o.title, "priority": o.priority,
                "deadline": th.deadline.code(), "stage": th.stage.code(), "due_at": th.at,
            });
            for topic in audiences(th.stage, o.assignee_id) {
                let (_, e) = self.events.emit(&mut tx, "order.escalated", &topic, payload.clone(), now).await?;
                pending.push(e);
            }
        }
        let next = all.iter().map(|th| th.at).find(|at| *at > now);
        if !repo::sla_reschedule(&mut tx, id, o.version, next, overdue).await? {
            return Ok(0); // moved meanwhile: rolled back, looked at again
        }
        commit(tx).await?;
        self.events.after_commit(pending);
        if fired > 0 {
            tracing::info!(order.id = id, order.no = %o.order_no, fired, overdue, "escalations fired");
        }
        Ok(fired)
    }

    /// An order's SLA as the caller may see it (R-WO-04/05): its four deadlines as they
    /// stand (`due_at` is `None` where stopped) and the escalations that fired.
    pub async fn order_sla(&self, p: &Principal, id: i64) -> ServiceResult<OrderSla> {
        let o = self.order_get(p, id).await?.order;
        let mut c = self.db.read().await?;
        let (t, w) = self.workflow_of(&mut c, &o.type_code).await?;
        let (targets, calendar) = targets_of(&t, o.priority);
        let open = open_deadlines(&o, &w);
        let clock = Clock { started: o.accepted_at, pauses: repo::pauses(&mut c, id).await? };
        let now = self.now();
        let deadlines = Deadline::ALL
            .into_iter()
            .filter_map(|d| {
                let b = i64::from(d.target(&targets)?) * 60;
                Some(DeadlineView {
                    deadline: d.code(),
                    open: open.contains(&d),
                    minutes: b / 60,
                    due_at: clock.when(b, &calendar, &self.tz),
                    elapsed_pct: if clock.started.is_some() {
                        clock.elapsed(now, &calendar, &self.tz) * 100 / b.max(1)
                    } else {
                        0
                    },
                })
            })
            .collect();
        Ok(OrderSla { deadlines, escalations: repo::escalations(&mut c, id).await? })
    }
}

/// An order's SLA: its deadlines as they stand and the escalations that fired.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct OrderSla {
    pub deadlines: Vec<DeadlineView>,
    pub escalations: Vec<Escalation>,
}

/// One deadline of an order.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DeadlineView {
    pub deadline: &'static str,
    /// Still running (not met, order open).
    pub open: bool,
    /// The target in business minutes.
    pub minutes: i64,
    /// When it falls due (`None` before acceptance or while suspended).
    pub due_at: Option<jiff::Timestamp>,
    /// Share of the budget used so far, percent.
    pub elapsed_pct: i64,
}
