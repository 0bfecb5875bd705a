//! Dispatch (R-WO-06): crew positions, ranked suggestions by distance, workload, skills and
//! service area; automatic dispatch of emergencies with its fallback.

use reqwest::StatusCode;
use serde_json::json;
use waterdesk_services::Principal;
use waterdesk_services::admin::NewUserInput;
use waterdesk_services::audit::AuditCtx;
use waterdesk_services::dispatch::PositionInput;
use waterdesk_services::orders::OrderInput;

use crate::backend_test;
use crate::helpers::TestApp;
use crate::orders::{as_user, dispatched};

/// Creates a field worker in the worker's unit and returns them as a principal.
async fn crew(app: &TestApp, username: &str, name: &str) -> Principal {
    let s = app.services();
    let worker = as_user(app, "worker").await;
    let i = NewUserInput {
        username: username.into(),
        display_name: name.into(),
        unit_id: worker.unit_id,
        kind: "staff".into(),
        data_scope: "own".into(),
        phone: String::new(),
        email: String::new(),
        password: None,
        roles: vec!["field_worker".into()],
    };
    s.user_create(&Principal::system(), &i, &AuditCtx::cli("test")).await.unwrap();
    as_user(app, username).await
}

async fn ping(app: &TestApp, p: &Principal, lat: f64, lng: f64) {
    app.services().crew_position(p, &PositionInput { lat, lng, accuracy_m: Some(8.0) }).await.unwrap();
}

fn repair(title: &str, urgency: &str) -> OrderInput {
    OrderInput {
        type_code: "repair".into(),
        impact: "high".into(),
        urgency: urgency.into(),
        title: title.into(),
        address: "西湖区文三路12号".into(),
        lat: Some(30.2741),
        lng: Some(120.1551),
        ..Default::default()
    }
}

backend_test!(suggestions_rank_by_distance_workload_and_skills, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let s = app.services().clone();
    let ctx = AuditCtx::cli("test");
    let dispatcher = as_user(&app, "dispatcher").await;
    let worker = as_user(&app, "worker").await; // no position yet
    let near = crew(&app, "crew_near", "王师傅").await;
    let far = crew(&app, "crew_far", "钱师傅").await;
    ping(&app, &near, 30.2750, 120.1560).await; // ~130 m from the site
    ping(&app, &far, 30.2910, 120.2130).await; // ~6 km

    // Positions: crew only, coordinates checked.
    let api = app.api("worker").await;
    assert_eq!(
        api.post("/api/v1/crew/position", json!({"lat": 30.27, "lng": 120.15})).await.status,
        StatusCode::NO_CONTENT
    );
    let r = api.post("/api/v1/crew/position", json!({"lat": 91.0, "lng": 120.15})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{:?}", r.body);
    let r = api.post("/api/v1/crew/position", json!({"lat": 30.0, "lng": 120.0, "altitude": 3})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "unknown fields are refused");
    let r = app.api("agent").await.post("/api/v1/crew/position", json!({"lat": 30.0, "lng": 120.0})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The worker's position was far away a moment ago; an older ping does not overwrite it.
    ping(&app, &worker, 30.3500, 120.3000).await;

    let o = s.order_create(&dispatcher, &repair("文三路12号漏水", "medium"), &ctx).await.unwrap();
    let d = app.api("dispatcher").await;
    // The demo's own crew members are ranked too; these three are ours.
    let ours = |body: &serde_json::Value| -> Vec<String> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|x| x["username"].as_str().unwrap().to_string())
            .filter(|n| ["crew_near", "crew_far", "worker"].contains(&n.as_str()))
            .collect()
    };
    let r = d.get(&format!("/api/v1/orders/{}/suggestions?limit=50", o.id)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(ours(&r.body), ["crew_near", "crew_far", "worker"]);
    let first = &r.body[0];
    assert!(first["distance_m"].as_f64().unwrap() < 200.0, "{first}");
    assert_eq!((first["open_orders"].as_i64(), first["free"].as_bool()), (Some(0), Some(true)));

    // Three orders in hand (9 km equivalent) put the near crew behind the far one.
    for n in 0..3 {
        dispatched(&app, &repair(&format!("文三路{n}号"), "medium"), &near).await;
    }
    let r = d.get(&format!("/api/v1/orders/{}/suggestions?limit=50", o.id)).await;
    assert_eq!(ours(&r.body), ["crew_far", "crew_near", "worker"]);
    let near_row = r.body.as_array().unwrap().iter().find(|x| x["username"] == "crew_near").unwrap();
    assert_eq!(near_row["open_orders"], 3);
    assert_eq!(d.get(&format!("/api/v1/orders/{}/suggestions?limit=2", o.id)).await.body.as_array().unwrap().len(), 2);

    // Skills: the far crew only does patrols now.
    let admin = app.api("admin").await;
    let r = admin.put(&format!("/api/v1/crew/{}/skills", far.user_id), json!({"skills": ["patrol"]})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = admin.put(&format!("/api/v1/crew/{}/skills", far.user_id), json!({"skills": ["teleport"]})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(admin.put("/api/v1/crew/999999/skills", json!({"skills": []})).await.status, StatusCode::NOT_FOUND);
    let r = d.get(&format!("/api/v1/orders/{}/suggestions?limit=50", o.id)).await;
    let far_row = r.body.as_array().unwrap().iter().find(|x| x["username"] == "crew_far").unwrap();
    assert_eq!(far_row["skilled"], false);
    assert_ne!(r.body[0]["username"], "crew_far");

    // Bad input and roles.
    assert_eq!(
        d.get(&format!("/api/v1/orders/{}/suggestions?limit=0", o.id)).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(d.get("/api/v1/orders/999999/suggestions").await.status, StatusCode::NOT_FOUND);
    let r = app.api("agent").await.get(&format!("/api/v1/orders/{}/suggestions", o.id)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    app.stop().await;
});

/// Waits for the background worker to move an order (5 s at most).
async fn settled(
    app: &TestApp,
    id: i64,
    until: impl Fn(&waterdesk_store::orders::Order) -> bool,
) -> waterdesk_store::orders::Order {
    for _ in 0..100 {
        let o = {
            let mut c = app.services().db.read().await.unwrap();
            waterdesk_store::orders::get(&mut c, id).await.unwrap().unwrap()
        };
        if until(&o) {
            return o;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("order {id} did not settle");
}

// R-WO-06: a level-1 order is accepted and dispatched to the best free, skilled crew
// member by the background worker; with nobody suitable it stays in the dispatchers' queue
// and they are told.
backend_test!(emergencies_dispatch_themselves, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let s = app.services().clone();
    let ctx = AuditCtx::cli("test");
    let agent = as_user(&app, "agent").await;
    let near = crew(&app, "crew_near", "王师傅").await;
    ping(&app, &near, 30.2750, 120.1560).await;
    let o = s.order_create(&agent, &repair("文三路主管爆裂", "high"), &ctx).await.unwrap();
    assert_eq!(o.priority, 1);
    let o = settled(&app, o.id, |o| o.state == "dispatched").await;
    assert_eq!(o.assignee_id, Some(near.user_id));
    let events = {
        let mut c = s.db.read().await.unwrap();
        waterdesk_store::orders::events(&mut c, o.id).await.unwrap()
    };
    let actions: Vec<(&str, Option<i64>)> = events.iter().map(|e| (e.action.as_str(), e.actor_id)).collect();
    assert_eq!(actions, [("register", Some(agent.user_id)), ("accept", None), ("dispatch", None)]);
    assert!(events[2].note.contains("自动派单"));

    // Nobody skilled for repairs: the order waits, accepted, for a dispatcher.
    let everyone = s.dispatch_suggestions(&Principal::system(), o.id, 200).await.unwrap();
    assert!(everyone.len() >= 2, "the demo crews and ours");
    for who in everyone {
        s.crew_set_skills(&Principal::system(), who.user_id, &["patrol".into()], &ctx).await.unwrap();
    }
    let token = app.token("dispatcher").await;
    let stream = TestApp::client().get(app.url("/api/v1/events/stream")).bearer_auth(&token).send().await.unwrap();
    let reader = tokio::spawn(crate::helpers::next_event(stream, "order.auto_dispatch_failed"));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let o2 = s.order_create(&agent, &repair("文二路主管爆裂", "high"), &ctx).await.unwrap();
    let seen = tokio::time::timeout(std::time::Duration::from_secs(10), reader).await.unwrap().unwrap();
    assert!(seen.contains(&o2.order_no), "{seen}");
    let o2 = settled(&app, o2.id, |o| o.state == "accepted").await;
    assert_eq!(o2.assignee_id, None);
    // Running the job again changes nothing (idempotent).
    assert_eq!(s.auto_dispatch(o2.id).await.unwrap(), None);
    assert_eq!(s.auto_dispatch(o.id).await.unwrap(), None, "already dispatched");
    app.stop().await;
});

// R-WO-06: the dispatcher console's board — waiting orders first by priority, crews with
// their positions; the page renders the queue.
backend_test!(dispatcher_board, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let d = app.api("dispatcher").await;
    let r = d.get("/api/v1/dispatch/board").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let orders = r.body["orders"].as_array().unwrap();
    assert!(orders.len() >= 8, "the demo's open orders");
    let waiting: Vec<bool> = orders.iter().map(|o| o["waiting"].as_bool().unwrap()).collect();
    assert!(waiting.windows(2).all(|w| w[0] || !w[1]), "waiting orders come first: {waiting:?}");
    let first_prios: Vec<i64> =
        orders.iter().filter(|o| o["waiting"] == true).map(|o| o["priority"].as_i64().unwrap()).collect();
    assert!(first_prios.windows(2).all(|w| w[0] <= w[1]), "by priority: {first_prios:?}");
    assert!(orders.iter().all(|o| !["concluded", "cancelled", "rejected"].contains(&o["state"].as_str().unwrap())));
    let crews = r.body["crews"].as_array().unwrap();
    assert_eq!(crews.len(), 4, "the demo's four crew members");
    assert!(crews.iter().all(|c| c["lat"].as_f64().is_some()), "with their positions");
    assert_eq!(app.api("agent").await.get("/api/v1/dispatch/board").await.status, StatusCode::FORBIDDEN);
    let mut web = crate::helpers::Web::new(&app);
    web.login("dispatcher", &app.password("dispatcher")).await;
    let page = web.get("/dispatch").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("data-testid=\"board-queue\"") && html.contains("/assets/vendor/leaflet.js"));
    assert!(html.contains(orders[0]["order_no"].as_str().unwrap()));
    app.stop().await;
});

// R-WO-06: dispatch to a unit (班组) without a person; any of its crew members takes the
// order by acknowledging it, and it becomes theirs; others cannot.
backend_test!(dispatch_to_a_unit, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let s = app.services().clone();
    let ctx = AuditCtx::cli("test");
    let (dispatcher, worker) = (as_user(&app, "dispatcher").await, as_user(&app, "worker").await);
    let mate = crew(&app, "crew_mate", "吴师傅").await;
    let o = s.order_create(&dispatcher, &repair("庆春路管道漏水", "medium"), &ctx).await.unwrap();
    let d = app.api("dispatcher").await;
    let r = d.post(&format!("/api/v1/orders/{}/actions/accept", o.id), json!({"version": o.version})).await;
    let v = r.body["version"].as_i64().unwrap();
    let r =
        d.post(&format!("/api/v1/orders/{}/actions/dispatch", o.id), json!({"version": v, "unit_id": 999_999})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.to_string().contains("unknown_unit"), "{:?}", r.body);
    let r = d
        .post(&format!("/api/v1/orders/{}/actions/dispatch", o.id), json!({"version": v, "unit_id": worker.unit_id}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((r.body["state"].as_str(), r.body["assignee_id"].as_i64()), (Some("dispatched"), None));
    // Both crew members of the unit see it among their orders.
    let mine = app.api("worker").await.get("/api/v1/orders?assignee=me&open=true").await;
    assert!(mine.body.as_array().unwrap().iter().any(|x| x["id"] == o.id), "the worker sees it");
    let mine = s
        .order_list(
            &mate,
            &waterdesk_services::orders::OrderQuery { assignee: Some("me".into()), ..Default::default() },
        )
        .await
        .unwrap();
    assert!(mine.iter().any(|x| x.id == o.id), "the mate sees it too");
    // Someone of another unit does not see it to take it; a member can, and it is theirs.
    let mut outsider = mate.clone();
    outsider.unit_id = dispatcher.unit_id;
    let after = s.order_get(&dispatcher, o.id).await.unwrap().order;
    let e =
        s.order_act(&outsider, o.id, "acknowledge", &crate::orders::act(after.version, &[]), &ctx).await.unwrap_err();
    assert!(matches!(e, waterdesk_services::ServiceError::NotFound { .. }), "out of their scope: {e:?}");
    let taken = s.order_act(&mate, o.id, "acknowledge", &crate::orders::act(after.version, &[]), &ctx).await.unwrap();
    assert_eq!((taken.state.as_str(), taken.assignee_id), ("acknowledged", Some(mate.user_id)));
    let e = s.order_act(&worker, o.id, "start", &crate::orders::act(taken.version, &[]), &ctx).await.unwrap_err();
    // Now it is the mate's: out of the worker's scope `own`.
    assert!(matches!(e, waterdesk_services::ServiceError::NotFound { .. }), "now it is the mate's: {e:?}");
    app.stop().await;
});
