//! Work orders (issue 5). This part: the standard order types and the checks on edited
//! definitions (R-WO-02/04/08/13).

use waterdesk_domain::permissions::perm;
use waterdesk_domain::workflow::{Action, State, Workflow};
use waterdesk_services::ServiceError;
use waterdesk_services::audit::AuditCtx;
use waterdesk_services::orders::{ActInput, OrderInput, OrderTypeInput, default_targets_by_level};

use crate::backend_test;
use crate::helpers::TestApp;

fn input(workflow: Workflow) -> OrderTypeInput {
    OrderTypeInput {
        name_zh: "报修单".into(),
        name_en: "Repair".into(),
        workflow,
        targets: default_targets_by_level(),
        calendar: None,
        enabled: true,
        sort_order: 10,
    }
}

fn code_of(e: ServiceError) -> String {
    match e {
        ServiceError::Validation { code, .. } => code.to_string(),
        other => format!("{other:?}"),
    }
}

// R-WO-02: the twelve standard types are there on first start, sound, and editable; an
// unsound definition is refused and the stored one stays.
backend_test!(standard_order_types_and_their_checks, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let s = app.services();
    let sys = waterdesk_services::Principal::system();
    let ctx = AuditCtx::cli("test");
    let types = s.order_types(&sys).await.unwrap();
    assert_eq!(types.len(), 12);
    for t in &types {
        let w: Workflow = serde_json::from_str(&t.workflow).unwrap();
        assert!(w.check().is_empty(), "{}", t.code);
    }
    let repair = types.iter().find(|t| t.code == "repair").unwrap();
    assert_eq!(repair.name_zh, "报修单");
    let original: Workflow = serde_json::from_str(&repair.workflow).unwrap();

    // A dead end: dispatched orders can no longer be acknowledged (nor cancelled).
    let mut broken = original.clone();
    broken.steps.retain(|st| {
        !(st.from.contains(&State::Dispatched)
            && matches!(st.action, Action::Acknowledge | Action::Decline | Action::Reassign | Action::Cancel))
    });
    let e = s.order_type_update(&sys, "repair", &input(broken), &ctx).await.unwrap_err();
    assert_eq!(code_of(e), "unsound_workflow");
    // Missing SLA level, zero target, bad calendar, empty name.
    let mut i = input(original.clone());
    i.targets.remove("2");
    assert_eq!(code_of(s.order_type_update(&sys, "repair", &i, &ctx).await.unwrap_err()), "missing_level");
    let mut i = input(original.clone());
    i.targets.get_mut("1").unwrap().complete = Some(0);
    assert_eq!(code_of(s.order_type_update(&sys, "repair", &i, &ctx).await.unwrap_err()), "invalid_target");
    let mut i = input(original.clone());
    i.calendar = Some(waterdesk_domain::sla::Calendar::office(1000, 900));
    assert_eq!(code_of(s.order_type_update(&sys, "repair", &i, &ctx).await.unwrap_err()), "invalid_calendar");
    let mut i = input(original.clone());
    i.name_zh = "  ".into();
    assert_eq!(code_of(s.order_type_update(&sys, "repair", &i, &ctx).await.unwrap_err()), "invalid_name");
    let unchanged = s.order_types(&sys).await.unwrap().into_iter().find(|t| t.code == "repair").unwrap();
    assert_eq!(unchanged.workflow, repair.workflow, "refused edits change nothing");

    // A sound edit: office-hours calendar, repair renamed; audited.
    let mut i = input(original.clone());
    i.name_zh = "报修工单".into();
    i.calendar = Some(waterdesk_domain::sla::Calendar::office(510, 1050));
    let t = s.order_type_update(&sys, "repair", &i, &ctx).await.unwrap();
    assert_eq!(t.name_zh, "报修工单");
    assert!(t.calendar.contains("510"));
    let audit =
        s.audit_search(&sys, &waterdesk_store::audit::AuditFilter { limit: 5, ..Default::default() }).await.unwrap();
    assert!(audit.iter().any(|e| e.event_type == "order_type.update"));

    // Unknown type; a role without the permission.
    let e = s.order_type_update(&sys, "teleport", &input(original.clone()), &ctx).await.unwrap_err();
    assert!(matches!(e, ServiceError::NotFound { .. }), "{e:?}");
    let mut agent = sys.clone();
    agent.permissions = [perm::ORDER_READ.to_string()].into_iter().collect();
    let e = s.order_type_update(&agent, "repair", &input(original), &ctx).await.unwrap_err();
    assert!(matches!(e, ServiceError::Forbidden { .. }), "{e:?}");
    app.stop().await;
});

/// A demo user as the services see them after sign-in.
pub(crate) async fn as_user(app: &TestApp, username: &str) -> waterdesk_services::Principal {
    let s = app.services();
    let mut c = s.db.read().await.unwrap();
    let u = waterdesk_store::users::get_by_username(&mut c, username).await.unwrap().expect(username);
    let (roles, perms) = waterdesk_store::users::grants(&mut c, u.id).await.unwrap();
    let mut p = waterdesk_services::Principal::system();
    (p.user_id, p.unit_id, p.username, p.data_scope) =
        (u.id, u.unit_id, u.username, waterdesk_services::access::DataScope::from_stored(&u.data_scope));
    p.roles = roles;
    p.permissions = perms.into_iter().collect();
    p
}

/// Registers an order as the dispatcher, accepts it and dispatches it to `crew`.
pub(crate) async fn dispatched(
    app: &TestApp,
    input: &OrderInput,
    crew: &waterdesk_services::Principal,
) -> waterdesk_store::orders::Order {
    let (s, ctx) = (app.services(), AuditCtx::cli("test"));
    let dispatcher = as_user(app, "dispatcher").await;
    let o = s.order_create(&dispatcher, input, &ctx).await.unwrap();
    let o = s.order_act(&dispatcher, o.id, "accept", &act(o.version, &[]), &ctx).await.unwrap();
    let d = ActInput { assignee_id: Some(crew.user_id), ..act(o.version, &[]) };
    s.order_act(&dispatcher, o.id, "dispatch", &d, &ctx).await.unwrap()
}

pub(crate) fn act(version: i64, fields: &[(&str, &str)]) -> ActInput {
    ActInput {
        version,
        fields: fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..Default::default()
    }
}

// R-WO-01/03/04: the closed loop of a repair through the services — registration from a
// contact, acceptance, dispatch, the crew's steps, suspension, verification, return visit;
// every refusal on the way is precise, and each transition is an event.
backend_test!(repair_order_closed_loop, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let s = app.services();
    let ctx = AuditCtx::cli("test");
    let (agent, dispatcher, worker) =
        (as_user(&app, "agent").await, as_user(&app, "dispatcher").await, as_user(&app, "worker").await);
    let contact = s
        .contact_create(
            &agent,
            &waterdesk_services::contacts::ContactInput {
                channel: "hotline".into(),
                direction: "inbound".into(),
                source: "customer".into(),
                category: "repair".into(),
                caller: "13800138000".into(),
                content: "文三路12号门口水管爆裂".into(),
                ..Default::default()
            },
            &ctx,
        )
        .await
        .unwrap();
    let input = OrderInput {
        type_code: "repair".into(),
        origin: "contact".into(),
        contact_id: Some(contact.contact.id),
        // Level 2: a level-1 order would be dispatched automatically (tests/it/dispatch.rs).
        impact: "high".into(),
        urgency: "medium".into(),
        title: "文三路12号水管爆裂".into(),
        address: "文三路12号".into(),
        lat: Some(30.2741),
        lng: Some(120.1551),
        ..Default::default()
    };
    // Bad registrations first.
    for (tweak, code) in [
        (OrderInput { type_code: "teleport".into(), ..input.clone() }, "unknown_type"),
        (OrderInput { impact: "huge".into(), ..input.clone() }, "invalid_level"),
        (OrderInput { title: " ".into(), ..input.clone() }, "invalid_title"),
        (OrderInput { lat: Some(123.0), ..input.clone() }, "invalid_coordinate"),
        (OrderInput { origin: "carrier_pigeon".into(), ..input.clone() }, "unknown_origin"),
        (OrderInput { contact_id: Some(999_999), ..input.clone() }, "unknown_contact"),
    ] {
        assert_eq!(code_of(s.order_create(&agent, &tweak, &ctx).await.unwrap_err()), code);
    }
    assert!(matches!(s.order_create(&worker, &input, &ctx).await, Err(ServiceError::Forbidden { .. })));
    let o = s.order_create(&agent, &input, &ctx).await.unwrap();
    assert!(o.order_no.starts_with("WO"), "{}", o.order_no);
    assert_eq!((o.state.as_str(), o.priority, o.version), ("registered", 2, 1));
    let linked = s.contact_get(&agent, contact.contact.id).await.unwrap();
    assert_eq!(linked.contact.order_no, o.order_no, "the contact names its order");

    let worker_id = worker.user_id;
    let step = |p: waterdesk_services::Principal, action: &'static str, i: ActInput| {
        let s = s.clone();
        let ctx = ctx.clone();
        async move { s.order_act(&p, o.id, action, &i, &ctx).await }
    };
    // Illegal and forbidden moves change nothing.
    let e = step(dispatcher.clone(), "complete", act(1, &[])).await.unwrap_err();
    assert_eq!(code_of(e), "illegal_transition");
    let e = step(agent.clone(), "accept", act(1, &[])).await.unwrap_err();
    assert!(matches!(e, ServiceError::Forbidden { .. }), "{e:?}");
    let e = step(dispatcher.clone(), "fly", act(1, &[])).await.unwrap_err();
    assert_eq!(code_of(e), "unknown_action");
    let o2 = step(dispatcher.clone(), "accept", act(1, &[])).await.unwrap();
    assert_eq!((o2.state.as_str(), o2.version), ("accepted", 2));
    assert!(o2.accepted_at.is_some());
    // A stale version loses.
    let e = step(dispatcher.clone(), "dispatch", ActInput { assignee_id: Some(worker_id), ..act(1, &[]) })
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::Conflict { .. }), "{e:?}");
    // Dispatch needs a crew member.
    let e = step(dispatcher.clone(), "dispatch", act(2, &[])).await.unwrap_err();
    assert_eq!(code_of(e), "required");
    let e = step(dispatcher.clone(), "dispatch", ActInput { assignee_id: Some(agent.user_id), ..act(2, &[]) })
        .await
        .unwrap_err();
    assert_eq!(code_of(e), "not_a_crew");
    let o3 =
        step(dispatcher.clone(), "dispatch", ActInput { assignee_id: Some(worker_id), ..act(2, &[]) }).await.unwrap();
    assert_eq!((o3.state.as_str(), o3.assignee_id), ("dispatched", Some(worker_id)));
    // Only the assignee acknowledges.
    // Another crew member with scope `own` does not even see it (issue 24); one whose
    // scope is the unit sees it and is still refused.
    let mut other_worker = worker.clone();
    other_worker.user_id = dispatcher.user_id;
    let e = step(other_worker.clone(), "acknowledge", act(3, &[])).await.unwrap_err();
    assert!(matches!(e, ServiceError::NotFound { .. }), "{e:?}");
    other_worker.data_scope = waterdesk_services::access::DataScope::Unit;
    other_worker.unit_id = o3.unit_id;
    let e = step(other_worker, "acknowledge", act(3, &[])).await.unwrap_err();
    assert_eq!(code_of(e), "not_assignee");
    let o4 = step(worker.clone(), "acknowledge", act(3, &[])).await.unwrap();
    let o5 =
        step(worker.clone(), "start", ActInput { lat: Some(30.2742), lng: Some(120.1552), ..act(o4.version, &[]) })
            .await
            .unwrap();
    assert_eq!(o5.state, "in_progress");
    // Suspension pauses the clock and returns to where the order was.
    let e = step(dispatcher.clone(), "suspend", act(o5.version, &[])).await.unwrap_err();
    assert_eq!(code_of(e), "required", "a suspension needs its reason");
    let o6 = step(dispatcher.clone(), "suspend", ActInput { note: "等待配件".into(), ..act(o5.version, &[]) })
        .await
        .unwrap();
    assert_eq!((o6.state.as_str(), o6.suspended_from.as_deref()), ("suspended", Some("in_progress")));
    let o7 = step(dispatcher.clone(), "resume", act(o6.version, &[])).await.unwrap();
    assert_eq!((o7.state.as_str(), o7.suspended_from), ("in_progress", None));
    {
        let mut c = s.db.read().await.unwrap();
        let pauses = waterdesk_store::orders::pauses(&mut c, o.id).await.unwrap();
        assert_eq!(pauses.len(), 1);
        assert!(pauses[0].1.is_some(), "the pause is closed on resume");
    }
    // Completion needs cause and solution.
    let e = step(worker.clone(), "complete", act(o7.version, &[("cause", "pipe_burst")])).await.unwrap_err();
    assert_eq!(code_of(e), "required");
    // Causes and solutions come from their dictionaries (R-WO-13).
    let e = step(worker.clone(), "complete", act(o7.version, &[("cause", "gremlins"), ("solution", "replaced")]))
        .await
        .unwrap_err();
    assert_eq!(code_of(e), "unknown_code");
    let e = step(worker.clone(), "complete", act(o7.version, &[("cause", "pipe_burst"), ("solution", "prayer")]))
        .await
        .unwrap_err();
    assert_eq!(code_of(e), "unknown_code");
    let o8 = step(worker.clone(), "complete", act(o7.version, &[("cause", "pipe_burst"), ("solution", "replaced")]))
        .await
        .unwrap();
    assert_eq!(o8.state, "resolved");
    let o9 = step(dispatcher.clone(), "verify", act(o8.version, &[])).await.unwrap();
    // A repair needs its reply to the customer (答复) before it concludes.
    let e = step(agent.clone(), "visit", act(o9.version, &[("satisfaction", "satisfied")])).await.unwrap_err();
    assert_eq!(code_of(e), "reply_required");
    let e = step(agent.clone(), "visit", act(o9.version, &[("satisfaction", "ecstatic"), ("reply", "x")]))
        .await
        .unwrap_err();
    assert_eq!(code_of(e), "unknown_code");
    let o10 =
        step(agent.clone(), "visit", act(o9.version, &[("satisfaction", "satisfied"), ("reply", "已修复，已告知")]))
            .await
            .unwrap();
    assert!(o10.replied_at.is_some());
    assert_eq!(o10.state, "concluded");
    assert!(o10.concluded_at.is_some() && o10.resolved_at.is_some() && o10.arrived_at.is_some());
    assert!(o10.fields.contains("pipe_burst") && o10.fields.contains("satisfied"));
    let e =
        step(dispatcher.clone(), "cancel", ActInput { note: "x".into(), ..act(o10.version, &[]) }).await.unwrap_err();
    assert_eq!(code_of(e), "illegal_transition", "a concluded order stays concluded");
    let mut c = s.db.read().await.unwrap();
    let events = waterdesk_store::orders::events(&mut c, o.id).await.unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["register", "accept", "dispatch", "acknowledge", "start", "suspend", "resume", "complete", "verify", "visit"]
    );
    assert_eq!(events[4].lat_e6, Some(30_274_200), "the check-in position is kept");
    app.stop().await;
});

// R-WO-03: of concurrent transitions on one order exactly one wins.
backend_test!(concurrent_transitions_one_wins, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let s = app.services().clone();
    let dispatcher = as_user(&app, "dispatcher").await;
    let input = OrderInput {
        type_code: "maintenance".into(),
        impact: "low".into(),
        urgency: "medium".into(),
        title: "阀门井盖松动".into(),
        ..Default::default()
    };
    let o = s.order_create(&dispatcher, &input, &AuditCtx::cli("test")).await.unwrap();
    assert_eq!(o.priority, 4);
    let mut tasks = Vec::new();
    for action in ["accept", "reject", "accept", "reject", "accept", "reject"] {
        let (s, p) = (s.clone(), dispatcher.clone());
        tasks.push(tokio::spawn(async move {
            let i = ActInput { note: "并发".into(), ..act(1, &[]) };
            s.order_act(&p, o.id, action, &i, &AuditCtx::cli("test")).await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(ServiceError::Conflict { .. }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(won, 1);
    let mut c = s.db.read().await.unwrap();
    let events = waterdesk_store::orders::events(&mut c, o.id).await.unwrap();
    assert_eq!(events.len(), 2, "one registration, one transition");
    app.stop().await;
});

/// The specific reason of a validation error (`detail` is `code: explanation`).
fn why(r: &crate::helpers::Resp) -> &str {
    r.body["error"]["detail"].as_str().unwrap_or("").split(':').next().unwrap_or("")
}

// The orders API (R-WO-01/03): registration, actions with their HTTP statuses and stable
// codes, the history, the types; unknown fields and actions are clear errors.
backend_test!(orders_over_http, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let (agent, dispatcher) = (app.api("agent").await, app.api("dispatcher").await);
    let types = agent.get("/api/v1/order-types").await;
    assert_eq!(types.status, 200);
    assert_eq!(types.body.as_array().unwrap().len(), 12);
    let body = serde_json::json!({"type_code": "complaint", "impact": "medium", "urgency": "high",
        "title": "营业厅服务态度差", "content": "客户反映柜台人员态度生硬"});
    let created = agent.post("/api/v1/orders", body.clone()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["priority"], 2);
    let id = created.body["id"].as_i64().unwrap();
    let mut extra = body.clone();
    extra["colour"] = "red".into();
    let r = agent.post("/api/v1/orders", extra).await;
    assert_eq!(r.status, 422, "unknown fields are refused: {}", r.body);
    let r = agent.post(&format!("/api/v1/orders/{id}/actions/accept"), serde_json::json!({"version": 1})).await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "forbidden"), "agents do not accept orders");
    let r = dispatcher.post(&format!("/api/v1/orders/{id}/actions/complete"), serde_json::json!({"version": 1})).await;
    assert_eq!((r.status.as_u16(), r.code(), why(&r)), (422, "validation_failed", "illegal_transition"));
    let r = dispatcher.post(&format!("/api/v1/orders/{id}/actions/warp"), serde_json::json!({"version": 1})).await;
    assert_eq!((r.status.as_u16(), why(&r)), (422, "unknown_action"));
    let r = dispatcher.post(&format!("/api/v1/orders/{id}/actions/accept"), serde_json::json!({"version": 1})).await;
    assert_eq!((r.status.as_u16(), r.body["state"].as_str()), (200, Some("accepted")));
    let r = dispatcher.post(&format!("/api/v1/orders/{id}/actions/accept"), serde_json::json!({"version": 1})).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "conflict"), "a stale version");
    let r = agent.post(&format!("/api/v1/orders/{id}/actions/urge"), serde_json::json!({"version": 2})).await;
    assert_eq!((r.status.as_u16(), r.body["state"].as_str()), (200, Some("accepted")), "urging keeps the state");
    let detail = agent.get(&format!("/api/v1/orders/{id}")).await;
    assert_eq!(detail.status, 200);
    let actions: Vec<&str> =
        detail.body["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["register", "accept", "urge"]);
    assert_eq!(agent.get("/api/v1/orders/999999").await.status, 404);
    // Lists: open ones, by state, paging, bad filters.
    let second = agent.post("/api/v1/orders", body.clone()).await;
    let second_id = second.body["id"].as_i64().unwrap();
    let open = dispatcher.get("/api/v1/orders?open=true").await;
    // The demo's orders are older than ours.
    let ids: Vec<i64> =
        open.body.as_array().unwrap().iter().map(|o| o["id"].as_i64().unwrap()).filter(|x| *x >= id).collect();
    assert_eq!(ids, [second_id, id], "newest first");
    let accepted = dispatcher.get("/api/v1/orders?state=accepted&type=complaint").await;
    assert_eq!(accepted.body.as_array().unwrap().len(), 1);
    let page = dispatcher.get(&format!("/api/v1/orders?limit=1&before={second_id}")).await;
    assert_eq!(page.body[0]["id"].as_i64(), Some(id));
    for bad in ["state=flying", "limit=0", "priority=9", "assignee=bob", "colour=red"] {
        let r = dispatcher.get(&format!("/api/v1/orders?{bad}")).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
    }
    let mine = app.api("worker").await.get("/api/v1/orders?assignee=me").await;
    let mine: Vec<&serde_json::Value> = mine.body.as_array().unwrap().iter().collect();
    assert!(!mine.is_empty(), "the demo's orders of the crew");
    let worker_id = as_user(&app, "worker").await.user_id;
    assert!(mine.iter().all(|o| o["assignee_id"].as_i64() == Some(worker_id)), "only the crew's own");
    assert!(mine.iter().all(|o| o["id"].as_i64() < Some(id)), "nothing of ours dispatched to the crew yet");
    // English on request.
    let r = TestApp::client()
        .post(app.url(&format!("/api/v1/orders/{id}/actions/complete")))
        .bearer_auth(app.token("dispatcher").await)
        .header("accept-language", "en")
        .json(&serde_json::json!({"version": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["error"]["message"].as_str().unwrap().is_ascii(), "{v}");
    app.stop().await;
});
