//! The audit log: everything recorded, secrets redacted, tampering detected (R-SYS-03).

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_test;
use crate::helpers::TestApp;

async fn sql(app: &TestApp, stmt: &str) {
    let mut tx = app.services().db.begin().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(stmt.to_string())).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

async fn activity(app: &TestApp) {
    let admin = app.api("admin").await;
    admin
        .post("/api/v1/units", json!({"parent_id": 1, "code": "audit_unit", "name": "审计测试所", "kind": "branch"}))
        .await;
    admin.put("/api/v1/params/org.hotline", json!({"value": "96390"})).await;
    app.anon().post("/api/v1/auth/login", json!({"username": "agent", "password": "Wrong-pass-1"})).await;
    app.api("agent").await.get("/api/v1/units").await; // denied read
}

// Writes, security events and denials are all recorded, with secrets redacted.
backend_test!(records_writes_and_security_events, |backend| async move {
    let app = TestApp::spawn(backend).await;
    activity(&app).await;
    let auditor = app.api("auditor").await;
    let r = auditor.get("/api/v1/audit?limit=200").await;
    assert_eq!(r.status, StatusCode::OK);
    let items = r.body["items"].as_array().unwrap().clone();
    let types: Vec<&str> = items.iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    for t in ["unit.create", "param.update", "auth.login", "auth.login_failed", "authz.denied", "system.bootstrap"] {
        assert!(types.contains(&t), "{t} missing in {types:?}");
    }
    let unit = items.iter().find(|e| e["event_type"] == "unit.create").unwrap();
    assert_eq!(unit["username"], "admin");
    assert_eq!(unit["method"], "POST");
    assert_eq!(unit["path"], "/api/v1/units");
    assert_eq!(unit["ip"], "127.0.0.1");
    assert!(unit["params"].as_str().unwrap().contains("audit_unit"));
    let all = serde_json::to_string(&items).unwrap();
    assert!(!all.contains("Wrong-pass-1"), "passwords never reach the audit log");
    assert!(!all.contains(&app.password("admin")));

    // Search by user, IP, type and time.
    let r = auditor.get("/api/v1/audit?event_type=authz.denied").await;
    assert!(r.body["items"].as_array().unwrap().iter().all(|e| e["event_type"] == "authz.denied"));
    assert_eq!(r.body["items"][0]["username"], "agent");
    let r = auditor.get("/api/v1/audit?ip=10.9.9.9").await;
    assert!(r.body["items"].as_array().unwrap().is_empty());
    let from = (app.clock_now() + jiff::SignedDuration::from_hours(1)).to_string();
    let r = auditor.get(&format!("/api/v1/audit?from={from}")).await;
    assert!(r.body["items"].as_array().unwrap().is_empty());
    // Keyset paging.
    let p1 = auditor.get("/api/v1/audit?limit=2").await;
    let before = p1.body["next_before"].as_i64().unwrap();
    let p2 = auditor.get(&format!("/api/v1/audit?limit=2&before={before}")).await;
    assert!(p2.body["items"][0]["seq"].as_i64().unwrap() < before);
    // There is no way to delete or edit through the API.
    assert_eq!(auditor.delete("/api/v1/audit").await.status, StatusCode::METHOD_NOT_ALLOWED);
    app.stop().await;
});

// `audit verify` detects an edited, a deleted and a swapped entry, and a truncated tail.
backend_test!(verify_detects_tampering, |backend| async move {
    let app = TestApp::spawn(backend).await;
    activity(&app).await;
    let s = app.services().clone();
    let r = s.audit_verify().await.unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert!(r.checked >= 5);

    sql(&app, "UPDATE audit_log SET username = 'mallory' WHERE seq = 3").await;
    let r = s.audit_verify().await.unwrap();
    assert!(
        r.problems.iter().any(|p| matches!(p, waterdesk_domain::audit::ChainProblem::HashMismatch { seq: 3 })),
        "{:?}",
        r.problems
    );
    app.stop().await;

    let app = TestApp::spawn(backend).await;
    activity(&app).await;
    sql(&app, "DELETE FROM audit_log WHERE seq = 2").await;
    assert!(!app.services().audit_verify().await.unwrap().problems.is_empty(), "deletion detected");
    app.stop().await;

    let app = TestApp::spawn(backend).await;
    activity(&app).await;
    // Swap two entries' positions.
    sql(&app, "UPDATE audit_log SET seq = -1 WHERE seq = 2").await;
    sql(&app, "UPDATE audit_log SET seq = 2 WHERE seq = 3").await;
    sql(&app, "UPDATE audit_log SET seq = 3 WHERE seq = -1").await;
    assert!(!app.services().audit_verify().await.unwrap().problems.is_empty(), "reordering detected");
    app.stop().await;

    let app = TestApp::spawn(backend).await;
    activity(&app).await;
    sql(&app, "DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)").await;
    let r = app.services().audit_verify().await.unwrap();
    assert!(
        r.problems.iter().any(|p| matches!(p, waterdesk_domain::audit::ChainProblem::HeadMismatch { .. })),
        "{:?}",
        r.problems
    );
    app.stop().await;
});

// Concurrent writers keep one linear chain.
backend_test!(chain_stays_linear_under_concurrency, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let mut tasks = Vec::new();
    for i in 0..6 {
        let api = app.api("admin").await;
        tasks.push(tokio::spawn(async move {
            for j in 0..10 {
                api.post(
                    "/api/v1/units",
                    json!({"parent_id": 1, "code": format!("c{i}_{j}"), "name": "并发测试", "kind": "branch"}),
                )
                .await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let r = app.services().audit_verify().await.unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert!(r.checked >= 60);
    app.stop().await;
});
