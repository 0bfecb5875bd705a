//! Tabular files in and out: CSV (UTF-8 or GBK, as Excel in China saves it) and XLSX
//! (R-CUS-03, R-DATA-03). Reading gives a [`Table`] of text cells with the file's line
//! numbers; writing streams rows into an XLSX whose memory stays flat (constant-memory
//! mode spills rows to a temporary file).

use std::io::{Cursor, Read, Seek};

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use crate::{ServiceError, ServiceResult};

/// A file read as rows of text.
#[derive(Debug, Clone)]
pub struct Table {
    /// `csv` or `xlsx`.
    pub format: &'static str,
    /// `utf-8`, `gbk` (CSV) or `xlsx`.
    pub encoding: &'static str,
    pub headers: Vec<String>,
    /// (1-based line or spreadsheet row, cells); blank rows are left out.
    pub records: Vec<(usize, Vec<String>)>,
}

/// XLSX files are ZIP archives.
pub fn is_xlsx(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// Decodes bytes as UTF-8 (with or without BOM) or, failing that, GBK.
pub fn decode(bytes: &[u8]) -> ServiceResult<(String, &'static str)> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(body) {
        return Ok((s.to_string(), "utf-8"));
    }
    let (s, _, bad) = encoding_rs::GBK.decode(body);
    if bad {
        return Err(ServiceError::validation("file", "unknown_encoding", "the file is neither UTF-8 nor GBK text"));
    }
    Ok((s.into_owned(), "gbk"))
}

/// Reads a CSV or XLSX file (the first worksheet); the first non-blank row is the header.
pub fn read_table(bytes: &[u8]) -> ServiceResult<Table> {
    if is_xlsx(bytes) { read_xlsx(bytes) } else { read_csv(bytes) }
}

fn read_csv(bytes: &[u8]) -> ServiceResult<Table> {
    let (text, encoding) = decode(bytes)?;
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| ServiceError::validation("file", "not_csv", e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut records = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| ServiceError::validation("file", "not_csv", format!("line {}: {e}", i + 2)))?;
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        records.push((i + 2, rec.iter().map(|c| c.trim().to_string()).collect()));
    }
    Ok(Table { format: "csv", encoding, headers, records })
}

/// The most an XLSX may expand to when unpacked: a small file must not become gigabytes
/// of XML in memory (a "zip bomb").
const MAX_XLSX_UNPACKED: u64 = 1 << 30;

fn read_xlsx(bytes: &[u8]) -> ServiceResult<Table> {
    let bad = |detail: String| ServiceError::validation("file", "not_xlsx", detail);
    check_unpacked_size(Cursor::new(bytes)).map_err(bad)?;
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|e| bad(e.to_string()))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| bad("the workbook has no worksheet".into()))?
        .map_err(|e| bad(e.to_string()))?;
    let first_row = range.start().map(|(r, _)| r as usize).unwrap_or(0);
    let cell = |d: &Data| -> String {
        match d {
            Data::Empty => String::new(),
            Data::String(s) => s.trim().to_string(),
            Data::Int(i) => i.to_string(),
            // Phone and account numbers typed into Excel are numbers: show them whole.
            Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
            Data::Float(f) => f.to_string(),
            Data::Bool(b) => b.to_string(),
            Data::DateTime(dt) => excel_serial_to_text(dt.as_f64()),
            Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
            Data::Error(e) => format!("#{e:?}"),
        }
    };
    let mut rows = range.rows().enumerate().map(|(i, r)| (first_row + i + 1, r.iter().map(cell).collect::<Vec<_>>()));
    let headers = loop {
        match rows.next() {
            None => return Err(bad("the first worksheet is empty".into())),
            Some((_, r)) if r.iter().all(String::is_empty) => continue,
            Some((_, r)) => break r,
        }
    };
    let records = rows.filter(|(_, r)| r.iter().any(|c| !c.is_empty())).collect();
    Ok(Table { format: "xlsx", encoding: "xlsx", headers, records })
}

fn check_unpacked_size(r: impl Read + Seek) -> Result<(), String> {
    let mut zip = zip::ZipArchive::new(r).map_err(|e| e.to_string())?;
    let mut total = 0u64;
    for i in 0..zip.len() {
        total += zip.by_index_raw(i).map_err(|e| e.to_string())?.size();
    }
    if total > MAX_XLSX_UNPACKED {
        return Err(format!("the workbook unpacks to {total} bytes, more than {MAX_XLSX_UNPACKED}"));
    }
    Ok(())
}

/// Excel's day count (1900 system, day 0 = 1899-12-30) as `YYYY-MM-DD` or
/// `YYYY-MM-DD HH:MM:SS` when it has a time of day.
fn excel_serial_to_text(serial: f64) -> String {
    let days = serial.floor();
    let secs = ((serial - days) * 86_400.0).round() as i64;
    let base = jiff::civil::date(1899, 12, 30);
    let Ok(d) = base.checked_add(jiff::Span::new().days(days as i64)) else { return serial.to_string() };
    if secs == 0 { d.to_string() } else { format!("{d} {:02}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60) }
}

/// Columns written as numbers (everything else stays text, so account numbers and phones
/// keep their leading zeros).
fn numeric_column(name: &str) -> bool {
    name.ends_with("_fen")
        || matches!(
            name,
            "volume" | "reading" | "household_size" | "diameter_mm" | "initial_reading" | "total" | "count"
        )
}

/// A local `YYYY-MM-DDTHH:MM:SS` as an Excel date.
fn excel_datetime(v: &str) -> Option<rust_xlsxwriter::ExcelDateTime> {
    let d: jiff::civil::DateTime = v.parse().ok()?;
    let year = u16::try_from(d.year()).ok().filter(|y| (1900..=9999).contains(y))?;
    rust_xlsxwriter::ExcelDateTime::from_ymd(year, d.month() as u8, d.day() as u8)
        .and_then(|x| x.and_hms(d.hour() as u16, d.minute() as u8, d.second() as f64))
        .ok()
}

/// Excel's row limit per worksheet, header included.
const MAX_SHEET_ROWS: u32 = 1_048_576;

/// How a column's cells are written (see [`XlsxWriter::with_kinds`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    Text,
    /// Whole numbers (`0`).
    Integer,
    /// Numbers with one decimal (`0.0`).
    Decimal,
    /// Local date and time given as `YYYY-MM-DDTHH:MM:SS`, written as an Excel date
    /// (`yyyy-mm-dd hh:mm`), so it sorts and filters as a date.
    DateTime,
}

/// An XLSX being written row by row: bold frozen header, autofilter, numbers as numbers,
/// a new worksheet every 1,048,575 rows.
pub struct XlsxWriter {
    book: Workbook,
    sheet: usize,
    row: u32,
    columns: Vec<&'static str>,
    labels: Vec<String>,
    header: Format,
    /// Per-column kinds; columns without one are text, or numbers by name.
    kinds: Vec<CellKind>,
    date: Format,
    decimal: Format,
}

fn xe(e: XlsxError) -> ServiceError {
    ServiceError::Internal(format!("xlsx: {e}"))
}

impl XlsxWriter {
    /// `columns` are field names (they decide number columns); `labels` the header text.
    pub fn new(columns: &[&'static str], labels: Vec<String>) -> ServiceResult<XlsxWriter> {
        let mut w = XlsxWriter {
            book: Workbook::new(),
            sheet: 0,
            row: 0,
            columns: columns.to_vec(),
            labels,
            header: Format::new().set_bold().set_background_color(0xDDEBF7),
            kinds: Vec::new(),
            date: Format::new().set_num_format("yyyy-mm-dd hh:mm"),
            decimal: Format::new().set_num_format("0.0"),
        };
        w.add_sheet()?;
        Ok(w)
    }

    fn add_sheet(&mut self) -> ServiceResult<()> {
        let ws = self.book.add_worksheet_with_constant_memory().map_err(xe)?;
        self.sheet += 1;
        if self.sheet > 1 {
            ws.set_name(format!("Sheet{}", self.sheet)).map_err(xe)?;
        }
        for (c, label) in self.labels.iter().enumerate() {
            let width = (label.chars().map(|ch| if ch.is_ascii() { 1.0 } else { 2.0 }).sum::<f64>() + 2.0).max(10.0);
            ws.set_column_width(c as u16, width).map_err(xe)?;
            ws.write_string_with_format(0, c as u16, label, &self.header).map_err(xe)?;
        }
        ws.set_freeze_panes(1, 0).map_err(xe)?;
        self.row = 1;
        Ok(())
    }

    /// Gives each column a kind (numbers, decimals, dates); unparseable cells stay text.
    pub fn with_kinds(mut self, kinds: Vec<CellKind>) -> Self {
        self.kinds = kinds;
        self
    }

    pub fn push(&mut self, cells: &[String]) -> ServiceResult<()> {
        if self.row >= MAX_SHEET_ROWS {
            self.close_sheet()?;
            self.add_sheet()?;
        }
        let n = self.book.worksheets().len() - 1;
        let ws = self.book.worksheet_from_index(n).map_err(xe)?;
        for (c, v) in cells.iter().enumerate() {
            let (row, col) = (self.row, c as u16);
            if v.is_empty() {
                continue;
            }
            let kind = self.kinds.get(c).copied().unwrap_or_else(|| {
                if self.columns.get(c).is_some_and(|name| numeric_column(name)) {
                    CellKind::Integer
                } else {
                    CellKind::Text
                }
            });
            match kind {
                CellKind::Integer if v.parse::<i64>().is_ok() => {
                    ws.write_number(row, col, v.parse::<i64>().unwrap_or_default() as f64).map(|_| ())
                }
                CellKind::Decimal if v.parse::<f64>().is_ok_and(f64::is_finite) => ws
                    .write_number_with_format(row, col, v.parse::<f64>().unwrap_or_default(), &self.decimal)
                    .map(|_| ()),
                CellKind::DateTime if excel_datetime(v).is_some() => {
                    let d = excel_datetime(v).ok_or_else(|| ServiceError::Internal("date".into()))?;
                    ws.write_datetime_with_format(row, col, &d, &self.date).map(|_| ())
                }
                _ => ws.write_string(row, col, v).map(|_| ()),
            }
            .map_err(xe)?;
        }
        self.row += 1;
        Ok(())
    }

    fn close_sheet(&mut self) -> ServiceResult<()> {
        let n = self.book.worksheets().len() - 1;
        let last_col = self.labels.len().saturating_sub(1) as u16;
        let rows = self.row.saturating_sub(1).max(1);
        let ws = self.book.worksheet_from_index(n).map_err(xe)?;
        ws.autofilter(0, 0, rows, last_col).map_err(xe)?;
        Ok(())
    }

    /// Finishes the workbook into a writer (a file, usually).
    pub fn finish(mut self, out: impl std::io::Write + Seek + Send) -> ServiceResult<()> {
        self.close_sheet()?;
        self.book.save_to_writer(out).map_err(xe)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_utf8_bom_and_gbk() {
        let (s, enc) = decode("\u{feff}户号,户名\n".as_bytes()).unwrap();
        assert_eq!((s.as_str(), enc), ("户号,户名\n", "utf-8"));
        let (gbk, _, _) = encoding_rs::GBK.encode("户号,户名\nHZ1,张三\n");
        let (s, enc) = decode(&gbk).unwrap();
        assert_eq!((s.as_str(), enc), ("户号,户名\nHZ1,张三\n", "gbk"));
    }

    #[test]
    fn excel_dates() {
        assert_eq!(excel_serial_to_text(45658.0), "2025-01-01");
        assert_eq!(excel_serial_to_text(45658.5), "2025-01-01 12:00:00");
    }

    #[test]
    fn xlsx_round_trip() {
        let mut w = XlsxWriter::new(&["account_no", "volume"], vec!["户号".into(), "水量".into()]).unwrap();
        w.push(&["0012".into(), "17".into()]).unwrap();
        w.push(&["HZ2".into(), "".into()]).unwrap();
        let mut buf = Cursor::new(Vec::new());
        w.finish(&mut buf).unwrap();
        let t = read_table(buf.get_ref()).unwrap();
        assert_eq!(t.format, "xlsx");
        assert_eq!(t.headers, vec!["户号", "水量"]);
        assert_eq!(
            t.records,
            vec![(2, vec!["0012".to_string(), "17".to_string()]), (3, vec!["HZ2".to_string(), String::new()])]
        );
    }

    #[test]
    fn rejects_a_broken_zip() {
        let e = read_table(b"PK\x03\x04garbage").unwrap_err();
        assert!(e.to_string().contains("not_xlsx") || matches!(e, ServiceError::Validation { .. }));
    }
}
