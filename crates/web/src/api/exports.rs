//! Streamed CSV exports (R-CUS-03, R-DATA-03): rows are read page by page and written to
//! the response as they come, so memory stays flat for a million rows.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tokio_stream::wrappers::ReceiverStream;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use waterdesk_store::customers::ExportKind;

use crate::auth::Auth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Path;
use crate::pages::csv_cell;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_csv))
}

const PAGE: i64 = 5_000;

fn line(cells: &[String]) -> String {
    let mut s = cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(",");
    s.push_str("\r\n");
    s
}

/// Export `customers` (one row per account), `bills` or `payments` as CSV (UTF-8 with BOM),
/// in the caller's data scope; personal data masked without `customer.pii.read`.
#[utoipa::path(get, path = "/exports/{kind}", tag = "customers", params(("kind" = String, Path, description = "customers, bills or payments")),
    responses((status = 200, content_type = "text/csv", description = "CSV file"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn export_csv(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(kind): Path<String>,
) -> Result<Response, ApiError> {
    let kind_name = kind.trim_end_matches(".csv").to_string();
    let kind = ExportKind::parse(&kind_name).ok_or_else(ApiError::not_found)?;
    // The first page runs before the response starts, so a refusal is a proper error.
    let (first, mut next) = st.services().export_page(&p, kind, 0, PAGE).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let services = st.services().clone();
    tokio::spawn(async move {
        let mut head = String::from("\u{feff}");
        head.push_str(&line(&kind.columns().iter().map(|c| c.to_string()).collect::<Vec<_>>()));
        let mut chunk = head;
        for r in &first {
            chunk.push_str(&line(r));
        }
        if tx.send(Ok(Bytes::from(chunk))).await.is_err() {
            return;
        }
        while let Some(after) = next {
            match services.export_page(&p, kind, after, PAGE).await {
                Ok((rows, n)) => {
                    next = n;
                    let chunk: String = rows.iter().map(|r| line(r)).collect();
                    if tx.send(Ok(Bytes::from(chunk))).await.is_err() {
                        return; // the client went away
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "export failed mid-way");
                    let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
                    return;
                }
            }
        }
    });
    let mut resp = Body::from_stream(ReceiverStream::new(rx)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{kind_name}.csv\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}
