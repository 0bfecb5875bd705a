//! Login names: parsed once at the boundary.

use std::fmt;

/// A valid login name: 3–32 characters of `a-z 0-9 . _ -`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

/// Why a login name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("username must be 3 to 32 characters")]
    Length,
    #[error("username may contain only a-z, 0-9, '.', '_' and '-', and must start with a letter or digit")]
    Characters,
}

impl Username {
    pub fn parse(s: &str) -> Result<Self, UsernameError> {
        let s = s.trim().to_ascii_lowercase();
        if !(3..=32).contains(&s.len()) {
            return Err(UsernameError::Length);
        }
        let ok = s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
        let first_ok = s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
        if !ok || !first_ok {
            return Err(UsernameError::Characters);
        }
        Ok(Username(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises() {
        assert_eq!(Username::parse(" Agent.01 ").unwrap().as_str(), "agent.01");
    }

    #[test]
    fn rejects() {
        assert_eq!(Username::parse("ab"), Err(UsernameError::Length));
        assert_eq!(Username::parse(&"a".repeat(33)), Err(UsernameError::Length));
        assert_eq!(Username::parse("_abc"), Err(UsernameError::Characters));
        assert_eq!(Username::parse("张三丰"), Err(UsernameError::Characters));
        assert_eq!(Username::parse("a b c"), Err(UsernameError::Characters));
        assert_eq!(Username::parse("../etc"), Err(UsernameError::Characters));
    }
}
