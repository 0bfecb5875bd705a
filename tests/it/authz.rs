//! The authorisation matrix (R-SYS-01): every API operation and every page, for every
//! built-in role, is allowed exactly when the role holds the permission; anonymous
//! callers are refused everywhere except the public entry points.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use waterdesk_domain::BuiltinRole;
use waterdesk_domain::permissions::perm;

use crate::backend_test;
use crate::helpers::{TestApp, Web};

/// Who may call a route.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Need {
    Public,
    /// Any signed-in user (self-service).
    Any,
    Perm(&'static str),
    AnyOf(&'static [&'static str]),
    AllOf(&'static [&'static str]),
}

impl Need {
    pub(crate) fn allows(self, perms: &[&str]) -> bool {
        match self {
            Need::Public | Need::Any => true,
            Need::Perm(p) => perms.contains(&p),
            Need::AnyOf(ps) => ps.iter().any(|p| perms.contains(p)),
            Need::AllOf(ps) => ps.iter().all(|p| perms.contains(p)),
        }
    }
}

const NOPE: &str = "999999";

/// (method, OpenAPI path, need, body for a role)
/// An API route: method, OpenAPI path, who may call it, a request body for a caller.
pub(crate) type ApiRoute = (Method, &'static str, Need, fn(&str) -> Option<Value>);

pub(crate) fn api_routes() -> Vec<ApiRoute> {
    use Need::*;
    fn none(_: &str) -> Option<Value> {
        None
    }
    vec![
        (Method::POST, "/api/v1/auth/login", Public, |_| Some(json!({"username": "x", "password": "y"}))),
        (Method::POST, "/api/v1/auth/logout", Any, none),
        (Method::GET, "/api/v1/me", Any, none),
        (Method::POST, "/api/v1/me/password", Any, |_| Some(json!({"old_password": "x", "new_password": "y"}))),
        (Method::POST, "/api/v1/me/totp", Any, none),
        (Method::POST, "/api/v1/me/totp/confirm", Any, |_| Some(json!({"totp": "1"}))),
        (Method::GET, "/api/v1/units", Perm(perm::ADMIN_UNIT_READ), none),
        (Method::POST, "/api/v1/units", Perm(perm::ADMIN_UNIT_WRITE), |r| {
            Some(json!({"parent_id": 1, "code": format!("m_{r}"), "name": "矩阵", "kind": "branch"}))
        }),
        (Method::GET, "/api/v1/units/{id}", Perm(perm::ADMIN_UNIT_READ), none),
        (Method::PUT, "/api/v1/units/{id}", Perm(perm::ADMIN_UNIT_WRITE), |_| {
            Some(json!({"code": "x", "name": "x", "kind": "branch"}))
        }),
        (Method::DELETE, "/api/v1/units/{id}", Perm(perm::ADMIN_UNIT_WRITE), none),
        (Method::GET, "/api/v1/users", Perm(perm::ADMIN_USER_READ), none),
        (Method::POST, "/api/v1/users", Perm(perm::ADMIN_USER_WRITE), |r| {
            Some(json!({"username": format!("m.{r}"), "display_name": "矩阵", "unit_id": 1}))
        }),
        (Method::GET, "/api/v1/users/{id}", Perm(perm::ADMIN_USER_READ), none),
        (Method::PUT, "/api/v1/users/{id}", Perm(perm::ADMIN_USER_WRITE), |_| {
            Some(json!({"display_name": "x", "unit_id": 1, "data_scope": "all"}))
        }),
        (Method::PUT, "/api/v1/users/{id}/roles", Perm(perm::SECURITY_USER_GRANT), |_| Some(json!({"roles": []}))),
        (Method::POST, "/api/v1/users/{id}/unlock", Perm(perm::SECURITY_USER_UNLOCK), none),
        (Method::POST, "/api/v1/users/{id}/reset-password", Perm(perm::SECURITY_USER_UNLOCK), |_| Some(json!({}))),
        (Method::GET, "/api/v1/users/{id}/tokens", Perm(perm::ADMIN_USER_READ), none),
        (Method::POST, "/api/v1/users/{id}/tokens", Perm(perm::SECURITY_USER_GRANT), |_| {
            Some(json!({"name": "x", "scopes": []}))
        }),
        (Method::DELETE, "/api/v1/tokens/{id}", Perm(perm::SECURITY_USER_GRANT), none),
        (Method::GET, "/api/v1/roles", AnyOf(&[perm::SECURITY_ROLE_READ, perm::ADMIN_USER_READ]), none),
        (Method::POST, "/api/v1/roles", Perm(perm::SECURITY_ROLE_WRITE), |r| {
            Some(json!({"code": format!("m_{r}"), "name": "矩阵", "permissions": []}))
        }),
        (Method::GET, "/api/v1/roles/{id}", Perm(perm::SECURITY_ROLE_READ), none),
        (Method::PUT, "/api/v1/roles/{id}", Perm(perm::SECURITY_ROLE_WRITE), |_| {
            Some(json!({"code": "x", "name": "x", "permissions": []}))
        }),
        (Method::DELETE, "/api/v1/roles/{id}", Perm(perm::SECURITY_ROLE_WRITE), none),
        (Method::GET, "/api/v1/permissions", Perm(perm::SECURITY_ROLE_READ), none),
        (Method::GET, "/api/v1/dicts", Perm(perm::DICT_READ), none),
        (Method::GET, "/api/v1/dicts/{code}/items", Perm(perm::DICT_READ), none),
        (Method::POST, "/api/v1/dicts/{code}/items", Perm(perm::ADMIN_DICT_WRITE), |r| {
            Some(json!({"code": format!("m_{r}"), "label_zh": "矩阵"}))
        }),
        (Method::PUT, "/api/v1/dicts/{code}/items/{id}", Perm(perm::ADMIN_DICT_WRITE), |_| {
            Some(json!({"code": "x", "label_zh": "x"}))
        }),
        (Method::GET, "/api/v1/params", Perm(perm::ADMIN_PARAM_READ), none),
        (Method::PUT, "/api/v1/params/{key}", Perm(perm::ADMIN_PARAM_WRITE), |_| Some(json!({"value": "96390"}))),
        (Method::GET, "/api/v1/audit", Perm(perm::AUDIT_READ), none),
        (Method::GET, "/api/v1/jobs", Perm(perm::ADMIN_JOB_READ), none),
        (Method::GET, "/api/v1/events/stream", Any, none),
        (Method::GET, "/api/v1/customers", Perm(perm::CUSTOMER_READ), none),
        (Method::POST, "/api/v1/customers", Perm(perm::CUSTOMER_WRITE), |_| {
            Some(json!({"kind": "person", "name": "矩阵"}))
        }),
        (Method::GET, "/api/v1/customers/{id}", Perm(perm::CUSTOMER_READ), none),
        (Method::PUT, "/api/v1/customers/{id}", Perm(perm::CUSTOMER_WRITE), |_| {
            Some(json!({"kind": "person", "name": "矩阵"}))
        }),
        (Method::POST, "/api/v1/accounts", Perm(perm::CUSTOMER_WRITE), |r| {
            Some(
                json!({"account_no": format!("M{}", r.len()), "holder_id": 999999, "address": "x", "category": "residential"}),
            )
        }),
        (Method::GET, "/api/v1/accounts/{id}", Perm(perm::CUSTOMER_READ), none),
        (Method::PUT, "/api/v1/accounts/{id}", Perm(perm::CUSTOMER_WRITE), |_| {
            Some(json!({"account_no": "M0001", "holder_id": 1, "address": "x", "category": "residential"}))
        }),
        (Method::POST, "/api/v1/accounts/{id}/meters", Perm(perm::CUSTOMER_WRITE), |_| {
            Some(json!({"serial": "x", "diameter_mm": 20, "installed_on": "2026-01-01"}))
        }),
        (Method::POST, "/api/v1/accounts/{id}/readings", Perm(perm::BILLING_WRITE), |_| {
            Some(json!({"meter_id": 1, "read_on": "2026-01-01", "reading": 1}))
        }),
        (Method::POST, "/api/v1/accounts/{id}/payments", Perm(perm::BILLING_WRITE), |_| {
            Some(json!({"channel": "wechat", "amount_fen": 100, "external_txn_id": "x"}))
        }),
        (Method::GET, "/api/v1/tariffs", Perm(perm::CUSTOMER_READ), none),
        (Method::POST, "/api/v1/imports/{kind}/preview", Perm(perm::CUSTOMER_WRITE), |_| Some(json!({}))),
        (Method::POST, "/api/v1/imports/{kind}", Perm(perm::CUSTOMER_WRITE), |_| Some(json!({}))),
        (
            Method::GET,
            "/api/v1/imports/runs",
            AnyOf(&[perm::CUSTOMER_WRITE, perm::BILLING_WRITE, perm::ADMIN_JOB_READ]),
            none,
        ),
        (Method::GET, "/api/v1/imports/runs/{id}", Any, none),
        (Method::GET, "/api/v1/exports/{kind}", AllOf(&[perm::CUSTOMER_READ, perm::REPORT_EXPORT]), none),
        (Method::GET, "/api/v1/contacts", Perm(perm::CONTACT_READ), none),
        (Method::POST, "/api/v1/contacts", Perm(perm::CONTACT_WRITE), |_| Some(json!({"category": "consultation"}))),
        (Method::GET, "/api/v1/contacts/daily", Perm(perm::CONTACT_READ), none),
        (Method::GET, "/api/v1/contacts/{id}", Perm(perm::CONTACT_READ), none),
        (Method::PUT, "/api/v1/contacts/{id}", Perm(perm::CONTACT_WRITE), |_| {
            Some(json!({"category": "consultation"}))
        }),
        // Signed by the PBX, not by a user (tested in contacts.rs).
        (Method::POST, "/api/v1/cti/events", Public, |_| Some(json!({"event": "ringing", "call_id": "m"}))),
        (Method::GET, "/api/v1/cti/pop", AllOf(&[perm::CONTACT_READ, perm::CUSTOMER_READ]), none),
        (Method::GET, "/api/v1/agent/extension", Any, none),
        (Method::PUT, "/api/v1/agent/extension", Perm(perm::CONTACT_WRITE), |_| Some(json!({"extension": "7777"}))),
        (Method::DELETE, "/api/v1/agent/extension", Any, none),
        (Method::GET, "/api/v1/order-types", AnyOf(&[perm::ORDER_READ, perm::ADMIN_DICT_WRITE]), none),
        (Method::PUT, "/api/v1/order-types/{code}", Perm(perm::ADMIN_DICT_WRITE), |_| {
            Some(json!({"name_zh": "矩阵", "workflow": {"steps": []}, "targets": {}}))
        }),
        (Method::GET, "/api/v1/orders", Perm(perm::ORDER_READ), none),
        (Method::POST, "/api/v1/orders", Perm(perm::ORDER_CREATE), |_| {
            Some(json!({"type_code": "repair", "impact": "low", "urgency": "low", "title": "矩阵"}))
        }),
        (Method::GET, "/api/v1/orders/{id}", Perm(perm::ORDER_READ), none),
        // The door needs order.read; each action's own permission is the workflow's (tests/it/orders.rs).
        (Method::POST, "/api/v1/orders/{id}/actions/{action}", Perm(perm::ORDER_READ), |_| Some(json!({"version": 1}))),
        (Method::GET, "/api/v1/orders/{id}/sla", Perm(perm::ORDER_READ), none),
        (Method::GET, "/api/v1/orders/{id}/attachments", Perm(perm::ORDER_READ), none),
        (
            Method::POST,
            "/api/v1/orders/{id}/attachments",
            AnyOf(&[perm::ORDER_HANDLE, perm::ORDER_DISPATCH, perm::ORDER_CREATE]),
            none,
        ),
        (Method::GET, "/api/v1/contacts/{id}/attachments", Perm(perm::CONTACT_READ), none),
        (Method::POST, "/api/v1/contacts/{id}/attachments", Perm(perm::CONTACT_WRITE), none),
        (Method::GET, "/api/v1/attachments/{id}", AnyOf(&[perm::ORDER_READ, perm::CONTACT_READ]), none),
        (Method::GET, "/api/v1/orders/{id}/suggestions", Perm(perm::ORDER_DISPATCH), none),
        (Method::GET, "/api/v1/dispatch/board", Perm(perm::ORDER_DISPATCH), none),
        // R-WO-09: duplicates and merging (tests/it/duplicates.rs).
        (Method::GET, "/api/v1/orders/duplicates", Perm(perm::ORDER_READ), none),
        (Method::POST, "/api/v1/orders/{id}/merge", Perm(perm::ORDER_DISPATCH), |_| Some(json!({"duplicate_id": 1}))),
        (Method::POST, "/api/v1/orders/{id}/contacts", Perm(perm::ORDER_CREATE), |_| Some(json!({"contact_id": 1}))),
        (Method::GET, "/api/v1/orders/{id}/links", Perm(perm::ORDER_READ), none),
        // R-WO-12 plans, R-WO-10 callbacks (tests/it/plans.rs, webhooks.rs); bodies that pass the
        // permission check and fail a rule, so the matrix creates nothing.
        (Method::GET, "/api/v1/plans", Perm(perm::ORDER_DISPATCH), none),
        (Method::POST, "/api/v1/plans", Perm(perm::ORDER_DISPATCH), |_| Some(plan_body())),
        (Method::GET, "/api/v1/plans/{id}", Perm(perm::ORDER_DISPATCH), none),
        (Method::PUT, "/api/v1/plans/{id}", Perm(perm::ORDER_DISPATCH), |_| Some(plan_body())),
        (Method::POST, "/api/v1/plans/{id}/enable", Perm(perm::ORDER_DISPATCH), none),
        (Method::POST, "/api/v1/plans/{id}/disable", Perm(perm::ORDER_DISPATCH), none),
        (Method::GET, "/api/v1/plans/{id}/runs", Perm(perm::ORDER_DISPATCH), none),
        (Method::GET, "/api/v1/webhooks", Perm(perm::ADMIN_PARAM_READ), none),
        (Method::POST, "/api/v1/webhooks", Perm(perm::ADMIN_PARAM_WRITE), |_| Some(webhook_body())),
        (Method::GET, "/api/v1/webhooks/{id}", Perm(perm::ADMIN_PARAM_READ), none),
        (Method::PUT, "/api/v1/webhooks/{id}", Perm(perm::ADMIN_PARAM_WRITE), |_| Some(webhook_body())),
        (Method::POST, "/api/v1/webhooks/{id}/enable", Perm(perm::ADMIN_PARAM_WRITE), none),
        (Method::POST, "/api/v1/webhooks/{id}/disable", Perm(perm::ADMIN_PARAM_WRITE), none),
        (Method::GET, "/api/v1/webhooks/{id}/deliveries", Perm(perm::ADMIN_PARAM_READ), none),
        (Method::POST, "/api/v1/crew/position", Perm(perm::ORDER_HANDLE), |_| {
            Some(json!({"lat": 30.25, "lng": 120.16}))
        }),
        (Method::PUT, "/api/v1/crew/{user_id}/skills", Perm(perm::ADMIN_USER_WRITE), |_| Some(json!({"skills": []}))),
        (Method::GET, "/api/v1/campaigns", Perm(perm::CAMPAIGN_MANAGE), none),
        (Method::POST, "/api/v1/campaigns", Perm(perm::CAMPAIGN_MANAGE), |_| {
            Some(json!({"name": "矩阵", "kind": "arrears"}))
        }),
        (Method::GET, "/api/v1/campaigns/{id}", Perm(perm::CAMPAIGN_MANAGE), none),
        (Method::POST, "/api/v1/campaigns/{id}/generate", Perm(perm::CAMPAIGN_MANAGE), none),
        (Method::POST, "/api/v1/campaigns/{id}/assign", Perm(perm::CAMPAIGN_MANAGE), |_| Some(json!({"agents": [1]}))),
        (Method::POST, "/api/v1/campaigns/{id}/close", Perm(perm::CAMPAIGN_MANAGE), none),
        (Method::GET, "/api/v1/calls", Perm(perm::CONTACT_WRITE), none),
        (Method::GET, "/api/v1/campaign-targets/{id}/attempts", Perm(perm::CAMPAIGN_MANAGE), none),
        (Method::POST, "/api/v1/campaign-targets/{id}/attempts", Perm(perm::CONTACT_WRITE), |_| {
            Some(json!({"outcome": "no_answer"}))
        }),
        (Method::GET, "/api/v1/sms/outbox", Perm(perm::CAMPAIGN_MANAGE), none),
        (Method::GET, "/api/v1/qa/sheets", Perm(perm::CONTACT_QA), none),
        (Method::POST, "/api/v1/qa/sheets", Perm(perm::CONTACT_QA), |r| {
            Some(json!({"name": format!("矩阵{r}"), "items": [{"code": "a", "label": "a", "max": 5}]}))
        }),
        (Method::POST, "/api/v1/contacts/{id}/qa", Perm(perm::CONTACT_QA), |_| {
            Some(json!({"sheet_id": 1, "scores": {}}))
        }),
        (Method::GET, "/api/v1/evaluations/agents", AnyOf(&[perm::CONTACT_QA, perm::REPORT_READ]), none),
        (Method::POST, "/api/v1/orders/query", Perm(perm::ORDER_READ), |_| Some(json!({}))),
        (Method::POST, "/api/v1/orders/query/exports", Perm(perm::ORDER_READ), |_| {
            Some(json!({"where": {"all": [{"field": "order_no", "op": "eq", "value": "WO0"}]}}))
        }),
        (Method::GET, "/api/v1/orders/query/exports/{id}", Perm(perm::ORDER_READ), none),
        (Method::GET, "/api/v1/orders/query/exports/{id}/file", Perm(perm::ORDER_READ), none),
        (Method::GET, "/api/v1/queries", Perm(perm::ORDER_READ), none),
        (Method::POST, "/api/v1/queries", Perm(perm::ORDER_READ), |r| {
            Some(json!({"name": format!("矩阵{r}"), "definition": {}}))
        }),
        (Method::GET, "/api/v1/queries/{id}", Perm(perm::ORDER_READ), none),
        (Method::PUT, "/api/v1/queries/{id}", Perm(perm::ORDER_READ), |_| Some(json!({"name": "x", "definition": {}}))),
        (Method::DELETE, "/api/v1/queries/{id}", Perm(perm::ORDER_READ), none),
        (Method::GET, "/api/v1/stats/indicators", Perm(perm::REPORT_READ), none),
        (Method::GET, "/api/v1/stats/quick", Perm(perm::REPORT_READ), none),
        // R-DATA-03/04 custom reports (tests/it/reports.rs); bodies that pass the permission
        // check and fail a rule.
        (Method::GET, "/api/v1/reports", Perm(perm::REPORT_READ), none),
        (Method::POST, "/api/v1/reports", Perm(perm::REPORT_READ), |_| Some(report_body())),
        (Method::GET, "/api/v1/reports/{id}", Perm(perm::REPORT_READ), none),
        (Method::PUT, "/api/v1/reports/{id}", Perm(perm::REPORT_READ), |_| Some(report_body())),
        (Method::DELETE, "/api/v1/reports/{id}", Perm(perm::REPORT_READ), none),
        (Method::POST, "/api/v1/reports/{id}/run", Perm(perm::REPORT_READ), none),
        (Method::GET, "/api/v1/reports/{id}/export.xlsx", AllOf(&[perm::REPORT_READ, perm::REPORT_EXPORT]), none),
        (Method::GET, "/api/v1/reports/{id}/runs", Perm(perm::REPORT_READ), none),
        (Method::POST, "/api/v1/reports/preview", Perm(perm::REPORT_READ), |_| {
            Some(json!({"definition": report_body()["definition"].clone()}))
        }),
        (Method::GET, "/api/v1/stats/dashboard", Perm(perm::REPORT_READ), none),
        // R-DATA-06: the customer's progress look-up needs no sign-in (rate-limited instead).
        (Method::POST, "/api/v1/public/progress", Public, |_| {
            Some(json!({"number": "WO20260101-000001", "phone_last4": "1234"}))
        }),
        (Method::POST, "/api/v1/announcements", Perm(perm::ADMIN_ANNOUNCE), |_| Some(json!({"message": "矩阵测试"}))),
    ]
}

/// A plan that passes the permission check and fails a rule (no such schedule).
fn plan_body() -> Value {
    json!({"name": "矩阵", "type_code": "patrol", "every": "never", "at_time": "09:00", "title": "矩阵",
        "impact": "low", "urgency": "low"})
}

/// A report that passes the permission check and fails a rule (no such indicator).
fn report_body() -> Value {
    json!({"name": "矩阵", "definition": {"dimensions": ["unit"], "indicators": ["happiness"]}})
}

/// A subscription that passes the permission check and fails a rule (not an http:// URL).
fn webhook_body() -> Value {
    json!({"name": "矩阵", "url": "ftp://x", "secret": "0123456789abcdef", "events": ["order.concluded"]})
}

fn concrete(path: &str) -> String {
    path.replace("{id}", NOPE)
        .replace("{user_id}", NOPE)
        .replace("{code}", "channel")
        .replace("{key}", "org.hotline")
        .replace("{kind}", "customers")
        .replace("{action}", "urge")
}

async fn status_of(
    client: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, String) {
    let mut rb = client.request(method, format!("{base}{path}"));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.expect("request");
    let status = r.status();
    if path.ends_with("/stream") && status == StatusCode::OK {
        return (status, String::new()); // an open event stream: headers are enough
    }
    let v: Value = r.json().await.unwrap_or(Value::Null);
    (status, v["error"]["code"].as_str().unwrap_or("").to_string())
}

// Every documented operation appears in the matrix, and nothing else.
backend_test!(matrix_covers_every_api_route, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let spec: Value = TestApp::client().get(app.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for m in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&m.as_str()) {
                documented.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    let tested: BTreeSet<_> = api_routes().iter().map(|(m, p, _, _)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, tested, "the matrix must list exactly the documented operations");
    app.stop().await;
});

// R-SYS-01: role × API operation.
backend_test!(api_matrix, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let client = TestApp::client();
    // Anonymous: only the public operations.
    for (m, p, need, body) in api_routes() {
        let (st, code) = status_of(&client, &app.base, None, m.clone(), &concrete(p), body("anon")).await;
        match need {
            Need::Public => assert_ne!(st, StatusCode::FORBIDDEN, "{m} {p} anonymous"),
            _ => assert_eq!((st, code.as_str()), (StatusCode::UNAUTHORIZED, "unauthenticated"), "{m} {p} anonymous"),
        }
    }
    let roles = app.running.as_ref().unwrap().report.demo_logins.clone();
    for (user, _, role_code) in roles {
        let role = BuiltinRole::from_code(&role_code).unwrap();
        let perms = role.permissions();
        let token = app.token(&user).await;
        for (m, p, need, body) in api_routes() {
            if matches!(need, Need::Public) || p.starts_with("/api/v1/auth/logout") || p.starts_with("/api/v1/me/") {
                continue; // self-service writes change the caller's own session or password
            }
            let (st, code) = status_of(&client, &app.base, Some(&token), m.clone(), &concrete(p), body(&user)).await;
            if need.allows(&perms) {
                assert!(
                    st != StatusCode::FORBIDDEN && st != StatusCode::UNAUTHORIZED,
                    "{role_code} should be allowed {m} {p}, got {st} {code}"
                );
                assert!(!st.is_server_error(), "{role_code} {m} {p}: {st}");
            } else {
                assert_eq!(
                    (st, code.as_str()),
                    (StatusCode::FORBIDDEN, "forbidden"),
                    "{role_code} must be refused {m} {p}"
                );
            }
        }
    }
    app.stop().await;
});

/// (method, path, need) for pages.
pub(crate) fn page_routes() -> Vec<(&'static str, &'static str, Need)> {
    use Need::*;
    vec![
        ("GET", "/", Any),
        ("GET", "/login", Public),
        ("POST", "/login", Public),
        ("GET", "/login/totp", Public),
        ("POST", "/login/totp", Public),
        ("POST", "/logout", Any),
        ("GET", "/lang/{code}", Public),
        ("GET", "/account/password", Any),
        ("POST", "/account/password", Any),
        ("GET", "/account/totp", Any),
        ("POST", "/account/totp", Any),
        ("POST", "/announcements", Perm(perm::ADMIN_ANNOUNCE)),
        ("GET", "/console", Perm(perm::CONTACT_WRITE)),
        ("GET", "/contacts", Perm(perm::CONTACT_READ)),
        ("GET", "/contacts/export.csv", AllOf(&[perm::CONTACT_READ, perm::REPORT_EXPORT])),
        ("GET", "/contacts/{id}", Perm(perm::CONTACT_READ)),
        ("POST", "/contacts/{id}/qa", Perm(perm::CONTACT_QA)),
        ("GET", "/campaigns", Perm(perm::CAMPAIGN_MANAGE)),
        ("POST", "/campaigns", Perm(perm::CAMPAIGN_MANAGE)),
        ("GET", "/campaigns/{id}", Perm(perm::CAMPAIGN_MANAGE)),
        ("POST", "/campaigns/{id}/generate", Perm(perm::CAMPAIGN_MANAGE)),
        ("POST", "/campaigns/{id}/assign", Perm(perm::CAMPAIGN_MANAGE)),
        ("POST", "/campaigns/{id}/close", Perm(perm::CAMPAIGN_MANAGE)),
        ("GET", "/stats", Perm(perm::REPORT_READ)),
        ("GET", "/reports", Perm(perm::REPORT_READ)),
        ("POST", "/reports", Perm(perm::REPORT_READ)),
        ("GET", "/reports/{id}", Perm(perm::REPORT_READ)),
        ("POST", "/reports/{id}", Perm(perm::REPORT_READ)),
        ("POST", "/reports/{id}/delete", Perm(perm::REPORT_READ)),
        ("GET", "/reports/{id}/export.xlsx", AllOf(&[perm::REPORT_READ, perm::REPORT_EXPORT])),
        ("GET", "/reports/{id}/print", Perm(perm::REPORT_READ)),
        ("GET", "/dashboard", Perm(perm::REPORT_READ)),
        ("GET", "/progress", Public),
        ("GET", "/query", Perm(perm::ORDER_READ)),
        ("GET", "/query/print", Perm(perm::ORDER_READ)),
        ("GET", "/orders", Perm(perm::ORDER_READ)),
        ("POST", "/orders", Perm(perm::ORDER_CREATE)),
        ("GET", "/orders/new", Perm(perm::ORDER_CREATE)),
        ("GET", "/orders/{id}", Perm(perm::ORDER_READ)),
        ("GET", "/orders/{id}/print", Perm(perm::ORDER_READ)),
        // The door needs order.read; each action's own permission is the workflow's (order_pages.rs).
        ("POST", "/orders/{id}/actions/{action}", Perm(perm::ORDER_READ)),
        ("POST", "/orders/{id}/merge", Perm(perm::ORDER_DISPATCH)),
        ("POST", "/orders/{id}/contacts", Perm(perm::ORDER_CREATE)),
        ("GET", "/plans", Perm(perm::ORDER_DISPATCH)),
        ("POST", "/plans", Perm(perm::ORDER_DISPATCH)),
        ("GET", "/plans/{id}", Perm(perm::ORDER_DISPATCH)),
        ("POST", "/plans/{id}/enable", Perm(perm::ORDER_DISPATCH)),
        ("POST", "/plans/{id}/disable", Perm(perm::ORDER_DISPATCH)),
        ("GET", "/customers", Perm(perm::CUSTOMER_READ)),
        ("POST", "/customers", Perm(perm::CUSTOMER_WRITE)),
        ("GET", "/customers/new", Perm(perm::CUSTOMER_WRITE)),
        ("GET", "/customers/import", Perm(perm::CUSTOMER_WRITE)),
        ("GET", "/customers/{id}", Perm(perm::CUSTOMER_READ)),
        ("POST", "/customers/{id}", Perm(perm::CUSTOMER_WRITE)),
        ("POST", "/customers/{id}/accounts", Perm(perm::CUSTOMER_WRITE)),
        ("GET", "/accounts/{id}", Perm(perm::CUSTOMER_READ)),
        ("POST", "/accounts/{id}", Perm(perm::CUSTOMER_WRITE)),
        ("POST", "/accounts/{id}/meters", Perm(perm::CUSTOMER_WRITE)),
        ("POST", "/accounts/{id}/readings", Perm(perm::BILLING_WRITE)),
        ("POST", "/accounts/{id}/payments", Perm(perm::BILLING_WRITE)),
        ("GET", "/admin/units", Perm(perm::ADMIN_UNIT_READ)),
        ("POST", "/admin/units", Perm(perm::ADMIN_UNIT_WRITE)),
        ("POST", "/admin/units/{id}", Perm(perm::ADMIN_UNIT_WRITE)),
        ("POST", "/admin/units/{id}/delete", Perm(perm::ADMIN_UNIT_WRITE)),
        ("GET", "/admin/users", Perm(perm::ADMIN_USER_READ)),
        ("GET", "/admin/users/export.csv", Perm(perm::ADMIN_USER_READ)),
        ("GET", "/admin/users/new", Perm(perm::ADMIN_USER_WRITE)),
        ("POST", "/admin/users", Perm(perm::ADMIN_USER_WRITE)),
        ("GET", "/admin/users/{id}", Perm(perm::ADMIN_USER_READ)),
        ("POST", "/admin/users/{id}", Perm(perm::ADMIN_USER_WRITE)),
        ("POST", "/admin/users/{id}/roles", Perm(perm::SECURITY_USER_GRANT)),
        ("POST", "/admin/users/{id}/unlock", Perm(perm::SECURITY_USER_UNLOCK)),
        ("POST", "/admin/users/{id}/reset-password", Perm(perm::SECURITY_USER_UNLOCK)),
        ("POST", "/admin/users/{id}/tokens", Perm(perm::SECURITY_USER_GRANT)),
        ("POST", "/admin/tokens/{id}/revoke", Perm(perm::SECURITY_USER_GRANT)),
        ("GET", "/admin/roles", Perm(perm::SECURITY_ROLE_READ)),
        ("POST", "/admin/roles", Perm(perm::SECURITY_ROLE_WRITE)),
        ("GET", "/admin/roles/{id}", Perm(perm::SECURITY_ROLE_READ)),
        ("POST", "/admin/roles/{id}", Perm(perm::SECURITY_ROLE_WRITE)),
        ("POST", "/admin/roles/{id}/delete", Perm(perm::SECURITY_ROLE_WRITE)),
        ("GET", "/admin/dicts", Perm(perm::DICT_READ)),
        ("GET", "/admin/order-types", Perm(perm::ADMIN_DICT_WRITE)),
        ("GET", "/admin/order-types/{code}", Perm(perm::ADMIN_DICT_WRITE)),
        ("POST", "/admin/order-types/{code}", Perm(perm::ADMIN_DICT_WRITE)),
        ("POST", "/admin/dicts/{code}/items", Perm(perm::ADMIN_DICT_WRITE)),
        ("POST", "/admin/dicts/{code}/items/{id}", Perm(perm::ADMIN_DICT_WRITE)),
        ("GET", "/admin/params", Perm(perm::ADMIN_PARAM_READ)),
        ("POST", "/admin/params/{key}", Perm(perm::ADMIN_PARAM_WRITE)),
        ("GET", "/admin/audit", Perm(perm::AUDIT_READ)),
        ("GET", "/admin/audit/export.csv", Perm(perm::AUDIT_READ)),
        ("GET", "/admin/jobs", Perm(perm::ADMIN_JOB_READ)),
        ("GET", "/admin/webhooks", Perm(perm::ADMIN_PARAM_READ)),
        ("POST", "/admin/webhooks", Perm(perm::ADMIN_PARAM_WRITE)),
        ("GET", "/admin/webhooks/{id}", Perm(perm::ADMIN_PARAM_READ)),
        ("POST", "/admin/webhooks/{id}/enable", Perm(perm::ADMIN_PARAM_WRITE)),
        ("POST", "/admin/webhooks/{id}/disable", Perm(perm::ADMIN_PARAM_WRITE)),
        ("GET", "/api/docs", Public),
        ("GET", "/dispatch", Perm(perm::ORDER_DISPATCH)),
        ("GET", "/m", Perm(perm::ORDER_READ)),
        ("GET", "/m/orders/{id}", Perm(perm::ORDER_READ)),
        // The phone app's manifest, service worker and icon carry no data.
        ("GET", "/m/manifest.webmanifest", Public),
        ("GET", "/m/sw.js", Public),
        ("GET", "/m/icon.svg", Public),
    ]
}

// R-SYS-01: role × page. Pages answer a refusal with a 403 page, anonymous with the sign-in page.
backend_test!(page_matrix, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let listed: BTreeSet<_> =
        waterdesk_web::pages::PAGE_ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    let tested: BTreeSet<_> = page_routes().iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
    assert_eq!(listed, tested, "the page matrix must list every page route");

    // Anonymous GETs of protected pages go to the sign-in page.
    let anon = TestApp::client();
    for (m, p, need) in page_routes() {
        if m == "GET" && !matches!(need, Need::Public) {
            let r = anon.get(app.url(&concrete(p))).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "{p}");
            assert!(r.headers()["location"].to_str().unwrap().starts_with("/login"), "{p}");
        }
    }
    let roles = app.running.as_ref().unwrap().report.demo_logins.clone();
    for (user, pw, role_code) in roles {
        let perms = BuiltinRole::from_code(&role_code).unwrap().permissions();
        let mut web = Web::new(&app);
        assert_eq!(web.login(&user, &pw).await.status(), StatusCode::SEE_OTHER);
        for (m, p, need) in page_routes() {
            if matches!(need, Need::Public | Need::Any) {
                continue;
            }
            let path = concrete(p);
            let r = if m == "GET" {
                web.get(&path).await
            } else {
                web.post_form(&path, &[("value", "96390"), ("message", "矩阵")]).await
            };
            let st = r.status();
            if need.allows(&perms) {
                assert!(
                    st == StatusCode::OK || st == StatusCode::SEE_OTHER || st == StatusCode::NOT_FOUND,
                    "{role_code} should be allowed {m} {p}, got {st}"
                );
            } else {
                assert_eq!(st, StatusCode::FORBIDDEN, "{role_code} must be refused {m} {p}");
            }
        }
    }
    app.stop().await;
});
