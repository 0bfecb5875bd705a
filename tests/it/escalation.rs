//! SLA escalation (R-WO-04/05) with a controlled clock: thresholds at 50 / 80 / 100 % of
//! each deadline fire exactly once — across repeated and concurrent watcher rounds and a
//! restart — and never while the order is suspended; the overdue flag follows the
//! complete deadline.

use reqwest::StatusCode;
use waterdesk_services::audit::AuditCtx;
use waterdesk_services::orders::{ActInput, OrderInput};

use crate::backend_test;
use crate::helpers::{TestApp, next_event};
use crate::orders::{act, as_user};

fn at(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

/// The (deadline, stage) marks of an order, in firing order.
async fn marks(app: &TestApp, id: i64) -> Vec<(String, String)> {
    let mut c = app.services().db.read().await.unwrap();
    waterdesk_store::orders::escalations(&mut c, id).await.unwrap().into_iter().map(|e| (e.deadline, e.stage)).collect()
}

async fn order(app: &TestApp, id: i64) -> waterdesk_store::orders::Order {
    let mut c = app.services().db.read().await.unwrap();
    waterdesk_store::orders::get(&mut c, id).await.unwrap().unwrap()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

backend_test!(escalation_exactly_once_through_suspension_and_restart, |backend| async move {
    let mut app = TestApp::spawn(backend).await;
    let ctx = AuditCtx::cli("test");
    let t0 = at("2026-11-23T01:00:00Z"); // Monday 09:00 in Hangzhou
    app.clock.set(t0);
    let dispatcher = as_user(&app, "dispatcher").await;
    let s = app.services().clone();
    // Maintenance at level 4: acknowledge 120 min, arrive 24 h, complete 72 h, round the clock.
    let input = OrderInput {
        type_code: "maintenance".into(),
        impact: "low".into(),
        urgency: "low".into(),
        title: "阀门井盖松动".into(),
        ..Default::default()
    };
    let o = s.order_create(&dispatcher, &input, &ctx).await.unwrap();
    assert_eq!(o.priority, 4);
    s.escalate_due(100).await.unwrap();
    assert_eq!(order(&app, o.id).await.sla_check_at, None, "no clock before acceptance");
    let o = s.order_act(&dispatcher, o.id, "accept", &act(o.version, &[]), &ctx).await.unwrap();
    s.escalate_due(100).await.unwrap();
    assert!(marks(&app, o.id).await.is_empty());
    assert_eq!(order(&app, o.id).await.sla_check_at, Some(t0 + jiff::SignedDuration::from_mins(60)));

    // 61 minutes: tier 2 of the acknowledge deadline, told live to the dispatchers.
    let token = app.token("dispatcher").await;
    let stream = TestApp::client().get(app.url("/api/v1/events/stream")).bearer_auth(&token).send().await.unwrap();
    let reader = tokio::spawn(next_event(stream, "order.escalated"));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    app.clock.set(t0 + jiff::SignedDuration::from_mins(61));
    s.escalate_due(100).await.unwrap();
    s.escalate_due(100).await.unwrap();
    assert_eq!(marks(&app, o.id).await, pairs(&[("acknowledge", "tier2")]));
    let seen = tokio::time::timeout(std::time::Duration::from_secs(5), reader).await.unwrap().unwrap();
    assert!(seen.contains("tier2") && seen.contains(&o.order_no), "{seen}");

    // 100 minutes: tier 3; then the order is suspended and the clock stops.
    app.clock.set(t0 + jiff::SignedDuration::from_mins(100));
    s.escalate_due(100).await.unwrap();
    assert_eq!(marks(&app, o.id).await, pairs(&[("acknowledge", "tier2"), ("acknowledge", "tier3")]));
    let o = s
        .order_act(&dispatcher, o.id, "suspend", &ActInput { note: "等待路政许可".into(), ..act(o.version, &[]) }, &ctx)
        .await
        .unwrap();
    s.escalate_due(100).await.unwrap();
    assert_eq!(order(&app, o.id).await.sla_check_at, None, "suspended: nothing is scheduled");
    app.clock.set(t0 + jiff::SignedDuration::from_hours(10));
    s.escalate_due(100).await.unwrap();
    assert_eq!(marks(&app, o.id).await.len(), 2, "nothing fires while suspended");

    // A restart keeps what fired and what is due.
    app.restart().await;
    let s = app.services().clone();
    let dispatcher = as_user(&app, "dispatcher").await;
    let o = s.order_act(&dispatcher, o.id, "resume", &act(o.version, &[]), &ctx).await.unwrap();
    s.escalate_due(100).await.unwrap();
    // 100 of 120 minutes were used before the suspension: overdue 20 minutes after resuming.
    let resumed = t0 + jiff::SignedDuration::from_hours(10);
    assert_eq!(order(&app, o.id).await.sla_check_at, Some(resumed + jiff::SignedDuration::from_mins(20)));
    app.clock.set(resumed + jiff::SignedDuration::from_mins(19));
    s.escalate_due(100).await.unwrap();
    assert_eq!(marks(&app, o.id).await.len(), 2);
    // Four watchers at once (replicas): each threshold is recorded once.
    app.clock.set(resumed + jiff::SignedDuration::from_mins(21));
    let rounds: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.escalate_due(100).await })
        })
        .collect();
    for r in rounds {
        r.await.unwrap().unwrap();
    }
    assert_eq!(
        marks(&app, o.id).await,
        pairs(&[("acknowledge", "tier2"), ("acknowledge", "tier3"), ("acknowledge", "overdue")])
    );
    assert!(!order(&app, o.id).await.overdue, "only the complete deadline makes the order overdue");

    // Five days on: arrive and complete pass every threshold; the order is overdue (超期).
    app.clock.set(resumed + jiff::SignedDuration::from_hours(5 * 24));
    s.escalate_due(100).await.unwrap();
    let all = marks(&app, o.id).await;
    assert_eq!(all.len(), 9, "{all:?}");
    let after = order(&app, o.id).await;
    assert!(after.overdue);
    assert_eq!(after.sla_check_at, None, "every threshold has fired");
    assert_eq!(after.version, o.version, "the watcher does not move the order's version");

    // The API shows the deadlines and what fired.
    let api = app.api("dispatcher").await;
    let r = api.get(&format!("/api/v1/orders/{}/sla", o.id)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["escalations"].as_array().unwrap().len(), 9);
    let complete = r.body["deadlines"].as_array().unwrap().iter().find(|d| d["deadline"] == "complete").unwrap();
    assert!(complete["open"].as_bool().unwrap() && complete["elapsed_pct"].as_i64().unwrap() > 100, "{complete}");
    assert_eq!(api.get("/api/v1/orders/999999/sla").await.status, StatusCode::NOT_FOUND);
    app.stop().await;
});

// R-WO-05: met deadlines stop escalating; a resolved order is not overdue later.
backend_test!(met_deadlines_do_not_escalate, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let ctx = AuditCtx::cli("test");
    let t0 = at("2026-11-23T01:00:00Z");
    app.clock.set(t0);
    let worker = as_user(&app, "worker").await;
    let s = app.services().clone();
    let input = OrderInput {
        type_code: "hazard".into(),
        impact: "low".into(),
        urgency: "low".into(),
        title: "路面沉降".into(),
        ..Default::default()
    };
    let o = crate::orders::dispatched(&app, &input, &worker).await;
    let o = s.order_act(&worker, o.id, "acknowledge", &act(o.version, &[]), &ctx).await.unwrap();
    let o = s.order_act(&worker, o.id, "start", &act(o.version, &[]), &ctx).await.unwrap();
    let done = act(o.version, &[("cause", "pipe_leak"), ("solution", "repaired")]);
    let o = s.order_act(&worker, o.id, "complete", &done, &ctx).await.unwrap();
    assert_eq!(o.state, "resolved");
    app.clock.set(t0 + jiff::SignedDuration::from_hours(30 * 24));
    s.escalate_due(100).await.unwrap();
    assert!(marks(&app, o.id).await.is_empty(), "all deadlines were met in time");
    let after = order(&app, o.id).await;
    assert!(!after.overdue);
    assert_eq!(after.sla_check_at, None);
    app.stop().await;
});
