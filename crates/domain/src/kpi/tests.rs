//! Service-indicator tests (R-DATA-04/05): a hand-built fixture whose every indicator is
//! worked out by hand below (not by the code under test), and property tests over random
//! lives driven through the standard workflows.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use jiff::SignedDuration;
use jiff::civil::DateTime;
use proptest::prelude::*;

use super::*;
use crate::sla::default_targets;
use crate::workflow::{Action, standard_types};

static ALWAYS: LazyLock<Calendar> = LazyLock::new(Calendar::always);

fn shanghai() -> TimeZone {
    TimeZone::get("Asia/Shanghai").unwrap()
}

/// A UTC instant, `2026-10-31T02:30` or with seconds.
fn t(s: &str) -> Timestamp {
    TimeZone::UTC.to_timestamp(s.parse::<DateTime>().unwrap()).unwrap()
}

fn rate(num: u64, den: u64) -> Option<Rate> {
    Some(Rate { num, den })
}

/// Acknowledge within 1 h, complete within 4 h of acceptance (arrive and reply untracked).
const T: Targets = Targets { acknowledge: Some(60), arrive: None, complete: Some(240), reply: None };

/// An order of a standard type (repair, complaint and meter_replace need a reply and a
/// return visit, consultation a reply, the others neither), round-the-clock calendar.
fn order(unit: i64, ty: &str, registered: &str, history: &[(&str, State)]) -> OrderFacts<'static> {
    let (reply, visit) = match ty {
        "repair" | "complaint" | "meter_replace" => (true, true),
        "consultation" => (true, false),
        _ => (false, false),
    };
    OrderFacts {
        registered_at: t(registered),
        history: history.iter().map(|(at, s)| (t(at), *s)).collect(),
        targets: T,
        calendar: &ALWAYS,
        requires_reply: reply,
        replied_at: None,
        requires_visit: visit,
        visits: vec![],
        keys: Keys {
            unit,
            order_type: ty.into(),
            category: "leak".into(),
            channel: "phone".into(),
            source: "hotline".into(),
        },
    }
}

trait Ext {
    fn replied(self, at: &str) -> Self;
    fn visits(self, v: &[(&str, Option<Satisfaction>)]) -> Self;
}

impl Ext for OrderFacts<'static> {
    fn replied(mut self, at: &str) -> Self {
        self.replied_at = Some(t(at));
        self
    }
    fn visits(mut self, v: &[(&str, Option<Satisfaction>)]) -> Self {
        self.visits = v.iter().map(|(at, rating)| VisitAttempt { at: t(at), rating: *rating }).collect();
        self
    }
}

/// The cohort [2026-10-31T00:00Z, 2026-11-02T00:00Z), evaluated at 2026-11-02T06:00Z.
/// All times UTC; Shanghai is UTC+8, so Shanghai's November begins at 2026-10-31T16:00Z.
/// Deadlines: ack = acceptance + 1 h, complete = acceptance + 4 h + time suspended.
fn fixture() -> Vec<OrderFacts<'static>> {
    use Satisfaction::*;
    use State::*;
    vec![
        // 1 · one second before `from`: outside the cohort (would count everywhere).
        order(
            1,
            "repair",
            "2026-10-30T23:59:59",
            &[
                ("2026-10-31T00:00", Accepted),
                ("2026-10-31T00:10", Dispatched),
                ("2026-10-31T00:20", Acknowledged),
                ("2026-10-31T00:30", InProgress),
                ("2026-10-31T01:00", Resolved),
                ("2026-10-31T01:10", Verified),
                ("2026-10-31T01:20", Concluded),
            ],
        )
        .replied("2026-10-31T01:05")
        .visits(&[("2026-10-31T01:15", Some(Satisfied))]),
        // 2 · exactly at `from`; the whole loop on time. Ack due 01:10, complete due 04:10.
        order(
            1,
            "repair",
            "2026-10-31T00:00",
            &[
                ("2026-10-31T00:10", Accepted),
                ("2026-10-31T00:20", Dispatched),
                ("2026-10-31T00:40", Acknowledged),
                ("2026-10-31T01:00", InProgress),
                ("2026-10-31T02:00", Resolved),
                ("2026-10-31T02:30", Verified),
                ("2026-10-31T03:00", Concluded),
            ],
        )
        .replied("2026-10-31T02:05")
        .visits(&[("2026-10-31T02:50", Some(Satisfied))]),
        // 3 · one second before `to`; never accepted: no clock, so not overdue.
        order(2, "maintenance", "2026-11-01T23:59:59", &[]),
        // 4 · exactly at `to`: outside the cohort.
        order(2, "maintenance", "2026-11-02T00:00", &[]),
        // 5 · suspended 02:30–04:30: complete due 05:00 + 2 h = 07:00, so resolved at 06:30
        //     (after the nominal 05:00) is on time; concluded 07:30 is late. Visits: no
        //     answer, unsatisfied, then basically satisfied (the latest success counts).
        order(
            1,
            "repair",
            "2026-10-31T01:00",
            &[
                ("2026-10-31T01:00", Accepted),
                ("2026-10-31T01:10", Dispatched),
                ("2026-10-31T01:30", Acknowledged),
                ("2026-10-31T02:00", InProgress),
                ("2026-10-31T02:30", Suspended),
                ("2026-10-31T04:30", InProgress),
                ("2026-10-31T06:30", Resolved),
                ("2026-10-31T07:00", Verified),
                ("2026-10-31T07:30", Concluded),
            ],
        )
        .replied("2026-10-31T06:40")
        .visits(&[
            ("2026-10-31T07:10", None),
            ("2026-10-31T07:20", Some(Unsatisfied)),
            ("2026-10-31T07:25", Some(BasicallySatisfied)),
        ]),
        // 6 · resolved 03:00, sent back 03:30 after an unhappy visit, not re-resolved:
        //     in progress, not a resolved item; complete due 06:05 Oct 31 → overdue.
        order(
            2,
            "complaint",
            "2026-10-31T02:00",
            &[
                ("2026-10-31T02:05", Accepted),
                ("2026-10-31T02:10", Dispatched),
                ("2026-10-31T02:20", Acknowledged),
                ("2026-10-31T02:30", InProgress),
                ("2026-10-31T03:00", Resolved),
                ("2026-10-31T03:30", InProgress),
            ],
        )
        .visits(&[("2026-10-31T03:10", Some(Unsatisfied))]),
        // 7 · ack 04:30 > 04:00 late; resolved 05:00 on time, sent back, re-resolved 08:00
        //     > 07:00 late (the last resolution counts); concluded 09:00 late. Visits:
        //     satisfied, then unsatisfied → not satisfied.
        order(
            1,
            "repair",
            "2026-10-31T03:00",
            &[
                ("2026-10-31T03:00", Accepted),
                ("2026-10-31T03:05", Dispatched),
                ("2026-10-31T04:30", Acknowledged),
                ("2026-10-31T04:40", InProgress),
                ("2026-10-31T05:00", Resolved),
                ("2026-10-31T05:30", InProgress),
                ("2026-10-31T08:00", Resolved),
                ("2026-10-31T08:30", Verified),
                ("2026-10-31T09:00", Concluded),
            ],
        )
        .replied("2026-10-31T05:10")
        .visits(&[("2026-10-31T08:40", Some(Satisfied)), ("2026-10-31T08:50", Some(Unsatisfied))]),
        // 8 · `at` in the middle of its life: in progress at 06:00 (resolved 07:00 later).
        //     Ack 01:00 > 23:30 late; complete due 02:30 Nov 2 → overdue.
        order(
            1,
            "maintenance",
            "2026-11-01T22:00",
            &[
                ("2026-11-01T22:30", Accepted),
                ("2026-11-01T23:00", Dispatched),
                ("2026-11-02T01:00", Acknowledged),
                ("2026-11-02T03:00", InProgress),
                ("2026-11-02T07:00", Resolved),
                ("2026-11-02T07:30", Verified),
                ("2026-11-02T08:00", Concluded),
            ],
        ),
        // 9 · 24 h to complete (due 23:10 Nov 2): dispatched, not overdue; acknowledged and
        //     replied only after `at`.
        OrderFacts {
            targets: Targets { complete: Some(1440), ..T },
            ..order(
                2,
                "repair",
                "2026-11-01T23:00",
                &[("2026-11-01T23:10", Accepted), ("2026-11-01T23:20", Dispatched), ("2026-11-02T06:30", Acknowledged)],
            )
            .replied("2026-11-02T06:30")
        },
        // 10 · cancelled; a reply was due and never given.
        order(1, "complaint", "2026-10-31T05:00", &[("2026-10-31T05:10", Accepted), ("2026-10-31T05:30", Cancelled)]),
        // 11 · rejected (不予受理) with a reply.
        order(2, "consultation", "2026-10-31T06:00", &[("2026-10-31T06:05", Rejected)]).replied("2026-10-31T06:05"),
        // 12 · concluded by the agent at registration: processed, no clock → on time.
        order(1, "consultation", "2026-10-31T07:00", &[("2026-10-31T07:02", Concluded)]).replied("2026-10-31T07:02"),
        // 13 · suspended since 10:00 and still at `at`: 2 h of 4 used, the clock stopped →
        //      not overdue.
        order(
            2,
            "repair",
            "2026-10-31T08:00",
            &[
                ("2026-10-31T08:00", Accepted),
                ("2026-10-31T08:10", Dispatched),
                ("2026-10-31T08:20", Acknowledged),
                ("2026-10-31T08:30", InProgress),
                ("2026-10-31T10:00", Suspended),
            ],
        ),
        // 14 · suspended at 14:00, after its 13:00 complete deadline, still at `at` → overdue.
        order(
            2,
            "maintenance",
            "2026-10-31T09:00",
            &[("2026-10-31T09:00", Accepted), ("2026-10-31T09:05", Dispatched), ("2026-10-31T14:00", Suspended)],
        ),
        // 15 · awaiting approval since its acceptance at 10:30 (due 14:30) → overdue.
        order(1, "meter_replace", "2026-11-01T10:00", &[("2026-11-01T10:30", PendingApproval)]),
        // 16 · verified (a resolved item), resolved 15:00 ≤ 16:00; two unanswered visits;
        //      a successful one after `at` does not count.
        order(
            1,
            "repair",
            "2026-11-01T12:00",
            &[
                ("2026-11-01T12:00", Accepted),
                ("2026-11-01T12:10", Dispatched),
                ("2026-11-01T12:30", Acknowledged),
                ("2026-11-01T13:00", InProgress),
                ("2026-11-01T15:00", Resolved),
                ("2026-11-01T15:30", Verified),
            ],
        )
        .replied("2026-11-01T15:10")
        .visits(&[
            ("2026-11-01T16:00", None),
            ("2026-11-01T16:30", None),
            ("2026-11-02T07:00", Some(Satisfied)),
        ]),
        // 17 · 2026-10-31T17:00Z is November 1 in Shanghai. Acknowledged exactly at its
        //      deadline (18:00): on time. Visits: unsatisfied, then satisfied → satisfied.
        order(
            2,
            "complaint",
            "2026-10-31T17:00",
            &[
                ("2026-10-31T17:00", Accepted),
                ("2026-10-31T17:10", Dispatched),
                ("2026-10-31T18:00", Acknowledged),
                ("2026-10-31T18:10", InProgress),
                ("2026-10-31T18:30", Resolved),
                ("2026-10-31T18:40", Verified),
                ("2026-10-31T19:00", Concluded),
            ],
        )
        .replied("2026-10-31T18:35")
        .visits(&[("2026-10-31T18:45", Some(Unsatisfied)), ("2026-10-31T18:50", Some(Satisfied))]),
        // 18 · 23:59:59 on October 31 in Shanghai; never accepted.
        order(1, "patrol", "2026-10-31T15:59:59", &[]),
        // 19 · resolved 13:00 (due 14:00), suspended 14:30–16:00 while resolved: the resume
        //      is not a new resolution, so it stays on time.
        order(
            2,
            "maintenance",
            "2026-10-31T10:00",
            &[
                ("2026-10-31T10:00", Accepted),
                ("2026-10-31T10:05", Dispatched),
                ("2026-10-31T10:10", Acknowledged),
                ("2026-10-31T10:20", InProgress),
                ("2026-10-31T13:00", Resolved),
                ("2026-10-31T14:30", Suspended),
                ("2026-10-31T16:00", Resolved),
            ],
        ),
        // 20 · accepted 20:05, nobody dispatched it: complete due 00:05 → overdue.
        order(1, "complaint", "2026-11-01T20:00", &[("2026-11-01T20:05", Accepted)]),
    ]
}

fn cohort() -> Cohort {
    Cohort { from: t("2026-10-31T00:00"), to: t("2026-11-02T00:00") }
}

fn at() -> Timestamp {
    t("2026-11-02T06:00")
}

fn one(rows: Vec<(GroupKey, Indicators)>) -> Indicators {
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, GroupKey::default());
    rows[0].1
}

// R-DATA-05: every indicator of the whole cohort, worked out by hand from the comments
// of the fixture (orders 2, 3, 5–20; 1 and 4 are outside).
#[test]
fn whole_cohort() {
    let got = one(compute(&fixture(), cohort(), at(), GroupBy::default(), &shanghai()));
    let want = Indicators {
        registered: 18,
        not_accepted: 2,               // 3, 18
        accepted_not_acknowledged: 4,  // 9, 14 (dispatched), 15 (pending approval), 20
        acknowledged_not_processed: 3, // 6, 8, 13 (in progress)
        resolved_items: 7,             // 2, 5, 7, 12, 17 (concluded), 16 (verified), 19 (resolved)
        closed_items: 7,               // 5 concluded + 10 cancelled + 11 rejected
        completed: 5,                  // 2, 5, 7, 12, 17
        overdue_unprocessed: 5,        // 6, 8, 14, 15, 20 (not 3, 18: no clock; 9: due later; 13: stopped)
        conclusion_rate: rate(5, 16),  // 18 − 1 rejected − 1 cancelled
        ack_on_time: 7,                // of 2, 5, 6, 13, 16, 17, 19 on time; 7, 8 late
        ack_on_time_rate: rate(7, 9),  // nine acknowledged by `at` (order 9 only later)
        processed_on_time: 6,          // 2, 5, 12, 16, 17, 19; 7 late
        processed_on_time_rate: rate(6, 7),
        not_replied: 6,         // 6, 9 (reply after `at`), 10, 13, 15, 20
        replied: 7,             // 2, 5, 7, 11, 12, 16, 17
        visit_required: 5,      // 2, 5, 7, 16, 17
        visit_attempts: 11,     // 2:1, 5:3, 6:1, 7:2, 16:2 (one after `at`), 17:2
        visit_rate: rate(4, 5), // 2, 5, 7, 17
        visit_satisfied: 3,     // 2, 5 (basically), 17; 7's latest success is unsatisfied
        visit_satisfied_rate: rate(3, 4),
        closing_on_time: 3, // 2, 12, 17; 5 and 7 concluded late
        closing_on_time_rate: rate(3, 5),
        acknowledged: 9,
        rejected: 1,
        cancelled: 1,
        visited: 4,
        suspended: 2, // 13, 14
    };
    assert_eq!(got, want);
    assert_eq!(got.handling_timeliness(), rate(6, 7));
    assert_eq!(got.closing_timeliness(), rate(3, 5));
}

// R-DATA-04: grouped by handling unit.
#[test]
fn by_unit() {
    let by = GroupBy { unit: true, ..GroupBy::default() };
    let rows = compute(&fixture(), cohort(), at(), by, &shanghai());
    let key = |u| GroupKey { unit: Some(u), ..GroupKey::default() };
    // Unit 1: orders 2, 5, 7, 8, 10, 12, 15, 16, 18, 20.
    let unit1 = Indicators {
        registered: 10,
        not_accepted: 1,               // 18
        accepted_not_acknowledged: 2,  // 15, 20
        acknowledged_not_processed: 1, // 8
        resolved_items: 5,             // 2, 5, 7, 12, 16
        closed_items: 5,               // 2, 5, 7, 12, 10
        completed: 4,
        overdue_unprocessed: 3, // 8, 15, 20
        conclusion_rate: rate(4, 9),
        ack_on_time: 3, // 2, 5, 16 (7, 8 late)
        ack_on_time_rate: rate(3, 5),
        processed_on_time: 4, // 2, 5, 12, 16
        processed_on_time_rate: rate(4, 5),
        not_replied: 3,    // 10, 15, 20
        replied: 5,        // 2, 5, 7, 12, 16
        visit_required: 4, // 2, 5, 7, 16
        visit_attempts: 8,
        visit_rate: rate(3, 4),
        visit_satisfied: 2,
        visit_satisfied_rate: rate(2, 3),
        closing_on_time: 2, // 2, 12
        closing_on_time_rate: rate(2, 4),
        acknowledged: 5,
        rejected: 0,
        cancelled: 1,
        visited: 3,
        suspended: 0,
    };
    // Unit 2: orders 3, 6, 9, 11, 13, 14, 17, 19.
    let unit2 = Indicators {
        registered: 8,
        not_accepted: 1,               // 3
        accepted_not_acknowledged: 2,  // 9, 14
        acknowledged_not_processed: 2, // 6, 13
        resolved_items: 2,             // 17, 19
        closed_items: 2,               // 17, 11
        completed: 1,
        overdue_unprocessed: 2, // 6, 14
        conclusion_rate: rate(1, 7),
        ack_on_time: 4, // 6, 13, 17, 19
        ack_on_time_rate: rate(4, 4),
        processed_on_time: 2,
        processed_on_time_rate: rate(2, 2),
        not_replied: 3,    // 6, 9, 13
        replied: 2,        // 11, 17
        visit_required: 1, // 17
        visit_attempts: 3, // 6:1, 17:2
        visit_rate: rate(1, 1),
        visit_satisfied: 1,
        visit_satisfied_rate: rate(1, 1),
        closing_on_time: 1,
        closing_on_time_rate: rate(1, 1),
        acknowledged: 4,
        rejected: 1,
        cancelled: 0,
        visited: 1,
        suspended: 2,
    };
    assert_eq!(rows, vec![(key(1), unit1), (key(2), unit2)]);
}

// R-DATA-04: by month in Asia/Shanghai — order 17 (2026-10-31T17:00Z) is November there,
// order 18 (15:59:59Z) still October.
#[test]
fn by_month_in_shanghai() {
    let by = GroupBy { period: Some(Period::Month), ..GroupBy::default() };
    let rows = compute(&fixture(), cohort(), at(), by, &shanghai());
    let key = |month| GroupKey { period: Some(PeriodKey::Month { year: 2026, month }), ..GroupKey::default() };
    // October: 2, 5, 6, 7, 10, 11, 12, 13, 14, 18, 19.
    let october = Indicators {
        registered: 11,
        not_accepted: 1,               // 18
        accepted_not_acknowledged: 1,  // 14
        acknowledged_not_processed: 2, // 6, 13
        resolved_items: 5,             // 2, 5, 7, 12, 19
        closed_items: 6,               // 2, 5, 7, 12, 10, 11
        completed: 4,
        overdue_unprocessed: 2, // 6, 14
        conclusion_rate: rate(4, 9),
        ack_on_time: 5, // 2, 5, 6, 13, 19 (7 late)
        ack_on_time_rate: rate(5, 6),
        processed_on_time: 4, // 2, 5, 12, 19
        processed_on_time_rate: rate(4, 5),
        not_replied: 3,    // 6, 10, 13
        replied: 5,        // 2, 5, 7, 11, 12
        visit_required: 3, // 2, 5, 7
        visit_attempts: 7, // 2:1, 5:3, 6:1, 7:2
        visit_rate: rate(3, 3),
        visit_satisfied: 2,
        visit_satisfied_rate: rate(2, 3),
        closing_on_time: 2,
        closing_on_time_rate: rate(2, 4),
        acknowledged: 6,
        rejected: 1,
        cancelled: 1,
        visited: 3,
        suspended: 2,
    };
    // November: 3, 8, 9, 15, 16, 17, 20.
    let november = Indicators {
        registered: 7,
        not_accepted: 1,               // 3
        accepted_not_acknowledged: 3,  // 9, 15, 20
        acknowledged_not_processed: 1, // 8
        resolved_items: 2,             // 16, 17
        closed_items: 1,
        completed: 1,
        overdue_unprocessed: 3, // 8, 15, 20
        conclusion_rate: rate(1, 7),
        ack_on_time: 2, // 16, 17 (8 late)
        ack_on_time_rate: rate(2, 3),
        processed_on_time: 2,
        processed_on_time_rate: rate(2, 2),
        not_replied: 3,    // 9, 15, 20
        replied: 2,        // 16, 17
        visit_required: 2, // 16, 17
        visit_attempts: 4, // 16:2, 17:2
        visit_rate: rate(1, 2),
        visit_satisfied: 1,
        visit_satisfied_rate: rate(1, 1),
        closing_on_time: 1,
        closing_on_time_rate: rate(1, 1),
        acknowledged: 3,
        rejected: 0,
        cancelled: 0,
        visited: 1,
        suspended: 0,
    };
    assert_eq!(rows, vec![(key(10), october), (key(11), november)]);
    assert_eq!(rows[1].0.period.unwrap().to_string(), "2026-11");
    // In UTC, order 17 falls in October.
    let utc = compute(&fixture(), cohort(), at(), by, &TimeZone::UTC);
    assert_eq!(utc.iter().map(|(_, i)| i.registered).collect::<Vec<_>>(), [12, 6]);
}

// Grouping keys combine; each group only where there are orders.
#[test]
fn by_type_and_unit() {
    let by = GroupBy { unit: true, order_type: true, ..GroupBy::default() };
    let rows = compute(&fixture(), cohort(), at(), by, &shanghai());
    let got: Vec<_> =
        rows.iter().map(|(k, i)| (k.unit.unwrap(), k.order_type.clone().unwrap(), i.registered)).collect();
    let want = [
        (1, "complaint", 2),     // 10, 20
        (1, "consultation", 1),  // 12
        (1, "maintenance", 1),   // 8
        (1, "meter_replace", 1), // 15
        (1, "patrol", 1),        // 18
        (1, "repair", 4),        // 2, 5, 7, 16
        (2, "complaint", 2),     // 6, 17
        (2, "consultation", 1),  // 11
        (2, "maintenance", 3),   // 3, 14, 19
        (2, "repair", 2),        // 9, 13
    ];
    assert_eq!(got, want.map(|(u, ty, n)| (u, ty.to_string(), n)));
    assert!(rows.iter().all(|(k, _)| k.category.is_none() && k.period.is_none()));
}

// `at` in the middle of the cohort's life: only what had happened by 03:30 on Oct 31,
// and only the orders registered by then (2, 5, 6, 7).
#[test]
fn as_of_an_earlier_instant() {
    let at = t("2026-10-31T03:30");
    let got = one(compute(&fixture(), cohort(), at, GroupBy::default(), &shanghai()));
    let want = Indicators {
        registered: 4,
        not_accepted: 0,
        accepted_not_acknowledged: 1,  // 7 (dispatched at 03:05)
        acknowledged_not_processed: 2, // 5 (in progress, suspended), 6 (sent back at 03:30 exactly)
        resolved_items: 1,             // 2
        closed_items: 1,
        completed: 1,
        overdue_unprocessed: 0, // 5 due 06:00 as of now (05:00 + 1 h suspended so far)
        conclusion_rate: rate(1, 4),
        ack_on_time: 3, // 2, 5, 6
        ack_on_time_rate: rate(3, 3),
        processed_on_time: 1,
        processed_on_time_rate: rate(1, 1),
        not_replied: 3,    // 5, 6, 7
        replied: 1,        // 2
        visit_required: 1, // 2
        visit_attempts: 2, // 2 at 02:50, 6 at 03:10
        visit_rate: rate(1, 1),
        visit_satisfied: 1,
        visit_satisfied_rate: rate(1, 1),
        closing_on_time: 1,
        closing_on_time_rate: rate(1, 1),
        acknowledged: 3,
        rejected: 0,
        cancelled: 0,
        visited: 1,
        suspended: 1, // 5
    };
    assert_eq!(got, want);
    let f = fixture();
    assert_eq!(f[4].stage_at(at), State::InProgress);
    assert!(f[4].suspended_at(at));
    assert_eq!(f[7].stage_at(t("2026-11-02T06:59:59")), State::InProgress);
    assert_eq!(f[7].stage_at(t("2026-11-02T07:00")), State::Resolved);
}

// DESIGN §5: a rate over nothing is empty, not 0 or 100 %.
#[test]
fn empty_denominators() {
    let f = fixture();
    // Only order 11 (rejected): nothing can conclude, acknowledge, resolve or be visited.
    let only_rejected = Cohort { from: t("2026-10-31T06:00"), to: t("2026-10-31T06:30") };
    let i = one(compute(&f, only_rejected, at(), GroupBy::default(), &shanghai()));
    assert_eq!((i.registered, i.rejected, i.closed_items, i.replied), (1, 1, 1, 1));
    for r in [
        i.conclusion_rate,
        i.ack_on_time_rate,
        i.processed_on_time_rate,
        i.visit_rate,
        i.visit_satisfied_rate,
        i.closing_on_time_rate,
    ] {
        assert_eq!(r, None);
    }
    // Only order 18 (never accepted): 0 of 1 concluded is a real 0 %, the rest empty.
    let only_new = Cohort { from: t("2026-10-31T15:00"), to: t("2026-10-31T16:00") };
    let i = one(compute(&f, only_new, at(), GroupBy::default(), &shanghai()));
    assert_eq!(i.conclusion_rate, rate(0, 1));
    assert_eq!(i.conclusion_rate.unwrap().to_string(), "0.00%");
    assert_eq!((i.ack_on_time_rate, i.processed_on_time_rate, i.visit_rate), (None, None, None));
    // Order 12 (resolved, no visit required) alone: the visit rates are empty.
    let only_consultation = Cohort { from: t("2026-10-31T07:00"), to: t("2026-10-31T07:01") };
    let i = one(compute(&f, only_consultation, at(), GroupBy::default(), &shanghai()));
    assert_eq!((i.resolved_items, i.visit_required, i.visit_rate, i.visit_satisfied_rate), (1, 0, None, None));
    assert_eq!(i.processed_on_time_rate, rate(1, 1));
    // Nobody registered: one all-zero row without grouping, no rows with grouping.
    let nobody = Cohort { from: t("2026-12-01T00:00"), to: t("2026-12-02T00:00") };
    let i = one(compute(&f, nobody, at(), GroupBy::default(), &shanghai()));
    assert_eq!(i, Indicators::default());
    let by = GroupBy { unit: true, ..GroupBy::default() };
    assert!(compute(&f, nobody, at(), by, &shanghai()).is_empty());
}

// Deadlines follow the type's calendar, and an untracked deadline is never missed.
#[test]
fn calendars_and_untracked_deadlines() {
    use State::*;
    let tz = shanghai();
    let local = |s: &str| tz.to_timestamp(s.parse::<DateTime>().unwrap()).unwrap();
    let office = Calendar::office(8 * 60 + 30, 17 * 60 + 30);
    // Accepted Friday 16:30 local with 2 h to complete: due Monday 09:30, not Friday 18:30.
    let history = vec![
        (local("2026-11-20T16:30"), Accepted),
        (local("2026-11-20T16:40"), Dispatched),
        (local("2026-11-20T16:50"), Acknowledged),
        (local("2026-11-20T17:00"), InProgress),
        (local("2026-11-23T09:30"), Resolved),
    ];
    let o = OrderFacts {
        history,
        targets: Targets { acknowledge: Some(60), arrive: None, complete: Some(120), reply: None },
        calendar: &office,
        ..order(1, "maintenance", "2026-11-20T08:00", &[])
    };
    let c = Cohort { from: local("2026-11-20T00:00"), to: local("2026-11-21T00:00") };
    let on_saturday = one(compute(std::slice::from_ref(&o), c, local("2026-11-21T12:00"), GroupBy::default(), &tz));
    assert_eq!(on_saturday.overdue_unprocessed, 0);
    let monday = one(compute(std::slice::from_ref(&o), c, local("2026-11-23T09:30"), GroupBy::default(), &tz));
    assert_eq!((monday.resolved_items, monday.processed_on_time), (1, 1), "resolved exactly at the deadline");
    let late = OrderFacts { calendar: &ALWAYS, ..o.clone() };
    let overdue = |at: &str| one(compute(std::slice::from_ref(&late), c, local(at), GroupBy::default(), &tz));
    assert_eq!(overdue("2026-11-21T12:00").overdue_unprocessed, 1, "round the clock it was due Friday 18:30");
    assert_eq!(overdue("2026-11-20T18:30").overdue_unprocessed, 0, "at the deadline, not yet past it");
    assert_eq!(overdue("2026-11-20T18:30:01").overdue_unprocessed, 1);
    // No targets at all: never overdue, always on time.
    let untracked = OrderFacts {
        targets: Targets { acknowledge: None, arrive: None, complete: None, reply: None },
        calendar: &ALWAYS,
        ..o
    };
    let i = one(compute(&[untracked], c, local("2026-12-31T00:00"), GroupBy::default(), &tz));
    assert_eq!((i.overdue_unprocessed, i.ack_on_time, i.processed_on_time), (0, 1, 1));
}

#[test]
fn period_keys() {
    let tz = shanghai();
    let key = |p, s| PeriodKey::of(p, t(s), &tz).to_string();
    assert_eq!(key(Period::Day, "2026-10-31T15:59:59"), "2026-10-31");
    assert_eq!(key(Period::Day, "2026-10-31T16:00"), "2026-11-01");
    assert_eq!(key(Period::Month, "2026-10-31T17:00"), "2026-11");
    // 2026 has 53 ISO weeks: Friday 2027-01-01 belongs to 2026-W53.
    assert_eq!(key(Period::Week, "2027-01-01T04:00"), "2026-W53");
    assert_eq!(key(Period::Week, "2027-01-03T16:00"), "2027-W01", "Monday Jan 4 in Shanghai");
    assert!(PeriodKey::Week { year: 2026, week: 53 } < PeriodKey::Week { year: 2027, week: 1 });
}

// Codes and labels, in DESIGN §5's order, for report columns and Excel headers.
#[test]
fn labels_and_codes() {
    let codes: Vec<_> = Indicator::DESIGN.iter().map(|i| i.code()).collect();
    assert_eq!(
        codes,
        [
            "registered",
            "not_accepted",
            "accepted_not_acknowledged",
            "acknowledged_not_processed",
            "resolved_items",
            "closed_items",
            "completed",
            "overdue_unprocessed",
            "conclusion_rate",
            "ack_on_time",
            "ack_on_time_rate",
            "processed_on_time",
            "processed_on_time_rate",
            "not_replied",
            "replied",
            "visit_required",
            "visit_attempts",
            "visit_rate",
            "visit_satisfied",
            "visit_satisfied_rate",
        ]
    );
    let zh: Vec<_> = Indicator::DESIGN.iter().map(|i| i.label().0).collect();
    assert_eq!(
        zh.join(" "),
        "登录下单数 未受理数 受理未回执数 回执未处理数 处理消件数 处理消单数 处理完毕数 超期未处理数 办结率 \
         回执及时数 回执及时率 处理及时数 处理及时率 未回复数 已经回复数 回访信息数 回访次数 回访率 \
         回访客户满意数 回访客户满意率"
    );
    assert_eq!(Indicator::ALL[..20], Indicator::DESIGN);
    assert_eq!(Indicator::HANDLING_TIMELINESS.label().0, "处理及时率");
    assert_eq!(Indicator::CLOSING_TIMELINESS.label().0, "消件及时率");
    let unique: std::collections::BTreeSet<_> = Indicator::ALL.iter().map(|i| i.code()).collect();
    assert_eq!(unique.len(), Indicator::ALL.len());
    // The codes are the JSON field names, and `get` agrees with the fields.
    let i = one(compute(&fixture(), cohort(), at(), GroupBy::default(), &shanghai()));
    let json = serde_json::to_value(i).unwrap();
    for ind in Indicator::ALL {
        assert_eq!(Indicator::parse(ind.code()), Some(ind));
        assert!(!ind.label().1.is_empty());
        let field = &json[ind.code()];
        match i.get(ind) {
            Value::Count(n) => assert_eq!(field, &serde_json::json!(n), "{}", ind.code()),
            Value::Rate(r) => {
                assert!(ind.is_rate());
                assert_eq!(field, &serde_json::to_value(r).unwrap(), "{}", ind.code());
            }
        }
    }
    assert_eq!(json["conclusion_rate"], serde_json::json!({"num": 5, "den": 16}));
    assert_eq!(Satisfaction::parse("basically_satisfied"), Some(Satisfaction::BasicallySatisfied));
}

// ---------------------------------------------------------------------------------------
// Properties over random lives.

static OFFICE: LazyLock<Calendar> = LazyLock::new(|| Calendar::office(8 * 60 + 30, 17 * 60 + 30));

/// A random order: type, unit, channel, registration (minutes after T0), a script of
/// (choice of step, minutes later) played through the type's workflow, visits and a reply
/// (minutes after registration), priority level, office calendar or not.
type Gen = (usize, i64, bool, i64, Vec<(usize, i64)>, Vec<(i64, Option<usize>)>, Option<i64>, u8, bool);

fn gen_order() -> impl Strategy<Value = Gen> {
    (
        0usize..12,
        1i64..4,
        any::<bool>(),
        0i64..14_400,
        proptest::collection::vec((0usize..200, 0i64..300), 0..30),
        proptest::collection::vec((0i64..6000, proptest::option::of(0usize..3)), 0..4),
        proptest::option::of(0i64..6000),
        1u8..5,
        any::<bool>(),
    )
}

fn t0() -> Timestamp {
    t("2026-10-25T00:00")
}

fn mins(m: i64) -> Timestamp {
    t0().checked_add(SignedDuration::from_mins(m)).unwrap()
}

fn build(g: &Gen) -> OrderFacts<'static> {
    let (ty, unit, wechat, reg, script, visits, reply, level, office) = g;
    let st = &standard_types()[*ty];
    let w = &st.workflow;
    let fields: BTreeMap<String, String> =
        w.steps.iter().flat_map(|s| s.required.iter().map(|f| (f.clone(), "x".to_string()))).collect();
    let (mut state, mut susp, mut now) = (State::Registered, None, *reg);
    let mut history = Vec::new();
    for &(choice, gap) in script {
        now += gap;
        // Mostly forward (suspensions, hand-backs and send-backs included); one step in
        // a hundred tries to leave by cancelling, rejecting or denying.
        let exit = |a: Action| matches!(a, Action::Cancel | Action::Reject | Action::Deny);
        let steps: Vec<Action> =
            w.steps_from(state).map(|s| s.action).filter(|a| !a.keeps_state() && exit(*a) == (choice < 2)).collect();
        let Some(&action) = steps.get(choice % steps.len().max(1)) else { continue };
        let m = w.next(state, susp, action, |_| true, &fields).expect("a step of the workflow");
        history.push((mins(now), m.to));
        (state, susp) = (m.to, m.suspended_from);
    }
    OrderFacts {
        registered_at: mins(*reg),
        history,
        targets: default_targets(*level),
        calendar: if *office { &OFFICE } else { &ALWAYS },
        requires_reply: w.customer_reply,
        replied_at: reply.map(|r| mins(reg + r)),
        requires_visit: w.return_visit,
        visits: visits
            .iter()
            .map(|(v, r)| VisitAttempt { at: mins(reg + v), rating: r.map(|r| Satisfaction::ALL[r]) })
            .collect(),
        keys: Keys {
            unit: *unit,
            order_type: st.code.into(),
            category: String::new(),
            channel: if *wechat { "wechat" } else { "phone" }.into(),
            source: "hotline".into(),
        },
    }
}

/// The identities and bounds every group satisfies.
fn check(i: &Indicators) -> Result<(), TestCaseError> {
    // The stage at `at` partitions the cohort (suspension is a flag, not a stage):
    prop_assert_eq!(
        i.registered,
        i.not_accepted
            + i.accepted_not_acknowledged
            + i.acknowledged_not_processed
            + i.resolved_items
            + i.rejected
            + i.cancelled
    );
    prop_assert_eq!(i.closed_items, i.completed + i.rejected + i.cancelled);
    // … hence registered = the three open counts + (resolved_items − completed) + closed_items.
    prop_assert!(i.completed <= i.resolved_items);
    prop_assert!(i.overdue_unprocessed <= i.not_accepted + i.accepted_not_acknowledged + i.acknowledged_not_processed);
    prop_assert!(i.suspended <= i.registered - i.closed_items);
    prop_assert!(i.ack_on_time <= i.acknowledged && i.acknowledged <= i.registered);
    prop_assert!(i.processed_on_time <= i.resolved_items);
    prop_assert!(i.closing_on_time <= i.completed);
    prop_assert!(i.replied + i.not_replied <= i.registered);
    prop_assert!(i.visit_satisfied <= i.visited && i.visited <= i.visit_required);
    prop_assert!(i.visit_required <= i.resolved_items);
    let rates = [
        (i.conclusion_rate, i.completed, i.registered - i.rejected - i.cancelled),
        (i.ack_on_time_rate, i.ack_on_time, i.acknowledged),
        (i.processed_on_time_rate, i.processed_on_time, i.resolved_items),
        (i.visit_rate, i.visited, i.visit_required),
        (i.visit_satisfied_rate, i.visit_satisfied, i.visited),
        (i.closing_on_time_rate, i.closing_on_time, i.completed),
    ];
    for (r, num, den) in rates {
        match r {
            None => prop_assert_eq!(den, 0),
            Some(r) => {
                prop_assert_eq!((r.num, r.den), (num, den));
                prop_assert!(den > 0 && (0.0..=1.0).contains(&r.value()));
            }
        }
    }
    Ok(())
}

fn counts(i: &Indicators) -> Vec<u64> {
    Indicator::ALL
        .iter()
        .filter_map(|&k| match i.get(k) {
            Value::Count(n) => Some(n),
            Value::Rate(_) => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    // Every group obeys the identities; groups add up to the whole cohort, whichever keys
    // are combined; `registered`, replies and the stage counts agree with a direct count.
    #[test]
    fn groups_add_up(
        gens in proptest::collection::vec(gen_order(), 0..30),
        from in 0i64..14_400,
        len in 0i64..14_400,
        at in 0i64..25_000,
        step in 0i64..6_000,
    ) {
        let orders: Vec<_> = gens.iter().map(build).collect();
        let tz = shanghai();
        let cohort = Cohort { from: mins(from), to: mins(from + len) };
        let at = mins(at);
        let total = one(compute(&orders, cohort, at, GroupBy::default(), &tz));
        check(&total)?;
        let members: Vec<_> =
            orders.iter().filter(|o| cohort.contains(o.registered_at) && o.registered_at <= at).collect();
        prop_assert_eq!(total.registered, members.len() as u64);
        prop_assert_eq!(total.replied + total.not_replied, members.iter().filter(|o| o.requires_reply).count() as u64);
        let stage = |s: &[State]| members.iter().filter(|o| s.contains(&o.stage_at(at))).count() as u64;
        prop_assert_eq!(total.completed, stage(&[State::Concluded]));
        prop_assert_eq!(total.resolved_items, stage(&[State::Resolved, State::Verified, State::Concluded]));
        for by in [
            GroupBy { unit: true, period: Some(Period::Month), ..GroupBy::default() },
            GroupBy { order_type: true, channel: true, period: Some(Period::Day), ..GroupBy::default() },
            GroupBy { category: true, source: true, period: Some(Period::Week), ..GroupBy::default() },
        ] {
            let rows = compute(&orders, cohort, at, by, &tz);
            let mut sum = Indicators::default();
            for (_, g) in &rows {
                check(g)?;
                prop_assert!(g.registered > 0);
                sum.merge(g);
            }
            prop_assert_eq!(counts(&sum), counts(&total));
            prop_assert_eq!(sum, total);
        }
        // What has happened stays happened: cumulative counts never fall as `at` moves on.
        let later = at.checked_add(SignedDuration::from_mins(step)).unwrap();
        let later = one(compute(&orders, cohort, later, GroupBy::default(), &tz));
        check(&later)?;
        for (a, b) in [
            (total.registered, later.registered),
            (total.closed_items, later.closed_items),
            (total.completed, later.completed),
            (total.replied, later.replied),
            (total.visit_attempts, later.visit_attempts),
            (total.acknowledged, later.acknowledged),
            (total.ack_on_time, later.ack_on_time),
            (total.closing_on_time, later.closing_on_time),
        ] {
            prop_assert!(a <= b);
        }
    }

    // An order's stored standing is what replaying it gives at every later instant
    // (ARCHITECTURE D24), open orders included (their deadline passing is the one change
    // time makes); a settled order (closed) has no deadline left; only suspended orders,
    // still open, have none.
    #[test]
    fn standing_holds_from_then_on(gens in proptest::collection::vec(gen_order(), 1..20), step in 0i64..50_000) {
        let tz = shanghai();
        for o in gens.iter().map(build) {
            let everything = Cohort { from: mins(-100_000), to: mins(100_000) };
            match standing(&o, &tz) {
                Some(s) => {
                    for at in [
                        s.since,
                        s.since.checked_add(SignedDuration::from_mins(step)).unwrap(),
                        s.since.checked_add(SignedDuration::from_mins(step * 20)).unwrap(),
                    ] {
                        let replayed = one(compute(std::slice::from_ref(&o), everything, at, GroupBy::default(), &tz));
                        prop_assert_eq!(replayed, s.at(at));
                        let stored = Indicators::from_facts(1, replayed.overdue_unprocessed, s.counts.fact_counts());
                        prop_assert_eq!(stored, replayed);
                    }
                    prop_assert_eq!(s.counts.registered, 1);
                    let closed = o.stage_at(mins(1_000_000)).is_terminal();
                    prop_assert_eq!(s.counts.closed_items, u64::from(closed));
                    if closed {
                        prop_assert_eq!(s.overdue_after, None);
                    }
                }
                None => {
                    prop_assert!(o.suspended_at(mins(1_000_000)));
                    prop_assert!(!o.stage_at(mins(1_000_000)).is_terminal());
                }
            }
        }
    }
}
