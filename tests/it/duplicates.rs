//! Duplicate reports of one incident and merging them (并单, R-WO-09): candidates by
//! type, distance and time; merging through the API with every refusal; contacts attached
//! as further reports; every linked caller told once when the master concludes.
//!
//! The sites are around (30.40, 120.30), far from the demo's orders at the West Lake, and
//! no order here is level 1 (those are dispatched automatically in the background).

use reqwest::StatusCode;
use serde_json::{Value, json};
use waterdesk_services::audit::AuditCtx;
use waterdesk_services::contacts::ContactInput;
use waterdesk_services::orders::{ActInput, OrderInput};
use waterdesk_services::{Principal, Services};
use waterdesk_store::orders::Order;

use crate::backend_test;
use crate::helpers::{Backend, TestApp, Web};
use crate::orders::{act, as_user};

const SITE: (f64, f64) = (30.40, 120.30);

/// A point `m` metres north of the site.
fn north(m: f64) -> (f64, f64) {
    (SITE.0 + m / 111_194.9, SITE.1)
}

fn report(type_code: &str, title: &str, at: (f64, f64), caller: &str) -> OrderInput {
    OrderInput {
        type_code: type_code.into(),
        impact: "medium".into(),
        urgency: "medium".into(),
        title: title.into(),
        address: "余杭区良渚路88号".into(),
        lat: Some(at.0),
        lng: Some(at.1),
        caller: caller.into(),
        ..Default::default()
    }
}

async fn register(s: &Services, p: &Principal, i: OrderInput) -> Order {
    s.order_create(p, &i, &AuditCtx::cli("test")).await.unwrap()
}

/// A contact as the agent records it, and an order registered from it.
async fn contact(s: &Services, agent: &Principal, caller: &str) -> i64 {
    let i = ContactInput {
        channel: "hotline".into(),
        direction: "inbound".into(),
        source: "customer".into(),
        category: "repair".into(),
        caller: caller.into(),
        content: "良渚路路面冒水".into(),
        ..Default::default()
    };
    s.contact_create(agent, &i, &AuditCtx::cli("test")).await.unwrap().contact.id
}

async fn cancel(s: &Services, p: &Principal, o: &Order) -> Order {
    let i = ActInput { note: "误报".into(), ..act(o.version, &[]) };
    s.order_act(p, o.id, "cancel", &i, &AuditCtx::cli("test")).await.unwrap()
}

fn nos(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|c| c["order_no"].as_str().unwrap().to_string()).collect()
}

fn detail(r: &crate::helpers::Resp) -> String {
    r.body["error"]["detail"].as_str().unwrap_or("").to_string()
}

// R-WO-09: a new report is offered the open orders of its type within 300 m and 72 h,
// nearest first; farther, older, closed or other-type orders are not.
backend_test!(candidates_by_radius_time_and_type, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let s = app.services().clone();
    let dispatcher = as_user(&app, "dispatcher").await;
    let old = register(&s, &dispatcher, report("repair", "三天多前的漏水", north(20.0), "")).await;
    app.clock.advance(jiff::SignedDuration::from_hours(73));
    let near = register(&s, &dispatcher, report("repair", "良渚路漏水", north(250.0), "")).await;
    let nearest = register(&s, &dispatcher, report("repair", "良渚路88号漏水", north(-30.0), "")).await;
    let far = register(&s, &dispatcher, report("repair", "远处漏水", north(500.0), "")).await;
    let _other = register(&s, &dispatcher, report("complaint", "水压低投诉", north(10.0), "")).await;
    let closed = register(&s, &dispatcher, report("repair", "已撤销", north(5.0), "")).await;
    cancel(&s, &dispatcher, &closed).await;

    let agent = app.api("agent").await;
    let r = agent.get("/api/v1/orders/duplicates?type=repair&lat=30.40&lng=120.30").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(nos(&r.body), vec![nearest.order_no.clone(), near.order_no.clone()], "nearest first");
    let d: Vec<i64> = r.body.as_array().unwrap().iter().map(|c| c["distance_m"].as_i64().unwrap()).collect();
    assert!((29..=31).contains(&d[0]) && (249..=251).contains(&d[1]), "{d:?}");
    assert_eq!(r.body[1]["title"], "良渚路漏水");
    assert_eq!(r.body[1]["state"], "registered");
    // Another type at the same spot has its own candidates; none far away.
    let r = agent.get("/api/v1/orders/duplicates?type=complaint&lat=30.40&lng=120.30").await;
    assert_eq!(nos(&r.body).len(), 1);
    let r = agent.get("/api/v1/orders/duplicates?type=repair&lat=30.50&lng=120.30").await;
    assert_eq!(nos(&r.body).len(), 0);

    // The order page's question for an existing order: its own neighbours (the far one is
    // 250 m from it, the nearest 280 m), not itself; the old order (73 h before the others)
    // sees none of them.
    let of_near: Vec<String> =
        s.order_duplicates_of(&dispatcher, near.id).await.unwrap().into_iter().map(|c| c.order_no).collect();
    assert_eq!(of_near, vec![far.order_no.clone(), nearest.order_no.clone()]);
    assert!(s.order_duplicates_of(&dispatcher, old.id).await.unwrap().is_empty());
    assert!(s.order_duplicates_of(&dispatcher, closed.id).await.unwrap().is_empty(), "closed: nothing offered");

    // Bad questions, with stable codes; the English message for one of them.
    for (q, code) in [
        ("lat=30.40&lng=120.30", "required"),
        ("type=repair&lng=120.30", "required"),
        ("type=teleport&lat=30.40&lng=120.30", "unknown_type"),
        ("type=repair&lat=91&lng=120.30", "invalid_coordinate"),
        ("type=repair&lat=30.4&lng=181", "invalid_coordinate"),
    ] {
        let r = agent.get(&format!("/api/v1/orders/duplicates?{q}")).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{q}");
        assert!(detail(&r).starts_with(code), "{q}: {:?}", r.body);
    }
    let r = TestApp::client()
        .get(app.url("/api/v1/orders/duplicates?type=teleport&lat=30.4&lng=120.3"))
        .bearer_auth(agent.token.as_deref().unwrap())
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["message"], "Some input is invalid. Check and try again.");
    assert_eq!(v["error"]["field"], "type");
    assert!(v["error"]["detail"].as_str().unwrap().starts_with("unknown_type"));

    // The candidates can come from the partial index on open orders: SQLite's planner picks
    // it; PostgreSQL's, without a sequential scan to fall back on, too (on a table this
    // small it would rather scan).
    let sql = waterdesk_store::duplicates::open_near_sql_for_plan();
    let mut tx = s.db.begin().await.unwrap();
    let explain = if backend == Backend::Sqlite {
        format!("EXPLAIN QUERY PLAN {sql}")
    } else {
        sqlx::query("SET LOCAL enable_seqscan = off").execute(&mut *tx).await.unwrap();
        sqlx::query("SET LOCAL enable_bitmapscan = off").execute(&mut *tx).await.unwrap();
        format!("EXPLAIN {sql}")
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(explain))
        .bind("repair")
        .bind(30_390_000_i64)
        .bind(30_410_000_i64)
        .bind(120_290_000_i64)
        .bind(120_310_000_i64)
        .bind("2000-01-01T00:00:00.000000Z")
        .bind("2100-01-01T00:00:00.000000Z")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    let col = if backend == Backend::Sqlite { "detail" } else { "QUERY PLAN" };
    let plan: Vec<String> = rows.iter().map(|r| sqlx::Row::get::<String, _>(r, col)).collect();
    assert!(plan.iter().any(|d| d.contains("work_orders_open_site")), "{plan:?}");
    drop(tx);
    app.stop().await;
});

// R-WO-09: merging through the API — the duplicate is cancelled by a recorded transition
// ("并入 WO…"), joins the master with its contact and caller; every wrong merge is refused
// with its own code and changes nothing.
backend_test!(merge_through_the_api_with_every_refusal, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let s = app.services().clone();
    let (agent_p, dispatcher) = (as_user(&app, "agent").await, as_user(&app, "dispatcher").await);
    let c1 = contact(&s, &agent_p, "13900000002").await;
    let master = register(&s, &agent_p, report("repair", "良渚路爆管", SITE, "13800000001")).await;
    let dup = register(
        &s,
        &agent_p,
        OrderInput {
            contact_id: Some(c1), origin: "contact".into(), ..report("repair", "路面冒水", north(80.0), "")
        },
    )
    .await;
    let d = app.api("dispatcher").await;
    let merge = |master: i64, body: Value| {
        let d = &d;
        async move { d.post(&format!("/api/v1/orders/{master}/merge"), body).await }
    };

    // Permission: an agent may not merge.
    let r = app
        .api("agent")
        .await
        .post(&format!("/api/v1/orders/{}/merge", master.id), json!({"duplicate_id": dup.id}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A stale duplicate.
    let r = merge(master.id, json!({"duplicate_id": dup.id, "version": 7})).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "conflict"));
    let r = merge(master.id, json!({"duplicate_id": dup.id, "colour": "red"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "unknown fields are refused");

    let r = merge(master.id, json!({"duplicate_id": dup.id, "note": "同一爆管", "version": dup.version})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["duplicate"]["state"], "cancelled");
    assert_eq!(r.body["duplicate"]["master_id"], master.id);
    assert_eq!(r.body["master"]["state"], "registered", "the master is untouched");
    // The duplicate's history: a cancel like any other, with the master's number.
    let v = d.get(&format!("/api/v1/orders/{}", dup.id)).await.body;
    assert_eq!(v["order"]["master_id"], master.id);
    assert_eq!(v["order"]["version"], dup.version + 1);
    let last = v["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["action"].as_str(), last["to_state"].as_str()), (Some("cancel"), Some("cancelled")));
    assert_eq!(last["note"], format!("并入 {}：同一爆管", master.order_no));
    assert!(last["fields"].as_str().unwrap().contains(&master.order_no));
    assert_eq!(last["actor_id"], dispatcher.user_id);
    // The master lists it, with the caller of its contact; the contact now names the master.
    let links = d.get(&format!("/api/v1/orders/{}/links", master.id)).await.body;
    assert_eq!(links["merged_into"], Value::Null);
    let reports = links["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(
        (reports[0]["kind"].as_str(), reports[0]["order_no"].as_str()),
        (Some("order"), Some(dup.order_no.as_str()))
    );
    assert_eq!(reports[0]["contact_id"], c1);
    assert_eq!(reports[0]["caller"], "13900000002");
    assert_eq!(reports[0]["note"], "同一爆管");
    let links = d.get(&format!("/api/v1/orders/{}/links", dup.id)).await.body;
    assert_eq!(links["merged_into"]["order_no"], master.order_no);
    assert_eq!(s.contact_get(&agent_p, c1).await.unwrap().contact.order_no, master.order_no);
    // Supervisors see the link with the caller masked (no customer.pii.read).
    let links = app.api("supervisor").await.get(&format!("/api/v1/orders/{}/links", master.id)).await.body;
    assert_eq!(links["reports"][0]["caller"], "139****0002");

    // Every wrong merge, with its code.
    let other = register(&s, &agent_p, report("repair", "又一处冒水", north(40.0), "")).await;
    let complaint = register(&s, &agent_p, report("complaint", "水压低", north(40.0), "")).await;
    let closed_master =
        cancel(&s, &dispatcher, &register(&s, &agent_p, report("repair", "已撤销", SITE, "")).await).await;
    let closed_dup =
        cancel(&s, &dispatcher, &register(&s, &agent_p, report("repair", "已撤销2", SITE, "")).await).await;
    for (into, body, code) in [
        (master.id, json!({"duplicate_id": master.id}), "merge_into_self"),
        (master.id, json!({"duplicate_id": dup.id}), "already_merged"),
        (dup.id, json!({"duplicate_id": other.id}), "master_merged"),
        (closed_master.id, json!({"duplicate_id": other.id}), "master_closed"),
        (master.id, json!({"duplicate_id": closed_dup.id}), "duplicate_closed"),
        (master.id, json!({"duplicate_id": complaint.id}), "type_mismatch"),
        (master.id, json!({"duplicate_id": 999_999}), "unknown_order"),
    ] {
        let r = merge(into, body.clone()).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{body}");
        assert!(detail(&r).starts_with(code), "{code}: {:?}", r.body);
    }
    let r = merge(dup.id, json!({"duplicate_id": other.id})).await;
    assert!(detail(&r).contains(&master.order_no), "a chain names the top master: {}", detail(&r));
    let r = merge(999_999, json!({"duplicate_id": other.id})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let untouched = s.order_get(&dispatcher, other.id).await.unwrap().order;
    assert_eq!((untouched.state.as_str(), untouched.version, untouched.master_id), ("registered", 1, None));
    // One English message.
    let r = TestApp::client()
        .post(app.url(&format!("/api/v1/orders/{}/merge", master.id)))
        .bearer_auth(d.token.as_deref().unwrap())
        .header("accept-language", "en-GB,en;q=0.9")
        .json(&json!({"duplicate_id": master.id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["message"], "Some input is invalid. Check and try again.");
    assert_eq!(v["error"]["field"], "duplicate_id");

    // An order that had collected reports brings them along: no chains.
    let second = register(&s, &agent_p, report("repair", "另一张报修", north(60.0), "13700000003")).await;
    let third = register(&s, &agent_p, report("repair", "第三张报修", north(70.0), "13600000004")).await;
    assert_eq!(merge(second.id, json!({"duplicate_id": third.id})).await.status, StatusCode::OK);
    assert_eq!(merge(master.id, json!({"duplicate_id": second.id})).await.status, StatusCode::OK);
    let links = d.get(&format!("/api/v1/orders/{}/links", master.id)).await.body;
    let linked: Vec<&str> =
        links["reports"].as_array().unwrap().iter().map(|r| r["order_no"].as_str().unwrap()).collect();
    assert_eq!(linked, vec![dup.order_no.as_str(), third.order_no.as_str(), second.order_no.as_str()]);
    let third_now = s.order_get(&dispatcher, third.id).await.unwrap().order;
    assert_eq!(third_now.master_id, Some(master.id), "re-pointed at the top master");
    assert!(d.get(&format!("/api/v1/orders/{}/links", second.id)).await.body["reports"].as_array().unwrap().is_empty());

    // Audited, in the same transaction as the merge.
    let audit = s
        .audit_search(
            &Principal::system(),
            &waterdesk_store::audit::AuditFilter {
                event_type: Some("order.merge".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(audit.len(), 3);
    app.stop().await;
});

/// Walks a repair from registration to its conclusion (return visit).
async fn conclude(s: &Services, app: &TestApp, o: &Order) -> Order {
    let ctx = AuditCtx::cli("test");
    let (agent, dispatcher, worker) =
        (as_user(app, "agent").await, as_user(app, "dispatcher").await, as_user(app, "worker").await);
    let mut o = s.order_act(&dispatcher, o.id, "accept", &act(o.version, &[]), &ctx).await.unwrap();
    let i = ActInput { assignee_id: Some(worker.user_id), ..act(o.version, &[]) };
    o = s.order_act(&dispatcher, o.id, "dispatch", &i, &ctx).await.unwrap();
    o = s.order_act(&worker, o.id, "acknowledge", &act(o.version, &[]), &ctx).await.unwrap();
    o = s.order_act(&worker, o.id, "start", &act(o.version, &[]), &ctx).await.unwrap();
    let i = act(o.version, &[("cause", "pipe_burst"), ("solution", "replaced")]);
    o = s.order_act(&worker, o.id, "complete", &i, &ctx).await.unwrap();
    o = s.order_act(&dispatcher, o.id, "verify", &act(o.version, &[]), &ctx).await.unwrap();
    let i = act(o.version, &[("satisfaction", "satisfied"), ("reply", "已修复")]);
    s.order_act(&agent, o.id, "visit", &i, &ctx).await.unwrap()
}

/// The outbox's notices of an order's conclusion: (phone, body).
async fn notices(s: &Services, order_no: &str) -> Vec<(String, String)> {
    let mut c = s.db.read().await.unwrap();
    let mut v: Vec<(String, String)> = waterdesk_store::campaigns::sms_list(&mut c, 500)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.purpose == "order_concluded" && m.reference == order_no)
        .map(|m| (m.phone, m.body))
        .collect();
    v.sort();
    v
}

// R-WO-09: contacts attached as further reports; on the master's conclusion every linked
// caller gets one SMS (one per phone number, not the master's own caller, nothing more
// when the order is acted on again).
backend_test!(contacts_linked_and_all_told_once_on_conclusion, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let s = app.services().clone();
    let agent_p = as_user(&app, "agent").await;
    let own = contact(&s, &agent_p, "13800000001").await;
    let master = register(
        &s,
        &agent_p,
        OrderInput {
            contact_id: Some(own),
            origin: "contact".into(),
            ..report("repair", "良渚路爆管", SITE, "13800000001")
        },
    )
    .await;
    let dup = register(&s, &agent_p, report("repair", "路面冒水", north(50.0), "139 0000 0002")).await;
    let d = app.api("dispatcher").await;
    let r = d.post(&format!("/api/v1/orders/{}/merge", master.id), json!({"duplicate_id": dup.id})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    // Contacts: a new caller, the duplicate's caller again, the master's own caller again.
    let (c2, c3, c4) = (
        contact(&s, &agent_p, "13700000003").await,
        contact(&s, &agent_p, "13900000002").await,
        contact(&s, &agent_p, "13800000001").await,
    );
    let agent = app.api("agent").await;
    let link = |c: i64| {
        let agent = &agent;
        let path = format!("/api/v1/orders/{}/contacts", master.id);
        async move { agent.post(&path, json!({"contact_id": c})).await }
    };
    for c in [c2, c3, c4] {
        let r = link(c).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(r.body["kind"], "contact");
        assert_eq!(r.body["contact_id"], c);
    }
    assert_eq!(s.contact_get(&agent_p, c2).await.unwrap().contact.order_no, master.order_no);
    // Refusals.
    let elsewhere = contact(&s, &agent_p, "13500000005").await;
    let other = register(
        &s,
        &agent_p,
        OrderInput {
            contact_id: Some(elsewhere),
            origin: "contact".into(),
            ..report("repair", "别处", north(900.0), "")
        },
    )
    .await;
    for (c, code) in [
        (c2, "already_linked"),
        (own, "already_linked"),
        (elsewhere, "contact_has_order"),
        (999_999, "unknown_contact"),
    ] {
        let r = link(c).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{c}");
        assert!(detail(&r).starts_with(code), "{code}: {:?}", r.body);
    }
    let r = agent.post(&format!("/api/v1/orders/{}/contacts", dup.id), json!({"contact_id": elsewhere})).await;
    assert!(detail(&r).starts_with("master_merged"), "{:?}", r.body);
    let r =
        app.api("worker").await.post(&format!("/api/v1/orders/{}/contacts", other.id), json!({"contact_id": c2})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "crews do not register reports");
    let links = d.get(&format!("/api/v1/orders/{}/links", master.id)).await.body;
    assert_eq!(links["reports"].as_array().unwrap().len(), 4, "{links}");

    // Nothing is sent before the conclusion.
    assert!(notices(&s, &master.order_no).await.is_empty());
    let done = conclude(&s, &app, &master).await;
    assert_eq!(done.state, "concluded");
    let sent = notices(&s, &master.order_no).await;
    let phones: Vec<&str> = sent.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(phones, vec!["13700000003", "13900000002"], "one per phone, not the master's own caller");
    assert!(sent[0].1.contains(&master.order_no) && sent[0].1.contains("良渚路爆管"), "{}", sent[0].1);
    // Acting on the concluded order again is refused and tells nobody twice.
    let ctx = AuditCtx::cli("test");
    let dispatcher = as_user(&app, "dispatcher").await;
    let again = act(done.version, &[("satisfaction", "satisfied"), ("reply", "x")]);
    assert!(s.order_act(&agent_p, master.id, "visit", &again, &ctx).await.is_err());
    assert!(s.order_act(&dispatcher, master.id, "urge", &act(done.version, &[]), &ctx).await.is_err());
    assert_eq!(notices(&s, &master.order_no).await, sent);
    // Also visible in the outbox to supervisors (masked).
    let r = app.api("supervisor").await.get("/api/v1/sms/outbox").await;
    let mine = r.body.as_array().unwrap().iter().filter(|m| m["reference"] == master.order_no.as_str()).count();
    assert_eq!(mine, 2);
    // A closed master takes no more reports.
    let late = contact(&s, &agent_p, "13400000006").await;
    assert!(detail(&link(late).await).starts_with("master_closed"));
    // An order concluded without linked reports sends nothing.
    let done_other = conclude(&s, &app, &other).await;
    assert!(notices(&s, &done_other.order_no).await.is_empty());
    app.stop().await;
});

// R-WO-09 on the order page: the 疑似重复 box with its 并单 buttons (CSRF forms), merged
// reports listed on the master, a contact attached by its 热线编号.
backend_test!(order_page_offers_and_merges, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let s = app.services().clone();
    let agent_p = as_user(&app, "agent").await;
    let first = register(&s, &agent_p, report("repair", "良渚路爆管", SITE, "13800000001")).await;
    app.clock.advance(jiff::SignedDuration::from_mins(5));
    let second = register(&s, &agent_p, report("repair", "良渚路88号冒水", north(120.0), "13900000002")).await;

    let mut web = Web::new(&app);
    web.login("dispatcher", &app.password("dispatcher")).await;
    let page = web.get(&format!("/orders/{}", second.id)).await.text().await.unwrap();
    assert!(page.contains("data-testid=\"order-duplicates\""), "the box is shown");
    assert!(page.contains(&first.order_no));
    // The newer order goes into the older one.
    assert!(page.contains(&format!("action=\"/orders/{}/merge\"", first.id)), "{page}");
    // Without the CSRF token nothing happens.
    let r = web
        .client
        .post(app.url(&format!("/orders/{}/merge", first.id)))
        .form(&[("duplicate_id", second.id.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A stale page: the order changed since.
    let sid = second.id.to_string();
    let r = web
        .post_form(&format!("/orders/{}/merge", first.id), &[("duplicate_id", &sid), ("version", "9"), ("from", &sid)])
        .await;
    assert_eq!(r.headers()["location"], format!("/orders/{}?err=order_changed", second.id).as_str());
    let r = web
        .post_form(&format!("/orders/{}/merge", first.id), &[("duplicate_id", &sid), ("version", "1"), ("from", &sid)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], format!("/orders/{}?msg=merged", first.id).as_str());
    let page = web.get(&format!("/orders/{}?msg=merged", first.id)).await.text().await.unwrap();
    assert!(page.contains("已并单"), "flash");
    assert!(page.contains("data-testid=\"linked-report\"") && page.contains(&second.order_no));
    assert!(!page.contains("data-testid=\"order-duplicates\""), "nothing left to merge");
    let page = web.get(&format!("/orders/{}", second.id)).await.text().await.unwrap();
    assert!(page.contains("data-testid=\"merged-into\"") && page.contains(&first.order_no));
    // A refused merge comes back to the page it was asked from, with the reason.
    let r = web.post_form(&format!("/orders/{}/merge", first.id), &[("duplicate_id", &sid), ("from", &sid)]).await;
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        to.starts_with(&format!("/orders/{}?err=validation_failed", second.id)) && to.contains("already%20merged"),
        "{to}"
    );

    // A contact attached by its number, from the agent's page.
    let mut agent = Web::new(&app);
    agent.login("agent", &app.password("agent")).await;
    let c = contact(&s, &agent_p, "13700000003").await;
    let no = s.contact_get(&agent_p, c).await.unwrap().contact.contact_no;
    let page = agent.get(&format!("/orders/{}", first.id)).await.text().await.unwrap();
    assert!(page.contains("data-testid=\"link-contact\""));
    assert!(!page.contains("/merge\""), "agents are not offered merges");
    let r = agent.post_form(&format!("/orders/{}/contacts", first.id), &[("contact", &no.to_lowercase())]).await;
    assert_eq!(r.headers()["location"], format!("/orders/{}?msg=contact_linked", first.id).as_str());
    let page = agent.get(&format!("/orders/{}", first.id)).await.text().await.unwrap();
    assert!(page.contains(&no), "listed");
    let r = agent.post_form(&format!("/orders/{}/contacts", first.id), &[("contact", "C19990101-000001")]).await;
    assert!(r.headers()["location"].to_str().unwrap().contains("no%20such%20contact"));
    // Merging is the dispatcher's: the page refuses an agent.
    let r = agent.post_form(&format!("/orders/{}/merge", first.id), &[("duplicate_id", "1")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    app.stop().await;
});
