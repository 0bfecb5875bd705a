//! Phone numbers and identity numbers: normalised at the boundary, masked for roles
//! without `customer.pii.read` (R-CALL-07).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A Chinese phone number, stored as digits only: a mobile number (11 digits, `1[3-9]…`),
/// or a landline with area code (`0571…`, 10–12 digits). `+86`/`0086` prefixes, spaces and
/// dashes are accepted on input.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(String);

/// Why a phone number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("a phone number may contain only digits, spaces, '-', '(' ')' and a leading '+'")]
    Characters,
    #[error("not a valid mobile (11 digits starting 13–19) or landline number with area code")]
    Shape,
}

impl Phone {
    pub fn parse(s: &str) -> Result<Phone, PhoneError> {
        let t = s.trim();
        if !t.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '+'))
            || t.chars().skip(1).any(|c| c == '+')
        {
            return Err(PhoneError::Characters);
        }
        let mut d: String = t.chars().filter(char::is_ascii_digit).collect();
        if t.starts_with('+') {
            d = d.strip_prefix("86").map(str::to_string).ok_or(PhoneError::Shape)?;
        } else if let Some(rest) = d.strip_prefix("0086") {
            d = rest.to_string();
        }
        let mobile = d.len() == 11 && d.starts_with('1') && matches!(d.as_bytes()[1], b'3'..=b'9');
        let landline = (10..=12).contains(&d.len()) && d.starts_with('0') && d.as_bytes()[1] != b'0';
        if mobile || landline { Ok(Phone(d)) } else { Err(PhoneError::Shape) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last four digits (agents search by them).
    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }

    /// `138****1234`: the first three and last four digits.
    pub fn masked(&self) -> String {
        mask_phone(&self.0)
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Masks any stored phone number: first three and last four characters stay.
pub fn mask_phone(s: &str) -> String {
    mask_middle(s, 3, 4)
}

/// Masks an identity document number: `3301**********1234`.
pub fn mask_id_number(s: &str) -> String {
    mask_middle(s, 4, 4)
}

fn mask_middle(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"*".repeat(chars.len() - head - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// Checks a resident identity card number (18 characters, ISO 7064 MOD 11-2 check digit).
pub fn valid_id_number(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: &[u8; 11] = b"10X98765432";
    let sum: u32 = b[..17].iter().zip(W).map(|(d, w)| u32::from(d - b'0') * w).sum();
    C[(sum % 11) as usize] == b[17].to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_numbers() {
        assert_eq!(Phone::parse("138 0013 8000").unwrap().as_str(), "13800138000");
        assert_eq!(Phone::parse("+86 138-0013-8000").unwrap().as_str(), "13800138000");
        assert_eq!(Phone::parse("008613800138000").unwrap().as_str(), "13800138000");
        assert_eq!(Phone::parse("(0571) 8765-4321").unwrap().as_str(), "057187654321");
        assert_eq!(Phone::parse("13800138000").unwrap().last4(), "8000");
    }

    #[test]
    fn refuses_malformed() {
        assert_eq!(Phone::parse("138-0013-800a"), Err(PhoneError::Characters));
        assert_eq!(Phone::parse("1380013800"), Err(PhoneError::Shape));
        assert_eq!(Phone::parse("12800138000"), Err(PhoneError::Shape));
        assert_eq!(Phone::parse("+1 415 555 0100"), Err(PhoneError::Shape));
        assert_eq!(Phone::parse("96390"), Err(PhoneError::Shape));
        assert_eq!(Phone::parse("1+3800138000"), Err(PhoneError::Characters));
    }

    #[test]
    fn masks() {
        assert_eq!(Phone::parse("13812341234").unwrap().masked(), "138****1234");
        assert_eq!(mask_id_number("330106199001011234"), "3301**********1234");
        assert_eq!(mask_phone("123"), "***");
    }

    #[test]
    fn id_check_digit() {
        assert!(valid_id_number("11010519491231002X"));
        assert!(!valid_id_number("110105194912310021"));
        assert!(!valid_id_number("11010519491231002"));
    }
}
