//! Bad input gets a clear 4xx with a stable code and a localised message — never a
//! panic, a 500 or a half-written change.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_test;
use crate::helpers::TestApp;

backend_test!(malformed_requests, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let token = app.token("admin").await;
    let c = TestApp::client();
    let post = |body: &'static str, ct: &'static str| {
        c.post(app.url("/api/v1/units")).bearer_auth(&token).header("content-type", ct).body(body).send()
    };
    let err = |r: reqwest::Response| async move {
        let st = r.status();
        let v: Value = r.json().await.unwrap();
        (st, v["error"]["code"].as_str().unwrap().to_string(), v["error"]["message"].as_str().unwrap().to_string())
    };
    let (st, code, msg) = err(post("{oops", "application/json").await.unwrap()).await;
    assert_eq!((st, code.as_str()), (StatusCode::BAD_REQUEST, "invalid_json"));
    assert!(msg.contains("JSON"));
    let (st, code, _) =
        err(post(r#"{"code":"a","name":"b","kind":"branch","parent_id":1,"evil":1}"#, "application/json")
            .await
            .unwrap())
        .await;
    assert_eq!((st, code.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"), "unknown fields are refused");
    let (st, code, _) = err(post(r#"{"code":1}"#, "application/json").await.unwrap()).await;
    assert_eq!((st, code.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"));
    let (st, code, _) = err(post("code=a", "application/x-www-form-urlencoded").await.unwrap()).await;
    assert_eq!((st, code.as_str()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"));

    // Oversized bodies are refused before they are read in full.
    let big = "x".repeat(3 * 1024 * 1024);
    let r = c
        .post(app.url("/api/v1/units"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "payload_too_large");

    // Bad path parameters, unknown routes, wrong methods.
    let a = app.api("admin").await;
    assert_eq!(a.get("/api/v1/units/abc").await.code(), "not_found");
    assert_eq!(a.get("/api/v1/units/99999999999999999999").await.code(), "not_found");
    assert_eq!(a.get("/api/v1/nothing-here").await.code(), "not_found");
    let r = a.call(reqwest::Method::PATCH, "/api/v1/units", None).await;
    assert_eq!((r.status, r.code()), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
    assert_eq!(a.get("/api/v1/audit?limit=abc").await.code(), "validation_failed");
    assert_eq!(a.get("/api/v1/audit?from=yesterday").await.code(), "validation_failed");

    // Path traversal in asset paths finds nothing.
    for p in ["/assets/../Cargo.toml", "/assets/..%2F..%2FCargo.toml", "/assets/vendor/../../../etc/passwd"] {
        let r = c.get(app.url(p)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{p}");
    }
    // Garbage bearer tokens.
    let r = c.get(app.url("/api/v1/me")).header("authorization", "Bearer garbage-token").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
});

backend_test!(messages_follow_the_language, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let c = TestApp::client();
    let body = json!({"username": "admin", "password": "nope"});
    let zh: Value = c.post(app.url("/api/v1/auth/login")).json(&body).send().await.unwrap().json().await.unwrap();
    assert_eq!(zh["error"]["message"], "用户名或密码错误。");
    let r = c
        .post(app.url("/api/v1/auth/login"))
        .header("accept-language", "en-GB,en;q=0.8")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-language"], "en");
    let en: Value = r.json().await.unwrap();
    assert_eq!(en["error"]["message"], "Wrong username or password.");
    assert_eq!(en["error"]["code"], zh["error"]["code"]);
    assert!(en["error"]["request_id"].as_str().is_some_and(|s| s.len() > 10));
    app.stop().await;
});

backend_test!(ops_endpoints, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let c = TestApp::client();
    assert_eq!(c.get(app.url("/healthz")).send().await.unwrap().text().await.unwrap(), "ok");
    let r: Value = c.get(app.url("/readyz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(r["status"], "ready");
    app.api("admin").await.get("/api/v1/units").await;
    let m = c.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(m.contains("http_requests_total"), "{m}");
    let spec: Value = c.get(app.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    assert!(spec["components"]["schemas"]["ErrorBody"].is_object());
    let js = c.get(app.url("/assets/vendor/swagger-ui-bundle.js")).send().await.unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(js.bytes().await.unwrap().len() > 100_000, "Swagger UI is served from the binary");
    // Security headers on every response.
    let r = c.get(app.url("/login")).send().await.unwrap();
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
    // Request ids are echoed.
    let r = c.get(app.url("/healthz")).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    app.stop().await;
});
