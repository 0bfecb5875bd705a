//! Authentication extractors and cookie helpers.
//!
//! The [`crate::context`] middleware authenticates every request once (bearer token or
//! session cookie) and checks CSRF; these extractors read its result.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use waterdesk_services::audit::AuditCtx;
use waterdesk_services::{Principal, ServiceError};

use crate::error::ApiError;
use crate::i18n::Lang;

/// Session cookie name.
pub const SESSION_COOKIE: &str = "wd_session";
/// Pre-session CSRF cookie (sign-in form).
pub const CSRF_COOKIE: &str = "wd_csrf";

/// What the context middleware learned about a request.
#[derive(Debug)]
pub struct RequestCtx {
    pub lang: Lang,
    pub ip: String,
    pub method: String,
    pub path: String,
    pub is_api: bool,
    /// The authenticated principal, or why authentication failed (`None`: no credentials).
    pub auth: Option<Result<Principal, ServiceError>>,
    /// The pre-session CSRF token (sign-in page).
    pub login_csrf: Option<String>,
    pub request_id: String,
}

impl RequestCtx {
    pub fn audit(&self) -> AuditCtx {
        let mut a = AuditCtx {
            ip: self.ip.clone(),
            method: self.method.clone(),
            path: self.path.clone(),
            ..Default::default()
        };
        if let Some(Ok(p)) = &self.auth {
            a = a.for_principal(p);
        }
        a
    }

    pub fn principal(&self) -> Option<&Principal> {
        match &self.auth {
            Some(Ok(p)) => Some(p),
            _ => None,
        }
    }
}

/// The request context (always present behind the middleware).
#[derive(Clone)]
pub struct Ctx(pub Arc<RequestCtx>);

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Arc<RequestCtx>>()
            .cloned()
            .map(Ctx)
            .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal"))
    }
}

fn principal_from(parts: &Parts) -> Result<(Principal, Arc<RequestCtx>), ApiError> {
    let ctx = parts
        .extensions
        .get::<Arc<RequestCtx>>()
        .cloned()
        .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal"))?;
    match &ctx.auth {
        Some(Ok(p)) => Ok((p.clone(), ctx.clone())),
        Some(Err(ServiceError::SessionExpired)) => Err(ServiceError::SessionExpired.into()),
        Some(Err(ServiceError::AccountDisabled)) => Err(ServiceError::AccountDisabled.into()),
        _ => Err(ServiceError::Unauthenticated.into()),
    }
}

/// A signed-in principal with no pending obligations (password change, TOTP enrolment).
pub struct Auth(pub Principal, pub Arc<RequestCtx>);

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let (p, ctx) = principal_from(parts)?;
        if p.must_change_password {
            return Err(ServiceError::PasswordChangeRequired.into());
        }
        if p.must_enrol_totp {
            return Err(ServiceError::TotpEnrolmentRequired.into());
        }
        Ok(Auth(p, ctx))
    }
}

/// A signed-in principal, even one that must still change its password or enrol TOTP
/// (for exactly those pages, `me` and sign-out).
pub struct AuthAny(pub Principal, pub Arc<RequestCtx>);

impl<S: Send + Sync> FromRequestParts<S> for AuthAny {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let (p, ctx) = principal_from(parts)?;
        Ok(AuthAny(p, ctx))
    }
}

/// Reads a cookie.
pub fn cookie(h: &HeaderMap, name: &str) -> Option<String> {
    h.get_all(axum::http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(
        |kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        },
    )
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, path /, Secure when configured.
pub fn set_cookie(name: &str, value: &str, max_age_secs: Option<i64>, secure: bool, http_only: bool) -> String {
    let mut s = format!("{name}={value}; Path=/; SameSite=Lax");
    if http_only {
        s.push_str("; HttpOnly");
    }
    if secure {
        s.push_str("; Secure");
    }
    if let Some(a) = max_age_secs {
        s.push_str(&format!("; Max-Age={a}"));
    }
    s
}

/// Constant-time string comparison for tokens.
pub fn same_token(a: &str, b: &str) -> bool {
    if a.len() != b.len() || a.is_empty() {
        return false;
    }
    a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies() {
        let mut h = HeaderMap::new();
        h.insert("cookie", "a=1; wd_session=abc; lang=en".parse().unwrap());
        assert_eq!(cookie(&h, "wd_session").as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "x"), None);
        assert!(set_cookie("a", "b", Some(0), true, true).contains("HttpOnly; Secure; Max-Age=0"));
    }

    #[test]
    fn token_compare() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("", ""));
        assert!(!same_token("abc", "ab"));
    }
}
