//! Work-order workflows (R-WO-02/03/08): order types are data, not code.
//!
//! Every order moves over the canonical states of DESIGN §4. A type's workflow is a list
//! of steps — action, the states it may start from, the state it leads to, the permission
//! it needs and the fields it requires — so that a utility can shorten (a consultation is
//! concluded by the agent at once) or lengthen (an approval before a faulty meter is
//! replaced) its processes without code. [`Workflow::check`] refuses workflows with
//! unreachable or dead states; [`Workflow::next`] is the single place that decides whether
//! an action is allowed and where it leads.
//!
//! Three actions have fixed meanings whatever the workflow says about their target:
//! `suspend` (挂起) parks an open order in `suspended` and remembers where it was,
//! `resume` returns it there, and `urge` (催办) / `supervise` (督办) leave the state as it is
//! (they are recorded and notified, nothing more).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::permissions::{ALL as ALL_PERMISSIONS, perm};

/// The canonical states of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Registered,
    PendingApproval,
    Accepted,
    Dispatched,
    Acknowledged,
    InProgress,
    Resolved,
    Verified,
    Concluded,
    Rejected,
    Cancelled,
    Suspended,
}

impl State {
    pub const ALL: [State; 12] = [
        State::Registered,
        State::PendingApproval,
        State::Accepted,
        State::Dispatched,
        State::Acknowledged,
        State::InProgress,
        State::Resolved,
        State::Verified,
        State::Concluded,
        State::Rejected,
        State::Cancelled,
        State::Suspended,
    ];

    pub fn code(self) -> &'static str {
        match self {
            State::Registered => "registered",
            State::PendingApproval => "pending_approval",
            State::Accepted => "accepted",
            State::Dispatched => "dispatched",
            State::Acknowledged => "acknowledged",
            State::InProgress => "in_progress",
            State::Resolved => "resolved",
            State::Verified => "verified",
            State::Concluded => "concluded",
            State::Rejected => "rejected",
            State::Cancelled => "cancelled",
            State::Suspended => "suspended",
        }
    }

    pub fn parse(code: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.code() == code)
    }

    /// (Chinese, English) labels for pages.
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            State::Registered => ("已登记", "Registered"),
            State::PendingApproval => ("待审批", "Awaiting approval"),
            State::Accepted => ("已受理", "Accepted"),
            State::Dispatched => ("已派单", "Dispatched"),
            State::Acknowledged => ("已接单", "Acknowledged"),
            State::InProgress => ("处理中", "In progress"),
            State::Resolved => ("已销单", "Resolved"),
            State::Verified => ("已核实", "Verified"),
            State::Concluded => ("已办结", "Concluded"),
            State::Rejected => ("已退回", "Rejected"),
            State::Cancelled => ("已撤销", "Cancelled"),
            State::Suspended => ("已挂起", "Suspended"),
        }
    }

    /// No action leaves a terminal state.
    pub fn is_terminal(self) -> bool {
        matches!(self, State::Concluded | State::Rejected | State::Cancelled)
    }
}

/// What a user does to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// 受理 / 审核.
    Accept,
    /// 不予受理.
    Reject,
    /// Approval granted (审批通过).
    Approve,
    /// Approval refused (审批不通过).
    Deny,
    /// 派单.
    Dispatch,
    /// 回执 / 接单.
    Acknowledge,
    /// The crew hands the order back (退单).
    Decline,
    /// 转派.
    Reassign,
    /// Arrived on site, work begins (到场处理).
    Start,
    /// 销单.
    Complete,
    /// The dispatcher confirms the work.
    Verify,
    /// 返工: back to the crew.
    SendBack,
    /// 回访 recorded.
    Visit,
    /// 办结.
    Conclude,
    /// 挂起 (the SLA clock stops).
    Suspend,
    /// 恢复.
    Resume,
    /// 撤销.
    Cancel,
    /// 催办.
    Urge,
    /// 督办.
    Supervise,
}

impl Action {
    pub const ALL: [Action; 19] = [
        Action::Accept,
        Action::Reject,
        Action::Approve,
        Action::Deny,
        Action::Dispatch,
        Action::Acknowledge,
        Action::Decline,
        Action::Reassign,
        Action::Start,
        Action::Complete,
        Action::Verify,
        Action::SendBack,
        Action::Visit,
        Action::Conclude,
        Action::Suspend,
        Action::Resume,
        Action::Cancel,
        Action::Urge,
        Action::Supervise,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Reject => "reject",
            Action::Approve => "approve",
            Action::Deny => "deny",
            Action::Dispatch => "dispatch",
            Action::Acknowledge => "acknowledge",
            Action::Decline => "decline",
            Action::Reassign => "reassign",
            Action::Start => "start",
            Action::Complete => "complete",
            Action::Verify => "verify",
            Action::SendBack => "send_back",
            Action::Visit => "visit",
            Action::Conclude => "conclude",
            Action::Suspend => "suspend",
            Action::Resume => "resume",
            Action::Cancel => "cancel",
            Action::Urge => "urge",
            Action::Supervise => "supervise",
        }
    }

    pub fn parse(code: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.code() == code)
    }

    /// (Chinese, English) labels for buttons.
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Action::Accept => ("受理", "Accept"),
            Action::Reject => ("不予受理", "Reject"),
            Action::Approve => ("审批通过", "Approve"),
            Action::Deny => ("审批不通过", "Deny"),
            Action::Dispatch => ("派单", "Dispatch"),
            Action::Acknowledge => ("接单", "Acknowledge"),
            Action::Decline => ("退单", "Hand back"),
            Action::Reassign => ("转派", "Reassign"),
            Action::Start => ("到场处理", "Start on site"),
            Action::Complete => ("销单", "Complete"),
            Action::Verify => ("核实", "Verify"),
            Action::SendBack => ("返工", "Send back"),
            Action::Visit => ("回访", "Return visit"),
            Action::Conclude => ("办结", "Conclude"),
            Action::Suspend => ("挂起", "Suspend"),
            Action::Resume => ("恢复", "Resume"),
            Action::Cancel => ("撤销", "Cancel"),
            Action::Urge => ("催办", "Urge"),
            Action::Supervise => ("督办", "Supervise"),
        }
    }

    /// Actions that leave the state unchanged whatever their step says.
    pub fn keeps_state(self) -> bool {
        matches!(self, Action::Urge | Action::Supervise)
    }
}

/// One allowed transition of a workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub action: Action,
    pub from: Vec<State>,
    /// Ignored (and may be anything) for `resume`, `urge` and `supervise`.
    pub to: State,
    pub permission: String,
    /// Fields the actor must fill in (e.g. `new_serial` for a meter replacement).
    #[serde(default)]
    pub required: Vec<String>,
}

/// An order type's workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workflow {
    pub steps: Vec<Step>,
    /// A return visit (回访) must be recorded before the order concludes.
    #[serde(default)]
    pub return_visit: bool,
    /// The customer must get a reply (答复) before the order concludes.
    #[serde(default)]
    pub customer_reply: bool,
}

/// Why a workflow is unsound.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("no step leaves `registered`")]
    NoStart,
    #[error("step {step} ({action}) starts from no state")]
    EmptyFrom { step: usize, action: &'static str },
    #[error("step {step} ({action}) leaves the terminal state `{state}`")]
    LeavesTerminal { step: usize, action: &'static str, state: &'static str },
    #[error("`{action}` is defined twice from `{state}`")]
    Ambiguous { action: &'static str, state: &'static str },
    #[error("step {step} ({action}) must {rule}")]
    BadSpecial { step: usize, action: &'static str, rule: &'static str },
    #[error("step {step} ({action}) needs the unknown permission `{permission}`")]
    UnknownPermission { step: usize, action: &'static str, permission: String },
    #[error("step {step} ({action}) has an empty or repeated required field")]
    BadField { step: usize, action: &'static str },
    #[error("`{state}` cannot be reached from `registered`")]
    Unreachable { state: &'static str },
    #[error("from `{state}` no terminal state can be reached")]
    DeadEnd { state: &'static str },
    #[error("no step concludes the order")]
    NeverConcludes,
    #[error("a return visit is required but no `visit` step exists")]
    NoVisit,
}

/// Why an action was refused on an order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("`{action}` is not possible while the order is `{state}`")]
    NotAllowed { action: &'static str, state: &'static str },
    #[error("`{action}` needs the permission `{permission}`")]
    Forbidden { action: &'static str, permission: String },
    #[error("`{action}` requires the field `{field}`")]
    MissingField { action: &'static str, field: String },
    /// A suspended order without a record of where it was (corrupt data).
    #[error("the order is suspended but its previous state is unknown")]
    NoResumeState,
}

/// Where an allowed action leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    pub from: State,
    pub to: State,
    /// The state to resume to, to store with the order (`Some` exactly while suspended).
    pub suspended_from: Option<State>,
}

impl Workflow {
    /// The steps usable from `state`, in definition order.
    pub fn steps_from(&self, state: State) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(move |s| s.from.contains(&state))
    }

    /// Decides `action` on an order in `state` (`suspended_from`: where a suspended order
    /// was), for an actor holding the permissions `has` admits, with `fields` filled in.
    pub fn next(
        &self,
        state: State,
        suspended_from: Option<State>,
        action: Action,
        has: impl Fn(&str) -> bool,
        fields: &BTreeMap<String, String>,
    ) -> Result<Move, Refusal> {
        let not_allowed = || Refusal::NotAllowed { action: action.code(), state: state.code() };
        let step = self.steps_from(state).find(|s| s.action == action).ok_or_else(not_allowed)?;
        if !has(&step.permission) {
            return Err(Refusal::Forbidden { action: action.code(), permission: step.permission.clone() });
        }
        if let Some(f) = step.required.iter().find(|f| fields.get(*f).is_none_or(|v| v.trim().is_empty())) {
            return Err(Refusal::MissingField { action: action.code(), field: f.clone() });
        }
        let (to, suspended) = match action {
            Action::Suspend => (State::Suspended, Some(state)),
            Action::Resume => (suspended_from.ok_or(Refusal::NoResumeState)?, None),
            a if a.keeps_state() => (state, suspended_from),
            _ => (step.to, None),
        };
        Ok(Move { from: state, to, suspended_from: suspended })
    }

    /// Every problem that makes the workflow unsound (empty: it is sound).
    pub fn check(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let known: BTreeSet<&str> = ALL_PERMISSIONS.iter().map(|p| p.code).collect();
        let mut seen: BTreeSet<(Action, State)> = BTreeSet::new();
        for (i, s) in self.steps.iter().enumerate() {
            let action = s.action.code();
            if s.from.is_empty() {
                problems.push(Problem::EmptyFrom { step: i, action });
            }
            for &f in &s.from {
                if f.is_terminal() {
                    problems.push(Problem::LeavesTerminal { step: i, action, state: f.code() });
                }
                if !seen.insert((s.action, f)) {
                    problems.push(Problem::Ambiguous { action, state: f.code() });
                }
            }
            let rule = match s.action {
                Action::Suspend if s.to != State::Suspended || s.from.contains(&State::Suspended) => {
                    Some("lead from open states to `suspended`")
                }
                Action::Resume if s.from != [State::Suspended] => Some("start from `suspended` only"),
                a if a != Action::Suspend && a != Action::Resume && !a.keeps_state() && s.to == State::Suspended => {
                    Some("not lead to `suspended` (only `suspend` does)")
                }
                a if a != Action::Resume && !a.keeps_state() && s.from.contains(&State::Suspended) => {
                    Some("not start from `suspended` (only `resume` does, and `urge`/`supervise`/`cancel` may)")
                }
                _ => None,
            };
            // Cancelling a suspended order is legitimate.
            let rule = rule.filter(|_| !(s.action == Action::Cancel && s.to.is_terminal()));
            if let Some(rule) = rule {
                problems.push(Problem::BadSpecial { step: i, action, rule });
            }
            if !known.contains(s.permission.as_str()) {
                problems.push(Problem::UnknownPermission { step: i, action, permission: s.permission.clone() });
            }
            let mut fields = BTreeSet::new();
            if s.required.iter().any(|f| f.trim().is_empty() || !fields.insert(f.as_str())) {
                problems.push(Problem::BadField { step: i, action });
            }
        }
        if self.steps_from(State::Registered).next().is_none() {
            problems.push(Problem::NoStart);
        }
        if !self.steps.iter().any(|s| s.to == State::Concluded && !s.action.keeps_state()) {
            problems.push(Problem::NeverConcludes);
        }
        if self.return_visit && !self.steps.iter().any(|s| s.action == Action::Visit) {
            problems.push(Problem::NoVisit);
        }
        let reachable = self.reachable();
        // The states the workflow names (the ignored targets of resume/urge/supervise aside).
        let used: BTreeSet<State> = self
            .steps
            .iter()
            .flat_map(|s| {
                let real_to = !(s.action.keeps_state() || s.action == Action::Resume);
                s.from.iter().copied().chain(real_to.then_some(s.to))
            })
            .collect();
        for s in &used {
            if !reachable.contains(s) {
                problems.push(Problem::Unreachable { state: s.code() });
            }
        }
        let ends = self.can_end();
        for s in &reachable {
            if !s.is_terminal() && *s != State::Suspended && !ends.contains(s) {
                problems.push(Problem::DeadEnd { state: s.code() });
            }
        }
        problems
    }

    /// Where a step actually leads from `from` (suspend/resume and the stay-put actions
    /// resolved).
    fn targets(&self, from: State, step: &Step) -> Vec<State> {
        match step.action {
            a if a.keeps_state() => vec![from],
            Action::Resume => vec![],
            _ => vec![step.to],
        }
    }

    /// States reachable from `registered`. A suspended order resumes where it was, so
    /// `suspended` adds no new states.
    pub fn reachable(&self) -> BTreeSet<State> {
        let mut seen = BTreeSet::from([State::Registered]);
        let mut queue = VecDeque::from([State::Registered]);
        while let Some(s) = queue.pop_front() {
            for step in self.steps_from(s) {
                for t in self.targets(s, step) {
                    if seen.insert(t) {
                        queue.push_back(t);
                    }
                }
            }
        }
        seen
    }

    /// States from which a terminal state can be reached.
    fn can_end(&self) -> BTreeSet<State> {
        let mut ends: BTreeSet<State> = State::ALL.into_iter().filter(|s| s.is_terminal()).collect();
        loop {
            let before = ends.len();
            for step in &self.steps {
                for &f in &step.from {
                    if self.targets(f, step).iter().any(|t| ends.contains(t) && *t != f) {
                        ends.insert(f);
                    }
                }
            }
            if ends.len() == before {
                return ends;
            }
        }
    }
}

/// Options for building the standard workflows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape {
    /// Field work: dispatch, acknowledge, on-site handling, verification.
    pub field: bool,
    /// An approval between acceptance and dispatch (R-WO-08).
    pub approval: bool,
    pub return_visit: bool,
    pub customer_reply: bool,
}

fn step(action: Action, from: &[State], to: State, permission: &str, required: &[&str]) -> Step {
    Step {
        action,
        from: from.to_vec(),
        to,
        permission: permission.to_string(),
        required: required.iter().map(|s| s.to_string()).collect(),
    }
}

/// Builds a workflow of the canonical lifecycle; `complete_fields` are required to 销单.
pub fn build(shape: Shape, complete_fields: &[&str]) -> Workflow {
    use Action as A;
    use State as S;
    let mut steps = Vec::new();
    let open: Vec<State> = if shape.field {
        let accepted_to = if shape.approval { S::PendingApproval } else { S::Accepted };
        steps.push(step(A::Accept, &[S::Registered], accepted_to, perm::ORDER_ACCEPT, &[]));
        steps.push(step(A::Reject, &[S::Registered], S::Rejected, perm::ORDER_ACCEPT, &["note"]));
        if shape.approval {
            steps.push(step(A::Approve, &[S::PendingApproval], S::Accepted, perm::ORDER_APPROVE, &[]));
            steps.push(step(A::Deny, &[S::PendingApproval], S::Rejected, perm::ORDER_APPROVE, &["note"]));
        }
        steps.push(step(A::Dispatch, &[S::Accepted], S::Dispatched, perm::ORDER_DISPATCH, &[]));
        steps.push(step(A::Acknowledge, &[S::Dispatched], S::Acknowledged, perm::ORDER_HANDLE, &[]));
        steps.push(step(A::Decline, &[S::Dispatched, S::Acknowledged], S::Accepted, perm::ORDER_HANDLE, &["note"]));
        steps.push(step(
            A::Reassign,
            &[S::Dispatched, S::Acknowledged, S::InProgress],
            S::Dispatched,
            perm::ORDER_DISPATCH,
            &[],
        ));
        steps.push(step(A::Start, &[S::Acknowledged], S::InProgress, perm::ORDER_HANDLE, &[]));
        steps.push(step(A::Complete, &[S::InProgress], S::Resolved, perm::ORDER_HANDLE, complete_fields));
        steps.push(step(A::Verify, &[S::Resolved], S::Verified, perm::ORDER_VERIFY, &[]));
        steps.push(step(A::SendBack, &[S::Resolved], S::InProgress, perm::ORDER_VERIFY, &["note"]));
        if shape.return_visit {
            steps.push(step(A::Visit, &[S::Verified], S::Concluded, perm::ORDER_VISIT, &["satisfaction"]));
        } else {
            steps.push(step(A::Conclude, &[S::Verified], S::Concluded, perm::ORDER_VERIFY, &[]));
        }
        vec![
            S::Registered,
            S::PendingApproval,
            S::Accepted,
            S::Dispatched,
            S::Acknowledged,
            S::InProgress,
            S::Resolved,
            S::Verified,
        ]
        .into_iter()
        .filter(|s| shape.approval || *s != S::PendingApproval)
        .collect()
    } else {
        // Answered by the office: accepted, then concluded with the reply.
        steps.push(step(A::Accept, &[S::Registered], S::Accepted, perm::ORDER_ACCEPT, &[]));
        steps.push(step(A::Reject, &[S::Registered], S::Rejected, perm::ORDER_ACCEPT, &["note"]));
        steps.push(step(A::Conclude, &[S::Registered, S::Accepted], S::Concluded, perm::ORDER_ACCEPT, &["reply"]));
        vec![S::Registered, S::Accepted]
    };
    let suspendable: Vec<State> = open.iter().copied().filter(|s| *s != S::Registered).collect();
    steps.push(step(A::Suspend, &suspendable, S::Suspended, perm::ORDER_DISPATCH, &["note"]));
    steps.push(step(A::Resume, &[S::Suspended], S::Suspended, perm::ORDER_DISPATCH, &[]));
    let mut cancellable = open.clone();
    cancellable.push(S::Suspended);
    steps.push(step(A::Cancel, &cancellable, S::Cancelled, perm::ORDER_ACCEPT, &["note"]));
    let mut watched = open;
    watched.push(S::Suspended);
    steps.push(step(A::Urge, &watched, S::Registered, perm::ORDER_CREATE, &[]));
    steps.push(step(A::Supervise, &watched, S::Registered, perm::ORDER_VERIFY, &["note"]));
    Workflow { steps, return_visit: shape.return_visit, customer_reply: shape.customer_reply }
}

/// A standard order type: code, Chinese and English names, its workflow.
#[derive(Debug, Clone)]
pub struct StandardType {
    pub code: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
    pub workflow: Workflow,
}

/// The standard order types shipped as editable defaults (R-WO-02).
pub fn standard_types() -> Vec<StandardType> {
    let field = Shape { field: true, ..Shape::default() };
    let visited = Shape { return_visit: true, customer_reply: true, ..field };
    let cause = &["cause", "solution"][..];
    let t = |code, zh, en, workflow| StandardType { code, zh, en, workflow };
    vec![
        t("repair", "报修单", "Repair", build(visited, cause)),
        t("complaint", "投诉单", "Complaint", build(visited, cause)),
        t("consultation", "咨询单", "Consultation", build(Shape { customer_reply: true, ..Shape::default() }, &[])),
        t("review", "复核单", "Review", build(Shape { customer_reply: true, ..field }, &["result"])),
        t(
            "meter_replace",
            "换表单",
            "Meter replacement",
            build(Shape { approval: true, ..visited }, &["old_reading", "new_reading", "new_serial"]),
        ),
        t("meter_remove", "拆表单", "Meter removal", build(field, &["final_reading"])),
        t("maintenance", "养护工单", "Maintenance", build(field, cause)),
        t("new_connection", "报装", "New connection", build(Shape { approval: true, ..visited }, &["new_serial"])),
        t("outage", "停水", "Outage", build(Shape { customer_reply: true, ..field }, cause)),
        t("water_quality", "水质", "Water quality", build(visited, cause)),
        t("hazard", "隐患", "Hazard", build(field, cause)),
        t("patrol", "巡查", "Patrol", build(field, &["result"])),
    ]
}

/// Priority level 1 (most urgent) to 4 from impact and urgency (DESIGN §4, RISK §7.5.3).
/// Each is `low`, `medium` or `high`.
pub fn priority(impact: Level, urgency: Level) -> u8 {
    use Level::*;
    match (urgency, impact) {
        (High, High) => 1,
        (High, Medium) | (Medium, High) => 2,
        (High, Low) | (Medium, Medium) | (Low, High) => 3,
        _ => 4,
    }
}

/// Impact or urgency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Low,
    Medium,
    High,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "low" => Some(Level::Low),
            "medium" => Some(Level::Medium),
            "high" => Some(Level::High),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
