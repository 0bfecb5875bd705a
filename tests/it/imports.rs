//! Customer imports from CSV (R-CUS-03): GBK from Excel, mapping preview, row-level
//! report, all-or-nothing or skip-bad-rows, idempotent re-import, size limit.

use reqwest::StatusCode;
use serde_json::Value;

use crate::backend_test;
use crate::helpers::TestApp;

async fn post_csv(app: &TestApp, token: &str, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let r = TestApp::client()
        .post(app.url(path))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    let st = r.status();
    (st, r.json().await.unwrap_or(Value::Null))
}

fn gbk(s: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(s).0.into_owned()
}

const GOOD: &str = "户号,户名,联系电话,用水地址,用水类别,人口,册本号,表号,口径,装表日期\n\
IMP0001,钱学森,13901010101,西湖区文三路301号,居民,3,B900,WMI-001,20,2026-01-05\n\
IMP0002,杭州湖畔茶馆有限公司,0571-88886666,西湖区北山街10号,非居民,1,B900,WMI-002,40,2026-01-05\n\
IMP0003,林徽因,13902020202,上城区南山路5号,居民,5,B901,,,\n";

backend_test!(gbk_import_is_idempotent, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let token = app.token("agent").await;
    let (st, preview) = post_csv(&app, &token, "/api/v1/imports/customers/preview", gbk(GOOD)).await;
    assert_eq!(st, StatusCode::OK, "{preview:?}");
    assert_eq!(preview["encoding"], "gbk");
    assert_eq!(preview["rows"], 3);
    assert_eq!(preview["mapping"][0], "account_no");
    assert_eq!(preview["mapping"][2], "phone");
    assert_eq!(preview["missing"].as_array().unwrap().len(), 0);
    assert_eq!(preview["sample"][1][1], "杭州湖畔茶馆有限公司");

    let (st, r) = post_csv(&app, &token, "/api/v1/imports/customers", gbk(GOOD)).await;
    assert_eq!(st, StatusCode::OK, "{r:?}");
    assert_eq!(
        (r["created"].as_i64(), r["updated"].as_i64(), r["errors"].as_array().map(Vec::len)),
        (Some(3), Some(0), Some(0)),
        "{r:?}"
    );
    // Importing the same file again changes nothing and duplicates nothing.
    let (_, r) = post_csv(&app, &token, "/api/v1/imports/customers", gbk(GOOD)).await;
    assert_eq!((r["created"].as_i64(), r["updated"].as_i64()), (Some(0), Some(3)), "{r:?}");
    let api = app.api("agent").await;
    let hits = api.get(&format!("/api/v1/customers?q={}", urlencoding::encode("钱学森"))).await;
    assert_eq!(hits.body["items"].as_array().unwrap().len(), 1);
    let acc = hits.body["items"][0]["customer"]["accounts"][0]["id"].as_i64().unwrap();
    let v = api.get(&format!("/api/v1/accounts/{acc}")).await;
    assert_eq!(v.body["meters"][0]["serial"], "WMI-001");
    assert_eq!(v.body["account"]["household_size"], 3);
    let org = api.get("/api/v1/customers?q=IMP0002").await;
    assert_eq!(org.body["items"][0]["customer"]["kind"], "organisation");
    // UTF-8 with a BOM (Excel's "CSV UTF-8") reads the same.
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(GOOD.as_bytes());
    let (_, r) = post_csv(&app, &token, "/api/v1/imports/customers", bom).await;
    assert_eq!((r["encoding"].as_str(), r["updated"].as_i64()), (Some("utf-8"), Some(3)));
    app.stop().await;
});

const MIXED: &str = "account_no,name,phone,address\n\
MIX0001,好客户,13800000001,文一路1号\n\
MIX0002,坏电话,12345,文一路2号\n\
MIX0001,重复户号,13800000003,文一路3号\n\
MIX0004,,13800000004,文一路4号\n\
MIX0005,好客户二,13800000005,文一路5号\n";

backend_test!(bad_rows_are_reported_by_line_and_column, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let token = app.token("agent").await;
    let (st, r) = post_csv(&app, &token, "/api/v1/imports/customers", MIXED.as_bytes().to_vec()).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!((r["rolled_back"].as_bool(), r["created"].as_i64()), (Some(true), Some(0)), "{r:?}");
    let errs: Vec<(i64, String, String)> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_i64().unwrap(),
                e["column"].as_str().unwrap().to_string(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        errs,
        vec![
            (3, "phone".into(), "invalid_phone".into()),
            (4, "account_no".into(), "duplicate_in_file".into()),
            (5, "name".into(), "required".into())
        ]
    );
    let api = app.api("agent").await;
    assert!(
        api.get("/api/v1/customers?q=MIX0001").await.body["items"].as_array().unwrap().is_empty(),
        "nothing written"
    );

    let (_, r) =
        post_csv(&app, &token, "/api/v1/imports/customers?mode=skip_bad_rows", MIXED.as_bytes().to_vec()).await;
    assert_eq!(
        (r["created"].as_i64(), r["skipped"].as_i64(), r["rolled_back"].as_bool()),
        (Some(2), Some(3), Some(false)),
        "{r:?}"
    );
    assert_eq!(api.get("/api/v1/customers?q=MIX0005").await.body["items"].as_array().unwrap().len(), 1);

    // A file without a required column, binary garbage, an unknown mode.
    let (st, r) = post_csv(&app, &token, "/api/v1/imports/customers", "户号,户名\nX1,张三\n".as_bytes().to_vec()).await;
    assert_eq!(
        (st, r["error"]["detail"].as_str().map(|d| d.starts_with("missing_columns"))),
        (StatusCode::UNPROCESSABLE_ENTITY, Some(true))
    );
    let (st, r) = post_csv(&app, &token, "/api/v1/imports/customers", vec![0xff, 0xfe, 0x00, 0x81, 0x30, 0xff]).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    let (st, _) = post_csv(&app, &token, "/api/v1/imports/customers?mode=whatever", GOOD.as_bytes().to_vec()).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
});

backend_test!(oversized_files_are_refused, |backend| async move {
    let app = TestApp::spawn_with(backend, |s| s.server.max_import_bytes = 4096).await;
    let token = app.token("agent").await;
    let big = format!("{GOOD}{}", "IMPX,x,,y\n".repeat(1000));
    let (st, r) = post_csv(&app, &token, "/api/v1/imports/customers", big.into_bytes()).await;
    assert_eq!((st, r["error"]["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large")));
    app.stop().await;
});

// Streamed exports: the customers export has the import's columns, masked without PII rights,
// and can be imported again without creating anything.
backend_test!(exports_round_trip, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let admin = app.token("admin").await;
    let c = TestApp::client();
    let r = c.get(app.url("/api/v1/exports/customers")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = r.text().await.unwrap();
    assert!(csv.starts_with("\u{feff}account_no,name,kind,id_number,phone,address"), "{csv}");
    assert!(csv.contains("HZ0010002") && csv.contains("13957123456"));
    let lines = csv.lines().count();
    assert_eq!(lines, 1 + 4, "header + the four demo accounts");
    // Re-importing the export updates the four accounts and creates nothing.
    let (_, rep) = post_csv(&app, &admin, "/api/v1/imports/customers", csv.into_bytes()).await;
    assert_eq!((rep["created"].as_i64(), rep["updated"].as_i64()), (Some(0), Some(4)), "{rep:?}");
    // Bills and payments.
    let bills = c.get(app.url("/api/v1/exports/bills")).bearer_auth(&admin).send().await.unwrap().text().await.unwrap();
    assert!(bills.lines().count() > 40, "a year of bills for four accounts");
    let pays =
        c.get(app.url("/api/v1/exports/payments.csv")).bearer_auth(&admin).send().await.unwrap().text().await.unwrap();
    assert!(pays.contains("DEMO-HZ0010001-1"));
    // The supervisor may export but without PII rights sees masked numbers.
    let sup = app.token("supervisor").await;
    let csv = c.get(app.url("/api/v1/exports/customers")).bearer_auth(&sup).send().await.unwrap().text().await.unwrap();
    assert!(csv.contains("139****3456") && !csv.contains("13957123456"), "{csv}");
    assert_eq!(
        c.get(app.url("/api/v1/exports/nothing")).bearer_auth(&admin).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let agent = app.token("agent").await;
    assert_eq!(
        c.get(app.url("/api/v1/exports/customers")).bearer_auth(&agent).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    app.stop().await;
});
