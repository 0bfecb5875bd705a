//! Sign-in, sessions, tokens, passwords and the second factor (R-SYS-02).

use std::collections::BTreeSet;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, PasswordHash};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use waterdesk_domain::username::Username;
use waterdesk_store::{sessions, users};

use crate::audit::{self, AuditCtx};
use crate::principal::AuthVia;
use crate::{Principal, ServiceError, ServiceResult, Services};

/// Which kind of session to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// Browser: cookie + CSRF token.
    Web,
    /// API client: bearer token.
    Api,
}

impl SessionKind {
    fn as_str(self) -> &'static str {
        match self {
            SessionKind::Web => "web",
            SessionKind::Api => "api",
        }
    }
}

/// A sign-in attempt.
#[derive(Debug, Clone)]
pub struct LoginRequest<'a> {
    pub username: &'a str,
    pub password: &'a str,
    /// TOTP code, when the account has a second factor.
    pub totp: Option<&'a str>,
    pub kind: SessionKind,
    pub user_agent: &'a str,
}

/// A new session: the token is shown to the client once and only its hash is stored.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub expires_at: jiff::Timestamp,
    /// Web only: password accepted, TOTP code still to be entered.
    pub mfa_pending: bool,
}

/// Prefix of integration tokens, so they are recognisable in logs and secret scanners.
pub const API_TOKEN_PREFIX: &str = "wdt_";

pub(crate) fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Hashes a password with argon2id (default parameters: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> ServiceResult<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(format!("password hashing failed: {e}")))
}

/// Checks a password against a stored hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Hash of a random password, verified against when the user does not exist so that
/// response time does not reveal which usernames exist.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password("not-a-real-password-Aa1!").unwrap_or_default())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ServiceResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ServiceError::Internal(e.to_string()))
}

/// Generates a random 16-character password that satisfies the default policy (demo
/// users, resets, first administrator).
pub fn generate_password() -> String {
    const LOWER: &[u8] = b"abcdefghijkmnpqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGIT: &[u8] = b"23456789";
    const SYMBOL: &[u8] = b"-_.!@#%+=";
    let mut rng = rand::rng();
    let mut pick = |set: &[u8]| set[(rng.next_u32() as usize) % set.len()] as char;
    let mut chars: Vec<char> = vec![pick(LOWER), pick(UPPER), pick(DIGIT), pick(SYMBOL)];
    let all: Vec<u8> = [LOWER, UPPER, DIGIT, SYMBOL].concat();
    while chars.len() < 16 {
        chars.push(pick(&all));
    }
    // Shuffle so the guaranteed classes are not always in front.
    for i in (1..chars.len()).rev() {
        let j = (rand::rng().next_u32() as usize) % (i + 1);
        chars.swap(i, j);
    }
    chars.into_iter().collect()
}

impl Services {
    /// Signs in with username and password (and TOTP when enrolled). Every outcome is
    /// audited; five failures (configurable) lock the account.
    pub async fn login(&self, req: &LoginRequest<'_>, ctx: &AuditCtx) -> ServiceResult<NewSession> {
        let now = self.now();
        let uname = Username::parse(req.username).map(|u| u.to_string()).unwrap_or_default();
        let user = if uname.is_empty() {
            None
        } else {
            let mut conn = self.db.read().await?;
            users::get_by_username(&mut conn, &uname).await?
        };
        let ctx = ctx.clone().with_user(user.as_ref().map(|u| u.id), &uname, user.as_ref().map(|u| u.unit_id));
        let Some(user) = user else {
            let pw = req.password.to_string();
            blocking(move || verify_password(&pw, dummy_hash())).await?;
            audit::security(self, &ctx, "auth.login_failed", "failed", serde_json::json!({"reason": "unknown_user"}))
                .await?;
            return Err(ServiceError::InvalidCredentials);
        };
        if user.disabled {
            audit::security(self, &ctx, "auth.login_failed", "failed", serde_json::json!({"reason": "disabled"}))
                .await?;
            return Err(ServiceError::AccountDisabled);
        }
        if let Some(until) = user.locked_until.filter(|u| *u > now) {
            audit::security(self, &ctx, "auth.login_failed", "failed", serde_json::json!({"reason": "locked"})).await?;
            return Err(ServiceError::AccountLocked { until });
        }
        let (pw, hash) = (req.password.to_string(), user.password_hash.clone());
        if !blocking(move || verify_password(&pw, &hash)).await? {
            let until = self.record_failed_attempt(user.id, None, &ctx, "password").await?;
            return Err(match until {
                Some(until) => ServiceError::AccountLocked { until },
                None => ServiceError::InvalidCredentials,
            });
        }
        // Password right. Second factor?
        let mut mfa_pending = false;
        if user.totp_enabled {
            match req.totp.filter(|c| !c.trim().is_empty()) {
                Some(code) => {
                    if !check_totp(user.totp_secret.as_deref().unwrap_or_default(), &user.username, code, now) {
                        return Err(match self.record_failed_attempt(user.id, None, &ctx, "totp").await? {
                            Some(until) => ServiceError::AccountLocked { until },
                            None => ServiceError::InvalidTotp,
                        });
                    }
                }
                None if req.kind == SessionKind::Web => mfa_pending = true,
                None => return Err(ServiceError::TotpRequired),
            }
        }
        let token = random_token(32);
        let csrf = random_token(24);
        let expires_at = now + jiff::SignedDuration::from_hours(self.auth.session_max_hours);
        let mut tx = self.db.begin().await?;
        sessions::insert(
            &mut tx,
            &token_hash(&token),
            user.id,
            req.kind.as_str(),
            &csrf,
            mfa_pending,
            &ctx.ip,
            &truncate(req.user_agent, 300),
            now,
            expires_at,
        )
        .await?;
        if !mfa_pending {
            users::record_success(&mut tx, user.id, now).await?;
        }
        let event = if mfa_pending { "auth.password_ok_totp_pending" } else { "auth.login" };
        audit::security_in(&mut tx, self, &ctx, event, "ok", serde_json::json!({"kind": req.kind.as_str()})).await?;
        crate::input::commit(tx).await?;
        Ok(NewSession { token, csrf_token: csrf, expires_at, mfa_pending })
    }

    /// Completes a web sign-in that waits for its TOTP code.
    pub async fn login_totp(&self, token: &str, code: &str, ctx: &AuditCtx) -> ServiceResult<()> {
        let now = self.now();
        let mut conn = self.db.read().await?;
        let s = sessions::get_by_hash(&mut conn, &token_hash(token)).await?.ok_or(ServiceError::Unauthenticated)?;
        if !s.mfa_pending || s.revoked_at.is_some() || s.expires_at <= now {
            return Err(ServiceError::Unauthenticated);
        }
        let user = users::get(&mut conn, s.user_id).await?.ok_or(ServiceError::Unauthenticated)?;
        drop(conn);
        let ctx = ctx.clone().with_user(Some(user.id), &user.username, Some(user.unit_id));
        if !check_totp(user.totp_secret.as_deref().unwrap_or_default(), &user.username, code, now) {
            self.record_failed_attempt(user.id, Some(s.id), &ctx, "totp").await?;
            return Err(ServiceError::InvalidTotp);
        }
        let mut tx = self.db.begin().await?;
        sessions::clear_mfa(&mut tx, s.id).await?;
        users::record_success(&mut tx, user.id, now).await?;
        audit::security_in(&mut tx, self, &ctx, "auth.login", "ok", serde_json::json!({"kind": "web", "totp": true}))
            .await?;
        crate::input::commit(tx).await?;
        Ok(())
    }

    /// Counts a failed sign-in (wrong password or code); at the threshold the account is
    /// locked (and the pending session, if any, revoked). Returns the lock's end if locked now.
    async fn record_failed_attempt(
        &self,
        user_id: i64,
        pending_session: Option<i64>,
        ctx: &AuditCtx,
        reason: &str,
    ) -> ServiceResult<Option<jiff::Timestamp>> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let count = users::record_failure(&mut tx, user_id, None, now).await?;
        let params = serde_json::json!({"reason": reason, "failures": count});
        audit::security_in(&mut tx, self, ctx, "auth.login_failed", "failed", params).await?;
        let locked = (count >= self.auth.lockout_threshold.max(1))
            .then(|| now + jiff::SignedDuration::from_mins(self.auth.lockout_minutes));
        if let Some(until) = locked {
            users::lock_until(&mut tx, user_id, until, now).await?;
            if let Some(sid) = pending_session {
                sessions::revoke(&mut tx, sid, now).await?;
            }
            let params = serde_json::json!({"until": until.to_string()});
            audit::security_in(&mut tx, self, ctx, "auth.lockout", "locked", params).await?;
        }
        crate::input::commit(tx).await?;
        Ok(locked)
    }

    /// Resolves a session token (cookie or bearer) or an integration token to a principal.
    /// Enforces expiry, the idle timeout, revocation and disabled accounts.
    pub async fn authenticate(&self, token: &str, via: AuthVia) -> ServiceResult<Principal> {
        let now = self.now();
        let hash = token_hash(token);
        let mut conn = self.db.read().await?;
        if token.starts_with(API_TOKEN_PREFIX) {
            let t = sessions::token_by_hash(&mut conn, &hash).await?.ok_or(ServiceError::Unauthenticated)?;
            if t.revoked_at.is_some() {
                return Err(ServiceError::Unauthenticated);
            }
            if t.expires_at.is_some_and(|e| e <= now) {
                return Err(ServiceError::SessionExpired);
            }
            let mut p = self.load_principal(&mut conn, t.user_id, AuthVia::ApiToken).await?;
            // A token can do no more than its scopes and its account's roles allow.
            let scopes: BTreeSet<String> = t.scopes.split_whitespace().map(str::to_string).collect();
            p.permissions = p.permissions.intersection(&scopes).cloned().collect();
            p.token_id = Some(t.id);
            drop(conn);
            if t.last_used_at.is_none_or(|u| now.duration_since(u).as_secs() > 60) {
                self.stamp(async {
                    let mut w = self.db.begin().await?;
                    sessions::token_used(&mut w, t.id, now).await?;
                    w.commit().await.map_err(waterdesk_store::StoreError::from)
                })
                .await;
            }
            return Ok(p);
        }
        let s = sessions::get_by_hash(&mut conn, &hash).await?.ok_or(ServiceError::Unauthenticated)?;
        if s.revoked_at.is_some() || s.mfa_pending {
            return Err(ServiceError::Unauthenticated);
        }
        let expected_kind = if via == AuthVia::Cookie { "web" } else { "api" };
        if s.kind != expected_kind {
            return Err(ServiceError::Unauthenticated);
        }
        let idle = jiff::SignedDuration::from_mins(self.auth.idle_timeout_minutes);
        if s.expires_at <= now || now.duration_since(s.last_seen_at) > idle {
            drop(conn);
            let mut w = self.db.begin().await?;
            sessions::revoke(&mut w, s.id, now).await?;
            w.commit().await.map_err(waterdesk_store::StoreError::from)?;
            return Err(ServiceError::SessionExpired);
        }
        let mut p = self.load_principal(&mut conn, s.user_id, via).await?;
        drop(conn);
        p.session_id = Some(s.id);
        p.csrf_token = s.csrf_token;
        // Record activity at most every 30 s: the idle timeout does not need more, and a
        // write per request would cost throughput.
        if now.duration_since(s.last_seen_at).as_secs() >= 30 {
            self.stamp(async {
                let mut w = self.db.begin().await?;
                sessions::touch(&mut w, s.id, now).await?;
                w.commit().await.map_err(waterdesk_store::StoreError::from)
            })
            .await;
        }
        Ok(p)
    }

    /// Activity stamps are best effort: when the writer is busy (a long import holds it on
    /// SQLite) the request goes on without waiting; the next request stamps again.
    async fn stamp(&self, write: impl std::future::Future<Output = Result<(), waterdesk_store::StoreError>>) {
        match tokio::time::timeout(std::time::Duration::from_millis(500), write).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "could not record session activity"),
            Err(_) => tracing::debug!("writer busy: session activity not recorded this time"),
        }
    }

    pub(crate) async fn load_principal(
        &self,
        conn: &mut waterdesk_store::AnyConnection,
        user_id: i64,
        via: AuthVia,
    ) -> ServiceResult<Principal> {
        let (user, roles, permissions) =
            users::with_grants(conn, user_id).await?.ok_or(ServiceError::Unauthenticated)?;
        if user.disabled {
            return Err(ServiceError::AccountDisabled);
        }
        let permissions: BTreeSet<String> = permissions.into_iter().collect();
        let now = self.now();
        let policy = self.auth.password_policy();
        let mut p = Principal {
            user_id: user.id,
            username: user.username,
            display_name: user.display_name,
            unit_id: user.unit_id,
            data_scope: crate::access::DataScope::from_stored(&user.data_scope),
            roles,
            permissions,
            via,
            session_id: None,
            token_id: None,
            csrf_token: String::new(),
            must_change_password: user.kind != "service"
                && (user.must_change_password || policy.expired(user.password_changed_at, now)),
            must_enrol_totp: false,
            totp_enabled: user.totp_enabled,
        };
        p.must_enrol_totp =
            self.auth.require_totp_for_admins && p.is_admin() && !user.totp_enabled && via != AuthVia::ApiToken;
        Ok(p)
    }

    /// Ends a session.
    pub async fn logout(&self, p: &Principal, ctx: &AuditCtx) -> ServiceResult<()> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if let Some(sid) = p.session_id {
            sessions::revoke(&mut tx, sid, now).await?;
        }
        audit::security_in(&mut tx, self, &ctx.clone().for_principal(p), "auth.logout", "ok", serde_json::json!({}))
            .await?;
        crate::input::commit(tx).await?;
        Ok(())
    }

    /// Changes the principal's own password; other sessions of the user end.
    pub async fn change_password(&self, p: &Principal, old: &str, new: &str, ctx: &AuditCtx) -> ServiceResult<()> {
        let now = self.now();
        let user = {
            let mut conn = self.db.read().await?;
            users::get(&mut conn, p.user_id).await?.ok_or(ServiceError::NotFound { entity: "user" })?
        };
        let ctx = ctx.clone().for_principal(p);
        let (o, h) = (old.to_string(), user.password_hash.clone());
        if !blocking(move || verify_password(&o, &h)).await? {
            audit::security(
                self,
                &ctx,
                "auth.password_change",
                "failed",
                serde_json::json!({"reason": "old_password"}),
            )
            .await?;
            return Err(ServiceError::validation("old_password", "wrong_password", "the current password is wrong"));
        }
        if old == new {
            return Err(ServiceError::validation(
                "new_password",
                "password_reused",
                "the new password must differ from the current one",
            ));
        }
        self.auth
            .password_policy()
            .check(&user.username, new)
            .map_err(|e| ServiceError::validation("new_password", password_error_code(&e), e.to_string()))?;
        let n = new.to_string();
        let hash = blocking(move || hash_password(&n)).await??;
        let mut tx = self.db.begin().await?;
        users::set_password(&mut tx, user.id, &hash, false, now).await?;
        sessions::revoke_all_for_user(&mut tx, user.id, p.session_id, now).await?;
        audit::security_in(&mut tx, self, &ctx, "auth.password_change", "ok", serde_json::json!({})).await?;
        crate::input::commit(tx).await?;
        Ok(())
    }

    /// Starts TOTP enrolment: stores a new secret (not yet active) and returns the
    /// `otpauth://` URI for the authenticator app.
    pub async fn totp_begin(&self, p: &Principal) -> ServiceResult<String> {
        let secret = totp_rs::Secret::generate();
        let b32 = secret.to_base32();
        let uri = totp_for(&b32, &p.username)?.to_url().map_err(|e| ServiceError::Internal(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        users::set_totp(&mut tx, p.user_id, Some(&b32), false, self.now()).await?;
        crate::input::commit(tx).await?;
        Ok(uri)
    }

    /// Confirms enrolment with a code from the app; from now on sign-in asks for one.
    pub async fn totp_confirm(&self, p: &Principal, code: &str, ctx: &AuditCtx) -> ServiceResult<()> {
        let now = self.now();
        let user = {
            let mut conn = self.db.read().await?;
            users::get(&mut conn, p.user_id).await?.ok_or(ServiceError::NotFound { entity: "user" })?
        };
        let secret = user
            .totp_secret
            .ok_or_else(|| ServiceError::validation("totp", "totp_not_started", "start enrolment first"))?;
        if !check_totp(&secret, &user.username, code, now) {
            return Err(ServiceError::InvalidTotp);
        }
        let mut tx = self.db.begin().await?;
        users::set_totp(&mut tx, p.user_id, Some(&secret), true, now).await?;
        audit::security_in(
            &mut tx,
            self,
            &ctx.clone().for_principal(p),
            "auth.totp_enrolled",
            "ok",
            serde_json::json!({}),
        )
        .await?;
        crate::input::commit(tx).await?;
        Ok(())
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Stable code of a password-policy refusal.
pub fn password_error_code(e: &waterdesk_domain::password::PasswordError) -> &'static str {
    use waterdesk_domain::password::PasswordError::*;
    match e {
        TooShort(_) => "password_too_short",
        TooLong => "password_too_long",
        TooSimple(_) => "password_too_simple",
        ContainsUsername => "password_contains_username",
    }
}

fn totp_for(secret_b32: &str, account: &str) -> ServiceResult<totp_rs::Totp> {
    let secret = totp_rs::Secret::try_from_base32(secret_b32).map_err(|e| ServiceError::Internal(e.to_string()))?;
    totp_rs::Builder::new()
        .with_secret(secret)
        .with_account_name(account)
        .with_issuer(Some("waterdesk"))
        .build()
        .map_err(|e| ServiceError::Internal(e.to_string()))
}

/// Checks a 6-digit code at `now` (±1 step of 30 s).
pub fn check_totp(secret_b32: &str, account: &str, code: &str, now: jiff::Timestamp) -> bool {
    match totp_for(secret_b32, account) {
        Ok(t) => t.check(code.trim(), u64::try_from(now.as_second()).unwrap_or(0)).is_some(),
        Err(_) => false,
    }
}

/// The current code for a secret (tests and the CLI).
pub fn totp_code(secret_b32: &str, account: &str, now: jiff::Timestamp) -> Option<String> {
    totp_for(secret_b32, account).ok().map(|t| t.generate(u64::try_from(now.as_second()).unwrap_or(0)).to_string())
}

/// The secret inside an `otpauth://` URI.
pub fn secret_from_uri(uri: &str) -> Option<String> {
    uri.split(['?', '&']).find_map(|kv| kv.strip_prefix("secret=")).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify() {
        let h = hash_password("Secret-123").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("Secret-123", &h));
        assert!(!verify_password("secret-123", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn generated_passwords_pass_policy() {
        let p = waterdesk_domain::password::PasswordPolicy::default();
        for _ in 0..50 {
            assert_eq!(p.check("someone", &generate_password()), Ok(()));
        }
    }

    #[test]
    fn totp_round_trip() {
        let s = totp_rs::Secret::generate().to_base32();
        let now = jiff::Timestamp::now();
        let code = totp_code(&s, "a", now).unwrap();
        assert!(check_totp(&s, "a", &code, now));
        assert!(!check_totp(&s, "a", "000000x", now));
        let later = now + jiff::SignedDuration::from_mins(5);
        assert!(!check_totp(&s, "a", &code, later));
    }
}
