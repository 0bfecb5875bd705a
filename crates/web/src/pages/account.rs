//! Sign-in, sign-out, language, own password and authenticator, dashboard.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use waterdesk_domain::permissions::{self, perm};
use waterdesk_services::ServiceError;
use waterdesk_services::auth::{LoginRequest, SessionKind};

use super::{FlashQuery, Layout, RawForm, after_form, html};
use crate::auth::{Auth, AuthAny, CSRF_COOKIE, Ctx, SESSION_COOKIE, set_cookie};
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::i18n::Lang;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    lang: Lang,
    csrf: String,
    next: String,
    error: String,
    username: String,
    totp_step: bool,
}

impl LoginPage {
    fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    reason: Option<String>,
}

/// Only same-site relative targets, to avoid open redirects.
fn safe_next(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") && !next.contains("://") {
        next.to_string()
    } else {
        "/".to_string()
    }
}

fn login_response(
    lang: Lang,
    ctx_csrf: Option<&str>,
    next: &str,
    error: String,
    username: String,
    totp_step: bool,
    secure: bool,
) -> Response {
    // Reuse the pre-session CSRF cookie if there is one, else set a fresh one.
    let csrf = ctx_csrf.map(str::to_string).unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let page = LoginPage { lang, csrf: csrf.clone(), next: safe_next(next), error, username, totp_step };
    let mut r = html(&page);
    if let Ok(v) = HeaderValue::from_str(&set_cookie(CSRF_COOKIE, &csrf, None, secure, true)) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

pub async fn login_page(State(st): State<AppState>, ctx: Ctx, Query(q): Query<LoginQuery>) -> Response {
    if ctx.0.principal().is_some() {
        return Redirect::to(&safe_next(q.next.as_deref().unwrap_or("/"))).into_response();
    }
    let error = match q.reason.as_deref() {
        Some("session_expired") => ctx.0.lang.t("error.session_expired").to_string(),
        _ => String::new(),
    };
    login_response(
        ctx.0.lang,
        ctx.0.login_csrf.as_deref(),
        q.next.as_deref().unwrap_or("/"),
        error,
        String::new(),
        false,
        st.services().auth.secure_cookies,
    )
}

fn session_cookie(token: &str, st: &AppState) -> HeaderValue {
    let max = st.services().auth.session_max_hours * 3600;
    HeaderValue::from_str(&set_cookie(SESSION_COOKIE, token, Some(max), st.services().auth.secure_cookies, true))
        .unwrap_or(HeaderValue::from_static(""))
}

pub async fn login_submit(State(st): State<AppState>, ctx: Ctx, form: RawForm) -> Response {
    let lang = ctx.0.lang;
    let ua = String::new();
    let req = LoginRequest {
        username: form.get("username"),
        password: form.get("password"),
        totp: None,
        kind: SessionKind::Web,
        user_agent: &ua,
    };
    let secure = st.services().auth.secure_cookies;
    match st.services().login(&req, &ctx.0.audit()).await {
        Ok(s) => {
            let to = if s.mfa_pending {
                format!("/login/totp?next={}", urlencoding::encode(&safe_next(form.get("next"))))
            } else {
                safe_next(form.get("next"))
            };
            let mut r = Redirect::to(&to).into_response();
            r.headers_mut().append(header::SET_COOKIE, session_cookie(&s.token, &st));
            r
        }
        Err(e) => {
            let msg = match &e {
                ServiceError::AccountLocked { until } => {
                    format!("{} ({})", lang.t("error.account_locked"), super::fmt_local(*until, &st.services().tz))
                }
                ServiceError::Store(_) | ServiceError::Internal(_) => return ApiError::from(e).into_response(),
                other => lang.t(&format!("error.{}", other.code())).to_string(),
            };
            let mut r = login_response(
                lang,
                ctx.0.login_csrf.as_deref(),
                form.get("next"),
                msg,
                form.get("username").to_string(),
                false,
                secure,
            );
            *r.status_mut() = crate::error::status_of(&e);
            r
        }
    }
}

pub async fn totp_login_page(State(st): State<AppState>, ctx: Ctx, Query(q): Query<LoginQuery>) -> Response {
    login_response(
        ctx.0.lang,
        ctx.0.login_csrf.as_deref(),
        q.next.as_deref().unwrap_or("/"),
        String::new(),
        String::new(),
        true,
        st.services().auth.secure_cookies,
    )
}

pub async fn totp_login_submit(
    State(st): State<AppState>,
    ctx: Ctx,
    headers: axum::http::HeaderMap,
    form: RawForm,
) -> Response {
    let lang = ctx.0.lang;
    let Some(token) = crate::auth::cookie(&headers, SESSION_COOKIE) else {
        return Redirect::to("/login").into_response();
    };
    match st.services().login_totp(&token, form.get("totp"), &ctx.0.audit()).await {
        Ok(()) => Redirect::to(&safe_next(form.get("next"))).into_response(),
        Err(ServiceError::Unauthenticated) => Redirect::to("/login").into_response(),
        Err(e) => {
            let msg = lang.t(&format!("error.{}", e.code())).to_string();
            let mut r = login_response(
                lang,
                ctx.0.login_csrf.as_deref(),
                form.get("next"),
                msg,
                String::new(),
                true,
                st.services().auth.secure_cookies,
            );
            *r.status_mut() = crate::error::status_of(&e);
            r
        }
    }
}

pub async fn logout(State(st): State<AppState>, AuthAny(p, ctx): AuthAny) -> Result<Response, ApiError> {
    st.services().logout(&p, &ctx.audit()).await?;
    let mut r = Redirect::to("/login").into_response();
    if let Ok(v) =
        HeaderValue::from_str(&set_cookie(SESSION_COOKIE, "", Some(0), st.services().auth.secure_cookies, true))
    {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(r)
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn set_lang(Path(code): Path<String>, Query(q): Query<NextQuery>) -> Response {
    let lang = Lang::parse(&code).unwrap_or_default();
    let mut r = Redirect::to(&safe_next(q.next.as_deref().unwrap_or("/"))).into_response();
    if let Ok(v) = HeaderValue::from_str(&set_cookie("lang", lang.code(), Some(365 * 86400), false, false)) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    layout: Layout,
    name: String,
    unit_name: String,
    roles: Vec<String>,
    perms: Vec<(String, String)>,
    can_announce: bool,
    users: Option<(i64, i64, i64)>,
    jobs: Option<Vec<(String, i64)>>,
    chart: Option<SignInChart>,
}

/// A 24-hour bar chart of sign-ins, drawn as inline SVG on the server (no script needed).
pub struct SignInChart {
    pub bars: Vec<ChartBar>,
    pub max: i64,
    pub total_ok: i64,
    pub total_failed: i64,
}

pub struct ChartBar {
    pub x: i64,
    pub ok_y: i64,
    pub ok_h: i64,
    pub fail_y: i64,
    pub fail_h: i64,
    pub label: String,
    pub title: String,
    pub show_label: bool,
}

const CHART_H: i64 = 120;

fn sign_in_chart(series: &[(jiff::Timestamp, i64, i64)], tz: &jiff::tz::TimeZone) -> SignInChart {
    let max = series.iter().map(|(_, ok, f)| ok + f).max().unwrap_or(0).max(1);
    let bars = series
        .iter()
        .enumerate()
        .map(|(i, (t, ok, failed))| {
            let ok_h = ok * CHART_H / max;
            let fail_h = failed * CHART_H / max;
            let hour = t.to_zoned(tz.clone()).strftime("%H:00").to_string();
            ChartBar {
                x: i as i64 * 25 + 2,
                ok_y: CHART_H - ok_h,
                ok_h,
                fail_y: CHART_H - ok_h - fail_h,
                fail_h,
                title: format!("{hour}  ✓{ok} ✗{failed}"),
                show_label: i % 3 == 0,
                label: hour,
            }
        })
        .collect();
    SignInChart {
        bars,
        max,
        total_ok: series.iter().map(|s| s.1).sum(),
        total_failed: series.iter().map(|s| s.2).sum(),
    }
}

pub async fn dashboard(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    let layout = Layout::new(&st, &p, &ctx, "dash.title", &f).await;
    let lang = ctx.lang;
    let unit_name = {
        let mut c = st.services().db.read().await?;
        waterdesk_store::units::get(&mut c, p.unit_id)
            .await?
            .map(|u| if lang == Lang::En && !u.name_en.is_empty() { u.name_en } else { u.name })
            .unwrap_or_default()
    };
    let all_roles = {
        let mut c = st.services().db.read().await?;
        waterdesk_store::roles::list(&mut c).await?
    };
    let roles = p
        .roles
        .iter()
        .map(|code| {
            all_roles
                .iter()
                .find(|r| &r.code == code)
                .map(|r| if lang == Lang::En { r.name_en.clone() } else { r.name.clone() })
                .unwrap_or(code.clone())
        })
        .collect();
    let perms = permissions::ALL
        .iter()
        .filter(|d| p.has(d.code))
        .map(|d| (d.code.to_string(), if lang == Lang::En { d.en.to_string() } else { d.zh.to_string() }))
        .collect();
    let o = st.services().overview(&p).await?;
    let chart = o.sign_ins.as_deref().map(|s| sign_in_chart(s, &st.services().tz));
    Ok(html(&DashboardPage {
        users: o.users,
        jobs: o.jobs,
        chart,
        layout,
        name: p.display_name.clone(),
        unit_name,
        roles,
        perms,
        can_announce: p.has(perm::ADMIN_ANNOUNCE),
    }))
}

pub async fn announce(State(st): State<AppState>, Auth(p, ctx): Auth, form: RawForm) -> Result<Response, ApiError> {
    let r = st.services().announce(&p, form.get("message"), &ctx.audit()).await;
    after_form("/", r, "sent")
}

#[derive(Template)]
#[template(path = "password.html")]
pub struct PasswordPage {
    layout: Layout,
    must_change: bool,
    policy: String,
}

pub async fn password_page(
    State(st): State<AppState>,
    AuthAny(p, ctx): AuthAny,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    let layout = Layout::new(&st, &p, &ctx, "password.title", &f).await;
    let policy = ctx.lang.t("password.policy").replace("{n}", &st.services().auth.password_min_length.to_string());
    Ok(html(&PasswordPage { layout, must_change: p.must_change_password, policy }))
}

pub async fn password_submit(
    State(st): State<AppState>,
    AuthAny(p, ctx): AuthAny,
    form: RawForm,
) -> Result<Response, ApiError> {
    if form.get("new_password") != form.get("new_password_confirm") {
        return after_form::<()>(
            "/account/password",
            Err(ServiceError::validation("new_password_confirm", "mismatch", ctx.lang.t("password.mismatch"))),
            "",
        );
    }
    let r = st.services().change_password(&p, form.get("old_password"), form.get("new_password"), &ctx.audit()).await;
    if r.is_ok() {
        return Ok(Redirect::to("/?msg=password_changed").into_response());
    }
    after_form("/account/password", r, "password_changed")
}

#[derive(Template)]
#[template(path = "totp.html")]
pub struct TotpPage {
    layout: Layout,
    required: bool,
    enabled: bool,
    qr_svg: String,
    secret: String,
}

pub async fn totp_page(
    State(st): State<AppState>,
    AuthAny(p, ctx): AuthAny,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    let layout = Layout::new(&st, &p, &ctx, "totp.title", &f).await;
    if p.totp_enabled {
        return Ok(html(&TotpPage {
            layout,
            required: false,
            enabled: true,
            qr_svg: String::new(),
            secret: String::new(),
        }));
    }
    let uri = st.services().totp_begin(&p).await?;
    let secret = waterdesk_services::auth::secret_from_uri(&uri).unwrap_or_default();
    let qr_svg = qrcode::QrCode::new(uri.as_bytes())
        .map(|c| c.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).build())
        .unwrap_or_default();
    Ok(html(&TotpPage { layout, required: p.must_enrol_totp, enabled: false, qr_svg, secret }))
}

pub async fn totp_submit(
    State(st): State<AppState>,
    AuthAny(p, ctx): AuthAny,
    form: RawForm,
) -> Result<Response, ApiError> {
    let r = st.services().totp_confirm(&p, form.get("totp"), &ctx.audit()).await;
    after_form("/account/totp", r, "totp_enabled")
}

#[derive(Template)]
#[template(path = "api_docs.html")]
pub struct ApiDocsPage;

/// Public: the API description is no secret, and integrators read it before they have accounts.
pub async fn api_docs() -> Response {
    html(&ApiDocsPage)
}
