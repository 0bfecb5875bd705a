//! Schedules of recurring order plans (R-WO-12): daily, weekly on a weekday or monthly on
//! a day, at a local time. A schedule cuts time into periods; each period has a stable key
//! (`2026-11-29`, `2026-W48`, `2026-11`) and one instant at which its run falls due. The
//! scheduler creates a period's orders once, keyed by (plan, period key).

use jiff::civil::{Date, ISOWeekDate, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde::{Deserialize, Serialize};

/// How often a plan runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Every {
    Daily,
    /// On a weekday, 1 (Monday) … 7 (Sunday); periods are ISO weeks.
    Weekly,
    /// On a day of the month, 1 … 31 (the last day in shorter months).
    Monthly,
}

impl Every {
    pub fn code(self) -> &'static str {
        match self {
            Every::Daily => "daily",
            Every::Weekly => "weekly",
            Every::Monthly => "monthly",
        }
    }

    pub fn parse(s: &str) -> Option<Every> {
        match s {
            "daily" => Some(Every::Daily),
            "weekly" => Some(Every::Weekly),
            "monthly" => Some(Every::Monthly),
            _ => None,
        }
    }
}

/// A plan's schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub every: Every,
    /// Weekday (1–7) for weekly, day of month (1–31) for monthly, ignored for daily.
    pub day: i8,
    /// Local time of day.
    pub at: Time,
}

/// Why a schedule is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("a weekday from 1 (Monday) to 7 (Sunday)")]
    Weekday,
    #[error("a day of the month from 1 to 31")]
    MonthDay,
    #[error("a time of day as HH:MM")]
    Time,
}

/// One period of a schedule: its key, when it begins and when its run falls due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub key: String,
    pub start: Timestamp,
    pub due: Timestamp,
}

/// Parses `HH:MM` (24-hour).
pub fn parse_time(s: &str) -> Result<Time, ScheduleError> {
    let (h, m) = s.trim().split_once(':').ok_or(ScheduleError::Time)?;
    let ok = |x: &str| x.len() == 2 && x.bytes().all(|b| b.is_ascii_digit());
    if !ok(h) || !ok(m) {
        return Err(ScheduleError::Time);
    }
    let (h, m): (i8, i8) = (h.parse().map_err(|_| ScheduleError::Time)?, m.parse().map_err(|_| ScheduleError::Time)?);
    Time::new(h, m, 0, 0).map_err(|_| ScheduleError::Time)
}

/// `HH:MM` of a time of day.
pub fn format_time(t: Time) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// A local date and time as an instant (the earlier one if a clock change repeats it).
fn instant(d: Date, t: Time, tz: &TimeZone) -> Timestamp {
    d.to_datetime(t).to_zoned(tz.clone()).map(|z| z.timestamp()).unwrap_or_else(|_| {
        // Outside jiff's range: cannot happen for the dates a scheduler sees.
        Timestamp::UNIX_EPOCH
    })
}

impl Schedule {
    /// Checks the day against the kind of schedule.
    pub fn new(every: Every, day: i8, at: Time) -> Result<Schedule, ScheduleError> {
        match every {
            Every::Daily => Ok(Schedule { every, day: 0, at }),
            Every::Weekly if (1..=7).contains(&day) => Ok(Schedule { every, day, at }),
            Every::Weekly => Err(ScheduleError::Weekday),
            Every::Monthly if (1..=31).contains(&day) => Ok(Schedule { every, day, at }),
            Every::Monthly => Err(ScheduleError::MonthDay),
        }
    }

    /// The period `now` falls in, in the time zone `tz`.
    pub fn period(&self, now: Timestamp, tz: &TimeZone) -> Period {
        let today = Zoned::new(now, tz.clone()).date();
        let midnight = Time::midnight();
        match self.every {
            Every::Daily => {
                Period { key: today.to_string(), start: instant(today, midnight, tz), due: instant(today, self.at, tz) }
            }
            Every::Weekly => {
                let w = today.iso_week_date();
                let monday = ISOWeekDate::new(w.year(), w.week(), Weekday::Monday).map(|x| x.date()).unwrap_or(today);
                let weekday = Weekday::from_monday_one_offset(self.day).unwrap_or(Weekday::Monday);
                let day = ISOWeekDate::new(w.year(), w.week(), weekday).map(|x| x.date()).unwrap_or(monday);
                Period {
                    key: format!("{:04}-W{:02}", w.year(), w.week()),
                    start: instant(monday, midnight, tz),
                    due: instant(day, self.at, tz),
                }
            }
            Every::Monthly => {
                let first = today.first_of_month();
                let d = self.day.clamp(1, today.days_in_month());
                let day = Date::new(today.year(), today.month(), d).unwrap_or(first);
                Period {
                    key: format!("{:04}-{:02}", today.year(), today.month()),
                    start: instant(first, midnight, tz),
                    due: instant(day, self.at, tz),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh() -> TimeZone {
        TimeZone::get("Asia/Shanghai").unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn times_parse_strictly() {
        assert_eq!(parse_time("08:30").unwrap(), Time::constant(8, 30, 0, 0));
        assert_eq!(parse_time(" 23:59 ").unwrap(), Time::constant(23, 59, 0, 0));
        for bad in ["8:30", "24:00", "12:60", "1230", "ab:cd", "", "12:3"] {
            assert_eq!(parse_time(bad), Err(ScheduleError::Time), "{bad}");
        }
        assert_eq!(format_time(Time::constant(7, 5, 0, 0)), "07:05");
    }

    #[test]
    fn days_are_checked_per_kind() {
        let at = Time::constant(8, 0, 0, 0);
        assert_eq!(Schedule::new(Every::Daily, 99, at).unwrap().day, 0);
        assert_eq!(Schedule::new(Every::Weekly, 0, at), Err(ScheduleError::Weekday));
        assert_eq!(Schedule::new(Every::Weekly, 8, at), Err(ScheduleError::Weekday));
        assert_eq!(Schedule::new(Every::Monthly, 32, at), Err(ScheduleError::MonthDay));
        assert!(Schedule::new(Every::Monthly, 31, at).is_ok());
    }

    #[test]
    fn daily_periods_are_local_days() {
        let s = Schedule::new(Every::Daily, 0, Time::constant(8, 0, 0, 0)).unwrap();
        // 2026-11-28T17:00Z is 01:00 on the 29th in Hangzhou.
        let p = s.period(ts("2026-11-28T17:00:00Z"), &sh());
        assert_eq!(p.key, "2026-11-29");
        assert_eq!(p.start, ts("2026-11-28T16:00:00Z"));
        assert_eq!(p.due, ts("2026-11-29T00:00:00Z"));
    }

    #[test]
    fn weekly_periods_are_iso_weeks() {
        // Friday at 09:30.
        let s = Schedule::new(Every::Weekly, 5, Time::constant(9, 30, 0, 0)).unwrap();
        // Sunday 2026-11-29 is in ISO week 48 (Monday 23rd … Sunday 29th).
        let p = s.period(ts("2026-11-29T04:00:00Z"), &sh());
        assert_eq!(p.key, "2026-W48");
        assert_eq!(p.start, ts("2026-11-22T16:00:00Z"));
        assert_eq!(p.due, ts("2026-11-27T01:30:00Z"));
        // The first days of January may belong to the last ISO week of the year before.
        let p = s.period(ts("2027-01-02T04:00:00Z"), &sh());
        assert_eq!(p.key, "2026-W53");
        assert_eq!(p.due, ts("2027-01-01T01:30:00Z"));
    }

    #[test]
    fn monthly_periods_clamp_the_day() {
        let s = Schedule::new(Every::Monthly, 31, Time::constant(6, 0, 0, 0)).unwrap();
        let p = s.period(ts("2026-11-10T00:00:00Z"), &sh());
        assert_eq!(p.key, "2026-11");
        assert_eq!(p.start, ts("2026-10-31T16:00:00Z"));
        assert_eq!(p.due, ts("2026-11-29T22:00:00Z"), "the 30th, November's last day, 06:00 local");
        let p = s.period(ts("2027-02-03T00:00:00Z"), &sh());
        assert_eq!((p.key.as_str(), p.due), ("2027-02", ts("2027-02-27T22:00:00Z")));
    }
}
