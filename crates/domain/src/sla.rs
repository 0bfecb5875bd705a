//! SLA clocks (R-WO-04/05): deadlines per type × priority, an optional business
//! calendar, suspension, and the escalation stages at 50 % / 80 % / 100 %.
//!
//! A clock starts when the order is accepted and counts business time (all the time, or
//! the calendar's working hours on its working days) minus the time the order spent
//! suspended. Everything here is a pure function of timestamps, so the escalation job
//! can recompute a deadline after a restart or a suspension and get the same answer.

use std::collections::BTreeSet;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// A working calendar. `hours: None` means round the clock, every day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendar {
    /// Working hours as minutes after local midnight, `[start, end)`.
    pub hours: Option<(u16, u16)>,
    /// Working weekdays, 1 = Monday … 7 = Sunday.
    pub weekdays: BTreeSet<i8>,
    /// Days off although on a working weekday (法定节假日).
    pub holidays: BTreeSet<Date>,
    /// Working days although on a weekend (调休).
    pub workdays: BTreeSet<Date>,
}

/// Why a calendar cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("working hours must satisfy 0 ≤ start < end ≤ 1440 minutes")]
    BadHours,
    #[error("weekdays are 1 (Monday) to 7 (Sunday), at least one")]
    BadWeekdays,
}

/// How far ahead a calendar is searched for working time before giving up.
const HORIZON_DAYS: i32 = 3 * 366;

impl Calendar {
    /// Round the clock, every day (the default: emergencies do not wait for Monday).
    pub fn always() -> Calendar {
        Calendar { hours: None, weekdays: (1..=7).collect(), holidays: BTreeSet::new(), workdays: BTreeSet::new() }
    }

    /// Office hours Monday to Friday.
    pub fn office(start_min: u16, end_min: u16) -> Calendar {
        Calendar { hours: Some((start_min, end_min)), weekdays: (1..=5).collect(), ..Calendar::always() }
    }

    pub fn validate(&self) -> Result<(), CalendarError> {
        if let Some((s, e)) = self.hours
            && (s >= e || e > 1440)
        {
            return Err(CalendarError::BadHours);
        }
        if self.hours.is_some() && (self.weekdays.is_empty() || self.weekdays.iter().any(|d| !(1..=7).contains(d))) {
            return Err(CalendarError::BadWeekdays);
        }
        Ok(())
    }

    fn is_working_day(&self, d: Date) -> bool {
        if self.workdays.contains(&d) {
            return true;
        }
        let wd: i8 = match d.weekday() {
            Weekday::Monday => 1,
            Weekday::Tuesday => 2,
            Weekday::Wednesday => 3,
            Weekday::Thursday => 4,
            Weekday::Friday => 5,
            Weekday::Saturday => 6,
            Weekday::Sunday => 7,
        };
        self.weekdays.contains(&wd) && !self.holidays.contains(&d)
    }

    /// The working window of a local day, as instants.
    fn window(&self, d: Date, (s, e): (u16, u16), tz: &TimeZone) -> Option<(Timestamp, Timestamp)> {
        if !self.is_working_day(d) {
            return None;
        }
        let at = |m: u16| -> Option<Timestamp> {
            let midnight = d.to_datetime(jiff::civil::Time::midnight());
            let dt = midnight.checked_add(SignedDuration::from_mins(i64::from(m))).ok()?;
            tz.to_timestamp(dt).ok()
        };
        Some((at(s)?, at(e)?))
    }

    /// Business seconds in `[a, b)`.
    pub fn business_secs(&self, a: Timestamp, b: Timestamp, tz: &TimeZone) -> i64 {
        if b <= a {
            return 0;
        }
        let Some(hours) = self.hours else {
            return b.duration_since(a).as_secs();
        };
        let (mut d, last) = (a.to_zoned(tz.clone()).date(), b.to_zoned(tz.clone()).date());
        let mut total = 0;
        while d <= last {
            if let Some((ws, we)) = self.window(d, hours, tz) {
                let (s, e) = (ws.max(a), we.min(b));
                if e > s {
                    total += e.duration_since(s).as_secs();
                }
            }
            match d.tomorrow() {
                Ok(n) => d = n,
                Err(_) => break,
            }
        }
        total
    }

    /// The instant at which `secs` business seconds after `start` have elapsed; `None`
    /// when the calendar has no working time within three years.
    pub fn add(&self, start: Timestamp, secs: i64, tz: &TimeZone) -> Option<Timestamp> {
        let secs = secs.max(0);
        let Some(hours) = self.hours else {
            return start.checked_add(SignedDuration::from_secs(secs)).ok();
        };
        let mut left = secs;
        let mut d = start.to_zoned(tz.clone()).date();
        for _ in 0..HORIZON_DAYS {
            if let Some((ws, we)) = self.window(d, hours, tz) {
                let s = ws.max(start);
                if we > s {
                    let avail = we.duration_since(s).as_secs();
                    if left <= avail {
                        return s.checked_add(SignedDuration::from_secs(left)).ok();
                    }
                    left -= avail;
                }
            }
            d = d.tomorrow().ok()?;
        }
        None
    }
}

/// One SLA clock: when it started and the suspensions (an open one has no end).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Clock {
    pub started: Option<Timestamp>,
    pub pauses: Vec<(Timestamp, Option<Timestamp>)>,
}

impl Clock {
    pub fn started(at: Timestamp) -> Clock {
        Clock { started: Some(at), pauses: vec![] }
    }

    /// Whether the clock is stopped (an open suspension).
    pub fn paused(&self) -> bool {
        self.pauses.iter().any(|(_, e)| e.is_none())
    }

    /// Business seconds counted by `now`: elapsed minus suspended.
    pub fn elapsed(&self, now: Timestamp, cal: &Calendar, tz: &TimeZone) -> i64 {
        let Some(start) = self.started else { return 0 };
        let paused: i64 = self
            .pauses
            .iter()
            .map(|(s, e)| {
                let (s, e) = ((*s).max(start), e.unwrap_or(now).min(now));
                cal.business_secs(s, e, tz)
            })
            .sum();
        (cal.business_secs(start, now, tz) - paused).max(0)
    }

    /// When `budget` business seconds will have been counted, suspensions so far
    /// included; `None` while suspended (the clock is stopped) or never started.
    pub fn when(&self, budget: i64, cal: &Calendar, tz: &TimeZone) -> Option<Timestamp> {
        let start = self.started?;
        if self.paused() {
            return None;
        }
        // Each suspension before the provisional deadline pushes it back by its length;
        // iterate to the fixed point (there are finitely many suspensions).
        let mut extra = 0;
        for _ in 0..=self.pauses.len() {
            let d = cal.add(start, budget + extra, tz)?;
            let before: i64 = self
                .pauses
                .iter()
                .filter(|(s, _)| *s < d)
                .map(|(s, e)| cal.business_secs((*s).max(start), e.unwrap_or(d), tz))
                .sum();
            if before == extra {
                return Some(d);
            }
            extra = before;
        }
        cal.add(start, budget + extra, tz)
    }
}

/// Escalation stages of one deadline (R-WO-05).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Under half the time used.
    OnTime,
    /// ≥ 50 %: tier 2 (dispatcher, team lead) is told.
    Tier2,
    /// ≥ 80 %: tier 3 (manager) is told.
    Tier3,
    /// ≥ 100 %: overdue (超期), flagged.
    Overdue,
}

impl Stage {
    /// The stages that notify, with the share of the budget (percent) that triggers them.
    pub const THRESHOLDS: [(Stage, i64); 3] = [(Stage::Tier2, 50), (Stage::Tier3, 80), (Stage::Overdue, 100)];

    /// The stage reached after `elapsed` of `budget` seconds.
    pub fn of(elapsed: i64, budget: i64) -> Stage {
        if budget <= 0 {
            return Stage::Overdue;
        }
        Stage::THRESHOLDS.iter().rev().find(|(_, pct)| elapsed * 100 >= budget * pct).map_or(Stage::OnTime, |(s, _)| *s)
    }

    pub fn code(self) -> &'static str {
        match self {
            Stage::OnTime => "on_time",
            Stage::Tier2 => "tier2",
            Stage::Tier3 => "tier3",
            Stage::Overdue => "overdue",
        }
    }
}

/// The four SLA deadlines of an order, in minutes from acceptance (`None`: not tracked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Targets {
    pub acknowledge: Option<u32>,
    pub arrive: Option<u32>,
    pub complete: Option<u32>,
    pub reply: Option<u32>,
}

/// Default targets by priority level 1–4 (editable per order type).
pub fn default_targets(level: u8) -> Targets {
    let t = |a, r, c, p| Targets { acknowledge: Some(a), arrive: Some(r), complete: Some(c), reply: Some(p) };
    match level {
        1 => t(15, 60, 4 * 60, 24 * 60),
        2 => t(30, 2 * 60, 8 * 60, 24 * 60),
        3 => t(60, 4 * 60, 24 * 60, 48 * 60),
        _ => t(2 * 60, 24 * 60, 72 * 60, 72 * 60),
    }
}

/// The four deadlines of an order (R-WO-04).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Deadline {
    /// 回执: the crew acknowledges the order.
    Acknowledge,
    /// 到场: the crew arrives on site.
    Arrive,
    /// 处理完毕: the work is done (resolved), or the office's answer concludes it.
    Complete,
    /// 答复: the customer has had a reply.
    Reply,
}

impl Deadline {
    pub const ALL: [Deadline; 4] = [Deadline::Acknowledge, Deadline::Arrive, Deadline::Complete, Deadline::Reply];

    pub fn code(self) -> &'static str {
        match self {
            Deadline::Acknowledge => "acknowledge",
            Deadline::Arrive => "arrive",
            Deadline::Complete => "complete",
            Deadline::Reply => "reply",
        }
    }

    pub fn parse(code: &str) -> Option<Deadline> {
        Deadline::ALL.into_iter().find(|d| d.code() == code)
    }

    /// (Chinese, English) labels.
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Deadline::Acknowledge => ("回执时限", "Acknowledge"),
            Deadline::Arrive => ("到场时限", "Arrive"),
            Deadline::Complete => ("处理时限", "Complete"),
            Deadline::Reply => ("答复时限", "Reply"),
        }
    }

    /// The deadline's target in minutes, if tracked.
    pub fn target(self, t: &Targets) -> Option<u32> {
        match self {
            Deadline::Acknowledge => t.acknowledge,
            Deadline::Arrive => t.arrive,
            Deadline::Complete => t.complete,
            Deadline::Reply => t.reply,
        }
    }
}

/// One escalation threshold of one deadline and the instant it is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    pub deadline: Deadline,
    pub stage: Stage,
    pub at: Timestamp,
}

/// The escalation thresholds (50 / 80 / 100 %) of the deadlines still `open`, earliest
/// first. Empty while the clock is stopped (suspended) or not started; a threshold the
/// calendar cannot place within its horizon is left out.
pub fn thresholds(
    targets: &Targets,
    open: &[Deadline],
    clock: &Clock,
    cal: &Calendar,
    tz: &TimeZone,
) -> Vec<Threshold> {
    let mut out = Vec::new();
    if clock.started.is_none() || clock.paused() {
        return out;
    }
    for &deadline in open {
        let Some(minutes) = deadline.target(targets) else { continue };
        let budget = i64::from(minutes) * 60;
        for (stage, pct) in Stage::THRESHOLDS {
            if let Some(at) = clock.when(budget * pct / 100, cal, tz) {
                out.push(Threshold { deadline, stage, at });
            }
        }
    }
    out.sort_by_key(|t| (t.at, t.deadline, t.stage));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz() -> TimeZone {
        TimeZone::fixed(jiff::tz::offset(8))
    }

    /// A local (UTC+8) time.
    fn at(s: &str) -> Timestamp {
        tz().to_timestamp(s.parse::<jiff::civil::DateTime>().unwrap()).unwrap()
    }

    fn office() -> Calendar {
        // 08:30–17:30, Monday to Friday; 2026-10-01 a holiday, Saturday 2026-10-10 a workday.
        let mut c = Calendar::office(8 * 60 + 30, 17 * 60 + 30);
        c.holidays.insert("2026-10-01".parse().unwrap());
        c.workdays.insert("2026-10-10".parse().unwrap());
        c
    }

    #[test]
    fn round_the_clock() {
        let c = Calendar::always();
        assert_eq!(c.business_secs(at("2026-11-20T10:00"), at("2026-11-21T10:00"), &tz()), 86_400);
        assert_eq!(c.add(at("2026-11-20T23:30"), 3600, &tz()), Some(at("2026-11-21T00:30")));
        assert_eq!(c.business_secs(at("2026-11-21T10:00"), at("2026-11-20T10:00"), &tz()), 0);
    }

    // R-WO-04: a business calendar skips nights, weekends and holidays, honours 调休.
    #[test]
    fn business_calendar() {
        let c = office();
        c.validate().unwrap();
        // Friday 16:30 + 2 h of work → Monday 09:30.
        assert_eq!(c.add(at("2026-11-20T16:30"), 7200, &tz()), Some(at("2026-11-23T09:30")));
        assert_eq!(c.business_secs(at("2026-11-20T16:30"), at("2026-11-23T09:30"), &tz()), 7200);
        // Started at night: counting begins at 08:30.
        assert_eq!(c.add(at("2026-11-24T02:00"), 1800, &tz()), Some(at("2026-11-24T09:00")));
        // Wednesday 2026-09-30 17:00 + 1 h: the holiday (Thu) is skipped → Friday 09:00.
        assert_eq!(c.add(at("2026-09-30T17:00"), 3600, &tz()), Some(at("2026-10-02T09:00")));
        // Saturday 2026-10-10 is a make-up working day.
        assert_eq!(c.add(at("2026-10-09T17:00"), 3600, &tz()), Some(at("2026-10-10T09:00")));
        // A full day of work ends at closing time, not the next morning.
        assert_eq!(c.add(at("2026-11-24T08:30"), 9 * 3600, &tz()), Some(at("2026-11-24T17:30")));
    }

    #[test]
    fn bad_calendars() {
        assert_eq!(Calendar::office(600, 600).validate(), Err(CalendarError::BadHours));
        assert_eq!(Calendar::office(600, 1500).validate(), Err(CalendarError::BadHours));
        let mut c = Calendar::office(480, 1020);
        c.weekdays.clear();
        assert_eq!(c.validate(), Err(CalendarError::BadWeekdays));
        // A calendar without working time never reaches a deadline, and says so.
        assert_eq!(c.add(at("2026-11-24T09:00"), 60, &tz()), None);
    }

    // R-WO-03/05: the clock pauses while suspended; the deadline moves by the pause.
    #[test]
    fn suspension_moves_the_deadline() {
        let c = Calendar::always();
        let mut clock = Clock::started(at("2026-11-20T10:00"));
        assert_eq!(clock.when(4 * 3600, &c, &tz()), Some(at("2026-11-20T14:00")));
        clock.pauses.push((at("2026-11-20T11:00"), None));
        assert!(clock.paused());
        assert_eq!(clock.when(4 * 3600, &c, &tz()), None, "no deadline while suspended");
        assert_eq!(clock.elapsed(at("2026-11-20T13:00"), &c, &tz()), 3600, "suspended time does not count");
        clock.pauses[0].1 = Some(at("2026-11-20T12:30"));
        assert_eq!(clock.when(4 * 3600, &c, &tz()), Some(at("2026-11-20T15:30")));
        assert_eq!(clock.elapsed(at("2026-11-20T15:30"), &c, &tz()), 4 * 3600);
        // A suspension after the deadline does not move it.
        clock.pauses.push((at("2026-11-20T16:00"), Some(at("2026-11-20T17:00"))));
        assert_eq!(clock.when(4 * 3600, &c, &tz()), Some(at("2026-11-20T15:30")));
        // Two suspensions before the deadline both count (fixed point).
        let mut two = Clock::started(at("2026-11-20T10:00"));
        two.pauses.push((at("2026-11-20T10:30"), Some(at("2026-11-20T11:30"))));
        two.pauses.push((at("2026-11-20T14:30"), Some(at("2026-11-20T15:00"))));
        assert_eq!(two.when(4 * 3600, &c, &tz()), Some(at("2026-11-20T15:30")));
        assert_eq!(Clock::default().when(60, &c, &tz()), None, "not started");
    }

    #[test]
    fn suspension_with_business_calendar() {
        let c = office();
        // Monday 16:00, 2 h budget; suspended 16:30–Tuesday 10:00 (1 h of office time paused).
        let mut clock = Clock::started(at("2026-11-23T16:00"));
        clock.pauses.push((at("2026-11-23T16:30"), Some(at("2026-11-24T10:00"))));
        // Used 30 min Monday; 90 min left from Tuesday 10:00 → 11:30.
        assert_eq!(clock.when(7200, &c, &tz()), Some(at("2026-11-24T11:30")));
        assert_eq!(clock.elapsed(at("2026-11-24T11:30"), &c, &tz()), 7200);
    }

    // R-WO-05: stages at 50 % / 80 % / 100 %.
    #[test]
    fn escalation_stages() {
        assert_eq!(Stage::of(0, 100), Stage::OnTime);
        assert_eq!(Stage::of(49, 100), Stage::OnTime);
        assert_eq!(Stage::of(50, 100), Stage::Tier2);
        assert_eq!(Stage::of(79, 100), Stage::Tier2);
        assert_eq!(Stage::of(80, 100), Stage::Tier3);
        assert_eq!(Stage::of(100, 100), Stage::Overdue);
        assert_eq!(Stage::of(5, 0), Stage::Overdue);
        // The escalation job schedules each stage at the instant the clock reaches it.
        let c = Calendar::always();
        let clock = Clock::started(at("2026-11-20T10:00"));
        let budget = 4 * 3600;
        let due: Vec<_> =
            Stage::THRESHOLDS.iter().map(|(s, pct)| (*s, clock.when(budget * pct / 100, &c, &tz()).unwrap())).collect();
        assert_eq!(
            due,
            vec![
                (Stage::Tier2, at("2026-11-20T12:00")),
                (Stage::Tier3, at("2026-11-20T13:12")),
                (Stage::Overdue, at("2026-11-20T14:00"))
            ]
        );
    }

    #[test]
    fn default_targets_tighten_with_priority() {
        for level in 1..4u8 {
            let (a, b) = (default_targets(level), default_targets(level + 1));
            assert!(a.acknowledge < b.acknowledge && a.complete < b.complete, "level {level}");
        }
        assert_eq!(default_targets(9), default_targets(4));
    }

    // R-WO-05: thresholds at 50/80/100 % of each open deadline, moved by suspensions,
    // none while the clock is stopped.
    #[test]
    fn escalation_thresholds() {
        let t = Targets { acknowledge: Some(60), arrive: None, complete: Some(600), reply: Some(60) };
        let cal = Calendar::always();
        let start = at("2026-11-20T10:00");
        let open = [Deadline::Acknowledge, Deadline::Arrive, Deadline::Complete];
        let th = thresholds(&t, &open, &Clock::started(start), &cal, &tz());
        let got: Vec<_> = th.iter().map(|x| (x.deadline.code(), x.stage.code(), x.at)).collect();
        assert_eq!(
            got,
            vec![
                ("acknowledge", "tier2", at("2026-11-20T10:30")),
                ("acknowledge", "tier3", at("2026-11-20T10:48")),
                ("acknowledge", "overdue", at("2026-11-20T11:00")),
                ("complete", "tier2", at("2026-11-20T15:00")),
                ("complete", "tier3", at("2026-11-20T18:00")),
                ("complete", "overdue", at("2026-11-20T20:00")),
            ]
        );
        // A finished suspension of an hour before the 50 % mark moves every later threshold.
        let clock =
            Clock { started: Some(start), pauses: vec![(at("2026-11-20T10:10"), Some(at("2026-11-20T11:10")))] };
        let th = thresholds(&t, &[Deadline::Complete], &clock, &cal, &tz());
        assert_eq!(
            th.iter().map(|x| x.at).collect::<Vec<_>>(),
            [at("2026-11-20T16:00"), at("2026-11-20T19:00"), at("2026-11-20T21:00")]
        );
        // Suspended now, or never accepted: nothing is scheduled.
        let stopped = Clock { started: Some(start), pauses: vec![(at("2026-11-20T10:10"), None)] };
        assert!(thresholds(&t, &open, &stopped, &cal, &tz()).is_empty());
        assert!(thresholds(&t, &open, &Clock::default(), &cal, &tz()).is_empty());
        assert_eq!(Deadline::parse("reply"), Some(Deadline::Reply));
        assert_eq!(Deadline::parse("x"), None);
    }
}
