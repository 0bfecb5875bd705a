//! Statistics over the database (issue 6, R-DATA-01/04/05): orders driven through the real
//! services with a controlled clock, the indicators read through the API, checked against
//! figures worked out by hand and against `domain::kpi::compute` on facts written out in
//! the test — the same on SQLite and PostgreSQL.

use reqwest::StatusCode;
use serde_json::{Value, json};
use waterdesk_domain::kpi::{self, Cohort, Keys, OrderFacts, Satisfaction, VisitAttempt};
use waterdesk_domain::sla::{Calendar, default_targets};
use waterdesk_domain::workflow::State;
use waterdesk_services::Principal;
use waterdesk_services::audit::AuditCtx;
use waterdesk_services::orders::OrderInput;
use waterdesk_services::stats::{IndicatorRow, parse_group_by};

use crate::backend_test;
use crate::helpers::{TestApp, Web};
use crate::orders::{act, as_user};

fn at(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

/// Sets the clock to `when`, then applies `action` on the order's current version.
async fn step(
    app: &TestApp,
    p: &Principal,
    id: i64,
    action: &str,
    fields: &[(&str, &str)],
    assignee: Option<i64>,
    when: &str,
) {
    app.clock.set(at(when));
    let s = app.services();
    let version = {
        let mut c = s.db.read().await.unwrap();
        waterdesk_store::orders::get(&mut c, id).await.unwrap().unwrap().version
    };
    let mut i = act(version, fields);
    i.assignee_id = assignee;
    s.order_act(p, id, action, &i, &AuditCtx::cli("test")).await.unwrap_or_else(|e| panic!("{action}: {e:?}"));
}

async fn create(app: &TestApp, p: &Principal, type_code: &str, contact_id: Option<i64>, when: &str) -> i64 {
    app.clock.set(at(when));
    let input = OrderInput {
        type_code: type_code.into(),
        origin: if contact_id.is_some() { "contact".into() } else { String::new() },
        contact_id,
        // Level 4 (low × low): acknowledge 120 min, complete 72 h, round the clock.
        impact: "low".into(),
        urgency: "low".into(),
        title: format!("统计 {when}"),
        ..Default::default()
    };
    let o = app.services().order_create(p, &input, &AuditCtx::cli("test")).await.unwrap();
    assert_eq!(o.priority, 4);
    o.id
}

async fn get(app: &TestApp, token: &str, query: &str) -> (StatusCode, Value) {
    let r = TestApp::client()
        .get(app.url(&format!("/api/v1/stats/indicators?{query}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

const JUNE: &str = "from=2026-06-01T00:00:00Z&to=2026-07-01T00:00:00Z";

// R-DATA-04/05: a cohort with a suspension, a send-back, replies, return visits, a
// cancelled and a rejected order, and orders just outside it.
backend_test!(indicators_over_the_database, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let s = app.services().clone();
    let ctx = AuditCtx::cli("test");
    let (agent, dispatcher, worker) =
        (as_user(&app, "agent").await, as_user(&app, "dispatcher").await, as_user(&app, "worker").await);
    let w = Some(worker.user_id);
    app.clock.set(at("2026-06-01T01:00:00Z"));
    let contact = s
        .contact_create(
            &agent,
            &waterdesk_services::contacts::ContactInput {
                channel: "hotline".into(),
                direction: "inbound".into(),
                source: "customer".into(),
                category: "repair".into(),
                caller: "13800138000".into(),
                content: "水管漏水".into(),
                ..Default::default()
            },
            &ctx,
        )
        .await
        .unwrap();

    // H: one second before the cohort; I: at its end (excluded).
    let h = create(&app, &dispatcher, "maintenance", None, "2026-05-31T23:59:59Z").await;
    step(&app, &dispatcher, h, "accept", &[], None, "2026-06-01T00:30:00Z").await;
    // A: repair from a hotline contact; acknowledged on time, suspended 24 h, resolved,
    // sent back, resolved again on time thanks to the suspension, visited (satisfied).
    let a = create(&app, &agent, "repair", Some(contact.contact.id), "2026-06-01T02:00:00Z").await;
    step(&app, &dispatcher, a, "accept", &[], None, "2026-06-01T02:10:00Z").await;
    step(&app, &dispatcher, a, "dispatch", &[], w, "2026-06-01T02:20:00Z").await;
    step(&app, &worker, a, "acknowledge", &[], None, "2026-06-01T03:00:00Z").await;
    step(&app, &worker, a, "start", &[], None, "2026-06-01T03:30:00Z").await;
    step(&app, &dispatcher, a, "suspend", &[("note", "等待配件")], None, "2026-06-01T04:00:00Z").await;
    step(&app, &dispatcher, a, "resume", &[], None, "2026-06-02T04:00:00Z").await;
    let fix = [("cause", "pipe_burst"), ("solution", "replaced")];
    step(&app, &worker, a, "complete", &fix, None, "2026-06-04T12:00:00Z").await;
    step(&app, &dispatcher, a, "send_back", &[("note", "仍漏水")], None, "2026-06-04T13:00:00Z").await;
    step(&app, &worker, a, "complete", &fix, None, "2026-06-04T20:00:00Z").await;
    step(&app, &dispatcher, a, "verify", &[], None, "2026-06-04T21:00:00Z").await;
    let visit = [("satisfaction", "satisfied"), ("reply", "已修复")];
    step(&app, &agent, a, "visit", &visit, None, "2026-06-05T01:00:00Z").await;
    // B: repair acknowledged and resolved late, visited (basically satisfied).
    let b = create(&app, &dispatcher, "repair", None, "2026-06-02T00:00:00Z").await;
    step(&app, &dispatcher, b, "accept", &[], None, "2026-06-02T01:00:00Z").await;
    step(&app, &dispatcher, b, "dispatch", &[], w, "2026-06-02T01:30:00Z").await;
    step(&app, &worker, b, "acknowledge", &[], None, "2026-06-02T05:00:00Z").await;
    step(&app, &worker, b, "start", &[], None, "2026-06-02T06:00:00Z").await;
    step(&app, &worker, b, "complete", &fix, None, "2026-06-05T02:00:00Z").await;
    step(&app, &dispatcher, b, "verify", &[], None, "2026-06-05T03:00:00Z").await;
    let visit = [("satisfaction", "basically_satisfied"), ("reply", "已修复")];
    step(&app, &agent, b, "visit", &visit, None, "2026-06-05T04:00:00Z").await;
    // C: maintenance in progress, past its complete deadline (2026-06-06T01:00Z).
    let c = create(&app, &dispatcher, "maintenance", None, "2026-06-03T00:00:00Z").await;
    step(&app, &dispatcher, c, "accept", &[], None, "2026-06-03T01:00:00Z").await;
    step(&app, &dispatcher, c, "dispatch", &[], w, "2026-06-03T01:10:00Z").await;
    step(&app, &worker, c, "acknowledge", &[], None, "2026-06-03T02:00:00Z").await;
    step(&app, &worker, c, "start", &[], None, "2026-06-03T02:30:00Z").await;
    // D: cancelled; E: rejected.
    let d = create(&app, &dispatcher, "maintenance", None, "2026-06-03T10:00:00Z").await;
    step(&app, &dispatcher, d, "accept", &[], None, "2026-06-03T10:30:00Z").await;
    step(&app, &dispatcher, d, "cancel", &[("note", "重复")], None, "2026-06-03T11:00:00Z").await;
    let e = create(&app, &dispatcher, "maintenance", None, "2026-06-03T12:00:00Z").await;
    step(&app, &dispatcher, e, "reject", &[("note", "非本司管辖")], None, "2026-06-03T12:30:00Z").await;
    // F: a consultation nobody has accepted (no clock, no reply yet).
    let f = create(&app, &dispatcher, "consultation", None, "2026-06-04T00:00:00Z").await;
    // G: repair resolved on time, not verified, not visited, not replied.
    let g = create(&app, &dispatcher, "repair", None, "2026-06-05T00:00:00Z").await;
    step(&app, &dispatcher, g, "accept", &[], None, "2026-06-05T00:10:00Z").await;
    step(&app, &dispatcher, g, "dispatch", &[], w, "2026-06-05T00:20:00Z").await;
    step(&app, &worker, g, "acknowledge", &[], None, "2026-06-05T00:30:00Z").await;
    step(&app, &worker, g, "start", &[], None, "2026-06-05T00:40:00Z").await;
    step(&app, &worker, g, "complete", &fix, None, "2026-06-05T10:00:00Z").await;
    let i = create(&app, &dispatcher, "maintenance", None, "2026-07-01T00:00:00Z").await;
    app.clock.set(at("2026-07-02T00:00:00Z"));
    let _ = i;

    let token = app.token("supervisor").await;
    let asof = "at=2026-06-20T00:00:00Z";
    let (st, whole) = get(&app, &token, &format!("{JUNE}&{asof}")).await;
    assert_eq!(st, StatusCode::OK, "{whole}");
    assert_eq!(whole.as_array().unwrap().len(), 1);
    let got = &whole[0]["indicators"];
    // By hand, as of 2026-06-20: A..G registered; stages A, B concluded, C in progress,
    // D cancelled, E rejected, F registered, G resolved.
    // Acknowledged A (03:00 ≤ 04:10), B (05:00 > 03:00, late), C (02:00 ≤ 03:00), G
    // (00:30 ≤ 02:10). Resolved on time: A (06-04 20:00 ≤ 06-04 02:10 + 24 h suspended),
    // G (06-05 10:00 ≤ 06-08 00:10); B late (06-05 02:00 > 06-05 01:00). Concluded on
    // time: A (06-05 01:00 ≤ 06-05 02:10); B (06-05 04:00) late. Reply types: repair
    // A, B, G and consultation F; replied A and B. Visits: A satisfied, B basically.
    // C is past 06-06 01:00; F has no clock.
    let expected = json!({
        "registered": 7, "not_accepted": 1, "accepted_not_acknowledged": 0,
        "acknowledged_not_processed": 1, "resolved_items": 3, "closed_items": 4, "completed": 2,
        "overdue_unprocessed": 1, "conclusion_rate": 0.4, "ack_on_time": 3, "ack_on_time_rate": 0.75,
        "processed_on_time": 2, "processed_on_time_rate": 2.0 / 3.0, "not_replied": 2, "replied": 2,
        "visit_required": 3, "visit_attempts": 2, "visit_rate": 2.0 / 3.0, "visit_satisfied": 2,
        "visit_satisfied_rate": 1.0, "closing_on_time": 1, "closing_on_time_rate": 0.5, "acknowledged": 4,
        "rejected": 1, "cancelled": 1, "visited": 2, "suspended": 0,
    });
    assert_eq!(got, &expected);

    // As of 2026-06-01T12:00: only A, suspended while in progress.
    let (_, early) = get(&app, &token, &format!("{JUNE}&at=2026-06-01T12:00:00Z")).await;
    let early = &early[0]["indicators"];
    assert_eq!((early["registered"].as_u64(), early["suspended"].as_u64()), (Some(1), Some(1)));
    assert_eq!(early["acknowledged_not_processed"], 1);
    assert_eq!(early["conclusion_rate"], 0.0);
    assert_eq!(early["processed_on_time_rate"], Value::Null, "a rate over nothing is empty");
    // As of 2026-06-04T13:30: A was sent back (no longer resolved), G not yet registered.
    let (_, mid) = get(&app, &token, &format!("{JUNE}&at=2026-06-04T13:30:00Z")).await;
    let mid = &mid[0]["indicators"];
    assert_eq!((mid["registered"].as_u64(), mid["resolved_items"].as_u64()), (Some(6), Some(0)));
    assert_eq!(mid["acknowledged_not_processed"], 3);
    assert_eq!(mid["overdue_unprocessed"], 0);

    // The same figures from kpi::compute on the facts written out by hand.
    let cal = Calendar::always();
    let (team, office) = (worker.unit_id, dispatcher.unit_id);
    let fact = |reg: &str, hist: &[(&str, State)], kind: &str, unit: i64, visits: &[(&str, Satisfaction)]| {
        let (reply, visit) = match kind {
            "repair" => (true, true),
            "consultation" => (true, false),
            _ => (false, false),
        };
        let replied_at = visits.first().map(|(t, _)| at(t));
        let from_contact = reg == "2026-06-01T02:00:00Z";
        OrderFacts {
            registered_at: at(reg),
            history: hist.iter().map(|(t, s)| (at(t), *s)).collect(),
            targets: default_targets(4),
            calendar: &cal,
            requires_reply: reply,
            replied_at,
            requires_visit: visit,
            visits: visits.iter().map(|(t, r)| VisitAttempt { at: at(t), rating: Some(*r) }).collect(),
            keys: Keys {
                unit,
                order_type: kind.to_string(),
                category: String::new(),
                channel: if from_contact { "hotline" } else { "staff" }.into(),
                source: if from_contact { "customer" } else { "staff" }.into(),
            },
        }
    };
    use State::*;
    let facts = vec![
        fact("2026-05-31T23:59:59Z", &[("2026-06-01T00:30:00Z", Accepted)], "maintenance", office, &[]),
        fact(
            "2026-06-01T02:00:00Z",
            &[
                ("2026-06-01T02:10:00Z", Accepted),
                ("2026-06-01T02:20:00Z", Dispatched),
                ("2026-06-01T03:00:00Z", Acknowledged),
                ("2026-06-01T03:30:00Z", InProgress),
                ("2026-06-01T04:00:00Z", Suspended),
                ("2026-06-02T04:00:00Z", InProgress),
                ("2026-06-04T12:00:00Z", Resolved),
                ("2026-06-04T13:00:00Z", InProgress),
                ("2026-06-04T20:00:00Z", Resolved),
                ("2026-06-04T21:00:00Z", Verified),
                ("2026-06-05T01:00:00Z", Concluded),
            ],
            "repair",
            team,
            &[("2026-06-05T01:00:00Z", Satisfaction::Satisfied)],
        ),
        fact(
            "2026-06-02T00:00:00Z",
            &[
                ("2026-06-02T01:00:00Z", Accepted),
                ("2026-06-02T01:30:00Z", Dispatched),
                ("2026-06-02T05:00:00Z", Acknowledged),
                ("2026-06-02T06:00:00Z", InProgress),
                ("2026-06-05T02:00:00Z", Resolved),
                ("2026-06-05T03:00:00Z", Verified),
                ("2026-06-05T04:00:00Z", Concluded),
            ],
            "repair",
            team,
            &[("2026-06-05T04:00:00Z", Satisfaction::BasicallySatisfied)],
        ),
        fact(
            "2026-06-03T00:00:00Z",
            &[
                ("2026-06-03T01:00:00Z", Accepted),
                ("2026-06-03T01:10:00Z", Dispatched),
                ("2026-06-03T02:00:00Z", Acknowledged),
                ("2026-06-03T02:30:00Z", InProgress),
            ],
            "maintenance",
            team,
            &[],
        ),
        fact(
            "2026-06-03T10:00:00Z",
            &[("2026-06-03T10:30:00Z", Accepted), ("2026-06-03T11:00:00Z", Cancelled)],
            "maintenance",
            office,
            &[],
        ),
        fact("2026-06-03T12:00:00Z", &[("2026-06-03T12:30:00Z", Rejected)], "maintenance", office, &[]),
        fact("2026-06-04T00:00:00Z", &[], "consultation", office, &[]),
        fact(
            "2026-06-05T00:00:00Z",
            &[
                ("2026-06-05T00:10:00Z", Accepted),
                ("2026-06-05T00:20:00Z", Dispatched),
                ("2026-06-05T00:30:00Z", Acknowledged),
                ("2026-06-05T00:40:00Z", InProgress),
                ("2026-06-05T10:00:00Z", Resolved),
            ],
            "repair",
            team,
            &[],
        ),
        fact("2026-07-01T00:00:00Z", &[], "maintenance", office, &[]),
    ];
    let cohort = Cohort { from: at("2026-06-01T00:00:00Z"), to: at("2026-07-01T00:00:00Z") };
    let same_as_compute = |round: &'static str| {
        let (app, token, facts, s) = (&app, &token, &facts, &s);
        async move {
            for (asof, group_by) in [
                ("2026-06-20T00:00:00Z", ""),
                ("2026-06-20T00:00:00Z", "unit"),
                ("2026-06-20T00:00:00Z", "type,channel"),
                ("2026-06-20T00:00:00Z", "source,day"),
                ("2026-06-04T13:30:00Z", "unit,week"),
                ("2026-06-01T12:00:00Z", "month"),
                ("2026-07-02T00:00:00Z", "category,unit,day"),
            ] {
                let rows = kpi::compute(facts, cohort, at(asof), parse_group_by(group_by).unwrap(), &s.tz);
                let want: Vec<IndicatorRow> = rows.into_iter().map(|(k, i)| IndicatorRow::new(k, i)).collect();
                let (st, api) = get(app, token, &format!("{JUNE}&at={asof}&group_by={group_by}")).await;
                assert_eq!(st, StatusCode::OK);
                assert_eq!(api, serde_json::to_value(&want).unwrap(), "{round}: as of {asof} by {group_by}");
            }
        }
    };
    // Replayed from the events, then summed from the stored facts of every order that is
    // not suspended (ARCHITECTURE D24: settled and open alike), then again after
    // the repair type's deadlines changed (its facts are forgotten and recomputed).
    s.refresh_facts(usize::MAX).await.unwrap();
    let mut conn = s.db.read().await.unwrap();
    sqlx::query("DELETE FROM order_facts").execute(&mut *conn).await.unwrap();
    sqlx::query("UPDATE work_orders SET facts_version = -1").execute(&mut *conn).await.unwrap();
    drop(conn);
    same_as_compute("replayed").await;
    assert!(s.refresh_facts(usize::MAX).await.unwrap() >= 8);
    assert_eq!(s.refresh_facts(usize::MAX).await.unwrap(), 0, "nothing left to do");
    let stored_for = |ids: Vec<i64>| {
        let s = s.clone();
        async move {
            let mut c = s.db.read().await.unwrap();
            let mut got = Vec::new();
            for id in ids {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM order_facts WHERE order_id = $1")
                    .bind(id)
                    .fetch_one(&mut *c)
                    .await
                    .unwrap();
                if n == 1 {
                    got.push(id);
                }
            }
            got
        }
    };
    let everyone = vec![a, b, c, d, e, f, g, h];
    assert_eq!(stored_for(everyone.clone()).await, everyone, "none is suspended");
    same_as_compute("stored facts").await;
    // A custom report's filters (R-DATA-04) select the same orders from stored facts and
    // from the replayed rest: repairs from the hotline, and everything but them.
    let sup = as_user(&app, "supervisor").await;
    for (types, channels) in [(vec!["repair"], vec!["hotline"]), (vec!["maintenance", "consultation"], vec![])] {
        let f = waterdesk_services::stats::Filters {
            types: types.iter().map(|t| t.to_string()).collect(),
            channels: channels.iter().map(|c| c.to_string()).collect(),
            ..Default::default()
        };
        let by = parse_group_by("unit,day").unwrap();
        let asof = at("2026-07-02T00:00:00Z");
        let got = s.indicators_filtered(&sup, cohort.from, cohort.to, Some(asof), by, &f).await.unwrap();
        let kept: Vec<_> = facts
            .iter()
            .filter(|o| types.contains(&o.keys.order_type.as_str()))
            .filter(|o| channels.is_empty() || channels.contains(&o.keys.channel.as_str()))
            .cloned()
            .collect();
        let want: Vec<IndicatorRow> =
            kpi::compute(&kept, cohort, asof, by, &s.tz).into_iter().map(|(k, i)| IndicatorRow::new(k, i)).collect();
        assert!(!want.is_empty());
        assert_eq!(serde_json::to_value(&got).unwrap(), serde_json::to_value(&want).unwrap(), "{types:?} {channels:?}");
    }
    // New deadlines for repairs: their stored facts are forgotten, replayed with the new
    // deadlines meanwhile, and stored again with the same result.
    let admin = as_user(&app, "admin").await;
    let repair = waterdesk_store::orders::get_type(&mut s.db.read().await.unwrap(), "repair").await.unwrap().unwrap();
    let mut targets: Value = serde_json::from_str(&repair.targets).unwrap();
    for level in targets.as_object_mut().unwrap().values_mut() {
        level["complete"] = json!(level["complete"].as_u64().unwrap_or(480) / 4);
    }
    let calendar =
        if repair.calendar.is_empty() { Value::Null } else { serde_json::from_str(&repair.calendar).unwrap() };
    let input: waterdesk_services::orders::OrderTypeInput = serde_json::from_value(json!({
        "name_zh": repair.name_zh, "name_en": repair.name_en,
        "workflow": serde_json::from_str::<Value>(&repair.workflow).unwrap(),
        "targets": targets, "calendar": calendar, "enabled": true, "sort_order": repair.sort_order,
    }))
    .unwrap();
    s.order_type_update(&admin, "repair", &input, &ctx).await.unwrap();
    let mut conn = s.db.read().await.unwrap();
    let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM order_facts WHERE type_code = 'repair'")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(kept, 0, "the repairs' facts are forgotten");
    let all = format!("{JUNE}&at=2026-07-02T00:00:00Z&group_by=type,unit,day");
    let (_, replayed) = get(&app, &token, &all).await;
    assert!(s.refresh_facts(usize::MAX).await.unwrap() >= 3, "A, B and G again");
    assert_eq!(stored_for(everyone.clone()).await, everyone);
    let (_, stored) = get(&app, &token, &all).await;
    assert_eq!(replayed, stored);
    let (_, before) = get(&app, &token, &format!("{JUNE}&at=2026-06-20T00:00:00Z")).await;
    assert_ne!(before[0]["indicators"]["processed_on_time"], 2, "the new deadlines count: {before}");
    let (_, by_unit) = get(&app, &token, &format!("{JUNE}&{asof}&group_by=unit")).await;
    let registered: Vec<(i64, u64)> = by_unit
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["unit_id"].as_i64().unwrap(), r["indicators"]["registered"].as_u64().unwrap()))
        .collect();
    let mut want = vec![(team, 4), (office, 3)];
    want.sort();
    assert_eq!(registered, want);

    // Bad input; a role without report.read.
    for (q, code) in [
        ("from=2026-07-01&to=2026-06-01", "invalid_range"),
        ("from=2026-06-01&to=2026-06-01", "invalid_range"),
        ("from=2021-01-01&to=2026-01-01", "range_too_long"),
        ("from=yesterday", "invalid_time"),
        ("group_by=unit,colour", "unknown_group_by"),
        ("group_by=day,month", "multiple_periods"),
    ] {
        let (st, body) = get(&app, &token, q).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{q}");
        assert_eq!(body["error"]["code"], "validation_failed", "{q}");
        assert!(body["error"]["detail"].as_str().unwrap().starts_with(code), "{q}: {body}");
    }
    let (st, _) = get(&app, &app.token("dispatcher").await, JUNE).await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // The page: June in the service's zone (Shanghai) also holds H, registered
    // 2026-06-01T07:59:59 local; as of now (2026-07-02) 2 of 8 − 2 concluded.
    let mut web = Web::new(&app);
    web.login("supervisor", &app.password("supervisor")).await;
    let page = web.get("/stats?month=2026-06").await;
    assert_eq!(page.status(), StatusCode::OK);
    let body = page.text().await.unwrap();
    assert!(body.contains("处理及时率") && body.contains("回访客户满意率"), "zh labels");
    assert!(body.contains("33.33%"), "the month's conclusion rate");
    assert!(body.contains("href=\"/stats\""), "in the navigation");
    app.stop().await;
});

// R-DATA-01: the quick counts, in the caller's data scope.
backend_test!(quick_counts_today, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let s = app.services().clone();
    let (dispatcher, worker, supervisor) =
        (as_user(&app, "dispatcher").await, as_user(&app, "worker").await, as_user(&app, "supervisor").await);
    let w = Some(worker.user_id);
    // The demo orders are there too: count the difference.
    app.clock.set(at("2026-06-10T01:00:00Z")); // 09:00 in the service's zone
    // Jobs queued for the demo orders at start wait for their time, which is not yet.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let before = s.quick_counts(&supervisor).await.unwrap();
    let fix = [("cause", "pipe_burst"), ("solution", "replaced")];
    let visit = [("satisfaction", "satisfied"), ("reply", "已修复")];
    let _registered = create(&app, &dispatcher, "maintenance", None, "2026-06-10T01:00:00Z").await;
    let accepted = create(&app, &dispatcher, "maintenance", None, "2026-06-10T01:01:00Z").await;
    step(&app, &dispatcher, accepted, "accept", &[], None, "2026-06-10T01:02:00Z").await;
    let suspended = create(&app, &dispatcher, "maintenance", None, "2026-06-10T01:03:00Z").await;
    step(&app, &dispatcher, suspended, "accept", &[], None, "2026-06-10T01:04:00Z").await;
    step(&app, &dispatcher, suspended, "suspend", &[("note", "等待")], None, "2026-06-10T01:05:00Z").await;
    let done = create(&app, &dispatcher, "repair", None, "2026-06-10T01:06:00Z").await;
    for (who, action, fields, a) in [
        (&dispatcher, "accept", &[][..], None),
        (&dispatcher, "dispatch", &[][..], w),
        (&worker, "acknowledge", &[][..], None),
        (&worker, "start", &[][..], None),
        (&worker, "complete", &fix[..], None),
        (&dispatcher, "verify", &[][..], None),
    ] {
        step(&app, who, done, action, fields, a, "2026-06-10T01:07:00Z").await;
    }
    let resolved = create(&app, &dispatcher, "maintenance", None, "2026-06-10T01:08:00Z").await;
    for (who, action, fields, a) in [
        (&dispatcher, "accept", &[][..], None),
        (&dispatcher, "dispatch", &[][..], w),
        (&worker, "acknowledge", &[][..], None),
        (&worker, "start", &[][..], None),
        (&worker, "complete", &fix[..], None),
    ] {
        step(&app, who, resolved, action, fields, a, "2026-06-10T01:09:00Z").await;
    }
    step(&app, &as_user(&app, "agent").await, done, "visit", &visit, None, "2026-06-10T01:10:00Z").await;
    let after = s.quick_counts(&supervisor).await.unwrap();
    let d = |f: fn(&waterdesk_services::stats::QuickCounts) -> i64| f(&after) - f(&before);
    assert_eq!(d(|q| q.received), 5);
    assert_eq!(d(|q| q.unprocessed), 1);
    assert_eq!(d(|q| q.in_progress), 2, "accepted, and suspended while accepted");
    assert_eq!(d(|q| q.awaiting_conclusion), 1);
    assert_eq!(d(|q| q.completed), 1);
    assert_eq!(d(|q| q.visited), 1);
    // Tomorrow nothing was received yet; the stages stay.
    app.clock.set(at("2026-06-10T16:00:00Z")); // midnight in Shanghai
    let next = s.quick_counts(&supervisor).await.unwrap();
    assert_eq!((next.received, next.completed, next.visited), (0, 0, 0));
    assert_eq!(next.unprocessed, after.unprocessed);
    // Over HTTP; a role without report.read.
    let r = TestApp::client()
        .get(app.url("/api/v1/stats/quick"))
        .bearer_auth(app.token("supervisor").await)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["unprocessed"], after.unprocessed);
    let r = TestApp::client()
        .get(app.url("/api/v1/stats/quick"))
        .bearer_auth(app.token("worker").await)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    app.stop().await;
});

// Migration 0021 fills `order_facts.registered_hour` of existing rows in SQL: the
// expression gives, on both backends, the hour the refresher writes for new rows.
backend_test!(registered_hour_in_sql, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let s = app.services().clone();
    let sql = waterdesk_store::dialect::ddl(
        s.db.backend(),
        "SELECT {{registered_hour}} AS h FROM (SELECT CAST($1 AS TEXT) AS registered_at) AS t",
    );
    let mut c = s.db.read().await.unwrap();
    for at in ["2026-10-29T16:00:00Z", "2026-10-29T16:59:59.999999Z", "2024-02-29T23:30:00.5Z", "1999-12-31T00:00:01Z"]
    {
        let at: jiff::Timestamp = at.parse().unwrap();
        let h: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
            .bind(waterdesk_domain::time::to_db(at))
            .fetch_one(&mut *c)
            .await
            .unwrap();
        assert_eq!(h, at.as_second().div_euclid(3600), "{at}");
    }
    drop(c);
    app.stop().await;
});
