//! Streamed CSV exports (R-CUS-03, R-DATA-03): rows are read page by page and written to
//! the response as they come, so memory stays flat for a million rows.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tokio_stream::wrappers::ReceiverStream;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use waterdesk_services::import::column_label;
use waterdesk_services::sheet::XlsxWriter;
use waterdesk_store::customers::ExportKind;

use crate::i18n::Lang;

use crate::auth::Auth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Path;
use crate::pages::csv_cell;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_csv))
}

const PAGE: i64 = 5_000;

/// One CSV line (RFC 4180, formula-safe cells, CRLF).
pub(crate) fn line(cells: &[String]) -> String {
    let mut s = cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(",");
    s.push_str("\r\n");
    s
}

/// Export `customers` (one row per account), `meters`, `readings`, `bills` or `payments`
/// as CSV (UTF-8 with BOM) or, with the `.xlsx` suffix, as an Excel workbook; in the
/// caller's data scope, personal data masked without `customer.pii.read`. Headers are in
/// the caller's language and are read back by the imports.
#[utoipa::path(get, path = "/exports/{kind}", tag = "customers", params(("kind" = String, Path, description = "customers, meters, readings, bills or payments; optional suffix .csv or .xlsx")),
    responses((status = 200, content_type = "text/csv", description = "CSV file, or XLSX with the .xlsx suffix"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn export_csv(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(kind): Path<String>,
) -> Result<Response, ApiError> {
    let (kind_name, xlsx) = match kind.strip_suffix(".xlsx") {
        Some(k) => (k.to_string(), true),
        None => (kind.trim_end_matches(".csv").to_string(), false),
    };
    let kind = ExportKind::parse(&kind_name).ok_or_else(ApiError::not_found)?;
    let zh = ctx.lang == Lang::Zh;
    let labels: Vec<String> = kind.columns().iter().map(|c| column_label(c, zh)).collect();
    // The first page runs before the response starts, so a refusal is a proper error.
    let (first, next) = st.services().export_page(&p, kind, 0, PAGE).await?;
    let services = st.services().clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    if xlsx {
        let file = build_xlsx(&services, &p, kind, labels, first, next).await?;
        tokio::spawn(send_file(file, tx));
        return Ok(attachment(Body::from_stream(ReceiverStream::new(rx)), XLSX, &format!("{kind_name}.xlsx")));
    }
    tokio::spawn(async move {
        let mut chunk = String::from("\u{feff}");
        chunk.push_str(&line(&labels));
        for r in &first {
            chunk.push_str(&line(r));
        }
        if tx.send(Ok(Bytes::from(chunk))).await.is_err() {
            return;
        }
        let mut next = next;
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
    Ok(attachment(Body::from_stream(ReceiverStream::new(rx)), "text/csv; charset=utf-8", &format!("{kind_name}.csv")))
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// A download response.
pub(crate) fn attachment(body: Body, content_type: &'static str, file_name: &str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// Writes every page into a workbook (rows spill to a temporary file, so memory stays
/// flat) and returns the finished file, rewound.
async fn build_xlsx(
    services: &waterdesk_services::Services,
    p: &waterdesk_services::Principal,
    kind: ExportKind,
    labels: Vec<String>,
    first: Vec<Vec<String>>,
    mut next: Option<i64>,
) -> Result<std::fs::File, ApiError> {
    let mut w = XlsxWriter::new(kind.columns(), labels)?;
    for r in &first {
        w.push(r)?;
    }
    while let Some(after) = next {
        let (rows, n) = services.export_page(p, kind, after, PAGE).await?;
        next = n;
        for r in &rows {
            w.push(r)?;
        }
    }
    let file = tokio::task::spawn_blocking(move || -> Result<std::fs::File, ApiError> {
        use std::io::Seek;
        let mut f = tempfile::tempfile().map_err(|e| ApiError::internal(e.to_string()))?;
        w.finish(&mut f)?;
        f.rewind().map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(f)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok(file)
}

/// Streams a file to the response in 64 KiB chunks.
pub(crate) async fn send_file(file: std::fs::File, tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>) {
    use tokio::io::AsyncReadExt;
    let mut f = tokio::fs::File::from_std(file);
    loop {
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => return,
            Ok(n) => {
                buf.truncate(n);
                if tx.send(Ok(Bytes::from(buf))).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        }
    }
}
