//! The crews' phone app (R-WO-07), under `/m`: an installable web app (manifest and
//! service worker) with my open orders, the new-order alert, an order with navigation to
//! the site, acknowledge, GPS check-in, photos and short videos, the customer's
//! signature, materials, completion — and position pings for dispatch.
//!
//! Steps are posted to the same `/orders/{id}/actions/{action}` door as the desk pages
//! (with `back=m` to come back here); files go to the attachments API. The pages work
//! as plain forms; `field.js` adds the position, the uploads, the signature pad and the
//! live alert.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use waterdesk_domain::permissions::perm;
use waterdesk_services::Principal;
use waterdesk_services::orders::OrderQuery;
use waterdesk_store::attachments::{Attachment, Owner};

use super::orders::{ActionView, OrderView, action_view, order_view, state_label};
use super::{FlashQuery, Layout, html};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/m", get(home))
        .route("/m/orders/{id}", get(order_page))
        .route("/m/manifest.webmanifest", get(manifest))
        .route("/m/sw.js", get(service_worker))
        .route("/m/icon.svg", get(icon))
}

/// One order in the crew's list.
pub struct Card {
    pub id: i64,
    pub order_no: String,
    pub title: String,
    pub address: String,
    pub state: String,
    pub priority: i64,
    pub overdue: bool,
    pub dispatched: String,
}

#[derive(Template)]
#[template(path = "field/home.html")]
pub struct HomePage {
    layout: Layout,
    cards: Vec<Card>,
}

async fn home(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    p.require(perm::ORDER_READ)?;
    let mut layout = Layout::new(&st, &p, &ctx, "m.title", &f).await;
    layout.title = layout.t("m.mine").to_string();
    let q = OrderQuery { open: true, assignee: Some("me".into()), limit: Some(100), ..Default::default() };
    let orders = st.services().order_list(&p, &q).await?;
    let cards = orders
        .into_iter()
        .map(|o| Card {
            id: o.id,
            state: state_label(ctx.lang, &o.state),
            dispatched: o.dispatched_at.map(|t| layout.dt(&t)).unwrap_or_default(),
            order_no: o.order_no,
            title: o.title,
            address: o.address,
            priority: o.priority,
            overdue: o.overdue,
        })
        .collect();
    Ok(html(&HomePage { layout, cards }))
}

/// A photo, video or signature of the order.
pub struct FileView {
    pub id: i64,
    pub stage: String,
    pub is_image: bool,
    pub time: String,
}

#[derive(Template)]
#[template(path = "field/order.html")]
pub struct OrderPage {
    layout: Layout,
    v: OrderView,
    actions: Vec<ActionView>,
    caller: String,
    /// (latitude, longitude) of the site, as text.
    site: Option<(String, String)>,
    files: Vec<FileView>,
    /// The caller may add files (the assignee while the order is open).
    can_upload: bool,
}

async fn order_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    p.require(perm::ORDER_READ)?;
    let s = st.services();
    let mut layout = Layout::new(&st, &p, &ctx, "m.title", &f).await;
    let v = order_view(&st, &p, ctx.lang, &layout, id).await?;
    layout.title = v.o.order_no.clone();
    let actions = s.order_available_actions(&p, &v.o).await?.into_iter().map(|a| action_view(ctx.lang, a)).collect();
    // Masked by the service for roles without `customer.pii.read`.
    let caller = v.o.caller.clone();
    let site =
        v.o.lat_e6.zip(v.o.lng_e6).map(|(a, b)| (format!("{:.6}", a as f64 / 1e6), format!("{:.6}", b as f64 / 1e6)));
    let files = file_views(&st, &p, &layout, Owner::Order(id)).await?;
    let open = !matches!(v.o.state.as_str(), "concluded" | "cancelled" | "rejected");
    let can_upload = open && (v.o.assignee_id == Some(p.user_id) || p.has(perm::ORDER_DISPATCH));
    Ok(html(&OrderPage { layout, v, actions, caller, site, files, can_upload }))
}

/// The attachments of an order or a contact as the pages show them.
pub(super) async fn file_views(
    st: &AppState,
    p: &Principal,
    layout: &Layout,
    owner: Owner,
) -> Result<Vec<FileView>, ApiError> {
    let attachments: Vec<Attachment> = st.services().attachments(p, owner).await?;
    Ok(attachments
        .into_iter()
        .map(|a| FileView {
            id: a.id,
            stage: layout.t(&format!("m.stage.{}", a.stage)).to_string(),
            is_image: a.kind == "image",
            time: layout.dt(&a.created_at),
        })
        .collect())
}

async fn manifest() -> Response {
    let body = serde_json::json!({
        "name": "waterdesk 外勤",
        "short_name": "外勤",
        "description": "水务工单外勤处理",
        "start_url": "/m",
        "scope": "/m",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0b5cad",
        "lang": "zh-CN",
        "icons": [{"src": "/m/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"}],
    });
    ([(header::CONTENT_TYPE, "application/manifest+json")], body.to_string()).into_response()
}

/// The service worker: the app's shell works offline (the last copy of each page is
/// shown when the network is gone); everything else goes to the network.
const SERVICE_WORKER: &str = r#"const CACHE = 'waterdesk-field-v1';
const SHELL = ['/m', '/assets/app.css', '/assets/app.js', '/assets/field.js', '/m/icon.svg'];
self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});
self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});
self.addEventListener('fetch', (e) => {
  const req = e.request;
  if (req.method !== 'GET' || new URL(req.url).origin !== location.origin) return;
  if (req.mode === 'navigate') {
    e.respondWith(fetch(req).then((res) => {
      const copy = res.clone();
      if (res.ok) caches.open(CACHE).then((c) => c.put(req, copy));
      return res;
    }).catch(() => caches.match(req).then((r) => r || caches.match('/m'))));
  } else if (req.url.includes('/assets/')) {
    e.respondWith(caches.match(req).then((r) => r || fetch(req)));
  }
});
"#;

async fn service_worker() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::HeaderName::from_static("service-worker-allowed"), "/m"),
        ],
        SERVICE_WORKER,
    )
        .into_response()
}

async fn icon() -> Response {
    const SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 96 96"><rect width="96" height="96" rx="20" fill="#0b5cad"/><path fill="#fff" d="M48 14C38 30 28 41 28 54a20 20 0 0 0 40 0c0-13-10-24-20-40z"/></svg>"##;
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=86400")], SVG).into_response()
}
