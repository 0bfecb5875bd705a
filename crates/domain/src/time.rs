//! Timestamps as stored: UTC instants rendered as fixed-width RFC 3339 text.
//!
//! Fixed width (microsecond precision, `Z` suffix) makes the text sort in time order on
//! every backend, so range queries and `ORDER BY` work on SQLite and PostgreSQL alike.

use jiff::Timestamp;

/// Renders an instant in the storage format `2026-11-21T22:01:50.123456Z`.
pub fn to_db(ts: Timestamp) -> String {
    // Truncate to microseconds so that round trips are exact.
    ts.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Parses the storage format (any RFC 3339 instant is accepted).
pub fn from_db(s: &str) -> Option<Timestamp> {
    s.parse().ok()
}

/// Truncates an instant to microseconds, the precision the store keeps.
pub fn truncate(ts: Timestamp) -> Timestamp {
    from_db(&to_db(ts)).unwrap_or(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_format_is_fixed_width_and_round_trips() {
        let t: Timestamp = "2026-11-21T22:01:50Z".parse().unwrap();
        assert_eq!(to_db(t), "2026-11-21T22:01:50.000000Z");
        let t2: Timestamp = "2026-11-21T22:01:50.123456789Z".parse().unwrap();
        assert_eq!(to_db(t2), "2026-11-21T22:01:50.123456Z");
        assert_eq!(from_db(&to_db(t2)), Some(truncate(t2)));
        assert!(to_db(t) < to_db(t2));
    }
}
