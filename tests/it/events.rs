//! Live events over SSE, and on PostgreSQL across replicas via LISTEN/NOTIFY (DESIGN §3.4).

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_test;
use crate::helpers::{TestApp, next_event};

backend_test!(announcements_reach_open_streams, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let token = app.token("agent").await;
    let resp = TestApp::client().get(app.url("/api/v1/events/stream")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let reader = tokio::spawn(next_event(resp, "停水通知测试"));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let r = app.api("admin").await.post("/api/v1/announcements", json!({"message": "停水通知测试"})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let got = reader.await.unwrap();
    assert!(got.contains("event: announcement"), "{got}");
    app.stop().await;
});

// Two replicas on one PostgreSQL database: an event raised on one reaches the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_replica_fan_out_on_postgres() {
    if !crate::helpers::postgres_enabled() {
        crate::helpers::skip("cross_replica_fan_out_on_postgres: WATERDESK_TEST_POSTGRES_URL is not set");
        return;
    }
    let a = TestApp::spawn(crate::helpers::Backend::Postgres).await;
    let url = a.database_url.clone();
    // The second replica shares the database (no new demo data: it is already there).
    let mut settings = waterdesk::config::Settings::default();
    settings.database.url = Some(url);
    settings.log.level = "warn".into();
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b = waterdesk::start::start(waterdesk::start::StartOptions {
        settings,
        data_dir: dir.path().to_path_buf(),
        demo: true,
        clock: std::sync::Arc::new(waterdesk_services::SystemClock),
        listener: Some(listener),
    })
    .await
    .unwrap();
    let b_base = format!("http://{}", b.addr);
    let token = a.token("agent").await; // sessions live in the shared database
    tokio::time::sleep(std::time::Duration::from_millis(500)).await; // listener connected
    let resp =
        TestApp::client().get(format!("{b_base}/api/v1/events/stream")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let reader = tokio::spawn(next_event(resp, "跨实例公告"));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let r = a.api("admin").await.post("/api/v1/announcements", json!({"message": "跨实例公告"})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    reader.await.unwrap();
    b.stop().await.unwrap();
    a.stop().await;
}
