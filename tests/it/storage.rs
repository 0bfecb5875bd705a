//! Storage behaviour that must be identical on SQLite and PostgreSQL (R-OPS-05/06).

use std::collections::HashSet;

use waterdesk_domain::numbering::NumberKind;

use crate::backend_test;
use crate::helpers::TestApp;

// R-CALL-02: human-readable numbers never repeat, even with parallel writers.
backend_test!(numbers_are_unique_under_concurrency, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let s = app.services().clone();
    let tz = s.tz.clone();
    let now = jiff::Timestamp::now();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        let tz = tz.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..40 {
                let mut tx = s.db.begin().await.expect("begin");
                let n = waterdesk_store::numbers::allocate(&mut tx, NumberKind::WorkOrder, now, &tz)
                    .await
                    .expect("allocate");
                tx.commit().await.expect("commit");
                got.push(n.to_string());
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let unique: HashSet<_> = all.iter().cloned().collect();
    assert_eq!(all.len(), 320);
    assert_eq!(unique.len(), 320, "duplicate numbers allocated");
    let day = waterdesk_domain::numbering::day_key(now, &tz);
    for i in 1..=320 {
        assert!(unique.contains(&format!("WO{day}-{i:06}")), "missing WO{day}-{i:06}");
    }
    // A contact number has its own sequence.
    let mut tx = s.db.begin().await.unwrap();
    let c = waterdesk_store::numbers::allocate(&mut tx, NumberKind::Contact, now, &tz).await.unwrap();
    tx.commit().await.unwrap();
    assert!(c.to_string().starts_with(&format!("C{day}-")) && c.seq < 100, "{c}: not after the 320 order numbers");
    app.stop().await;
});

// A rolled-back transaction leaves nothing behind (R-SYS-06).
backend_test!(rollback_leaves_nothing, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let s = app.services().clone();
    let now = jiff::Timestamp::now();
    let mut tx = s.db.begin().await.unwrap();
    let first = waterdesk_store::numbers::allocate(&mut tx, NumberKind::Contact, now, &s.tz).await.unwrap();
    waterdesk_store::events::insert(&mut tx, "test", "all", &serde_json::json!({}), now).await.unwrap();
    tx.rollback().await.unwrap();
    let mut tx = s.db.begin().await.unwrap();
    let n = waterdesk_store::numbers::allocate(&mut tx, NumberKind::Contact, now, &s.tz).await.unwrap();
    assert_eq!(n.seq, first.seq, "the rolled-back number is given back");
    tx.commit().await.unwrap();
    app.stop().await;
});

// Migrations run at start and are idempotent; start-up on an existing database is clean.
backend_test!(migrations_are_idempotent, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let r = waterdesk_store::migrate::run(&app.services().db).await.unwrap();
    assert!(r.applied.is_empty());
    assert_eq!(r.already, waterdesk_store::migrate::MIGRATIONS.len());
    // Bootstrapping again creates nothing new and keeps the demo users.
    let again = app.services().bootstrap(waterdesk_services::bootstrap::FirstUsers::Demo).await.unwrap();
    assert!(again.demo_logins.is_empty() && again.initial_admin.is_none());
    app.stop().await;
});

#[tokio::test]
async fn unknown_and_unreachable_databases_are_clear_errors() {
    let e = waterdesk_store::Db::connect("mysql://root:secret@127.0.0.1/x", &Default::default()).await.unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("unsupported database URL") && !msg.contains("secret"), "{msg}");
    let opts = waterdesk_store::DbOptions { acquire_timeout: std::time::Duration::from_secs(3), ..Default::default() };
    let e = waterdesk_store::Db::connect("postgres://nobody:pw@127.0.0.1:1/none", &opts).await.unwrap_err();
    assert!(e.to_string().contains("cannot connect"), "{e}");
}
