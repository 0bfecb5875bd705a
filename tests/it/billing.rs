//! The external billing system adapter (R-CUS-02, R-INT-02): waterdesk speaks the documented
//! JSON contract to a local fake billing server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use serde_json::json;
use waterdesk_services::billing_provider::BillingConfig;

use crate::backend_test;
use crate::helpers::TestApp;

/// A fake 查表营业系统 on a free port; counts calls.
async fn fake_billing() -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let app = Router::new().route(
        "/api/accounts/{no}/summary",
        get(move |Path(no): Path<String>, headers: HeaderMap| {
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer s3cret") {
                    return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "token"})));
                }
                match no.as_str() {
                    "EXT0001" => (
                        StatusCode::OK,
                        axum::Json(json!({
                            "account_no": "EXT0001",
                            "arrears_fen": 12345,
                            "credit_fen": 0,
                            "ytd_m3": 150,
                            "tier": 1,
                            "remaining_in_tier": 66,
                            "bills": [
                                {"period": "2026-10", "volume": 18, "total_fen": 7020, "paid_fen": 0, "status": "unpaid", "due_on": "2026-11-20"},
                                {"period": "2026-09", "volume": 14, "total_fen": 5325, "paid_fen": 0, "status": "unpaid", "due_on": "2026-10-20"}
                            ],
                            "payments": [
                                {"paid_at": "2026-08-25T02:00:00Z", "amount_fen": 6000, "channel": "bank", "external_txn_id": "B-778"}
                            ]
                        })),
                    ),
                    "WRONG001" => (StatusCode::OK, axum::Json(json!({"account_no": "OTHER", "arrears_fen": 0}))),
                    "BROKEN01" => (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({"error": "db down"}))),
                    "SLOW0001" => {
                        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                        (StatusCode::OK, axum::Json(json!({})))
                    }
                    _ => (StatusCode::NOT_FOUND, axum::Json(json!({"error": "unknown account"}))),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/api"), calls)
}

backend_test!(external_billing_system, |backend| async move {
    let (base, calls) = fake_billing().await;
    let app = TestApp::spawn_with(backend, |s| {
        s.billing = BillingConfig::Http { base_url: base.clone(), token: "s3cret".into(), timeout_secs: 1 };
    })
    .await;
    let agent = app.api("agent").await;
    let c =
        agent.post("/api/v1/customers", json!({"kind": "person", "name": "外部账务", "unit_id": 3})).await.body["id"]
            .as_i64()
            .unwrap();
    let mut ids = std::collections::HashMap::new();
    for no in ["EXT0001", "WRONG001", "BROKEN01", "SLOW0001", "NEW00001"] {
        let r = agent.post("/api/v1/accounts", json!({"account_no": no, "holder_id": c, "address": "外部地址", "category": "residential", "unit_id": 3})).await;
        ids.insert(no, r.body["id"].as_i64().unwrap());
    }
    let v = agent.get(&format!("/api/v1/accounts/{}", ids["EXT0001"])).await;
    assert_eq!(v.status, reqwest::StatusCode::OK, "{:?}", v.body);
    let b = &v.body["billing"];
    assert_eq!(
        (b["source"].as_str(), b["arrears_fen"].as_i64(), b["tier"].as_i64()),
        (Some("http"), Some(12345), Some(1))
    );
    assert_eq!(b["bills"].as_array().unwrap().len(), 2);
    assert_eq!(b["payments"][0]["external_txn_id"], "B-778");

    // Unknown to the billing system: an empty summary, not an error.
    let v = agent.get(&format!("/api/v1/accounts/{}", ids["NEW00001"])).await;
    assert_eq!((v.status, v.body["billing"]["bills"].as_array().map(Vec::len)), (reqwest::StatusCode::OK, Some(0)));
    // Failures, timeouts and a summary of another account are a clear 502.
    for no in ["BROKEN01", "SLOW0001", "WRONG001"] {
        let r = agent.get(&format!("/api/v1/accounts/{}", ids[no])).await;
        assert_eq!((r.status, r.code()), (reqwest::StatusCode::BAD_GATEWAY, "upstream_unavailable"), "{no}");
    }
    assert!(calls.load(Ordering::SeqCst) >= 5);

    // The 360 page shows the provider's bills.
    let mut web = crate::helpers::Web::new(&app);
    web.login("agent", &app.password("agent")).await;
    let page = web.get(&format!("/accounts/{}", ids["EXT0001"])).await.text().await.unwrap();
    assert!(page.contains("来自营业收费系统") && page.contains("123.45"), "external bills on the page");
    app.stop().await;
});

#[test]
fn https_and_bad_urls_are_refused_at_start() {
    let bad = BillingConfig::Http { base_url: "https://billing".into(), token: String::new(), timeout_secs: 5 };
    assert!(bad.validate().unwrap_err().contains("HTTPS"));
    let bad = BillingConfig::Http { base_url: "ftp://billing".into(), token: String::new(), timeout_secs: 5 };
    assert!(bad.validate().is_err());
    assert!(
        format!("{:?}", BillingConfig::Http { base_url: "http://b".into(), token: "s3cret".into(), timeout_secs: 5 })
            .contains("***")
    );
}
