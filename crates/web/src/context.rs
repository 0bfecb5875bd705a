//! The request pipeline in one middleware: language, client address, authentication,
//! CSRF, the operation log for refused writes, metrics, and rendering of errors.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use http_body::Body as _;
use waterdesk_services::principal::AuthVia;

use crate::auth::{CSRF_COOKIE, RequestCtx, SESSION_COOKIE, cookie, same_token};
use crate::error::{ErrorBody, ErrorDetail, ErrorInfo, code_for_status};
use crate::i18n::Lang;
use crate::state::AppState;

fn is_unsafe(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The client's address. Behind a trusted reverse proxy, the **last** `X-Forwarded-For`
/// entry: the one the proxy appended for the peer it saw. Earlier entries come from the
/// client and can be forged — taking the first would let anybody choose the address the
/// audit log records and the rate limits count (several proxies in a row: let the outer
/// one set the header, e.g. nginx `proxy_set_header X-Forwarded-For $remote_addr`).
fn client_ip(req: &Request, trust_xff: bool) -> String {
    if trust_xff
        && let Some(v) = req.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).next_back()
        && let Some(last) = v.rsplit(',').next().map(str::trim).filter(|s| !s.is_empty())
    {
        return last.chars().take(64).collect();
    }
    req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()).unwrap_or_else(|| "unknown".into())
}

/// Parses a body as JSON or a form into a JSON value for the audit log.
fn body_params(content_type: &str, bytes: &Bytes) -> serde_json::Value {
    if bytes.is_empty() {
        return serde_json::json!({});
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let map: serde_json::Map<String, serde_json::Value> =
            form_pairs(bytes).into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
        return serde_json::Value::Object(map);
    }
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(v) => v,
        Err(_) => serde_json::json!({"_body": format!("{} bytes, not JSON", bytes.len())}),
    }
}

use crate::pages::form_urlencoded_pairs as form_pairs;

pub async fn context(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let lang = Lang::from_headers(req.headers());
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let is_api = path.starts_with("/api/");
    let ip = client_ip(&req, st.0.settings.trust_forwarded_for);
    let route =
        req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let request_id =
        req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string).unwrap_or_default();
    let services = st.services().clone();

    // Authenticate: bearer header first, then the session cookie.
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|s| s.trim().to_string());
    let session_cookie = cookie(req.headers(), SESSION_COOKIE);
    // Static assets are public: no session look-up for every stylesheet and script. Public
    // API operations ignore credentials altogether (a signed-in member of staff using the
    // public progress page is an anonymous caller there, so no CSRF token is needed).
    let public_api = path.starts_with("/api/v1/public/");
    let auth = if path.starts_with("/assets/") || public_api {
        None
    } else if let Some(t) = bearer.as_deref() {
        Some(services.authenticate(t, AuthVia::Session).await)
    } else if let Some(c) = session_cookie.as_deref() {
        Some(services.authenticate(c, AuthVia::Cookie).await)
    } else {
        None
    };

    // Buffer the body of writes (bounded) for CSRF form fields and the audit log.
    let unsafe_method = is_unsafe(&method);
    let content_type =
        req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let (mut parts, body) = req.into_parts();
    let bytes = if unsafe_method {
        let limit = if public_api {
            PUBLIC_BODY_BYTES
        } else if path.starts_with("/api/v1/imports/") {
            st.0.settings.max_import_bytes
        } else if path.ends_with("/attachments") {
            st.0.settings.max_attachment_bytes
        } else {
            st.0.settings.max_body_bytes
        };
        match axum::body::to_bytes(body, limit).await {
            Ok(b) => b,
            Err(_) => {
                let ctx = Arc::new(RequestCtx {
                    lang,
                    ip,
                    method: method.to_string(),
                    path,
                    is_api,
                    auth: None,
                    login_csrf: None,
                    request_id,
                });
                return render_error(
                    &ctx,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorInfo { code: "payload_too_large", field: None, detail: None, retry_after: None },
                );
            }
        }
    } else {
        Bytes::new()
    };
    let form_csrf = if unsafe_method && content_type.starts_with("application/x-www-form-urlencoded") {
        form_pairs(&bytes).into_iter().find(|(k, _)| k == "_csrf").map(|(_, v)| v)
    } else {
        None
    };
    let login_csrf = cookie(&parts.headers, CSRF_COOKIE);

    let ctx = Arc::new(RequestCtx {
        lang,
        ip,
        method: method.to_string(),
        path: path.clone(),
        is_api,
        auth,
        login_csrf,
        request_id,
    });

    // CSRF: cookie-authenticated writes must echo the session's token (header or form
    // field); unauthenticated page forms (sign-in) must echo the pre-session cookie.
    if unsafe_method && bearer.is_none() && !public_api {
        let presented =
            parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).map(str::to_string).or(form_csrf);
        let ok = match ctx.principal() {
            Some(p) if p.via == AuthVia::Cookie => presented.as_deref().is_some_and(|t| same_token(t, &p.csrf_token)),
            _ if is_api => true,
            _ => match (presented.as_deref(), ctx.login_csrf.as_deref()) {
                (Some(a), Some(b)) => same_token(a, b),
                _ => false,
            },
        };
        if !ok {
            let audit = ctx.audit();
            let _ = services
                .audit_http(&audit, waterdesk_services::audit::redact(body_params(&content_type, &bytes)), 403)
                .await;
            metrics::counter!("http_requests_total", "method" => method.to_string(), "route" => route, "status" => "403").increment(1);
            return render_error(
                &ctx,
                StatusCode::FORBIDDEN,
                ErrorInfo { code: "csrf_failed", field: None, detail: None, retry_after: None },
            );
        }
    }

    parts.extensions.insert(ctx.clone());
    let params = if unsafe_method { Some(body_params(&content_type, &bytes)) } else { None };
    let req = Request::from_parts(parts, Body::from(bytes));
    let resp = next.run(req).await;
    let status = resp.status();

    // The operation log: services audit their successful writes in-transaction; refused
    // and failed writes are recorded here. Denied reads are security events too.
    let info = resp.extensions().get::<ErrorInfo>().cloned();
    // Rate-limited requests are not recorded one by one: a flood would turn into a flood of
    // audit appends (they are counted in the metrics and logged by the limiter's caller).
    let failed = (status.is_client_error() || status.is_server_error()) && status != StatusCode::TOO_MANY_REQUESTS;
    if let Some(params) = params.filter(|_| failed) {
        if path != "/api/v1/auth/login" && path != "/login" && path != "/login/totp" {
            let _ = services.audit_http(&ctx.audit(), waterdesk_services::audit::redact(params), status.as_u16()).await;
        }
    } else if status == StatusCode::FORBIDDEN && info.as_ref().is_some_and(|i| i.code == "forbidden") {
        let perm = info.as_ref().and_then(|i| i.detail.clone()).unwrap_or_default();
        let _ = services.audit_denied(&ctx.audit(), &perm).await;
    }

    metrics::counter!("http_requests_total", "method" => method.to_string(), "route" => route.clone(), "status" => status.as_u16().to_string()).increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method.to_string(), "route" => route)
        .record(started.elapsed().as_secs_f64());

    if let Some(info) = info {
        return render_error(&ctx, status, info);
    }
    if (status.is_client_error() || status.is_server_error()) && resp.body().size_hint().exact() == Some(0) {
        return render_error(
            &ctx,
            status,
            ErrorInfo { code: code_for_status(status), field: None, detail: None, retry_after: None },
        );
    }
    resp
}

/// Largest body of a public API operation (a progress look-up is a few dozen bytes).
const PUBLIC_BODY_BYTES: usize = 4096;

/// Renders an error for the API (JSON) or for a page (HTML or a redirect).
pub fn render_error(ctx: &RequestCtx, status: StatusCode, info: ErrorInfo) -> Response {
    let retry_after = info.retry_after;
    let mut r = render_error_body(ctx, status, info);
    if let Some(secs) = retry_after
        && let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

fn render_error_body(ctx: &RequestCtx, status: StatusCode, info: ErrorInfo) -> Response {
    let message = ctx.lang.t(&format!("error.{}", info.code)).to_string();
    if !ctx.is_api {
        match info.code {
            "unauthenticated" | "session_expired" => {
                let next = urlencoding::encode(&ctx.path).into_owned();
                let mut r = Redirect::to(&format!("/login?next={next}&reason={}", info.code)).into_response();
                // A stale cookie would be sent again and again; drop it.
                if let Ok(v) = HeaderValue::from_str(&crate::auth::set_cookie(SESSION_COOKIE, "", Some(0), false, true))
                {
                    r.headers_mut().append(header::SET_COOKIE, v);
                }
                return r;
            }
            "password_change_required" => return Redirect::to("/account/password").into_response(),
            "totp_enrolment_required" => return Redirect::to("/account/totp").into_response(),
            _ => {}
        }
        let page = crate::pages::ErrorPage {
            lang: ctx.lang,
            status: status.as_u16(),
            message,
            detail: info.detail.clone().unwrap_or_default(),
        };
        let mut r = crate::pages::html(&page);
        *r.status_mut() = status;
        return r;
    }
    let body = ErrorBody {
        error: ErrorDetail {
            code: info.code.to_string(),
            message,
            field: info.field,
            detail: info.detail,
            request_id: Some(ctx.request_id.clone()).filter(|s| !s.is_empty()),
        },
    };
    let mut r = (status, axum::Json(body)).into_response();
    r.headers_mut().insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(ctx.lang.code()));
    r
}
