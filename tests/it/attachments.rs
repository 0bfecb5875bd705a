//! Attachments and the crew's field steps (R-WO-07, R-CALL-01): photos, videos and
//! signatures checked by what the bytes are, thumbnails, repeated uploads recognised,
//! visibility; the check-in's distance flagged; the new-order alert.

use reqwest::StatusCode;
use serde_json::json;
use waterdesk_services::audit::AuditCtx;
use waterdesk_services::orders::{ActInput, OrderInput};

use crate::backend_test;
use crate::helpers::{TestApp, next_event};
use crate::orders::{act, as_user, dispatched};

/// A real image, encoded.
fn image_bytes(w: u32, h: u32, format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 120]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, format).unwrap();
    out.into_inner()
}

backend_test!(order_photos_videos_and_signatures, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let s = app.services().clone();
    let ctx = AuditCtx::cli("test");
    let (dispatcher, worker) = (as_user(&app, "dispatcher").await, as_user(&app, "worker").await);
    let input = OrderInput {
        type_code: "repair".into(),
        impact: "medium".into(),
        urgency: "medium".into(),
        title: "莫干山路水管漏水".into(),
        address: "拱墅区莫干山路100号".into(),
        lat: Some(30.3000),
        lng: Some(120.1500),
        ..Default::default()
    };
    let o = s.order_create(&dispatcher, &input, &ctx).await.unwrap();
    let url = format!("/api/v1/orders/{}/attachments", o.id);

    // The crew member cannot see the order before it is theirs.
    let crew = app.api("worker").await;
    let jpeg = image_bytes(1600, 1200, image::ImageFormat::Jpeg);
    assert_eq!(
        crew.upload(&format!("{url}?stage=before"), "image/jpeg", jpeg.clone()).await.status,
        StatusCode::NOT_FOUND
    );

    // Dispatched to them, they acknowledge (the phone hears of it first), then upload.
    let token = app.token("worker").await;
    let stream = TestApp::client().get(app.url("/api/v1/events/stream")).bearer_auth(&token).send().await.unwrap();
    let alert = tokio::spawn(next_event(stream, "order.assigned"));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let o = s.order_act(&dispatcher, o.id, "accept", &act(o.version, &[]), &ctx).await.unwrap();
    let d = ActInput { assignee_id: Some(worker.user_id), ..act(o.version, &[]) };
    let o = s.order_act(&dispatcher, o.id, "dispatch", &d, &ctx).await.unwrap();
    let seen = tokio::time::timeout(std::time::Duration::from_secs(5), alert).await.unwrap().unwrap();
    assert!(seen.contains(&o.order_no), "{seen}");
    let r = crew
        .upload(&format!("{url}?stage=before&name=IMG_0001.jpg&lat=30.3001&lng=120.1501"), "image/jpeg", jpeg.clone())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(
        (r.body["kind"].as_str(), r.body["width"].as_i64(), r.body["height"].as_i64()),
        (Some("image"), Some(1600), Some(1200))
    );
    assert_eq!(r.body["has_thumb"], true);
    assert!(r.body.get("storage_key").is_none(), "where the file lives is not shown");
    let photo = r.body["id"].as_i64().unwrap();
    // The same photo again (a retry on a bad network) is the same attachment.
    let again = crew.upload(&format!("{url}?stage=before"), "image/jpeg", jpeg.clone()).await;
    assert_eq!((again.status, again.body["id"].as_i64()), (StatusCode::OK, Some(photo)));

    // The file and its thumbnail come back.
    let (st, ct, body) = crew.bytes(&format!("/api/v1/attachments/{photo}")).await;
    assert_eq!((st, ct.as_str(), body.len()), (StatusCode::OK, "image/jpeg", jpeg.len()));
    let (st, ct, thumb) = crew.bytes(&format!("/api/v1/attachments/{photo}?thumb=true")).await;
    assert_eq!((st, ct.as_str()), (StatusCode::OK, "image/jpeg"));
    let t = image::load_from_memory(&thumb).unwrap();
    assert_eq!((t.width(), t.height()), (320, 240));

    // A PNG signature and a short video.
    let png = image_bytes(600, 200, image::ImageFormat::Png);
    let r = crew.upload(&format!("{url}?stage=signature"), "image/png", png).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let mut mp4 = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom".to_vec();
    mp4.extend(std::iter::repeat_n(7u8, 4096));
    let r = crew.upload(&format!("{url}?stage=during"), "video/mp4", mp4).await;
    assert_eq!(
        (r.status, r.body["kind"].as_str(), r.body["has_thumb"].as_bool()),
        (StatusCode::CREATED, Some("video"), Some(false))
    );
    let (st, _, _) = crew.bytes(&format!("/api/v1/attachments/{}?thumb=true", r.body["id"])).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "videos have no thumbnail");

    // What is refused, and why.
    let mut big = vec![0xFF, 0xD8, 0xFF, 0xE0];
    big.resize(11 * 1024 * 1024, 0);
    let mut truncated = image_bytes(100, 100, image::ImageFormat::Png);
    truncated.truncate(60);
    for (ct, bytes, code) in [
        ("application/octet-stream", b"MZ\x90\0\x03\0\0\0 a program".to_vec(), "unsupported_type"),
        (
            "image/svg+xml",
            b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec(),
            "unsupported_type",
        ),
        ("image/jpeg", image_bytes(10, 10, image::ImageFormat::Png), "type_mismatch"),
        ("image/png", truncated, "invalid_image"),
        ("image/jpeg", big, "too_large"),
        ("image/jpeg", vec![], "empty_file"),
    ] {
        let r = crew.upload(&url, ct, bytes).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{ct}: {:?}", r.body);
        assert!(r.body.to_string().contains(code), "{ct}: expected {code}: {}", r.body);
    }
    let r = crew.upload(&format!("{url}?stage=selfie"), "image/jpeg", jpeg.clone()).await;
    assert!(r.body.to_string().contains("unknown_stage"), "{:?}", r.body);
    let r = crew.upload(&format!("{url}?lat=123"), "image/jpeg", jpeg.clone()).await;
    assert!(r.body.to_string().contains("invalid_coordinate"), "{:?}", r.body);
    let mut huge = vec![0u8; 0];
    huge.resize(60 * 1024 * 1024, 1);
    // Refused while it is still arriving: a 413, or (when the server closes the connection
    // before the client has finished sending) a broken connection — never stored.
    let sent = crew
        .client
        .post(app.url(&url))
        .bearer_auth(crew.token.as_deref().unwrap())
        .header("content-type", "video/mp4")
        .body(huge)
        .send()
        .await;
    if let Ok(r) = sent {
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    // Others: the list for the agent; nothing for the customer; unknown ids.
    let agent = app.api("agent").await;
    let list = agent.get(&url).await;
    assert_eq!((list.status, list.body.as_array().map(Vec::len)), (StatusCode::OK, Some(3)));
    let customer = app.api("customer").await;
    assert!(matches!(
        customer.bytes(&format!("/api/v1/attachments/{photo}")).await.0,
        StatusCode::NOT_FOUND | StatusCode::FORBIDDEN
    ));
    assert_eq!(crew.bytes("/api/v1/attachments/999999").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        crew.upload("/api/v1/orders/999999/attachments", "image/jpeg", jpeg.clone()).await.status,
        StatusCode::NOT_FOUND
    );

    // A closed order takes no more files.
    let o = s
        .order_act(&dispatcher, o.id, "cancel", &ActInput { note: "重复工单".into(), ..act(o.version, &[]) }, &ctx)
        .await
        .unwrap();
    assert_eq!(o.state, "cancelled");
    let r = agent.upload(&url, "image/png", image_bytes(20, 20, image::ImageFormat::Png)).await;
    assert!(r.body.to_string().contains("order_closed"), "{:?}", r.body);
    app.stop().await;
});

// R-WO-07: a check-in far from the site is flagged, not refused; a near one records its distance.
backend_test!(check_in_distance_is_flagged, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let s = app.services().clone();
    let ctx = AuditCtx::cli("test");
    let worker = as_user(&app, "worker").await;
    let mut orders = Vec::new();
    for (title, lat) in [("近处签到", 30.30005), ("远处签到", 30.3200)] {
        let input = OrderInput {
            type_code: "maintenance".into(),
            impact: "low".into(),
            urgency: "low".into(),
            title: title.into(),
            lat: Some(30.3000),
            lng: Some(120.1500),
            ..Default::default()
        };
        let o = dispatched(&app, &input, &worker).await;
        let o = s.order_act(&worker, o.id, "acknowledge", &act(o.version, &[]), &ctx).await.unwrap();
        let here = ActInput { lat: Some(lat), lng: Some(120.1500), ..act(o.version, &[]) };
        orders.push(s.order_act(&worker, o.id, "start", &here, &ctx).await.unwrap());
    }
    let fields = |o: &waterdesk_store::orders::Order| serde_json::from_str::<serde_json::Value>(&o.fields).unwrap();
    let near = fields(&orders[0]);
    assert_eq!(near["checkin_distance_m"], "6");
    assert!(near.get("checkin_far").is_none());
    let far = fields(&orders[1]);
    assert_eq!((far["checkin_distance_m"].as_str(), far["checkin_far"].as_str()), (Some("2224"), Some("1")));
    assert_eq!(orders[1].state, "in_progress", "flagged, not refused");
    app.stop().await;
});

// R-CALL-01: a contact's files (a customer's photo sent through WeChat).
backend_test!(contact_attachments, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let agent = app.api("agent").await;
    let c = agent
        .post("/api/v1/contacts", json!({"channel": "wechat", "category": "repair", "content": "楼道水管滴水，附照片"}))
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{:?}", c.body);
    let id = c.body["contact"]["id"].as_i64().or(c.body["id"].as_i64()).unwrap();
    let url = format!("/api/v1/contacts/{id}/attachments");
    let r = agent.upload(&url, "image/webp", image_bytes(64, 48, image::ImageFormat::WebP)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["contact_id"].as_i64(), Some(id));
    assert_eq!(agent.get(&url).await.body.as_array().map(Vec::len), Some(1));
    // The contact's page shows it, and offers to add more.
    let mut web = crate::helpers::Web::new(&app);
    web.login("agent", &app.password("agent")).await;
    let page = web.get(&format!("/contacts/{id}")).await.text().await.unwrap();
    assert!(page.contains(&format!("/api/v1/attachments/{}?thumb=true", r.body["id"])), "thumbnail on the page");
    assert!(page.contains(&format!("data-upload=\"{url}\"")) && page.contains("data-upload-input"));
    let crew = app.api("worker").await;
    let r = crew.upload(&url, "image/webp", image_bytes(64, 48, image::ImageFormat::WebP)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    app.stop().await;
});
