//! Customers, accounts, meters, readings, bills and payments (R-CUS-01/02, R-CALL-07).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_test;
use crate::helpers::{Api, TestApp};

async fn customer(api: &Api, name: &str, phone: &str, unit: i64) -> i64 {
    let r = api
        .post("/api/v1/customers", json!({"kind": "person", "name": name, "id_type": "id_card", "id_number": "11010519491231002X", "unit_id": unit, "phones": [{"phone": phone, "label": "手机"}]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["id"].as_i64().unwrap()
}

async fn account(api: &Api, no: &str, holder: i64, address: &str, unit: i64) -> i64 {
    let r = api.post("/api/v1/accounts", json!({"account_no": no, "holder_id": holder, "address": address, "category": "residential", "unit_id": unit})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["id"].as_i64().unwrap()
}

fn units(app: &TestApp) -> (i64, i64) {
    let _ = app;
    (3, 4) // branch_east, branch_west in the demo tree
}

// R-CUS-01 search as agents use it; R-CALL-07 masking by role.
backend_test!(search_and_masking, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let (east, _) = units(&app);
    let agent = app.api("agent").await;
    let id = customer(&agent, "欧阳娜娜", "+86 139-0571-2468", east).await;
    account(&agent, "HZ9990001", id, "西湖区 文三路 99 号 2 幢", east).await;

    for (q, kind) in [
        ("13905712468", "phone"),
        ("2468", "phone_last4"),
        ("HZ9990001", "account_no"),
        ("hz9990001", "account_no"),
        ("欧阳娜娜", "name_exact"),
        ("欧阳", "name_prefix"),
        ("娜娜", "name"),
        ("文三路 99 号", "address"),
        ("文三路99号2幢", "address"),
    ] {
        let r = agent.get(&format!("/api/v1/customers?q={}", urlencoding::encode(q))).await;
        let hit = r.body["items"].as_array().unwrap().iter().find(|h| h["customer"]["id"] == id);
        assert_eq!(hit.map(|h| h["matched"].clone()), Some(json!(kind)), "search {q}: {:?}", r.body);
    }
    assert!(agent.get("/api/v1/customers?q=不存在的人").await.body["items"].as_array().unwrap().is_empty());
    // A road and house number name that house, not its neighbours (文三路 12 and 18 are demo accounts).
    let r = agent.get(&format!("/api/v1/customers?q={}", urlencoding::encode("文三路18号"))).await;
    let names: Vec<&str> =
        r.body["items"].as_array().unwrap().iter().map(|h| h["customer"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["李秀英"], "{:?}", r.body);

    // The agent (customer.pii.read) sees the numbers; the auditor (no PII right) sees them
    // masked; the field worker's data scope (own team) does not reach this customer at all.
    let full = agent.get(&format!("/api/v1/customers/{id}")).await;
    assert_eq!(full.body["phones"][0]["phone"], "13905712468");
    assert_eq!(full.body["id_number"], "11010519491231002X");
    assert_eq!(full.body["masked"], false);
    assert_eq!(app.api("worker").await.get(&format!("/api/v1/customers/{id}")).await.status, StatusCode::NOT_FOUND);
    let worker = app.api("auditor").await;
    let masked = worker.get(&format!("/api/v1/customers/{id}")).await;
    assert_eq!(masked.status, StatusCode::OK);
    assert_eq!(masked.body["phones"][0]["phone"], "139****2468");
    assert_eq!(masked.body["id_number"], "1101**********002X");
    assert_eq!(masked.body["masked"], true);
    let hits = worker.get("/api/v1/customers?q=2468").await;
    assert_eq!(hits.body["items"][0]["customer"]["phones"][0]["phone"], "139****2468", "search results are masked too");
    app.stop().await;
});

backend_test!(registry_rules, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let (east, _) = units(&app);
    let agent = app.api("agent").await;
    let field = |r: &crate::helpers::Resp| r.body["error"]["field"].as_str().unwrap_or("").to_string();
    let detail = |r: &crate::helpers::Resp| r.body["error"]["detail"].as_str().unwrap_or("").to_string();
    let r = agent
        .post("/api/v1/customers", json!({"kind": "person", "name": "坏号码", "phones": [{"phone": "1380013800"}]}))
        .await;
    assert_eq!((field(&r), detail(&r).starts_with("phone_shape")), ("phones[0]".into(), true), "{:?}", r.body);
    let r = agent
        .post("/api/v1/customers", json!({"kind": "person", "name": "坏号码", "phones": [{"phone": "138-abc"}]}))
        .await;
    assert!(detail(&r).starts_with("phone_characters"));
    let r = agent
        .post(
            "/api/v1/customers",
            json!({"kind": "person", "name": "坏证件", "id_type": "id_card", "id_number": "110105194912310021"}),
        )
        .await;
    assert_eq!(field(&r), "id_number");
    let r = agent.post("/api/v1/customers", json!({"kind": "robot", "name": "x"})).await;
    assert_eq!(field(&r), "kind");

    let id = customer(&agent, "赵六", "13800138000", east).await;
    account(&agent, "HZ0000001", id, "文一路1号", east).await;
    let r = agent
        .post(
            "/api/v1/accounts",
            json!({"account_no": "hz0000001", "holder_id": id, "address": "x", "category": "residential"}),
        )
        .await;
    assert!(detail(&r).starts_with("duplicate_account_no"), "{:?}", r.body);
    let r = agent
        .post(
            "/api/v1/accounts",
            json!({"account_no": "HZ0000002", "holder_id": 424242, "address": "x", "category": "residential"}),
        )
        .await;
    assert_eq!(field(&r), "holder_id");
    let r = agent
        .post(
            "/api/v1/accounts",
            json!({"account_no": "H!", "holder_id": id, "address": "x", "category": "residential"}),
        )
        .await;
    assert_eq!(field(&r), "account_no");
    let r = agent
        .post(
            "/api/v1/accounts",
            json!({"account_no": "HZ0000003", "holder_id": id, "address": "x", "category": "residential", "lat": 91.0}),
        )
        .await;
    assert_eq!(field(&r), "lat");
    app.stop().await;
});

// Ownership transfer (过户) keeps the history of holders.
backend_test!(ownership_transfer_history, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let (east, _) = units(&app);
    let agent = app.api("agent").await;
    let a = customer(&agent, "原户主", "13800000001", east).await;
    let b = customer(&agent, "新户主", "13800000002", east).await;
    let acc = account(&agent, "HZ1000001", a, "文二路2号", east).await;
    let r = agent.put(&format!("/api/v1/accounts/{acc}"), json!({"account_no": "HZ1000001", "holder_id": b, "address": "文二路2号", "category": "residential", "unit_id": east, "transfer_reason": "房屋买卖"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let v = agent.get(&format!("/api/v1/accounts/{acc}")).await;
    let hist = v.body["holders"].as_array().unwrap();
    assert_eq!(hist.len(), 2);
    assert_eq!(hist[0]["customer_name"], "原户主");
    assert!(hist[0]["to_at"].is_string());
    assert_eq!(hist[1]["reason"], "房屋买卖");
    assert_eq!(v.body["holder"]["name"], "新户主");
    assert!(agent.get(&format!("/api/v1/customers/{a}")).await.body["accounts"].as_array().unwrap().is_empty());
    // The address is now found under the new holder only (the search index follows the account).
    let hits = agent.get(&format!("/api/v1/customers?q={}", urlencoding::encode("文二路2号"))).await;
    let ids: Vec<i64> =
        hits.body["items"].as_array().unwrap().iter().map(|h| h["customer"]["id"].as_i64().unwrap()).collect();
    assert!(ids.contains(&b) && !ids.contains(&a), "{ids:?}");
    // Rebuilding the whole index finds the same.
    assert!(app.services().reindex_customers(|_| {}).await.unwrap() >= 2);
    let again = agent.get(&format!("/api/v1/customers?q={}", urlencoding::encode("文二路2号"))).await;
    assert_eq!(again.body["items"].as_array().unwrap().len(), hits.body["items"].as_array().unwrap().len());
    app.stop().await;
});

async fn reading(api: &Api, acc: i64, meter: i64, on: &str, value: i64) -> crate::helpers::Resp {
    api.post(&format!("/api/v1/accounts/{acc}/readings"), json!({"meter_id": meter, "read_on": on, "reading": value}))
        .await
}

// R-CUS-02: readings → bills with the tiered tariff; bad readings refused; meter change.
backend_test!(readings_bills_and_tiers, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let (east, _) = units(&app);
    let admin = app.api("admin").await;
    let c = customer(&admin, "阶梯用户", "13811112222", east).await;
    let acc = account(&admin, "HZ2000001", c, "文三路200号", east).await;
    let r = admin
        .post(
            &format!("/api/v1/accounts/{acc}/meters"),
            json!({"serial": "WM-T-1", "diameter_mm": 20, "installed_on": "2025-12-20", "initial_reading": 100}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let m1 = r.body["id"].as_i64().unwrap();
    assert_eq!(
        admin
            .post(
                &format!("/api/v1/accounts/{acc}/meters"),
                json!({"serial": "WM-T-1", "diameter_mm": 20, "installed_on": "2026-01-01"})
            )
            .await
            .body["error"]["field"],
        "serial"
    );

    // 200 m³ in January (tier 1), then 30 m³ spanning tiers 1 and 2.
    let r = reading(&admin, acc, m1, "2026-01-20", 300).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["bill"]["volume"], 200);
    assert_eq!(r.body["bill"]["water_fen"], 200 * 290);
    assert_eq!(r.body["bill"]["sewage_fen"], 200 * 100);
    let r = reading(&admin, acc, m1, "2026-02-20", 330).await;
    assert_eq!(r.body["bill"]["water_fen"], 16 * 290 + 14 * 435, "16 m³ at tier 1, 14 at tier 2");
    assert_eq!(r.body["bill"]["ytd_after"], 230);

    // Refused: negative, decreasing, not after the last reading, in the future, unknown meter.
    let code = |r: &crate::helpers::Resp| {
        r.body["error"]["detail"].as_str().unwrap_or("").split(':').next().unwrap_or("").to_string()
    };
    assert_eq!(code(&reading(&admin, acc, m1, "2026-03-20", -5).await), "negative_reading");
    assert_eq!(code(&reading(&admin, acc, m1, "2026-03-20", 320).await), "reading_decreased");
    assert_eq!(code(&reading(&admin, acc, m1, "2026-02-20", 340).await), "reading_not_after_last");
    assert_eq!(code(&reading(&admin, acc, m1, "2099-01-01", 340).await), "future_date");
    assert_eq!(code(&reading(&admin, acc, 424242, "2026-03-20", 340).await), "unknown_meter");
    assert_eq!(code(&reading(&admin, acc, m1, "2026-13-01", 340).await), "invalid_date");

    // Meter change: the new meter starts at 0; the old one takes no more readings.
    let r = admin
        .post(
            &format!("/api/v1/accounts/{acc}/meters"),
            json!({"serial": "WM-T-2", "diameter_mm": 20, "installed_on": "2026-03-01", "replaces_meter_id": m1}),
        )
        .await;
    let m2 = r.body["id"].as_i64().unwrap();
    assert_eq!(code(&reading(&admin, acc, m1, "2026-03-20", 400).await), "meter_removed");
    let r = reading(&admin, acc, m2, "2026-03-20", 80).await;
    assert_eq!(r.body["bill"]["volume"], 80);
    assert_eq!(r.body["bill"]["water_fen"], 70 * 435 + 10 * 870, "tiers continue across the meter change");

    let v = admin.get(&format!("/api/v1/accounts/{acc}")).await;
    let b = &v.body["billing"];
    assert_eq!(
        (b["tier"].clone(), b["ytd_m3"].clone(), b["remaining_in_tier"].clone()),
        (json!(3), json!(310), json!(null))
    );
    assert_eq!(b["source"], "builtin");
    assert_eq!(v.body["billing"]["bills"].as_array().unwrap().len(), 3);
    assert_eq!(v.body["meters"].as_array().unwrap().len(), 2);
    let billed: i64 =
        v.body["billing"]["bills"].as_array().unwrap().iter().map(|b| b["total_fen"].as_i64().unwrap()).sum();
    assert_eq!(v.body["billing"]["arrears_fen"], billed);
    app.stop().await;
});

// Payments are idempotent by transaction id, settle the oldest bills first, keep the rest as credit.
backend_test!(payments_are_idempotent, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let (east, _) = units(&app);
    let admin = app.api("admin").await;
    let c = customer(&admin, "缴费用户", "13822223333", east).await;
    let acc = account(&admin, "HZ3000001", c, "文四路3号", east).await;
    let m = admin
        .post(
            &format!("/api/v1/accounts/{acc}/meters"),
            json!({"serial": "WM-P-1", "diameter_mm": 20, "installed_on": "2026-01-01"}),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    reading(&admin, acc, m, "2026-01-31", 10).await; // 10 × (2.90 + 1.00) = 39.00
    reading(&admin, acc, m, "2026-02-28", 20).await; // another 39.00
    let pay_path = format!("/api/v1/accounts/{acc}/payments");
    let pay = |amount: i64, txn: &str| {
        admin.post(&pay_path, json!({"channel": "wechat", "amount_fen": amount, "external_txn_id": txn}))
    };
    let r = pay(5000, "WX-0001").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r = pay(5000, "WX-0001").await;
    assert_eq!((r.status, r.body["created"].clone()), (StatusCode::OK, json!(false)), "a replay records nothing");
    assert_eq!(pay(4000, "WX-0001").await.body["error"]["field"], "external_txn_id", "same id, other amount");
    assert_eq!(pay(0, "WX-0002").await.body["error"]["field"], "amount_fen");
    let v = admin.get(&format!("/api/v1/accounts/{acc}")).await;
    let bills = v.body["billing"]["bills"].as_array().unwrap();
    assert_eq!(
        (bills[1]["status"].as_str(), bills[1]["paid_fen"].as_i64()),
        (Some("paid"), Some(3900)),
        "oldest bill first"
    );
    assert_eq!((bills[0]["status"].as_str(), bills[0]["paid_fen"].as_i64()), (Some("partial"), Some(1100)));
    assert_eq!(v.body["billing"]["arrears_fen"], 7800 - 5000);
    assert_eq!(v.body["billing"]["payments"].as_array().unwrap().len(), 1);
    // Overpayment becomes credit, which settles the next bill when it comes.
    pay(10_000, "WX-0003").await;
    let v = admin.get(&format!("/api/v1/accounts/{acc}")).await;
    assert_eq!(v.body["billing"]["arrears_fen"], 0);
    assert_eq!(v.body["billing"]["credit_fen"], 15_000 - 7800);
    let r = reading(&admin, acc, m, "2026-03-31", 30).await;
    assert_eq!(r.body["bill"]["status"], "paid", "{:?}", r.body);
    // The allocation trail: every fen of a bill comes from a payment with money left, oldest
    // first. WX-0003's credit (72.00) paid March (39.00); its rest (33.00) and 6.00 of the
    // next advance payment settle April (39.00).
    pay(1000, "WX-0004").await;
    pay(1000, "WX-0005").await;
    let r = reading(&admin, acc, m, "2026-04-30", 40).await;
    let april = r.body["bill"]["id"].as_i64().unwrap();
    assert_eq!(
        (r.body["bill"]["status"].as_str(), r.body["bill"]["paid_fen"].as_i64()),
        (Some("paid"), Some(3900)),
        "{:?}",
        r.body
    );
    let mut c = app.services().db.read().await.unwrap();
    let rows = sqlx::query(
        "SELECT p.external_txn_id AS txn, a.amount_fen AS amount FROM payment_allocations a
         JOIN payments p ON p.id = a.payment_id WHERE a.bill_id = $1 ORDER BY p.id",
    )
    .bind(april)
    .fetch_all(&mut *c)
    .await
    .unwrap();
    let trail: Vec<(String, i64)> =
        rows.iter().map(|r| (sqlx::Row::get::<String, _>(r, "txn"), sqlx::Row::get::<i64, _>(r, "amount"))).collect();
    assert_eq!(trail, vec![("WX-0003".to_string(), 3300), ("WX-0004".to_string(), 600)], "oldest credit first");
    drop(c);
    let v = admin.get(&format!("/api/v1/accounts/{acc}")).await;
    assert_eq!(v.body["billing"]["credit_fen"], 400 + 1000, "WX-0004's rest and WX-0005");
    // Payments to unknown accounts are refused.
    let r = admin
        .post(
            "/api/v1/accounts/424242/payments",
            json!({"channel": "wechat", "amount_fen": 100, "external_txn_id": "WX-9"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    app.stop().await;
});

// Data scope: a west-branch agent sees neither east customers nor their accounts.
backend_test!(customer_data_scope, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let (east, west) = units(&app);
    let admin = app.api("admin").await;
    let c = customer(&admin, "东所客户", "13833334444", east).await;
    let acc = account(&admin, "HZ4000001", c, "东所地址1号", east).await;
    let r = admin.post("/api/v1/users", json!({"username": "west.agent", "display_name": "西所坐席", "unit_id": west, "data_scope": "unit_tree", "password": "West-agent-2026", "roles": ["agent"]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let token = app
        .anon()
        .post("/api/v1/auth/login", json!({"username": "west.agent", "password": "West-agent-2026"}))
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_string();
    let west_api = Api { base: app.base.clone(), token: Some(token), client: TestApp::client() };
    west_api
        .post("/api/v1/me/password", json!({"old_password": "West-agent-2026", "new_password": "West-agent-2027"}))
        .await;
    assert_eq!(west_api.get(&format!("/api/v1/customers/{c}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(west_api.get(&format!("/api/v1/accounts/{acc}")).await.status, StatusCode::NOT_FOUND);
    assert!(west_api.get("/api/v1/customers?q=13833334444").await.body["items"].as_array().unwrap().is_empty());
    let r = west_api.post("/api/v1/customers", json!({"kind": "person", "name": "越权", "unit_id": east})).await;
    assert_eq!(r.body["error"]["field"], "unit_id");
    app.stop().await;
});

// The demo has customers with a year of bills, payments and some arrears.
backend_test!(demo_customers, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let agent = app.api("agent").await;
    let r = agent.get(&format!("/api/v1/customers?q={}", urlencoding::encode("文三路"))).await;
    let hits = r.body["items"].as_array().unwrap();
    assert!(hits.len() >= 2, "{:?}", r.body);
    let li = agent.get(&format!("/api/v1/customers?q={}", urlencoding::encode("李秀英"))).await;
    let acc = li.body["items"][0]["customer"]["accounts"][0]["id"].as_i64().unwrap();
    let v: Value = agent.get(&format!("/api/v1/accounts/{acc}")).await.body;
    assert!(v["billing"]["bills"].as_array().unwrap().len() >= 10, "a year of bills");
    assert!(v["billing"]["arrears_fen"].as_i64().unwrap() > 0, "the demo shows arrears");
    let tariffs = agent.get("/api/v1/tariffs").await;
    assert_eq!(tariffs.body["items"].as_array().unwrap().len(), 3);
    app.stop().await;
});

// The agent's pages: search, customer card, 360 view, reading and payment forms.
backend_test!(customer_pages, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let mut web = crate::helpers::Web::new(&app);
    web.login("admin", &app.password("admin")).await;
    let page = web.get(&format!("/customers?q={}", urlencoding::encode("13957123456"))).await.text().await.unwrap();
    assert!(page.contains("李秀英") && page.contains("HZ0010002"), "search page");
    let start = page.find("/accounts/").unwrap();
    let link: String = page[start..].chars().take_while(|c| *c != '"').collect();
    let page = web.get(&link).await.text().await.unwrap();
    assert!(page.contains("data-testid=\"usage-chart\"") && page.contains("HZ0010002") && page.contains("欠费"));
    assert!(page.contains("data-testid=\"account-contacts\"") && page.contains("水压很低"), "the account's contacts");
    let id: i64 = link.trim_start_matches("/accounts/").parse().unwrap();
    let r = web
        .post_form(
            &format!("/accounts/{id}/payments"),
            &[("amount", "12.50"), ("channel", "counter"), ("external_txn_id", "CNT-1")],
        )
        .await;
    assert!(r.headers()["location"].to_str().unwrap().contains("msg=saved"));
    let r = web
        .post_form(
            &format!("/accounts/{id}/payments"),
            &[("amount", "12.505"), ("channel", "counter"), ("external_txn_id", "CNT-2")],
        )
        .await;
    assert!(
        r.headers()["location"].to_str().unwrap().contains("err="),
        "amounts with more than two decimals are refused"
    );
    let r = web.post_form("/customers", &[("name", "网页新客户"), ("kind", "person"), ("phone", "13700001111")]).await;
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with("/customers/"), "{to}");
    let page = web.get(&to).await.text().await.unwrap();
    assert!(page.contains("网页新客户") && page.contains("13700001111"));

    // Editing the account and changing its meter from the 360 page (R-CUS-01).
    let page = web.get(&format!("/accounts/{id}")).await.text().await.unwrap();
    assert!(page.contains("data-testid=\"account-edit\"") && page.contains("data-testid=\"meter-install\""));
    let v = app.api("admin").await.get(&format!("/api/v1/accounts/{id}")).await.body;
    let holder = v["account"]["holder_id"].as_i64().unwrap().to_string();
    let old_meter =
        v["meters"].as_array().unwrap().iter().find(|m| m["removed_on"].is_null()).unwrap()["id"].as_i64().unwrap();
    let r = web
        .post_form(
            &format!("/accounts/{id}"),
            &[
                ("address", "拱墅区莫干山路88号"),
                ("category", "residential"),
                ("status", "active"),
                ("tariff_code", "residential"),
                ("book_no", "B77"),
                ("household_size", "6"),
                ("lat", "30.29"),
                ("lon", "120.15"),
                ("e_bill", "on"),
                ("holder_id", &holder),
            ],
        )
        .await;
    assert!(r.headers()["location"].to_str().unwrap().contains("msg=saved"), "{:?}", r.headers());
    let r = web
        .post_form(
            &format!("/accounts/{id}"),
            &[("address", ""), ("category", "residential"), ("status", "active"), ("household_size", "6")],
        )
        .await;
    assert!(r.headers()["location"].to_str().unwrap().contains("err=validation"), "an empty address is refused");
    let r = web
        .post_form(
            &format!("/accounts/{id}/meters"),
            &[
                ("serial", "WEB-CHANGE-1"),
                ("diameter_mm", "25"),
                ("installed_on", "2026-01-01"),
                ("initial_reading", "0"),
                ("replaces_meter_id", &old_meter.to_string()),
            ],
        )
        .await;
    assert!(r.headers()["location"].to_str().unwrap().contains("msg=saved"), "{:?}", r.headers());
    let v = app.api("admin").await.get(&format!("/api/v1/accounts/{id}")).await.body;
    assert_eq!(
        (v["account"]["address"].as_str(), v["account"]["household_size"].as_i64()),
        (Some("拱墅区莫干山路88号"), Some(6))
    );
    assert_eq!((v["account"]["e_bill"].as_bool(), v["account"]["lat_e6"].as_i64()), (Some(true), Some(30_290_000)));
    let meters = v["meters"].as_array().unwrap();
    let installed: Vec<&str> =
        meters.iter().filter(|m| m["removed_on"].is_null()).map(|m| m["serial"].as_str().unwrap()).collect();
    assert_eq!(installed, vec!["WEB-CHANGE-1"], "the old meter was removed");
    // The supervisor (read-only) sees no edit forms and cannot post them.
    let mut sup = crate::helpers::Web::new(&app);
    sup.login("supervisor", &app.password("supervisor")).await;
    let page = sup.get(&format!("/accounts/{id}")).await.text().await.unwrap();
    assert!(!page.contains("data-testid=\"account-edit\""));
    let r = sup.post_form(&format!("/accounts/{id}/meters"), &[("serial", "X")]).await;
    assert_eq!(r.status(), reqwest::StatusCode::FORBIDDEN);
    app.stop().await;
});

// `waterdesk seed`: realistic data in bulk, consistent with the ledger, and the id
// generators continue after it (new rows do not collide with seeded ones).
backend_test!(seeding, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let s = app.services();
    let opts = waterdesk_services::seed::SeedOptions { customers: 120, months: 6, seed: 7, batch: 50 };
    let mut calls = 0;
    let r = s.seed_customers(&opts, |_, _| calls += 1).await.unwrap();
    assert_eq!((r.customers, calls), (120, 3));
    assert!(r.bills >= 120 * 5 && r.payments > 0);
    let admin = app.api("admin").await;
    let hits = admin.get(&format!("/api/v1/customers?q={}", urlencoding::encode("杭州"))).await;
    assert!(hits.status.is_success());
    let acc = admin.get("/api/v1/customers?q=SD000000010").await;
    let item = &acc.body["items"][0];
    assert_eq!(item["matched"], "account_no", "{:?}", acc.body);
    let phone = item["customer"]["phones"][0]["phone"].as_str().unwrap().to_string();
    assert_eq!(phone.len(), 11);
    let by_phone = admin.get(&format!("/api/v1/customers?q={phone}")).await;
    assert!(by_phone.body["items"].as_array().unwrap().iter().any(|h| h["customer"]["id"] == item["customer"]["id"]));
    let account_id = item["customer"]["accounts"][0]["id"].as_i64().unwrap();
    let v = admin.get(&format!("/api/v1/accounts/{account_id}")).await;
    assert!(v.body["billing"]["bills"].as_array().unwrap().len() >= 5);
    let arrears = v.body["billing"]["arrears_fen"].as_i64().unwrap();
    let unpaid: i64 = v.body["billing"]["bills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["total_fen"].as_i64().unwrap() - b["paid_fen"].as_i64().unwrap())
        .sum();
    assert!(arrears >= unpaid && v.body["billing"]["credit_fen"] == 0, "{:?}", v.body["billing"]);
    // The seeded search index is the one `reindex` builds (house-number tokens included).
    let grams = || async {
        let mut c = s.db.read().await.unwrap();
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT gram, customer_id FROM search_grams ORDER BY gram, customer_id")
                .fetch_all(&mut *c)
                .await
                .unwrap();
        rows
    };
    let seeded = grams().await;
    assert!(seeded.iter().any(|(g, _)| g.starts_with('#')), "house-number tokens");
    s.reindex_customers(|_| {}).await.unwrap();
    assert_eq!(grams().await, seeded);
    // New rows after seeding get fresh ids.
    let c = admin.post("/api/v1/customers", json!({"kind": "person", "name": "种子之后"})).await;
    assert_eq!(c.status, StatusCode::CREATED, "{:?}", c.body);
    assert!(c.body["id"].as_i64().unwrap() > 120);
    app.stop().await;
});
