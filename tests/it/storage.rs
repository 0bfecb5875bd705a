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
    // A day of its own: the demo's orders hold numbers of the last days.
    let now = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 400);
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

/// A batch write for the test: a work-order number and an event per item; an item
/// `i % 7 == 3` fails after writing, which sinks the whole batch.
struct NumberedEvents {
    tz: jiff::tz::TimeZone,
    now: jiff::Timestamp,
}

impl waterdesk_store::BatchWrite for NumberedEvents {
    type Item = i64;
    type Output = i64;
    type Error = waterdesk_store::StoreError;

    fn write<'c>(
        &'c self,
        conn: &'c mut waterdesk_store::AnyConnection,
        items: &'c [i64],
    ) -> waterdesk_store::BoxFuture<'c, Result<Vec<i64>, Self::Error>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for &i in items {
                let n = waterdesk_store::numbers::allocate(conn, NumberKind::WorkOrder, self.now, &self.tz).await?;
                waterdesk_store::events::insert(
                    conn,
                    "group.test",
                    &format!("n:{i}"),
                    &serde_json::json!({}),
                    self.now,
                )
                .await?;
                if i % 7 == 3 {
                    // Fails after writing: its number and its event must vanish.
                    return Err(waterdesk_store::StoreError::NotFound);
                }
                out.push(n.seq);
            }
            Ok(out)
        })
    }
}

// Group commit (R-SYS-06, R-CALL-02): concurrent writes share transactions, a failing
// write is rolled back alone, and the others keep their numbers, gap-free.
backend_test!(group_commit_isolates_failing_writes, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let s = app.services().clone();
    // A day of its own: the demo's orders hold numbers of the last days.
    let now = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 400);
    let batcher = waterdesk_store::Batcher::new(&s.db, NumberedEvents { tz: s.tz.clone(), now });
    let mut tasks = Vec::new();
    for i in 0..200_i64 {
        let batcher = batcher.clone();
        tasks.push(tokio::spawn(async move { batcher.write(i).await }));
    }
    let mut seqs = Vec::new();
    let mut failed = 0;
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.expect("task") {
            Ok(seq) => seqs.push(seq),
            Err(waterdesk_store::StoreError::NotFound) if i % 7 == 3 => failed += 1,
            Err(e) => panic!("write {i}: {e}"),
        }
    }
    seqs.sort();
    let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
    assert_eq!(seqs, expected, "committed writes hold numbers 1..n without gaps or repeats");
    assert_eq!(failed, 200 / 7 + 1);
    let mut c = s.db.read().await.unwrap();
    let events: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE kind = 'group.test'").fetch_one(&mut *c).await.unwrap();
    assert_eq!(events, seqs.len() as i64, "the failed writes left no events");
    app.stop().await;
});

// A rolled-back transaction leaves nothing behind (R-SYS-06).
backend_test!(rollback_leaves_nothing, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let s = app.services().clone();
    // A day of its own: the demo's orders hold numbers of the last days.
    let now = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 400);
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

// Two replicas starting at once against a fresh PostgreSQL database (R-OPS-05): the
// migrations run once, neither start-up fails on the catalogue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_migrate_together_on_postgres() {
    if !crate::helpers::postgres_enabled() {
        crate::helpers::skip("storage::replicas_migrate_together_on_postgres: WATERDESK_TEST_POSTGRES_URL is not set");
        return;
    }
    let url = crate::helpers::fresh_postgres().await;
    let opts = waterdesk_store::DbOptions::default();
    let a = waterdesk_store::Db::connect(&url, &opts).await.unwrap();
    let b = waterdesk_store::Db::connect(&url, &opts).await.unwrap();
    let (ra, rb) = tokio::join!(waterdesk_store::migrate::run(&a), waterdesk_store::migrate::run(&b));
    let (ra, rb) = (ra.expect("first replica"), rb.expect("second replica"));
    let n = waterdesk_store::migrate::MIGRATIONS.len();
    assert_eq!(ra.applied.len() + rb.applied.len(), n, "each migration applied exactly once");
    assert_eq!(ra.already + rb.already, n);
    a.close().await;
    b.close().await;
}
