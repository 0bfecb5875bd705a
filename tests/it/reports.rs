//! Custom reports (issue 6, R-DATA-03/04/05): saved, shared and scheduled definitions of
//! the service indicators; a run checked against `domain::kpi::compute` on facts read
//! back independently; the Excel workbook opened with calamine; schedules firing once per
//! period with a controlled clock and the workbook arriving at a fake SMTP server (real
//! SMTP over TCP), a failed send retried — on SQLite and PostgreSQL.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use calamine::{Data, Reader, Xlsx};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use waterdesk_domain::kpi::{
    self, Cohort, GroupBy, Indicator, Indicators, Keys, OrderFacts, Satisfaction, VisitAttempt,
};
use waterdesk_domain::sla::{Calendar, Targets};
use waterdesk_domain::workflow::{State, Workflow};
use waterdesk_jobs::{Worker, WorkerConfig};
use waterdesk_services::audit::AuditCtx;
use waterdesk_services::orders::OrderInput;
use waterdesk_services::reports::{Definition, PeriodSpec, ReportInput, ScheduleSpec};
use waterdesk_services::seed_work::WorkSeedOptions;
use waterdesk_services::stats::Filters;
use waterdesk_services::{Principal, ServiceError};

use crate::backend_test;
use crate::helpers::TestApp;
use crate::orders::{act, as_user};

fn at(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

// ---- a fake SMTP server ----------------------------------------------------------------

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

/// An SMTP server on 127.0.0.1 speaking enough of RFC 5321 for a real client: EHLO/HELO,
/// MAIL, RCPT, DATA (dot-stuffing undone), RSET, NOOP, QUIT. `fail` makes the next MAIL
/// commands answer 451 (a transient failure).
#[derive(Clone)]
pub struct FakeSmtp {
    pub port: u16,
    pub messages: Arc<Mutex<Vec<Received>>>,
    pub fail: Arc<AtomicUsize>,
}

impl FakeSmtp {
    pub async fn start() -> FakeSmtp {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let s = FakeSmtp { port: l.local_addr().unwrap().port(), messages: Arc::default(), fail: Arc::default() };
        let me = s.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = l.accept().await {
                tokio::spawn(me.clone().session(sock));
            }
        });
        s
    }

    async fn session(self, sock: tokio::net::TcpStream) -> std::io::Result<()> {
        let (r, mut w) = sock.into_split();
        let mut r = BufReader::new(r);
        w.write_all(b"220 fake.test ESMTP\r\n").await?;
        let (mut from, mut to) = (String::new(), Vec::new());
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let cmd = line.trim_end().to_string();
            let upper = cmd.to_ascii_uppercase();
            let reply: &[u8] = if upper.starts_with("EHLO") {
                b"250-fake.test\r\n250 8BITMIME\r\n"
            } else if upper.starts_with("HELO") {
                b"250 fake.test\r\n"
            } else if upper.starts_with("MAIL FROM:") {
                if self.fail.load(Ordering::SeqCst) > 0 {
                    self.fail.fetch_sub(1, Ordering::SeqCst);
                    b"451 4.3.0 try again later\r\n"
                } else {
                    from = address(&cmd);
                    to.clear();
                    b"250 2.1.0 ok\r\n"
                }
            } else if upper.starts_with("RCPT TO:") {
                to.push(address(&cmd));
                b"250 2.1.5 ok\r\n"
            } else if upper == "DATA" {
                w.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut data = String::new();
                loop {
                    let mut l = String::new();
                    if r.read_line(&mut l).await? == 0 {
                        return Ok(());
                    }
                    if l == ".\r\n" {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                }
                self.messages.lock().unwrap().push(Received { from: from.clone(), to: to.clone(), data });
                b"250 2.0.0 queued\r\n"
            } else if upper == "RSET" || upper == "NOOP" {
                b"250 ok\r\n"
            } else if upper == "QUIT" {
                w.write_all(b"221 bye\r\n").await?;
                return Ok(());
            } else {
                b"502 command not implemented\r\n"
            };
            w.write_all(reply).await?;
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.messages.lock().unwrap().clone()
    }
}

/// `MAIL FROM:<a@b>` → `a@b`.
fn address(cmd: &str) -> String {
    let s = cmd.split_once(':').map(|x| x.1).unwrap_or("");
    let s = s.split_whitespace().next().unwrap_or("");
    s.trim_matches(|c| c == '<' || c == '>').to_string()
}

/// The first attachment of a MIME message: (file name, decoded bytes).
pub fn attachment(data: &str) -> (String, Vec<u8>) {
    let i = data.find("boundary=").expect("a multipart message");
    let b = data[i + 9..].trim_start_matches('"');
    let boundary = &b[..b.find(['"', '\r', '\n', ';']).unwrap()];
    let delimiter = format!("--{boundary}");
    for part in data.split(delimiter.as_str()).skip(1) {
        let Some((head, body)) = part.split_once("\r\n\r\n") else { continue };
        let lower = head.to_ascii_lowercase();
        if !lower.contains("content-disposition: attachment") {
            continue;
        }
        assert!(lower.contains("content-transfer-encoding: base64"), "{head}");
        let name =
            head.split("filename=").nth(1).map(|n| n.trim_matches(|c| c == '"' || c == ';' || c == '\r' || c == '\n'));
        let name = name.unwrap_or_default().split('"').next().unwrap_or_default().to_string();
        let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        let b64 = b64.trim_end_matches('-');
        return (name, base64::engine::general_purpose::STANDARD.decode(b64).expect("base64"));
    }
    panic!("no attachment in\n{data}");
}

// ---- workbooks -------------------------------------------------------------------------

/// The first worksheet as rows of cells.
pub fn sheet(bytes: &[u8]) -> Vec<Vec<Data>> {
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec())).expect("an xlsx");
    let range = book.worksheet_range_at(0).expect("a sheet").expect("readable");
    assert_eq!(range.start(), Some((0, 0)), "the title is in A1");
    range.rows().map(|r| r.to_vec()).collect()
}

fn text(d: &Data) -> String {
    match d {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

/// A value cell as JSON: numbers as numbers, blank as null.
fn cell_json(d: &Data) -> Value {
    match d {
        Data::Float(f) => json!(f),
        Data::Int(i) => json!(i),
        Data::Empty => Value::Null,
        other => panic!("not a number: {other:?}"),
    }
}

/// Checks a workbook against the run's JSON: headers, one row per group, the totals row.
fn check_workbook(bytes: &[u8], run: &Value, en: bool) {
    let rows = sheet(bytes);
    assert_eq!(text(&rows[0][0]), run["name"].as_str().unwrap());
    assert!(text(&rows[1][0]).starts_with(if en { "Period" } else { "统计期间" }), "{:?}", rows[1]);
    assert!(text(&rows[1][0]).contains(run["period"].as_str().unwrap()));
    assert!(text(&rows[2][0]).starts_with(if en { "Filters" } else { "筛选条件" }));
    let lang = if en { "en" } else { "zh" };
    let headers: Vec<String> = run["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .chain(run["indicators"].as_array().unwrap())
        .map(|c| c[lang].as_str().unwrap().to_string())
        .collect();
    let dims = run["dimensions"].as_array().unwrap().len();
    assert_eq!(rows[3].iter().map(text).collect::<Vec<_>>(), headers);
    let groups = run["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4 + groups.len() + 1, "title, period, filters, header, groups, totals");
    for (g, row) in groups.iter().zip(&rows[4..]) {
        let keys: Vec<String> =
            g["keys"].as_array().unwrap().iter().map(|k| k[lang].as_str().unwrap().into()).collect();
        assert_eq!(row[..dims].iter().map(text).collect::<Vec<_>>(), keys);
        let values: Vec<Value> = row[dims..].iter().map(cell_json).collect();
        assert_values(&values, g["values"].as_array().unwrap());
    }
    let total = rows.last().unwrap();
    if dims > 0 {
        assert_eq!(text(&total[0]), if en { "Total" } else { "合计" });
    }
    let values: Vec<Value> = total[dims..].iter().map(cell_json).collect();
    assert_values(&values, run["totals"]["values"].as_array().unwrap());
}

fn assert_values(got: &[Value], want: &[Value]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        match (g.as_f64(), w.as_f64()) {
            (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "{g} vs {w}"),
            _ => assert_eq!(g, w),
        }
    }
}

/// The parts of the workbook calamine does not read: the frozen header, the autofilter, the
/// percentage format.
fn check_layout(bytes: &[u8], groups: usize, dims: usize) {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes.to_vec())).unwrap();
    let mut xml = String::new();
    zip.by_name("xl/worksheets/sheet1.xml").unwrap().read_to_string(&mut xml).unwrap();
    assert!(xml.contains(r#"ySplit="4""#), "header frozen below row 4: {xml}");
    if dims > 0 {
        assert!(xml.contains(&format!(r#"xSplit="{dims}""#)), "key columns frozen");
    }
    let last_row = 4 + groups.max(1);
    assert!(xml.contains("<autoFilter ref=\"A4:"), "{xml}");
    assert!(xml.contains(&format!("{last_row}\"/>")) || xml.contains(&format!("{last_row}\">")), "{xml}");
    let mut styles = String::new();
    zip.by_name("xl/styles.xml").unwrap().read_to_string(&mut styles).unwrap();
    assert!(styles.contains(r#"formatCode="0.00%""#), "rates as percentages: {styles}");
}

// ---- helpers ---------------------------------------------------------------------------

fn def(dimensions: &[&str], indicators: &[&str], period: PeriodSpec) -> Definition {
    Definition {
        dimensions: dimensions.iter().map(|s| s.to_string()).collect(),
        indicators: indicators.iter().map(|s| s.to_string()).collect(),
        filters: Filters::default(),
        period,
    }
}

fn fixed(from: &str, to: &str) -> PeriodSpec {
    PeriodSpec { kind: "fixed".into(), from: Some(from.into()), to: Some(to.into()) }
}

fn report(name: &str, d: Definition) -> ReportInput {
    ReportInput { name: name.into(), definition: d, ..Default::default() }
}

/// A supervisor in `unit` with `scope`, signed in as a principal.
async fn supervisor(app: &TestApp, username: &str, unit: &str, scope: &str) -> Principal {
    let s = app.services();
    let unit_id = {
        let mut c = s.db.read().await.unwrap();
        waterdesk_store::units::list(&mut c).await.unwrap().into_iter().find(|u| u.code == unit).expect(unit).id
    };
    let input = waterdesk_services::admin::NewUserInput {
        username: username.into(),
        display_name: format!("主管 {username}"),
        unit_id,
        kind: "staff".into(),
        data_scope: scope.into(),
        phone: String::new(),
        email: String::new(),
        password: Some("Reports-test-2026!".into()),
        roles: vec!["supervisor".into()],
    };
    s.user_create(&Principal::system(), &input, &AuditCtx::cli("test")).await.unwrap();
    as_user(app, username).await
}

async fn order(app: &TestApp, p: &Principal, type_code: &str, when: &str) -> i64 {
    app.clock.set(at(when));
    let input = OrderInput {
        type_code: type_code.into(),
        impact: "low".into(),
        urgency: "medium".into(),
        title: format!("报表 {when}"),
        ..Default::default()
    };
    app.services().order_create(p, &input, &AuditCtx::cli("test")).await.unwrap().id
}

async fn step(app: &TestApp, p: &Principal, id: i64, action: &str, when: &str) {
    app.clock.set(at(when));
    let s = app.services();
    let version = {
        let mut c = s.db.read().await.unwrap();
        waterdesk_store::orders::get(&mut c, id).await.unwrap().unwrap().version
    };
    s.order_act(p, id, action, &act(version, &[]), &AuditCtx::cli("test")).await.unwrap();
}

async fn audit_count(app: &TestApp, event: &str) -> i64 {
    let mut c = app.services().db.read().await.unwrap();
    let r: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE event_type = $1")
        .bind(event)
        .fetch_one(&mut *c)
        .await
        .unwrap();
    r.0
}

fn forbidden<T: std::fmt::Debug>(r: Result<T, ServiceError>) {
    assert!(matches!(r, Err(ServiceError::Forbidden { .. })), "{r:?}");
}

fn not_found<T: std::fmt::Debug>(r: Result<T, ServiceError>) {
    assert!(matches!(r, Err(ServiceError::NotFound { .. })), "{r:?}");
}

// ---- tests -----------------------------------------------------------------------------

// R-DATA-04: reports are the owner's; shared ones are visible to (and runnable by) the
// owner's unit in each runner's own data scope, editable by the owner only; writes audited.
backend_test!(sharing_visibility_and_edit_rights, |backend| async move {
    let app = TestApp::spawn(backend).await;
    app.clock.set(at("2026-06-20T02:00:00Z"));
    let s = app.services().clone();
    let ctx = AuditCtx::cli("test");
    let owner = as_user(&app, "supervisor").await; // hotline centre, scope all
    let colleague = supervisor(&app, "sup_hotline", "hotline", "unit").await;
    let other = supervisor(&app, "sup_east", "branch_east", "all").await;
    let dispatcher = as_user(&app, "dispatcher").await;
    // Orders in two units: the hotline centre and the east branch.
    let east = {
        let mut c = s.db.read().await.unwrap();
        waterdesk_store::units::list(&mut c).await.unwrap().into_iter().find(|u| u.code == "branch_east").unwrap().id
    };
    for (i, when) in ["2026-06-02T01:00:00Z", "2026-06-03T01:00:00Z", "2026-06-04T01:00:00Z"].iter().enumerate() {
        let id = order(&app, &dispatcher, "repair", when).await;
        if i == 2 {
            let mut tx = s.db.begin().await.unwrap();
            sqlx::query("UPDATE work_orders SET unit_id = $1 WHERE id = $2")
                .bind(east)
                .bind(id)
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    }
    app.clock.set(at("2026-06-20T02:00:00Z"));
    let june = fixed("2026-06-01", "2026-07-01");
    let private = s
        .report_create(&owner, &report("私有月报", def(&["unit"], &["registered"], june.clone())), &ctx)
        .await
        .unwrap();
    let mut shared_in = report("共享月报", def(&[], &["registered", "conclusion_rate"], june.clone()));
    shared_in.shared = true;
    let shared = s.report_create(&owner, &shared_in, &ctx).await.unwrap();
    assert!(shared.can_edit && shared.shared && shared.next_run_at.is_none());
    assert_eq!(shared.unit_id, owner.unit_id);

    // The owner sees both; the colleague in the same unit the shared one; another unit none.
    let names = |v: Vec<waterdesk_services::reports::ReportView>| v.into_iter().map(|r| r.name).collect::<Vec<_>>();
    assert_eq!(names(s.report_list(&owner).await.unwrap()), ["共享月报", "私有月报"]);
    assert_eq!(names(s.report_list(&colleague).await.unwrap()), ["共享月报"]);
    assert!(s.report_list(&other).await.unwrap().is_empty());
    not_found(s.report_get(&colleague, private.id).await);
    not_found(s.report_run(&colleague, private.id).await);
    not_found(s.report_get(&other, shared.id).await);
    not_found(s.report_run(&other, shared.id).await);
    let seen = s.report_get(&colleague, shared.id).await.unwrap();
    assert!(!seen.can_edit);

    // Each runner counts in their own data scope: the owner all three, the colleague
    // (scope: own unit) the two of the hotline centre.
    let all = s.report_run(&owner, shared.id).await.unwrap();
    let mine = s.report_run(&colleague, shared.id).await.unwrap();
    assert_eq!(all.totals.values[0], json!(3));
    assert_eq!(mine.totals.values[0], json!(2));
    let by_unit = s.report_run(&owner, private.id).await.unwrap();
    let hotline = by_unit.rows.iter().find(|r| r.keys[0].value == colleague.unit_id.to_string()).unwrap();
    assert_eq!(hotline.values[0], mine.totals.values[0]);
    assert_eq!(hotline.keys[0].zh, "客服热线中心");

    // A shared report filtered on a unit outside a runner's scope counts nothing for that
    // runner (no error); the same definition cannot be authored by them.
    let mut east_only = report("城东", def(&[], &["registered"], june.clone()));
    east_only.shared = true;
    east_only.definition.filters.units = vec![east];
    let east_report = s.report_create(&owner, &east_only, &ctx).await.unwrap();
    assert_eq!(s.report_run(&owner, east_report.id).await.unwrap().totals.values[0], json!(1));
    assert_eq!(s.report_run(&colleague, east_report.id).await.unwrap().totals.values[0], json!(0));
    let refused = s.report_preview(&colleague, "城东", &east_only.definition).await;
    assert!(matches!(&refused, Err(ServiceError::Validation { code: "unknown_unit", .. })), "{refused:?}");
    s.report_delete(&owner, east_report.id, &ctx).await.unwrap();

    // Only the owner edits or deletes.
    forbidden(s.report_update(&colleague, shared.id, &shared_in, &ctx).await);
    forbidden(s.report_delete(&colleague, shared.id, &ctx).await);
    not_found(s.report_update(&other, shared.id, &shared_in, &ctx).await);
    let mut again = report("私有月报(共享)", def(&["unit", "type"], &["registered"], june.clone()));
    again.shared = true;
    let updated = s.report_update(&owner, private.id, &again, &ctx).await.unwrap();
    assert_eq!(updated.definition.dimensions, ["unit", "type"]);
    assert_eq!(names(s.report_list(&colleague).await.unwrap()), ["共享月报", "私有月报(共享)"]);
    s.report_delete(&owner, shared.id, &ctx).await.unwrap();
    not_found(s.report_get(&owner, shared.id).await);
    assert_eq!(names(s.report_list(&colleague).await.unwrap()), ["私有月报(共享)"]);
    assert_eq!(audit_count(&app, "report.create").await, 3);
    assert_eq!(audit_count(&app, "report.update").await, 1);
    assert_eq!(audit_count(&app, "report.delete").await, 2);

    // Without report.read nothing; without report.export no schedule.
    let agent = as_user(&app, "agent").await;
    forbidden(s.report_list(&agent).await);
    forbidden(s.report_create(&agent, &again, &ctx).await);
    let auditor = as_user(&app, "auditor").await;
    let mut scheduled = report("定时", def(&[], &["registered"], june));
    scheduled.schedule = ScheduleSpec { every: "daily".into(), day: 1, at_time: "08:00".into() };
    scheduled.recipients = vec!["a@example.com".into()];
    forbidden(s.report_create(&auditor, &scheduled, &ctx).await);
    app.stop().await;
});

// R-DATA-04: every refusal has its stable code (in `detail`), a 422 and a Chinese message
// (English with Accept-Language: en).
backend_test!(validation_codes, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let api = app.api("supervisor").await;
    let ok_def = json!({"dimensions": ["unit"], "indicators": ["registered"], "period": {"kind": "this_month"}});
    let body = |patch: Value| {
        let mut b = json!({"name": "校验", "definition": ok_def.clone()});
        for (k, v) in patch.as_object().unwrap() {
            if k == "definition" {
                for (dk, dv) in v.as_object().unwrap() {
                    b["definition"][dk] = dv.clone();
                }
            } else {
                b[k] = v.clone();
            }
        }
        b
    };
    let many: Vec<String> = (0..101).map(|i| format!("c{i}")).collect();
    let addresses: Vec<String> = (0..21).map(|i| format!("u{i}@example.com")).collect();
    let daily = json!({"every": "daily", "at_time": "08:00"});
    let cases: Vec<(&str, &str, Value)> = vec![
        ("name", "required", json!({"name": "  "})),
        ("name", "too_long", json!({"name": "长".repeat(101)})),
        ("dimensions", "unknown_dimension", json!({"definition": {"dimensions": ["colour"]}})),
        ("dimensions", "multiple_periods", json!({"definition": {"dimensions": ["day", "month"]}})),
        ("indicators", "unknown_indicator", json!({"definition": {"indicators": ["registered", "happiness"]}})),
        ("indicators", "no_indicators", json!({"definition": {"indicators": []}})),
        ("filters.types", "unknown_type", json!({"definition": {"filters": {"types": ["teleport"]}}})),
        ("filters.units", "unknown_unit", json!({"definition": {"filters": {"units": [999999]}}})),
        ("filters.channels", "too_many_values", json!({"definition": {"filters": {"channels": many}}})),
        ("filters.sources", "too_long", json!({"definition": {"filters": {"sources": ["x".repeat(51)]}}})),
        ("period.kind", "invalid_period", json!({"definition": {"period": {"kind": "decade"}}})),
        ("period.to", "invalid_period", json!({"definition": {"period": {"kind": "fixed", "from": "2026-06-01"}}})),
        (
            "period.from",
            "invalid_time",
            json!({"definition": {"period": {"kind": "fixed", "from": "2026-13-01", "to": "2026-07-01"}}}),
        ),
        (
            "period.from",
            "invalid_range",
            json!({"definition": {"period": {"kind": "fixed", "from": "2026-07-01", "to": "2026-06-01"}}}),
        ),
        (
            "period.to",
            "range_too_long",
            json!({"definition": {"period": {"kind": "fixed", "from": "2024-01-01", "to": "2026-01-01"}}}),
        ),
        (
            "schedule.every",
            "invalid_schedule",
            json!({"schedule": {"every": "hourly"}, "recipients": ["a@example.com"]}),
        ),
        (
            "schedule.day",
            "invalid_day",
            json!({"schedule": {"every": "weekly", "day": 8, "at_time": "08:00"}, "recipients": ["a@example.com"]}),
        ),
        (
            "schedule.at_time",
            "invalid_time",
            json!({"schedule": {"every": "daily", "at_time": "25:00"}, "recipients": ["a@example.com"]}),
        ),
        ("recipients", "invalid_email", json!({"recipients": ["not-an-address"]})),
        ("recipients", "invalid_email", json!({"recipients": ["张三 <a@example.com>"]})),
        ("recipients", "too_many_recipients", json!({"recipients": addresses})),
        ("recipients", "no_recipients", json!({"schedule": daily})),
    ];
    for (field, code, patch) in cases {
        let r = api.post("/api/v1/reports", body(patch.clone())).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{code}: {}", r.body);
        assert_eq!(r.code(), "validation_failed", "{code}");
        assert_eq!(r.body["error"]["field"], field, "{code}: {}", r.body);
        let detail = r.body["error"]["detail"].as_str().unwrap();
        assert!(detail.starts_with(&format!("{code}:")), "{code}: {detail}");
        assert_eq!(r.body["error"]["message"], "输入有误，请检查后重试。");
        // The preview checks definitions the same way.
        if patch.get("definition").is_some() {
            let d = body(patch)["definition"].clone();
            let r = api.post("/api/v1/reports/preview", json!({"definition": d})).await;
            assert!(r.body["error"]["detail"].as_str().unwrap().starts_with(&format!("{code}:")), "{}", r.body);
        }
    }
    // Unknown fields are refused; English on request.
    let r = api.post("/api/v1/reports", json!({"name": "x", "definition": ok_def, "colour": "red"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = TestApp::client()
        .post(app.url("/api/v1/reports"))
        .bearer_auth(api.token.as_deref().unwrap())
        .header("accept-language", "en")
        .json(&body(json!({"definition": {"indicators": ["happiness"]}})))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["message"], "Some input is invalid. Check and try again.");
    // Nothing was saved.
    assert_eq!(api.get("/api/v1/reports").await.body, json!([]));
    app.stop().await;
});

/// The facts of every order, read back from the orders and their events (not through the
/// statistics' cohort query), for `kpi::compute`.
struct Fact {
    registered_at: jiff::Timestamp,
    history: Vec<(jiff::Timestamp, State)>,
    targets: Targets,
    calendar: Calendar,
    requires_reply: bool,
    requires_visit: bool,
    replied_at: Option<jiff::Timestamp>,
    visits: Vec<VisitAttempt>,
    keys: Keys,
}

async fn facts(app: &TestApp) -> Vec<Fact> {
    let mut c = app.services().db.read().await.unwrap();
    let types = waterdesk_store::orders::list_types(&mut c).await.unwrap();
    let mut out = Vec::new();
    let mut before = None;
    loop {
        let f = waterdesk_store::orders::OrderFilter { before, ..Default::default() };
        let page = waterdesk_store::orders::list(&mut c, &f, 500).await.unwrap();
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        for o in page {
            let t = types.iter().find(|t| t.code == o.type_code).unwrap();
            let w: Workflow = serde_json::from_str(&t.workflow).unwrap();
            let (targets, calendar) = waterdesk_services::escalation::targets_of(t, o.priority);
            let events = waterdesk_store::orders::events(&mut c, o.id).await.unwrap();
            let visits = events
                .iter()
                .filter(|e| e.action == "visit")
                .map(|e| {
                    let f: Value = serde_json::from_str(&e.fields).unwrap();
                    VisitAttempt { at: e.at, rating: Satisfaction::parse(f["satisfaction"].as_str().unwrap_or("")) }
                })
                .collect();
            out.push(Fact {
                registered_at: o.created_at,
                history: events
                    .iter()
                    .filter(|e| e.from_state != e.to_state)
                    .map(|e| (e.at, State::parse(&e.to_state).unwrap()))
                    .collect(),
                targets,
                calendar,
                requires_reply: w.customer_reply,
                requires_visit: w.return_visit,
                replied_at: o.replied_at,
                visits,
                keys: Keys {
                    unit: o.unit_id,
                    order_type: o.type_code.clone(),
                    category: o.category.clone(),
                    channel: String::new(),
                    source: String::new(),
                },
            });
        }
    }
    out
}

// R-DATA-04/05: a report (grouped by unit and type, filtered by type and category) gives
// exactly what kpi::compute gives on the same orders, group by group and in total; a
// channel filter gives the channel's row of the report grouped by channel.
backend_test!(run_matches_kpi_compute, |backend| async move {
    let app = TestApp::spawn_with(backend, |s| s.jobs.enabled = false).await;
    let now = at("2026-07-15T04:00:00Z");
    app.clock.set(now);
    let s = app.services().clone();
    s.seed_work(&WorkSeedOptions { orders: 400, contacts: 0, months: 3, seed: 11, batch: 200 }, |_, _| {})
        .await
        .unwrap();
    let owner = as_user(&app, "supervisor").await;
    let types = ["repair", "complaint", "consultation", "outage"];
    let mut d = def(&["unit", "type"], &Indicator::ALL.map(|i| i.code()), fixed("2026-05-01", "2026-07-01"));
    d.filters.types = types.iter().map(|t| t.to_string()).collect();
    let result = s.report_preview(&owner, "对比", &d).await.unwrap();
    let all = facts(&app).await;
    let chosen: Vec<OrderFacts<'_>> = all
        .iter()
        .filter(|f| types.contains(&f.keys.order_type.as_str()))
        .map(|f| OrderFacts {
            registered_at: f.registered_at,
            history: f.history.clone(),
            targets: f.targets,
            calendar: &f.calendar,
            requires_reply: f.requires_reply,
            replied_at: f.replied_at,
            requires_visit: f.requires_visit,
            visits: f.visits.clone(),
            keys: f.keys.clone(),
        })
        .collect();
    let cohort = Cohort { from: at("2026-04-30T16:00:00Z"), to: at("2026-06-30T16:00:00Z") };
    assert_eq!((result.from, result.to), (cohort.from, cohort.to), "dates are local days (Asia/Shanghai)");
    let group_by = GroupBy { unit: true, order_type: true, ..Default::default() };
    let expected = kpi::compute(&chosen, cohort, now, group_by, &s.tz);
    let expected: BTreeMap<(String, String), Indicators> =
        expected.into_iter().map(|(k, i)| ((k.unit.unwrap().to_string(), k.order_type.unwrap()), i)).collect();
    let got: BTreeMap<(String, String), Indicators> =
        result.rows.iter().map(|r| ((r.keys[0].value.clone(), r.keys[1].value.clone()), r.exact)).collect();
    assert!(got.len() >= 3, "several groups: {got:?}");
    assert_eq!(got, expected);
    let mut total = Indicators::default();
    expected.values().for_each(|i| total.merge(i));
    assert_eq!(result.totals.exact, total);
    assert!(total.registered > 50, "{total:?}");
    // The JSON values follow the chosen columns.
    let reg = result.indicators.iter().position(|c| c.code == "registered").unwrap();
    assert_eq!(result.totals.values[reg], json!(total.registered));
    let rate = result.indicators.iter().position(|c| c.code == "processed_on_time_rate").unwrap();
    assert!(result.indicators[rate].rate);
    assert_eq!(result.totals.values[rate].as_f64(), total.processed_on_time_rate.map(|r| r.value()));

    // Category filter: the same figures as compute over those orders.
    let mut d2 = def(&["type"], &["registered", "completed", "conclusion_rate"], fixed("2026-05-01", "2026-07-01"));
    d2.filters.categories = vec!["repair".into()];
    let r2 = s.report_preview(&owner, "报修类", &d2).await.unwrap();
    let cat_all: Vec<OrderFacts<'_>> = all
        .iter()
        .filter(|f| f.keys.category == "repair")
        .map(|f| OrderFacts {
            registered_at: f.registered_at,
            history: f.history.clone(),
            targets: f.targets,
            calendar: &f.calendar,
            requires_reply: f.requires_reply,
            replied_at: f.replied_at,
            requires_visit: f.requires_visit,
            visits: f.visits.clone(),
            keys: f.keys.clone(),
        })
        .collect();
    let e2 = kpi::compute(&cat_all, cohort, now, GroupBy { order_type: true, ..Default::default() }, &s.tz);
    assert_eq!(r2.rows.len(), e2.len());
    for (row, (k, i)) in r2.rows.iter().zip(&e2) {
        assert_eq!(Some(&row.keys[0].value), k.order_type.as_ref());
        assert_eq!(row.exact, *i);
        assert_eq!(
            row.values,
            vec![json!(i.registered), json!(i.completed), i.conclusion_rate.map_or(Value::Null, |r| json!(r.value()))]
        );
    }

    // Channel filter = the channel's row when grouped by channel.
    let by_channel = s
        .report_preview(
            &owner,
            "渠道",
            &def(&["channel"], &["registered", "completed"], fixed("2026-05-01", "2026-07-01")),
        )
        .await
        .unwrap();
    let hotline = by_channel.rows.iter().find(|r| r.keys[0].value == "hotline").expect("hotline orders");
    assert_eq!(hotline.keys[0].zh, "热线电话");
    let mut d3 = def(&[], &["registered", "completed"], fixed("2026-05-01", "2026-07-01"));
    d3.filters.channels = vec!["hotline".into()];
    let only = s.report_preview(&owner, "热线", &d3).await.unwrap();
    assert_eq!(only.totals.exact, hotline.exact);
    assert_eq!(only.filters_zh, "反映形式：热线电话");
    app.stop().await;
});

// R-DATA-03: the workbook of a report — title, period, filters, Chinese headers (English on
// request), one row per group, totals equal to the run's, rates as percentages, frozen
// header, autofilter — and the print page.
backend_test!(excel_export_and_print, |backend| async move {
    let app = TestApp::spawn_with(backend, |s| s.jobs.enabled = false).await;
    app.clock.set(at("2026-07-15T04:00:00Z"));
    let s = app.services().clone();
    s.seed_work(&WorkSeedOptions { orders: 200, contacts: 0, months: 2, seed: 5, batch: 200 }, |_, _| {})
        .await
        .unwrap();
    let api = app.api("supervisor").await;
    let body = json!({"name": "六月工单统计", "definition": {"dimensions": ["type"],
        "indicators": ["registered", "completed", "conclusion_rate", "processed_on_time_rate", "overdue_unprocessed"],
        "filters": {"types": ["repair", "complaint", "consultation"]},
        "period": {"kind": "fixed", "from": "2026-06-01", "to": "2026-07-01"}}});
    let created = api.post("/api/v1/reports", body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_i64().unwrap();
    let run = api.post(&format!("/api/v1/reports/{id}/run"), json!({})).await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.body);
    let run = run.body;
    assert_eq!(run["rows"].as_array().unwrap().len(), 3);
    assert_eq!(run["dimensions"][0]["zh"], "工单类型");
    assert_eq!(run["filters_zh"].as_str().unwrap().split('：').next(), Some("工单类型"));
    let sum: i64 = run["rows"].as_array().unwrap().iter().map(|r| r["values"][0].as_i64().unwrap()).sum();
    assert_eq!(run["totals"]["values"][0].as_i64(), Some(sum), "totals add up");
    let (st, ct, bytes) = api.bytes(&format!("/api/v1/reports/{id}/export.xlsx")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(ct.starts_with("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), "{ct}");
    check_workbook(&bytes, &run, false);
    check_layout(&bytes, 3, 1);
    let rows = sheet(&bytes);
    assert_eq!(text(&rows[3][0]), "工单类型");
    assert_eq!(text(&rows[3][1]), "登录下单数");
    assert_eq!(text(&rows[3][3]), "办结率");
    // English headers on request.
    let r = TestApp::client()
        .get(app.url(&format!("/api/v1/reports/{id}/export.xlsx")))
        .bearer_auth(api.token.as_deref().unwrap())
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    let en = r.bytes().await.unwrap().to_vec();
    check_workbook(&en, &run, true);
    assert_eq!(text(&sheet(&en)[3][1]), "Registered");
    // A report without dimensions: one row, the totals the same.
    let whole = api
        .post(
            "/api/v1/reports/preview",
            json!({"name": "整体", "definition": {"indicators": ["registered", "visit_rate"],
        "period": {"kind": "fixed", "from": "2026-06-01", "to": "2026-07-01"}}}),
        )
        .await;
    assert_eq!(whole.status, StatusCode::OK, "{}", whole.body);
    assert_eq!(whole.body["rows"][0]["values"], whole.body["totals"]["values"]);
    // Export needs report.export: the auditor may read reports but not export them.
    let auditor = app.api("auditor").await;
    let (st, _, _) = auditor.bytes(&format!("/api/v1/reports/{id}/export.xlsx")).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // The print page: the table and the totals, no navigation.
    let mut web = crate::helpers::Web::new(&app);
    web.login("supervisor", &app.password("supervisor")).await;
    let html = web.get(&format!("/reports/{id}/print")).await.text().await.unwrap();
    assert!(html.contains("六月工单统计") && html.contains("合计") && html.contains("登录下单数"), "{html}");
    assert!(!html.contains("class=\"sidebar\""));
    let page = web.get(&format!("/reports/{id}")).await.text().await.unwrap();
    assert!(page.contains(&format!("/reports/{id}/export.xlsx")) && page.contains("data-testid=\"report-totals\""));
    let (st, _, page_xlsx) = {
        let r = web.get(&format!("/reports/{id}/export.xlsx")).await;
        let st = r.status();
        (st, (), r.bytes().await.unwrap().to_vec())
    };
    assert_eq!(st, StatusCode::OK);
    check_workbook(&page_xlsx, &run, false);
    app.stop().await;
});

// R-DATA-04: a daily schedule fires once per period whatever the rounds, replicas and
// restarts; the workbook arrives by SMTP with the report's totals; a failed send is retried
// with backoff.
backend_test!(schedule_fires_once_and_mails_the_workbook, |backend| async move {
    let smtp = FakeSmtp::start().await;
    let port = smtp.port;
    let mut app = TestApp::spawn_with(backend, move |s| {
        s.jobs.enabled = false;
        s.smtp.host = "127.0.0.1".into();
        s.smtp.port = port;
        s.smtp.from = "报表 <reports@waterdesk.test>".into();
    })
    .await;
    let s = app.services().clone();
    let ctx = AuditCtx::cli("test");
    let dispatcher = as_user(&app, "dispatcher").await;
    // Yesterday (2026-06-09 local): three orders, one accepted.
    let a = order(&app, &dispatcher, "repair", "2026-06-09T01:00:00Z").await;
    order(&app, &dispatcher, "repair", "2026-06-09T02:00:00Z").await;
    order(&app, &dispatcher, "consultation", "2026-06-09T03:00:00Z").await;
    step(&app, &dispatcher, a, "accept", "2026-06-09T03:30:00Z").await;
    // 2026-06-10 08:00 in Hangzhou: a daily report of yesterday, due at 09:00.
    app.clock.set(at("2026-06-10T00:00:00Z"));
    let owner = as_user(&app, "supervisor").await;
    let mut input = report(
        "每日工单日报",
        def(
            &["type"],
            &["registered", "not_accepted", "conclusion_rate"],
            PeriodSpec { kind: "yesterday".into(), from: None, to: None },
        ),
    );
    input.schedule = ScheduleSpec { every: "daily".into(), day: 1, at_time: "09:00".into() };
    input.recipients = vec!["zhang@water.test".into(), "LI@water.test".into(), "li@water.test".into()];
    let r = s.report_create(&owner, &input, &ctx).await.unwrap();
    assert_eq!(r.recipients, ["zhang@water.test", "LI@water.test"], "duplicates dropped");
    assert_eq!(r.next_run_at, Some(at("2026-06-10T01:00:00Z")));
    let w = Worker::new(
        s.clone(),
        WorkerConfig { name: "w1".into(), backoff_base: jiff::SignedDuration::from_secs(10), ..Default::default() },
    );
    assert_eq!(s.reports_run_due(at("2026-06-10T00:59:59Z")).await.unwrap(), 0, "not due yet");
    app.clock.set(at("2026-06-10T01:00:00Z"));
    // Two replicas' schedulers at once, then another round: one claim.
    let (x, y) =
        tokio::join!(s.reports_run_due(at("2026-06-10T01:00:00Z")), s.reports_run_due(at("2026-06-10T01:00:00Z")));
    assert_eq!(x.unwrap() + y.unwrap(), 1);
    assert_eq!(s.reports_run_due(at("2026-06-10T01:00:30Z")).await.unwrap(), 0);
    assert_eq!(s.report_get(&owner, r.id).await.unwrap().next_run_at, Some(at("2026-06-11T01:00:00Z")));
    assert_eq!(w.run_once().await.unwrap(), 1);
    assert_eq!(w.run_once().await.unwrap(), 0);
    let mail = smtp.received();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].from, "reports@waterdesk.test");
    assert_eq!(mail[0].to, ["zhang@water.test", "LI@water.test"]);
    let (name, xlsx) = attachment(&mail[0].data);
    assert_eq!(name, format!("report-{}-2026-06-10.xlsx", r.id));
    // The workbook holds the report as of its due time: compare with a preview of the same
    // cohort at that instant.
    let same = def(&["type"], &["registered", "not_accepted", "conclusion_rate"], fixed("2026-06-09", "2026-06-10"));
    let expected = serde_json::to_value(s.report_preview(&owner, "每日工单日报", &same).await.unwrap()).unwrap();
    assert_eq!(expected["totals"]["values"][0], 3);
    assert_eq!(expected["totals"]["values"][1], 2);
    check_workbook(&xlsx, &expected, false);
    let runs = s.report_runs(&owner, r.id).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].status.as_str(), runs[0].rows, runs[0].attempts), ("sent", 2, 1));
    assert_eq!(runs[0].period_key, "2026-06-10");
    assert!(runs[0].sent_at.is_some());

    // The next day the mail server refuses once: the job fails, waits its backoff, and the
    // retry sends it.
    app.clock.set(at("2026-06-11T01:00:00Z"));
    smtp.fail.store(1, Ordering::SeqCst);
    assert_eq!(s.reports_run_due(at("2026-06-11T01:00:00Z")).await.unwrap(), 1);
    assert_eq!(w.run_once().await.unwrap(), 1);
    let run = &s.report_runs(&owner, r.id).await.unwrap()[0];
    assert_eq!((run.status.as_str(), run.attempts), ("failed", 1));
    assert!(run.error.contains("451") || run.error.to_lowercase().contains("try again"), "{}", run.error);
    assert_eq!(smtp.received().len(), 1);
    app.clock.set(at("2026-06-11T01:00:05Z"));
    assert_eq!(w.run_once().await.unwrap(), 0, "not before its backoff");
    app.clock.set(at("2026-06-11T01:00:30Z"));
    assert_eq!(w.run_once().await.unwrap(), 1);
    let run = &s.report_runs(&owner, r.id).await.unwrap()[0];
    assert_eq!((run.status.as_str(), run.attempts, run.period_key.as_str()), ("sent", 2, "2026-06-11"));
    assert_eq!(smtp.received().len(), 2);

    // After a restart, a scheduler that still believes the period is due claims nothing.
    drop(w);
    app.restart().await;
    let s = app.services().clone();
    {
        let mut tx = s.db.begin().await.unwrap();
        sqlx::query("UPDATE reports SET next_run_at = $1 WHERE id = $2")
            .bind(waterdesk_domain::time::to_db(at("2026-06-11T01:00:00Z")))
            .bind(r.id)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    s.reports_run_due(at("2026-06-11T01:10:00Z")).await.unwrap();
    assert_eq!(s.report_runs(&owner, r.id).await.unwrap().len(), 2, "one run per period");
    assert_eq!(s.report_get(&owner, r.id).await.unwrap().next_run_at, Some(at("2026-06-12T01:00:00Z")));
    // Unscheduling clears the next run.
    let mut off = input.clone();
    off.schedule = ScheduleSpec::default();
    assert_eq!(s.report_update(&owner, r.id, &off, &ctx).await.unwrap().next_run_at, None);
    app.stop().await;
});

// Without an SMTP relay a due run is recorded as not sent, not retried for ever.
backend_test!(schedule_without_smtp_is_skipped, |backend| async move {
    let app = TestApp::spawn_with(backend, |s| s.jobs.enabled = false).await;
    app.clock.set(at("2026-06-10T00:00:00Z"));
    let s = app.services().clone();
    let owner = as_user(&app, "supervisor").await;
    let mut input =
        report("周报", def(&[], &["registered"], PeriodSpec { kind: "last_week".into(), from: None, to: None }));
    input.schedule = ScheduleSpec { every: "weekly".into(), day: 3, at_time: "09:00".into() };
    input.recipients = vec!["a@water.test".into()];
    let r = s.report_create(&owner, &input, &AuditCtx::cli("test")).await.unwrap();
    assert_eq!(r.next_run_at, Some(at("2026-06-10T01:00:00Z")), "Wednesday 09:00");
    app.clock.set(at("2026-06-10T01:00:00Z"));
    assert_eq!(s.reports_run_due(app.clock_now()).await.unwrap(), 1);
    let w = Worker::new(s.clone(), WorkerConfig::default());
    assert_eq!(w.run_once().await.unwrap(), 1);
    let run = &s.report_runs(&owner, r.id).await.unwrap()[0];
    assert_eq!((run.status.as_str(), run.period_key.as_str()), ("skipped", "2026-W24"));
    assert!(run.error.contains("not configured"), "{}", run.error);
    // last week = Monday 2026-06-01 .. Monday 2026-06-08 (local).
    assert_eq!((run.cohort_from, run.cohort_to), (at("2026-05-31T16:00:00Z"), at("2026-06-07T16:00:00Z")));
    assert_eq!(s.report_get(&owner, r.id).await.unwrap().next_run_at, Some(at("2026-06-17T01:00:00Z")));
    app.stop().await;
});
