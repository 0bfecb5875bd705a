//! Recording and reading the audit log (R-SYS-03).

use waterdesk_domain::permissions::perm;
use waterdesk_store::AnyConnection;
use waterdesk_store::audit::{self as repo, AuditEntry, AuditFilter, NewAuditEntry, VerifyReport};

use crate::{Principal, ServiceResult, Services};

/// Where a request came from and who made it.
#[derive(Debug, Clone, Default)]
pub struct AuditCtx {
    pub ip: String,
    pub method: String,
    pub path: String,
    pub user_id: Option<i64>,
    pub username: String,
    pub unit_id: Option<i64>,
}

impl AuditCtx {
    /// A context for the command line.
    pub fn cli(command: &str) -> Self {
        AuditCtx {
            ip: "local".into(),
            method: "CLI".into(),
            path: command.into(),
            username: "cli".into(),
            ..Default::default()
        }
    }

    pub fn with_user(mut self, id: Option<i64>, username: &str, unit_id: Option<i64>) -> Self {
        self.user_id = id;
        self.username = username.to_string();
        self.unit_id = unit_id;
        self
    }

    pub fn for_principal(self, p: &Principal) -> Self {
        self.with_user(Some(p.user_id), &p.username, Some(p.unit_id))
    }

    pub(crate) fn entry(
        &self,
        event_type: &str,
        outcome: &str,
        status: i64,
        params: serde_json::Value,
    ) -> NewAuditEntry {
        NewAuditEntry {
            event_type: event_type.to_string(),
            user_id: self.user_id,
            username: self.username.clone(),
            unit_id: self.unit_id,
            ip: self.ip.clone(),
            method: self.method.clone(),
            path: self.path.clone(),
            params: redact(params).to_string(),
            outcome: outcome.to_string(),
            status,
        }
    }
}

/// Keys whose values never reach the audit log.
const SECRET_KEYS: &[&str] = &[
    "password",
    "old_password",
    "new_password",
    "new_password_confirm",
    "token",
    "totp",
    "secret",
    "_csrf",
    "csrf_token",
    "authorization",
    // The public progress look-up's proof of ownership (R-DATA-06).
    "phone_last4",
];

/// Replaces secret values (at any depth) with `***`.
pub fn redact(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let secret = SECRET_KEYS.iter().any(|s| k.eq_ignore_ascii_case(s))
                        || k.to_ascii_lowercase().contains("password");
                    if secret { (k, serde_json::Value::String("***".into())) } else { (k, redact(v)) }
                })
                .collect(),
        ),
        serde_json::Value::Array(a) => serde_json::Value::Array(a.into_iter().map(redact).collect()),
        other => other,
    }
}

/// Records a security event in its own transaction.
pub async fn security(
    s: &Services,
    ctx: &AuditCtx,
    event_type: &str,
    outcome: &str,
    params: serde_json::Value,
) -> ServiceResult<()> {
    repo::append_now(&s.db, &ctx.entry(event_type, outcome, 0, params), s.now()).await?;
    Ok(())
}

/// Records a security or business event inside the caller's transaction.
pub async fn security_in(
    conn: &mut AnyConnection,
    s: &Services,
    ctx: &AuditCtx,
    event_type: &str,
    outcome: &str,
    params: serde_json::Value,
) -> ServiceResult<()> {
    repo::append(conn, &ctx.entry(event_type, outcome, 0, params), s.now()).await?;
    Ok(())
}

impl Services {
    /// Records one HTTP write (the operation log): method, path, redacted parameters, status.
    pub async fn audit_http(&self, ctx: &AuditCtx, params: serde_json::Value, status: u16) -> ServiceResult<()> {
        let outcome = match status {
            200..=399 => "ok",
            401 | 403 => "denied",
            400..=499 => "rejected",
            _ => "error",
        };
        repo::append_now(&self.db, &ctx.entry("http.write", outcome, i64::from(status), params), self.now()).await?;
        Ok(())
    }

    /// Records a refused permission check.
    pub async fn audit_denied(&self, ctx: &AuditCtx, permission: &str) -> ServiceResult<()> {
        security(self, ctx, "authz.denied", "denied", serde_json::json!({"permission": permission})).await
    }

    /// Searches the log (newest first).
    pub async fn audit_search(&self, p: &Principal, f: &AuditFilter) -> ServiceResult<Vec<AuditEntry>> {
        p.require(perm::AUDIT_READ)?;
        let mut conn = self.db.read().await?;
        Ok(repo::search(&mut conn, f).await?)
    }

    pub async fn audit_event_types(&self, p: &Principal) -> ServiceResult<Vec<String>> {
        p.require(perm::AUDIT_READ)?;
        let mut conn = self.db.read().await?;
        Ok(repo::event_types(&mut conn).await?)
    }

    /// Verifies the whole hash chain (the CLI's `audit verify`).
    pub async fn audit_verify(&self) -> ServiceResult<VerifyReport> {
        Ok(repo::verify(&self.db).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_secrets_at_any_depth() {
        let v = serde_json::json!({"username": "a", "password": "x", "nested": {"new_password": "y", "items": [{"token": "z"}]}, "my_password_2": "q"});
        let r = redact(v).to_string();
        assert!(!r.contains("\"x\"") && !r.contains("\"y\"") && !r.contains("\"z\"") && !r.contains("\"q\""));
        assert!(r.contains("\"a\""));
    }
}
