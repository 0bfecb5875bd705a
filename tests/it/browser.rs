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
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let (base, password) = (app.base.clone(), app.password("supervisor"));
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/query.mjs"))
            .env("BASE_URL", base)
            .env("CHROMIUM", chromium)
            .env("WD_USER", "supervisor")
            .env("WD_PASSWORD", password)
            .env("SHOTS", shots)
            .output()
    })
    .await
    .expect("join")
    .expect("run node");
    let log = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "browser test failed:\n{log}");
    assert!(log.contains("OK query"), "{log}");
    app.stop().await;
}
