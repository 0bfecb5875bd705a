//! Who is acting: a signed-in user (cookie or bearer session) or an integration token.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::access::DataScope;
use crate::{ServiceError, ServiceResult};

/// How the principal authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthVia {
    /// Browser session cookie: unsafe methods need the CSRF token.
    Cookie,
    /// Bearer token from `POST /api/v1/auth/login`.
    Session,
    /// Integration token of a service account, limited to its scopes.
    ApiToken,
}

#[derive(Debug, Clone, Serialize)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub unit_id: i64,
    pub data_scope: DataScope,
    pub roles: Vec<String>,
    pub permissions: BTreeSet<String>,
    pub via: AuthVia,
    #[serde(skip)]
    pub session_id: Option<i64>,
    #[serde(skip)]
    pub token_id: Option<i64>,
    #[serde(skip)]
    pub csrf_token: String,
    pub must_change_password: bool,
    pub must_enrol_totp: bool,
    pub totp_enabled: bool,
}

impl Principal {
    pub fn has(&self, permission: &str) -> bool {
        self.permissions.contains(permission)
    }

    /// Fails with `forbidden` unless the principal holds `permission`.
    pub fn require(&self, permission: &str) -> ServiceResult<()> {
        if self.has(permission) { Ok(()) } else { Err(ServiceError::Forbidden { permission: permission.to_string() }) }
    }

    /// Whether any administrative permission is held (for the TOTP requirement).
    pub fn is_admin(&self) -> bool {
        self.permissions.iter().any(|p| waterdesk_domain::permissions::admin_domain(p).is_some())
    }
}

impl Principal {
    /// The command line acting with every permission (it runs on the server itself).
    /// The user to record as the actor of a change: `None` for the system itself.
    pub fn actor(&self) -> Option<i64> {
        (self.user_id > 0).then_some(self.user_id)
    }

    pub fn system() -> Self {
        Principal {
            user_id: 0,
            username: "cli".into(),
            display_name: "Command line".into(),
            unit_id: 0,
            data_scope: DataScope::All,
            roles: vec![],
            permissions: waterdesk_domain::permissions::ALL.iter().map(|p| p.code.to_string()).collect(),
            via: AuthVia::Session,
            session_id: None,
            token_id: None,
            csrf_token: String::new(),
            must_change_password: false,
            must_enrol_totp: false,
            totp_enabled: false,
        }
    }
}
