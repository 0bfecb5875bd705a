//! Conditional queries over work orders (R-DATA-02) and their Excel export (R-DATA-03):
//! every field and operator against a fixture whose answers are worked out by hand, AND/OR
//! nesting, keyset paging while orders are added, data scope, saved-query sharing, every
//! refusal code (injection attempts included), and the exported workbook.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use waterdesk_services::audit::AuditCtx;
use waterdesk_services::contacts::ContactInput;
use waterdesk_store::orders::NewOrder;

use crate::backend_test;
use crate::helpers::TestApp;
use crate::orders::as_user;

fn at(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

/// Every fixture order's title starts with this, so the demo's own orders stay out.
const MARK: &str = "QX测试";

struct Spec {
    key: &'static str,
    unit: &'static str,
    type_code: &'static str,
    category: &'static str,
    priority: i64,
    state: &'static str,
    caller: &'static str,
    address: &'static str,
    content: &'static str,
    /// (channel, source) of an originating contact.
    contact: Option<(&'static str, &'static str)>,
    registered: &'static str,
    resolved: Option<&'static str>,
    concluded: Option<&'static str>,
    overdue: bool,
    satisfaction: Option<&'static str>,
}

/// The fixture: eight orders, keyed `a`…`h`. Registration times are UTC; Shanghai is +8.
fn specs() -> Vec<Spec> {
    let s = |key, unit, type_code, category, priority, state, registered| Spec {
        key,
        unit,
        type_code,
        category,
        priority,
        state,
        caller: "",
        address: "",
        content: "",
        contact: None,
        registered,
        resolved: None,
        concluded: None,
        overdue: false,
        satisfaction: None,
    };
    vec![
        Spec {
            caller: "13800001111",
            address: "西湖区文三路12号",
            content: "水管爆裂漏水严重",
            contact: Some(("hotline", "customer")),
            ..s("a", "branch_east", "repair", "repair", 2, "registered", "2026-05-01T01:00:00Z")
        },
        Spec {
            address: "拱墅区湖墅南路88号",
            content: "水压低 100%_满意",
            contact: Some(("wechat", "customer")),
            resolved: Some("2026-05-03T01:00:00Z"),
            concluded: Some("2026-05-04T01:00:00Z"),
            satisfaction: Some("satisfied"),
            ..s("b", "branch_west", "repair", "repair", 3, "concluded", "2026-05-02T01:00:00Z")
        },
        Spec {
            caller: "13800002222",
            address: "西湖区天目山路200号",
            content: "投诉抄表员态度",
            contact: Some(("gov_12345", "gov_12345")),
            overdue: true,
            ..s("c", "branch_east", "complaint", "complaint", 1, "in_progress", "2026-05-03T01:00:00Z")
        },
        Spec {
            content: "咨询水价",
            contact: Some(("hotline", "customer")),
            concluded: Some("2026-05-04T02:00:00Z"),
            ..s("d", "hotline", "consultation", "consultation", 4, "concluded", "2026-05-04T01:00:00Z")
        },
        Spec {
            address: "滨江区江南大道100号",
            content: "管网巡查发现渗漏",
            resolved: Some("2026-05-06T01:00:00Z"),
            concluded: Some("2026-05-07T01:00:00Z"),
            satisfaction: Some("unsatisfied"),
            overdue: true,
            ..s("e", "network_team1", "repair", "repair", 2, "concluded", "2026-05-05T01:00:00Z")
        },
        Spec {
            content: "水质浑浊发黄",
            contact: Some(("web", "media")),
            ..s("f", "network", "water_quality", "complaint", 2, "accepted", "2026-05-06T01:00:00Z")
        },
        Spec {
            caller: "13800001111",
            content: "再次反映漏水",
            resolved: Some("2026-06-02T01:00:00Z"),
            satisfaction: Some("basically_satisfied"),
            ..s("g", "branch_west", "repair", "repair", 3, "resolved", "2026-06-01T01:00:00Z")
        },
        Spec {
            content: "申请暂停供水",
            ..s("h", "branch_east", "outage", "other", 4, "cancelled", "2026-06-02T01:00:00Z")
        },
    ]
}

struct Fixture {
    /// key → (order id, order no, contact no)
    orders: std::collections::BTreeMap<&'static str, (i64, String, Option<String>)>,
}

async fn fixture(app: &TestApp) -> Fixture {
    let s = app.services();
    let agent = as_user(app, "agent").await;
    let mut orders = std::collections::BTreeMap::new();
    for (i, sp) in specs().into_iter().enumerate() {
        app.clock.set(at(sp.registered) - jiff::SignedDuration::from_mins(5));
        let contact = match sp.contact {
            Some((channel, source)) => Some(
                s.contact_create(
                    &agent,
                    &ContactInput {
                        channel: channel.into(),
                        direction: "inbound".into(),
                        source: source.into(),
                        caller: sp.caller.into(),
                        customer_id: None,
                        account_id: None,
                        category: sp.category.into(),
                        content: sp.content.into(),
                        address: sp.address.into(),
                        reply: String::new(),
                    },
                    &AuditCtx::cli("test"),
                )
                .await
                .unwrap()
                .contact,
            ),
            None => None,
        };
        let mut tx = s.db.begin().await.unwrap();
        let unit = waterdesk_store::units::get_by_code(&mut tx, sp.unit).await.unwrap().unwrap().id;
        let order_no = format!("WO20260501-9{i:05}");
        let title = format!("{MARK} {} 工单", sp.key);
        let o = waterdesk_store::orders::insert(
            &mut tx,
            &NewOrder {
                order_no: &order_no,
                type_code: sp.type_code,
                origin: if contact.is_some() { "contact" } else { "staff" },
                origin_ref: "",
                contact_id: contact.as_ref().map(|c| c.id),
                customer_id: None,
                account_id: None,
                category: sp.category,
                impact: "low",
                urgency: "low",
                priority: sp.priority,
                title: &title,
                content: sp.content,
                address: sp.address,
                lat_e6: None,
                lng_e6: None,
                caller: sp.caller,
                unit_id: unit,
                created_by: None,
            },
            at(sp.registered),
        )
        .await
        .unwrap();
        let fields = match sp.satisfaction {
            Some(x) => json!({"note": "x\",\"satisfaction\":\"unsatisfied", "satisfaction": x}).to_string(),
            None => "{}".into(),
        };
        sqlx::query(
            "UPDATE work_orders SET state = $1, resolved_at = $2, concluded_at = $3, overdue = $4, fields = $5 WHERE id = $6",
        )
        .bind(sp.state)
        .bind(sp.resolved.map(|t| waterdesk_domain::time::to_db(at(t))))
        .bind(sp.concluded.map(|t| waterdesk_domain::time::to_db(at(t))))
        .bind(i64::from(sp.overdue))
        .bind(fields)
        .bind(o.id)
        .execute(&mut *tx)
        .await
        .unwrap();
        if let Some(c) = &contact {
            waterdesk_store::contacts::set_order(&mut tx, c.id, &order_no, at(sp.registered)).await.unwrap();
        }
        tx.commit().await.unwrap();
        orders.insert(sp.key, (o.id, order_no, contact.map(|c| c.contact_no)));
    }
    app.clock.set(at("2026-06-10T02:00:00Z"));
    Fixture { orders }
}

impl Fixture {
    fn key_of(&self, id: i64) -> &'static str {
        self.orders.iter().find(|(_, v)| v.0 == id).map(|(k, _)| *k).unwrap_or("?")
    }
}

/// The fixture keys a query finds (the mark is ANDed in), in result order.
async fn keys(api: &crate::helpers::Api, fx: &Fixture, cond: Value) -> Vec<&'static str> {
    let q = json!({"where": {"all": [{"field": "text", "op": "contains", "value": MARK}, cond]}, "limit": 200});
    let r = api.post("/api/v1/orders/query", q).await;
    assert_eq!(r.status, 200, "{cond}: {:?}", r.body);
    r.body["items"].as_array().unwrap().iter().map(|o| fx.key_of(o["id"].as_i64().unwrap())).collect()
}

async fn sorted_keys(api: &crate::helpers::Api, fx: &Fixture, cond: Value) -> String {
    let mut k = keys(api, fx, cond).await;
    k.sort();
    k.concat()
}

fn c(field: &str, op: &str, value: Value) -> Value {
    json!({"field": field, "op": op, "value": value})
}

// R-DATA-02: each field and operator finds exactly the orders worked out by hand.
backend_test!(each_field_and_operator, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let fx = fixture(&app).await;
    let api = app.api("supervisor").await;
    let k = |cond: Value| sorted_keys(&api, &fx, cond);

    // Newest first by default.
    assert_eq!(keys(&api, &fx, json!({"all": [c("overdue", "is", json!(false))]})).await.concat(), "hgfdba");
    let a_no = fx.orders["a"].1.clone();
    assert_eq!(k(c("order_no", "eq", json!(a_no.to_lowercase()))).await, "a");
    assert_eq!(k(c("order_no", "in", json!([fx.orders["b"].1, fx.orders["h"].1]))).await, "bh");
    assert_eq!(k(c("contact_no", "eq", json!(fx.orders["c"].2.clone().unwrap()))).await, "c");
    assert_eq!(k(c("caller", "eq", json!("138-0000-1111"))).await, "ag");
    assert_eq!(k(c("caller", "in", json!(["13800002222", "13800001111"]))).await, "acg");
    assert_eq!(k(c("address", "contains", json!("西湖区"))).await, "ac");
    assert_eq!(k(c("address", "eq", json!("滨江区江南大道100号"))).await, "e");
    assert_eq!(k(c("channel", "eq", json!("hotline"))).await, "ad");
    // Without a contact the order's origin stands in for channel and source.
    assert_eq!(k(c("channel", "in", json!(["wechat", "staff"]))).await, "begh");
    assert_eq!(k(c("channel", "not_in", json!(["hotline", "staff"]))).await, "bcf");
    assert_eq!(k(c("source", "in", json!(["gov_12345", "media"]))).await, "cf");
    assert_eq!(k(c("category", "eq", json!("complaint"))).await, "cf");
    assert_eq!(k(c("type", "in", json!(["complaint", "consultation"]))).await, "cd");
    assert_eq!(k(c("type", "not_in", json!(["repair"]))).await, "cdfh");
    assert_eq!(k(c("state", "eq", json!("concluded"))).await, "bde");
    assert_eq!(k(c("state", "not_in", json!(["concluded", "cancelled"]))).await, "acfg");
    assert_eq!(k(c("priority", "eq", json!(2))).await, "aef");
    assert_eq!(k(c("priority", "in", json!([1, 4]))).await, "cdh");
    assert_eq!(k(c("priority", "between", json!({"from": 1, "to": 2}))).await, "acef");
    // Days in Shanghai: 05-01 starts at 04-30T16:00Z; a `to` day is included.
    assert_eq!(k(c("registered_at", "between", json!({"from": "2026-05-02", "to": "2026-05-05"}))).await, "bcde");
    assert_eq!(
        k(c("registered_at", "between", json!({"from": "2026-05-02T01:00:00Z", "to": "2026-05-05T01:00:00Z"}))).await,
        "bcd",
        "instants: [from, to)"
    );
    assert_eq!(k(c("resolved_at", "between", json!({"from": "2026-05-01", "to": "2026-05-31"}))).await, "be");
    assert_eq!(k(c("concluded_at", "between", json!({"from": "2026-05-04", "to": "2026-05-04"}))).await, "bd");
    assert_eq!(k(c("overdue", "is", json!(true))).await, "ce");
    // A field value that merely contains the text of another rating does not count.
    assert_eq!(k(c("satisfaction", "eq", json!("unsatisfied"))).await, "e");
    assert_eq!(k(c("satisfaction", "in", json!(["satisfied", "basically_satisfied"]))).await, "bg");
    assert_eq!(k(c("satisfaction", "not_in", json!(["satisfied"]))).await, "acdefgh");
    assert_eq!(k(c("text", "contains", json!("漏水"))).await, "ag");
    assert_eq!(k(c("text", "contains", json!("江南大道"))).await, "e", "text covers the address");
    // LIKE wildcards in the text are literal characters.
    assert_eq!(k(c("text", "contains", json!("100%_"))).await, "b");
    assert_eq!(k(c("text", "contains", json!("%%"))).await, "");
    assert_eq!(k(c("text", "contains", json!("__"))).await, "");
    let units = |code: &'static str| {
        let s = app.services().clone();
        async move {
            let mut c = s.db.read().await.unwrap();
            waterdesk_store::units::get_by_code(&mut c, code).await.unwrap().unwrap().id
        }
    };
    let (east, network) = (units("branch_east").await, units("network").await);
    assert_eq!(k(c("unit", "eq", json!(east))).await, "ach");
    assert_eq!(k(c("unit", "in", json!([east, network]))).await, "acfh");
    assert_eq!(k(c("unit", "under", json!(network))).await, "ef", "the network station and its team");
    app.stop().await;
});

// R-DATA-02 at scale (ARCHITECTURE D27): free text is looked up through the orders'
// search keys — house numbers as whole tokens, an open number as a prefix — and the
// answers are the same while older orders are still without keys, after the backfill,
// and when SQLite is told to read in sort order.
backend_test!(free_text_through_search_keys, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let fx = fixture(&app).await;
    let api = app.api("supervisor").await;
    let s = app.services().clone();
    let texts = [
        ("文三路12号", "a"),
        ("文三路1", "a"),
        ("文三路123号", ""),
        ("江南大道100号", "e"),
        ("南大道10", "e"),
        ("管爆裂", "a"),
        ("漏水", "ag"),
        ("湖墅南路88号 ", "b"),
        ("QX测试", "abcdefgh"),
    ];
    let check = |round: &'static str| {
        let (api, fx) = (&api, &fx);
        async move {
            for (text, want) in texts {
                assert_eq!(sorted_keys(api, fx, c("text", "contains", json!(text))).await, want, "{round}: {text}");
            }
            let addr = c("address", "contains", json!("湖墅南路88"));
            assert_eq!(sorted_keys(api, fx, addr).await, "b", "{round}");
        }
    };
    check("indexed with the orders").await;
    // As after the upgrade: the fixture's orders have no keys yet.
    let mut conn = s.db.read().await.unwrap();
    let first = fx.orders.values().map(|o| o.0).min().unwrap();
    sqlx::query("DELETE FROM order_text_keys WHERE order_id >= $1").bind(first).execute(&mut *conn).await.unwrap();
    sqlx::query("UPDATE order_text_backfill SET below = (SELECT MAX(id) + 1 FROM work_orders)")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    check("not indexed yet").await;
    assert!(s.backfill_order_text(i64::MAX).await.unwrap() >= 8);
    assert_eq!(s.backfill_order_text(i64::MAX).await.unwrap(), 0, "done");
    let mut conn = s.db.read().await.unwrap();
    assert!(waterdesk_store::order_text::unindexed_below(&mut conn).await.unwrap() <= 1);
    let keyed: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT order_id) FROM order_text_keys WHERE order_id >= $1")
        .bind(first)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(keyed, 8);
    drop(conn);
    check("backfilled").await;
    // The plan that reads in sort order (SQLite, common words) gives the same rows.
    use waterdesk_store::order_query::{Scope, TextPlan, page_sql};
    let subtrees = Default::default();
    let scope = Scope { units: None, own: None, subtrees: &subtrees, backend: s.db.backend(), text: None };
    for doc in [
        json!({"where": {"all": [c("text", "contains", json!(MARK)), c("type", "in", json!(["repair", "complaint"]))]}}),
        json!({"where": {"any": [c("text", "contains", json!("漏水")), c("state", "eq", json!("cancelled"))]}}),
    ] {
        let q = s.order_query_parse(&doc).unwrap();
        let mut conn = s.db.read().await.unwrap();
        let plan = TextPlan::of(&mut conn, &q, s.db.backend()).await.unwrap();
        let ids = |sql: waterdesk_store::sql::Sql| {
            let s = s.clone();
            async move {
                let mut conn = s.db.read().await.unwrap();
                let rows = sql.query().fetch_all(&mut *conn).await.unwrap();
                rows.iter().map(|r| sqlx::Row::get::<i64, _>(r, "id")).collect::<Vec<_>>()
            }
        };
        let planned = ids(page_sql(&q, &scope, &plan, None, 100)).await;
        let like_only = ids(page_sql(&q, &scope, &TextPlan::default(), None, 100)).await;
        let in_order = TextPlan { in_order: s.db.backend() == waterdesk_store::Backend::Sqlite, ..plan.clone() };
        assert!(!planned.is_empty());
        assert_eq!(planned, like_only, "{doc}");
        assert_eq!(ids(page_sql(&q, &scope, &in_order, None, 100)).await, planned, "{doc}");
    }
    app.stop().await;
});

// R-DATA-02: AND/OR groups nest; sort keys and directions.
backend_test!(groups_and_sorting, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let fx = fixture(&app).await;
    let api = app.api("supervisor").await;
    // repair AND (overdue OR (priority 3 AND satisfied))
    let q = json!({"where": {"all": [c("text", "contains", json!(MARK)), c("type", "eq", json!("repair")),
        {"any": [c("overdue", "is", json!(true)),
            {"all": [c("priority", "eq", json!(3)), c("satisfaction", "eq", json!("satisfied"))]}]}]}});
    let r = api.post("/api/v1/orders/query", q).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mut got: Vec<&str> =
        r.body["items"].as_array().unwrap().iter().map(|o| fx.key_of(o["id"].as_i64().unwrap())).collect();
    got.sort();
    assert_eq!(got.concat(), "be");
    // (complaint OR consultation) OR cancelled
    let q = json!({"any": [{"any": [c("type", "eq", json!("complaint")), c("type", "eq", json!("consultation"))]},
        c("state", "eq", json!("cancelled"))]});
    assert_eq!(sorted_keys(&api, &fx, q).await, "cdh");

    let mark = json!({"all": [c("text", "contains", json!(MARK))]});
    let run = |sort: Value| {
        let api = &api;
        let fx = &fx;
        let mark = mark.clone();
        async move {
            let r = api.post("/api/v1/orders/query", json!({"where": mark, "sort": sort})).await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            r.body["items"].as_array().unwrap().iter().map(|o| fx.key_of(o["id"].as_i64().unwrap())).collect::<String>()
        }
    };
    assert_eq!(run(json!([{"field": "registered_at", "dir": "asc"}])).await, "abcdefgh");
    // Priority ascending, ties newest first.
    assert_eq!(run(json!([{"field": "priority"}, {"field": "registered_at", "dir": "desc"}])).await, "cfeagbhd");
    assert_eq!(run(json!([{"field": "order_no", "dir": "desc"}])).await, "hgfedcba");
    app.stop().await;
});

// R-DATA-02: keyset pages cover the result exactly once, in order, while orders are added
// between the pages (and those land before the first page, not in the middle).
backend_test!(keyset_paging_is_stable_under_inserts, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let fx = fixture(&app).await;
    let api = app.api("supervisor").await;
    let dispatcher = as_user(&app, "dispatcher").await;
    for sort in [
        json!([{"field": "registered_at", "dir": "desc"}]),
        json!([{"field": "priority", "dir": "asc"}, {"field": "registered_at", "dir": "asc"}]),
        json!([{"field": "priority", "dir": "desc"}]),
    ] {
        let base = json!({"where": {"all": [c("text", "contains", json!(MARK))]}, "sort": sort, "limit": 3});
        let all = api.post("/api/v1/orders/query", json!({"where": base["where"], "sort": sort, "limit": 200})).await;
        let expected: Vec<i64> =
            all.body["items"].as_array().unwrap().iter().map(|o| o["id"].as_i64().unwrap()).collect();
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut q = base.clone();
            if let Some(a) = &after {
                q["after"] = json!(a);
            }
            let r = api.post("/api/v1/orders/query", q).await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            for o in r.body["items"].as_array().unwrap() {
                seen.push(o["id"].as_i64().unwrap());
            }
            pages += 1;
            // A new order of the fixture's kind arrives between pages.
            let i = waterdesk_services::orders::OrderInput {
                type_code: "repair".into(),
                impact: "medium".into(),
                urgency: "medium".into(),
                title: format!("{MARK} 新增 {pages}"),
                ..Default::default()
            };
            app.clock.set(app.services().now() + jiff::SignedDuration::from_secs(60));
            app.services().order_create(&dispatcher, &i, &AuditCtx::cli("test")).await.unwrap();
            match r.body["next"].as_str() {
                Some(n) => after = Some(n.to_string()),
                None => break,
            }
        }
        assert!(pages >= 3, "{pages}");
        // The original eight appear once each and in the same order; additions only where
        // the sort puts them after the cursor (none for newest-first).
        let originals: Vec<i64> = seen.iter().copied().filter(|id| fx.key_of(*id) != "?").collect();
        let expected_originals: Vec<i64> = expected.iter().copied().filter(|id| fx.key_of(*id) != "?").collect();
        assert_eq!(originals, expected_originals, "{sort}");
        let unique: BTreeSet<i64> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "no row twice: {sort}");
        if sort[0]["field"] == "registered_at" {
            assert_eq!(seen, expected, "newer orders sort before the cursor and never show up in later pages");
        }
    }
    // A cursor of one sort is refused by another.
    let r = api
        .post("/api/v1/orders/query", json!({"where": {"all": [c("text", "contains", json!(MARK))]}, "limit": 2}))
        .await;
    let next = r.body["next"].as_str().unwrap().to_string();
    let r = api.post("/api/v1/orders/query", json!({"sort": [{"field": "priority"}], "after": next})).await;
    assert_eq!(r.status, 422);
    assert!(r.body["error"]["detail"].as_str().unwrap().starts_with("query_bad_cursor"), "{:?}", r.body);
    app.stop().await;
});

// R-DATA-02 / R-SYS-01: a unit-scoped user sees only their units' orders, whatever the
// query asks for; callers are masked without customer.pii.read.
backend_test!(data_scope_and_masking, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let fx = fixture(&app).await;
    // The approver works in the east branch with scope unit_tree.
    let approver = app.api("approver").await;
    let everything = json!({"any": [c("overdue", "is", json!(true)), c("overdue", "is", json!(false))]});
    let r = approver
        .post("/api/v1/orders/query", json!({"where": {"all": [c("text", "contains", json!(MARK)), everything]}}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let got: String =
        r.body["items"].as_array().unwrap().iter().map(|o| fx.key_of(o["id"].as_i64().unwrap())).collect();
    assert_eq!(got, "hca");
    // Asking for another unit's orders by number finds nothing.
    assert_eq!(sorted_keys(&approver, &fx, c("order_no", "eq", json!(fx.orders["b"].1))).await, "");
    let west = {
        let mut conn = app.services().db.read().await.unwrap();
        waterdesk_store::units::get_by_code(&mut conn, "branch_west").await.unwrap().unwrap().id
    };
    assert_eq!(sorted_keys(&approver, &fx, c("unit", "under", json!(west))).await, "");
    // The approver may not see personal data: the caller is masked.
    let a = r.body["items"].as_array().unwrap().iter().find(|o| fx.key_of(o["id"].as_i64().unwrap()) == "a").unwrap();
    assert_eq!(a["caller"], "138****1111");
    let sup = app.api("dispatcher").await;
    let r = sup
        .post("/api/v1/orders/query", json!({"where": {"all": [c("order_no", "eq", json!(fx.orders["a"].1))]}}))
        .await;
    assert_eq!(r.body["items"][0]["caller"], "13800001111");
    // Without order.read: refused.
    let sysadmin = app.api("sysadmin").await;
    let r = sysadmin.post("/api/v1/orders/query", json!({})).await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "forbidden"));
    app.stop().await;
});

fn detail_code(r: &crate::helpers::Resp) -> String {
    r.body["error"]["detail"].as_str().unwrap_or("").split(':').next().unwrap_or("").to_string()
}

// R-DATA-02: bad input gets a stable code and the JSON path; injection attempts are data
// (free text) or refused (field names, sort keys, operators), never SQL.
backend_test!(bad_input_and_injection, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let fx = fixture(&app).await;
    let api = app.api("supervisor").await;
    let bad = |q: Value, want: &'static str, field: &'static str| {
        let api = &api;
        async move {
            let r = api.post("/api/v1/orders/query", q.clone()).await;
            assert_eq!(r.status, 422, "{q}: {:?}", r.body);
            assert_eq!(r.code(), "validation_failed");
            assert_eq!(detail_code(&r), want, "{q}: {:?}", r.body);
            assert_eq!(r.body["error"]["field"], field, "{q}");
            assert!(!r.body["error"]["message"].as_str().unwrap().is_empty());
        }
    };
    let w = |cond: Value| json!({"where": {"all": [cond]}});
    bad(w(c("password_hash", "eq", json!("x"))), "query_unknown_field", "where.all[0].field").await;
    bad(w(c("state) OR 1=1 --", "eq", json!("x"))), "query_unknown_field", "where.all[0].field").await;
    bad(w(c("text", "eq", json!("漏水"))), "query_bad_operator", "where.all[0].op").await;
    bad(w(c("state", "eq", json!("concluded' OR '1'='1"))), "query_bad_value", "where.all[0].value").await;
    bad(w(c("priority", "between", json!({"from": 3, "to": 1}))), "query_bad_range", "where.all[0].value").await;
    bad(
        w(c("registered_at", "between", json!({"from": "2010-01-01", "to": "2026-01-01"}))),
        "query_range_too_large",
        "where.all[0].value",
    )
    .await;
    let many: Vec<Value> = (0..41).map(|_| c("overdue", "is", json!(true))).collect();
    bad(json!({"where": {"any": many}}), "query_too_complex", "where.any[40]").await;
    bad(
        json!({"sort": [{"field": "created_at DESC; DROP TABLE work_orders", "dir": "asc"}]}),
        "query_bad_sort",
        "sort[0]",
    )
    .await;
    bad(json!({"sort": [{"field": "priority", "dir": "asc; DELETE FROM users"}]}), "query_bad_sort", "sort[0]").await;
    bad(json!({"limit": 1_000_000}), "query_bad_limit", "limit").await;
    bad(json!({"after": "' OR 1=1"}), "query_bad_cursor", "after").await;
    bad(json!({"where": {"all": []}}), "query_bad_group", "where").await;
    bad(json!({"from": "work_orders"}), "query_unknown_key", "from").await;
    // Free text is a value: quotes and SQL find nothing and break nothing.
    for text in ["' OR '1'='1", "'; DROP TABLE work_orders; --", "\\' OR 1=1 --", "漏水' --"] {
        assert_eq!(sorted_keys(&api, &fx, c("text", "contains", json!(text))).await, "", "{text}");
    }
    assert_eq!(sorted_keys(&api, &fx, c("state", "eq", json!("concluded"))).await, "bde", "the table is still there");
    // English messages with Accept-Language: en.
    let r = TestApp::client()
        .post(app.url("/api/v1/orders/query"))
        .bearer_auth(app.token("supervisor").await)
        .header("accept-language", "en")
        .json(&json!({"where": {"all": [c("nope", "eq", json!(1))]}}))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().is_ascii(), "{body}");
    // Not JSON, or not an object.
    let r = api.post("/api/v1/orders/query", json!([1, 2])).await;
    assert_eq!(detail_code(&r), "query_bad_value");
    app.stop().await;
});

// R-DATA-02: saved queries — own ones are editable, shared ones visible (read-only) in the
// owner's unit and invisible elsewhere; definitions are checked; writes are audited.
backend_test!(saved_queries_and_sharing, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let agent = app.api("agent").await; // hotline centre
    let dispatcher = app.api("dispatcher").await; // hotline centre
    let approver = app.api("approver").await; // east branch
    let def =
        json!({"where": {"all": [c("overdue", "is", json!(true))]}, "sort": [{"field": "priority"}], "after": "x"});
    let r = agent.post("/api/v1/queries", json!({"name": "超期工单", "definition": def, "shared": true})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let shared_id = r.body["id"].as_i64().unwrap();
    assert!(!r.body["definition"].as_str().unwrap().contains("after"), "a saved query has no page position");
    let r = agent.post("/api/v1/queries", json!({"name": "我的私有", "definition": {}})).await;
    let private_id = r.body["id"].as_i64().unwrap();
    // Same name twice: a conflict; a bad definition: the query's own code.
    let r = agent.post("/api/v1/queries", json!({"name": "我的私有", "definition": {}})).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "duplicate"));
    let r = agent
        .post("/api/v1/queries", json!({"name": "坏的", "definition": {"where": {"all": [c("x", "eq", json!(1))]}}}))
        .await;
    assert_eq!(detail_code(&r), "query_unknown_field");
    let r = agent.post("/api/v1/queries", json!({"name": " ", "definition": {}})).await;
    assert_eq!(detail_code(&r), "invalid_name");

    let names = |r: &crate::helpers::Resp| -> Vec<String> {
        let mut v: Vec<String> =
            r.body.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(names(&agent.get("/api/v1/queries").await), vec!["我的私有", "超期工单"]);
    assert_eq!(names(&dispatcher.get("/api/v1/queries").await), vec!["超期工单"], "shared in the unit");
    assert!(names(&approver.get("/api/v1/queries").await).is_empty(), "another unit sees nothing");
    assert_eq!(dispatcher.get(&format!("/api/v1/queries/{shared_id}")).await.status, 200);
    assert_eq!(dispatcher.get(&format!("/api/v1/queries/{private_id}")).await.status, 404);
    assert_eq!(approver.get(&format!("/api/v1/queries/{shared_id}")).await.status, 404);
    // Only the owner changes or deletes it.
    let upd = json!({"name": "改名", "definition": {}, "shared": false});
    assert_eq!(dispatcher.put(&format!("/api/v1/queries/{shared_id}"), upd.clone()).await.status, 403);
    assert_eq!(dispatcher.delete(&format!("/api/v1/queries/{shared_id}")).await.status, 403);
    assert_eq!(approver.delete(&format!("/api/v1/queries/{shared_id}")).await.status, 404);
    let r = agent.put(&format!("/api/v1/queries/{shared_id}"), upd).await;
    assert_eq!((r.status.as_u16(), r.body["shared"].as_bool()), (200, Some(false)));
    assert!(names(&dispatcher.get("/api/v1/queries").await).is_empty(), "no longer shared");
    assert_eq!(agent.delete(&format!("/api/v1/queries/{private_id}")).await.status, 204);
    assert_eq!(agent.get(&format!("/api/v1/queries/{private_id}")).await.status, 404);
    // Audited.
    let mut conn = app.services().db.read().await.unwrap();
    let n: i64 = sqlx::Row::get(
        &sqlx::query(
            "SELECT COUNT(*) AS n FROM audit_log WHERE event_type IN ('query.save', 'query.update', 'query.delete')",
        )
        .fetch_one(&mut *conn)
        .await
        .unwrap(),
        "n",
    );
    assert_eq!(n, 4);
    app.stop().await;
});

async fn wait_export(api: &crate::helpers::Api, id: &str) -> Value {
    for _ in 0..200 {
        let r = api.get(&format!("/api/v1/orders/query/exports/{id}")).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        if r.body["state"] != "running" {
            return r.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the export did not finish");
}

// R-DATA-03: the whole result as .xlsx — Chinese headers, real dates, numbers, frozen
// header and autofilter; progress; only for its owner; the row cap per role.
backend_test!(export_xlsx, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let fx = fixture(&app).await;
    let api = app.api("supervisor").await;
    let q = json!({"where": {"all": [c("text", "contains", json!(MARK)), c("type", "eq", json!("repair"))]},
        "sort": [{"field": "registered_at", "dir": "asc"}], "limit": 1});
    let r = api.post("/api/v1/orders/query/exports", q).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(r.body["total"], 4);
    let id = r.body["id"].as_str().unwrap().to_string();
    let run = wait_export(&api, &id).await;
    assert_eq!((run["state"].as_str(), run["done"].as_i64(), run["total"].as_i64()), (Some("done"), Some(4), Some(4)));
    // Someone else cannot see or fetch it.
    let other = app.api("dispatcher").await;
    assert_eq!(other.get(&format!("/api/v1/orders/query/exports/{id}")).await.status, 404);
    assert_eq!(other.bytes(&format!("/api/v1/orders/query/exports/{id}/file")).await.0, 404);
    let (st, ct, bytes) = api.bytes(&format!("/api/v1/orders/query/exports/{id}/file")).await;
    assert_eq!(st, 200);
    assert!(ct.contains("spreadsheetml"), "{ct}");
    // Read back with calamine: headers, rows, a date cell that is a real date.
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes.clone())).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<Vec<Data>> = range.rows().map(|r| r.to_vec()).collect();
    assert_eq!(rows.len(), 5, "header + 4 repairs");
    let header: Vec<String> = rows[0].iter().map(|d| d.to_string()).collect();
    assert_eq!(&header[..4], ["工单号", "热线编号", "登记时间", "工单类型"]);
    assert!(header.contains(&"处理时长(小时)".to_string()));
    assert_eq!(rows[1][0].to_string(), fx.orders["a"].1);
    assert_eq!(rows[1][1].to_string(), fx.orders["a"].2.clone().unwrap());
    match &rows[1][2] {
        Data::DateTime(d) => {
            // 2026-05-01T01:00Z is 09:00 in Shanghai: Excel counts days from 1899-12-30.
            let epoch: jiff::civil::Date = "1899-12-30".parse().unwrap();
            let day: jiff::civil::Date = "2026-05-01".parse().unwrap();
            let days = (day - epoch).get_days() as f64;
            assert!((d.as_f64() - (days + 9.0 / 24.0)).abs() < 1e-6, "{}", d.as_f64());
        }
        other => panic!("registered_at must be a date cell, got {other:?}"),
    }
    assert_eq!(rows[1][4].to_string(), "已登记");
    assert!(matches!(rows[1][5], Data::Float(f) if f == 2.0), "priority is a number: {:?}", rows[1][5]);
    assert_eq!(rows[1][6].to_string(), "热线电话", "channels by their dictionary name");
    // b: registered 05-02 01:00, resolved 05-03 01:00 → 24.0 hours.
    assert!(matches!(rows[2][18], Data::Float(f) if (f - 24.0).abs() < 1e-9), "{:?}", rows[2][18]);
    assert_eq!(rows[2][15].to_string(), "满意");
    // Frozen header and autofilter are in the sheet's XML.
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(), &mut xml).unwrap();
    assert!(xml.contains("state=\"frozen\""), "frozen header");
    assert!(xml.contains("<autoFilter"), "autofilter");

    // English headers with Accept-Language: en.
    let r = TestApp::client()
        .post(app.url("/api/v1/orders/query/exports"))
        .bearer_auth(app.token("supervisor").await)
        .header("accept-language", "en")
        .json(&json!({"where": {"all": [c("order_no", "eq", json!(fx.orders["a"].1))]}}))
        .send()
        .await
        .unwrap();
    let run: Value = r.json().await.unwrap();
    let run = wait_export(&api, run["id"].as_str().unwrap()).await;
    let (_, _, bytes) = api.bytes(&format!("/api/v1/orders/query/exports/{}/file", run["id"].as_str().unwrap())).await;
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(range.get((0, 0)).unwrap().to_string(), "Order no.");

    // A bad query is refused before anything runs; an unknown run is 404.
    let r = api.post("/api/v1/orders/query/exports", json!({"sort": [{"field": "x"}]})).await;
    assert_eq!(detail_code(&r), "query_bad_sort");
    assert_eq!(api.get("/api/v1/orders/query/exports/nope").await.status, 404);
    app.stop().await;
});

// R-DATA-03: exports over the caller's limit are refused with the count (20,000 without
// report.export, 200,000 with it), nothing unbounded runs.
backend_test!(export_row_cap, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let s = app.services().clone();
    let o = waterdesk_services::seed_work::WorkSeedOptions {
        orders: 20_050,
        contacts: 0,
        months: 2,
        seed: 3,
        batch: 5_000,
    };
    s.seed_work(&o, |_, _| {}).await.unwrap();
    // The agent (no report.export) may export 20,000 rows.
    let agent = app.api("agent").await;
    let r = agent.post("/api/v1/orders/query/exports", json!({})).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert_eq!(detail_code(&r), "export_too_large");
    let detail = r.body["error"]["detail"].as_str().unwrap();
    assert!(detail.contains("20000"), "{detail}");
    let total = {
        let mut c = s.db.read().await.unwrap();
        let r = sqlx::query("SELECT COUNT(*) AS n FROM work_orders").fetch_one(&mut *c).await.unwrap();
        sqlx::Row::get::<i64, _>(&r, "n")
    };
    assert!(detail.starts_with(&format!("export_too_large: {total} rows")), "{detail} (total {total})");
    // The supervisor (report.export) may: the export runs and finishes with every row.
    let sup = app.api("supervisor").await;
    let r = sup.post("/api/v1/orders/query/exports", json!({})).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let run = wait_export_long(&sup, r.body["id"].as_str().unwrap()).await;
    assert_eq!(run["state"], "done");
    assert_eq!(run["done"].as_i64(), Some(total));
    app.stop().await;
});

async fn wait_export_long(api: &crate::helpers::Api, id: &str) -> Value {
    for _ in 0..1200 {
        let r = api.get(&format!("/api/v1/orders/query/exports/{id}")).await;
        if r.body["state"] != "running" {
            return r.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the export did not finish");
}

// R-DATA-03: the print view of a result page.
backend_test!(print_view, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let fx = fixture(&app).await;
    let mut web = crate::helpers::Web::new(&app);
    let pw = app.password("supervisor");
    web.login("supervisor", &pw).await;
    let q = json!({"where": {"all": [c("text", "contains", json!(MARK)), c("state", "eq", json!("concluded"))]}});
    let r = web.get(&format!("/query/print?q={}", urlencoding::encode(&q.to_string()))).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    for k in ["b", "d", "e"] {
        assert!(html.contains(&fx.orders[k].1), "{k}");
    }
    assert!(!html.contains(&fx.orders["a"].1));
    assert!(html.contains("已办结") || html.contains("办结"), "state names");
    let r = web.get("/query/print?q=%7Bbad").await;
    assert_eq!(r.status(), 422);
    let r = web.get("/query").await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("data-query-root") && html.contains("/assets/query.js"));
    app.stop().await;
});
