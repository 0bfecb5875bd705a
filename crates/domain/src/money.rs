//! Money in integer fen (分). Never floats: 1 yuan = 100 fen.

use std::fmt;
use std::ops::{Add, AddAssign, Mul, Neg, Sub};

use serde::{Deserialize, Serialize};

/// An amount of money in fen. Negative amounts are credits/refunds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fen(pub i64);

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub fn yuan(y: i64) -> Fen {
        Fen(y * 100)
    }

    /// Parses a yuan amount as people write it: `12`, `12.5`, `12.50`, `-3.05`, `￥1,234.50`.
    /// More than two decimals is refused rather than rounded.
    pub fn parse_yuan(s: &str) -> Option<Fen> {
        let s: String = s.trim().trim_start_matches(['¥', '￥']).chars().filter(|c| *c != ',').collect();
        let (neg, digits) = match s.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, s.as_str()),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if int.is_empty()
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || frac.len() > 2
        {
            return None;
        }
        let whole: i64 = int.parse().ok()?;
        let cents: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().ok()? * 10,
            _ => frac.parse().ok()?,
        };
        let v = whole.checked_mul(100)?.checked_add(cents)?;
        Some(Fen(if neg { -v } else { v }))
    }
}

impl fmt::Display for Fen {
    /// `12.50` (yuan with two decimals).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", a / 100, a % 100)
    }
}

impl Add for Fen {
    type Output = Fen;
    fn add(self, o: Fen) -> Fen {
        Fen(self.0 + o.0)
    }
}
impl AddAssign for Fen {
    fn add_assign(&mut self, o: Fen) {
        self.0 += o.0;
    }
}
impl Sub for Fen {
    type Output = Fen;
    fn sub(self, o: Fen) -> Fen {
        Fen(self.0 - o.0)
    }
}
impl Neg for Fen {
    type Output = Fen;
    fn neg(self) -> Fen {
        Fen(-self.0)
    }
}
impl Mul<i64> for Fen {
    type Output = Fen;
    fn mul(self, k: i64) -> Fen {
        Fen(self.0 * k)
    }
}
impl std::iter::Sum for Fen {
    fn sum<I: Iterator<Item = Fen>>(it: I) -> Fen {
        Fen(it.map(|f| f.0).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parse_round_trip() {
        for v in [-100_001i64, -5, 0, 1, 9, 10, 99, 100, 105, 123_456_789] {
            let f = Fen(v);
            assert_eq!(Fen::parse_yuan(&f.to_string()), Some(f), "{v}");
        }
        assert_eq!(Fen(1250).to_string(), "12.50");
        assert_eq!(Fen(-305).to_string(), "-3.05");
        assert_eq!(Fen::parse_yuan("12.5"), Some(Fen(1250)));
        assert_eq!(Fen::parse_yuan("￥1,234.50"), Some(Fen(123_450)));
        assert_eq!(Fen::parse_yuan("12"), Some(Fen(1200)));
    }

    #[test]
    fn refuses_ambiguous_amounts() {
        for s in ["", "-", "1.234", "abc", "1.2.3", ".5", "1e3", "--1", "99999999999999999999"] {
            assert_eq!(Fen::parse_yuan(s), None, "{s}");
        }
    }
}
