//! Human-readable numbers: 热线编号 `C20261121-000001`, 工单号 `WO20261121-000001`.
//!
//! The number is `<prefix><yyyymmdd>-<sequence>` where the day is the local day of the
//! utility (default Asia/Shanghai) and the sequence restarts every day. Allocation of the
//! sequence happens in the store, inside the business transaction; this module only
//! formats and parses.

use std::fmt;

/// Kinds of numbered documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumberKind {
    /// 热线编号 — a contact record.
    Contact,
    /// 工单号 — a work order.
    WorkOrder,
}

impl NumberKind {
    /// The letters in front of the date.
    pub fn prefix(self) -> &'static str {
        match self {
            NumberKind::Contact => "C",
            NumberKind::WorkOrder => "WO",
        }
    }
}

/// A formatted document number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DocNumber {
    pub kind: NumberKind,
    /// Local day as `yyyymmdd`.
    pub day: String,
    pub seq: i64,
}

impl fmt::Display for DocNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}-{:06}", self.kind.prefix(), self.day, self.seq)
    }
}

impl DocNumber {
    /// Parses `C20261121-000001` / `WO20261121-000001`.
    pub fn parse(s: &str) -> Option<Self> {
        let (kind, rest) = if let Some(r) = s.strip_prefix("WO") {
            (NumberKind::WorkOrder, r)
        } else if let Some(r) = s.strip_prefix('C') {
            (NumberKind::Contact, r)
        } else {
            return None;
        };
        let (day, seq) = rest.split_once('-')?;
        if day.len() != 8 || !day.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if seq.len() < 6 || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let seq: i64 = seq.parse().ok()?;
        if seq < 1 {
            return None;
        }
        Some(DocNumber { kind, day: day.to_string(), seq })
    }
}

/// The local day key (`yyyymmdd`) of an instant in a time zone.
pub fn day_key(ts: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> String {
    ts.to_zoned(tz.clone()).strftime("%Y%m%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let n = DocNumber { kind: NumberKind::Contact, day: "20261121".into(), seq: 1 };
        assert_eq!(n.to_string(), "C20261121-000001");
        assert_eq!(DocNumber::parse("C20261121-000001"), Some(n));
        let w = DocNumber { kind: NumberKind::WorkOrder, day: "20261121".into(), seq: 1234567 };
        assert_eq!(w.to_string(), "WO20261121-1234567");
        assert_eq!(DocNumber::parse(&w.to_string()), Some(w));
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "",
            "C",
            "X20261121-000001",
            "C2026112-000001",
            "C20261121-01",
            "C20261121-000000",
            "C20261121_000001",
            "C2026112a-000001",
        ] {
            assert_eq!(DocNumber::parse(s), None, "{s}");
        }
    }

    #[test]
    fn day_key_uses_local_day() {
        let tz = jiff::tz::TimeZone::fixed(jiff::tz::offset(8));
        // 16:30 UTC is 00:30 the next day in Shanghai.
        let t: jiff::Timestamp = "2026-11-21T16:30:00Z".parse().unwrap();
        assert_eq!(day_key(t, &tz), "20261122");
    }
}
