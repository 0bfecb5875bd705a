//! Tiered water tariff (阶梯水价, R-CUS-02) and the late fee rule.
//!
//! Residential water is priced by annual cumulative use per household: the first
//! `tier_limits[0]` m³ of the year at `tier_prices[0]`, use up to `tier_limits[1]` at
//! `tier_prices[1]`, and everything above at the last price. Households larger than
//! `base_household` persons get each limit raised by `extra_per_person[i]` m³ per extra
//! person. A sewage charge (污水处理费) applies to every m³. Volumes are whole m³; money is
//! integer fen, so every bill is exact.

use serde::{Deserialize, Serialize};

use crate::money::Fen;

/// A tariff. Non-residential tariffs have no limits and one price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tariff {
    /// Cumulative annual upper bounds of every tier but the last, m³ (e.g. `[216, 300]`).
    pub tier_limits: Vec<i64>,
    /// Price per m³ of each tier (one more than the limits).
    pub tier_prices: Vec<Fen>,
    /// Sewage treatment charge per m³.
    pub sewage_per_m3: Fen,
    /// Household size the limits are set for.
    pub base_household: i64,
    /// m³ added to each limit per person above `base_household` (same length as the limits).
    pub extra_per_person: Vec<i64>,
}

/// Why a tariff definition is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TariffError {
    #[error("there must be exactly one more price than tier limits")]
    PriceCount,
    #[error("tier limits must be positive and strictly increasing")]
    Limits,
    #[error("prices and the sewage charge must not be negative")]
    NegativePrice,
    #[error("the per-person additions must match the tier limits and not be negative")]
    Extra,
}

/// One tier's share of a bill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierLine {
    /// 1-based tier number.
    pub tier: usize,
    pub volume: i64,
    pub unit_price: Fen,
    pub amount: Fen,
}

/// A priced volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    pub volume: i64,
    pub lines: Vec<TierLine>,
    pub water: Fen,
    pub sewage: Fen,
    pub total: Fen,
    /// Annual cumulative use after this volume.
    pub ytd_after: i64,
}

/// Where an account stands in the year's tiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierPosition {
    /// 1-based current tier.
    pub tier: usize,
    pub ytd: i64,
    /// m³ left before the next tier, if there is one.
    pub remaining_in_tier: Option<i64>,
}

impl Tariff {
    /// A single-price tariff (non-residential, special).
    pub fn flat(price: Fen, sewage: Fen) -> Tariff {
        Tariff {
            tier_limits: vec![],
            tier_prices: vec![price],
            sewage_per_m3: sewage,
            base_household: 4,
            extra_per_person: vec![],
        }
    }

    pub fn validate(&self) -> Result<(), TariffError> {
        if self.tier_prices.len() != self.tier_limits.len() + 1 {
            return Err(TariffError::PriceCount);
        }
        if self.tier_limits.first().is_some_and(|l| *l <= 0) || self.tier_limits.windows(2).any(|w| w[0] >= w[1]) {
            return Err(TariffError::Limits);
        }
        if self.tier_prices.iter().any(|p| p.0 < 0) || self.sewage_per_m3.0 < 0 {
            return Err(TariffError::NegativePrice);
        }
        if !self.extra_per_person.is_empty() && self.extra_per_person.len() != self.tier_limits.len()
            || self.extra_per_person.iter().any(|e| *e < 0)
        {
            return Err(TariffError::Extra);
        }
        Ok(())
    }

    /// The limits for a household of `persons`.
    pub fn limits_for(&self, persons: i64) -> Vec<i64> {
        let extra = (persons - self.base_household).max(0);
        self.tier_limits
            .iter()
            .enumerate()
            .map(|(i, l)| l + extra * self.extra_per_person.get(i).copied().unwrap_or(0))
            .collect()
    }

    /// Prices `volume` m³ used after `ytd_before` m³ this year by a household of `persons`.
    /// Negative volumes are priced as zero (callers refuse them earlier).
    pub fn charge(&self, ytd_before: i64, volume: i64, persons: i64) -> Charge {
        let volume = volume.max(0);
        let ytd_before = ytd_before.max(0);
        let limits = self.limits_for(persons);
        let (start, end) = (ytd_before, ytd_before + volume);
        let mut lines = Vec::new();
        let mut lower = 0;
        for (i, price) in self.tier_prices.iter().enumerate() {
            let upper = limits.get(i).copied().unwrap_or(i64::MAX);
            let v = (end.min(upper) - start.max(lower)).max(0);
            if v > 0 {
                lines.push(TierLine { tier: i + 1, volume: v, unit_price: *price, amount: *price * v });
            }
            lower = upper;
        }
        let water: Fen = lines.iter().map(|l| l.amount).sum();
        let sewage = self.sewage_per_m3 * volume;
        Charge { volume, lines, water, sewage, total: water + sewage, ytd_after: end }
    }

    /// The tier position after `ytd` m³ this year.
    pub fn position(&self, ytd: i64, persons: i64) -> TierPosition {
        let limits = self.limits_for(persons);
        // A household exactly at a limit has used that tier up and is in the next one
        // for its next m³.
        let tier = limits.iter().take_while(|l| ytd >= **l).count() + 1;
        let remaining_in_tier = limits.get(tier - 1).map(|l| l - ytd);
        TierPosition { tier, ytd, remaining_in_tier }
    }
}

/// Late fee (违约金): `per_mille_per_day` ‰ of the overdue amount per day overdue, rounded
/// half up to the fen, never more than the overdue amount itself.
pub fn late_fee(overdue: Fen, days: i64, per_mille_per_day: i64) -> Fen {
    if overdue.0 <= 0 || days <= 0 || per_mille_per_day <= 0 {
        return Fen::ZERO;
    }
    let raw = i128::from(overdue.0) * i128::from(per_mille_per_day) * i128::from(days);
    let fee = (raw + 500) / 1000;
    Fen(i64::try_from(fee).unwrap_or(i64::MAX).min(overdue.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hangzhou-like residential tariff: 2.90 / 4.35 / 8.70 yuan per m³, sewage 1.00.
    fn residential() -> Tariff {
        Tariff {
            tier_limits: vec![216, 300],
            tier_prices: vec![Fen(290), Fen(435), Fen(870)],
            sewage_per_m3: Fen(100),
            base_household: 4,
            extra_per_person: vec![54, 75],
        }
    }

    #[test]
    fn single_tier_bill() {
        let c = residential().charge(0, 20, 3);
        assert_eq!(c.lines, vec![TierLine { tier: 1, volume: 20, unit_price: Fen(290), amount: Fen(5800) }]);
        assert_eq!((c.water, c.sewage, c.total, c.ytd_after), (Fen(5800), Fen(2000), Fen(7800), 20));
    }

    #[test]
    fn boundaries_are_exact() {
        let t = residential();
        // The 216th m³ is tier 1, the 217th tier 2.
        let c = t.charge(200, 16, 4);
        assert_eq!(c.lines.len(), 1);
        let c = t.charge(200, 17, 4);
        assert_eq!(c.lines[1], TierLine { tier: 2, volume: 1, unit_price: Fen(435), amount: Fen(435) });
        // One bill spanning all three tiers.
        let c = t.charge(210, 100, 4);
        let vols: Vec<i64> = c.lines.iter().map(|l| l.volume).collect();
        assert_eq!(vols, [6, 84, 10]);
        assert_eq!(c.water, Fen(6 * 290 + 84 * 435 + 10 * 870));
        assert_eq!(c.total, c.water + Fen(100 * 100));
        // Entirely in the last tier.
        assert_eq!(
            t.charge(400, 5, 4).lines,
            vec![TierLine { tier: 3, volume: 5, unit_price: Fen(870), amount: Fen(4350) }]
        );
    }

    #[test]
    fn splitting_a_volume_never_changes_the_price() {
        // Billing 0..=n m³ at once or month by month gives the same money.
        let t = residential();
        for total in 0..420 {
            let whole = t.charge(0, total, 4).total;
            let mut ytd = 0;
            let mut sum = Fen::ZERO;
            let mut left = total;
            let mut step = 1;
            while left > 0 {
                let v = step.min(left);
                let c = t.charge(ytd, v, 4);
                sum += c.total;
                ytd = c.ytd_after;
                left -= v;
                step = step % 37 + 11;
            }
            assert_eq!(sum, whole, "total {total}");
        }
    }

    #[test]
    fn larger_households_get_larger_tiers() {
        let t = residential();
        assert_eq!(t.limits_for(4), vec![216, 300]);
        assert_eq!(t.limits_for(6), vec![324, 450]);
        assert_eq!(t.limits_for(1), vec![216, 300]);
        assert_eq!(t.charge(0, 324, 6).lines.len(), 1);
    }

    #[test]
    fn tier_position() {
        let t = residential();
        assert_eq!(t.position(0, 4), TierPosition { tier: 1, ytd: 0, remaining_in_tier: Some(216) });
        assert_eq!(t.position(215, 4).tier, 1);
        assert_eq!(t.position(216, 4), TierPosition { tier: 2, ytd: 216, remaining_in_tier: Some(84) });
        assert_eq!(t.position(301, 4), TierPosition { tier: 3, ytd: 301, remaining_in_tier: None });
    }

    #[test]
    fn flat_and_invalid_tariffs() {
        let f = Tariff::flat(Fen(500), Fen(120));
        assert_eq!(f.validate(), Ok(()));
        assert_eq!(f.charge(10_000, 10, 1).total, Fen(6200));
        let mut bad = residential();
        bad.tier_limits = vec![300, 216];
        assert_eq!(bad.validate(), Err(TariffError::Limits));
        bad.tier_limits = vec![216];
        assert_eq!(bad.validate(), Err(TariffError::PriceCount));
        let mut neg = residential();
        neg.sewage_per_m3 = Fen(-1);
        assert_eq!(neg.validate(), Err(TariffError::NegativePrice));
        assert_eq!(residential().validate(), Ok(()));
    }

    #[test]
    fn late_fees() {
        assert_eq!(late_fee(Fen(10_000), 10, 1), Fen(100));
        assert_eq!(late_fee(Fen(1234), 1, 1), Fen(1)); // 1.234 fen rounds to 1
        assert_eq!(late_fee(Fen(1500), 1, 1), Fen(2)); // 1.5 rounds up
        assert_eq!(late_fee(Fen(100), 100_000, 3), Fen(100), "capped at the overdue amount");
        assert_eq!(late_fee(Fen(100), 0, 3), Fen::ZERO);
        assert_eq!(late_fee(Fen(-100), 5, 3), Fen::ZERO);
    }
}
