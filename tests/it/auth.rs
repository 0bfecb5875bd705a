//! Sign-in, lockout, sessions, passwords, TOTP, tokens, CSRF (R-SYS-02).

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_test;
use crate::helpers::{TestApp, Web};

// R-SYS-02: five wrong passwords lock the account; the right one is then refused too;
// a security administrator unlocks it; every step is audited.
backend_test!(lockout_after_five_failures, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let anon = app.anon();
    for i in 1..=4 {
        let r = anon.post("/api/v1/auth/login", json!({"username": "agent", "password": "wrong-Pass1"})).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
        assert_eq!(r.code(), "invalid_credentials");
    }
    let r = anon.post("/api/v1/auth/login", json!({"username": "agent", "password": "wrong-Pass1"})).await;
    assert_eq!(r.status, StatusCode::LOCKED);
    assert_eq!(r.code(), "account_locked");
    let r = anon.post("/api/v1/auth/login", json!({"username": "agent", "password": app.password("agent")})).await;
    assert_eq!(r.code(), "account_locked", "the right password does not get through a lockout");

    // Unknown users get the same answer as wrong passwords.
    let r = anon.post("/api/v1/auth/login", json!({"username": "nobody", "password": "x"})).await;
    assert_eq!(r.code(), "invalid_credentials");

    let sec = app.api("secadmin").await;
    let agent_id = sec.get("/api/v1/users?q=agent").await.body["items"][0]["id"].as_i64().unwrap();
    let r = sec.post(&format!("/api/v1/users/{agent_id}/unlock"), json!({})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = anon.post("/api/v1/auth/login", json!({"username": "agent", "password": app.password("agent")})).await;
    assert_eq!(r.status, StatusCode::OK);

    let audit = app.api("admin").await;
    let types: Vec<String> = audit.get("/api/v1/audit?username=agent&limit=100").await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap().to_string())
        .collect();
    assert!(types.contains(&"auth.lockout".to_string()), "{types:?}");
    assert!(types.contains(&"auth.login_failed".to_string()));
    assert!(types.contains(&"auth.login".to_string()));
    app.stop().await;
});

// The lockout ends by itself after the configured time.
backend_test!(lockout_expires, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let anon = app.anon();
    for _ in 0..5 {
        anon.post("/api/v1/auth/login", json!({"username": "worker", "password": "nope-Nope1"})).await;
    }
    assert_eq!(
        anon.post("/api/v1/auth/login", json!({"username": "worker", "password": app.password("worker")})).await.code(),
        "account_locked"
    );
    app.clock.advance(jiff::SignedDuration::from_mins(16));
    assert_eq!(
        anon.post("/api/v1/auth/login", json!({"username": "worker", "password": app.password("worker")})).await.status,
        StatusCode::OK
    );
    app.stop().await;
});

// Sessions end after 30 idle minutes, and at their absolute expiry; logout revokes.
backend_test!(session_idle_timeout_and_logout, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let api = app.api("dispatcher").await;
    assert_eq!(api.get("/api/v1/me").await.status, StatusCode::OK);
    app.clock.advance(jiff::SignedDuration::from_mins(29));
    assert_eq!(api.get("/api/v1/me").await.status, StatusCode::OK, "activity within the idle window");
    app.clock.advance(jiff::SignedDuration::from_mins(29));
    assert_eq!(api.get("/api/v1/me").await.status, StatusCode::OK, "activity slides the window");
    app.clock.advance(jiff::SignedDuration::from_mins(31));
    let r = api.get("/api/v1/me").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "session_expired");

    let api = app.api("dispatcher").await;
    for _ in 0..28 {
        app.clock.advance(jiff::SignedDuration::from_mins(25));
        assert_eq!(api.get("/api/v1/me").await.status, StatusCode::OK);
    }
    app.clock.advance(jiff::SignedDuration::from_mins(25));
    assert_eq!(api.get("/api/v1/me").await.code(), "session_expired", "absolute lifetime of 12 h");

    let api = app.api("dispatcher").await;
    assert_eq!(api.post("/api/v1/auth/logout", json!({})).await.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get("/api/v1/me").await.code(), "unauthenticated");
    app.stop().await;
});

// Password change: old password checked, policy enforced, other sessions end.
backend_test!(password_change, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let a = app.api("agent").await;
    let b = app.api("agent").await;
    let r = a.post("/api/v1/me/password", json!({"old_password": "wrong", "new_password": "Newpass-2026"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["error"]["field"], "old_password");
    let r =
        a.post("/api/v1/me/password", json!({"old_password": app.password("agent"), "new_password": "short"})).await;
    assert_eq!(r.body["error"]["field"], "new_password");
    assert!(r.body["error"]["detail"].as_str().unwrap().starts_with("password_too_short"));
    let r = a
        .post("/api/v1/me/password", json!({"old_password": app.password("agent"), "new_password": "agent-Pass-1"}))
        .await;
    assert!(r.body["error"]["detail"].as_str().unwrap().starts_with("password_contains_username"));
    let r = a
        .post("/api/v1/me/password", json!({"old_password": app.password("agent"), "new_password": "Newpass-2026"}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(a.get("/api/v1/me").await.status, StatusCode::OK, "this session stays");
    assert_eq!(b.get("/api/v1/me").await.code(), "unauthenticated", "other sessions end");
    let r = app.anon().post("/api/v1/auth/login", json!({"username": "agent", "password": "Newpass-2026"})).await;
    assert_eq!(r.status, StatusCode::OK);
    app.stop().await;
});

// A reset password must be changed before anything else is allowed.
backend_test!(reset_password_forces_change, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let sec = app.api("secadmin").await;
    let id = sec.get("/api/v1/users?q=supervisor").await.body["items"][0]["id"].as_i64().unwrap();
    let r = sec.post(&format!("/api/v1/users/{id}/reset-password"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK);
    let temp = r.body["password"].as_str().unwrap().to_string();
    let r = app.anon().post("/api/v1/auth/login", json!({"username": "supervisor", "password": temp})).await;
    let sup = crate::helpers::Api {
        base: app.base.clone(),
        token: Some(r.body["token"].as_str().unwrap().into()),
        client: TestApp::client(),
    };
    assert_eq!(sup.get("/api/v1/me").await.body["must_change_password"], true);
    assert_eq!(sup.get("/api/v1/units").await.code(), "password_change_required");
    assert_eq!(
        sup.post("/api/v1/me/password", json!({"old_password": temp, "new_password": "Fresh-Pass-99"})).await.status,
        StatusCode::NO_CONTENT
    );
    assert_ne!(sup.get("/api/v1/dicts").await.status, StatusCode::FORBIDDEN);
    app.stop().await;
});

// TOTP: enrol, then sign-in needs a valid code (API and web).
backend_test!(totp_second_factor, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let api = app.api("approver").await;
    let uri = api.post("/api/v1/me/totp", json!({})).await.body["otpauth_uri"].as_str().unwrap().to_string();
    let secret = waterdesk_services::auth::secret_from_uri(&uri).unwrap();
    let now = app.clock_now();
    assert_eq!(api.post("/api/v1/me/totp/confirm", json!({"totp": "000000"})).await.code(), "invalid_totp");
    let code = waterdesk_services::auth::totp_code(&secret, "approver", now).unwrap();
    assert_eq!(api.post("/api/v1/me/totp/confirm", json!({"totp": code})).await.status, StatusCode::NO_CONTENT);

    let anon = app.anon();
    let r =
        anon.post("/api/v1/auth/login", json!({"username": "approver", "password": app.password("approver")})).await;
    assert_eq!(r.code(), "totp_required");
    let r = anon
        .post(
            "/api/v1/auth/login",
            json!({"username": "approver", "password": app.password("approver"), "totp": "123456"}),
        )
        .await;
    assert_eq!(r.code(), "invalid_totp");
    let code = waterdesk_services::auth::totp_code(&secret, "approver", app.clock_now()).unwrap();
    let r = anon
        .post("/api/v1/auth/login", json!({"username": "approver", "password": app.password("approver"), "totp": code}))
        .await;
    assert_eq!(r.status, StatusCode::OK);

    // Web: the password step leads to the code step; the session is not usable before it.
    let mut web = Web::new(&app);
    let r = web.login("approver", &app.password("approver")).await;
    assert!(r.headers()["location"].to_str().unwrap().starts_with("/login/totp"));
    let page = web.get("/login/totp").await.text().await.unwrap();
    let csrf = crate::helpers::attr_after(&page, "name=\"_csrf\"", "value").unwrap();
    let code = waterdesk_services::auth::totp_code(&secret, "approver", app.clock_now()).unwrap();
    let r = web
        .client
        .post(format!("{}/login/totp", app.base))
        .form(&[("totp", code.as_str()), ("_csrf", &csrf), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/", "code accepted");
    assert_eq!(web.get("/").await.status(), StatusCode::OK);
    app.stop().await;
});

// Admins must enrol TOTP when the policy says so.
backend_test!(totp_required_for_admins, |backend| async move {
    let app = TestApp::spawn_with(backend, |s| {
        s.auth = Some(waterdesk_services::AuthConfig { require_totp_for_admins: true, ..Default::default() });
    })
    .await;
    let admin = app.api("admin").await;
    assert_eq!(admin.get("/api/v1/units").await.code(), "totp_enrolment_required");
    assert_eq!(admin.get("/api/v1/me").await.body["must_enrol_totp"], true);
    let agent = app.api("agent").await;
    assert_eq!(agent.get("/api/v1/dicts").await.status, StatusCode::OK, "non-admins are not affected");
    app.stop().await;
});

// Web forms: the session's CSRF token is required for every write.
backend_test!(csrf_protects_cookie_sessions, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let mut web = Web::new(&app);
    let r = web.login("admin", &app.password("admin")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(!web.csrf.is_empty());

    // No token, a forged token, and a token via header on the API.
    let r = web.client.post(format!("{}/announcements", app.base)).form(&[("message", "hi")]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = web
        .client
        .post(format!("{}/announcements", app.base))
        .form(&[("message", "hi"), ("_csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = web
        .client
        .post(format!("{}/api/v1/announcements", app.base))
        .json(&json!({"message": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "csrf_failed");
    let r = web
        .client
        .post(format!("{}/api/v1/announcements", app.base))
        .header("x-csrf-token", &web.csrf)
        .json(&json!({"message": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = web.post_form("/announcements", &[("message", "hello")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // The login form itself needs the pre-session token.
    let r = TestApp::client()
        .post(format!("{}/login", app.base))
        .form(&[("username", "admin"), ("password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Logout ends the cookie session.
    let r = web.post_form("/logout", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(web.get("/").await.headers()["location"].to_str().unwrap().split('?').next(), Some("/login"));
    app.stop().await;
});

// Web sign-in: wrong password shows the message; cookies are HttpOnly and SameSite.
backend_test!(web_login_flow, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let mut web = Web::new(&app);
    let r = web.login("admin", "wrong-Pass-1").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("用户名或密码错误"));
    let r = web.login("admin", &app.password("admin")).await;
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("wd_session="))
        .unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    let page = web.get("/").await.text().await.unwrap();
    assert!(page.contains("王建国"), "dashboard shows the user");
    // Open redirects are refused.
    let page = web.client.get(format!("{}/lang/en?next=https://evil.example", app.base)).send().await.unwrap();
    assert_eq!(page.headers()["location"], "/");
    app.stop().await;
});

// Integration tokens: a service account's token can only use its scopes.
backend_test!(integration_tokens_are_scoped, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let admin = app.api("admin").await;
    let r = admin
        .post("/api/v1/users", json!({"username": "svc.billing", "display_name": "查表营业系统", "unit_id": 1, "kind": "service", "roles": ["admin"]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["user"]["id"].as_i64().unwrap();
    let r = admin
        .post(&format!("/api/v1/users/{id}/tokens"), json!({"name": "billing", "scopes": ["dict.read", "no.such"]}))
        .await;
    assert_eq!(r.body["error"]["field"], "scopes");
    let r =
        admin.post(&format!("/api/v1/users/{id}/tokens"), json!({"name": "billing", "scopes": ["dict.read"]})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let token = r.body["token"].as_str().unwrap().to_string();
    let token_id = r.body["id"].as_i64().unwrap();
    assert!(token.starts_with("wdt_"));
    let svc = crate::helpers::Api { base: app.base.clone(), token: Some(token), client: TestApp::client() };
    assert_eq!(svc.get("/api/v1/dicts").await.status, StatusCode::OK);
    assert_eq!(svc.get("/api/v1/units").await.status, StatusCode::FORBIDDEN, "outside the token's scopes");
    assert_eq!(admin.delete(&format!("/api/v1/tokens/{token_id}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(svc.get("/api/v1/dicts").await.status, StatusCode::UNAUTHORIZED);
    app.stop().await;
});

// R-SYS-02: with rotation on, a password older than the limit must be changed first.
backend_test!(password_rotation, |backend| async move {
    let app = TestApp::spawn_with(backend, |s| {
        s.auth = Some(waterdesk_services::AuthConfig { password_rotation_days: 90, ..Default::default() })
    })
    .await;
    let api = app.api("agent").await;
    assert_eq!(api.get("/api/v1/me").await.body["must_change_password"], false);
    app.clock.advance(jiff::SignedDuration::from_hours(24 * 91));
    let api = app.api("agent").await;
    assert_eq!(api.get("/api/v1/me").await.body["must_change_password"], true);
    assert_eq!(api.get("/api/v1/dicts").await.code(), "password_change_required");
    let r = api
        .post("/api/v1/me/password", json!({"old_password": app.password("agent"), "new_password": "Rotated-2027!"}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get("/api/v1/dicts").await.status, StatusCode::OK);
    app.stop().await;
});

// The transaction helper commits on Ok and rolls back on Err.
backend_test!(transaction_helper, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let db = app.services().db.clone();
    let now = app.clock_now();
    let r: Result<(), waterdesk_store::StoreError> = db
        .transaction(|tx| {
            Box::pin(async move {
                waterdesk_store::params::set(tx, "org.hotline", "12345", "test", now).await?;
                Err(waterdesk_store::StoreError::NotFound)
            })
        })
        .await;
    assert!(r.is_err());
    let mut c = db.read().await.unwrap();
    assert_eq!(
        waterdesk_store::params::get(&mut c, "org.hotline").await.unwrap().unwrap().value,
        "96390",
        "rolled back"
    );
    drop(c);
    let r: Result<(), waterdesk_store::StoreError> = db
        .transaction(|tx| {
            Box::pin(async move { waterdesk_store::params::set(tx, "org.hotline", "12345", "test", now).await })
        })
        .await;
    assert!(r.is_ok());
    let mut c = db.read().await.unwrap();
    assert_eq!(waterdesk_store::params::get(&mut c, "org.hotline").await.unwrap().unwrap().value, "12345");
    drop(c);
    app.stop().await;
});
