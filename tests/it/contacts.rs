//! The call subsystem (issue 4): contacts from every channel with their numbers
//! (R-CALL-01/02/04), masking (R-CALL-07), CTI events with signature, idempotency and
//! out-of-order arrival, the screen pop over SSE (R-CALL-03), the daily interface (R-CALL-08).

use reqwest::StatusCode;
use serde_json::{Value, json};

use waterdesk_services::Clock;

use crate::backend_test;
use crate::helpers::{TestApp, next_event};

const SECRET: &str = "pbx-shared-secret-for-tests";

async fn cti(app: &TestApp, body: Value) -> (StatusCode, Value) {
    cti_signed(app, body, SECRET, 0).await
}

async fn cti_signed(app: &TestApp, body: Value, secret: &str, skew: i64) -> (StatusCode, Value) {
    let bytes = serde_json::to_vec(&body).unwrap();
    let ts = app.clock.now().as_second() + skew;
    let r = TestApp::client()
        .post(app.url("/api/v1/cti/events"))
        .header("content-type", "application/json")
        .header("x-waterdesk-timestamp", ts.to_string())
        .header("x-waterdesk-signature", waterdesk_web::api::contacts::sign(secret, ts, &bytes))
        .body(bytes)
        .send()
        .await
        .unwrap();
    let st = r.status();
    (st, r.json().await.unwrap_or(Value::Null))
}

backend_test!(contacts_are_recorded_with_dictionaries_and_scope, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let agent = app.api("agent").await;
    let r = agent
        .post(
            "/api/v1/contacts",
            json!({"channel": "walk_in", "caller": "139 5712 3456", "category": "consultation",
                   "content": "咨询阶梯水价", "reply": "已解释阶梯水价标准"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let no = r.body["contact_no"].as_str().unwrap().to_string();
    assert!(no.starts_with('C') && no.len() == "C20261121-000001".len(), "{no}");
    assert_eq!((r.body["status"].as_str(), r.body["caller"].as_str()), (Some("replied"), Some("13957123456")));
    let id = r.body["id"].as_i64().unwrap();
    // Unknown dictionary codes, an account of somebody else, an impossible caller number.
    let bad = agent.post("/api/v1/contacts", json!({"category": "gossip"})).await;
    assert_eq!((bad.status, bad.body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("category")));
    let hits = agent.get("/api/v1/customers?q=HZ0010002").await;
    let account = hits.body["items"][0]["customer"]["accounts"][0]["id"].as_i64().unwrap();
    let bad =
        agent.post("/api/v1/contacts", json!({"category": "repair", "customer_id": 1, "account_id": account})).await;
    assert_eq!(
        bad.body["error"]["detail"].as_str().map(|d| d.starts_with("account_not_of_customer")),
        Some(true),
        "{:?}",
        bad.body
    );
    let bad = agent.post("/api/v1/contacts", json!({"category": "repair", "caller": "<script>"})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    // The account fills in its holder.
    let r = agent
        .post("/api/v1/contacts", json!({"category": "repair", "account_id": account, "content": "水表漏水"}))
        .await;
    assert_eq!(r.body["customer_id"], hits.body["items"][0]["customer"]["id"]);
    assert_eq!(r.body["status"], "open");
    let v = agent.get(&format!("/api/v1/accounts/{account}")).await;
    assert_eq!(v.body["contacts"][0]["contact_no"], r.body["contact_no"], "the 360 view lists the account's contacts");
    // Update: the reply is recorded with its time.
    let u = agent
        .put(&format!("/api/v1/contacts/{id}"), json!({"channel": "walk_in", "caller": "13957123456", "category": "complaint", "content": "投诉", "reply": "已登记"}))
        .await;
    assert_eq!(
        (u.body["category"].as_str(), u.body["status"].as_str()),
        (Some("complaint"), Some("replied")),
        "{:?}",
        u.body
    );
    let mine = agent.get("/api/v1/contacts?agent=me&limit=2").await;
    let ids: Vec<i64> = mine.body["items"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![r.body["id"].as_i64().unwrap(), id], "newest first");
    assert!(mine.body["next"].is_i64(), "the demo agent has older contacts too");
    // A supervisor without PII rights sees the number masked; a field worker may not record.
    let sup = app.api("supervisor").await;
    let seen = sup.get(&format!("/api/v1/contacts/{id}")).await;
    assert_eq!((seen.body["caller"].as_str(), seen.body["masked"].as_bool()), (Some("139****3456"), Some(true)));
    let crew = app.api("worker").await;
    assert_eq!(crew.post("/api/v1/contacts", json!({"category": "repair"})).await.status, StatusCode::FORBIDDEN);
    app.stop().await;
});

backend_test!(cti_events_pop_the_screen_and_complete_the_contact, |backend| async move {
    let app = TestApp::spawn_with(backend, |s| s.cti.secret = SECRET.into()).await;
    let agent = app.api("agent").await;
    let seat = agent.put("/api/v1/agent/extension", json!({"extension": "8001"})).await;
    assert_eq!(seat.body["extension"], "8001", "{:?}", seat.body);
    let token = app.token("agent").await;
    let stream = TestApp::client().get(app.url("/api/v1/events/stream")).bearer_auth(&token).send().await.unwrap();
    let reader = tokio::spawn(next_event(stream, "cti.ringing"));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let t0 = app.clock.now();
    let ring = json!({"event": "ringing", "call_id": "1732200000.17", "caller": "13957123456", "called": "96390", "extension": "8001", "at": t0.to_string()});
    let (st, r) = cti(&app, ring.clone()).await;
    assert_eq!(st, StatusCode::OK, "{r:?}");
    assert_eq!(r["duplicate"], false);
    let contact_id = r["contact_id"].as_i64().unwrap();
    let got = reader.await.unwrap();
    assert!(got.contains("event: cti.ringing") && got.contains(&format!("\"contact_id\":{contact_id}")), "{got}");
    // The PBX retries: the same contact, nothing new.
    let (_, again) = cti(&app, ring).await;
    assert_eq!((again["duplicate"].as_bool(), again["contact_id"].as_i64()), (Some(true), Some(contact_id)));
    // The pop: the demo customer with this number, with arrears per account.
    let pop = agent.get(&format!("/api/v1/cti/pop?contact_id={contact_id}")).await;
    assert_eq!(pop.status, StatusCode::OK, "{:?}", pop.body);
    assert_eq!(pop.body["customers"][0]["customer"]["name"], "李秀英");
    assert!(!pop.body["arrears"].as_array().unwrap().is_empty());
    assert_eq!(pop.body["contact"]["status"], "draft");

    let answered = t0.checked_add(jiff::SignedDuration::from_secs(5)).unwrap();
    let ended = t0.checked_add(jiff::SignedDuration::from_secs(95)).unwrap();
    let (_, _) = cti(
        &app,
        json!({"event": "answered", "call_id": "1732200000.17", "extension": "8001", "at": answered.to_string()}),
    )
    .await;
    let (_, r) = cti(&app, json!({"event": "hangup", "call_id": "1732200000.17", "at": ended.to_string(), "recording_url": "https://pbx.example/rec/17.wav"})).await;
    assert_eq!(r["duplicate"], false);
    let (_, _) = cti(&app, json!({"event": "ivr_rating", "call_id": "1732200000.17", "rating": 4})).await;
    let c = agent.get(&format!("/api/v1/contacts/{contact_id}")).await.body;
    assert_eq!((c["duration_s"].as_i64(), c["ivr_rating"].as_i64()), (Some(90), Some(4)), "{c:?}");
    assert_eq!(c["recording_url"], "https://pbx.example/rec/17.wav");
    // The agent records the call: the draft becomes a contact.
    let u = agent
        .put(&format!("/api/v1/contacts/{contact_id}"), json!({"caller": c["caller"], "category": "consultation", "content": "询问账单", "customer_id": c["customer_id"]}))
        .await;
    assert_eq!(u.body["status"], "open", "{:?}", u.body);

    // Out of order: a hang-up before its ringing still opens one contact, for nobody.
    let (_, h) = cti(&app, json!({"event": "hangup", "call_id": "X-2", "caller": "02188886666", "extension": "9999", "at": ended.to_string()})).await;
    let (_, r2) = cti(&app, json!({"event": "ringing", "call_id": "X-2", "caller": "02188886666", "extension": "9999", "at": t0.to_string()})).await;
    assert_eq!((h["contact_id"].as_i64(), h["agent_id"].as_i64()), (r2["contact_id"].as_i64(), None));

    // Forged, stale and malformed events are refused.
    let ev = json!({"event": "ringing", "call_id": "X-3", "caller": "13800000000", "extension": "8001"});
    assert_eq!(cti_signed(&app, ev.clone(), "wrong-secret", 0).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(cti_signed(&app, ev.clone(), SECRET, -600).await.0, StatusCode::UNAUTHORIZED);
    let (st, b) = cti(&app, json!({"event": "ivr_rating", "call_id": "X-2", "rating": 9})).await;
    assert_eq!((st, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("rating")));
    let (st, _) = cti(&app, json!({"event": "exploded", "call_id": "X-2"})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let unsigned = TestApp::client().post(app.url("/api/v1/cti/events")).json(&ev).send().await.unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        agent.put("/api/v1/agent/extension", json!({"extension": "8 0"})).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    app.stop().await;
});

backend_test!(cti_is_off_without_a_secret, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let (st, _) = cti(&app, json!({"event": "ringing", "call_id": "1"})).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    app.stop().await;
});

backend_test!(daily_interface_lists_consultations_complaints_suggestions, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let agent = app.api("agent").await;
    for (cat, text) in
        [("complaint", "水压低"), ("repair", "爆管"), ("consultation", "缴费方式"), ("suggestion", "增加网点")]
    {
        let r = agent.post("/api/v1/contacts", json!({"category": cat, "content": text})).await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let today = app.clock.now().to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap()).date();
    let sup = app.api("supervisor").await;
    let all = sup.get(&format!("/api/v1/contacts/daily?day={today}")).await;
    let cats: Vec<&str> =
        all.body["items"].as_array().unwrap().iter().map(|c| c["category"].as_str().unwrap()).collect();
    assert_eq!(cats, vec!["complaint", "consultation", "suggestion"], "ascending, repairs left out");
    // Paging: stable ascending cursor.
    let p1 = sup.get(&format!("/api/v1/contacts/daily?day={today}&limit=2")).await;
    let next = p1.body["next"].as_i64().unwrap();
    let p2 = sup.get(&format!("/api/v1/contacts/daily?day={today}&limit=2&after={next}")).await;
    assert_eq!(p2.body["items"][0]["category"], "suggestion");
    assert!(p2.body["next"].is_null());
    // Other categories on request (the demo data has a repair call of this morning too).
    let only = sup.get(&format!("/api/v1/contacts/daily?day={today}&category=repair")).await;
    let items = only.body["items"].as_array().unwrap();
    assert!(items.iter().all(|c| c["category"] == "repair") && items.iter().any(|c| c["content"] == "爆管"));
    let none = sup.get("/api/v1/contacts/daily?day=2001-01-01").await;
    assert!(none.body["items"].as_array().unwrap().is_empty());
    assert_eq!(sup.get("/api/v1/contacts/daily?day=yesterday").await.status, StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
});

// Pages: the contacts list with filters and paging, a contact's page, QA scoring by form.
backend_test!(contact_pages_and_qa_form, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let agent = app.api("agent").await;
    let c = agent
        .post("/api/v1/contacts", json!({"category": "complaint", "caller": "13811119999", "content": "夜间水压不足"}))
        .await
        .body;
    let id = c["id"].as_i64().unwrap();
    let mut web = crate::helpers::Web::new(&app);
    web.login("supervisor", &app.password("supervisor")).await;
    let list = web.get("/contacts?category=complaint").await.text().await.unwrap();
    assert!(list.contains("夜间水压不足") && list.contains("138****9999"), "filtered, masked");
    assert!(!list.contains("增加网点") && !list.contains("缴费方式"), "other categories left out");
    let page = web.get(&format!("/contacts/{id}")).await.text().await.unwrap();
    assert!(page.contains("data-testid=\"qa-form\"") && page.contains("李晓燕"));
    let mut form: Vec<(String, String)> = vec![("sheet_id".into(), "1".into())];
    for (code, pts) in [
        ("greeting", "10"),
        ("listening", "15"),
        ("accuracy", "25"),
        ("attitude", "20"),
        ("closing", "10"),
        ("record", "5"),
    ] {
        form.push((format!("score_{code}"), pts.into()));
    }
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = web.post_form(&format!("/contacts/{id}/qa"), &fields).await;
    assert!(r.headers()["location"].to_str().unwrap().contains("msg=saved"), "{:?}", r.headers());
    let ev = app.api("supervisor").await.get("/api/v1/evaluations/agents").await.body;
    assert!(ev.as_array().unwrap().iter().any(|e| e["qa_points"] == 85), "{ev:?}");
    // The filtered list exports as CSV (streamed; masked for the supervisor).
    let csv = web.get("/contacts/export.csv?category=complaint").await.text().await.unwrap();
    assert!(
        csv.starts_with("\u{feff}热线编号,时间") && csv.contains("夜间水压不足") && csv.contains("138****9999"),
        "{csv}"
    );
    assert!(!csv.contains("缴费方式"));
    let mut bad = fields.clone();
    bad[1] = ("score_greeting", "99");
    let r = web.post_form(&format!("/contacts/{id}/qa"), &bad).await;
    assert!(r.headers()["location"].to_str().unwrap().contains("err=validation_failed"));
    // The agent sees the list (own contacts) but no QA form.
    let mut aw = crate::helpers::Web::new(&app);
    aw.login("agent", &app.password("agent")).await;
    let page = aw.get(&format!("/contacts/{id}")).await.text().await.unwrap();
    assert!(!page.contains("data-testid=\"qa-form\""));
    let mine = aw.get("/contacts?mine=1").await.text().await.unwrap();
    assert!(mine.contains("夜间水压不足"));
    app.stop().await;
});

// Two replicas on one PostgreSQL database: the PBX posts to replica A, the agent's browser
// is connected to replica B, and the pop still arrives (LISTEN/NOTIFY).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cti_pop_crosses_replicas_on_postgres() {
    if !crate::helpers::postgres_enabled() {
        crate::helpers::skip("cti_pop_crosses_replicas_on_postgres: WATERDESK_TEST_POSTGRES_URL is not set");
        return;
    }
    let a = TestApp::spawn_with(crate::helpers::Backend::Postgres, |s| s.cti.secret = SECRET.into()).await;
    let mut settings = waterdesk::config::Settings::default();
    settings.database.url = Some(a.database_url.clone());
    settings.log.level = "warn".into();
    settings.cti.secret = SECRET.into();
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b = waterdesk::start::start(waterdesk::start::StartOptions {
        settings,
        data_dir: dir.path().to_path_buf(),
        demo: true,
        clock: a.clock.clone(),
        listener: Some(listener),
    })
    .await
    .unwrap();
    let b_base = format!("http://{}", b.addr);
    let agent = a.api("agent").await;
    agent.put("/api/v1/agent/extension", json!({"extension": "8101"})).await;
    let token = a.token("agent").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await; // B's listener connected
    let stream =
        TestApp::client().get(format!("{b_base}/api/v1/events/stream")).bearer_auth(&token).send().await.unwrap();
    let reader = tokio::spawn(next_event(stream, "cti.ringing"));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (st, r) =
        cti(&a, json!({"event": "ringing", "call_id": "replica-1", "caller": "13957123456", "extension": "8101"}))
            .await;
    assert_eq!(st, StatusCode::OK, "{r:?}");
    let got = reader.await.unwrap();
    assert!(got.contains(&format!("\"contact_id\":{}", r["contact_id"])), "{got}");
    b.stop().await.unwrap();
    a.stop().await;
}

// Concurrent registrations are committed in groups (ARCHITECTURE D17): each gets its own
// row back, numbers are unique and consecutive, and the audit chain stays linear (R-CALL-01).
backend_test!(contacts_registered_concurrently_share_commits_correctly, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let agent = app.api("agent").await;
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for j in 0..25 {
                let content = format!("并发登记 {i}-{j}");
                let r = agent
                    .post("/api/v1/contacts", json!({"category": "consultation", "content": content, "reply": ""}))
                    .await;
                assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
                // The answer is this request's own row, not a neighbour's from the batch.
                assert_eq!(r.body["content"].as_str(), Some(content.as_str()));
                got.push(r.body["contact_no"].as_str().unwrap().to_string());
            }
            got
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.extend(t.await.unwrap());
    }
    numbers.sort();
    let seqs: Vec<i64> = numbers.iter().map(|n| n.rsplit('-').next().unwrap().parse().unwrap()).collect();
    assert_eq!(seqs.len(), 200);
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "numbers not consecutive: {seqs:?}");
    let r = app.services().audit_verify().await.unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let mut c = app.services().db.read().await.unwrap();
    let logged: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE event_type = 'contact.create'")
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert_eq!(logged, 200);
    app.stop().await;
});

// A registration the database refuses fails alone: the others of its batch are committed.
backend_test!(a_failing_registration_does_not_sink_its_batch, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let ddl: &[&str] = match backend {
        crate::helpers::Backend::Sqlite => &["CREATE TRIGGER refuse_boom BEFORE INSERT ON contacts \
             WHEN NEW.content = 'boom' BEGIN SELECT RAISE(ABORT, 'boom refused'); END"],
        crate::helpers::Backend::Postgres => &[
            "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN IF NEW.content = 'boom' THEN RAISE EXCEPTION 'boom refused'; END IF; RETURN NEW; END $$",
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON contacts FOR EACH ROW EXECUTE FUNCTION refuse_boom()",
        ],
    };
    for stmt in ddl {
        let mut tx = app.services().db.begin().await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(stmt.to_string())).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
    }
    let mut tasks = Vec::new();
    for i in 0..24 {
        let agent = app.api("agent").await;
        tasks.push(tokio::spawn(async move {
            let content = if i == 11 { "boom".to_string() } else { format!("正常登记 {i}") };
            let r = agent.post("/api/v1/contacts", json!({"category": "consultation", "content": content})).await;
            (content, r.status, r.body)
        }));
    }
    let mut created = 0;
    for t in tasks {
        let (content, status, body) = t.await.unwrap();
        if content == "boom" {
            assert!(status.is_server_error(), "{status} {body:?}");
        } else {
            assert_eq!(status, StatusCode::CREATED, "{body:?}");
            assert_eq!(body["content"].as_str(), Some(content.as_str()));
            created += 1;
        }
    }
    assert_eq!(created, 23);
    let list = app.api("agent").await.get("/api/v1/contacts?limit=100").await;
    let contents: Vec<&str> =
        list.body["items"].as_array().unwrap().iter().filter_map(|c| c["content"].as_str()).collect();
    assert_eq!(contents.iter().filter(|c| c.starts_with("正常登记")).count(), 23);
    assert!(!contents.contains(&"boom"));
    let r = app.services().audit_verify().await.unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    app.stop().await;
});
