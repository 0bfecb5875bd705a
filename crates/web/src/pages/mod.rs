//! Server-rendered pages (askama templates, compiled in): the web shell, sign-in, own
//! account and the administration console. Handlers call the same service functions as
//! the JSON API.

pub mod account;
pub mod admin;
pub mod campaigns;
pub mod console;
pub mod contacts;
pub mod customers;
pub mod dashboard;
pub mod dispatch;
pub mod field;
pub mod order_types;
pub mod orders;
pub mod plans;
pub mod query;
pub mod reports;
pub mod stats;

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use waterdesk_domain::permissions::perm;
use waterdesk_services::{Principal, ServiceError};

use crate::auth::RequestCtx;
use crate::error::{ApiError, status_of};
use crate::i18n::Lang;
use crate::state::AppState;

/// Every page route: (method, path). The authorisation matrix test checks this list.
pub const PAGE_ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/login/totp"),
    ("POST", "/login/totp"),
    ("POST", "/logout"),
    ("GET", "/lang/{code}"),
    ("GET", "/account/password"),
    ("POST", "/account/password"),
    ("GET", "/account/totp"),
    ("POST", "/account/totp"),
    ("POST", "/announcements"),
    ("GET", "/console"),
    ("GET", "/contacts"),
    ("GET", "/contacts/export.csv"),
    ("GET", "/contacts/{id}"),
    ("POST", "/contacts/{id}/qa"),
    ("GET", "/campaigns"),
    ("POST", "/campaigns"),
    ("GET", "/campaigns/{id}"),
    ("POST", "/campaigns/{id}/generate"),
    ("POST", "/campaigns/{id}/assign"),
    ("POST", "/campaigns/{id}/close"),
    ("GET", "/orders"),
    ("POST", "/orders"),
    ("GET", "/orders/new"),
    ("GET", "/orders/{id}"),
    ("GET", "/orders/{id}/print"),
    ("POST", "/orders/{id}/actions/{action}"),
    ("GET", "/plans"),
    ("POST", "/plans"),
    ("GET", "/plans/{id}"),
    ("POST", "/plans/{id}/enable"),
    ("POST", "/plans/{id}/disable"),
    ("POST", "/orders/{id}/merge"),
    ("POST", "/orders/{id}/contacts"),
    ("GET", "/customers"),
    ("POST", "/customers"),
    ("GET", "/customers/new"),
    ("GET", "/customers/import"),
    ("GET", "/customers/{id}"),
    ("POST", "/customers/{id}"),
    ("POST", "/customers/{id}/accounts"),
    ("GET", "/accounts/{id}"),
    ("POST", "/accounts/{id}"),
    ("POST", "/accounts/{id}/meters"),
    ("POST", "/accounts/{id}/readings"),
    ("POST", "/accounts/{id}/payments"),
    ("GET", "/admin/units"),
    ("POST", "/admin/units"),
    ("POST", "/admin/units/{id}"),
    ("POST", "/admin/units/{id}/delete"),
    ("GET", "/admin/users"),
    ("GET", "/admin/users/export.csv"),
    ("GET", "/admin/users/new"),
    ("POST", "/admin/users"),
    ("GET", "/admin/users/{id}"),
    ("POST", "/admin/users/{id}"),
    ("POST", "/admin/users/{id}/roles"),
    ("POST", "/admin/users/{id}/unlock"),
    ("POST", "/admin/users/{id}/reset-password"),
    ("POST", "/admin/users/{id}/tokens"),
    ("POST", "/admin/tokens/{id}/revoke"),
    ("GET", "/admin/roles"),
    ("POST", "/admin/roles"),
    ("GET", "/admin/roles/{id}"),
    ("POST", "/admin/roles/{id}"),
    ("POST", "/admin/roles/{id}/delete"),
    ("GET", "/admin/dicts"),
    ("GET", "/admin/order-types"),
    ("GET", "/admin/order-types/{code}"),
    ("POST", "/admin/order-types/{code}"),
    ("POST", "/admin/dicts/{code}/items"),
    ("POST", "/admin/dicts/{code}/items/{id}"),
    ("GET", "/admin/params"),
    ("POST", "/admin/params/{key}"),
    ("GET", "/admin/audit"),
    ("GET", "/admin/audit/export.csv"),
    ("GET", "/admin/jobs"),
    ("GET", "/admin/webhooks"),
    ("POST", "/admin/webhooks"),
    ("GET", "/admin/webhooks/{id}"),
    ("POST", "/admin/webhooks/{id}/enable"),
    ("POST", "/admin/webhooks/{id}/disable"),
    ("GET", "/api/docs"),
    ("GET", "/dispatch"),
    ("GET", "/stats"),
    ("GET", "/reports"),
    ("POST", "/reports"),
    ("GET", "/reports/{id}"),
    ("POST", "/reports/{id}"),
    ("POST", "/reports/{id}/delete"),
    ("GET", "/reports/{id}/export.xlsx"),
    ("GET", "/reports/{id}/print"),
    ("GET", "/dashboard"),
    ("GET", "/progress"),
    ("GET", "/query"),
    ("GET", "/query/print"),
    ("GET", "/m"),
    ("GET", "/m/orders/{id}"),
    ("GET", "/m/manifest.webmanifest"),
    ("GET", "/m/sw.js"),
    ("GET", "/m/icon.svg"),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(account::dashboard))
        .route("/login", get(account::login_page).post(account::login_submit))
        .route("/login/totp", get(account::totp_login_page).post(account::totp_login_submit))
        .route("/logout", post(account::logout))
        .route("/lang/{code}", get(account::set_lang))
        .route("/account/password", get(account::password_page).post(account::password_submit))
        .route("/account/totp", get(account::totp_page).post(account::totp_submit))
        .route("/announcements", post(account::announce))
        .route("/api/docs", get(account::api_docs))
        .merge(admin::router())
        .merge(customers::router())
        .merge(console::router())
        .merge(contacts::router())
        .merge(campaigns::router())
        .merge(field::router())
        .merge(dispatch::router())
        .merge(order_types::router())
        .merge(orders::router())
        .merge(plans::router())
        .merge(reports::router())
        .merge(query::router())
        .merge(stats::router())
        .merge(dashboard::router())
}

/// A name in the page's language: the English one when it is wanted and exists.
pub fn pick(lang: Lang, zh: &str, en: &str) -> String {
    if lang == Lang::En && !en.is_empty() { en.to_string() } else { zh.to_string() }
}

/// Renders a template into an HTML response.
pub fn html<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(body) => {
            let mut r = body.into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal").into_response()
        }
    }
}

/// Redirect after a form: success flash `msg`, or a validation-type failure shown on the
/// page it came from. Authorisation failures and internal errors propagate (403 page, 500).
pub fn after_form<T>(to: &str, r: Result<T, ServiceError>, ok: &str) -> Result<Response, ApiError> {
    let sep = if to.contains('?') { '&' } else { '?' };
    match r {
        Ok(_) => Ok(Redirect::to(&format!("{to}{sep}msg={ok}")).into_response()),
        Err(e)
            if status_of(&e).is_client_error()
                && !matches!(
                    e,
                    ServiceError::Forbidden { .. } | ServiceError::Unauthenticated | ServiceError::SessionExpired
                ) =>
        {
            let detail = match &e {
                ServiceError::Validation { field, detail, .. } => format!("{field}: {detail}"),
                _ => String::new(),
            };
            Ok(Redirect::to(&format!("{to}{sep}err={}&detail={}", e.code(), urlencoding::encode(&detail)))
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// SVG path data (24×24) of the navigation icons.
pub mod icon {
    pub const HOME: &str = "M3 11 12 3l9 8v10h-6v-6H9v6H3z";
    pub const PHONE: &str = "M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25 11.4 11.4 0 0 0 3.6.57 1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1z";
    pub const BUILDING: &str = "M4 21V3h10v6h6v12H4zm3-14v2h2V7zm4 0v2h2V7zm-4 4v2h2v-2zm4 0v2h2v-2zm-4 4v2h2v-2zm4 0v2h2v-2zm5-2v2h2v-2zm0 4v2h2v-2z";
    pub const USERS: &str = "M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm-7 10c0-4 3-6 7-6s7 2 7 6zm15-10a3 3 0 1 0 0-6zm1 3c3 0 5 2 5 5v2h-4c0-3-1-5-3-7z";
    pub const BOOK: &str = "M4 4h7a3 3 0 0 1 3 3v14a2 2 0 0 0-2-2H4zm16 0h-4a3 3 0 0 0-1 .2V21a2 2 0 0 1 2-2h3z";
    pub const GEAR: &str = "M12 8a4 4 0 1 0 0 8 4 4 0 0 0 0-8zM3 11h3v2H3zm15 0h3v2h-3zM11 3h2v3h-2zm0 15h2v3h-2z";
    pub const CLOCK: &str = "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 5h-2v6l5 3 1-1.7-4-2.3z";
    pub const LOCK: &str = "M6 10V7a6 6 0 0 1 12 0v3h1v11H5V10zm2 0h8V7a4 4 0 0 0-8 0z";
    pub const SCROLL: &str = "M5 3h11l3 3v15H5zm3 5v2h8V8zm0 4v2h8v-2zm0 4v2h5v-2z";
    pub const CHART: &str = "M3 3h2v16h16v2H3zm4 10h3v5H7zm5-5h3v10h-3zm5-4h3v14h-3z";
    pub const CLIPBOARD: &str = "M5 4h4v2h6V4h4v18H5zm2 2v14h10V6h-2v2H9V6zm3-4h4v3h-4zm-1 9h6v2H9zm0 4h6v2H9z";
    pub const CODE: &str = "M8 6 2 12l6 6 1.4-1.4L4.8 12l4.6-4.6zm8 0-1.4 1.4 4.6 4.6-4.6 4.6L16 18l6-6z";
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(super::csv_cell("plain"), "plain");
        assert_eq!(super::csv_cell("a,b"), "\"a,b\"");
        assert_eq!(super::csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(super::csv_cell("=cmd()"), "'=cmd()");
        assert_eq!(super::csv_cell("-1+2"), "'-1+2");
    }
}

#[derive(Debug, Clone)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub icon: &'static str,
    pub active: bool,
}

#[derive(Debug, Clone)]
pub struct NavSection {
    pub title: &'static str,
    pub items: Vec<NavItem>,
}

#[derive(Debug, Clone)]
pub struct UserBadge {
    pub username: String,
    pub display_name: String,
    pub initial: String,
}

#[derive(Debug, Clone)]
pub struct Flash {
    /// `ok`, `error`, `warn`.
    pub kind: &'static str,
    pub message: String,
    /// A one-time secret to show (generated password).
    pub secret: String,
}

/// What every page's layout needs.
pub struct Layout {
    pub lang: Lang,
    pub title: String,
    pub path: String,
    pub csrf: String,
    pub user: Option<UserBadge>,
    pub nav: Vec<NavSection>,
    pub flash: Option<Flash>,
    pub org_name: String,
    pub hotline: String,
    pub tz: jiff::tz::TimeZone,
}

/// Query keys the layout reads for flash messages.
#[derive(Debug, Default, serde::Deserialize)]
pub struct FlashQuery {
    pub msg: Option<String>,
    pub err: Option<String>,
    pub detail: Option<String>,
}

impl Layout {
    pub async fn new(st: &AppState, p: &Principal, ctx: &RequestCtx, title_key: &str, flash: &FlashQuery) -> Layout {
        let lang = ctx.lang;
        let s = st.services();
        let org_name = s.param_value("org.name").await.ok().flatten().unwrap_or_default();
        let hotline = s.param_value("org.hotline").await.ok().flatten().unwrap_or_default();
        let flash = if let Some(code) =
            flash.err.as_deref().filter(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        {
            Some(Flash {
                kind: "error",
                message: format!("{} {}", lang.t(&format!("error.{code}")), flash.detail.clone().unwrap_or_default()),
                secret: String::new(),
            })
        } else {
            flash.msg.as_deref().filter(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')).map(|m| Flash {
                kind: "ok",
                message: lang.t(&format!("msg.{m}")).to_string(),
                secret: String::new(),
            })
        };
        Layout {
            lang,
            title: lang.t(title_key).to_string(),
            path: ctx.path.clone(),
            csrf: p.csrf_token.clone(),
            user: Some(UserBadge {
                username: p.username.clone(),
                display_name: p.display_name.clone(),
                initial: p.display_name.chars().next().map(|c| c.to_string()).unwrap_or_default(),
            }),
            nav: nav(lang, p, &ctx.path),
            flash,
            org_name,
            hotline,
            tz: s.tz.clone(),
        }
    }

    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    pub fn path_encoded(&self) -> String {
        urlencoding::encode(&self.path).into_owned()
    }

    /// Local date-time for display.
    pub fn dt(&self, ts: &jiff::Timestamp) -> String {
        fmt_local(*ts, &self.tz)
    }
}

pub fn fmt_local(ts: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> String {
    ts.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M:%S").to_string()
}

fn nav(lang: Lang, p: &Principal, path: &str) -> Vec<NavSection> {
    let item = |href: &'static str, key: &str, icon: &'static str| NavItem {
        href,
        label: lang.t(key),
        icon,
        active: if href == "/" { path == "/" } else { path.starts_with(href) },
    };
    let mut main = vec![item("/", "nav.dashboard", icon::HOME)];
    if p.has(perm::CONTACT_WRITE) {
        main.push(item("/console", "nav.console", icon::PHONE));
    }
    if p.has(perm::CUSTOMER_READ) {
        main.push(item("/customers", "nav.customers", icon::USERS));
    }
    if p.has(perm::CONTACT_READ) {
        main.push(item("/contacts", "nav.contacts", icon::SCROLL));
    }
    if p.has(perm::CAMPAIGN_MANAGE) {
        main.push(item("/campaigns", "nav.campaigns", icon::PHONE));
    }
    if p.has(perm::ORDER_READ) {
        main.push(item("/orders", "nav.orders", icon::CLIPBOARD));
        main.push(item("/query", "nav.query", icon::SCROLL));
    }
    if p.has(perm::ORDER_DISPATCH) {
        main.push(item("/plans", "nav.plans", icon::CLOCK));
    }
    if p.has(perm::ORDER_DISPATCH) {
        main.push(item("/dispatch", "nav.dispatch", icon::CLOCK));
    }
    if p.has(perm::ORDER_HANDLE) {
        main.push(item("/m", "nav.field", icon::PHONE));
    }
    if p.has(perm::REPORT_READ) {
        main.push(item("/dashboard", "nav.supervisor", icon::CHART));
        main.push(item("/stats", "nav.stats", icon::CLIPBOARD));
        main.push(item("/reports", "nav.reports", icon::CHART));
    }
    if !p.has(perm::PORTAL_SELF) || p.permissions.len() > 1 {
        main.push(item("/api/docs", "nav.api_docs", icon::CODE));
    }
    let mut admin = Vec::new();
    if p.has(perm::ADMIN_UNIT_READ) {
        admin.push(item("/admin/units", "nav.units", icon::BUILDING));
    }
    if p.has(perm::ADMIN_USER_READ) {
        admin.push(item("/admin/users", "nav.users", icon::USERS));
    }
    if p.has(perm::DICT_READ) {
        admin.push(item("/admin/dicts", "nav.dicts", icon::BOOK));
    }
    if p.has(perm::ADMIN_DICT_WRITE) {
        admin.push(item("/admin/order-types", "nav.order_types", icon::SCROLL));
    }
    if p.has(perm::ADMIN_PARAM_READ) {
        admin.push(item("/admin/params", "nav.params", icon::GEAR));
    }
    if p.has(perm::ADMIN_JOB_READ) {
        admin.push(item("/admin/jobs", "nav.jobs", icon::CLOCK));
    }
    if p.has(perm::ADMIN_PARAM_READ) {
        admin.push(item("/admin/webhooks", "nav.webhooks", icon::CODE));
    }
    let mut security = Vec::new();
    if p.has(perm::SECURITY_ROLE_READ) {
        security.push(item("/admin/roles", "nav.roles", icon::LOCK));
    }
    if p.has(perm::AUDIT_READ) {
        security.push(item("/admin/audit", "nav.audit", icon::SCROLL));
    }
    let mut out = vec![NavSection { title: "", items: main }];
    if !admin.is_empty() {
        out.push(NavSection { title: lang.t("nav.admin"), items: admin });
    }
    if !security.is_empty() {
        out.push(NavSection { title: lang.t("nav.security"), items: security });
    }
    out
}

/// Standalone error page.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub lang: Lang,
    pub status: u16,
    pub message: String,
    pub detail: String,
}

impl ErrorPage {
    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }
}

/// A dictionary item for selects and tables: (code, label in the page's language).
pub type Choice = (String, String);

/// A dictionary's items as choices, labelled in `lang` (Chinese when there is no English).
pub async fn dict_choices(
    st: &AppState,
    p: &Principal,
    lang: Lang,
    dict: &str,
    include_disabled: bool,
) -> Result<Vec<Choice>, ApiError> {
    Ok(st
        .services()
        .dict_items(p, dict, include_disabled)
        .await?
        .into_iter()
        .map(|i| (i.code, if lang == Lang::Zh || i.label_en.is_empty() { i.label_zh } else { i.label_en }))
        .collect())
}

/// The label of a code (the code itself when the dictionary does not know it; empty for empty).
pub fn choice_label(list: &[Choice], code: &str) -> String {
    if code.is_empty() {
        return String::new();
    }
    list.iter().find(|(c, _)| c == code).map(|(_, l)| l.clone()).unwrap_or_else(|| code.to_string())
}

/// A CSV download: UTF-8 with BOM (so Excel shows Chinese correctly), RFC 4180 quoting,
/// and cells that a spreadsheet would run as formulas neutralised with a leading `'`.
pub fn csv_response(filename: &str, header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> Response {
    let mut out = String::from("\u{feff}");
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = String>| {
        let mut first = true;
        for c in cells {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&csv_cell(&c));
        }
        out.push_str("\r\n");
    };
    line(&mut out, &mut header.iter().map(|h| h.to_string()));
    for r in rows {
        line(&mut out, &mut r.into_iter());
    }
    let mut resp = out.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// One CSV cell: quoted when needed, formula-like values defused.
pub fn csv_cell(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{v}") } else { v.to_string() };
    if v.contains([',', '"', '\n', '\r']) { format!("\"{}\"", v.replace('"', "\"\"")) } else { v }
}

/// A form body as ordered pairs (repeated keys allowed, e.g. checkboxes).
pub struct RawForm(pub Vec<(String, String)>);

impl RawForm {
    pub fn get(&self, k: &str) -> &str {
        self.0.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    pub fn all(&self, k: &str) -> Vec<String> {
        self.0.iter().filter(|(key, _)| key == k).map(|(_, v)| v.clone()).collect()
    }

    pub fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), "true" | "on" | "1")
    }

    pub fn int(&self, k: &str) -> Option<i64> {
        self.get(k).trim().parse().ok()
    }
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for RawForm {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::new(axum::http::StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"))?;
        let pairs = form_urlencoded_pairs(&bytes);
        Ok(RawForm(pairs))
    }
}

/// Decodes an `application/x-www-form-urlencoded` body into ordered pairs.
pub fn form_urlencoded_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    let s = String::from_utf8_lossy(bytes);
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |x: &str| urlencoding::decode(&x.replace('+', " ")).map(|c| c.into_owned()).unwrap_or_default();
            (dec(k), dec(v))
        })
        .collect()
}
