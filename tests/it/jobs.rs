//! The job queue: outbox in the business transaction, retries with backoff, dead
//! letters, leases that survive a crashed worker (DESIGN §3.4).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use waterdesk_jobs::{Job, JobFuture, Worker, WorkerConfig};
use waterdesk_services::Services;
use waterdesk_store::jobs::{self, NewJob};

use crate::backend_test;
use crate::helpers::TestApp;

/// Fails its first `fail_first` runs, then succeeds; counts runs.
struct Flaky {
    runs: Arc<AtomicUsize>,
    fail_first: usize,
}

impl Job for Flaky {
    fn kind(&self) -> &'static str {
        "test.flaky"
    }
    fn run(&self, _s: Services, payload: serde_json::Value) -> JobFuture {
        let n = self.runs.fetch_add(1, Ordering::SeqCst);
        let fail = n < self.fail_first;
        Box::pin(async move {
            assert_eq!(payload["order"], "WO20261121-000001");
            if fail { anyhow::bail!("remote system unavailable (run {n})") } else { Ok(()) }
        })
    }
}

async fn enqueue(app: &TestApp, max_attempts: i64, key: Option<&str>) -> Option<i64> {
    let s = app.services();
    let now = app.clock_now();
    let payload = serde_json::json!({"order": "WO20261121-000001"});
    let mut tx = s.db.begin().await.unwrap();
    let id = jobs::enqueue(
        &mut tx,
        &NewJob { kind: "test.flaky", payload: &payload, run_at: now, max_attempts, dedupe_key: key },
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

fn worker(app: &TestApp, runs: &Arc<AtomicUsize>, fail_first: usize, name: &str) -> Worker {
    let cfg =
        WorkerConfig { name: name.into(), backoff_base: jiff::SignedDuration::from_secs(10), ..Default::default() };
    let mut w = Worker::new(app.services().clone(), cfg);
    w.register(Arc::new(Flaky { runs: runs.clone(), fail_first }));
    w
}

async fn status(app: &TestApp, id: i64) -> (String, i64, Option<String>) {
    let mut c = app.services().db.read().await.unwrap();
    let j = jobs::get(&mut c, id).await.unwrap().unwrap();
    (j.status, j.attempts, j.last_error)
}

backend_test!(retries_with_backoff_then_succeeds, |backend| async move {
    let app = TestApp::spawn_with(backend, |s| s.jobs.enabled = false).await;
    let runs = Arc::new(AtomicUsize::new(0));
    let w = worker(&app, &runs, 2, "w1");
    let id = enqueue(&app, 5, None).await.unwrap();
    assert_eq!(w.run_once().await.unwrap(), 1);
    let (st, attempts, err) = status(&app, id).await;
    assert_eq!((st.as_str(), attempts), ("pending", 1));
    assert!(err.unwrap().contains("unavailable"));
    assert_eq!(w.run_once().await.unwrap(), 0, "not due before its backoff");
    app.clock.advance(jiff::SignedDuration::from_secs(13));
    assert_eq!(w.run_once().await.unwrap(), 1);
    assert_eq!(w.run_once().await.unwrap(), 0, "second backoff is longer (~20 s)");
    app.clock.advance(jiff::SignedDuration::from_secs(25));
    assert_eq!(w.run_once().await.unwrap(), 1);
    assert_eq!(status(&app, id).await.0, "done");
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    app.stop().await;
});

backend_test!(dead_letters_after_max_attempts, |backend| async move {
    let app = TestApp::spawn_with(backend, |s| s.jobs.enabled = false).await;
    let runs = Arc::new(AtomicUsize::new(0));
    let w = worker(&app, &runs, 100, "w1");
    let id = enqueue(&app, 3, None).await.unwrap();
    for _ in 0..3 {
        w.run_once().await.unwrap();
        app.clock.advance(jiff::SignedDuration::from_mins(10));
    }
    assert_eq!(status(&app, id).await.0, "dead");
    assert_eq!(w.run_once().await.unwrap(), 0, "dead jobs are not retried by themselves");
    // An administrator sees it and can put it back.
    let (list, counts) =
        app.services().jobs_list(&waterdesk_services::Principal::system(), Some("dead"), 10).await.unwrap();
    assert_eq!(list[0].id, id);
    assert!(counts.iter().any(|(s, n)| s == "dead" && *n == 1));
    let mut tx = app.services().db.begin().await.unwrap();
    assert!(jobs::retry(&mut tx, id, app.clock_now()).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(status(&app, id).await.0, "pending");
    app.stop().await;
});

// A worker that dies mid-job leaves it leased; after the lease another worker takes it.
backend_test!(crashed_worker_jobs_are_reclaimed, |backend| async move {
    let app = TestApp::spawn_with(backend, |s| s.jobs.enabled = false).await;
    let id = enqueue(&app, 5, None).await.unwrap();
    let claimed = jobs::claim(&app.services().db, "crashed", app.clock_now(), jiff::SignedDuration::from_mins(5), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let runs = Arc::new(AtomicUsize::new(0));
    let w = worker(&app, &runs, 0, "w2");
    assert_eq!(w.run_once().await.unwrap(), 0, "still leased");
    app.clock.advance(jiff::SignedDuration::from_mins(6));
    assert_eq!(w.run_once().await.unwrap(), 1);
    assert_eq!(status(&app, id).await.0, "done");
    app.stop().await;
});

// Concurrent workers never run the same job twice at once (SKIP LOCKED / single writer).
backend_test!(concurrent_workers_share_the_queue, |backend| async move {
    let app = TestApp::spawn_with(backend, |s| s.jobs.enabled = false).await;
    for _ in 0..40 {
        enqueue(&app, 5, None).await;
    }
    let runs = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for i in 0..4 {
        let w = worker(&app, &runs, 0, &format!("w{i}"));
        handles.push(tokio::spawn(async move {
            let mut n = 0;
            loop {
                let k = w.run_once().await.unwrap();
                if k == 0 {
                    break n;
                }
                n += k;
            }
        }));
    }
    let mut total = 0;
    for h in handles {
        total += h.await.unwrap();
    }
    assert_eq!(total, 40);
    assert_eq!(runs.load(Ordering::SeqCst), 40, "each job ran exactly once");
    app.stop().await;
});

// Producers are idempotent with a dedupe key.
backend_test!(dedupe_key_enqueues_once, |backend| async move {
    let app = TestApp::spawn_with(backend, |s| s.jobs.enabled = false).await;
    assert!(enqueue(&app, 5, Some("order:1:concluded")).await.is_some());
    assert!(enqueue(&app, 5, Some("order:1:concluded")).await.is_none());
    app.stop().await;
});
