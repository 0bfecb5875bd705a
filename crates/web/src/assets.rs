//! Static assets compiled into the binary: our CSS/JS, and front-end packages from npm
//! (copied from `node_modules` by build.rs, pinned by the committed package-lock.json).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

struct Asset {
    name: &'static str,
    mime: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset { name: "app.css", mime: "text/css; charset=utf-8", body: include_bytes!("../assets/app.css") },
    Asset { name: "app.js", mime: "text/javascript; charset=utf-8", body: include_bytes!("../assets/app.js") },
    Asset { name: "field.js", mime: "text/javascript; charset=utf-8", body: include_bytes!("../assets/field.js") },
    Asset {
        name: "api-docs.js",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/api-docs.js"),
    },
    Asset {
        name: "vendor/swagger-ui.css",
        mime: "text/css; charset=utf-8",
        body: include_bytes!(concat!(env!("OUT_DIR"), "/vendor/swagger-ui.css")),
    },
    Asset {
        name: "vendor/swagger-ui-bundle.js",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!(concat!(env!("OUT_DIR"), "/vendor/swagger-ui-bundle.js")),
    },
    Asset {
        name: "vendor/leaflet.js",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!(concat!(env!("OUT_DIR"), "/vendor/leaflet.js")),
    },
    Asset {
        name: "vendor/leaflet.css",
        mime: "text/css; charset=utf-8",
        body: include_bytes!(concat!(env!("OUT_DIR"), "/vendor/leaflet.css")),
    },
    Asset { name: "query.js", mime: "text/javascript; charset=utf-8", body: include_bytes!("../assets/query.js") },
    Asset {
        name: "vendor/echarts.min.js",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!(concat!(env!("OUT_DIR"), "/vendor/echarts.min.js")),
    },
    Asset {
        name: "dashboard.js",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/dashboard.js"),
    },
    Asset {
        name: "progress.js",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/progress.js"),
    },
    Asset {
        name: "dispatch.js",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/dispatch.js"),
    },
];

/// Serves `/assets/{*path}`; only the names listed above exist (no file system access,
/// so no path traversal).
pub async fn asset(Path(path): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == path) {
        Some(a) => {
            ([(header::CONTENT_TYPE, a.mime), (header::CACHE_CONTROL, "public, max-age=3600")], a.body).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
