//! Recurring order plans (R-WO-12) with the controlled clock: patrol plans create their
//! orders exactly once per period — across repeated and concurrent scheduler rounds and
//! restarts — missed periods are not made up, and meter-age plans replace the oldest
//! meters first, never twice for a meter with an open order.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Row;
use waterdesk_services::audit::AuditCtx;

use crate::backend_test;
use crate::helpers::{TestApp, Web};
use crate::orders::{act, as_user};

fn at(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

/// Orders whose origin reference starts with `prefix`, oldest first: (id, number, ref).
async fn plan_orders(app: &TestApp, prefix: &str) -> Vec<(i64, String, String)> {
    let mut c = app.services().db.read().await.unwrap();
    let rows = sqlx::query(
        "SELECT id, order_no, origin_ref FROM work_orders WHERE origin = 'plan' AND origin_ref LIKE $1 ORDER BY id",
    )
    .bind(format!("{prefix}%"))
    .fetch_all(&mut *c)
    .await
    .unwrap();
    rows.iter().map(|r| (r.get("id"), r.get("order_no"), r.get("origin_ref"))).collect()
}

fn patrol(name: &str) -> Value {
    json!({"name": name, "type_code": "patrol", "every": "daily", "at_time": "09:00",
        "title": "西湖管网日常巡查", "content": "沿北山路、曙光路巡查阀门井与消火栓", "address": "北山路",
        "impact": "low", "urgency": "medium", "lat": 30.2590, "lng": 120.1430})
}

// R-WO-12: a daily patrol plan creates one order per day — not before its time, not twice
// in a round repeated, run by four schedulers at once or after a restart; the days the
// server was down are not made up; a disabled plan creates nothing, and enabled again it
// starts with its next time.
backend_test!(patrol_plan_runs_exactly_once_per_period, |backend| async move {
    let mut app = TestApp::spawn(backend).await;
    let t0 = at("2026-11-29T00:00:00Z"); // Sunday 08:00 in Hangzhou
    app.clock.set(t0);
    let api = app.api("dispatcher").await;
    let r = api.post("/api/v1/plans", patrol("北山路巡查")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["plan"]["id"].as_i64().unwrap();
    assert_eq!(r.body["plan"]["kind"], "fixed");
    assert_eq!(r.body["next_due_at"], "2026-11-29T01:00:00Z", "09:00 local");
    let prefix = format!("plan:{id}:");
    let s = app.services().clone();

    // Not before 09:00; at 09:30 one order, and only one however often the scheduler runs.
    assert_eq!(s.plans_run_due(t0).await.unwrap(), 0);
    let t1 = at("2026-11-29T01:30:00Z");
    app.clock.set(t1);
    assert_eq!(s.plans_run_due(t1).await.unwrap(), 1);
    assert_eq!(s.plans_run_due(t1).await.unwrap(), 0);
    let orders = plan_orders(&app, &prefix).await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].2, format!("plan:{id}:2026-11-29"));
    let api = app.api("dispatcher").await; // sessions lapse when the clock jumps: sign in again
    // Registered like any order: number, register event, the plan's unit, no actor.
    let o = api.get(&format!("/api/v1/orders/{}", orders[0].0)).await;
    assert_eq!(o.status, StatusCode::OK);
    assert_eq!(o.body["order"]["type_code"], "patrol");
    assert_eq!(o.body["order"]["origin"], "plan");
    assert_eq!(o.body["order"]["state"], "registered");
    assert_eq!(o.body["order"]["title"], "西湖管网日常巡查");
    assert_eq!(o.body["order"]["lat_e6"], 30_259_000);
    assert_eq!(o.body["order"]["created_by"], Value::Null);
    assert_eq!(o.body["events"][0]["action"], "register");
    let dispatcher = as_user(&app, "dispatcher").await;
    assert_eq!(o.body["order"]["unit_id"], dispatcher.unit_id);

    // Four schedulers at once (two replicas, say) on the next day: one order.
    let t2 = at("2026-11-30T01:30:00Z");
    app.clock.set(t2);
    let rounds: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.plans_run_due(t2).await })
        })
        .collect();
    let mut made = 0;
    for r in rounds {
        made += r.await.unwrap().unwrap();
    }
    assert_eq!(made, 1);
    assert_eq!(plan_orders(&app, &prefix).await.len(), 2);

    // A restart changes nothing; the worker's own round at start-up neither.
    app.restart().await;
    let s = app.services().clone();
    assert_eq!(s.plans_run_due(t2).await.unwrap(), 0);
    assert_eq!(plan_orders(&app, &prefix).await.len(), 2);

    // Down from Monday to Thursday: only Thursday's order, made by the worker's round at start.
    let t3 = at("2026-12-03T02:00:00Z");
    app.clock.set(t3);
    app.restart().await;
    let s = app.services().clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while plan_orders(&app, &prefix).await.len() < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(s.plans_run_due(t3).await.unwrap(), 0);
    let refs: Vec<String> = plan_orders(&app, &prefix).await.into_iter().map(|o| o.2).collect();
    assert_eq!(refs, [format!("{prefix}2026-11-29"), format!("{prefix}2026-11-30"), format!("{prefix}2026-12-03")]);
    let api = app.api("dispatcher").await;
    let runs = api.get(&format!("/api/v1/plans/{id}/runs")).await;
    assert_eq!(runs.status, StatusCode::OK);
    let periods: Vec<&str> = runs.body.as_array().unwrap().iter().map(|r| r["period_key"].as_str().unwrap()).collect();
    assert_eq!(periods, ["2026-12-03", "2026-11-30", "2026-11-29"]);
    assert_eq!(runs.body[0]["orders"][0]["state"], "registered");

    // Disabled: Friday passes without an order. Enabled again on Saturday after 09:00: the
    // next order is Sunday's.
    assert_eq!(api.post(&format!("/api/v1/plans/{id}/disable"), json!({})).await.status, StatusCode::OK);
    let t4 = at("2026-12-04T02:00:00Z");
    app.clock.set(t4);
    assert_eq!(s.plans_run_due(t4).await.unwrap(), 0);
    let t5 = at("2026-12-05T03:00:00Z");
    app.clock.set(t5);
    let api = app.api("dispatcher").await;
    let r = api.post(&format!("/api/v1/plans/{id}/enable"), json!({})).await;
    assert_eq!(r.body["next_due_at"], "2026-12-06T01:00:00Z");
    assert_eq!(s.plans_run_due(t5).await.unwrap(), 0);
    let t6 = at("2026-12-06T01:00:00Z");
    app.clock.set(t6);
    assert_eq!(s.plans_run_due(t6).await.unwrap(), 1);
    assert_eq!(plan_orders(&app, &prefix).await.len(), 4);
    app.stop().await;
});

// R-WO-12: weekly and monthly periods are ISO weeks and months; a run that a rule refuses
// (the order type was disabled) is recorded with its reason and not retried every minute;
// bad plans are refused with precise codes and only dispatchers manage plans.
backend_test!(plan_periods_refusals_and_checks, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let t0 = at("2026-11-23T00:00:00Z"); // Monday 08:00
    app.clock.set(t0);
    let api = app.api("dispatcher").await;
    let mut body = patrol("每周三巡查");
    body["every"] = json!("weekly");
    body["day"] = json!(3);
    body["at_time"] = json!("10:00");
    let w = api.post("/api/v1/plans", body.clone()).await.body["plan"]["id"].as_i64().unwrap();
    let mut body_m = patrol("月末巡查");
    body_m["every"] = json!("monthly");
    body_m["day"] = json!(31);
    body_m["type_code"] = json!("maintenance");
    let m = api.post("/api/v1/plans", body_m).await.body["plan"]["id"].as_i64().unwrap();
    let s = app.services().clone();
    // Wednesday 25th 10:00 local is the week's time; November's 31st is the 30th.
    let wed = at("2026-11-25T02:00:00Z");
    app.clock.set(wed);
    assert_eq!(s.plans_run_due(wed).await.unwrap(), 1);
    assert_eq!(plan_orders(&app, &format!("plan:{w}:")).await[0].2, format!("plan:{w}:2026-W48"));
    let last = at("2026-11-30T01:00:00Z");
    app.clock.set(last);
    assert_eq!(s.plans_run_due(last).await.unwrap(), 1);
    assert_eq!(plan_orders(&app, &format!("plan:{m}:")).await[0].2, format!("plan:{m}:2026-11"));

    // The type is disabled: the next week's run is refused, recorded, and not retried.
    let sys = waterdesk_services::Principal::system();
    let ctx = AuditCtx::cli("test");
    let t = s.order_types(&sys).await.unwrap().into_iter().find(|t| t.code == "patrol").unwrap();
    let mut i = waterdesk_services::orders::OrderTypeInput {
        name_zh: t.name_zh.clone(),
        name_en: t.name_en.clone(),
        workflow: serde_json::from_str(&t.workflow).unwrap(),
        targets: serde_json::from_str(&t.targets).unwrap(),
        calendar: None,
        enabled: false,
        sort_order: t.sort_order,
    };
    s.order_type_update(&sys, "patrol", &i, &ctx).await.unwrap();
    let next_wed = at("2026-12-02T02:30:00Z");
    app.clock.set(next_wed);
    assert_eq!(s.plans_run_due(next_wed).await.unwrap(), 0);
    assert_eq!(s.plans_run_due(next_wed).await.unwrap(), 0);
    let api = app.api("dispatcher").await;
    let runs = api.get(&format!("/api/v1/plans/{w}/runs")).await.body;
    assert_eq!(runs[0]["period_key"], "2026-W49");
    assert_eq!(runs[0]["orders_created"], 0);
    assert!(runs[0]["note"].as_str().unwrap().contains("disabled"), "{runs}");
    assert_eq!(plan_orders(&app, &format!("plan:{w}:")).await.len(), 1);
    // …and a plan of a disabled type is refused.
    assert_eq!(api.post("/api/v1/plans", body.clone()).await.body["error"]["field"], "type_code");
    i.enabled = true;
    s.order_type_update(&sys, "patrol", &i, &ctx).await.unwrap();

    // Precise refusals.
    let bad = |k: &str, v: Value| {
        let mut b = patrol("坏计划");
        b[k] = v;
        b
    };
    let mut meter_patrol = bad("kind", json!("meter_age"));
    meter_patrol["meter_age_years"] = json!(8);
    for (b, field, code) in [
        (bad("every", json!("hourly")), "every", "invalid_schedule"),
        (bad("at_time", json!("25:00")), "at_time", "invalid_time"),
        (bad("type_code", json!("teleport")), "type_code", "unknown_type"),
        (bad("impact", json!("huge")), "impact", "invalid_level"),
        (bad("lat", json!(91.0)), "lat", "invalid_coordinate"),
        (bad("kind", json!("lunar")), "kind", "invalid_choice"),
        (bad("unit_id", json!(999_999)), "unit_id", "unknown_unit"),
        (meter_patrol, "type_code", "invalid_type"),
        (
            {
                let mut b = bad("kind", json!("meter_age"));
                b["type_code"] = json!("");
                b
            },
            "meter_age_years",
            "required",
        ),
        (
            {
                let mut b = bad("every", json!("weekly"));
                b["day"] = json!(8);
                b
            },
            "day",
            "invalid_day",
        ),
    ] {
        let r = api.post("/api/v1/plans", b).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {:?}", r.body);
        assert_eq!(r.body["error"]["field"], field);
        assert!(r.body["error"]["detail"].as_str().unwrap().starts_with(code), "{:?}", r.body);
    }
    // Agents and crews do not manage plans; unknown plans are 404.
    let agent = app.api("agent").await;
    assert_eq!(agent.post("/api/v1/plans", patrol("x")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(agent.get("/api/v1/plans").await.status, StatusCode::FORBIDDEN);
    assert_eq!(api.get("/api/v1/plans/999999").await.status, StatusCode::NOT_FOUND);
    // An edit keeps the runs; the list shows the last run.
    let mut edited = body.clone();
    edited["name"] = json!("每周三巡查(北线)");
    let r = api.put(&format!("/api/v1/plans/{w}"), edited).await;
    assert_eq!((r.status, r.body["plan"]["name"].as_str()), (StatusCode::OK, Some("每周三巡查(北线)")));
    let list = api.get("/api/v1/plans").await.body;
    let row = list.as_array().unwrap().iter().find(|p| p["plan"]["id"] == w).unwrap().clone();
    assert_eq!(row["last_period"], "2026-W49");
    assert_eq!(row["last_orders"], 0);
    app.stop().await;
});

// R-WO-12: periodic meter replacement — one meter_replace order per meter at least N years
// old, at most M per period, oldest first; no second order while one is open or was created
// in the same period (by any plan); a cancelled order's meter is due again next period.
backend_test!(meter_age_plan_replaces_oldest_meters_once, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let t0 = at("2026-11-02T00:00:00Z"); // Monday 08:00
    app.clock.set(t0);
    let s = app.services().clone();
    let ctx = AuditCtx::cli("test");
    // Old meters on demo accounts (the demo's own meters are a year old).
    let agent = app.api("agent").await;
    let account = |no: &'static str| {
        let s = s.clone();
        async move {
            let mut c = s.db.read().await.unwrap();
            waterdesk_store::customers::get_account_by_no(&mut c, no).await.unwrap().unwrap().id
        }
    };
    let (east, west) = (account("HZ0010001").await, account("HZ0020001").await);
    let mut meter = std::collections::HashMap::new();
    for (acc, serial, installed) in [
        (east, "OLD-2012", "2012-03-01"),
        (west, "OLD-2010", "2010-05-01"),
        (east, "OLD-2014", "2014-07-01"),
        (west, "NEW-2020", "2020-01-01"),
    ] {
        let r = agent
            .post(
                &format!("/api/v1/accounts/{acc}/meters"),
                json!({"serial": serial, "diameter_mm": 20, "installed_on": installed}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        meter.insert(serial, r.body["id"].as_i64().unwrap());
    }
    let root = as_user(&app, "admin").await.unit_id;
    let api = app.api("dispatcher").await;
    let plan = |name: &str, max: i64, at_time: &str| {
        json!({"name": name, "kind": "meter_age", "every": "monthly", "day": 2, "at_time": at_time,
            "title": "定期换表", "content": "表龄到期，按计划更换", "impact": "low", "urgency": "low",
            "meter_age_years": 10, "max_per_run": max, "unit_id": root})
    };
    let r = api.post("/api/v1/plans", plan("A 定期换表", 2, "09:00")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["plan"]["type_code"], "meter_replace");
    let a = r.body["plan"]["id"].as_i64().unwrap();
    let meters_of = |orders: &[(i64, String, String)]| -> Vec<i64> {
        orders.iter().map(|o| o.2.rsplit(':').next().unwrap().parse().unwrap()).collect()
    };

    // November: the two oldest meters, oldest first; the 2014 meter waits; the 2020 one is young.
    let nov = at("2026-11-02T01:30:00Z");
    app.clock.set(nov);
    assert_eq!(s.plans_run_due(nov).await.unwrap(), 2);
    assert_eq!(s.plans_run_due(nov).await.unwrap(), 0);
    let orders = plan_orders(&app, &format!("plan:{a}:")).await;
    assert_eq!(meters_of(&orders), [meter["OLD-2010"], meter["OLD-2012"]]);
    let api = app.api("dispatcher").await;
    let o = api.get(&format!("/api/v1/orders/{}", orders[0].0)).await.body;
    assert_eq!(o["order"]["type_code"], "meter_replace");
    assert_eq!(o["order"]["account_id"], west);
    assert!(o["order"]["title"].as_str().unwrap().contains("OLD-2010"));
    assert!(o["order"]["content"].as_str().unwrap().contains("2010-05-01"));
    assert_eq!(o["order"]["address"], "拱墅区湖墅南路88号6幢301室");

    // December: plan B is added. A runs first: the two are still open, the 2014 meter gets
    // its order; that order is cancelled at once, but B, due an hour later, leaves the
    // meter alone: its order was created this period.
    let dec = at("2026-12-02T00:00:00Z");
    app.clock.set(dec);
    let api = app.api("dispatcher").await;
    let b = api.post("/api/v1/plans", plan("B 定期换表", 5, "10:00")).await.body["plan"]["id"].as_i64().unwrap();
    let dec_a = at("2026-12-02T01:30:00Z");
    app.clock.set(dec_a);
    assert_eq!(s.plans_run_due(dec_a).await.unwrap(), 1);
    let orders = plan_orders(&app, &format!("plan:{a}:2026-12")).await;
    assert_eq!(meters_of(&orders), [meter["OLD-2014"]]);
    let dispatcher = as_user(&app, "dispatcher").await;
    let cancel = waterdesk_services::orders::ActInput { note: "用户已自行换表".into(), ..act(1, &[]) };
    s.order_act(&dispatcher, orders[0].0, "cancel", &cancel, &ctx).await.unwrap();
    let dec_b = at("2026-12-02T02:30:00Z");
    app.clock.set(dec_b);
    assert_eq!(s.plans_run_due(dec_b).await.unwrap(), 0);
    let api = app.api("dispatcher").await;
    let runs = api.get(&format!("/api/v1/plans/{b}/runs")).await.body;
    assert_eq!((runs[0]["period_key"].as_str(), runs[0]["orders_created"].as_i64()), (Some("2026-12"), Some(0)));

    // January: the cancelled meter is due again (once: A takes it, B finds nothing).
    let jan = at("2027-01-02T03:00:00Z");
    app.clock.set(jan);
    assert_eq!(s.plans_run_due(jan).await.unwrap(), 1);
    let jan_orders = plan_orders(&app, &format!("plan:{a}:2027-01")).await;
    assert_eq!(meters_of(&jan_orders), [meter["OLD-2014"]]);
    assert!(plan_orders(&app, &format!("plan:{b}:")).await.is_empty());
    app.stop().await;
});

// R-WO-12: the plans pages — list, create form (CSRF), a plan's runs with links to its
// orders, enable/disable.
backend_test!(plan_pages, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let t0 = at("2026-11-29T00:00:00Z");
    app.clock.set(t0);
    let mut web = Web::new(&app);
    assert_eq!(web.login("dispatcher", &app.password("dispatcher")).await.status(), StatusCode::SEE_OTHER);
    let page = web.get("/plans").await.text().await.unwrap();
    assert!(page.contains("data-testid=\"plan-form\""), "{page}");
    let r = web
        .post_form(
            "/plans",
            &[
                ("name", "孤山路巡查"),
                ("kind", "fixed"),
                ("type_code", "patrol"),
                ("every", "daily"),
                ("day", "0"),
                ("at_time", "09:00"),
                ("title", "孤山路管线巡查"),
                ("impact", "low"),
                ("urgency", "low"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with("/plans/") && to.contains("msg=created"), "{to}");
    let t1 = at("2026-11-29T01:05:00Z");
    app.clock.set(t1);
    assert_eq!(app.services().plans_run_due(t1).await.unwrap(), 1);
    web.login("dispatcher", &app.password("dispatcher")).await;
    let page = web.get(&to).await.text().await.unwrap();
    assert!(page.contains("2026-11-29") && page.contains("href=\"/orders/"), "{page}");
    let id = to.trim_start_matches("/plans/").split('?').next().unwrap().to_string();
    let r = web.post_form(&format!("/plans/{id}/disable"), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let list = web.get("/plans").await.text().await.unwrap();
    assert!(list.contains("孤山路巡查"));
    // A bad form comes back with the reason.
    let r = web.post_form("/plans", &[("name", "x"), ("every", "daily"), ("at_time", "9")]).await;
    assert!(r.headers()["location"].to_str().unwrap().contains("err=validation_failed"));
    // Without the CSRF token nothing is created.
    let r = web.client.post(app.url("/plans")).form(&[("name", "x")]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // An agent has no plans page.
    let mut agent = Web::new(&app);
    agent.login("agent", &app.password("agent")).await;
    assert_eq!(agent.get("/plans").await.status(), StatusCode::FORBIDDEN);
    app.stop().await;
});
