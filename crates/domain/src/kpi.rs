//! Service indicators (R-DATA-04/05, DESIGN §5): the twenty KPIs of the DB §5.4.3 note plus
//! closing timeliness, as one pure computation — plain facts per order in, counts and
//! exact rates per group out.
//!
//! An order is described by [`OrderFacts`]: when it was registered, its state history (one
//! timeline from which its stage at any instant, its acceptance, first acknowledgement,
//! resolution, conclusion and suspensions are all derived, so they cannot contradict each
//! other), its SLA targets and calendar, its reply and return visits, and its grouping keys.
//! [`compute`] (or a streaming [`Report`]) takes the cohort `[from, to)` by `registered_at`,
//! the instant `at` the figures are evaluated as of, and the grouping; every fact later
//! than `at` is ignored, so a report "as of last Friday" is reproducible.
//!
//! Deadlines are computed here from [`Clock`], [`Targets`] and [`Calendar`] exactly as the
//! escalation watcher does: the clock starts at acceptance, suspended time extends the
//! deadline. The definitional choices DESIGN §5 leaves open are listed in
//! docs/ARCHITECTURE.md D23 and on the items below.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Serialize, Serializer};

use crate::sla::{Calendar, Clock, Deadline, Targets};
use crate::workflow::State;

/// A return visit's rating (回访满意度).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Satisfaction {
    Satisfied,
    BasicallySatisfied,
    Unsatisfied,
}

impl Satisfaction {
    pub const ALL: [Satisfaction; 3] =
        [Satisfaction::Satisfied, Satisfaction::BasicallySatisfied, Satisfaction::Unsatisfied];

    pub fn code(self) -> &'static str {
        match self {
            Satisfaction::Satisfied => "satisfied",
            Satisfaction::BasicallySatisfied => "basically_satisfied",
            Satisfaction::Unsatisfied => "unsatisfied",
        }
    }

    pub fn parse(code: &str) -> Option<Satisfaction> {
        Satisfaction::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Counts towards 回访客户满意数: satisfied or basically satisfied.
    pub fn is_satisfied(self) -> bool {
        matches!(self, Satisfaction::Satisfied | Satisfaction::BasicallySatisfied)
    }
}

/// One return-visit attempt (a call or an SMS), whatever its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisitAttempt {
    pub at: Timestamp,
    /// `Some` when the customer was reached and rated the work (a successful visit);
    /// `None` for no answer, a wrong number, or a customer who declined to rate.
    pub rating: Option<Satisfaction>,
}

/// What an order can be grouped by.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Keys {
    /// Handling unit (受理单位 / 处理单位), the unit's id.
    pub unit: i64,
    /// Order type code (`repair`, `complaint`, …).
    pub order_type: String,
    /// Business category (反映类别).
    pub category: String,
    /// Channel (反映形式).
    pub channel: String,
    /// Source (反映来源).
    pub source: String,
}

/// Everything the indicators need to know about one order.
#[derive(Debug, Clone)]
pub struct OrderFacts<'a> {
    pub registered_at: Timestamp,
    /// Every state change after registration, in the order it happened: (instant, new
    /// state). `Suspended` marks a suspension; the next entry ends it (the resume back to
    /// where the order was, or a cancellation). The stage before the first entry is
    /// `registered`. Entries later than the evaluation instant are ignored.
    pub history: Vec<(Timestamp, State)>,
    /// The order's SLA targets (type × priority) and its type's calendar.
    pub targets: Targets,
    pub calendar: &'a Calendar,
    /// The type requires a reply to the customer (答复).
    pub requires_reply: bool,
    /// The first reply recorded (`work_orders.replied_at`).
    pub replied_at: Option<Timestamp>,
    /// The type requires a return visit (回访).
    pub requires_visit: bool,
    pub visits: Vec<VisitAttempt>,
    pub keys: Keys,
}

/// The stages that count as processed (处理消件): resolved, verified, concluded.
fn is_processed(s: State) -> bool {
    matches!(s, State::Resolved | State::Verified | State::Concluded)
}

/// An order's life as known at one instant.
#[derive(Debug, Clone)]
struct Life {
    stage: State,
    suspended: bool,
    /// The clock's start: the first `accept` (into `accepted` or `pending_approval`).
    accepted: Option<Timestamp>,
    first_ack: Option<Timestamp>,
    /// When the order last entered the processed stages from outside them (its last
    /// resolution; a conclusion for types that never pass `resolved`); `None` once it
    /// leaves them again (sent back).
    processed_since: Option<Timestamp>,
    concluded: Option<Timestamp>,
    pauses: Vec<(Timestamp, Option<Timestamp>)>,
}

impl OrderFacts<'_> {
    fn life(&self, at: Timestamp) -> Life {
        let mut life = Life {
            stage: State::Registered,
            suspended: false,
            accepted: None,
            first_ack: None,
            processed_since: None,
            concluded: None,
            pauses: Vec::new(),
        };
        let mut suspended_since = None;
        for &(t, s) in self.history.iter().take_while(|(t, _)| *t <= at) {
            if s == State::Suspended {
                suspended_since.get_or_insert(t);
                continue;
            }
            if let Some(p) = suspended_since.take() {
                life.pauses.push((p, Some(t)));
            }
            if s == life.stage {
                continue; // a resume: suspension is a flag, not a stage
            }
            match s {
                State::Accepted | State::PendingApproval => {
                    life.accepted.get_or_insert(t);
                }
                State::Acknowledged => {
                    life.first_ack.get_or_insert(t);
                }
                State::Concluded => life.concluded = Some(t),
                _ => {}
            }
            if !is_processed(s) {
                life.processed_since = None;
            } else if !is_processed(life.stage) {
                life.processed_since = Some(t);
            }
            life.stage = s;
        }
        if let Some(p) = suspended_since {
            life.pauses.push((p, None));
            life.suspended = !life.stage.is_terminal();
        }
        life
    }

    /// The order's stage at `at` (suspension ignored: it is a flag, not a stage).
    pub fn stage_at(&self, at: Timestamp) -> State {
        self.life(at).stage
    }

    /// Whether the order is open and suspended at `at`.
    pub fn suspended_at(&self, at: Timestamp) -> bool {
        self.life(at).suspended
    }

    /// When `deadline` falls due as known at `t`: the clock from acceptance, extended by
    /// the suspensions begun before `t` (one still running counts until `t`). `None`:
    /// the deadline is not tracked, the clock had not started by `t`, or the calendar
    /// has no working time within its horizon.
    fn due(&self, life: &Life, deadline: Deadline, t: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let budget = i64::from(deadline.target(&self.targets)?) * 60;
        let started = life.accepted.filter(|s| *s <= t)?;
        let pauses =
            life.pauses.iter().filter(|(s, _)| *s < t).map(|&(s, e)| (s, Some(e.map_or(t, |e| e.min(t))))).collect();
        Clock { started: Some(started), pauses }.when(budget, self.calendar, tz)
    }

    /// An event at `t` meets `deadline` (no later than it; a deadline that never falls
    /// due is always met).
    fn on_time(&self, life: &Life, deadline: Deadline, t: Timestamp, tz: &TimeZone) -> bool {
        self.due(life, deadline, t, tz).is_none_or(|d| t <= d)
    }
}

/// The cohort: orders registered in `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cohort {
    pub from: Timestamp,
    pub to: Timestamp,
}

impl Cohort {
    pub fn contains(&self, t: Timestamp) -> bool {
        self.from <= t && t < self.to
    }
}

/// A calendar period to group by, in the report's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    /// ISO 8601 week (Monday to Sunday; week-numbering year).
    Week,
    Month,
}

/// The period an order was registered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PeriodKey {
    Day(Date),
    Week { year: i16, week: i8 },
    Month { year: i16, month: i8 },
}

impl PeriodKey {
    pub fn of(p: Period, t: Timestamp, tz: &TimeZone) -> PeriodKey {
        let d = t.to_zoned(tz.clone()).date();
        match p {
            Period::Day => PeriodKey::Day(d),
            Period::Week => {
                let w = d.iso_week_date();
                PeriodKey::Week { year: w.year(), week: w.week() }
            }
            Period::Month => PeriodKey::Month { year: d.year(), month: d.month() },
        }
    }
}

/// `2026-11-01`, `2026-W44`, `2026-11` (the keys of `schedule`).
impl fmt::Display for PeriodKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeriodKey::Day(d) => write!(f, "{d}"),
            PeriodKey::Week { year, week } => write!(f, "{year:04}-W{week:02}"),
            PeriodKey::Month { year, month } => write!(f, "{year:04}-{month:02}"),
        }
    }
}

impl Serialize for PeriodKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Which keys to group by; all off: one group, the whole cohort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupBy {
    pub unit: bool,
    pub order_type: bool,
    pub category: bool,
    pub channel: bool,
    pub source: bool,
    pub period: Option<Period>,
}

/// One group: the keys grouped by are `Some`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct GroupKey {
    pub unit: Option<i64>,
    pub order_type: Option<String>,
    pub category: Option<String>,
    pub channel: Option<String>,
    pub source: Option<String>,
    pub period: Option<PeriodKey>,
}

impl GroupBy {
    pub fn key(&self, o: &OrderFacts<'_>, tz: &TimeZone) -> GroupKey {
        self.key_of(&o.keys, o.registered_at, tz)
    }

    /// The group of an order with these keys registered at `registered_at`.
    pub fn key_of(&self, k: &Keys, registered_at: Timestamp, tz: &TimeZone) -> GroupKey {
        GroupKey {
            unit: self.unit.then_some(k.unit),
            order_type: self.order_type.then(|| k.order_type.clone()),
            category: self.category.then(|| k.category.clone()),
            channel: self.channel.then(|| k.channel.clone()),
            source: self.source.then(|| k.source.clone()),
            period: self.period.map(|p| PeriodKey::of(p, registered_at, tz)),
        }
    }
}

/// An exact rate `num / den`, `den > 0` (a rate over nothing is `None`, never 0 or 100 %).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rate {
    pub num: u64,
    pub den: u64,
}

impl Rate {
    /// `None` when `den` is 0.
    pub fn of(num: u64, den: u64) -> Option<Rate> {
        (den > 0).then_some(Rate { num, den })
    }

    pub fn value(self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

/// `75.00%`.
impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}%", self.value() * 100.0)
    }
}

/// The indicators of one group. Counts are orders unless said otherwise; each rate's
/// numerator and denominator are counts of this struct, so groups can be merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Indicators {
    /// 登录下单数: orders in the cohort (registered no later than `at`).
    pub registered: u64,
    /// 未受理数: stage `registered`.
    pub not_accepted: u64,
    /// 受理未回执数: stage `pending_approval`, `accepted` or `dispatched`.
    pub accepted_not_acknowledged: u64,
    /// 回执未处理数: stage `acknowledged` or `in_progress`.
    pub acknowledged_not_processed: u64,
    /// 处理消件数: stage `resolved`, `verified` or `concluded`.
    pub resolved_items: u64,
    /// 处理消单数: concluded, cancelled or rejected.
    pub closed_items: u64,
    /// 处理完毕数: concluded.
    pub completed: u64,
    /// 超期未处理数: stage before `resolved` (not closed), complete deadline passed.
    pub overdue_unprocessed: u64,
    /// 办结率: completed ÷ (registered − rejected − cancelled).
    pub conclusion_rate: Option<Rate>,
    /// 回执及时数: first acknowledgement no later than the acknowledge deadline.
    pub ack_on_time: u64,
    /// 回执及时率: ack_on_time ÷ acknowledged.
    pub ack_on_time_rate: Option<Rate>,
    /// 处理及时数: among resolved_items, resolved no later than the complete deadline.
    pub processed_on_time: u64,
    /// 处理及时率 (handling timeliness): processed_on_time ÷ resolved_items.
    pub processed_on_time_rate: Option<Rate>,
    /// 未回复数: the type requires a reply, none recorded.
    pub not_replied: u64,
    /// 已经回复数: the type requires a reply, one recorded.
    pub replied: u64,
    /// 回访信息数: among resolved_items, the type requires a return visit.
    pub visit_required: u64,
    /// 回访次数: return-visit attempts (not orders), all outcomes.
    pub visit_attempts: u64,
    /// 回访率: visited ÷ visit_required.
    pub visit_rate: Option<Rate>,
    /// 回访客户满意数: visit_required orders whose latest successful visit was rated
    /// satisfied or basically satisfied.
    pub visit_satisfied: u64,
    /// 回访客户满意率: visit_satisfied ÷ visited.
    pub visit_satisfied_rate: Option<Rate>,
    /// 消件及时数: among completed, concluded no later than the complete deadline.
    pub closing_on_time: u64,
    /// 消件及时率 (closing timeliness): closing_on_time ÷ completed.
    pub closing_on_time_rate: Option<Rate>,
    /// Acknowledged at least once (the denominator of ack_on_time_rate).
    pub acknowledged: u64,
    /// Stage `rejected` (不予受理).
    pub rejected: u64,
    /// Stage `cancelled`.
    pub cancelled: u64,
    /// visit_required orders with a successful visit (reached and rated).
    pub visited: u64,
    /// Open and suspended (a flag over the stage counts above, not a stage of its own).
    pub suspended: u64,
}

impl Indicators {
    /// Adds another group's counts and recomputes the rates.
    pub fn merge(&mut self, o: &Indicators) {
        self.registered += o.registered;
        self.not_accepted += o.not_accepted;
        self.accepted_not_acknowledged += o.accepted_not_acknowledged;
        self.acknowledged_not_processed += o.acknowledged_not_processed;
        self.resolved_items += o.resolved_items;
        self.closed_items += o.closed_items;
        self.completed += o.completed;
        self.overdue_unprocessed += o.overdue_unprocessed;
        self.ack_on_time += o.ack_on_time;
        self.processed_on_time += o.processed_on_time;
        self.not_replied += o.not_replied;
        self.replied += o.replied;
        self.visit_required += o.visit_required;
        self.visit_attempts += o.visit_attempts;
        self.visit_satisfied += o.visit_satisfied;
        self.closing_on_time += o.closing_on_time;
        self.acknowledged += o.acknowledged;
        self.rejected += o.rejected;
        self.cancelled += o.cancelled;
        self.visited += o.visited;
        self.suspended += o.suspended;
        self.rates();
    }

    fn rates(&mut self) {
        let concludable = self.registered - self.rejected - self.cancelled;
        self.conclusion_rate = Rate::of(self.completed, concludable);
        self.ack_on_time_rate = Rate::of(self.ack_on_time, self.acknowledged);
        self.processed_on_time_rate = Rate::of(self.processed_on_time, self.resolved_items);
        self.visit_rate = Rate::of(self.visited, self.visit_required);
        self.visit_satisfied_rate = Rate::of(self.visit_satisfied, self.visited);
        self.closing_on_time_rate = Rate::of(self.closing_on_time, self.completed);
    }

    /// 处理及时率.
    pub fn handling_timeliness(&self) -> Option<Rate> {
        self.processed_on_time_rate
    }

    /// 消件及时率.
    pub fn closing_timeliness(&self) -> Option<Rate> {
        self.closing_on_time_rate
    }

    /// One indicator's value.
    pub fn get(&self, i: Indicator) -> Value {
        use Indicator as I;
        use Value::{Count, Rate as R};
        match i {
            I::Registered => Count(self.registered),
            I::NotAccepted => Count(self.not_accepted),
            I::AcceptedNotAcknowledged => Count(self.accepted_not_acknowledged),
            I::AcknowledgedNotProcessed => Count(self.acknowledged_not_processed),
            I::ResolvedItems => Count(self.resolved_items),
            I::ClosedItems => Count(self.closed_items),
            I::Completed => Count(self.completed),
            I::OverdueUnprocessed => Count(self.overdue_unprocessed),
            I::ConclusionRate => R(self.conclusion_rate),
            I::AckOnTime => Count(self.ack_on_time),
            I::AckOnTimeRate => R(self.ack_on_time_rate),
            I::ProcessedOnTime => Count(self.processed_on_time),
            I::ProcessedOnTimeRate => R(self.processed_on_time_rate),
            I::NotReplied => Count(self.not_replied),
            I::Replied => Count(self.replied),
            I::VisitRequired => Count(self.visit_required),
            I::VisitAttempts => Count(self.visit_attempts),
            I::VisitRate => R(self.visit_rate),
            I::VisitSatisfied => Count(self.visit_satisfied),
            I::VisitSatisfiedRate => R(self.visit_satisfied_rate),
            I::ClosingOnTime => Count(self.closing_on_time),
            I::ClosingOnTimeRate => R(self.closing_on_time_rate),
            I::Acknowledged => Count(self.acknowledged),
            I::Rejected => Count(self.rejected),
            I::Cancelled => Count(self.cancelled),
            I::Visited => Count(self.visited),
            I::Suspended => Count(self.suspended),
        }
    }
}

/// [`FACT_COUNTS`] and the conversions of [`Indicators`] to and from them, from one list
/// of fields (their order is the columns' order).
macro_rules! fact_counts {
    ($($field:ident),* $(,)?) => {
        /// The counts stored per order (the `order_facts` columns), in this order. The
        /// others follow: `registered` is the number of orders, `overdue_unprocessed` is
        /// counted from [`Standing::overdue_after`], `suspended` is 0 (suspended orders
        /// are not stored).
        pub const FACT_COUNTS: [&str; 18] = [$(stringify!($field)),*];

        impl Indicators {
            /// The [`FACT_COUNTS`] of an order (or a sum of them).
            pub fn fact_counts(&self) -> [u64; 18] {
                [$(self.$field),*]
            }

            /// The indicators of `orders` stored orders whose [`FACT_COUNTS`] add up to
            /// `c`, of which `overdue` are past their deadline at the instant evaluated.
            pub fn from_facts(orders: u64, overdue: u64, c: [u64; 18]) -> Indicators {
                let [$($field),*] = c;
                let mut i = Indicators {
                    registered: orders,
                    overdue_unprocessed: overdue,
                    $($field,)*
                    ..Indicators::default()
                };
                i.rates();
                i
            }
        }
    };
}

fact_counts!(
    ack_on_time,
    processed_on_time,
    not_replied,
    replied,
    visit_required,
    visit_attempts,
    visit_satisfied,
    closing_on_time,
    acknowledged,
    resolved_items,
    completed,
    rejected,
    cancelled,
    visited,
    not_accepted,
    accepted_not_acknowledged,
    acknowledged_not_processed,
    closed_items,
);

/// An indicator's value: a count, or a rate (empty over nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    Count(u64),
    Rate(Option<Rate>),
}

/// The indicators by name, for report columns and Excel headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Indicator {
    Registered,
    NotAccepted,
    AcceptedNotAcknowledged,
    AcknowledgedNotProcessed,
    ResolvedItems,
    ClosedItems,
    Completed,
    OverdueUnprocessed,
    ConclusionRate,
    AckOnTime,
    AckOnTimeRate,
    ProcessedOnTime,
    ProcessedOnTimeRate,
    NotReplied,
    Replied,
    VisitRequired,
    VisitAttempts,
    VisitRate,
    VisitSatisfied,
    VisitSatisfiedRate,
    ClosingOnTime,
    ClosingOnTimeRate,
    Acknowledged,
    Rejected,
    Cancelled,
    Visited,
    Suspended,
}

impl Indicator {
    /// The twenty indicators of DESIGN §5, in its order.
    pub const DESIGN: [Indicator; 20] = [
        Indicator::Registered,
        Indicator::NotAccepted,
        Indicator::AcceptedNotAcknowledged,
        Indicator::AcknowledgedNotProcessed,
        Indicator::ResolvedItems,
        Indicator::ClosedItems,
        Indicator::Completed,
        Indicator::OverdueUnprocessed,
        Indicator::ConclusionRate,
        Indicator::AckOnTime,
        Indicator::AckOnTimeRate,
        Indicator::ProcessedOnTime,
        Indicator::ProcessedOnTimeRate,
        Indicator::NotReplied,
        Indicator::Replied,
        Indicator::VisitRequired,
        Indicator::VisitAttempts,
        Indicator::VisitRate,
        Indicator::VisitSatisfied,
        Indicator::VisitSatisfiedRate,
    ];

    /// DESIGN's twenty, then closing timeliness, then the supporting counts.
    pub const ALL: [Indicator; 27] = [
        Indicator::Registered,
        Indicator::NotAccepted,
        Indicator::AcceptedNotAcknowledged,
        Indicator::AcknowledgedNotProcessed,
        Indicator::ResolvedItems,
        Indicator::ClosedItems,
        Indicator::Completed,
        Indicator::OverdueUnprocessed,
        Indicator::ConclusionRate,
        Indicator::AckOnTime,
        Indicator::AckOnTimeRate,
        Indicator::ProcessedOnTime,
        Indicator::ProcessedOnTimeRate,
        Indicator::NotReplied,
        Indicator::Replied,
        Indicator::VisitRequired,
        Indicator::VisitAttempts,
        Indicator::VisitRate,
        Indicator::VisitSatisfied,
        Indicator::VisitSatisfiedRate,
        Indicator::ClosingOnTime,
        Indicator::ClosingOnTimeRate,
        Indicator::Acknowledged,
        Indicator::Rejected,
        Indicator::Cancelled,
        Indicator::Visited,
        Indicator::Suspended,
    ];

    /// 处理及时率.
    pub const HANDLING_TIMELINESS: Indicator = Indicator::ProcessedOnTimeRate;
    /// 消件及时率.
    pub const CLOSING_TIMELINESS: Indicator = Indicator::ClosingOnTimeRate;

    /// Stable snake_case code (the field name in [`Indicators`] and in JSON).
    pub fn code(self) -> &'static str {
        self.meta().0
    }

    pub fn parse(code: &str) -> Option<Indicator> {
        Indicator::ALL.into_iter().find(|i| i.code() == code)
    }

    /// (Chinese, English) labels.
    pub fn label(self) -> (&'static str, &'static str) {
        let (_, zh, en) = self.meta();
        (zh, en)
    }

    pub fn is_rate(self) -> bool {
        self.code().ends_with("_rate")
    }

    fn meta(self) -> (&'static str, &'static str, &'static str) {
        use Indicator as I;
        match self {
            I::Registered => ("registered", "登录下单数", "Registered"),
            I::NotAccepted => ("not_accepted", "未受理数", "Not accepted"),
            I::AcceptedNotAcknowledged => ("accepted_not_acknowledged", "受理未回执数", "Accepted, not acknowledged"),
            I::AcknowledgedNotProcessed => {
                ("acknowledged_not_processed", "回执未处理数", "Acknowledged, not processed")
            }
            I::ResolvedItems => ("resolved_items", "处理消件数", "Resolved"),
            I::ClosedItems => ("closed_items", "处理消单数", "Closed"),
            I::Completed => ("completed", "处理完毕数", "Concluded"),
            I::OverdueUnprocessed => ("overdue_unprocessed", "超期未处理数", "Overdue, not processed"),
            I::ConclusionRate => ("conclusion_rate", "办结率", "Conclusion rate"),
            I::AckOnTime => ("ack_on_time", "回执及时数", "Acknowledged on time"),
            I::AckOnTimeRate => ("ack_on_time_rate", "回执及时率", "Acknowledgement timeliness"),
            I::ProcessedOnTime => ("processed_on_time", "处理及时数", "Processed on time"),
            I::ProcessedOnTimeRate => ("processed_on_time_rate", "处理及时率", "Handling timeliness"),
            I::NotReplied => ("not_replied", "未回复数", "Not replied"),
            I::Replied => ("replied", "已经回复数", "Replied"),
            I::VisitRequired => ("visit_required", "回访信息数", "Return visits due"),
            I::VisitAttempts => ("visit_attempts", "回访次数", "Return-visit attempts"),
            I::VisitRate => ("visit_rate", "回访率", "Return-visit rate"),
            I::VisitSatisfied => ("visit_satisfied", "回访客户满意数", "Satisfied customers"),
            I::VisitSatisfiedRate => ("visit_satisfied_rate", "回访客户满意率", "Satisfaction rate"),
            I::ClosingOnTime => ("closing_on_time", "消件及时数", "Concluded on time"),
            I::ClosingOnTimeRate => ("closing_on_time_rate", "消件及时率", "Closing timeliness"),
            I::Acknowledged => ("acknowledged", "已回执数", "Acknowledged"),
            I::Rejected => ("rejected", "不予受理数", "Rejected"),
            I::Cancelled => ("cancelled", "撤销数", "Cancelled"),
            I::Visited => ("visited", "回访成功数", "Visits reached"),
            I::Suspended => ("suspended", "挂起数", "Suspended"),
        }
    }
}

/// Streams orders into groups (for cohorts too large to hold at once).
#[derive(Debug)]
pub struct Report {
    cohort: Cohort,
    at: Timestamp,
    group_by: GroupBy,
    tz: TimeZone,
    groups: BTreeMap<GroupKey, Indicators>,
}

impl Report {
    /// `tz` is both the calendars' zone and the zone periods are cut in.
    pub fn new(cohort: Cohort, at: Timestamp, group_by: GroupBy, tz: TimeZone) -> Report {
        Report { cohort, at, group_by, tz, groups: BTreeMap::new() }
    }

    /// Counts one order, if it belongs to the cohort and was registered by `at`.
    pub fn add(&mut self, o: &OrderFacts<'_>) {
        if !self.cohort.contains(o.registered_at) || o.registered_at > self.at {
            return;
        }
        let one = evaluate(o, self.at, &self.tz);
        let key = self.group_by.key(o, &self.tz);
        self.groups.entry(key).or_default().merge(&one);
    }

    /// Counts orders already summed elsewhere (settled facts, see [`settled`]) into the
    /// group `key`; the caller has applied the cohort and `at`.
    pub fn add_counts(&mut self, key: GroupKey, counts: &Indicators) {
        self.groups.entry(key).or_default().merge(counts);
    }

    pub fn group_by(&self) -> GroupBy {
        self.group_by
    }

    /// The groups in key order. Without grouping there is always exactly one row, the
    /// whole cohort (zeros and empty rates if nobody registered); with grouping, only
    /// groups that have orders.
    pub fn finish(mut self) -> Vec<(GroupKey, Indicators)> {
        if self.groups.is_empty() && self.group_by == GroupBy::default() {
            let mut none = Indicators::default();
            none.rates();
            self.groups.insert(GroupKey::default(), none);
        }
        self.groups.into_iter().collect()
    }
}

/// All indicators of the orders registered in `cohort` (and by `at`), evaluated as of
/// `at`, per group.
pub fn compute(
    orders: &[OrderFacts<'_>],
    cohort: Cohort,
    at: Timestamp,
    group_by: GroupBy,
    tz: &TimeZone,
) -> Vec<(GroupKey, Indicators)> {
    let mut r = Report::new(cohort, at, group_by, tz.clone());
    for o in orders {
        r.add(o);
    }
    r.finish()
}

/// An order's contribution from its last fact on (ARCHITECTURE D24): what replaying it
/// gives at every instant from `since` until something new happens to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// The order's last fact: state change, reply or visit.
    pub since: Timestamp,
    /// Its counts with `overdue_unprocessed` 0: the one count that moves with time alone.
    pub counts: Indicators,
    /// It counts as overdue unprocessed at every instant after this one (its complete
    /// deadline; `None`: never, as long as nothing happens to it).
    pub overdue_after: Option<Timestamp>,
}

impl Standing {
    /// The order's contribution at `at` (no earlier than `since`).
    pub fn at(&self, at: Timestamp) -> Indicators {
        let mut i = self.counts;
        i.overdue_unprocessed = u64::from(self.overdue_after.is_some_and(|d| at > d));
        i.rates();
        i
    }
}

/// The [`Standing`] of an order, so that reports may sum stored counts instead of
/// replaying it. It holds for every `at >= since`: an evaluation as of `at` reads no fact
/// later than `since`, and an order that is not suspended has a fixed deadline (its
/// suspensions have all ended by `since`). `None` for a suspended order, whose deadline
/// moves with the clock: it is replayed.
pub fn standing(o: &OrderFacts<'_>, tz: &TimeZone) -> Option<Standing> {
    let last = |it: &mut dyn Iterator<Item = Timestamp>| it.max();
    let since = [
        Some(o.registered_at),
        last(&mut o.history.iter().map(|(t, _)| *t)),
        o.replied_at,
        last(&mut o.visits.iter().map(|v| v.at)),
    ]
    .into_iter()
    .flatten()
    .max()?;
    let life = o.life(since);
    if life.suspended {
        return None;
    }
    let mut counts = evaluate(o, since, tz);
    let overdue_after = if before_processing(life.stage) { o.due(&life, Deadline::Complete, since, tz) } else { None };
    counts.overdue_unprocessed = 0;
    counts.rates();
    Some(Standing { since, counts, overdue_after })
}

/// The stages before processing (a complete deadline can pass in them).
fn before_processing(stage: State) -> bool {
    matches!(
        stage,
        State::Registered
            | State::PendingApproval
            | State::Accepted
            | State::Dispatched
            | State::Acknowledged
            | State::InProgress
    )
}

/// One order's contribution (each count 0 or 1, visit attempts aside).
fn evaluate(o: &OrderFacts<'_>, at: Timestamp, tz: &TimeZone) -> Indicators {
    let life = o.life(at);
    let stage = life.stage;
    let b = u64::from;
    let processed = is_processed(stage);
    let acknowledged = life.first_ack.is_some();
    let replied = o.replied_at.is_some_and(|r| r <= at);
    let attempts: Vec<&VisitAttempt> = o.visits.iter().filter(|v| v.at <= at).collect();
    // The latest successful attempt; of equal times, the one listed last.
    let latest = attempts
        .iter()
        .filter_map(|v| v.rating.map(|r| (v.at, r)))
        .reduce(|a, b| if b.0 >= a.0 { b } else { a })
        .map(|(_, r)| r);
    let visit_required = processed && o.requires_visit;
    let visited = visit_required && latest.is_some();
    Indicators {
        registered: 1,
        not_accepted: b(stage == State::Registered),
        accepted_not_acknowledged: b(matches!(stage, State::PendingApproval | State::Accepted | State::Dispatched)),
        acknowledged_not_processed: b(matches!(stage, State::Acknowledged | State::InProgress)),
        resolved_items: b(processed),
        closed_items: b(stage.is_terminal()),
        completed: b(stage == State::Concluded),
        overdue_unprocessed: b(
            before_processing(stage) && o.due(&life, Deadline::Complete, at, tz).is_some_and(|d| at > d)
        ),
        ack_on_time: b(life.first_ack.is_some_and(|t| o.on_time(&life, Deadline::Acknowledge, t, tz))),
        processed_on_time: b(
            processed && life.processed_since.is_some_and(|t| o.on_time(&life, Deadline::Complete, t, tz))
        ),
        not_replied: b(o.requires_reply && !replied),
        replied: b(o.requires_reply && replied),
        visit_required: b(visit_required),
        visit_attempts: attempts.len() as u64,
        visit_satisfied: b(visited && latest.is_some_and(Satisfaction::is_satisfied)),
        closing_on_time: b(
            stage == State::Concluded && life.concluded.is_some_and(|t| o.on_time(&life, Deadline::Complete, t, tz))
        ),
        acknowledged: b(acknowledged),
        rejected: b(stage == State::Rejected),
        cancelled: b(stage == State::Cancelled),
        visited: b(visited),
        suspended: b(life.suspended),
        ..Indicators::default()
    }
}

#[cfg(test)]
mod tests;
