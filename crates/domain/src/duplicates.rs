//! Duplicate reports of one incident (R-WO-09): which open orders a new report may
//! duplicate.
//!
//! A burst main brings a dozen calls in an hour, each registered as an order by a
//! different agent. A report duplicates an open order of the **same type** registered
//! within `window` of it (either side: the page of an existing order looks at later ones
//! too) whose site lies within `radius_m` (great circle). The nearest come first; ties go
//! to the older order (the likelier master), then the lower id, so the offer is stable.
//!
//! The store narrows the candidates with [`bounding_box`] (an indexed range on
//! microdegrees); this module decides exactly.

use jiff::{SignedDuration, Timestamp};

use crate::dispatch::haversine_m;

/// Metres per degree of latitude (mean Earth radius), a slight underestimate.
const M_PER_DEG_LAT: f64 = 111_194.0;

/// How close a report must be to an open order to be offered as its duplicate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    /// Great-circle distance between the sites, metres.
    pub radius_m: f64,
    /// Registration times at most this far apart.
    pub window: SignedDuration,
}

impl Default for Rules {
    fn default() -> Self {
        Rules { radius_m: 300.0, window: SignedDuration::from_hours(72) }
    }
}

/// The report being registered (or an order looking for its duplicates).
#[derive(Debug, Clone, PartialEq)]
pub struct Report<'a> {
    pub type_code: &'a str,
    /// (latitude, longitude) in degrees.
    pub position: (f64, f64),
    pub at: Timestamp,
}

/// An order that might be the same incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: i64,
    pub type_code: String,
    /// (latitude, longitude) in degrees; an order without a site is never a duplicate.
    pub position: Option<(f64, f64)>,
    pub registered_at: Timestamp,
    /// Neither concluded, rejected nor cancelled.
    pub open: bool,
}

/// A candidate that matched, with its distance from the report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match {
    pub id: i64,
    pub distance_m: f64,
}

/// The open candidates of the report's type within the radius and the time window,
/// nearest first.
pub fn duplicates(report: &Report<'_>, candidates: &[Candidate], rules: &Rules) -> Vec<Match> {
    let mut out: Vec<(Match, Timestamp)> = candidates
        .iter()
        .filter(|c| c.open && c.type_code == report.type_code)
        .filter(|c| report.at.duration_since(c.registered_at).abs() <= rules.window.abs())
        .filter_map(|c| {
            let d = haversine_m(report.position, c.position?);
            (d <= rules.radius_m).then_some((Match { id: c.id, distance_m: d }, c.registered_at))
        })
        .collect();
    out.sort_by(|(a, at), (b, bt)| a.distance_m.total_cmp(&b.distance_m).then(at.cmp(bt)).then(a.id.cmp(&b.id)));
    out.into_iter().map(|(m, _)| m).collect()
}

/// A latitude/longitude box (degrees) that contains every point within `radius_m` of
/// `center`: `((lat_min, lat_max), (lng_min, lng_max))`. Slightly generous, never short;
/// near the poles the longitude range is the whole circle.
pub fn bounding_box(center: (f64, f64), radius_m: f64) -> ((f64, f64), (f64, f64)) {
    let (lat, lng) = center;
    let radius_m = radius_m.max(0.0) * 1.01;
    let dlat = radius_m / M_PER_DEG_LAT;
    let (lat_min, lat_max) = ((lat - dlat).max(-90.0), (lat + dlat).min(90.0));
    // A parallel's degree is shortest at the box's edge farthest from the equator.
    let widest = lat_min.abs().max(lat_max.abs());
    let cos = widest.to_radians().cos();
    if widest >= 89.0 || cos <= 0.0 {
        return ((lat_min, lat_max), (-180.0, 180.0));
    }
    let dlng = (dlat / cos).min(180.0);
    ((lat_min, lat_max), (lng - dlng, lng + dlng))
}

/// The box in microdegrees as stored, rounded outwards.
pub fn bounding_box_e6(center: (f64, f64), radius_m: f64) -> ((i64, i64), (i64, i64)) {
    let ((a, b), (c, d)) = bounding_box(center, radius_m);
    let e6 = |x: f64, up: bool| if up { (x * 1e6).ceil() as i64 } else { (x * 1e6).floor() as i64 };
    ((e6(a, false), e6(b, true)), (e6(c, false), e6(d, true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: (f64, f64) = (30.40, 120.30);

    fn at(h: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + h * 3600).unwrap()
    }

    /// A point `m` metres north (positive) or south of `SITE`.
    fn north(m: f64) -> (f64, f64) {
        (SITE.0 + m / 111_194.9, SITE.1)
    }

    /// A point `m` metres east of `SITE`.
    fn east(m: f64) -> (f64, f64) {
        (SITE.0, SITE.1 + m / (111_194.9 * SITE.0.to_radians().cos()))
    }

    fn cand(id: i64, type_code: &str, pos: Option<(f64, f64)>, h: i64, open: bool) -> Candidate {
        Candidate { id, type_code: type_code.into(), position: pos, registered_at: at(h), open }
    }

    fn report() -> Report<'static> {
        Report { type_code: "repair", position: SITE, at: at(100) }
    }

    // R-WO-09: within 300 m and 72 h, same type, open — nearest first.
    #[test]
    fn radius_window_type_and_state() {
        let c = vec![
            cand(1, "repair", Some(north(250.0)), 99, true),      // offered
            cand(2, "repair", Some(north(500.0)), 99, true),      // too far
            cand(3, "complaint", Some(north(10.0)), 99, true),    // another type
            cand(4, "repair", Some(north(20.0)), 100 - 73, true), // older than the window
            cand(5, "repair", Some(north(30.0)), 98, false),      // closed
            cand(6, "repair", None, 99, true),                    // no site
            cand(7, "repair", Some(east(120.0)), 100 - 72, true), // exactly at the window's edge
            cand(8, "repair", Some(north(-299.0)), 101, true),    // later (an existing order's page)
        ];
        let m = duplicates(&report(), &c, &Rules::default());
        assert_eq!(m.iter().map(|m| m.id).collect::<Vec<_>>(), vec![7, 1, 8]);
        assert!((m[1].distance_m - 250.0).abs() < 1.0, "{}", m[1].distance_m);
        assert!((m[0].distance_m - 120.0).abs() < 1.0, "{}", m[0].distance_m);
    }

    #[test]
    fn ties_go_to_the_older_order_then_the_lower_id() {
        let c = vec![
            cand(9, "repair", Some(north(100.0)), 90, true),
            cand(3, "repair", Some(north(100.0)), 95, true),
            cand(5, "repair", Some(north(100.0)), 90, true),
        ];
        let ids: Vec<i64> = duplicates(&report(), &c, &Rules::default()).iter().map(|m| m.id).collect();
        assert_eq!(ids, vec![5, 9, 3]);
    }

    #[test]
    fn rules_are_parameters() {
        let c = vec![cand(1, "repair", Some(north(450.0)), 10, true)];
        assert!(duplicates(&report(), &c, &Rules::default()).is_empty());
        let wide = Rules { radius_m: 500.0, window: SignedDuration::from_hours(24 * 7) };
        assert_eq!(duplicates(&report(), &c, &wide).len(), 1);
        assert!(duplicates(&report(), &[], &wide).is_empty());
    }

    // The store's box never cuts off a point inside the circle.
    #[test]
    fn bounding_box_contains_the_circle() {
        for center in [SITE, (0.0, 0.0), (-33.9, 151.2), (60.0, -179.999), (88.9, 10.0)] {
            let ((a, b), (c, d)) = bounding_box(center, 300.0);
            for k in 0..360 {
                let bearing = f64::from(k).to_radians();
                // Walk 299.9 m along the bearing on the sphere.
                let delta: f64 = 299.9 / 6_371_008.8;
                let (la, lo) = (center.0.to_radians(), center.1.to_radians());
                let la2 = (la.sin() * delta.cos() + la.cos() * delta.sin() * bearing.cos()).asin();
                let lo2 = lo + (bearing.sin() * delta.sin() * la.cos()).atan2(delta.cos() - la.sin() * la2.sin());
                let (p_lat, mut p_lng) = (la2.to_degrees(), lo2.to_degrees());
                assert!(haversine_m(center, (p_lat, p_lng)) < 300.0);
                assert!(p_lat >= a && p_lat <= b, "{center:?} {k}: lat {p_lat} not in {a}..{b}");
                // Across the antimeridian the box extends past ±180 instead of wrapping.
                if p_lng - center.1 > 180.0 {
                    p_lng -= 360.0;
                } else if center.1 - p_lng > 180.0 {
                    p_lng += 360.0;
                }
                assert!(p_lng >= c && p_lng <= d, "{center:?} {k}: lng {p_lng} not in {c}..{d}");
            }
        }
        // Small, for an index: about 600 m by 700 m at Hangzhou.
        let ((a, b), (c, d)) = bounding_box_e6(SITE, 300.0);
        assert!((b - a) < 5_500 && (d - c) < 6_500, "{:?}", ((a, b), (c, d)));
        assert!(a < 30_400_000 && b > 30_400_000 && c < 120_300_000 && d > 120_300_000);
    }
}
