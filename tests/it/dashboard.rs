//! The supervisor dashboard (R-DATA-07) and the public progress look-up (R-DATA-06), on
//! both backends: figures against data made by hand in a unit of its own (so the demo's
//! orders do not count), the data scope, the cache, the live `stats.changed` event; the
//! look-up's answers, what it must not reveal, the same answer for a wrong number and
//! wrong digits, its rate limits per client address and per number, and bad input.

use reqwest::StatusCode;
use serde_json::{Value, json};
use waterdesk_services::Principal;
use waterdesk_services::audit::AuditCtx;
use waterdesk_services::contacts::ContactInput;
use waterdesk_services::orders::OrderInput;

use crate::backend_test;
use crate::helpers::TestApp;
use crate::orders::{act, as_user};

fn at(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

/// A unit of its own under the root, with a supervisor `sup_x` (scope: the unit) who can
/// sign in, and a principal of that unit that may do everything (to make the data).
async fn unit_x(app: &TestApp) -> (i64, Principal) {
    let s = app.services();
    let ctx = AuditCtx::cli("test");
    let sys = Principal::system();
    let root = {
        let mut c = s.db.read().await.unwrap();
        waterdesk_store::units::get_by_code(&mut c, "root").await.unwrap().unwrap().id
    };
    let unit = s
        .unit_create(
            &sys,
            &waterdesk_services::admin::UnitInput {
                parent_id: Some(root),
                code: "branch_x".into(),
                name: "看板测试所".into(),
                name_en: "Dashboard branch".into(),
                kind: "branch".into(),
                sort_order: 90,
                enabled: true,
            },
            &ctx,
        )
        .await
        .unwrap();
    let input = waterdesk_services::admin::NewUserInput {
        username: "sup_x".into(),
        display_name: "看板主管".into(),
        unit_id: unit.id,
        kind: "staff".into(),
        data_scope: "unit".into(),
        phone: String::new(),
        email: String::new(),
        password: Some("Dash-board-2026!".into()),
        roles: vec!["supervisor".into()],
    };
    s.user_create(&sys, &input, &ctx).await.unwrap();
    let mut tx = s.db.begin().await.unwrap();
    sqlx::query("UPDATE users SET must_change_password = 0 WHERE username = 'sup_x'").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    let dispatcher = as_user(app, "dispatcher").await;
    let mut p = Principal::system();
    (p.user_id, p.unit_id, p.data_scope) = (dispatcher.user_id, unit.id, waterdesk_services::access::DataScope::Unit);
    (unit.id, p)
}

async fn token_of(app: &TestApp, user: &str, password: &str) -> String {
    let r: Value = TestApp::client()
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["token"].as_str().unwrap_or_else(|| panic!("{user} cannot sign in: {r}")).to_string()
}

async fn dashboard(app: &TestApp, token: &str) -> Value {
    let r = TestApp::client().get(app.url("/api/v1/stats/dashboard")).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

struct Maker<'a> {
    app: &'a TestApp,
    p: Principal,
    worker: Principal,
    unit: i64,
}

impl Maker<'_> {
    async fn order(
        &self,
        type_code: &str,
        category: &str,
        pos: Option<(f64, f64)>,
        contact: Option<i64>,
        when: &str,
    ) -> i64 {
        self.app.clock.set(at(when));
        let input = OrderInput {
            type_code: type_code.into(),
            origin: if contact.is_some() { "contact".into() } else { String::new() },
            contact_id: contact,
            category: category.into(),
            impact: "low".into(),
            urgency: "low".into(),
            title: format!("看板 {when}"),
            address: "西湖区看板路1号".into(),
            caller: "13957120001".into(),
            lat: pos.map(|p| p.0),
            lng: pos.map(|p| p.1),
            ..Default::default()
        };
        self.app.services().order_create(&self.p, &input, &AuditCtx::cli("test")).await.unwrap().id
    }

    async fn step(&self, id: i64, action: &str, fields: &[(&str, &str)], when: &str) {
        self.app.clock.set(at(when));
        let s = self.app.services();
        let version = {
            let mut c = s.db.read().await.unwrap();
            waterdesk_store::orders::get(&mut c, id).await.unwrap().unwrap().version
        };
        let mut i = act(version, fields);
        let who = if matches!(action, "acknowledge" | "start" | "complete") { &self.worker } else { &self.p };
        if action == "dispatch" {
            (i.assignee_id, i.unit_id) = (Some(self.worker.user_id), Some(self.unit));
        }
        s.order_act(who, id, action, &i, &AuditCtx::cli("test")).await.unwrap_or_else(|e| panic!("{action}: {e:?}"));
    }

    /// A repair from registration to the return visit; `complete` at `done`.
    async fn repair(&self, pos: (f64, f64), reg: &str, done: &str, satisfaction: &str) -> i64 {
        let id = self.order("repair", "", Some(pos), None, reg).await;
        let t = at(reg);
        let plus = |m: i64| (t + jiff::SignedDuration::from_mins(m)).to_string();
        self.step(id, "accept", &[], &plus(10)).await;
        self.step(id, "dispatch", &[], &plus(20)).await;
        self.step(id, "acknowledge", &[], &plus(60)).await;
        self.step(id, "start", &[], &plus(90)).await;
        self.step(id, "complete", &[("cause", "pipe_leak"), ("solution", "repaired")], done).await;
        let d = at(done);
        self.step(id, "verify", &[], &(d + jiff::SignedDuration::from_mins(60)).to_string()).await;
        let visit = [("satisfaction", satisfaction), ("reply", "已修复，谢谢您的反映")];
        self.step(id, "visit", &visit, &(d + jiff::SignedDuration::from_mins(180)).to_string()).await;
        id
    }

    async fn contact(&self, channel: &str, caller: &str, reply: &str, when: &str) -> i64 {
        self.app.clock.set(at(when));
        let i = ContactInput {
            channel: channel.into(),
            direction: "inbound".into(),
            source: "customer".into(),
            caller: caller.into(),
            category: "repair".into(),
            content: "门口漏水".into(),
            address: "西湖区看板路1号".into(),
            reply: reply.into(),
            ..Default::default()
        };
        self.app.services().contact_create(&self.p, &i, &AuditCtx::cli("test")).await.unwrap().contact.id
    }
}

// R-DATA-07: every figure of the dashboard against data made by hand, the unit scope, the
// cache (5 s for the current figures, 60 s for the trends).
backend_test!(dashboard_figures_scope_and_cache, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let (unit, p) = unit_x(&app).await;
    let m = Maker { app: &app, p, worker: as_user(&app, "worker").await, unit };
    // 2026-06-10 (Shanghai): A resolved on time, visited satisfied; B resolved late
    // (level 4: 72 h after acceptance at 03:10Z), visited unsatisfied. Same map cell.
    m.repair((30.2761, 120.1423), "2026-06-10T02:00:00Z", "2026-06-10T10:00:00Z", "satisfied").await;
    m.repair((30.2762, 120.1424), "2026-06-10T03:00:00Z", "2026-06-14T03:00:00Z", "unsatisfied").await;
    // 2026-06-12: C maintenance (category pipe_leak), accepted, past its deadline by 06-15.
    let c = m.order("maintenance", "pipe_leak", None, None, "2026-06-12T01:00:00Z").await;
    m.step(c, "accept", &[], "2026-06-12T01:30:00Z").await;
    // Yesterday: a contact (not today's intake). Today (2026-06-15, 12:00 in Shanghai):
    // hotline ×2 (one becomes repair D), WeChat ×1; staff orders E (consultation) and F
    // (maintenance, pipe_leak).
    m.contact("hotline", "13957120002", "", "2026-06-14T04:00:00Z").await;
    let k = m.contact("hotline", "13957120003", "", "2026-06-15T01:00:00Z").await;
    m.contact("hotline", "13957120004", "已解答", "2026-06-15T01:30:00Z").await;
    m.contact("wechat", "13957120005", "", "2026-06-15T02:00:00Z").await;
    m.order("repair", "", Some((30.3001, 120.2001)), Some(k), "2026-06-15T01:05:00Z").await;
    m.order("consultation", "", None, None, "2026-06-15T02:30:00Z").await;
    m.order("maintenance", "pipe_leak", None, None, "2026-06-15T03:00:00Z").await;
    app.clock.set(at("2026-06-15T04:00:00Z"));
    // The escalation watcher flags C overdue (complete deadline 06-15T01:30Z).
    while app.services().escalate_due(100).await.unwrap() > 0 {}

    let token = token_of(&app, "sup_x", "Dash-board-2026!").await;
    let d = dashboard(&app, &token).await;
    assert_eq!(d["today"], "2026-06-15");
    assert_eq!(
        d["intake"],
        json!([
            {"channel": "hotline", "contacts": 2, "orders": 1},
            {"channel": "staff", "contacts": 0, "orders": 2},
            {"channel": "wechat", "contacts": 1, "orders": 0},
        ])
    );
    assert_eq!(d["units"], json!([{"unit_id": unit, "open": 4, "overdue": 1}]), "{d}");
    assert_eq!(
        d["top_categories"],
        json!([
            {"type_code": "repair", "category": "", "orders": 3},
            {"type_code": "maintenance", "category": "pipe_leak", "orders": 2},
            {"type_code": "consultation", "category": "", "orders": 1},
        ])
    );
    // Cells of 0.005°: A and B in (6055, 24028), D in (6060, 24040); centres.
    let cells: Vec<(f64, f64, i64)> = d["repairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["lat"].as_f64().unwrap(), c["lng"].as_f64().unwrap(), c["orders"].as_i64().unwrap()))
        .collect();
    assert_eq!(cells.len(), 2, "{cells:?}");
    let near = |a: f64, b: f64| (a - b).abs() < 1e-9;
    assert!(near(cells[0].0, 30.2775) && near(cells[0].1, 120.1425) && cells[0].2 == 2, "{cells:?}");
    assert!(near(cells[1].0, 30.3025) && near(cells[1].1, 120.2025) && cells[1].2 == 1, "{cells:?}");
    // Trends: 30 days ending today, by day of registration.
    let trend = d["trend"].as_array().unwrap();
    assert_eq!(trend.len(), 30);
    assert_eq!((trend[0]["day"].as_str(), trend[29]["day"].as_str()), (Some("2026-05-17"), Some("2026-06-15")));
    let day = |k: &str| trend.iter().find(|t| t["day"] == k).unwrap().clone();
    assert_eq!(
        day("2026-06-10"),
        json!({"day": "2026-06-10", "registered": 2, "resolved_items": 2, "processed_on_time": 1,
            "processed_on_time_rate": 0.5, "visited": 2, "visit_satisfied": 1, "visit_satisfied_rate": 0.5})
    );
    assert_eq!(day("2026-06-12")["registered"], 1);
    assert_eq!(day("2026-06-12")["processed_on_time_rate"], Value::Null, "nothing resolved: empty, not 0");
    assert_eq!(day("2026-06-15")["registered"], 3);
    assert_eq!(day("2026-06-11")["registered"], 0);
    // The same code path as the indicators: the API's figures for 06-10 agree.
    let r: Value = TestApp::client()
        .get(app.url("/api/v1/stats/indicators?from=2026-06-10&to=2026-06-11"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r[0]["indicators"]["processed_on_time_rate"], 0.5);
    assert_eq!(r[0]["indicators"]["visit_satisfied_rate"], 0.5);

    // Scope: the demo supervisor (all units) sees unit X among others and more intake.
    let all = dashboard(&app, &app.token("supervisor").await).await;
    let units = all["units"].as_array().unwrap();
    assert!(units.iter().any(|u| u == &json!({"unit_id": unit, "open": 4, "overdue": 1})), "{all}");
    assert!(units.iter().any(|u| u["unit_id"] != unit), "the demo's open orders are in other units");
    let demo_repairs: i64 = all["repairs"].as_array().unwrap().iter().map(|c| c["orders"].as_i64().unwrap()).sum();
    assert!(demo_repairs >= 3);

    // The cache: a new order shows after 5 s in the current figures, after 60 s in the trend.
    m.order("consultation", "", None, None, "2026-06-15T04:00:00Z").await;
    let again = dashboard(&app, &token).await;
    assert_eq!(again["intake"], d["intake"], "within 5 s the same figures");
    app.clock.set(at("2026-06-15T04:00:06Z"));
    let later = dashboard(&app, &token).await;
    assert_eq!(later["intake"][1], json!({"channel": "staff", "contacts": 0, "orders": 3}));
    assert_eq!(later["trend"][29]["registered"], 3, "the trend is kept for 60 s");
    app.clock.set(at("2026-06-15T04:01:01Z"));
    let fresh = dashboard(&app, &token).await;
    assert_eq!(fresh["trend"][29]["registered"], 4);

    // Without report.read: refused.
    let r = TestApp::client()
        .get(app.url("/api/v1/stats/dashboard"))
        .bearer_auth(app.token("worker").await)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    app.stop().await;
});

// R-DATA-07: open dashboards hear of new contacts and orders at once (`stats.changed`).
backend_test!(dashboard_hears_changes_live, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let token = app.token("supervisor").await;
    let stream = TestApp::client().get(app.url("/api/v1/events/stream")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    // New contacts keep coming until the pulse (every 3 s) has seen one after it started.
    let s = app.services().clone();
    let agent = as_user(&app, "agent").await;
    let maker = tokio::spawn(async move {
        for i in 0..20 {
            let input = ContactInput {
                channel: "hotline".into(),
                direction: "inbound".into(),
                source: "customer".into(),
                category: "consultation".into(),
                content: format!("咨询 {i}"),
                ..Default::default()
            };
            s.contact_create(&agent, &input, &AuditCtx::cli("test")).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        }
    });
    let got = crate::helpers::next_event(stream, "event: stats.changed").await;
    assert!(got.contains("stats.changed"));
    maker.abort();
    // A user without report.read does not get it.
    let worker = TestApp::client()
        .get(app.url("/api/v1/events/stream"))
        .bearer_auth(app.token("worker").await)
        .send()
        .await
        .unwrap();
    let mut worker = worker;
    let s = app.services().clone();
    let agent = as_user(&app, "agent").await;
    let input = ContactInput {
        channel: "hotline".into(),
        direction: "inbound".into(),
        source: "customer".into(),
        category: "consultation".into(),
        content: "咨询".into(),
        ..Default::default()
    };
    let mut seen = String::new();
    for _ in 0..8 {
        s.contact_create(&agent, &input, &AuditCtx::cli("test")).await.unwrap();
        if let Ok(Ok(Some(chunk))) = tokio::time::timeout(std::time::Duration::from_millis(600), worker.chunk()).await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
    assert!(!seen.contains("stats.changed"), "{seen}");
    drop(worker); // an open stream would hold the server's graceful shutdown
    app.stop().await;
});

// ---- the public progress look-up (R-DATA-06) --------------------------------------------

async fn lookup(app: &TestApp, ip: &str, body: Value) -> (StatusCode, Value, Option<String>) {
    let r = TestApp::client()
        .post(app.url("/api/v1/public/progress"))
        .header("x-forwarded-for", ip)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let retry = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    (status, r.json().await.unwrap_or(Value::Null), retry)
}

fn q(number: &str, last4: &str) -> Value {
    json!({"number": number, "phone_last4": last4})
}

/// Every key of the answer is one of these: nothing else can leak.
const ALLOWED: &[&str] =
    &["number", "kind", "type_label", "category_label", "registered_at", "stage", "stage_label", "milestones", "reply"];

fn assert_only_allowed(v: &Value) {
    for k in v.as_object().unwrap().keys() {
        assert!(ALLOWED.contains(&k.as_str()), "the answer must not carry `{k}`: {v}");
    }
    for m in v["milestones"].as_array().unwrap() {
        let keys: Vec<&String> = m.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 3, "{m}");
        assert!(m["stage"].is_string() && m["label"].is_string() && m["at"].is_string(), "{m}");
    }
}

// R-DATA-06: an order's progress from registration to conclusion, a contact's, a contact
// turned into an order, a customer's phone; nothing else is revealed.
backend_test!(progress_lookup_shows_only_the_progress, |backend| async move {
    let app = TestApp::spawn_with(backend, |s| s.server.trust_forwarded_for = true).await;
    let (unit, p) = unit_x(&app).await;
    let m = Maker { app: &app, p, worker: as_user(&app, "worker").await, unit };
    let now = jiff::Timestamp::now().to_string();
    let id = m.order("repair", "", Some((30.2761, 120.1423)), None, &now).await;
    let no = {
        let mut c = app.services().db.read().await.unwrap();
        waterdesk_store::orders::get(&mut c, id).await.unwrap().unwrap().order_no
    };
    // Any case, surrounding spaces.
    let (st, v, _) = lookup(&app, "198.51.100.1", q(&format!("  {}  ", no.to_lowercase()), "0001")).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_only_allowed(&v);
    assert_eq!((v["number"].as_str(), v["kind"].as_str()), (Some(no.as_str()), Some("order")));
    assert_eq!((v["type_label"].as_str(), v["stage"].as_str()), (Some("报修单"), Some("received")));
    assert_eq!(v["stage_label"], "已登记，等待受理");
    assert_eq!(v["milestones"].as_array().unwrap().len(), 1);
    assert!(v.get("reply").is_none());
    let text = v.to_string();
    for secret in ["13957120001", "看板路", "看板测试所", "张伟", "陈志强", "120.1423"] {
        assert!(!text.contains(secret), "`{secret}` leaked: {text}");
    }
    // Through the loop to conclusion: stages on the way, milestones, the reply at the end.
    let t = |m: i64| (at(&now) + jiff::SignedDuration::from_mins(m)).to_string();
    m.step(id, "accept", &[], &t(5)).await;
    m.step(id, "dispatch", &[], &t(10)).await;
    let (_, v, _) = lookup(&app, "198.51.100.1", q(&no, "0001")).await;
    assert_eq!(v["stage"], "dispatched");
    m.step(id, "acknowledge", &[], &t(20)).await;
    m.step(id, "start", &[], &t(30)).await;
    let (_, v, _) = lookup(&app, "198.51.100.1", q(&no, "0001")).await;
    assert_eq!(v["stage"], "on_site");
    m.step(id, "complete", &[("cause", "pipe_leak"), ("solution", "repaired"), ("note", "内部备注：张伟")], &t(60))
        .await;
    m.step(id, "verify", &[], &t(70)).await;
    let (_, v, _) = lookup(&app, "198.51.100.1", q(&no, "0001")).await;
    assert_eq!((v["stage"].as_str(), v.get("reply")), (Some("handled"), None), "no reply before conclusion");
    m.step(id, "visit", &[("satisfaction", "satisfied"), ("reply", "管道已修复")], &t(90)).await;
    let r = TestApp::client()
        .post(app.url("/api/v1/public/progress"))
        .header("x-forwarded-for", "198.51.100.2")
        .header("accept-language", "en")
        .json(&q(&no, "0001"))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_only_allowed(&v);
    assert_eq!((v["stage"].as_str(), v["stage_label"].as_str()), (Some("concluded"), Some("Concluded")));
    assert_eq!(v["type_label"], "Repair");
    assert_eq!(v["reply"], "管道已修复");
    let stages: Vec<&str> = v["milestones"].as_array().unwrap().iter().map(|m| m["stage"].as_str().unwrap()).collect();
    assert_eq!(stages, ["registered", "accepted", "dispatched", "arrived", "resolved", "concluded"]);
    assert!(!v.to_string().contains("内部备注"), "staff notes never show");

    // A contact answered at once; a contact turned into an order follows the order.
    let k = m.contact("hotline", "0571-8877-6655", "已为您查询，明天无停水计划。", &now).await;
    let kno = {
        let mut c = app.services().db.read().await.unwrap();
        waterdesk_store::contacts::get(&mut c, k).await.unwrap().unwrap().contact_no
    };
    let (st, v, _) = lookup(&app, "198.51.100.3", q(&kno, "6655")).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_only_allowed(&v);
    assert_eq!((v["kind"].as_str(), v["stage"].as_str()), (Some("contact"), Some("replied")));
    assert_eq!((v["type_label"].as_str(), v["reply"].as_str()), (Some("报修"), Some("已为您查询，明天无停水计划。")));
    let k2 = m.contact("wechat", "13957129999", "", &now).await;
    let o2 = m.order("repair", "", None, Some(k2), &now).await;
    m.step(o2, "accept", &[], &now).await;
    let k2no = {
        let mut c = app.services().db.read().await.unwrap();
        waterdesk_store::contacts::get(&mut c, k2).await.unwrap().unwrap().contact_no
    };
    let (_, v, _) = lookup(&app, "198.51.100.3", q(&k2no, "9999")).await;
    assert_eq!((v["number"].as_str(), v["stage"].as_str()), (Some(k2no.as_str()), Some("accepted")));
    // The customer's own phone proves it too (the demo's first order: 张建华, …2345).
    let (dno, d4) = {
        let mut c = app.services().db.read().await.unwrap();
        waterdesk_store::progress::example(&mut c).await.unwrap().unwrap()
    };
    let (st, v, _) = lookup(&app, "198.51.100.4", q(&dno, &d4)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(!v.to_string().contains("张建华"));
    app.stop().await;
});

// R-DATA-06: a wrong number and wrong digits give the same answer; failures are audited
// without the digits.
backend_test!(progress_lookup_does_not_tell_numbers_apart, |backend| async move {
    let app = TestApp::spawn_with(backend, |s| s.server.trust_forwarded_for = true).await;
    let (dno, d4) = {
        let mut c = app.services().db.read().await.unwrap();
        waterdesk_store::progress::example(&mut c).await.unwrap().unwrap()
    };
    let wrong4 = if d4 == "9876" { "8765" } else { "9876" };
    let (s1, wrong_digits, _) = lookup(&app, "198.51.100.10", q(&dno, wrong4)).await;
    let (s2, wrong_number, _) = lookup(&app, "198.51.100.10", q("WO20200101-999999", &d4)).await;
    let (s3, wrong_contact, _) = lookup(&app, "198.51.100.10", q("C20200101-999999", &d4)).await;
    assert_eq!((s1, s2, s3), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
    let strip = |mut v: Value| {
        v["error"].as_object_mut().unwrap().remove("request_id");
        v
    };
    let (a, b, c) = (strip(wrong_digits), strip(wrong_number), strip(wrong_contact));
    assert_eq!(a, b);
    assert_eq!(b, c);
    assert_eq!(a["error"]["code"], "progress_not_found");
    // Audited (the request's path and address), the digits redacted.
    let mut conn = app.services().db.read().await.unwrap();
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT ip, params FROM audit_log WHERE path = '/api/v1/public/progress' ORDER BY seq")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    assert_eq!(rows.len(), 3, "{rows:?}");
    for (ip, params) in rows {
        assert_eq!(ip, "198.51.100.10");
        assert!(params.contains("***") && !params.contains(&d4) && !params.contains(wrong4), "{params}");
    }
    app.stop().await;
});

// R-DATA-06: at most 10 look-ups per client address in 10 minutes; the address is the
// last X-Forwarded-For entry (the one the trusted proxy added), so forged entries do not help.
backend_test!(progress_lookup_rate_limited_per_address, |backend| async move {
    let app = TestApp::spawn_with(backend, |s| s.server.trust_forwarded_for = true).await;
    app.clock.set(at("2026-06-15T04:00:00Z"));
    for i in 0..10 {
        let ip = format!("10.0.0.{i}, 203.0.113.7");
        let (st, v, _) = lookup(&app, &ip, q(&format!("WO20260601-{:06}", 900 + i), "1234")).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{i}: {v}");
    }
    let (st, v, retry) = lookup(&app, "10.9.9.9, 203.0.113.7", q("WO20260601-000950", "1234")).await;
    assert_eq!((st, v["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")), "{v}");
    let retry: i64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=600).contains(&retry), "{retry}");
    // Malformed requests count too, and are refused alike once over the limit.
    let (st, _, _) = lookup(&app, "203.0.113.7", json!({"nope": 1})).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    // Another address is not affected; the next window starts afresh.
    let (st, _, _) = lookup(&app, "203.0.113.8", q("WO20260601-000951", "1234")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    app.clock.set(at("2026-06-15T04:10:00Z"));
    let (st, _, _) = lookup(&app, "203.0.113.7", q("WO20260601-000952", "1234")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // Rate-limited requests are not written to the audit log one by one.
    let mut conn = app.services().db.read().await.unwrap();
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE path = '/api/v1/public/progress' AND status = 429")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert_eq!(n, 0);
    app.stop().await;
});

// R-DATA-06: 5 failed look-ups of a number in an hour lock the number for everybody until
// the hour ends — the right digits included; other numbers are not affected.
backend_test!(progress_lookup_rate_limited_per_number, |backend| async move {
    let app = TestApp::spawn_with(backend, |s| s.server.trust_forwarded_for = true).await;
    let (dno, d4) = {
        let mut c = app.services().db.read().await.unwrap();
        waterdesk_store::progress::example(&mut c).await.unwrap().unwrap()
    };
    let wrong4 = if d4 == "9876" { "8765" } else { "9876" };
    app.clock.set(at("2026-06-15T04:00:00Z"));
    for i in 0..5 {
        let (st, _, _) = lookup(&app, &format!("192.0.2.{i}"), q(&dno, wrong4)).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
    }
    let (st, v, retry) = lookup(&app, "192.0.2.100", q(&dno, &d4)).await;
    assert_eq!((st, v["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")), "{v}");
    let retry: i64 = retry.unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry));
    // The limit is the number's: a wrong number that does not exist is counted the same
    // way (so the limit does not tell them apart either), and others still answer.
    let (st, _, _) = lookup(&app, "192.0.2.101", q("WO20200101-000001", &d4)).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    app.clock.set(at("2026-06-15T05:00:00Z"));
    let (st, v, _) = lookup(&app, "192.0.2.102", q(&dno, &d4)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    app.stop().await;
});

// R-DATA-06: bad input is a 4xx with a stable code, never a 500.
backend_test!(progress_lookup_bad_input, |backend| async move {
    let app = TestApp::spawn_with(backend, |s| s.server.trust_forwarded_for = true).await;
    let cases: Vec<(&str, Value, StatusCode, &str)> = vec![
        ("198.18.0.1", json!({"number": "WO20260601-000001"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (
            "198.18.0.2",
            json!({"number": "x", "phone_last4": "1234"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "198.18.0.3",
            json!({"number": "", "phone_last4": "1234"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "198.18.0.4",
            json!({"number": "WO20260601-000001", "phone_last4": "12a4"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "198.18.0.5",
            json!({"number": "WO20260601-000001", "phone_last4": "12345"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "198.18.0.6",
            json!({"number": "WO20260601-000001", "phone_last4": "1234", "name": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        ("198.18.0.7", json!({"number": 5, "phone_last4": "1234"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        ("198.18.0.8", json!([1, 2]), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
    ];
    for (ip, body, status, code) in cases {
        let (st, v, _) = lookup(&app, ip, body.clone()).await;
        assert_eq!((st, v["error"]["code"].as_str()), (status, Some(code)), "{body}: {v}");
    }
    let raw = |ip: &'static str, ct: &'static str, body: Vec<u8>| {
        TestApp::client()
            .post(app.url("/api/v1/public/progress"))
            .header("x-forwarded-for", ip)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let r = raw("198.18.1.1", "application/json", b"{\"number\": ".to_vec()).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "invalid_json");
    let r = raw("198.18.1.2", "text/plain", b"WO20260601-000001 1234".to_vec()).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let big = format!("{{\"number\": \"{}\", \"phone_last4\": \"1234\"}}", "W".repeat(10_000));
    let r = raw("198.18.1.3", "application/json", big.into_bytes()).await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "payload_too_large");
    // English messages on request.
    let r = TestApp::client()
        .post(app.url("/api/v1/public/progress"))
        .header("x-forwarded-for", "198.18.1.4")
        .header("accept-language", "en")
        .json(&q("WO20200101-000001", "1234"))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert!(v["error"]["message"].as_str().unwrap().starts_with("No order or contact"), "{v}");
    // A signed-in member of staff is an anonymous caller here: no CSRF token needed, and
    // the session is not used.
    let mut web = crate::helpers::Web::new(&app);
    web.login("agent", &app.password("agent")).await;
    let r = web
        .client
        .post(app.url("/api/v1/public/progress"))
        .header("x-forwarded-for", "198.18.1.5")
        .json(&q("WO20200101-000001", "1234"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.stop().await;
});

// R-DATA-06/07: the pages render (the progress page without sign-in).
backend_test!(dashboard_and_progress_pages, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let r = TestApp::client().get(app.url("/progress")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("data-progress-form") && html.contains("/assets/progress.js"));
    let mut web = crate::helpers::Web::new(&app);
    web.login("supervisor", &app.password("supervisor")).await;
    let r = web.get("/dashboard").await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("data-chart=\"trend\"") && html.contains("/assets/vendor/echarts.min.js"), "{html}");
    assert!(html.contains("href=\"/dashboard\""), "the navigation links to it");
    for asset in ["/assets/vendor/echarts.min.js", "/assets/dashboard.js", "/assets/progress.js"] {
        let r = TestApp::client().get(app.url(asset)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{asset}");
    }
    app.stop().await;
});
