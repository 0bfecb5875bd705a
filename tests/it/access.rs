//! Access rules held on every route (issue 24, R-SYS-01, R-CALL-07): acting on an order
//! needs the same data scope as reading it; scope `own` reaches only the user's orders;
//! no response of any route shows a full phone number to a role without
//! `customer.pii.read`.

use reqwest::StatusCode;
use serde_json::{Value, json};
use waterdesk_domain::BuiltinRole;
use waterdesk_domain::permissions::perm;

use crate::authz::{api_routes, page_routes};
use crate::backend_test;
use crate::helpers::{Api, TestApp, Web};

/// East and west branch offices in the demo tree.
const EAST: i64 = 3;
const WEST: i64 = 4;

/// A customer's mobile number that only this file uses.
const PHONE: &str = "13971234567";

/// A new staff user with the given roles and scope, signed in with a changed password.
async fn user_api(app: &TestApp, username: &str, unit: i64, scope: &str, roles: &[&str]) -> Api {
    let admin = app.api("admin").await;
    let r = admin
        .post(
            "/api/v1/users",
            json!({"username": username, "display_name": username, "unit_id": unit, "data_scope": scope,
                "password": "Scope-test-2026", "roles": roles}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let login =
        app.anon().post("/api/v1/auth/login", json!({"username": username, "password": "Scope-test-2026"})).await;
    let api = Api {
        base: app.base.clone(),
        token: login.body["token"].as_str().map(str::to_string),
        client: TestApp::client(),
    };
    let r = api
        .post("/api/v1/me/password", json!({"old_password": "Scope-test-2026", "new_password": "Scope-test-2027"}))
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    api
}

/// An order registered by the dispatcher, accepted and dispatched to `crew` in `unit`.
async fn dispatched_order(app: &TestApp, unit: i64, crew: &str, caller: &str) -> Value {
    let d = app.api("dispatcher").await;
    let crew_id = app.api("admin").await.get(&format!("/api/v1/users?q={crew}")).await.body["items"][0]["id"].clone();
    let o = d
        .post(
            "/api/v1/orders",
            json!({"type_code": "repair", "impact": "medium", "urgency": "medium", "title": "水表漏水",
                "address": "文三路 1 号", "caller": caller, "lat": 30.27, "lng": 120.15}),
        )
        .await;
    assert_eq!(o.status, StatusCode::CREATED, "{:?}", o.body);
    let id = o.body["id"].as_i64().unwrap();
    let o = d.post(&format!("/api/v1/orders/{id}/actions/accept"), json!({"version": o.body["version"]})).await;
    assert_eq!(o.status, StatusCode::OK, "{:?}", o.body);
    let o = d
        .post(
            &format!("/api/v1/orders/{id}/actions/dispatch"),
            json!({"version": o.body["version"], "assignee_id": crew_id, "unit_id": unit}),
        )
        .await;
    assert_eq!(o.status, StatusCode::OK, "{:?}", o.body);
    o.body
}

// Issue 24.1: a user of the west branch cannot read an east order, and so cannot act on
// it, attach to it, merge it, link to it or get dispatch suggestions for it either; the same
// user acts on a west order (the test can fail).
backend_test!(order_routes_apply_the_read_scope, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let west = user_api(&app, "west.all", WEST, "unit", &["approver", "supervisor", "agent", "dispatcher"]).await;
    let east_order = dispatched_order(&app, EAST, "worker", "13800001111").await;
    let west_order = dispatched_order(&app, WEST, "worker", "13800002222").await;
    let (id, v) = (east_order["id"].as_i64().unwrap(), east_order["version"].clone());

    assert_eq!(west.get(&format!("/api/v1/orders/{id}")).await.status, StatusCode::NOT_FOUND);
    for action in ["urge", "approve", "verify", "reassign", "cancel", "suspend"] {
        let r = west.post(&format!("/api/v1/orders/{id}/actions/{action}"), json!({"version": v, "note": "x"})).await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"), "{action}: {:?}", r.body);
    }
    for path in ["sla", "suggestions", "links", "attachments"] {
        let r = west.get(&format!("/api/v1/orders/{id}/{path}")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {:?}", r.body);
    }
    let r = west.upload(&format!("/api/v1/orders/{id}/attachments"), "image/png", vec![0x89, b'P', b'N', b'G']).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    let wid = west_order["id"].as_i64().unwrap();
    let r = west.post(&format!("/api/v1/orders/{id}/merge"), json!({"duplicate_id": wid})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    let r = west.post(&format!("/api/v1/orders/{wid}/merge"), json!({"duplicate_id": id})).await;
    assert_eq!(r.body["error"]["field"], "duplicate_id", "the other order is out of scope: {:?}", r.body);
    let c = app
        .api("agent")
        .await
        .post(
            "/api/v1/contacts",
            json!({"channel": "walk_in", "category": "repair", "caller": "13800003333", "content": "又漏了"}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{:?}", c.body);
    let r = west.post(&format!("/api/v1/orders/{id}/contacts"), json!({"contact_id": c.body["id"]})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    let listed = west.get("/api/v1/orders?limit=200").await;
    assert!(listed.body.as_array().unwrap().iter().all(|o| o["unit_id"] == WEST), "{:?}", listed.body);

    // In scope, the same calls work.
    assert_eq!(west.get(&format!("/api/v1/orders/{wid}")).await.status, StatusCode::OK);
    let r = west
        .post(&format!("/api/v1/orders/{wid}/actions/urge"), json!({"version": west_order["version"], "note": "快点"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(west.get(&format!("/api/v1/orders/{wid}/sla")).await.status, StatusCode::OK);
    // The east order is untouched.
    let after = app.api("dispatcher").await.get(&format!("/api/v1/orders/{id}")).await;
    assert_eq!(after.body["order"]["version"], v);
    // The order pages answer 404 too.
    let mut web = Web::new(&app);
    web.login("west.all", "Scope-test-2027").await;
    assert_eq!(web.get(&format!("/orders/{id}")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(web.get(&format!("/m/orders/{id}")).await.status(), StatusCode::NOT_FOUND);
    let r = web.post_form(&format!("/orders/{id}/actions/urge"), &[("version", &v.to_string()), ("note", "x")]).await;
    assert!(r.status() == StatusCode::NOT_FOUND || r.headers()["location"].to_str().unwrap().contains("err="), "{r:?}");
    assert_eq!(app.api("dispatcher").await.get(&format!("/api/v1/orders/{id}")).await.body["order"]["version"], v);
    app.stop().await;
});

// Issue 24.3: data scope `own` is the orders assigned to or created by the user, and the
// unassigned orders dispatched to their team (to take) — not every order of the team.
backend_test!(scope_own_is_the_users_orders, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let admin = app.api("admin").await;
    let worker_id = admin.get("/api/v1/users?q=worker").await.body["items"][0]["id"].as_i64().unwrap();
    let mine = dispatched_order(&app, EAST, "worker", "13800004444").await;
    let theirs = dispatched_order(&app, EAST, "crew_wang", "13800005555").await;
    let worker = app.api("worker").await;
    let listed = worker.get("/api/v1/orders?limit=200").await;
    let items = listed.body.as_array().unwrap();
    assert!(items.iter().any(|o| o["id"] == mine["id"]), "{:?}", listed.body);
    let team = worker.get("/api/v1/me").await.body["unit_id"].as_i64().unwrap();
    for o in items {
        let own = o["assignee_id"] == worker_id || o["created_by"] == worker_id;
        let to_take = o["assignee_id"].is_null() && o["state"] == "dispatched" && o["unit_id"] == team;
        assert!(own || to_take, "not the worker's: {o}");
    }
    let tid = theirs["id"].as_i64().unwrap();
    assert!(items.iter().all(|o| o["id"] != tid));
    assert_eq!(worker.get(&format!("/api/v1/orders/{tid}")).await.status, StatusCode::NOT_FOUND);
    let r =
        worker.post(&format!("/api/v1/orders/{tid}/actions/acknowledge"), json!({"version": theirs["version"]})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    // The query sees the same orders.
    let q = worker.post("/api/v1/orders/query", json!({"limit": 200})).await;
    assert_eq!(q.status, StatusCode::OK, "{:?}", q.body);
    let queried = q.body["items"].as_array().unwrap();
    assert!(queried.iter().any(|o| o["id"] == mine["id"]));
    assert!(queried.iter().all(|o| o["id"] != tid), "{:?}", q.body);
    // An order dispatched to the team without a person is there to take.
    let d = app.api("dispatcher").await;
    let o = d
        .post("/api/v1/orders", json!({"type_code": "repair", "impact": "low", "urgency": "low", "title": "抢单"}))
        .await;
    let id = o.body["id"].as_i64().unwrap();
    let o = d.post(&format!("/api/v1/orders/{id}/actions/accept"), json!({"version": o.body["version"]})).await;
    let o = d
        .post(&format!("/api/v1/orders/{id}/actions/dispatch"), json!({"version": o.body["version"], "unit_id": team}))
        .await;
    assert_eq!(o.status, StatusCode::OK, "{:?}", o.body);
    assert_eq!(worker.get(&format!("/api/v1/orders/{id}")).await.status, StatusCode::OK);
    let r =
        worker.post(&format!("/api/v1/orders/{id}/actions/acknowledge"), json!({"version": o.body["version"]})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    app.stop().await;
});

/// Full mobile numbers in a body: eleven digits `1[3-9]…` standing alone.
fn mobiles(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let before = start.checked_sub(1).map(|j| b[j]);
        let alone =
            before.is_none_or(|c| !c.is_ascii_alphanumeric()) && b.get(i).is_none_or(|c| !c.is_ascii_alphanumeric());
        if alone && i - start == 11 && b[start] == b'1' && (b'3'..=b'9').contains(&b[start + 1]) {
            out.push(text[start..i].to_string());
        }
    }
    out
}

#[test]
fn mobiles_finds_numbers_standing_alone() {
    assert_eq!(mobiles(r#"{"caller":"13971234567","x":"139****4567"}"#), vec![PHONE.to_string()]);
    assert!(mobiles("GD2026120713971234567 a13971234567 1397123456").is_empty());
}

/// The text of a response body; an .xlsx's sheets and shared strings unpacked.
async fn body_text(r: reqwest::Response) -> String {
    let xlsx = r.headers().get("content-type").is_some_and(|c| c.to_str().unwrap_or("").contains("spreadsheetml"));
    let bytes = r.bytes().await.unwrap_or_default();
    if !xlsx {
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("xlsx");
    let mut text = String::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        std::io::Read::read_to_string(&mut f, &mut text).ok();
    }
    text
}

// Issue 24.2, R-CALL-07: every GET route of the API and every page, as every demo role
// without `customer.pii.read`, on a data set with a customer, a contact, an order and
// campaign targets carrying full numbers: no full mobile number in any body.
backend_test!(no_route_shows_full_numbers_without_pii, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let agent = app.api("agent").await;
    let cust = agent
        .post(
            "/api/v1/customers",
            json!({"kind": "person", "name": "脱敏客户", "id_type": "id_card",
            "id_number": "11010519491231002X", "unit_id": EAST, "phones": [{"phone": PHONE, "label": "手机"}]}),
        )
        .await;
    assert_eq!(cust.status, StatusCode::CREATED, "{:?}", cust.body);
    let customer_id = cust.body["id"].as_i64().unwrap();
    let acc = agent
        .post(
            "/api/v1/accounts",
            json!({"account_no": "HZ7770001", "holder_id": customer_id, "address": "文三路 7 号",
            "category": "residential", "unit_id": EAST}),
        )
        .await;
    assert_eq!(acc.status, StatusCode::CREATED, "{:?}", acc.body);
    let account_id = acc.body["id"].as_i64().unwrap();
    let contact = agent
        .post(
            "/api/v1/contacts",
            json!({"channel": "walk_in", "category": "repair", "caller": PHONE, "content": "漏水"}),
        )
        .await;
    assert_eq!(contact.status, StatusCode::CREATED, "{:?}", contact.body);
    let contact_id = contact.body["id"].as_i64().unwrap();
    let order = dispatched_order(&app, EAST, "worker", PHONE).await;
    let order_id = order["id"].as_i64().unwrap();
    let order_no = order["order_no"].as_str().unwrap().to_string();
    // The agent (with the permission) does see the number: the scan can fail.
    assert!(
        mobiles(&agent.get(&format!("/api/v1/orders/{order_id}")).await.body.to_string()).contains(&PHONE.to_string())
    );
    let admin = app.api("admin").await;
    let campaigns = admin.get("/api/v1/campaigns").await.body;
    let first = if campaigns.is_array() { &campaigns[0] } else { &campaigns["items"][0] };
    let campaign_id = first["campaign"]["id"].as_i64().or(first["id"].as_i64());
    assert!(campaign_id.is_some(), "the demo has campaigns: {campaigns}");

    let concrete = |path: &str| {
        let id = if path.contains("/orders/") {
            order_id
        } else if path.contains("/contacts/") {
            contact_id
        } else if path.contains("/customers/") {
            customer_id
        } else if path.contains("/accounts/") {
            account_id
        } else if path.contains("/campaigns/") {
            campaign_id.unwrap_or(999_999)
        } else {
            999_999
        };
        path.replace("{id}", &id.to_string())
            .replace("{user_id}", "1")
            .replace("{code}", "channel")
            .replace("{key}", "org.hotline")
            .replace("{kind}", "customers")
    };
    let client = TestApp::client();
    let roles = app.running.as_ref().unwrap().report.demo_logins.clone();
    let mut checked = 0;
    for (user, password, role_code) in roles {
        let role = BuiltinRole::from_code(&role_code).unwrap();
        let perms = role.permissions();
        if perms.contains(&perm::CUSTOMER_PII_READ) {
            continue;
        }
        let token = app.token(&user).await;
        let mut bodies: Vec<(String, String)> = Vec::new();
        for (m, p, need, _) in api_routes() {
            if m != reqwest::Method::GET || p.ends_with("/stream") || !need.allows(&perms) {
                continue;
            }
            let path = concrete(p);
            let r = client.get(app.url(&path)).bearer_auth(&token).send().await.unwrap();
            bodies.push((path, body_text(r).await));
        }
        // The order query and its export file.
        let q = json!({"where": {"all": [{"field": "order_no", "op": "eq", "value": order_no}]}});
        if perms.contains(&perm::ORDER_READ) {
            let r = client.post(app.url("/api/v1/orders/query")).bearer_auth(&token).json(&q).send().await.unwrap();
            bodies.push(("POST /api/v1/orders/query".into(), body_text(r).await));
            let r =
                client.post(app.url("/api/v1/orders/query/exports")).bearer_auth(&token).json(&q).send().await.unwrap();
            let run: Value = r.json().await.unwrap_or_default();
            if let Some(id) = run["id"].as_str() {
                for _ in 0..200 {
                    let s: Value = client
                        .get(app.url(&format!("/api/v1/orders/query/exports/{id}")))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    if s["state"] != "running" {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                let r = client
                    .get(app.url(&format!("/api/v1/orders/query/exports/{id}/file")))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                bodies.push(("export file".into(), body_text(r).await));
            }
        }
        // Pages, for the roles that sign in without a second factor.
        let mut web = Web::new(&app);
        let login = web.login(&user, &password).await;
        let signed_in =
            login.headers().get("location").is_some_and(|l| !l.to_str().unwrap_or("").starts_with("/login"));
        if signed_in {
            for (m, p, need) in page_routes() {
                if m != "GET" || !need.allows(&perms) || p.starts_with("/lang/") || p.starts_with("/login") {
                    continue;
                }
                let path = concrete(p);
                bodies.push((path.clone(), body_text(web.get(&path).await).await));
            }
            for p in ["/m", &format!("/m/orders/{order_id}"), "/dispatch"] {
                bodies.push((p.to_string(), body_text(web.get(p).await).await));
            }
        }
        for (path, text) in &bodies {
            let found = mobiles(text);
            assert!(found.is_empty(), "{role_code} sees {found:?} on {path}");
        }
        checked += bodies.len();
    }
    assert!(checked > 100, "only {checked} bodies scanned");
    app.stop().await;
});
