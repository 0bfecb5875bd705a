//! Authentication and session policies (R-SYS-02), with MLPS level 3 defaults.

use serde::{Deserialize, Serialize};
use waterdesk_domain::password::PasswordPolicy;

/// Login, lockout, session and password rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Failed attempts before the account is locked.
    pub lockout_threshold: i64,
    /// How long a lockout lasts, in minutes.
    pub lockout_minutes: i64,
    /// Idle time after which a session ends, in minutes.
    pub idle_timeout_minutes: i64,
    /// Absolute lifetime of a session, in hours.
    pub session_max_hours: i64,
    /// Minimum password length.
    pub password_min_length: usize,
    /// Character classes a password must mix (of lower, upper, digit, symbol).
    pub password_min_classes: usize,
    /// Days after which a password must be changed; 0 turns rotation off.
    pub password_rotation_days: u32,
    /// Users holding administrative permissions must use a TOTP second factor.
    pub require_totp_for_admins: bool,
    /// Separation of duties (三员分立): no user may combine system, security and audit
    /// administration.
    pub separation_of_duties: bool,
    /// Send cookies with `Secure` (set when served over HTTPS).
    pub secure_cookies: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            lockout_threshold: 5,
            lockout_minutes: 15,
            idle_timeout_minutes: 30,
            session_max_hours: 12,
            password_min_length: 8,
            password_min_classes: 3,
            password_rotation_days: 0,
            require_totp_for_admins: false,
            separation_of_duties: false,
            secure_cookies: false,
        }
    }
}

impl AuthConfig {
    /// The stricter preset for MLPS level 3 (等保三级) deployments.
    pub fn mlps_level3() -> Self {
        AuthConfig {
            lockout_threshold: 5,
            lockout_minutes: 30,
            idle_timeout_minutes: 15,
            session_max_hours: 8,
            password_min_length: 10,
            password_min_classes: 3,
            password_rotation_days: 90,
            require_totp_for_admins: true,
            separation_of_duties: true,
            secure_cookies: true,
        }
    }

    pub fn password_policy(&self) -> PasswordPolicy {
        PasswordPolicy {
            min_length: self.password_min_length,
            min_classes: self.password_min_classes,
            rotation_days: self.password_rotation_days,
        }
    }
}
