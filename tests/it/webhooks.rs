//! Origin callbacks (R-WO-10) against a local fake receiver: a concluded order is POSTed,
//! signed like the CTI endpoint's events, to every matching subscription; failures are
//! retried with backoff until one attempt succeeds (recorded once), or dead-lettered; a
//! callback queued before the process stops is delivered after the restart; disabled
//! subscriptions and other origins get nothing; the originating contact is answered.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxStatus, Uri};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Row;
use waterdesk_services::audit::AuditCtx;
use waterdesk_services::orders::{ActInput, OrderInput};
use waterdesk_services::{Clock, ManualClock, Principal, Services};

use crate::backend_test;
use crate::helpers::{TestApp, Web};
use crate::orders::{act, as_user};

const SECRET: &str = "s3cret-of-the-12345-hotline";

/// One request the fake receiver saw.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: HeaderMap,
    body: Value,
    signed: bool,
    status: u16,
}

/// A receiver on 127.0.0.1: checks the signature with the CTI endpoint's own verifier,
/// records every request, and answers 500 to the first `fail[path]` requests of a path.
#[derive(Clone)]
struct Fake {
    clock: Arc<ManualClock>,
    fail: Arc<Mutex<std::collections::HashMap<String, usize>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    hits: Arc<AtomicUsize>,
}

impl Fake {
    async fn start(clock: Arc<ManualClock>) -> (Fake, String) {
        let fake = Fake { clock, fail: Default::default(), seen: Default::default(), hits: Default::default() };
        let app = axum::Router::new().fallback(receive).with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (fake, base)
    }

    fn fail_first(&self, path: &str, n: usize) {
        self.fail.lock().unwrap().insert(path.to_string(), n);
    }

    fn seen(&self, path: &str) -> Vec<Seen> {
        self.seen.lock().unwrap().iter().filter(|s| s.path == path).cloned().collect()
    }
}

async fn receive(State(f): State<Fake>, uri: Uri, headers: HeaderMap, body: Bytes) -> AxStatus {
    let now = f.clock.now().as_second();
    let signed = waterdesk_web::api::contacts::verify_signature(SECRET, &headers, &body, now).is_ok();
    let path = uri.path().to_string();
    let failing = {
        let mut m = f.fail.lock().unwrap();
        match m.get_mut(&path) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    };
    let status = if !signed {
        401
    } else if failing {
        500
    } else {
        200
    };
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    f.seen.lock().unwrap().push(Seen { path, headers, body, signed, status });
    f.hits.fetch_add(1, Ordering::SeqCst);
    AxStatus::from_u16(status).unwrap()
}

fn h<'a>(s: &'a Seen, name: &str) -> &'a str {
    s.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// (job id, status, attempts) of the callbacks queued for a subscription.
async fn jobs_of(app: &TestApp, sub: i64) -> Vec<(i64, String, i64)> {
    let mut c = app.services().db.read().await.unwrap();
    let rows = sqlx::query("SELECT id, status, attempts FROM jobs WHERE dedupe_key LIKE $1 ORDER BY id")
        .bind(format!("webhook:{sub}:%"))
        .fetch_all(&mut *c)
        .await
        .unwrap();
    rows.iter().map(|r| (r.get("id"), r.get("status"), r.get("attempts"))).collect()
}

fn subscription(name: &str, url: String, events: &[&str], origins: &[&str]) -> Value {
    json!({"name": name, "url": url, "secret": SECRET, "events": events, "origins": origins})
}

/// Registers a consultation from the 12345 hotline (with its contact) and concludes it.
async fn concluded_consultation(s: &Services, agent: &Principal, dispatcher: &Principal, n: usize) -> (i64, i64) {
    let ctx = AuditCtx::cli("test");
    let contact = s
        .contact_create(
            agent,
            &waterdesk_services::contacts::ContactInput {
                channel: "hotline".into(),
                direction: "inbound".into(),
                source: "gov_12345".into(),
                category: "consultation".into(),
                content: "12345 转来：咨询阶梯水价".into(),
                ..Default::default()
            },
            &ctx,
        )
        .await
        .unwrap()
        .contact;
    let input = OrderInput {
        type_code: "consultation".into(),
        origin: "hotline12345".into(),
        origin_ref: format!("12345-20261129-{n:04}"),
        contact_id: Some(contact.id),
        impact: "low".into(),
        urgency: "low".into(),
        title: "咨询阶梯水价".into(),
        ..Default::default()
    };
    let o = s.order_create(agent, &input, &ctx).await.unwrap();
    let o = s
        .order_act(dispatcher, o.id, "conclude", &act(o.version, &[("reply", "已告知第二阶梯起点为 216 m³/年")]), &ctx)
        .await
        .unwrap();
    assert_eq!(o.state, "concluded");
    (o.id, contact.id)
}

/// Waits (real time) until `done`, moving the app's clock on so retries (and the leases of
/// jobs whose worker round was interrupted) fall due.
async fn until(what: &str, app: &TestApp, step: jiff::SignedDuration, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        app.clock.advance(step);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// R-WO-10: the 12345 hotline is told when its order concludes — signed (the CTI scheme),
// retried after failures with the configured backoff, delivered and recorded as delivered
// exactly once, with the same delivery id on every attempt; a disabled subscription and a
// subscription for other origins get nothing; the originating contact is marked replied.
backend_test!(callback_retried_until_delivered_once, |backend| async move {
    let app = TestApp::spawn_with(backend, |s| s.jobs.backoff_secs = 1).await;
    app.clock.set("2026-11-29T01:00:00Z".parse().unwrap());
    let (fake, base) = Fake::start(app.clock.clone()).await;
    fake.fail_first("/hotline", 2);
    let admin = app.api("sysadmin").await;
    let mk = |b: Value| {
        let admin = &admin;
        async move {
            let r = admin.post("/api/v1/webhooks", b).await;
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
            assert!(r.body.get("secret").is_none(), "the secret is never returned");
            r.body["id"].as_i64().unwrap()
        }
    };
    let hotline =
        mk(subscription("12345 热线", format!("{base}/hotline"), &["order.concluded"], &["hotline12345"])).await;
    let off = mk(subscription("已停用", format!("{base}/off"), &["order.concluded"], &[])).await;
    assert_eq!(admin.post(&format!("/api/v1/webhooks/{off}/disable"), json!({})).await.status, StatusCode::OK);
    let billing =
        mk(subscription("营收系统", format!("{base}/billing"), &["order.concluded", "order.cancelled"], &["billing"]))
            .await;

    let s = app.services().clone();
    let (agent, dispatcher) = (as_user(&app, "agent").await, as_user(&app, "dispatcher").await);
    let (order_id, contact_id) = concluded_consultation(&s, &agent, &dispatcher, 1).await;
    // Queued in the transition's transaction, for the hotline only.
    assert_eq!(jobs_of(&app, hotline).await.len(), 1);
    assert!(jobs_of(&app, off).await.is_empty() && jobs_of(&app, billing).await.is_empty());
    // The contact that started it all is answered with the order's reply.
    let c = s.contact_get(&agent, contact_id).await.unwrap().contact;
    assert_eq!(c.status, "replied");
    assert!(c.reply.contains("216"), "{}", c.reply);

    until("the hotline's 200", &app, jiff::SignedDuration::from_secs(5), async || {
        fake.seen("/hotline").iter().any(|x| x.status == 200)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = fake.seen("/hotline");
    assert_eq!(seen.iter().map(|x| x.status).collect::<Vec<_>>(), [500, 500, 200]);
    assert!(seen.iter().all(|x| x.signed), "every attempt is signed");
    let delivery = h(&seen[0], "x-waterdesk-delivery").to_string();
    assert!(seen.iter().all(|x| h(x, "x-waterdesk-delivery") == delivery), "one delivery id for every attempt");
    assert!(seen.iter().all(|x| h(x, "x-waterdesk-event") == "order.concluded"));
    let b = &seen[2].body;
    assert_eq!(b["event"], "order.concluded");
    assert_eq!(b["order_id"], order_id);
    assert_eq!(b["origin"], "hotline12345");
    assert_eq!(b["origin_ref"], "12345-20261129-0001");
    assert_eq!(b["state"], "concluded");
    assert_eq!(b["delivery_id"].to_string(), delivery);
    assert!(b["reply"].as_str().unwrap().contains("216"));
    assert!(b["order_no"].as_str().unwrap().starts_with("WO") && b["concluded_at"].is_string());
    assert!(b["delivered_at"].is_string());

    // Recorded: three attempts, one success; the job is done; the list shows the last status.
    let d = admin.get(&format!("/api/v1/webhooks/{hotline}/deliveries")).await.body;
    let d = d.as_array().unwrap();
    assert_eq!(d.len(), 3);
    assert_eq!(d.iter().filter(|x| x["ok"] == true).count(), 1);
    assert_eq!(d.iter().map(|x| x["attempt"].as_i64().unwrap()).collect::<Vec<_>>(), [3, 2, 1]);
    assert_eq!((d[1]["status_code"].as_i64(), d[1]["ok"].as_bool()), (Some(500), Some(false)));
    assert_eq!(jobs_of(&app, hotline).await[0].1, "done");
    let list = admin.get("/api/v1/webhooks").await.body;
    let row = list.as_array().unwrap().iter().find(|x| x["id"] == hotline).unwrap().clone();
    assert_eq!((row["last_ok"].as_bool(), row["last_status_code"].as_i64()), (Some(true), Some(200)));

    // A billing order that is cancelled: the billing system hears of it, nobody else.
    let ctx = AuditCtx::cli("test");
    let input = OrderInput {
        type_code: "repair".into(),
        origin: "billing".into(),
        origin_ref: "BILL-778812".into(),
        impact: "low".into(),
        urgency: "low".into(),
        title: "营收系统转来：水表读数异常".into(),
        ..Default::default()
    };
    let o = s.order_create(&agent, &input, &ctx).await.unwrap();
    let cancel = ActInput { note: "营收系统已核实，无需上门".into(), ..act(o.version, &[]) };
    s.order_act(&dispatcher, o.id, "cancel", &cancel, &ctx).await.unwrap();
    until("the billing callback", &app, jiff::SignedDuration::from_secs(5), async || !fake.seen("/billing").is_empty())
        .await;
    let b = fake.seen("/billing");
    assert_eq!((b.len(), h(&b[0], "x-waterdesk-event")), (1, "order.cancelled"));
    assert_eq!(b[0].body["origin_ref"], "BILL-778812");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.seen("/hotline").len(), 3, "the hotline subscribed to its own origin only");
    assert!(fake.seen("/off").is_empty(), "a disabled subscription gets nothing");

    // Bad subscriptions are refused; only system administrators manage them.
    let r = admin
        .post("/api/v1/webhooks", subscription("x", "https://x.example/cb".into(), &["order.concluded"], &[]))
        .await;
    assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("url")));
    let r = admin.post("/api/v1/webhooks", subscription("x", format!("{base}/x"), &["order.lost"], &[])).await;
    assert_eq!(r.body["error"]["field"], "events");
    let dispatcher_api = app.api("dispatcher").await;
    assert_eq!(dispatcher_api.get("/api/v1/webhooks").await.status, StatusCode::FORBIDDEN);

    // The administrators' pages: subscriptions with their last status, a subscription's attempts.
    let mut web = Web::new(&app);
    web.login("sysadmin", &app.password("sysadmin")).await;
    let page = web.get("/admin/webhooks").await.text().await.unwrap();
    assert!(page.contains("12345 热线") && page.contains("HTTP 200") && !page.contains(SECRET), "{page}");
    let page = web.get(&format!("/admin/webhooks/{hotline}")).await.text().await.unwrap();
    assert_eq!(page.matches("HTTP 500").count(), 2, "{page}");
    let r = web.post_form(&format!("/admin/webhooks/{hotline}/disable"), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(admin.get(&format!("/api/v1/webhooks/{hotline}")).await.body["enabled"], false);
    app.stop().await;
});

// R-WO-10 (DESIGN §3 principle 4): a callback queued while no worker runs survives the
// process and is delivered after the restart; a subscription disabled while its callback
// waits gets nothing; a receiver that keeps failing is retried until the job is
// dead-lettered, every attempt recorded.
backend_test!(callbacks_survive_restart_and_dead_letter, |backend| async move {
    let mut app = TestApp::spawn_with(backend, |s| s.jobs.enabled = false).await;
    app.clock.set("2026-11-29T01:00:00Z".parse().unwrap());
    let (fake, base) = Fake::start(app.clock.clone()).await;
    fake.fail_first("/dead", usize::MAX);
    let admin = app.api("sysadmin").await;
    let mut ids = Vec::new();
    for path in ["/ok", "/later-off", "/dead"] {
        let r = admin
            .post("/api/v1/webhooks", subscription(path, format!("{base}{path}"), &["order.concluded"], &[]))
            .await;
        ids.push(r.body["id"].as_i64().unwrap());
    }
    let (ok, later_off, dead) = (ids[0], ids[1], ids[2]);
    let s = app.services().clone();
    let (agent, dispatcher) = (as_user(&app, "agent").await, as_user(&app, "dispatcher").await);
    concluded_consultation(&s, &agent, &dispatcher, 2).await;
    assert_eq!(admin.post(&format!("/api/v1/webhooks/{later_off}/disable"), json!({})).await.status, StatusCode::OK);
    assert_eq!(jobs_of(&app, ok).await[0].1, "pending");
    assert_eq!(fake.hits.load(Ordering::SeqCst), 0, "no worker yet");

    // The restarted process (worker on, default backoff) delivers what was queued.
    app.restart().await;
    until("the queued callback", &app, jiff::SignedDuration::from_mins(1), async || !fake.seen("/ok").is_empty()).await;
    assert_eq!(fake.seen("/ok")[0].status, 200);
    // Dead-lettered after its 12 attempts (the clock jumps past each backoff).
    until("the dead letter", &app, jiff::SignedDuration::from_hours(2), async || {
        jobs_of(&app, dead).await.first().is_some_and(|j| j.1 == "dead")
    })
    .await;
    let j = jobs_of(&app, dead).await[0].clone();
    assert_eq!(j.2, waterdesk_services::webhooks::MAX_ATTEMPTS);
    let admin = app.api("sysadmin").await;
    let d = admin.get(&format!("/api/v1/webhooks/{dead}/deliveries?limit=100")).await.body;
    let d = d.as_array().unwrap();
    // Every attempt made its POST, and every POST is recorded.
    assert_eq!(d.len(), fake.seen("/dead").len());
    assert_eq!(d.len() as i64, waterdesk_services::webhooks::MAX_ATTEMPTS);
    assert!(d.iter().all(|x| x["ok"] == false && x["status_code"] == 500));
    assert!(d.iter().all(|x| x["job_id"] == j.0));
    // The disabled subscription's callback was dropped, not sent; nothing went twice.
    assert!(fake.seen("/later-off").is_empty());
    assert_eq!(jobs_of(&app, later_off).await[0].1, "done");
    assert_eq!(fake.seen("/ok").len(), 1);
    app.stop().await;
});
