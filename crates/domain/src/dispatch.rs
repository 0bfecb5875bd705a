//! Dispatch scoring (R-WO-06): which crew member should take an order.
//!
//! A candidate's score is an equivalent distance in kilometres — lower is better:
//! the great-circle distance from their last known position to the site (or a fixed
//! `unknown_km` when either position is unknown or the position is stale), plus
//! `km_per_open_order` for every order they already have open, plus penalties when the
//! order's type is not among their skills or the site lies outside their service area.
//! Ties go to the lighter workload, then the lower user id, so a ranking is stable.
//!
//! A candidate is *free* when their open orders are below `max_open`. Automatic dispatch
//! (emergencies, level 1) takes the best free, skilled candidate, or nobody.

use serde::Serialize;

/// Mean Earth radius (IUGG), metres.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Great-circle distance in metres between two (latitude, longitude) points in degrees.
pub fn haversine_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1, la2, lo2) = (a.0.to_radians(), a.1.to_radians(), b.0.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2) + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// How candidates are weighed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    /// Equivalent kilometres of one open order.
    pub km_per_open_order: f64,
    /// Distance assumed when a position is unknown or stale.
    pub unknown_km: f64,
    /// A position older than this (seconds) counts as unknown.
    pub stale_after_secs: i64,
    /// Added when the order's type is not among the candidate's skills.
    pub unskilled_km: f64,
    /// Added when the site is outside the candidate's service area.
    pub out_of_area_km: f64,
    /// A candidate with this many open orders or more is not free.
    pub max_open: i64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            km_per_open_order: 3.0,
            unknown_km: 25.0,
            stale_after_secs: 2 * 3600,
            unskilled_km: 50.0,
            out_of_area_km: 15.0,
            max_open: 5,
        }
    }
}

/// A crew member as dispatch sees them.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub user_id: i64,
    /// Last known (latitude, longitude) and its age in seconds.
    pub position: Option<((f64, f64), i64)>,
    pub open_orders: i64,
    /// The order's type is among their skills (or they have no skill list).
    pub skilled: bool,
    /// The site lies in their service area.
    pub in_area: bool,
}

/// A candidate with their score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranked {
    pub user_id: i64,
    /// Metres from their last known position to the site (`None`: unknown or stale).
    pub distance_m: Option<f64>,
    pub open_orders: i64,
    pub skilled: bool,
    pub in_area: bool,
    pub free: bool,
    /// Equivalent kilometres; lower is better.
    pub score: f64,
}

/// Scores and sorts the candidates for a site (best first).
pub fn rank(site: Option<(f64, f64)>, candidates: &[Candidate], w: &Weights) -> Vec<Ranked> {
    let mut out: Vec<Ranked> = candidates
        .iter()
        .map(|c| {
            let distance_m = match (site, c.position) {
                (Some(s), Some((p, age))) if age <= w.stale_after_secs => Some(haversine_m(s, p)),
                _ => None,
            };
            let mut score = distance_m.map_or(w.unknown_km, |m| m / 1000.0);
            score += w.km_per_open_order * c.open_orders.max(0) as f64;
            if !c.skilled {
                score += w.unskilled_km;
            }
            if !c.in_area {
                score += w.out_of_area_km;
            }
            Ranked {
                user_id: c.user_id,
                distance_m,
                open_orders: c.open_orders,
                skilled: c.skilled,
                in_area: c.in_area,
                free: c.open_orders < w.max_open,
                score,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        a.score.total_cmp(&b.score).then(a.open_orders.cmp(&b.open_orders)).then(a.user_id.cmp(&b.user_id))
    });
    out
}

/// The candidate automatic dispatch takes: the best one who is free and skilled.
pub fn auto_pick(ranked: &[Ranked]) -> Option<&Ranked> {
    ranked.iter().find(|r| r.free && r.skilled)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEST_LAKE: (f64, f64) = (30.2420, 120.1500);
    const HANGZHOU_EAST: (f64, f64) = (30.2910, 120.2130);

    fn cand(user_id: i64, pos: Option<(f64, f64)>, open: i64) -> Candidate {
        Candidate { user_id, position: pos.map(|p| (p, 60)), open_orders: open, skilled: true, in_area: true }
    }

    #[test]
    fn haversine_matches_known_distances() {
        assert_eq!(haversine_m(WEST_LAKE, WEST_LAKE), 0.0);
        // 西湖 → 杭州东站: about 8 km.
        let d = haversine_m(WEST_LAKE, HANGZHOU_EAST);
        assert!((7_700.0..8_300.0).contains(&d), "{d}");
        // One degree of latitude is about 111.2 km; symmetric.
        let one = haversine_m((30.0, 120.0), (31.0, 120.0));
        assert!((111_000.0..111_400.0).contains(&one), "{one}");
        assert!((haversine_m(HANGZHOU_EAST, WEST_LAKE) - d).abs() < 1e-6);
        // Antipodes stay finite.
        assert!(haversine_m((0.0, 0.0), (0.0, 180.0)).is_finite());
    }

    // R-WO-06: nearest first, workload weighs against distance, skills and area count.
    #[test]
    fn ranking() {
        let w = Weights::default();
        let near = (30.2430, 120.1510); // ~150 m
        let far = HANGZHOU_EAST; // ~8 km
        let r = rank(Some(WEST_LAKE), &[cand(1, Some(far), 0), cand(2, Some(near), 0), cand(3, None, 0)], &w);
        assert_eq!(r.iter().map(|x| x.user_id).collect::<Vec<_>>(), [2, 1, 3]);
        assert!(r[0].distance_m.unwrap() < 200.0);
        assert_eq!(r[2].distance_m, None);
        // Three open orders (9 km equivalent) make the near one worse than the idle far one.
        let r = rank(Some(WEST_LAKE), &[cand(1, Some(far), 0), cand(2, Some(near), 3)], &w);
        assert_eq!(r[0].user_id, 1);
        // Unskilled and out-of-area candidates sink.
        let mut unskilled = cand(4, Some(near), 0);
        unskilled.skilled = false;
        let mut outside = cand(5, Some(near), 0);
        outside.in_area = false;
        let r = rank(Some(WEST_LAKE), &[unskilled, outside, cand(1, Some(far), 0)], &w);
        assert_eq!(r.iter().map(|x| x.user_id).collect::<Vec<_>>(), [1, 5, 4]);
        // A stale position counts as unknown.
        let mut stale = cand(6, Some(near), 0);
        stale.position = Some((near, w.stale_after_secs + 1));
        assert_eq!(rank(Some(WEST_LAKE), &[stale], &w)[0].distance_m, None);
        // No site: workload alone decides, ties by id.
        let r = rank(None, &[cand(9, Some(near), 2), cand(8, Some(far), 1), cand(7, None, 1)], &w);
        assert_eq!(r.iter().map(|x| x.user_id).collect::<Vec<_>>(), [7, 8, 9]);
    }

    #[test]
    fn automatic_pick_needs_a_free_skilled_candidate() {
        let w = Weights { max_open: 2, ..Weights::default() };
        let mut busy = cand(1, Some(WEST_LAKE), 2);
        busy.skilled = true;
        let mut unskilled = cand(2, Some(WEST_LAKE), 0);
        unskilled.skilled = false;
        let r = rank(Some(WEST_LAKE), &[busy.clone(), unskilled.clone()], &w);
        assert_eq!(auto_pick(&r), None);
        let r = rank(Some(WEST_LAKE), &[busy, unskilled, cand(3, Some(HANGZHOU_EAST), 1)], &w);
        assert_eq!(auto_pick(&r).map(|x| x.user_id), Some(3));
        assert_eq!(auto_pick(&[]), None);
    }
}
