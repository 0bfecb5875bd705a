//! Work-order pages (issue 5): the queue with its filters and paging, registration by form
//! (also from a contact), an order's page with exactly the actions the user may take, the
//! transitions through those forms (a stale one reported, not failed), escaping of what
//! users type, and the printable order sheet.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_test;
use crate::helpers::{TestApp, Web, attr_after};

/// Signs a demo user in through the login form.
async fn web(app: &TestApp, user: &str) -> Web {
    let mut w = Web::new(app);
    assert_eq!(w.login(user, &app.password(user)).await.status(), StatusCode::SEE_OTHER, "login {user}");
    w
}

async fn page(w: &Web, path: &str) -> String {
    let r = w.get(path).await;
    assert_eq!(r.status(), StatusCode::OK, "GET {path}");
    r.text().await.unwrap()
}

/// The codes of the action forms on an order page, in order.
fn actions(html: &str) -> Vec<String> {
    html.split("data-testid=\"action-").skip(1).map(|s| s[..s.find('"').unwrap()].to_string()).collect()
}

/// The states of the orders listed in the queue, in order.
fn states(html: &str) -> Vec<String> {
    html.split("<tr data-order=\"")
        .skip(1)
        .map(|s| {
            let st = s.split("data-state=\"").nth(1).unwrap();
            st[..st.find('"').unwrap()].to_string()
        })
        .collect()
}

/// The order numbers listed in the queue, in order.
fn listed(html: &str) -> Vec<i64> {
    html.split("<tr data-order=\"").skip(1).map(|s| s[..s.find('"').unwrap()].parse().unwrap()).collect()
}

fn location(r: &reqwest::Response) -> String {
    r.headers().get("location").map(|l| l.to_str().unwrap().to_string()).unwrap_or_default()
}

/// The order's version as its page shows it (in every action form).
fn version(html: &str) -> String {
    attr_after(html, "name=\"version\"", "value").expect("a version on the page")
}

async fn register(api: &crate::helpers::Api, body: Value) -> Value {
    let r = api.post("/api/v1/orders", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

/// The link of the element marked by `marker` (its `href` comes first), unescaped.
fn href_before(html: &str, marker: &str) -> Option<String> {
    let head = &html[..html.find(marker)?];
    let j = head.rfind("href=\"")? + 6;
    Some(head[j..j + head[j..].find('"')?].replace("&amp;", "&").replace("&#38;", "&"))
}

/// Posts an action form of order `id`; returns where the answer redirects to.
async fn act(w: &Web, id: i64, action: &str, fields: &[(&str, &str)]) -> String {
    let path = format!("/orders/{id}/actions/{action}");
    let r = w.post_form(&path, fields).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
    location(&r)
}

fn escaped(html: &str) -> bool {
    html.contains("&lt;script&gt;") || html.contains("&#60;script&#62;")
}

// R-WO-01/R-WO-11: the queue lists orders newest first with their state, priority and
// crew, filters by state, open, type, priority and "assigned to me", and pages by key.
backend_test!(order_queue_filters_and_pages, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let (agent, dispatcher) = (app.api("agent").await, app.api("dispatcher").await);
    let repair = register(
        &agent,
        json!({"type_code": "repair", "impact": "high", "urgency": "medium", "title": "文三路爆管", "address": "文三路12号"}),
    )
    .await;
    let complaint = register(
        &agent,
        json!({"type_code": "complaint", "impact": "medium", "urgency": "medium", "title": "营业厅排队太久"}),
    )
    .await;
    let consult = register(
        &agent,
        json!({"type_code": "consultation", "impact": "low", "urgency": "low", "title": "阶梯水价咨询"}),
    )
    .await;
    let (rid, cid, qid) =
        (repair["id"].as_i64().unwrap(), complaint["id"].as_i64().unwrap(), consult["id"].as_i64().unwrap());
    let r = dispatcher.post(&format!("/api/v1/orders/{cid}/actions/accept"), json!({"version": 1})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = dispatcher
        .post(&format!("/api/v1/orders/{qid}/actions/conclude"), json!({"version": 1, "fields": {"reply": "已答复"}}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = dispatcher.post(&format!("/api/v1/orders/{rid}/actions/accept"), json!({"version": 1})).await;
    assert_eq!(r.status, StatusCode::OK);
    let worker_id = {
        let mut c = app.services().db.read().await.unwrap();
        waterdesk_store::users::get_by_username(&mut c, "worker").await.unwrap().expect("worker").id
    };
    let r = dispatcher
        .post(&format!("/api/v1/orders/{rid}/actions/dispatch"), json!({"version": 2, "assignee_id": worker_id}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let w = web(&app, "dispatcher").await;
    let all = page(&w, "/orders").await;
    assert!(all.contains("href=\"/orders\""), "the 工单 entry in the menu");
    // The demo utility has orders of its own: these three are the newest.
    assert_eq!(listed(&all)[..3], [qid, cid, rid], "newest first");
    let ours = |html: &str| -> Vec<i64> { listed(html).into_iter().filter(|i| [qid, cid, rid].contains(i)).collect() };
    assert!(all.contains(repair["order_no"].as_str().unwrap()) && all.contains("文三路12号"));
    assert!(all.contains("陈志强") && all.contains("抢修一班"), "assignee and handling unit of the dispatched order");
    assert!(all.contains("已派单") && all.contains("已受理") && all.contains("已办结"), "state labels");
    assert!(all.contains("报修单") && all.contains("投诉单"), "type names");
    let accepted = page(&w, "/orders?state=accepted").await;
    assert_eq!(ours(&accepted), [cid]);
    assert!(states(&accepted).iter().all(|s| s == "accepted"));
    let repairs = page(&w, "/orders?type=repair").await;
    assert_eq!(ours(&repairs), [rid]);
    assert_eq!(
        repairs.matches("</a></td><td class=\"nowrap\">报修单</td>").count(),
        listed(&repairs).len(),
        "only repairs"
    );
    assert_eq!(ours(&page(&w, "/orders?priority=2").await), [rid]);
    let open = page(&w, "/orders?open=1").await;
    assert_eq!(ours(&open), [cid, rid], "the concluded consultation is left out");
    assert!(states(&open).iter().all(|s| !["concluded", "rejected", "cancelled"].contains(&s.as_str())));
    assert!(listed(&page(&w, "/orders?mine=1").await).is_empty(), "nothing is assigned to the dispatcher");
    let ww = web(&app, "worker").await;
    let theirs = page(&ww, "/orders?mine=1").await;
    assert!(listed(&theirs).contains(&rid) && !listed(&theirs).contains(&cid), "the crew member's own orders");
    assert!(states(&theirs).iter().all(|s| s != "registered"));
    // A hand-made bad filter is said, not failed.
    let bad = page(&w, "/orders?state=flying").await;
    assert!(bad.contains("alert-error") && listed(&bad).is_empty());
    // Users without order.read have no entry and no page.
    let cw = web(&app, "customer").await;
    assert_eq!(cw.get("/orders").await.status(), StatusCode::FORBIDDEN);

    // Keyset paging: 50 a page, the next page continues below the last one shown.
    for i in 0..50 {
        register(
            &agent,
            json!({"type_code": "hazard", "impact": "low", "urgency": "low", "title": format!("隐患{i}")}),
        )
        .await;
    }
    let first = page(&w, "/orders").await;
    let ids = listed(&first);
    assert_eq!(ids.len(), 50);
    let next = href_before(&first, "data-testid=\"next-page\"").expect("a next page");
    assert!(next.contains(&format!("before={}", ids[49])), "{next}");
    let second = listed(&page(&w, &next).await);
    assert_eq!(second[..3], [qid, cid, rid], "the next page continues where the first ended");
    assert!(second.iter().all(|i| *i < ids[49]), "nothing twice");

    // English on request.
    w.get("/lang/en?next=/orders").await;
    let en = page(&w, "/orders").await;
    assert!(en.contains("Work orders") && en.contains("Registered") && en.contains("Hazard"));
    app.stop().await;
});

// R-WO-01: an agent registers an order from a contact — the contact's page and the
// console link to the form, which comes pre-filled; refusals keep what was typed; the
// contact then names its order and offers no second one.
backend_test!(register_an_order_through_the_form, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let agent = app.api("agent").await;
    let c = agent
        .post(
            "/api/v1/contacts",
            json!({"category": "repair", "caller": "13957120001", "content": "凤起路8号水表漏水\n已持续两天",
                   "address": "凤起路8号"}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.body);
    let contact_id = c.body["id"].as_i64().unwrap();
    let w = web(&app, "agent").await;
    let contact_page = page(&w, &format!("/contacts/{contact_id}")).await;
    assert!(contact_page.contains(&format!("href=\"/orders/new?contact_id={contact_id}\"")), "生成工单 on the contact");
    assert!(contact_page.contains("生成工单"));
    let console = page(&w, "/console").await;
    assert!(console.contains(&format!("/orders/new?contact_id={contact_id}")), "and in the console");

    let form = page(&w, &format!("/orders/new?contact_id={contact_id}")).await;
    assert!(form.contains("value=\"repair\" selected"), "the contact's category picks the type");
    assert!(form.contains("凤起路8号水表漏水\n已持续两天</textarea>"), "content");
    assert!(form.contains("value=\"13957120001\"") && form.contains("value=\"凤起路8号\""), "caller and address");
    assert!(form.contains(&format!("name=\"contact_id\" value=\"{contact_id}\"")));
    assert!(form.contains("name=\"_csrf\""), "the form carries the CSRF token");

    let cid = contact_id.to_string();
    let mut fields = vec![
        ("type_code", "repair"),
        ("impact", "high"),
        ("urgency", "medium"),
        ("title", ""),
        ("content", "凤起路8号水表漏水"),
        ("address", "凤起路8号"),
        ("caller", "13957120001"),
        ("contact_id", ""),
        ("lat", "30.2601"),
        ("lng", "120.1702"),
    ];
    fields[7].1 = &cid;
    // Refused: no title. The form comes back with what was typed.
    let r = w.post_form("/orders", &fields).await;
    assert_eq!(r.status(), StatusCode::OK);
    let again = r.text().await.unwrap();
    assert!(again.contains("alert-error") && again.contains("标题: "), "why");
    assert!(again.contains("凤起路8号水表漏水</textarea>") && again.contains("value=\"30.2601\""), "kept");
    let bad_lat = [("lat", "north"), ("title", "x")];
    let r = w.post_form("/orders", &[&fields[..3], &bad_lat[..]].concat()).await;
    assert!(r.text().await.unwrap().contains("alert-error"), "a coordinate that is no number");

    fields[3].1 = "凤起路8号水表漏水";
    let r = w.post_form("/orders", &fields).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    assert!(to.starts_with("/orders/") && to.ends_with("?msg=created"), "{to}");
    let detail = page(&w, &to).await;
    assert!(detail.contains("alert-ok"), "flash");
    assert!(detail.contains("已登记") && detail.contains("凤起路8号水表漏水") && detail.contains("李晓燕"));
    assert!(detail.contains("geo:30.260100,120.170200"), "position for the crew's navigation");
    assert!(detail.contains(&format!("href=\"/contacts/{contact_id}\"")), "back to the contact");
    let id: i64 = to.trim_start_matches("/orders/").split('?').next().unwrap().parse().unwrap();
    let o = agent.get(&format!("/api/v1/orders/{id}")).await.body;
    assert_eq!((o["order"]["origin"].as_str(), o["order"]["priority"].as_i64()), (Some("contact"), Some(2)));
    assert_eq!(o["order"]["contact_id"].as_i64(), Some(contact_id));

    // The contact names its order now, and offers no second one.
    let contact_page = page(&w, &format!("/contacts/{contact_id}")).await;
    assert!(contact_page.contains(o["order"]["order_no"].as_str().unwrap()));
    assert!(!contact_page.contains("data-testid=\"contact-to-order\""));
    let form = page(&w, &format!("/orders/new?contact_id={contact_id}")).await;
    assert!(form.contains("data-testid=\"existing-order\""), "a warning when the contact already has an order");

    // Without order.create: no link, no form.
    let sw = web(&app, "supervisor").await;
    assert!(!page(&sw, &format!("/contacts/{contact_id}")).await.contains("生成工单"));
    let ww = web(&app, "worker").await;
    assert_eq!(ww.get("/orders/new").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(ww.post_form("/orders", &fields).await.status(), StatusCode::FORBIDDEN);
    app.stop().await;
});

// R-WO-03: each role sees exactly the actions it may take now — the agent cannot
// dispatch, only the assignee acknowledges and completes — and takes them through the
// forms; a stale form is reported as such; the history names who did what.
backend_test!(order_page_offers_the_actions_each_role_may_take, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let agent_api = app.api("agent").await;
    let o = register(
        &agent_api,
        json!({"type_code": "repair", "impact": "medium", "urgency": "high", "title": "庆春路消火栓漏水", "address": "庆春路1号"}),
    )
    .await;
    let id = o["id"].as_i64().unwrap();
    let path = format!("/orders/{id}");
    let (agent, dispatcher, worker, admin, auditor) = (
        web(&app, "agent").await,
        web(&app, "dispatcher").await,
        web(&app, "worker").await,
        web(&app, "admin").await,
        web(&app, "auditor").await,
    );

    // Registered.
    assert_eq!(actions(&page(&agent, &path).await), ["urge"], "the agent may only urge");
    let dp = page(&dispatcher, &path).await;
    assert_eq!(actions(&dp), ["accept", "reject", "cancel", "urge", "supervise"]);
    assert!(dp.contains("data-confirm"), "rejecting and cancelling ask first");
    let ap = page(&auditor, &path).await;
    assert!(actions(&ap).is_empty() && ap.contains("data-testid=\"no-actions\""), "the auditor only reads");
    assert_eq!(worker.get(&path).await.status(), StatusCode::NOT_FOUND, "not the crew's order (yet)");
    let r = auditor.post_form(&format!("/orders/{id}/actions/accept"), &[("version", "1")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a step's own permission, whatever the form says");

    // Accept through the form.
    let to = act(&dispatcher, id, "accept", &[("version", &version(&dp)), ("note", "属实")]).await;
    assert_eq!(to, format!("{path}?msg=order_acted"));
    let dp = page(&dispatcher, &to).await;
    assert!(dp.contains("已办理") && dp.contains("已受理"));
    assert_eq!(actions(&dp), ["dispatch", "suspend", "cancel", "urge", "supervise"]);
    assert!(dp.contains("name=\"assignee_id\"") && dp.contains("陈志强 · 抢修一班"), "the crew to choose from");
    let ap = page(&agent, &path).await;
    assert_eq!(actions(&ap), ["urge"], "the agent cannot dispatch");
    assert!(!ap.contains("name=\"assignee_id\""));

    // Dispatch to the worker; only the assignee may acknowledge.
    let opt = &dp[..dp.find("陈志强 · 抢修一班").unwrap()];
    let wid = opt[opt.rfind("value=\"").unwrap() + 7..].split('"').next().unwrap().to_string();
    let to = act(&dispatcher, id, "dispatch", &[("version", &version(&dp)), ("assignee_id", &wid)]).await;
    assert!(to.ends_with("msg=order_acted"), "{to}");
    let wp = page(&worker, &path).await;
    assert_eq!(actions(&wp), ["acknowledge", "decline"], "the assignee's own steps");
    let adp = page(&admin, &path).await;
    let admin_actions = actions(&adp);
    assert!(!admin_actions.contains(&"acknowledge".to_string()), "not the assignee: {admin_actions:?}");
    assert!(admin_actions.contains(&"reassign".to_string()));
    assert!(wp.contains("data-testid=\"order-assignee\">陈志强"));

    let to = act(&worker, id, "acknowledge", &[("version", &version(&wp))]).await;
    assert!(to.ends_with("msg=order_acted"), "{to}");
    let wp = page(&worker, &path).await;
    assert_eq!(actions(&wp), ["decline", "start"]);
    let to = act(&worker, id, "start", &[("version", &version(&wp))]).await;
    assert!(to.ends_with("msg=order_acted"), "{to}");
    let wp = page(&worker, &path).await;
    assert_eq!(actions(&wp), ["complete"]);
    // Completion asks for cause and solution from their dictionaries (R-WO-13).
    assert!(wp.contains("<select name=\"f_cause\" required>") && wp.contains("<select name=\"f_solution\" required>"));
    assert!(wp.contains("value=\"pipe_burst\">管道爆裂") && wp.contains("value=\"repaired\">已修复"));
    let to = act(&worker, id, "complete", &[("version", &version(&wp)), ("f_cause", "pipe_leak")]).await;
    assert!(to.contains("err=validation_failed") && to.contains("solution"), "a missing field: {to}");
    let v = version(&wp);
    let fields = [("version", v.as_str()), ("f_cause", "pipe_leak"), ("f_solution", "repaired")];
    let to = act(&worker, id, "complete", &fields).await;
    assert!(to.ends_with("msg=order_acted"), "{to}");

    // A stale form: the dispatcher's page was loaded before the crew completed.
    let stale = version(&dp);
    let to = act(&dispatcher, id, "suspend", &[("version", &stale), ("note", "等待配件")]).await;
    assert_eq!(to, format!("{path}?err=order_changed"));
    let r = dispatcher.get(&to).await;
    assert_eq!(r.status(), StatusCode::OK, "a message on the order's page, not an error page");
    let reloaded = r.text().await.unwrap();
    assert!(reloaded.contains("工单已被他人更新") && reloaded.contains("已销单"), "why, and the order as it is now");
    assert_eq!(actions(&reloaded), ["verify", "send_back", "suspend", "cancel", "urge", "supervise"]);
    let fields = page(&dispatcher, &path).await;
    assert!(fields.contains("管道漏水") && fields.contains("已修复"), "step fields with their labels");

    let to = act(&dispatcher, id, "verify", &[("version", &version(&reloaded))]).await;
    assert!(to.ends_with("msg=order_acted"), "{to}");
    // The return visit: by the agent, with the customer's satisfaction.
    let ap = page(&agent, &path).await;
    assert_eq!(actions(&ap), ["visit", "urge"]);
    assert!(
        ap.contains("<select name=\"f_satisfaction\" required>")
            && ap.contains("value=\"basically_satisfied\">基本满意")
    );
    // A repair answers the customer before it concludes: the visit asks for the reply.
    assert!(ap.contains("<textarea name=\"f_reply\""), "the reply nobody gave yet");
    let v = version(&ap);
    let fields = [("version", v.as_str()), ("f_satisfaction", "satisfied"), ("f_reply", "已修复，感谢反映")];
    let to = act(&agent, id, "visit", &fields).await;
    assert!(to.ends_with("msg=order_acted"), "{to}");
    let done = page(&agent, &path).await;
    assert!(done.contains("data-state=\"concluded\"") && actions(&done).is_empty());
    assert!(done.contains("满意度") && done.contains("满意"));
    // History: every step with its actor; milestones stamped.
    let history = &done[done.find("data-testid=\"order-history\"").unwrap()..];
    for (label, who) in [
        ("登记", "李晓燕"),
        ("受理", "张伟"),
        ("派单", "张伟"),
        ("接单", "陈志强"),
        ("销单", "陈志强"),
        ("回访", "李晓燕"),
    ] {
        assert!(history.contains(label) && history.contains(who), "{label} by {who}");
    }
    assert!(history.contains("属实"), "the note of the acceptance");
    let milestones = &done[done.find("data-testid=\"order-milestones\"").unwrap()..];
    assert!(!milestones[..milestones.find("</dl>").unwrap()].contains('—'), "all six milestones are stamped");

    // Forms of users who may not act are refused by the services all the same.
    let now = agent_api.get(&format!("/api/v1/orders/{id}")).await.body["order"]["version"].to_string();
    let to = act(&agent, id, "cancel", &[("version", &now), ("note", "x")]).await;
    assert!(to.contains("err="), "{to}");
    app.stop().await;
});

// R-WO-07: the order sheet prints what the crew needs, with room for handwritten notes
// and signatures, from the binary alone; users' text is escaped on every page.
backend_test!(order_sheet_and_escaping, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let agent = app.api("agent").await;
    let o = register(
        &agent,
        json!({"type_code": "repair", "impact": "low", "urgency": "high", "title": "<script>alert('t')</script>水管",
               "content": "<img src=x onerror=alert(1)>楼道漏水", "address": "<b>延安路</b>1号", "caller": "13800000000"}),
    )
    .await;
    let id = o["id"].as_i64().unwrap();
    let w = web(&app, "dispatcher").await;
    for path in ["/orders".to_string(), format!("/orders/{id}"), format!("/orders/{id}/print")] {
        let html = page(&w, &path).await;
        assert!(
            !html.contains("<script>alert") && !html.contains("<img src=x") && !html.contains("<b>延安路"),
            "{path}"
        );
        assert!(escaped(&html), "{path} shows the text, escaped");
    }
    let sheet = page(&w, &format!("/orders/{id}/print")).await;
    assert!(sheet.contains(o["order_no"].as_str().unwrap()) && sheet.contains("工单处理单"));
    assert!(sheet.contains("客户签字") && sheet.contains("处理人签字") && sheet.contains("用料"));
    assert!(sheet.contains("☐ 管道爆裂") && sheet.contains("☐ 基本满意"), "causes and satisfaction to tick");
    assert!(sheet.contains("13800000000") && sheet.contains("@media print"));
    assert!(
        !sheet.contains("<script")
            && !sheet.contains("<link")
            && !sheet.contains("http://")
            && !sheet.contains("https://"),
        "no external resources"
    );
    let detail = page(&w, &format!("/orders/{id}")).await;
    assert!(detail.contains(&format!("href=\"/orders/{id}/print\"")));
    // Read-only roles may print; others may not see it.
    let aw = web(&app, "auditor").await;
    assert_eq!(aw.get(&format!("/orders/{id}/print")).await.status(), StatusCode::OK);
    let cw = web(&app, "customer").await;
    assert_eq!(cw.get(&format!("/orders/{id}/print")).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(w.get("/orders/999999/print").await.status(), StatusCode::NOT_FOUND);
    // In English.
    w.get(&format!("/lang/en?next=/orders/{id}/print")).await;
    let en = page(&w, &format!("/orders/{id}/print")).await;
    assert!(en.contains("Work order sheet") && en.contains("Materials") && !en.contains("工单处理单"));
    app.stop().await;
});
