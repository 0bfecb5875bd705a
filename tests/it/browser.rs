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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_navigate_and_switch_language() {
    let Some(chromium) = browser_available() else {
        crate::helpers::skip("browser test: needs /usr/bin/chromium (Debian package `chromium`), Node.js and `npm ci`");
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let (base, password) = (app.base.clone(), app.password("admin"));
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/login.mjs"))
            .env("BASE_URL", base)
            .env("CHROMIUM", chromium)
            .env("WD_USER", "admin")
            .env("WD_PASSWORD", password)
            .env("SHOTS", shots)
            .output()
    })
    .await
    .expect("join")
    .expect("run node");
    let log = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "browser test failed:\n{log}");
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
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let (base, password) = (app.base.clone(), app.password("agent"));
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/console.mjs"))
            .env("BASE_URL", base)
            .env("CHROMIUM", chromium)
            .env("AGENT1_USER", "agent")
            .env("AGENT1_PASSWORD", password)
            .env("AGENT2_USER", "agent2")
            .env("AGENT2_PASSWORD", "Hotline-seat2-2026!")
            .env("CTI_SECRET", secret)
            .env("SHOTS", shots)
            .output()
    })
    .await
    .expect("join")
    .expect("run node");
    let log = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "browser test failed:\n{log}");
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
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let passwords = serde_json::json!({
        "agent": app.password("agent"),
        "dispatcher": app.password("dispatcher"),
        "worker": app.password("worker"),
    })
    .to_string();
    let base = app.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/order_loop.mjs"))
            .env("BASE_URL", base)
            .env("CHROMIUM", chromium)
            .env("PASSWORDS", passwords)
            .env("SHOTS", shots)
            .output()
    })
    .await
    .expect("join")
    .expect("run node");
    let log = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "browser test failed:\n{log}");
    assert!(log.contains("OK order loop"), "{log}");
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
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let (base, password) = (app.base.clone(), app.password("supervisor"));
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/dashboard.mjs"))
            .env("BASE_URL", base)
            .env("CHROMIUM", chromium)
            .env("SUP_PASSWORD", password)
            .env("PROGRESS_NUMBER", number)
            .env("PROGRESS_LAST4", last4)
            .env("PROGRESS_STAGE", stage)
            .env("PROGRESS_REGISTERED", registered)
            .env("SHOTS", shots)
            .output()
    })
    .await
    .expect("join")
    .expect("run node");
    let log = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "browser test failed:\n{log}");
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
