//! Imports and exports (R-CUS-03): customers, readings, bills and payments from CSV (GBK
//! from Excel or UTF-8) and XLSX; mapping preview, row-level report, all-or-nothing in one
//! transaction or skip-bad-rows, idempotent re-import, size limit, background runs with
//! progress; streamed CSV and XLSX exports that import again unchanged.

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
    assert_eq!(
        (r["created"].as_i64(), r["updated"].as_i64(), r["unchanged"].as_i64()),
        (Some(0), Some(0), Some(3)),
        "{r:?}"
    );
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
    assert_eq!((r["encoding"].as_str(), r["unchanged"].as_i64()), (Some("utf-8"), Some(3)));
    // A changed row updates its account (and adds the new phone to the holder's).
    let changed = GOOD.replace("13902020202,上城区南山路5号", "13902020299,上城区南山路7号");
    let (_, r) = post_csv(&app, &token, "/api/v1/imports/customers", changed.into_bytes()).await;
    assert_eq!((r["updated"].as_i64(), r["unchanged"].as_i64()), (Some(1), Some(2)), "{r:?}");
    let lin = api.get(&format!("/api/v1/customers?q={}", urlencoding::encode("林徽因"))).await;
    assert_eq!(lin.body["items"][0]["customer"]["accounts"][0]["address"], "上城区南山路7号");
    assert_eq!(lin.body["items"][0]["customer"]["phones"].as_array().unwrap().len(), 2);
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
    assert!(csv.starts_with("\u{feff}户号,户名,客户类型,证件号码,电话,地址"), "{csv}");
    let en = c
        .get(app.url("/api/v1/exports/customers"))
        .bearer_auth(&admin)
        .header("accept-language", "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(en.starts_with("\u{feff}account_no,name,kind,id_number,phone,address"), "{en}");
    assert!(csv.contains("HZ0010002") && csv.contains("13957123456"));
    let lines = csv.lines().count();
    assert_eq!(lines, 1 + 4, "header + the four demo accounts");
    // Re-importing the export finds the four accounts as they are.
    let (_, rep) = post_csv(&app, &admin, "/api/v1/imports/customers", csv.into_bytes()).await;
    assert_eq!(
        (rep["created"].as_i64(), rep["updated"].as_i64(), rep["unchanged"].as_i64()),
        (Some(0), Some(0), Some(4)),
        "{rep:?}"
    );
    // Bills and payments.
    let bills = c.get(app.url("/api/v1/exports/bills")).bearer_auth(&admin).send().await.unwrap().text().await.unwrap();
    assert!(bills.lines().count() > 40, "a year of bills for four accounts");
    let (_, rep) = post_csv(&app, &admin, "/api/v1/imports/bills", bills.into_bytes()).await;
    assert_eq!((rep["created"].as_i64(), rep["errors"].as_array().map(Vec::len)), (Some(0), Some(0)), "{rep:?}");
    let pays =
        c.get(app.url("/api/v1/exports/payments.csv")).bearer_auth(&admin).send().await.unwrap().text().await.unwrap();
    assert!(pays.contains("DEMO-HZ0010001-1"));
    let n_pays = pays.lines().count() - 1;
    let (_, rep) = post_csv(&app, &admin, "/api/v1/imports/payments", pays.into_bytes()).await;
    assert_eq!((rep["unchanged"].as_i64(), rep["created"].as_i64()), (Some(n_pays as i64), Some(0)), "{rep:?}");
    let meters =
        c.get(app.url("/api/v1/exports/meters")).bearer_auth(&admin).send().await.unwrap().text().await.unwrap();
    assert!(meters.starts_with("\u{feff}户号,表号,口径") && meters.lines().count() == 5, "{meters}");
    let readings =
        c.get(app.url("/api/v1/exports/readings")).bearer_auth(&admin).send().await.unwrap().text().await.unwrap();
    let n_readings = readings.lines().count() - 1;
    assert!(n_readings > 40, "{readings}");
    let (_, rep) = post_csv(&app, &admin, "/api/v1/imports/readings", readings.into_bytes()).await;
    assert_eq!(rep["unchanged"].as_i64(), Some(n_readings as i64), "{rep:?}");
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

async fn account_view(app: &TestApp, no: &str) -> Value {
    let api = app.api("admin").await;
    let hits = api.get(&format!("/api/v1/customers?q={no}")).await;
    let id = hits.body["items"][0]["customer"]["accounts"][0]["id"].as_i64().unwrap();
    api.get(&format!("/api/v1/accounts/{id}")).await.body
}

fn codes(r: &Value) -> Vec<(i64, String)> {
    r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_i64().unwrap(), e["code"].as_str().unwrap().to_string()))
        .collect()
}

// Readings bill their month with the tariff; a decreasing reading is refused; payments
// are idempotent by transaction id; history bills keep what was paid of them.
backend_test!(readings_bills_and_payments_import, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let admin = app.token("admin").await;
    let (_, r) = post_csv(&app, &admin, "/api/v1/imports/customers", gbk(GOOD)).await;
    assert_eq!(r["created"].as_i64(), Some(3), "{r:?}");

    let readings = "户号,表号,抄表日期,本次读数\n\
IMP0001,WMI-001,2026-02-05,12\n\
IMP0001,,2026/3/5,25\n\
IMP0001,WMI-001,2026-04-05,20\n\
IMP0003,,2026-04-05,20\n";
    let (_, r) = post_csv(&app, &admin, "/api/v1/imports/readings", readings.as_bytes().to_vec()).await;
    assert_eq!(r["rolled_back"].as_bool(), Some(true), "{r:?}");
    assert_eq!(codes(&r), vec![(4, "reading_decreased".to_string()), (5, "no_meter".to_string())]);
    assert!(account_view(&app, "IMP0001").await["readings"].as_array().unwrap().is_empty(), "nothing written");
    let (_, r) =
        post_csv(&app, &admin, "/api/v1/imports/readings?mode=skip_bad_rows", readings.as_bytes().to_vec()).await;
    assert_eq!((r["created"].as_i64(), r["skipped"].as_i64()), (Some(2), Some(2)), "{r:?}");
    let v = account_view(&app, "IMP0001").await;
    assert_eq!(v["readings"].as_array().unwrap().len(), 2);
    assert_eq!(v["billing"]["bills"].as_array().unwrap().len(), 2, "each reading billed its month");
    assert_eq!(v["billing"]["bills"][0]["volume"], 13);
    let (_, r) =
        post_csv(&app, &admin, "/api/v1/imports/readings?mode=skip_bad_rows", readings.as_bytes().to_vec()).await;
    assert_eq!((r["created"].as_i64(), r["unchanged"].as_i64()), (Some(0), Some(2)), "{r:?}");
    let arrears = v["billing"]["arrears_fen"].as_i64().unwrap();
    assert!(arrears > 0);

    let pays = "户号,金额,交易流水号,缴费渠道,缴费时间\n\
IMP0001,10.50,PAYX-1,微信,2026-03-10 10:00:00\n\
NOPE0001,5,PAYX-2,,\n";
    let (_, r) = post_csv(&app, &admin, "/api/v1/imports/payments", pays.as_bytes().to_vec()).await;
    assert_eq!((r["rolled_back"].as_bool(), codes(&r)), (Some(true), vec![(3, "unknown_account".to_string())]));
    let (_, r) = post_csv(&app, &admin, "/api/v1/imports/payments?mode=skip_bad_rows", pays.as_bytes().to_vec()).await;
    assert_eq!(r["created"].as_i64(), Some(1), "{r:?}");
    let (_, r) = post_csv(&app, &admin, "/api/v1/imports/payments?mode=skip_bad_rows", pays.as_bytes().to_vec()).await;
    assert_eq!((r["created"].as_i64(), r["unchanged"].as_i64()), (Some(0), Some(1)), "{r:?}");
    let v = account_view(&app, "IMP0001").await;
    assert_eq!(v["billing"]["arrears_fen"].as_i64(), Some(arrears - 1050), "paid once");
    assert_eq!(v["billing"]["payments"][0]["channel"], "wechat");

    let bills = "户号,账期,水量,水费,污水处理费,已缴\n\
IMP0003,2025-12,10,28.00,9.50,37.50\n\
IMP0003,2026-01,12,33.60,11.40,\n\
IMP0003,2026-02,12,33.60,11.40,99999\n";
    let (_, r) = post_csv(&app, &admin, "/api/v1/imports/bills?mode=skip_bad_rows", gbk(bills)).await;
    assert_eq!((r["created"].as_i64(), codes(&r)), (Some(2), vec![(4, "paid_exceeds_total".to_string())]), "{r:?}");
    let (_, r) = post_csv(&app, &admin, "/api/v1/imports/bills?mode=skip_bad_rows", gbk(bills)).await;
    assert_eq!(r["unchanged"].as_i64(), Some(2), "{r:?}");
    let v = account_view(&app, "IMP0003").await;
    assert_eq!(v["billing"]["arrears_fen"].as_i64(), Some(4500));
    // Billing imports need billing.write: the agent may import customers, not payments.
    let agent = app.token("agent").await;
    let (st, _) = post_csv(&app, &agent, "/api/v1/imports/payments", pays.as_bytes().to_vec()).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    app.stop().await;
});

// All-or-nothing is one transaction: a row that fails on write (a meter serial already
// installed elsewhere) takes the rows before it back too.
backend_test!(all_or_nothing_is_one_transaction, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let admin = app.token("admin").await;
    let c = TestApp::client();
    let meters =
        c.get(app.url("/api/v1/exports/meters")).bearer_auth(&admin).send().await.unwrap().text().await.unwrap();
    let serial = meters.lines().nth(1).unwrap().split(',').nth(1).unwrap().to_string();
    let csv = format!("户号,户名,地址,表号\nTXN0001,第一户,文一路1号,NEW-001\nTXN0002,第二户,文一路2号,{serial}\n");
    let (_, r) = post_csv(&app, &admin, "/api/v1/imports/customers", csv.clone().into_bytes()).await;
    assert_eq!(
        (r["rolled_back"].as_bool(), codes(&r)),
        (Some(true), vec![(3, "duplicate_serial".to_string())]),
        "{r:?}"
    );
    let api = app.api("admin").await;
    assert!(api.get("/api/v1/customers?q=TXN0001").await.body["items"].as_array().unwrap().is_empty());
    let (_, r) = post_csv(&app, &admin, "/api/v1/imports/customers?mode=skip_bad_rows", csv.into_bytes()).await;
    assert_eq!((r["created"].as_i64(), r["skipped"].as_i64()), (Some(1), Some(1)), "{r:?}");
    assert_eq!(api.get("/api/v1/customers?q=TXN0001").await.body["items"].as_array().unwrap().len(), 1);
    // Every import leaves one audit entry naming the file by its hash (R-SYS-03).
    let audit = api.get("/api/v1/audit?event_type=import.customers").await;
    let outcomes: Vec<&str> =
        audit.body["items"].as_array().unwrap().iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, vec!["partial", "rolled_back"], "{:?}", audit.body);
    app.stop().await;
});

// XLSX in and out: a workbook from Excel imports like a CSV; exports open as workbooks
// with the same headers.
backend_test!(xlsx_import_and_export, |backend| async move {
    use waterdesk_services::sheet::{XlsxWriter, read_table};
    let app = TestApp::spawn(backend).await;
    let admin = app.token("admin").await;
    let mut w = XlsxWriter::new(
        &["account_no", "name", "phone", "address", "household_size"],
        ["户号", "户名", "电话", "地址", "人口"].iter().map(|s| s.to_string()).collect(),
    )
    .unwrap();
    w.push(&["XLS0001".into(), "王羲之".into(), "13811112222".into(), "绍兴市越城区兰亭路1号".into(), "3".into()])
        .unwrap();
    w.push(&["XLS0002".into(), "".into(), "13811113333".into(), "兰亭路2号".into(), "2".into()]).unwrap();
    let mut buf = std::io::Cursor::new(Vec::new());
    w.finish(&mut buf).unwrap();
    let xlsx = buf.into_inner();
    let (st, p) = post_csv(&app, &admin, "/api/v1/imports/customers/preview", xlsx.clone()).await;
    assert_eq!((st, p["format"].as_str(), p["rows"].as_i64()), (StatusCode::OK, Some("xlsx"), Some(2)), "{p:?}");
    let (_, r) = post_csv(&app, &admin, "/api/v1/imports/customers?mode=skip_bad_rows", xlsx).await;
    assert_eq!((r["created"].as_i64(), codes(&r)), (Some(1), vec![(3, "required".to_string())]), "{r:?}");
    let v = account_view(&app, "XLS0001").await;
    assert_eq!(v["account"]["household_size"], 3);

    let resp =
        TestApp::client().get(app.url("/api/v1/exports/customers.xlsx")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().contains("spreadsheetml"));
    let bytes = resp.bytes().await.unwrap();
    let t = read_table(&bytes).unwrap();
    assert_eq!(&t.headers[..3], &["户号", "户名", "客户类型"]);
    assert_eq!(t.records.len(), 5, "four demo accounts and the imported one");
    assert!(t.records.iter().any(|(_, r)| r[0] == "XLS0001" && r[4] == "13811112222"));
    // A corrupt workbook is a clear 422.
    let (st, r) = post_csv(&app, &admin, "/api/v1/imports/customers", b"PK\x03\x04broken".to_vec()).await;
    assert_eq!((st, r["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("file")), "{r:?}");
    app.stop().await;
});

// Large files run in the background; the uploader polls progress and gets the report.
backend_test!(background_import_with_progress, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let admin = app.token("admin").await;
    let mut csv = String::from("户号,户名,电话,地址\n");
    for i in 0..2500 {
        csv.push_str(&format!("BG{i:06},后台导入{i},139{i:08},滨江区江南大道{i}号\n"));
    }
    let (st, run) =
        post_csv(&app, &admin, "/api/v1/imports/customers?background=true&file_name=big.csv", csv.into_bytes()).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{run:?}");
    assert_eq!((run["total"].as_i64(), run["file_name"].as_str()), (Some(2500), Some("big.csv")));
    let id = run["id"].as_i64().unwrap();
    let api = app.api("admin").await;
    let mut last = Value::Null;
    for _ in 0..600 {
        last = api.get(&format!("/api/v1/imports/runs/{id}")).await.body;
        if last["status"] != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(last["status"], "done", "{last:?}");
    assert_eq!((last["done"].as_i64(), last["report"]["created"].as_i64()), (Some(2500), Some(2500)), "{last:?}");
    let runs = api.get("/api/v1/imports/runs").await;
    assert_eq!(runs.body[0]["id"].as_i64(), Some(id));
    // Someone else's run is not visible; a bad file is refused before anything starts.
    let sup = app.api("supervisor").await;
    assert_eq!(sup.get(&format!("/api/v1/imports/runs/{id}")).await.status, StatusCode::NOT_FOUND);
    let (st, _) = post_csv(&app, &admin, "/api/v1/imports/customers?background=true", b"x,y\n1,2\n".to_vec()).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
});
