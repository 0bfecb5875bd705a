//! The crews' phone app (R-WO-07): my open orders, an order's steps through the forms with
//! the check-in position, the installable app's manifest, service worker and icon.

use reqwest::StatusCode;
use waterdesk_services::orders::OrderInput;

use crate::backend_test;
use crate::helpers::{TestApp, Web, attr_after};
use crate::orders::{as_user, dispatched};

backend_test!(field_app_pages, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let s = app.services().clone();
    let (dispatcher, worker) = (as_user(&app, "dispatcher").await, as_user(&app, "worker").await);
    let input = OrderInput {
        type_code: "repair".into(),
        impact: "medium".into(),
        urgency: "medium".into(),
        title: "<script>alert(1)</script>表井漏水".into(),
        address: "上城区清泰街8号".into(),
        caller: "13912345678".into(),
        lat: Some(30.2500),
        lng: Some(120.1700),
        ..Default::default()
    };
    let o = dispatched(&app, &input, &worker).await;

    let mut web = Web::new(&app);
    assert_eq!(web.login("worker", &app.password("worker")).await.status(), StatusCode::SEE_OTHER);
    let home = web.get("/m").await;
    assert_eq!(home.status(), StatusCode::OK);
    let html = home.text().await.unwrap();
    assert!(html.contains(&format!("data-testid=\"field-order-{}\"", o.order_no)), "the new order is listed");
    assert!(html.contains("/m/manifest.webmanifest") && html.contains("/assets/field.js"));
    assert!(!html.contains("<script>alert(1)</script>"), "titles are escaped");

    // The order: navigation to the site, the caller masked for a crew member, acknowledge.
    let page = web.get(&format!("/m/orders/{}", o.id)).await.text().await.unwrap();
    assert!(page.contains("geo:30.250000,120.170000"), "navigate to the site");
    assert!(page.contains("139****5678") && !page.contains("13912345678"), "the caller is masked");
    assert!(page.contains("data-testid=\"field-action-acknowledge\"") && !page.contains("field-action-dispatch"));
    assert!(!page.contains("<script>alert(1)</script>"));
    web.refresh_csrf().await;
    let version = attr_after(&page, "name=\"version\"", "value").unwrap();
    let r =
        web.post_form(&format!("/orders/{}/actions/acknowledge", o.id), &[("version", &version), ("back", "m")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()["location"].to_str().unwrap().starts_with(&format!("/m/orders/{}?msg=", o.id)));
    // Check-in from 1.1 km away: flagged, not refused.
    let page = web.get(&format!("/m/orders/{}", o.id)).await.text().await.unwrap();
    assert!(page.contains("data-geo=\"required\""), "the start step asks for the position");
    let version = attr_after(&page, "name=\"version\"", "value").unwrap();
    let r = web
        .post_form(
            &format!("/orders/{}/actions/start", o.id),
            &[("version", &version), ("back", "m"), ("lat", "30.260000"), ("lng", "120.170000")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let after = s.order_get(&dispatcher, o.id).await.unwrap().order;
    assert_eq!(after.state, "in_progress");
    let fields: serde_json::Value = serde_json::from_str(&after.fields).unwrap();
    assert_eq!((fields["checkin_distance_m"].as_str(), fields["checkin_far"].as_str()), (Some("1112"), Some("1")));
    let page = web.get(&format!("/m/orders/{}", o.id)).await.text().await.unwrap();
    assert!(page.contains("field-action-complete") && page.contains("f_materials"), "complete with materials");
    assert!(page.contains("data-upload=\"/api/v1/orders/"), "photos can be added");

    // The installable app.
    let r = web.get("/m/manifest.webmanifest").await;
    assert_eq!(r.headers()["content-type"], "application/manifest+json");
    let m: serde_json::Value = r.json().await.unwrap();
    assert_eq!((m["start_url"].as_str(), m["display"].as_str()), (Some("/m"), Some("standalone")));
    let r = TestApp::client().get(app.url("/m/sw.js")).send().await.unwrap();
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    assert!(r.text().await.unwrap().contains("caches.open"));
    let r = TestApp::client().get(app.url("/assets/field.js")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Others: the agent has nobody's orders here; the customer may not come in.
    let mut agent = Web::new(&app);
    agent.login("agent", &app.password("agent")).await;
    let html = agent.get("/m").await.text().await.unwrap();
    assert!(html.contains("data-testid=\"field-empty\""));
    let mut customer = Web::new(&app);
    customer.login("customer", &app.password("customer")).await;
    assert_eq!(customer.get("/m").await.status(), StatusCode::FORBIDDEN);
    app.stop().await;
});
