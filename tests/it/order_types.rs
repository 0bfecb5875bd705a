//! The order types' admin pages (R-WO-02/04/08/13): the list, the editor with its
//! deadlines grid, calendar and workflow; an unsound workflow is refused with its reason.

use reqwest::StatusCode;

use crate::backend_test;
use crate::helpers::{TestApp, Web, attr_after};

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_string()
}

backend_test!(order_type_editor, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let mut web = Web::new(&app);
    web.login("admin", &app.password("admin")).await;
    let list = web.get("/admin/order-types").await.text().await.unwrap();
    assert_eq!(list.matches("href=\"/admin/order-types/").count(), 12, "the twelve standard types");
    let page = web.get("/admin/order-types/repair").await.text().await.unwrap();
    assert!(page.contains("data-testid=\"workflow-steps\"") && page.contains("order.dispatch"));
    assert_eq!(attr_after(&page, "name=\"t1_acknowledge\"", "value").as_deref(), Some("15"), "level 1 default");
    // The steps as the form holds them (the textarea's text, unescaped).
    let start = page.find("data-testid=\"workflow-json\">").unwrap() + "data-testid=\"workflow-json\">".len();
    let end = start + page[start..].find("</textarea>").unwrap();
    let steps = page[start..end]
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&");
    let mut form: Vec<(String, String)> = vec![
        ("name_zh".into(), "报修单".into()),
        ("name_en".into(), "Repair".into()),
        ("sort_order".into(), "10".into()),
        ("enabled".into(), "true".into()),
        ("calendar".into(), "office".into()),
        ("start".into(), "08:30".into()),
        ("end".into(), "17:30".into()),
        ("holidays".into(), "2026-10-01\n2026-10-02".into()),
        ("workdays".into(), "2026-10-10".into()),
        ("return_visit".into(), "true".into()),
        ("customer_reply".into(), "true".into()),
        ("workflow".into(), steps.clone()),
    ];
    for d in 1..=5 {
        form.push(("weekday".into(), d.to_string()));
    }
    for level in 1..=4 {
        for (k, v) in [("acknowledge", 20 * level), ("arrive", 60 * level), ("complete", 240 * level), ("reply", 1440)]
        {
            form.push((format!("t{level}_{k}"), v.to_string()));
        }
    }
    let post = |f: Vec<(String, String)>| {
        let web = &web;
        async move {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            web.post_form("/admin/order-types/repair", &pairs).await
        }
    };
    let r = post(form.clone()).await;
    assert!(location(&r).contains("msg=saved"), "{}", location(&r));
    let api = app.api("admin").await;
    let types = api.get("/api/v1/order-types").await.body;
    let repair = types.as_array().unwrap().iter().find(|t| t["code"] == "repair").unwrap();
    let targets: serde_json::Value = serde_json::from_str(repair["targets"].as_str().unwrap()).unwrap();
    assert_eq!(targets["1"]["acknowledge"], 20);
    assert_eq!(targets["4"]["complete"], 960);
    let cal: serde_json::Value = serde_json::from_str(repair["calendar"].as_str().unwrap()).unwrap();
    assert_eq!(cal["hours"], serde_json::json!([510, 1050]));
    assert_eq!(cal["holidays"].as_array().unwrap().len(), 2);

    // Refusals keep the stored type: an unsound workflow, a bad time, bad JSON, a bad target.
    let with = |k: &str, v: &str| {
        let mut f = form.clone();
        f.retain(|(key, _)| key != k);
        f.push((k.to_string(), v.to_string()));
        f
    };
    for (f, code) in [
        (with("workflow", "{\"steps\": []}"), "unsound_workflow"),
        (with("start", "8.30"), "invalid_time"),
        (with("workflow", "{not json"), "invalid_workflow"),
        (with("t1_complete", "soon"), "invalid_target"),
        (with("holidays", "2026-13-01"), "invalid_date"),
    ] {
        let r = post(f).await;
        assert!(location(&r).contains("err=validation_failed"), "{code}: {}", location(&r));
        let page = web.get(&location(&r)).await.text().await.unwrap();
        assert!(page.contains("alert-error"), "{code}");
    }
    let again = api.get("/api/v1/order-types").await.body;
    assert_eq!(again, types, "nothing changed");

    // Only administrators of dictionaries and workflows.
    let mut agent = Web::new(&app);
    agent.login("agent", &app.password("agent")).await;
    assert_eq!(agent.get("/admin/order-types").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(web.get("/admin/order-types/teleport").await.status(), StatusCode::NOT_FOUND);
    app.stop().await;
});
