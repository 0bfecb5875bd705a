//! Password policy (R-SYS-02): length, character classes, rotation.
//!
//! The defaults follow China's MLPS level 3 (等保三级) practice: at least 8 characters
//! from at least three of four classes, not containing the login name; rotation is
//! optional and configured in days.

use serde::{Deserialize, Serialize};

/// The configurable policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordPolicy {
    pub min_length: usize,
    /// How many of the four classes (lower, upper, digit, symbol) must appear.
    pub min_classes: usize,
    /// Days after which a password must be changed; 0 = never.
    pub rotation_days: u32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy { min_length: 8, min_classes: 3, rotation_days: 0 }
    }
}

/// Why a new password was refused; each maps to a stable error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("password must have at least {0} characters")]
    TooShort(usize),
    #[error("password is too long (at most 128 characters)")]
    TooLong,
    #[error("password must use at least {0} of: lower case, upper case, digits, symbols")]
    TooSimple(usize),
    #[error("password must not contain the username")]
    ContainsUsername,
}

impl PasswordPolicy {
    /// Checks a candidate password for `username`.
    pub fn check(&self, username: &str, password: &str) -> Result<(), PasswordError> {
        let len = password.chars().count();
        if len < self.min_length {
            return Err(PasswordError::TooShort(self.min_length));
        }
        if len > 128 {
            return Err(PasswordError::TooLong);
        }
        let classes = [
            password.chars().any(|c| c.is_lowercase()),
            password.chars().any(|c| c.is_uppercase()),
            password.chars().any(|c| c.is_ascii_digit()),
            password.chars().any(|c| !c.is_alphanumeric()),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if classes < self.min_classes {
            return Err(PasswordError::TooSimple(self.min_classes));
        }
        if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
            return Err(PasswordError::ContainsUsername);
        }
        Ok(())
    }

    /// Whether a password set at `changed_at` must be changed at `now`.
    pub fn expired(&self, changed_at: jiff::Timestamp, now: jiff::Timestamp) -> bool {
        if self.rotation_days == 0 {
            return false;
        }
        let age = now.duration_since(changed_at);
        age.as_secs() >= i64::from(self.rotation_days) * 86_400
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        let p = PasswordPolicy::default();
        assert_eq!(p.check("bob", "Ab1!"), Err(PasswordError::TooShort(8)));
        assert_eq!(p.check("bob", "abcdefgh"), Err(PasswordError::TooSimple(3)));
        assert_eq!(p.check("bob", "abcdefg1"), Err(PasswordError::TooSimple(3)));
        assert_eq!(p.check("bob", "Abcdefg1"), Ok(()));
        assert_eq!(p.check("bob", "xxBob-12"), Err(PasswordError::ContainsUsername));
        assert_eq!(p.check("bob", &"Aa1!".repeat(40)), Err(PasswordError::TooLong));
        assert_eq!(p.check("li", "水务密码Ab12"), Ok(()));
    }

    #[test]
    fn rotation() {
        let p = PasswordPolicy { rotation_days: 90, ..Default::default() };
        let t0: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let t89: jiff::Timestamp = "2026-03-31T00:00:00Z".parse().unwrap();
        let t90: jiff::Timestamp = "2026-04-01T00:00:00Z".parse().unwrap();
        assert!(!p.expired(t0, t89));
        assert!(p.expired(t0, t90));
        assert!(!PasswordPolicy::default().expired(t0, t90));
    }
}
