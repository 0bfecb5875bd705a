//! Administration through the API: units, users, roles, dictionaries, parameters
//! (R-SYS-01, R-SYS-04), happy and unhappy paths.

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_test;
use crate::helpers::{TestApp, Web};

backend_test!(units_tree, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let a = app.api("admin").await;
    let r = a
        .post(
            "/api/v1/units",
            json!({"parent_id": 1, "code": "north", "name": "城北营业所", "name_en": "North branch", "kind": "branch"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let north = r.body["id"].as_i64().unwrap();
    assert_eq!(r.body["path"], format!("/1/{north}/"));
    let r = a
        .post(
            "/api/v1/units",
            json!({"parent_id": north, "code": "north_team", "name": "抢修班", "kind": "department"}),
        )
        .await;
    assert_eq!(r.body["path"], format!("/1/{north}/{}/", r.body["id"]));
    // Duplicate code, unknown parent, bad kind, empty name, bad code.
    assert_eq!(
        a.post("/api/v1/units", json!({"parent_id": 1, "code": "north", "name": "x", "kind": "branch"})).await.code(),
        "duplicate"
    );
    assert_eq!(
        a.post("/api/v1/units", json!({"parent_id": 424242, "code": "z", "name": "x", "kind": "branch"})).await.body["error"]
            ["field"],
        "parent_id"
    );
    assert_eq!(
        a.post("/api/v1/units", json!({"parent_id": 1, "code": "z", "name": "x", "kind": "castle"})).await.body["error"]
            ["field"],
        "kind"
    );
    assert_eq!(
        a.post("/api/v1/units", json!({"parent_id": 1, "code": "z", "name": "  ", "kind": "branch"})).await.body["error"]
            ["field"],
        "name"
    );
    assert_eq!(
        a.post("/api/v1/units", json!({"parent_id": 1, "code": "Z Z", "name": "x", "kind": "branch"})).await.body["error"]
            ["field"],
        "code"
    );
    // A unit with children or users cannot be deleted; an empty one can.
    assert_eq!(a.delete(&format!("/api/v1/units/{north}")).await.code(), "in_use");
    assert_eq!(a.delete("/api/v1/units/1").await.code(), "in_use");
    let r = a
        .put(
            &format!("/api/v1/units/{north}"),
            json!({"code": "north", "name": "城北营业所(新)", "kind": "branch", "enabled": false}),
        )
        .await;
    assert_eq!(r.body["name"], "城北营业所(新)");
    assert_eq!(r.body["enabled"], false);
    assert_eq!(a.get("/api/v1/units/4242").await.status, StatusCode::NOT_FOUND);
    app.stop().await;
});

backend_test!(users_lifecycle, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let a = app.api("admin").await;
    let r = a
        .post("/api/v1/users", json!({"username": "Li.Na", "display_name": "李娜", "unit_id": 2, "roles": ["agent"]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["user"]["username"], "li.na", "usernames are normalised");
    assert_eq!(r.body["user"]["must_change_password"], true);
    assert!(r.body["user"].get("password_hash").is_none(), "hashes never leave the server");
    let id = r.body["user"]["id"].as_i64().unwrap();
    let pw = r.body["initial_password"].as_str().unwrap().to_string();
    assert_eq!(
        app.anon().post("/api/v1/auth/login", json!({"username": "li.na", "password": pw})).await.status,
        StatusCode::OK
    );

    assert_eq!(
        a.post("/api/v1/users", json!({"username": "li.na", "display_name": "x", "unit_id": 2})).await.code(),
        "duplicate"
    );
    assert_eq!(
        a.post("/api/v1/users", json!({"username": "x", "display_name": "x", "unit_id": 2})).await.body["error"]["field"],
        "username"
    );
    assert_eq!(
        a.post("/api/v1/users", json!({"username": "abc", "display_name": "x", "unit_id": 999})).await.body["error"]["field"],
        "unit_id"
    );
    assert_eq!(
        a.post("/api/v1/users", json!({"username": "abc", "display_name": "x", "unit_id": 2, "password": "weak"}))
            .await
            .body["error"]["field"],
        "password"
    );
    assert_eq!(
        a.post("/api/v1/users", json!({"username": "abc", "display_name": "x", "unit_id": 2, "roles": ["nope"]}))
            .await
            .body["error"]["field"],
        "roles"
    );

    // Filters and keyset paging.
    let r = a.get("/api/v1/users?role=agent").await;
    let names: Vec<&str> =
        r.body["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert!(names.contains(&"agent") && names.contains(&"li.na") && !names.contains(&"admin"), "{names:?}");
    let p1 = a.get("/api/v1/users?limit=3").await;
    let after = p1.body["next_after"].as_i64().unwrap();
    let p2 = a.get(&format!("/api/v1/users?limit=3&after={after}")).await;
    assert!(p2.body["items"][0]["id"].as_i64().unwrap() > after);

    // Disable: sessions end and sign-in is refused.
    let li = app.api("admin").await; // any live session to compare
    let r = a
        .put(
            &format!("/api/v1/users/{id}"),
            json!({"display_name": "李娜", "unit_id": 2, "data_scope": "unit", "disabled": true}),
        )
        .await;
    assert_eq!(r.body["disabled"], true);
    assert_eq!(
        app.anon().post("/api/v1/auth/login", json!({"username": "li.na", "password": pw})).await.code(),
        "account_disabled"
    );
    assert_eq!(li.get("/api/v1/me").await.status, StatusCode::OK);
    let me = a.get("/api/v1/me").await.body["id"].as_i64().unwrap();
    assert_eq!(
        a.put(
            &format!("/api/v1/users/{me}"),
            json!({"display_name": "x", "unit_id": 1, "data_scope": "all", "disabled": true})
        )
        .await
        .body["error"]["field"],
        "disabled"
    );
    app.stop().await;
});

// Data scope: a user administrator sees only users of their own unit tree.
backend_test!(user_list_respects_data_scope, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let a = app.api("admin").await;
    let r = a.post("/api/v1/users", json!({"username": "east.admin", "display_name": "东所管理员", "unit_id": 3, "data_scope": "unit_tree", "password": "East-admin-2026", "roles": ["sys_admin"]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let login =
        app.anon().post("/api/v1/auth/login", json!({"username": "east.admin", "password": "East-admin-2026"})).await;
    let token = login.body["token"].as_str().unwrap().to_string();
    let east = crate::helpers::Api { base: app.base.clone(), token: Some(token), client: TestApp::client() };
    east.post("/api/v1/me/password", json!({"old_password": "East-admin-2026", "new_password": "East-admin-2027"}))
        .await;
    let r = east.get("/api/v1/users?limit=100").await;
    let units: Vec<i64> = r.body["items"].as_array().unwrap().iter().map(|u| u["unit_id"].as_i64().unwrap()).collect();
    assert!(!units.is_empty() && units.iter().all(|u| *u == 3), "{units:?}");
    let admin_id = a.get("/api/v1/me").await.body["id"].as_i64().unwrap();
    assert_eq!(east.get(&format!("/api/v1/users/{admin_id}")).await.status, StatusCode::NOT_FOUND);
    app.stop().await;
});

backend_test!(roles_and_separation_of_duties, |backend| async move {
    let app = TestApp::spawn_with(backend, |s| {
        s.auth = Some(waterdesk_services::AuthConfig { separation_of_duties: true, ..Default::default() });
    })
    .await;
    let sec = app.api("secadmin").await;
    let r = sec.post("/api/v1/roles", json!({"code": "hotline_lead", "name": "热线组长", "permissions": ["contact.read", "order.read", "report.read"]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    assert_eq!(
        sec.post("/api/v1/roles", json!({"code": "hotline_lead", "name": "x", "permissions": []})).await.code(),
        "duplicate"
    );
    assert_eq!(
        sec.post("/api/v1/roles", json!({"code": "r2", "name": "x", "permissions": ["no.such"]})).await.body["error"]["field"],
        "permissions"
    );
    assert_eq!(
        sec.post(
            "/api/v1/roles",
            json!({"code": "r3", "name": "x", "permissions": ["audit.read", "admin.user.write"]})
        )
        .await
        .code(),
        "separation_of_duties"
    );
    let r = sec
        .put(
            &format!("/api/v1/roles/{id}"),
            json!({"code": "hotline_lead", "name": "热线组长", "permissions": ["contact.read"]}),
        )
        .await;
    assert_eq!(r.body["permissions"], json!(["contact.read"]));
    // Granting roles that span two administrative domains is refused.
    let agent = sec.get("/api/v1/users?q=agent").await.body["items"][0]["id"].as_i64().unwrap();
    assert_eq!(
        sec.put(&format!("/api/v1/users/{agent}/roles"), json!({"roles": ["sys_admin", "auditor"]})).await.code(),
        "separation_of_duties"
    );
    let r = sec.put(&format!("/api/v1/users/{agent}/roles"), json!({"roles": ["agent", "hotline_lead"]})).await;
    assert_eq!(r.body["roles"], json!(["agent", "hotline_lead"]));
    // Held and built-in roles cannot be deleted.
    assert_eq!(sec.delete(&format!("/api/v1/roles/{id}")).await.code(), "in_use");
    let builtin = sec.get("/api/v1/roles").await.body["items"][0]["id"].as_i64().unwrap();
    assert_eq!(sec.delete(&format!("/api/v1/roles/{builtin}")).await.code(), "in_use");
    sec.put(&format!("/api/v1/users/{agent}/roles"), json!({"roles": ["agent"]})).await;
    assert_eq!(sec.delete(&format!("/api/v1/roles/{id}")).await.status, StatusCode::NO_CONTENT);
    // A new permission set takes effect at the next request.
    let agent_api = app.api("agent").await;
    assert_eq!(agent_api.get("/api/v1/dicts").await.status, StatusCode::OK);
    app.stop().await;
});

backend_test!(dictionaries_and_parameters, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let a = app.api("admin").await;
    let r = a.get("/api/v1/dicts").await;
    let codes: Vec<&str> = r.body["items"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    for c in ["channel", "source", "category", "order_type", "cause", "solution"] {
        assert!(codes.contains(&c), "{c}");
    }
    let r = a.get("/api/v1/dicts/category/items").await;
    let labels: Vec<&str> =
        r.body["items"].as_array().unwrap().iter().map(|i| i["label_zh"].as_str().unwrap()).collect();
    assert_eq!(labels, ["咨询", "投诉", "建议", "报修", "表扬", "求助", "其他"], "R-CALL-04 categories in order");
    let r = a
        .post(
            "/api/v1/dicts/channel/items",
            json!({"code": "douyin", "label_zh": "抖音", "label_en": "Douyin", "sort_order": 90}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.body["id"].as_i64().unwrap();
    assert_eq!(
        a.post("/api/v1/dicts/channel/items", json!({"code": "douyin", "label_zh": "x"})).await.code(),
        "duplicate"
    );
    assert_eq!(
        a.post("/api/v1/dicts/nope/items", json!({"code": "x", "label_zh": "x"})).await.status,
        StatusCode::NOT_FOUND
    );
    let r = a
        .put(
            &format!("/api/v1/dicts/channel/items/{id}"),
            json!({"code": "douyin", "label_zh": "抖音", "enabled": false}),
        )
        .await;
    assert_eq!(r.body["enabled"], false);
    let enabled = a.get("/api/v1/dicts/channel/items").await;
    assert!(!enabled.body["items"].as_array().unwrap().iter().any(|i| i["code"] == "douyin"));
    let all = a.get("/api/v1/dicts/channel/items?include_disabled=true").await;
    assert!(all.body["items"].as_array().unwrap().iter().any(|i| i["code"] == "douyin"));
    assert_eq!(
        a.put(&format!("/api/v1/dicts/source/items/{id}"), json!({"code": "x", "label_zh": "x"})).await.status,
        StatusCode::NOT_FOUND,
        "item of another dictionary"
    );

    let r = a.put("/api/v1/params/ui.page_size", json!({"value": "abc"})).await;
    assert_eq!(r.body["error"]["field"], "value");
    let r = a.put("/api/v1/params/ui.page_size", json!({"value": "50"})).await;
    assert_eq!(r.body["value"], "50");
    assert_eq!(r.body["updated_by"], "admin");
    assert_eq!(a.put("/api/v1/params/no.such", json!({"value": "1"})).await.status, StatusCode::NOT_FOUND);
    let r = a.put("/api/v1/params/audit.retention_days", json!({"value": "90"})).await;
    assert!(r.body["error"]["detail"].as_str().unwrap().starts_with("retention_too_short"), "{:?}", r.body);
    assert_eq!(a.put("/api/v1/params/audit.retention_days", json!({"value": "730"})).await.status, StatusCode::OK);
    app.stop().await;
});

// The admin console pages render and their forms work (zh default, en on request).
backend_test!(admin_pages_work, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let mut web = Web::new(&app);
    web.login("admin", &app.password("admin")).await;
    for (path, text) in [
        ("/", "工作台"),
        ("/admin/units", "客服热线中心"),
        ("/admin/users", "dispatcher"),
        ("/admin/roles", "security_admin"),
        ("/admin/dicts?code=category", "投诉"),
        ("/admin/params", "org.hotline"),
        ("/admin/audit", "auth.login"),
        ("/admin/jobs", "purge_sessions"),
        ("/account/password", "新密码"),
        ("/account/totp", "otpauth"),
        ("/api/docs", "swagger-ui"),
    ] {
        let r = web.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let body = r.text().await.unwrap();
        if path == "/account/totp" {
            assert!(body.contains("<svg"), "QR code rendered");
        } else {
            assert!(body.contains(text), "{path} should show {text}");
        }
    }
    // The administrator's dashboard has the overview and the sign-in chart; an agent's has not.
    let page = web.get("/").await.text().await.unwrap();
    assert!(page.contains("data-testid=\"sign-in-chart\"") && page.contains("用户总数"));
    let mut agent = Web::new(&app);
    agent.login("agent", &app.password("agent")).await;
    let page = agent.get("/").await.text().await.unwrap();
    assert!(page.contains("李晓燕") && !page.contains("sign-in-chart") && !page.contains("用户总数"));
    // CSV exports (R-DATA-03 style): UTF-8 with BOM, filtered like the page.
    let r = web.get("/admin/users/export.csv?role=agent").await;
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = r.text().await.unwrap();
    assert!(csv.starts_with('\u{feff}') && csv.contains("李晓燕") && !csv.contains("王建国"), "{csv}");
    let r = web.get("/admin/audit/export.csv?event_type=auth.login").await;
    let csv = r.text().await.unwrap();
    assert!(csv.lines().count() >= 2 && csv.lines().skip(1).all(|l| l.contains("auth.login")), "{csv}");
    // Form round trip: create a unit, see it, with a flash message.
    let r = web
        .post_form(
            "/admin/units",
            &[
                ("parent_id", "1"),
                ("code", "web_unit"),
                ("name", "网页新建所"),
                ("kind", "branch"),
                ("sort_order", "5"),
                ("enabled", "true"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let page = web.get(&loc).await.text().await.unwrap();
    assert!(page.contains("网页新建所") && page.contains("已创建"));
    // A validation failure comes back as a message on the same page.
    let r = web
        .post_form("/admin/units", &[("parent_id", "1"), ("code", "web_unit"), ("name", "重复"), ("kind", "branch")])
        .await;
    let page = web.get(r.headers()["location"].to_str().unwrap()).await.text().await.unwrap();
    assert!(page.contains("该记录已存在"));
    // Creating a user shows the one-time password; roles form accepts several values.
    let r = web
        .post_form(
            "/admin/users",
            &[("username", "web.user"), ("display_name", "网页用户"), ("unit_id", "2"), ("data_scope", "unit")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("data-testid=\"secret\""));
    assert!(page.contains("网页用户"));
    // English.
    let r = web.get("/lang/en?next=/admin/units").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = web.get("/admin/units").await.text().await.unwrap();
    assert!(page.contains("Organisation units") && page.contains("Hotline centre"), "English UI");
    // Template output is escaped.
    web.post_form(
        "/admin/units",
        &[("parent_id", "1"), ("code", "xss"), ("name", "<script>alert(1)</script>"), ("kind", "branch")],
    )
    .await;
    let page = web.get("/admin/units").await.text().await.unwrap();
    assert!(
        !page.contains("<script>alert(1)</script>")
            && (page.contains("&lt;script&gt;") || page.contains("&#60;script&#62;")),
        "escaped"
    );
    app.stop().await;
});

// Integration tokens are managed on a service account's page; the secret is shown once.
backend_test!(service_account_tokens_in_the_console, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let api = app.api("admin").await;
    let r = api
        .post(
            "/api/v1/users",
            json!({"username": "svc.12345", "display_name": "12345热线接口", "unit_id": 1, "kind": "service", "roles": ["agent"]}),
        )
        .await;
    let id = r.body["user"]["id"].as_i64().unwrap();
    let mut web = Web::new(&app);
    web.login("admin", &app.password("admin")).await;
    let r = web
        .post_form(
            &format!("/admin/users/{id}/tokens"),
            &[("name", "gov-hotline"), ("scopes", "dict.read"), ("scopes", "contact.read")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("data-testid=\"secret\""), "secret shown");
    let start = page.find("wdt_").unwrap();
    let secret: String =
        page[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
    let svc = crate::helpers::Api { base: app.base.clone(), token: Some(secret), client: TestApp::client() };
    assert_eq!(svc.get("/api/v1/dicts").await.status, StatusCode::OK);
    let tokens = api.get(&format!("/api/v1/users/{id}/tokens")).await;
    assert_eq!(tokens.body["items"][0]["scopes"], "dict.read contact.read");
    let tid = tokens.body["items"][0]["id"].as_i64().unwrap();
    let r = web.post_form(&format!("/admin/tokens/{tid}/revoke"), &[("user_id", &id.to_string())]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(svc.get("/api/v1/dicts").await.status, StatusCode::UNAUTHORIZED);
    app.stop().await;
});
