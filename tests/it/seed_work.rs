//! `waterdesk seed --orders --contacts` (issue 6): a consistent, realistic history — every
//! order's state is where its events lead, numbers never collide with later ones, the
//! share of open, overdue and visited orders is plausible; and the command line.

use waterdesk_services::audit::AuditCtx;
use waterdesk_services::orders::OrderInput;
use waterdesk_services::seed_work::WorkSeedOptions;

use crate::backend_test;
use crate::helpers::TestApp;
use crate::orders::as_user;

backend_test!(seeded_history_is_consistent, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let s = app.services().clone();
    let before_orders = {
        let mut c = s.db.read().await.unwrap();
        waterdesk_store::orders::list(&mut c, &Default::default(), 200).await.unwrap().len()
    };
    let first_id: i64 = {
        let mut c = s.db.read().await.unwrap();
        sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM work_orders").fetch_one(&mut *c).await.unwrap()
    };
    let o = WorkSeedOptions { orders: 400, contacts: 120, months: 6, seed: 7, batch: 150 };
    let r = s.seed_work(&o, |_, _| {}).await.unwrap();
    assert_eq!(r.orders, 400);
    assert!(
        (400 * 6 / 10 + 120..=400 * 8 / 10 + 120).contains(&r.contacts),
        "about 70 % of orders come from a contact: {}",
        r.contacts
    );
    assert!(r.events >= 400 * 2, "{}", r.events);
    assert!(r.open > 0 && r.open < 200, "recent orders are open: {}", r.open);
    assert!(r.overdue > 0 && r.overdue < 120, "some are overdue: {}", r.overdue);

    // Every order's state is where its events lead; versions count the events.
    let mut c = s.db.read().await.unwrap();
    let mut before = None;
    let mut seen = 0;
    let mut states = std::collections::BTreeMap::new();
    loop {
        let f = waterdesk_store::orders::OrderFilter { before, ..Default::default() };
        let page = waterdesk_store::orders::list(&mut c, &f, 200).await.unwrap();
        if page.is_empty() {
            break;
        }
        for o in &page {
            let ev = waterdesk_store::orders::events(&mut c, o.id).await.unwrap();
            assert_eq!(ev[0].action, "register", "{}", o.order_no);
            assert_eq!(ev.last().unwrap().to_state, o.state, "{}", o.order_no);
            for pair in ev.windows(2) {
                assert_eq!(pair[0].to_state, pair[1].from_state, "{}: a chain of states", o.order_no);
                assert!(pair[0].at <= pair[1].at, "{}: in time order", o.order_no);
            }
            if o.order_no.starts_with("WO") && o.origin != "plan" && seen < 400 {
                assert_eq!(o.version, ev.len() as i64, "{}", o.order_no);
            }
            *states.entry(o.state.clone()).or_insert(0) += 1;
            seen += 1;
        }
        before = page.last().map(|o| o.id);
    }
    assert_eq!(seen, before_orders + 400);
    assert!(states.get("concluded").copied().unwrap_or(0) > 200, "{states:?}");
    drop(c);

    // Satisfaction recorded on visited orders; standalone contacts are answered.
    let visited = {
        let mut c = s.db.read().await.unwrap();
        let page =
            waterdesk_store::orders::list(&mut c, &waterdesk_store::orders::OrderFilter::default(), 200).await.unwrap();
        page.iter().filter(|o| o.fields.contains("satisfaction")).count()
    };
    assert!(visited > 0);

    // Seeded in the order of registration: ids rise with time.
    let mut c = s.db.read().await.unwrap();
    let out_of_order: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM work_orders a JOIN work_orders b ON b.id = a.id + 1
         WHERE b.created_at < a.created_at AND a.id >= $1",
    )
    .bind(first_id)
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert_eq!(out_of_order, 0);
    // Indicator facts are stored with the orders (every one but the suspended), and the
    // figures summed from them are those replayed from the events (ARCHITECTURE D24).
    let (stored, suspended): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM order_facts), (SELECT COUNT(*) FROM work_orders WHERE state = 'suspended')",
    )
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert!(stored >= 400 - suspended, "{stored} stored, {suspended} suspended");
    drop(c);
    let sup = as_user(&app, "supervisor").await;
    let now = s.now();
    let year_ago = now - jiff::SignedDuration::from_hours(24 * 360);
    let by = waterdesk_services::stats::parse_group_by("unit,type,month").unwrap();
    let report = |s: waterdesk_services::Services, sup: waterdesk_services::Principal| async move {
        let rows = s.indicators_filtered(&sup, year_ago, now, None, by, &Default::default()).await.unwrap();
        serde_json::to_value(rows).unwrap()
    };
    let from_facts = report(s.clone(), sup.clone()).await;
    let mut c = s.db.read().await.unwrap();
    sqlx::query("DELETE FROM order_facts").execute(&mut *c).await.unwrap();
    sqlx::query("UPDATE work_orders SET facts_version = -1").execute(&mut *c).await.unwrap();
    drop(c);
    assert_eq!(from_facts, report(s.clone(), sup.clone()).await, "stored = replayed");
    assert!(from_facts.as_array().unwrap().len() > 10);

    // Numbers were reserved: orders registered now get fresh ones; the watcher copes.
    let agent = as_user(&app, "agent").await;
    let i = OrderInput {
        type_code: "repair".into(),
        impact: "low".into(),
        urgency: "medium".into(),
        title: "种子之后的新工单".into(),
        ..Default::default()
    };
    for _ in 0..3 {
        s.order_create(&agent, &i, &AuditCtx::cli("test")).await.unwrap();
    }
    s.escalate_due(500).await.unwrap();
    app.stop().await;
});

#[test]
fn seed_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_waterdesk"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["seed", "--customers", "0", "--orders", "60", "--contacts", "20", "--months", "2"])
        .env_remove("WATERDESK_DATABASE_URL")
        .env("RUST_LOG", "error")
        .output()
        .expect("run waterdesk");
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{text}");
    assert!(text.contains("seeded 60 orders"), "{text}");
    // A bare installation gets branch offices, and the orders are spread over them.
    let url = format!("sqlite://{}?mode=rw", dir.path().join("waterdesk.db").display());
    let (branches, units): (i64, i64) = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = waterdesk_store::Db::connect(&url, &Default::default()).await.unwrap();
        let mut c = db.read().await.unwrap();
        sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM units WHERE kind = 'branch'), (SELECT COUNT(DISTINCT unit_id) FROM work_orders)",
        )
        .fetch_one(&mut *c)
        .await
        .unwrap()
    });
    assert_eq!(branches, 8);
    assert!(units > 1, "{units}");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_waterdesk"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["seed", "--orders", "-5"])
        .env_remove("WATERDESK_DATABASE_URL")
        .output()
        .expect("run waterdesk");
    assert!(!o.status.success());
}
