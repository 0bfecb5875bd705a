//! Browser tests: Playwright (playwright-core from npm) driving Debian's Chromium against
//! the real server. Skipped, visibly, when Chromium or Node.js is missing.

use std::path::Path;
use std::process::Command;

use crate::helpers::{Backend, TestApp};

fn browser_available() -> Option<String> {
    if std::env::var("WATERDESK_TEST_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        return None;
    }
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| Path::new(p).exists())?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !root.join("node_modules/playwright-core").exists() {
        return None;
    }
    Command::new("node").arg("--version").output().ok().filter(|o| o.status.success())?;
    Some(chromium.to_string())
}

/// Runs `tests/browser/<script>` in Node against `app` in Chromium, with `env` beside
/// `BASE_URL`, `CHROMIUM` and `SHOTS` (where screenshots go); returns its output once it
/// has succeeded.
async fn run_browser(
    app: &TestApp,
    chromium: String,
    script: &str,
    env: Vec<(&'static str, std::ffi::OsString)>,
) -> String {
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser").join(script);
    let base = app.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(path)
            .env("BASE_URL", base)
            .env("CHROMIUM", chromium)
            .env("SHOTS", shots)
            .envs(env)
            .output()
    })
    .await
    .expect("join")
    .expect("run node");
    let log = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "browser test failed:\n{log}");
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_navigate_and_switch_language() {
    let Some(chromium) = browser_available() else {
        crate::helpers::skip("browser test: needs /usr/bin/chromium (Debian package `chromium`), Node.js and `npm ci`");
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let password = app.password("admin");
    let log =
        run_browser(&app, chromium, "login.mjs", vec![("WD_USER", "admin".into()), ("WD_PASSWORD", password.into())])
            .await;
    assert!(log.contains("OK login"), "{log}");
    app.stop().await;
}

// Issue 4: two agents in the console; a ringing event pops the caller's data on the right
// screen; the agent records the contact with the keyboard; the hang-up gives its duration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_screen_pop_with_two_agents() {
    let Some(chromium) = browser_available() else {
        crate::helpers::skip("browser test: needs /usr/bin/chromium (Debian package `chromium`), Node.js and `npm ci`");
        return;
    };
    let secret = "browser-test-secret";
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.cti.secret = secret.into()).await;
    // A second agent.
    let s = app.services();
    let sys = waterdesk_services::Principal::system();
    let input = waterdesk_services::admin::NewUserInput {
        username: "agent2".into(),
        display_name: "王小红".into(),
        unit_id: 1,
        kind: "staff".into(),
        data_scope: "all".into(),
        phone: String::new(),
        email: String::new(),
        password: Some("Hotline-seat2-2026!".into()),
        roles: vec!["agent".into()],
    };
    s.user_create(&sys, &input, &waterdesk_services::audit::AuditCtx::cli("test")).await.unwrap();
    // As if agent2 had already changed the initial password.
    let mut tx = s.db.begin().await.unwrap();
    sqlx::query("UPDATE users SET must_change_password = $1 WHERE username = 'agent2'")
        .bind(false)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let password = app.password("agent");
    let log = run_browser(
        &app,
        chromium,
        "console.mjs",
        vec![
            ("AGENT1_USER", "agent".into()),
            ("AGENT1_PASSWORD", password.into()),
            ("AGENT2_USER", "agent2".into()),
            ("AGENT2_PASSWORD", "Hotline-seat2-2026!".into()),
            ("CTI_SECRET", secret.into()),
        ],
    )
    .await;
    assert!(log.contains("OK console"), "{log}");
    eprintln!("{}", log.lines().find(|l| l.starts_with("pop shown")).unwrap_or(""));
    app.stop().await;
}

// Issue 5 (R-WO-01/03/06/07): the full loop of a work order with the agent, the dispatcher
// and the crew member (on a phone viewport with GPS) in separate browser contexts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_order_full_loop() {
    let Some(chromium) = browser_available() else {
        crate::helpers::skip("browser test: needs /usr/bin/chromium (Debian package `chromium`), Node.js and `npm ci`");
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let passwords = serde_json::json!({
        "agent": app.password("agent"),
        "dispatcher": app.password("dispatcher"),
        "worker": app.password("worker"),
    })
    .to_string();
    let log = run_browser(&app, chromium, "order_loop.mjs", vec![("PASSWORDS", passwords.into())]).await;
    assert!(log.contains("OK order loop"), "{log}");
    app.stop().await;
}

// Issue 6 (R-DATA-03/04): a supervisor builds a report in the page, previews, saves and
// exports it; the downloaded workbook's totals equal the API's run of the same report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_build_export_and_print() {
    let Some(chromium) = browser_available() else {
        crate::helpers::skip("browser test: needs /usr/bin/chromium (Debian package `chromium`), Node.js and `npm ci`");
        return;
    };
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.jobs.enabled = false).await;
    app.clock.set("2026-07-10T04:00:00Z".parse().unwrap());
    let opts = waterdesk_services::seed_work::WorkSeedOptions { orders: 300, months: 2, seed: 3, ..Default::default() };
    app.services().seed_work(&opts, |_, _| {}).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let download = dir.path().join("report.xlsx");
    let (password, file) = (app.password("supervisor"), download.clone());
    let log = run_browser(
        &app,
        chromium,
        "report.mjs",
        vec![
            ("WD_USER", "supervisor".into()),
            ("WD_PASSWORD", password.into()),
            ("FROM", "2026-06-01".into()),
            ("TO", "2026-06-30".into()),
            ("DOWNLOAD", file.into()),
        ],
    )
    .await;
    let id: i64 = log
        .lines()
        .find_map(|l| l.strip_prefix("OK report "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("{log}"));
    // The API's run of the saved report, and the workbook the browser downloaded.
    let api = app.api("supervisor").await;
    let run = api.post(&format!("/api/v1/reports/{id}/run"), serde_json::json!({})).await;
    assert_eq!(run.status, reqwest::StatusCode::OK, "{}", run.body);
    assert_eq!(run.body["filters"]["types"], serde_json::json!(["repair", "complaint", "consultation"]));
    assert_eq!(run.body["period"], "2026-06-01 – 2026-06-30");
    let bytes = std::fs::read(&download).expect("the downloaded workbook");
    let rows = crate::reports::sheet(&bytes);
    let total = rows.last().unwrap();
    assert_eq!(total[0], calamine::Data::String("合计".into()));
    let want = run.body["totals"]["values"].as_array().unwrap();
    assert_eq!(total.len(), 1 + want.len());
    for (cell, w) in total[1..].iter().zip(want) {
        let got = match cell {
            calamine::Data::Float(f) => *f,
            other => panic!("not a number: {other:?}"),
        };
        assert!((got - w.as_f64().unwrap()).abs() < 1e-9, "{got} vs {w}");
    }
    assert!(want[0].as_u64().unwrap() > 0, "June has orders of these types");
    eprintln!("report totals {want:?}");
    app.stop().await;
}

// Issue 6 (R-DATA-06/07): the supervisor's dashboard over the demo's year of history —
// charts drawn, no console errors — and a customer's progress look-up on a phone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_dashboard_and_progress_lookup() {
    let Some(chromium) = browser_available() else {
        crate::helpers::skip("browser test: needs /usr/bin/chromium (Debian package `chromium`), Node.js and `npm ci`");
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await;
    // What `serve --demo` adds on its first start.
    let started = std::time::Instant::now();
    let (history, example) = app.services().seed_demo_history().await.unwrap();
    eprintln!(
        "demo history: {} orders, {} contacts, {} events in {:.1} s (debug build)",
        history.orders,
        history.contacts,
        history.events,
        started.elapsed().as_secs_f64()
    );
    let (number, last4) = example.expect("a demo order with a customer's phone");
    let (stage, registered) = {
        let mut c = app.services().db.read().await.unwrap();
        let id = waterdesk_store::progress::order_id_by_no(&mut c, &number).await.unwrap().unwrap();
        let o = waterdesk_store::orders::get(&mut c, id).await.unwrap().unwrap();
        let code = waterdesk_services::progress::customer_stage(&o.state);
        // Shown in the utility's zone whatever the browser's (headless Chromium: UTC).
        let local = o.created_at.to_zoned(app.services().tz.clone()).strftime("%Y-%m-%d %H:%M").to_string();
        (waterdesk_web::i18n::Lang::Zh.t(&format!("progress.stage.{code}")).to_string(), local)
    };
    let password = app.password("supervisor");
    let log = run_browser(
        &app,
        chromium,
        "dashboard.mjs",
        vec![
            ("SUP_PASSWORD", password.into()),
            ("PROGRESS_NUMBER", number.into()),
            ("PROGRESS_LAST4", last4.into()),
            ("PROGRESS_STAGE", stage.into()),
            ("PROGRESS_REGISTERED", registered.into()),
        ],
    )
    .await;
    assert!(log.contains("OK dashboard"), "{log}");
    eprintln!(
        "{}",
        log.lines()
            .filter(|l| l.starts_with("dashboard rendered") || l.starts_with("progress"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    app.stop().await;
}

// Issue 6 (R-DATA-02/03): the query builder as a supervisor — conditions and an OR group,
// keyset pages, a refusal, save/share/load, export with progress and download, print.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_builder_export_and_print() {
    let Some(chromium) = browser_available() else {
        crate::helpers::skip("browser test: needs /usr/bin/chromium (Debian package `chromium`), Node.js and `npm ci`");
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let o = waterdesk_services::seed_work::WorkSeedOptions { orders: 600, contacts: 0, months: 3, seed: 5, batch: 300 };
    app.services().seed_work(&o, |_, _| {}).await.unwrap();
    let password = app.password("supervisor");
    let log = run_browser(
        &app,
        chromium,
        "query.mjs",
        vec![("WD_USER", "supervisor".into()), ("WD_PASSWORD", password.into())],
    )
    .await;
    assert!(log.contains("OK query"), "{log}");
    app.stop().await;
}
