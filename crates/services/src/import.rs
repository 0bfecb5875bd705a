//! Imports (R-CUS-03) of customers with their accounts and meters, meter readings, bills
//! and payments, from CSV (UTF-8 or GBK) or XLSX, with Chinese or English headers.
//!
//! Every import checks the whole file first (row-level report: line, column, code,
//! reason), then writes each row through the same rules as the API, each row under a
//! savepoint. `all_or_nothing` writes the file in one transaction and rolls it back if
//! any row fails; `skip_bad_rows` commits every [`CHUNK`] rows and leaves the bad rows
//! out. Re-importing a file changes nothing: rows are matched by account number, meter
//! and day, account and period, or transaction id, and reported as unchanged.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use waterdesk_domain::money::Fen;
use waterdesk_domain::permissions::perm;
use waterdesk_domain::phone::{Phone, valid_id_number};
use waterdesk_store::billing::{self, NewBill};
use waterdesk_store::customers::{self as repo, Account};
use waterdesk_store::{AnyConnection, Savepoint, Tx, savepoint};

use crate::audit::{AuditCtx, security_in};
use crate::customers::{AccountInput, CustomerInput, MeterInput, PAYMENT_CHANNELS, PhoneInput, READING_SOURCES};
use crate::sheet::{Table, read_table};
use crate::{Principal, ServiceError, ServiceResult, Services};

type Columns = &'static [(&'static str, &'static [&'static str])];

const CUSTOMER_COLUMNS: Columns = &[
    ("account_no", &["户号", "用户编号", "account_no"]),
    ("name", &["户名", "客户名称", "姓名", "name"]),
    ("phone", &["电话", "手机", "联系电话", "phone"]),
    ("id_number", &["证件号码", "身份证号", "id_number"]),
    ("address", &["地址", "用水地址", "address"]),
    ("category", &["用水类别", "category"]),
    ("household_size", &["人口", "人口数", "household_size"]),
    ("book_no", &["册本号", "book_no"]),
    ("meter_serial", &["表号", "水表编号", "meter_serial"]),
    ("diameter_mm", &["口径", "diameter_mm"]),
    ("installed_on", &["装表日期", "installed_on"]),
];

const READING_COLUMNS: Columns = &[
    ("account_no", &["户号", "用户编号", "account_no"]),
    ("meter_serial", &["表号", "水表编号", "meter_serial"]),
    ("read_on", &["抄表日期", "read_on"]),
    ("reading", &["本次读数", "读数", "reading"]),
    ("source", &["来源", "source"]),
];

const BILL_COLUMNS: Columns = &[
    ("account_no", &["户号", "用户编号", "account_no"]),
    ("period", &["账期", "period"]),
    ("read_from", &["起始日期", "read_from"]),
    ("read_to", &["截止日期", "read_to"]),
    ("volume", &["水量", "用水量", "volume"]),
    ("water_fen", &["水费(分)", "water_fen"]),
    ("water", &["水费", "水费(元)", "water"]),
    ("sewage_fen", &["污水处理费(分)", "sewage_fen"]),
    ("sewage", &["污水处理费", "污水处理费(元)", "sewage"]),
    ("paid_fen", &["已缴(分)", "paid_fen"]),
    ("paid", &["已缴", "已缴(元)", "paid"]),
    ("due_on", &["缴费期限", "due_on"]),
];

const PAYMENT_COLUMNS: Columns = &[
    ("account_no", &["户号", "用户编号", "account_no"]),
    ("paid_at", &["缴费时间", "paid_at"]),
    ("amount_fen", &["金额(分)", "amount_fen"]),
    ("amount", &["金额", "金额(元)", "amount"]),
    ("channel", &["渠道", "缴费渠道", "channel"]),
    ("external_txn_id", &["交易流水号", "流水号", "external_txn_id"]),
    ("note", &["备注", "note"]),
];

/// Labels of export-only columns: (field, 中文).
const EXTRA_LABELS: &[(&str, &str)] = &[
    ("kind", "客户类型"),
    ("status", "状态"),
    ("tariff_code", "水价"),
    ("total_fen", "应缴(分)"),
    ("model", "型号"),
    ("removed_on", "拆表日期"),
    ("initial_reading", "起始读数"),
    ("last_reading", "最近读数"),
    ("volume_m3", "水量"),
];

/// The header for a field in exports: Chinese (the first import alias) or the field name.
pub fn column_label(field: &str, zh: bool) -> String {
    if !zh {
        return field.to_string();
    }
    [CUSTOMER_COLUMNS, READING_COLUMNS, BILL_COLUMNS, PAYMENT_COLUMNS]
        .iter()
        .flat_map(|c| c.iter())
        .find(|(f, _)| *f == field)
        .map(|(_, names)| names[0])
        .or_else(|| EXTRA_LABELS.iter().find(|(f, _)| *f == field).map(|(_, l)| *l))
        .unwrap_or(field)
        .to_string()
}

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    /// One row per account: holder, account and (for new accounts) its meter.
    Customers,
    /// Meter readings; each bills its month like a reading entered by hand.
    Readings,
    /// Bills from a previous billing system (history), with what was paid of them.
    Bills,
    /// Payments, idempotent by transaction id.
    Payments,
}

impl ImportKind {
    pub fn parse(s: &str) -> Option<ImportKind> {
        match s {
            "customers" => Some(ImportKind::Customers),
            "readings" => Some(ImportKind::Readings),
            "bills" => Some(ImportKind::Bills),
            "payments" => Some(ImportKind::Payments),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ImportKind::Customers => "customers",
            ImportKind::Readings => "readings",
            ImportKind::Bills => "bills",
            ImportKind::Payments => "payments",
        }
    }

    /// The columns understood: (field, accepted headers).
    pub fn columns(self) -> Columns {
        match self {
            ImportKind::Customers => CUSTOMER_COLUMNS,
            ImportKind::Readings => READING_COLUMNS,
            ImportKind::Bills => BILL_COLUMNS,
            ImportKind::Payments => PAYMENT_COLUMNS,
        }
    }

    /// Required fields; `a|b` means one of them.
    fn required(self) -> &'static [&'static str] {
        match self {
            ImportKind::Customers => &["account_no", "name", "address"],
            ImportKind::Readings => &["account_no", "read_on", "reading"],
            ImportKind::Bills => &["account_no", "period", "volume", "water_fen|water"],
            ImportKind::Payments => &["account_no", "amount_fen|amount", "external_txn_id"],
        }
    }

    fn permission(self) -> &'static str {
        match self {
            ImportKind::Customers => perm::CUSTOMER_WRITE,
            _ => perm::BILLING_WRITE,
        }
    }
}

/// All rows or none, or the good rows only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    AllOrNothing,
    SkipBadRows,
}

impl ImportMode {
    pub fn name(self) -> &'static str {
        match self {
            ImportMode::AllOrNothing => "all_or_nothing",
            ImportMode::SkipBadRows => "skip_bad_rows",
        }
    }
}

/// One problem in the file.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RowError {
    /// 1-based line in the file (the header is line 1) or spreadsheet row.
    pub line: usize,
    pub column: String,
    pub code: String,
    pub message: String,
}

/// What the file looks like, before anything is written.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportPreview {
    pub kind: ImportKind,
    /// `csv` or `xlsx`.
    pub format: String,
    /// `utf-8`, `gbk` or `xlsx`.
    pub encoding: String,
    pub headers: Vec<String>,
    /// For each header, the field it maps to (empty: ignored).
    pub mapping: Vec<String>,
    /// Required fields no header maps to.
    pub missing: Vec<String>,
    pub rows: usize,
    /// The first rows as read.
    pub sample: Vec<Vec<String>>,
}

/// What an import did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportReport {
    pub kind: ImportKind,
    pub format: String,
    pub encoding: String,
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    /// Rows that were already there as given (a re-imported file).
    pub unchanged: usize,
    pub skipped: usize,
    /// True when nothing was written (all-or-nothing with errors).
    pub rolled_back: bool,
    pub errors: Vec<RowError>,
}

/// The most rows one file may hold.
pub const MAX_ROWS: usize = 200_000;
/// The most rows an all-or-nothing import may hold on SQLite (about ten seconds of writing).
pub const MAX_ATOMIC_ROWS_SQLITE: usize = 20_000;
/// Rows per transaction in `skip_bad_rows` mode, and between progress reports.
pub const CHUNK: usize = 1_000;

/// A table with its headers mapped to a kind's fields.
struct Mapped {
    table: Table,
    /// Header index of each field.
    index: HashMap<&'static str, usize>,
    /// Field per header.
    fields: Vec<Option<&'static str>>,
    kind: ImportKind,
}

fn map(kind: ImportKind, table: Table) -> Mapped {
    let fields: Vec<Option<&'static str>> = table
        .headers
        .iter()
        .map(|h| {
            kind.columns()
                .iter()
                .find(|(f, names)| f.eq_ignore_ascii_case(h) || names.iter().any(|n| n.eq_ignore_ascii_case(h)))
                .map(|(f, _)| *f)
        })
        .collect();
    let mut index = HashMap::new();
    for (i, f) in fields.iter().enumerate() {
        if let Some(f) = f {
            index.entry(*f).or_insert(i);
        }
    }
    Mapped { table, index, fields, kind }
}

impl Mapped {
    fn get<'a>(&self, row: &'a [String], field: &str) -> &'a str {
        self.index.get(field).and_then(|i| row.get(*i)).map(String::as_str).unwrap_or("")
    }

    fn missing(&self) -> Vec<String> {
        self.kind
            .required()
            .iter()
            .filter(|alts| !alts.split('|').any(|f| self.index.contains_key(f)))
            .map(|f| f.replace('|', " / "))
            .collect()
    }
}

/// One checked row, ready to write.
#[derive(Debug, Clone)]
enum Op {
    Customer {
        account_no: String,
        name: String,
        phone: String,
        id_number: String,
        address: String,
        category: &'static str,
        household_size: Option<i64>,
        book_no: String,
        meter: Option<(String, i64, String)>,
    },
    Reading {
        account_no: String,
        meter_serial: String,
        read_on: jiff::civil::Date,
        reading: i64,
        source: String,
    },
    Bill {
        account_no: String,
        period: String,
        read_from: String,
        read_to: String,
        volume: i64,
        water_fen: i64,
        sewage_fen: i64,
        paid_fen: i64,
        due_on: String,
    },
    Payment {
        account_no: String,
        paid_at: jiff::Timestamp,
        amount_fen: i64,
        channel: String,
        txn: String,
        note: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// Row errors of one row, collected with their line.
struct RowCheck<'a> {
    line: usize,
    errors: &'a mut Vec<RowError>,
    failed: bool,
}

impl RowCheck<'_> {
    fn err(&mut self, column: &str, code: &str, message: String) {
        self.failed = true;
        self.errors.push(RowError { line: self.line, column: column.into(), code: code.into(), message });
    }
}

/// What must be unique within one file.
#[derive(Default)]
struct FileKeys {
    seen: HashSet<String>,
    serials: HashSet<String>,
}

fn category(s: &str) -> Option<&'static str> {
    match s {
        "" | "居民" | "residential" => Some("residential"),
        "非居民" | "non_residential" => Some("non_residential"),
        "特种" | "special" => Some("special"),
        _ => None,
    }
}

/// A money cell: fen in the `_fen` column, or yuan with up to two decimals.
fn money(m: &Mapped, row: &[String], field: &str, c: &mut RowCheck<'_>, required: bool) -> i64 {
    let fen = m.get(row, &format!("{field}_fen"));
    let yuan = m.get(row, field);
    let parsed = if !fen.is_empty() {
        fen.parse::<i64>().ok()
    } else if !yuan.is_empty() {
        Fen::parse_yuan(yuan).map(|f| f.0)
    } else if required {
        c.err(field, "required", format!("金额不能为空 / {field} missing"));
        return 0;
    } else {
        Some(0)
    };
    match parsed {
        Some(x) if x >= 0 => x,
        _ => {
            c.err(field, "invalid_amount", format!("金额无效 / invalid amount: {}{}", fen, yuan));
            0
        }
    }
}

fn date_cell(m: &Mapped, row: &[String], field: &str, c: &mut RowCheck<'_>) -> Option<jiff::civil::Date> {
    let s = m.get(row, field);
    // Excel users write 2025/3/1 as often as 2025-03-01.
    let d = local_date(s);
    if d.is_none() {
        c.err(field, "invalid_date", format!("日期格式应为 YYYY-MM-DD / date: {s}"));
    }
    d
}

/// `2026-03-01`, `2026/3/1`, `2026.3.1`, optionally followed by `10:00` or `10:00:00`.
fn local_date(s: &str) -> Option<jiff::civil::Date> {
    let parts: Vec<&str> = s.trim().split(['-', '/', '.']).collect();
    match parts.as_slice() {
        [y, m, d] => jiff::civil::Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?).ok(),
        _ => None,
    }
}

fn local_datetime(s: &str) -> Option<jiff::civil::DateTime> {
    let s = s.trim();
    let (day, time) = s.split_once([' ', 'T']).unwrap_or((s, ""));
    let date = local_date(day)?;
    let t: Vec<&str> = if time.is_empty() { vec![] } else { time.split(':').collect() };
    let (h, m, sec) = match t.as_slice() {
        [] => (0, 0, 0),
        [h, m] => (h.parse().ok()?, m.parse().ok()?, 0),
        [h, m, sec] => (h.parse().ok()?, m.parse().ok()?, sec.parse().ok()?),
        _ => return None,
    };
    jiff::civil::DateTime::new(date.year(), date.month(), date.day(), h, m, sec, 0).ok()
}

/// Checks one row without the database; what the database decides is checked on write.
fn check_row(
    m: &Mapped,
    line: usize,
    row: &[String],
    keys: &mut FileKeys,
    errors: &mut Vec<RowError>,
    tz: &jiff::tz::TimeZone,
    today: jiff::civil::Date,
) -> Option<Op> {
    let mut c = RowCheck { line, errors, failed: false };
    let account_no = m.get(row, "account_no").to_ascii_uppercase();
    if account_no.is_empty() {
        c.err("account_no", "required", "户号不能为空 / account number missing".into());
    } else if crate::customers::account_no(&account_no).is_err() {
        c.err(
            "account_no",
            "invalid_account_no",
            format!("户号应为4-20位字母数字 / 4-20 letters and digits: {account_no}"),
        );
    }
    let op = match m.kind {
        ImportKind::Customers => {
            if !account_no.is_empty() && !keys.seen.insert(account_no.clone()) {
                c.err(
                    "account_no",
                    "duplicate_in_file",
                    "同一文件中户号重复 / account number repeated in this file".into(),
                );
            }
            let name = m.get(row, "name");
            if name.is_empty() {
                c.err("name", "required", "户名不能为空 / name missing".into());
            }
            let address = m.get(row, "address");
            if address.is_empty() {
                c.err("address", "required", "地址不能为空 / address missing".into());
            }
            let cat = category(m.get(row, "category"));
            if cat.is_none() {
                c.err(
                    "category",
                    "invalid_choice",
                    format!("用水类别应为居民/非居民/特种 / category: {}", m.get(row, "category")),
                );
            }
            let serial = m.get(row, "meter_serial");
            if !serial.is_empty() && !keys.serials.insert(serial.to_string()) {
                c.err(
                    "meter_serial",
                    "duplicate_in_file",
                    format!("同一文件中表号重复 / meter serial repeated: {serial}"),
                );
            }
            let phone = m.get(row, "phone");
            if !phone.is_empty() && Phone::parse(phone).is_err() {
                c.err("phone", "invalid_phone", format!("电话号码无效 / invalid phone number: {phone}"));
            }
            let hh = m.get(row, "household_size");
            let household_size = if hh.is_empty() {
                None
            } else {
                match hh.parse::<i64>() {
                    Ok(n) if (1..=50).contains(&n) => Some(n),
                    _ => {
                        c.err("household_size", "invalid_number", format!("人口应为1-50 / household size 1-50: {hh}"));
                        None
                    }
                }
            };
            let d = m.get(row, "diameter_mm");
            let diameter = if d.is_empty() { 20 } else { d.parse::<i64>().unwrap_or(-1) };
            if !(10..=1000).contains(&diameter) {
                c.err("diameter_mm", "invalid_number", format!("口径应为10-1000 / diameter 10-1000 mm: {d}"));
            }
            let installed = if m.get(row, "installed_on").is_empty() {
                today
            } else {
                date_cell(m, row, "installed_on", &mut c).unwrap_or(today)
            };
            Op::Customer {
                account_no: account_no.clone(),
                name: name.into(),
                phone: phone.into(),
                id_number: m.get(row, "id_number").to_ascii_uppercase(),
                address: address.into(),
                category: cat.unwrap_or("residential"),
                household_size,
                book_no: m.get(row, "book_no").into(),
                meter: (!serial.is_empty()).then(|| (serial.to_string(), diameter, installed.to_string())),
            }
        }
        ImportKind::Readings => {
            let read_on = date_cell(m, row, "read_on", &mut c);
            if read_on.is_some_and(|d| d > today) {
                c.err("read_on", "future_date", "抄表日期不能晚于今天 / a reading cannot be in the future".into());
            }
            let r = m.get(row, "reading");
            let reading = r.parse::<i64>().ok().filter(|x| *x >= 0);
            if reading.is_none() {
                c.err("reading", "invalid_reading", format!("读数应为非负整数 / a reading is a whole number ≥ 0: {r}"));
            }
            let source = match m.get(row, "source") {
                "" => "import",
                s => s,
            };
            if !READING_SOURCES.contains(&source) {
                c.err("source", "invalid_choice", format!("来源无效 / source: {source}"));
            }
            let serial = m.get(row, "meter_serial");
            let key = format!("{account_no}/{serial}/{}", m.get(row, "read_on"));
            if !keys.seen.insert(key) {
                c.err(
                    "read_on",
                    "duplicate_in_file",
                    "同一表同一天的读数重复 / one meter read twice on one day".into(),
                );
            }
            Op::Reading {
                account_no: account_no.clone(),
                meter_serial: serial.into(),
                read_on: read_on.unwrap_or(today),
                reading: reading.unwrap_or(0),
                source: source.into(),
            }
        }
        ImportKind::Bills => {
            let period = m.get(row, "period").replace('/', "-");
            let ok_period =
                period.len() == 7 && format!("{period}-01").parse::<jiff::civil::Date>().is_ok_and(|d| d <= today);
            if !ok_period {
                c.err("period", "invalid_period", format!("账期应为 YYYY-MM 且不晚于本月 / period: {period}"));
            }
            if !keys.seen.insert(format!("{account_no}/{period}")) {
                c.err(
                    "period",
                    "duplicate_in_file",
                    "同一户同一账期重复 / one account billed twice for a period".into(),
                );
            }
            let v = m.get(row, "volume");
            let volume = v.parse::<i64>().ok().filter(|x| *x >= 0);
            if volume.is_none() {
                c.err("volume", "invalid_number", format!("水量应为非负整数 / volume in whole m³: {v}"));
            }
            let water_fen = money(m, row, "water", &mut c, true);
            let sewage_fen = money(m, row, "sewage", &mut c, false);
            let paid_fen = money(m, row, "paid", &mut c, false);
            if paid_fen > water_fen + sewage_fen {
                c.err("paid", "paid_exceeds_total", "已缴金额大于应缴 / paid more than the bill".into());
            }
            let read_from = m.get(row, "read_from");
            let read_to = m.get(row, "read_to");
            for (f, v) in [("read_from", read_from), ("read_to", read_to)] {
                if !v.is_empty() {
                    date_cell(m, row, f, &mut c);
                }
            }
            let due_on = if m.get(row, "due_on").is_empty() {
                format!("{period}-01")
                    .parse::<jiff::civil::Date>()
                    .ok()
                    .and_then(|d| d.checked_add(jiff::Span::new().months(1)).ok())
                    .map(|d| d.to_string())
                    .unwrap_or_default()
            } else {
                date_cell(m, row, "due_on", &mut c).map(|d| d.to_string()).unwrap_or_default()
            };
            Op::Bill {
                account_no: account_no.clone(),
                read_from: if read_from.is_empty() { format!("{period}-01") } else { read_from.into() },
                read_to: if read_to.is_empty() { format!("{period}-01") } else { read_to.into() },
                period,
                volume: volume.unwrap_or(0),
                water_fen,
                sewage_fen,
                paid_fen,
                due_on,
            }
        }
        ImportKind::Payments => {
            let amount_fen = money(m, row, "amount", &mut c, true);
            if amount_fen == 0 && !c.failed {
                c.err("amount", "non_positive_amount", "金额必须大于0 / the amount must be positive".into());
            }
            let txn = m.get(row, "external_txn_id");
            if txn.is_empty() {
                c.err("external_txn_id", "required", "交易流水号不能为空 / transaction id missing".into());
            } else if !keys.seen.insert(txn.to_string()) {
                c.err(
                    "external_txn_id",
                    "duplicate_in_file",
                    format!("同一文件中流水号重复 / transaction id repeated: {txn}"),
                );
            }
            let channel = match m.get(row, "channel") {
                "" | "其他" => "other",
                "柜台" => "counter",
                "微信" => "wechat",
                "支付宝" => "alipay",
                "银行" | "银行代扣" => "bank",
                s => s,
            };
            if !PAYMENT_CHANNELS.contains(&channel) {
                c.err("channel", "invalid_choice", format!("缴费渠道无效 / channel: {channel}"));
            }
            let at = m.get(row, "paid_at");
            let paid_at = if at.is_empty() {
                None
            } else {
                at.parse::<jiff::Timestamp>()
                    .ok()
                    .or_else(|| local_datetime(at)?.to_zoned(tz.clone()).ok().map(|z| z.timestamp()))
                    .or_else(|| {
                        c.err("paid_at", "invalid_time", format!("时间格式应为 YYYY-MM-DD HH:MM:SS / time: {at}"));
                        None
                    })
            };
            Op::Payment {
                account_no: account_no.clone(),
                paid_at: paid_at.unwrap_or(jiff::Timestamp::UNIX_EPOCH),
                amount_fen,
                channel: channel.into(),
                txn: txn.into(),
                note: m.get(row, "note").into(),
            }
        }
    };
    (!c.failed).then_some(op)
}

/// The error of a row that failed on write.
fn row_error(line: usize, e: &ServiceError) -> RowError {
    let (column, code) = match e {
        ServiceError::Validation { field, code, .. } => (field.clone(), code.to_string()),
        other => (String::new(), other.code().to_string()),
    };
    RowError { line, column, code, message: e.to_string() }
}

/// Per-import caches: the caller's data scope and the accounts looked up so far.
struct WriteCtx {
    scope: Option<Vec<i64>>,
    accounts: HashMap<String, Account>,
    touched: Vec<i64>,
    now: jiff::Timestamp,
}

impl Services {
    fn read_mapped(&self, p: &Principal, kind: ImportKind, bytes: &[u8]) -> ServiceResult<Mapped> {
        p.require(kind.permission())?;
        Ok(map(kind, read_table(bytes)?))
    }

    /// Reads a file and shows how it would be imported.
    pub fn import_preview(&self, p: &Principal, kind: ImportKind, bytes: &[u8]) -> ServiceResult<ImportPreview> {
        let m = self.read_mapped(p, kind, bytes)?;
        Ok(ImportPreview {
            kind,
            format: m.table.format.into(),
            encoding: m.table.encoding.into(),
            mapping: m.fields.iter().map(|f| f.unwrap_or_default().to_string()).collect(),
            missing: m.missing(),
            rows: m.table.records.len(),
            sample: m.table.records.iter().take(10).map(|(_, r)| r.clone()).collect(),
            headers: m.table.headers.clone(),
        })
    }

    /// Checks a file for an import: permission, columns, size. Returns the row count.
    pub fn import_check(
        &self,
        p: &Principal,
        kind: ImportKind,
        mode: ImportMode,
        bytes: &[u8],
    ) -> ServiceResult<usize> {
        let m = self.read_mapped(p, kind, bytes)?;
        self.check_mapped(&m)?;
        self.check_mode(m.table.records.len(), mode)?;
        Ok(m.table.records.len())
    }

    fn check_mapped(&self, m: &Mapped) -> ServiceResult<()> {
        let missing = m.missing();
        if !missing.is_empty() {
            return Err(ServiceError::validation(
                "file",
                "missing_columns",
                format!("missing columns: {}", missing.join(", ")),
            ));
        }
        if m.table.records.len() > MAX_ROWS {
            return Err(ServiceError::validation("file", "too_many_rows", format!("at most {MAX_ROWS} rows per file")));
        }
        Ok(())
    }

    /// On SQLite one transaction holds the only writer: an all-or-nothing import of a big
    /// file would stop every other write (contacts, orders) until it ends. Such files go
    /// in `skip_bad_rows` mode, which commits every [`CHUNK`] rows.
    fn check_mode(&self, rows: usize, mode: ImportMode) -> ServiceResult<()> {
        if mode == ImportMode::AllOrNothing
            && self.db.backend() == waterdesk_store::Backend::Sqlite
            && rows > MAX_ATOMIC_ROWS_SQLITE
        {
            return Err(ServiceError::validation(
                "mode",
                "too_many_rows_for_all_or_nothing",
                format!(
                    "all-or-nothing imports at most {MAX_ATOMIC_ROWS_SQLITE} rows on SQLite; use skip_bad_rows or split the file"
                ),
            ));
        }
        Ok(())
    }

    /// Imports a file; `progress(done, total)` is called after every [`CHUNK`] rows.
    pub async fn import(
        &self,
        p: &Principal,
        kind: ImportKind,
        bytes: &[u8],
        mode: ImportMode,
        ctx: &AuditCtx,
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> ServiceResult<ImportReport> {
        let m = self.read_mapped(p, kind, bytes)?;
        self.check_mapped(&m)?;
        self.check_mode(m.table.records.len(), mode)?;
        let today = self.now().to_zoned(self.tz.clone()).date();
        let mut report = ImportReport {
            kind,
            format: m.table.format.into(),
            encoding: m.table.encoding.into(),
            rows: m.table.records.len(),
            created: 0,
            updated: 0,
            unchanged: 0,
            skipped: 0,
            rolled_back: false,
            errors: vec![],
        };
        // First pass: every row, without the database.
        let mut keys = FileKeys::default();
        let mut good = Vec::with_capacity(m.table.records.len());
        for (line, row) in &m.table.records {
            if let Some(op) = check_row(&m, *line, row, &mut keys, &mut report.errors, &self.tz, today) {
                good.push((*line, op));
            }
        }
        let total = report.rows;
        if !report.errors.is_empty() && mode == ImportMode::AllOrNothing {
            return self.import_rolled_back(p, report, bytes, ctx).await;
        }
        report.skipped = total - good.len();
        // Second pass: write, each row under a savepoint.
        let mut w = WriteCtx {
            scope: self.scope_unit_ids(p).await?,
            accounts: HashMap::new(),
            touched: vec![],
            now: self.now(),
        };
        let mut tx = self.db.begin().await?;
        let mut done = report.skipped;
        for (n, (line, op)) in good.iter().enumerate() {
            savepoint(&mut tx, Savepoint::Set).await?;
            match self.import_write(p, &mut tx, op, &mut w).await {
                Ok(o) => {
                    savepoint(&mut tx, Savepoint::Release).await?;
                    match o {
                        Outcome::Created => report.created += 1,
                        Outcome::Updated => report.updated += 1,
                        Outcome::Unchanged => report.unchanged += 1,
                    }
                }
                Err(e @ (ServiceError::Store(_) | ServiceError::Internal(_))) => return Err(e),
                Err(e) => {
                    savepoint(&mut tx, Savepoint::RollBack).await?;
                    savepoint(&mut tx, Savepoint::Release).await?;
                    report.errors.push(row_error(*line, &e));
                    report.skipped += 1;
                }
            }
            done += 1;
            if (n + 1) % CHUNK == 0 {
                self.reindex_touched(&mut tx, &mut w).await?;
                if mode == ImportMode::SkipBadRows {
                    crate::input::commit(tx).await?;
                    tx = self.db.begin().await?;
                }
                progress(done, total);
            }
        }
        if !report.errors.is_empty() && mode == ImportMode::AllOrNothing {
            drop(tx);
            return self.import_rolled_back(p, report, bytes, ctx).await;
        }
        self.reindex_touched(&mut tx, &mut w).await?;
        report.errors.sort_by_key(|e| e.line);
        self.import_audit(&mut tx, p, &report, bytes, ctx).await?;
        crate::input::commit(tx).await?;
        progress(total, total);
        Ok(report)
    }

    async fn import_rolled_back(
        &self,
        p: &Principal,
        mut report: ImportReport,
        bytes: &[u8],
        ctx: &AuditCtx,
    ) -> ServiceResult<ImportReport> {
        report.rolled_back = true;
        report.created = 0;
        report.updated = 0;
        report.unchanged = 0;
        report.skipped = report.rows;
        report.errors.sort_by_key(|e| e.line);
        let mut tx = self.db.begin().await?;
        self.import_audit(&mut tx, p, &report, bytes, ctx).await?;
        crate::input::commit(tx).await?;
        Ok(report)
    }

    /// One audit entry per import, naming the file by its hash.
    async fn import_audit(
        &self,
        conn: &mut AnyConnection,
        p: &Principal,
        r: &ImportReport,
        bytes: &[u8],
        ctx: &AuditCtx,
    ) -> ServiceResult<()> {
        use sha2::Digest;
        let outcome = if r.rolled_back {
            "rolled_back"
        } else if r.errors.is_empty() {
            "ok"
        } else {
            "partial"
        };
        let params = serde_json::json!({
            "rows": r.rows, "created": r.created, "updated": r.updated, "unchanged": r.unchanged,
            "skipped": r.skipped, "format": r.format, "encoding": r.encoding,
            "sha256": hex::encode(sha2::Sha256::digest(bytes)),
        });
        security_in(conn, self, &ctx.clone().for_principal(p), &format!("import.{}", r.kind.name()), outcome, params)
            .await
    }

    async fn reindex_touched(&self, tx: &mut Tx, w: &mut WriteCtx) -> ServiceResult<()> {
        if !w.touched.is_empty() {
            w.touched.sort_unstable();
            w.touched.dedup();
            repo::reindex(tx, self.db.backend(), &w.touched).await?;
            w.touched.clear();
        }
        Ok(())
    }

    /// The account of a row, in the caller's data scope (cached for the import).
    async fn import_account(&self, conn: &mut AnyConnection, no: &str, w: &mut WriteCtx) -> ServiceResult<Account> {
        if let Some(a) = w.accounts.get(no) {
            return Ok(a.clone());
        }
        let a = repo::get_account_by_no(conn, no)
            .await?
            .filter(|a| w.scope.as_ref().is_none_or(|s| s.contains(&a.unit_id)))
            .ok_or_else(|| {
                ServiceError::validation("account_no", "unknown_account", format!("no such account: {no}"))
            })?;
        w.accounts.insert(no.to_string(), a.clone());
        Ok(a)
    }

    async fn import_write(&self, p: &Principal, tx: &mut Tx, op: &Op, w: &mut WriteCtx) -> ServiceResult<Outcome> {
        let now = w.now;
        match op {
            Op::Customer { account_no, name, phone, id_number, address, category, household_size, book_no, meter } => {
                let existing = repo::get_account_by_no(tx, account_no).await?;
                if let Some(a) = &existing
                    && !w.scope.as_ref().is_none_or(|s| s.contains(&a.unit_id))
                {
                    return Err(ServiceError::validation(
                        "account_no",
                        "out_of_scope",
                        "the account belongs to a unit outside your data scope",
                    ));
                }
                let mut phones = match &existing {
                    Some(a) => repo::phones(tx, a.holder_id)
                        .await?
                        .into_iter()
                        .map(|p| PhoneInput { phone: p.phone, label: p.label })
                        .collect(),
                    None => vec![],
                };
                let phones_before = phones.len();
                if !phone.is_empty() {
                    let parsed = Phone::parse(phone).map(|p| p.to_string()).unwrap_or_else(|_| phone.clone());
                    if !phones.iter().any(|p| p.phone == parsed) {
                        phones.push(PhoneInput { phone: parsed, label: String::new() });
                    }
                }
                let holder = match &existing {
                    Some(a) => repo::get_customer(tx, a.holder_id).await?,
                    None => None,
                };
                let customer = CustomerInput {
                    kind: match &holder {
                        Some(h) => h.kind.clone(),
                        None if name.ends_with("公司") || name.ends_with("厂") => "organisation".into(),
                        None => "person".into(),
                    },
                    name: name.clone(),
                    id_type: if id_number.is_empty() {
                        holder.as_ref().map(|h| h.id_type.clone()).unwrap_or_default()
                    } else if valid_id_number(id_number) {
                        "id_card".into()
                    } else {
                        "other".into()
                    },
                    id_number: if id_number.is_empty() {
                        holder.as_ref().map(|h| h.id_number.clone()).unwrap_or_default()
                    } else {
                        id_number.clone()
                    },
                    email: holder.as_ref().map(|h| h.email.clone()).unwrap_or_default(),
                    wechat_openid: holder.as_ref().map(|h| h.wechat_openid.clone()).unwrap_or_default(),
                    note: holder.as_ref().map(|h| h.note.clone()).unwrap_or_default(),
                    unit_id: existing.as_ref().map(|a| a.unit_id),
                    phones,
                };
                let (cf, phone_rows) = self.check_customer(p, &customer).await?;
                let mut account = AccountInput {
                    account_no: account_no.clone(),
                    holder_id: 0,
                    address: address.clone(),
                    lat: None,
                    lon: None,
                    category: category.to_string(),
                    status: "active".into(),
                    book_no: book_no.clone(),
                    unit_id: existing.as_ref().map(|a| a.unit_id),
                    tariff_code: None,
                    household_size: household_size.unwrap_or(4),
                    e_bill: false,
                    transfer_reason: String::new(),
                };
                match (existing, holder) {
                    (Some(a), Some(h)) => {
                        account.holder_id = a.holder_id;
                        account.status = a.status.clone();
                        account.lat = a.lat_e6.map(|x| x as f64 / 1e6);
                        account.lon = a.lon_e6.map(|x| x as f64 / 1e6);
                        account.e_bill = a.e_bill;
                        account.household_size = household_size.unwrap_or(a.household_size);
                        if book_no.is_empty() {
                            account.book_no = a.book_no.clone();
                        }
                        // A changed category moves the account to that category's tariff.
                        account.tariff_code = (a.category == *category).then(|| a.tariff_code.clone());
                        let same_customer =
                            h.name == cf.name && h.id_number == cf.id_number && phone_rows.len() == phones_before;
                        let same_account = a.address == account.address
                            && a.category == account.category
                            && a.book_no == account.book_no
                            && a.household_size == account.household_size;
                        if same_customer && same_account {
                            return Ok(Outcome::Unchanged);
                        }
                        Self::customer_update_in(tx, a.holder_id, &cf, now).await?;
                        repo::set_phones(tx, a.holder_id, &phone_rows, now).await?;
                        let f = self.check_account(p, tx, &account).await?;
                        Self::account_update_in(tx, a.id, &f, "", now).await?;
                        w.touched.push(a.holder_id);
                        Ok(Outcome::Updated)
                    }
                    (Some(_), None) => Err(ServiceError::Internal("account without holder".into())),
                    (None, _) => {
                        let id = Self::customer_insert_in(tx, &cf, now).await?;
                        repo::set_phones(tx, id, &phone_rows, now).await?;
                        account.holder_id = id;
                        let f = self.check_account(p, tx, &account).await?;
                        let account_id = Self::account_insert_in(tx, &f, now).await?;
                        if let Some((serial, diameter_mm, installed_on)) = meter {
                            let m = MeterInput {
                                serial: serial.clone(),
                                diameter_mm: *diameter_mm,
                                model: String::new(),
                                installed_on: installed_on.clone(),
                                initial_reading: 0,
                                replaces_meter_id: None,
                            };
                            Self::meter_insert_in(tx, account_id, &m, now).await.map_err(|e| match e {
                                ServiceError::Validation { code, detail, .. } => {
                                    ServiceError::Validation { field: "meter_serial".into(), code, detail }
                                }
                                e => e,
                            })?;
                        }
                        w.touched.push(id);
                        Ok(Outcome::Created)
                    }
                }
            }
            Op::Reading { account_no, meter_serial, read_on, reading, source } => {
                let account = self.import_account(tx, account_no, w).await?;
                let meter_id = if meter_serial.is_empty() {
                    None
                } else {
                    let m = repo::meter_by_serial(tx, meter_serial)
                        .await?
                        .filter(|m| m.account_id == account.id)
                        .ok_or_else(|| {
                            ServiceError::validation(
                                "meter_serial",
                                "unknown_meter",
                                "no meter with this serial on the account",
                            )
                        })?;
                    Some(m.id)
                };
                let meter_id = match meter_id {
                    Some(id) => id,
                    None => Self::installed_meter(tx, account.id).await?.id,
                };
                match repo::reading_on(tx, meter_id, &read_on.to_string()).await? {
                    Some(r) if r == *reading => return Ok(Outcome::Unchanged),
                    Some(r) => {
                        return Err(ServiceError::validation(
                            "reading",
                            "reading_conflict",
                            format!("this meter has reading {r} on that day already"),
                        ));
                    }
                    None => {}
                }
                self.reading_in(tx, &account, meter_id, *read_on, *reading, source, now).await?;
                Ok(Outcome::Created)
            }
            Op::Bill { account_no, period, read_from, read_to, volume, water_fen, sewage_fen, paid_fen, due_on } => {
                let account = self.import_account(tx, account_no, w).await?;
                if let Some(b) = billing::bill_for(tx, account.id, period).await? {
                    if b.water_fen == *water_fen && b.sewage_fen == *sewage_fen && b.volume == *volume {
                        return Ok(Outcome::Unchanged);
                    }
                    return Err(ServiceError::validation(
                        "period",
                        "bill_conflict",
                        format!("the account has a different bill for {period} already"),
                    ));
                }
                let ytd = billing::ytd(tx, account.id, &period[..4]).await?;
                let bill_id = billing::insert_bill(
                    tx,
                    &NewBill {
                        account_id: account.id,
                        period,
                        read_from,
                        read_to,
                        volume: *volume,
                        water_fen: *water_fen,
                        sewage_fen: *sewage_fen,
                        due_on,
                        ytd_after: ytd + volume,
                        lines: "[]",
                    },
                    now,
                )
                .await?;
                if *paid_fen > 0 {
                    // What the previous system says was paid becomes a payment against this bill.
                    let txn = format!("IMPORT-{account_no}-{period}");
                    let (pid, created) = billing::insert_payment(
                        tx,
                        account.id,
                        "other",
                        *paid_fen,
                        now,
                        &txn,
                        "导入账单的已缴金额 / paid per imported bill",
                        now,
                    )
                    .await?;
                    if !created {
                        return Err(ServiceError::validation(
                            "period",
                            "txn_id_reused",
                            format!("payment {txn} exists"),
                        ));
                    }
                    billing::pay_bill(tx, bill_id, *paid_fen, now).await?;
                    billing::allocate(tx, pid, bill_id, *paid_fen).await?;
                }
                Ok(Outcome::Created)
            }
            Op::Payment { account_no, paid_at, amount_fen, channel, txn, note } => {
                let account = self.import_account(tx, account_no, w).await?;
                let paid_at = if *paid_at == jiff::Timestamp::UNIX_EPOCH { now } else { *paid_at };
                let (_, created) =
                    Self::payment_in(tx, account.id, channel, *amount_fen, paid_at, txn, note, now).await?;
                Ok(if created { Outcome::Created } else { Outcome::Unchanged })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sheet::read_table;

    fn mapped(kind: ImportKind, csv: &str) -> Mapped {
        map(kind, read_table(csv.as_bytes()).unwrap())
    }

    #[test]
    fn maps_chinese_and_english_headers() {
        let m = mapped(ImportKind::Customers, "户号,name,联系电话,其他\nHZ1,张三,13800138000,x\n");
        assert_eq!(m.get(&m.table.records[0].1, "phone"), "13800138000");
        assert_eq!(m.get(&m.table.records[0].1, "name"), "张三");
        assert_eq!(m.missing(), vec!["address".to_string()]);
        let m = mapped(ImportKind::Payments, "户号,金额,交易流水号\n");
        assert!(m.missing().is_empty());
        let m = mapped(ImportKind::Bills, "户号,账期,水量\n");
        assert_eq!(m.missing(), vec!["water_fen / water".to_string()]);
    }

    #[test]
    fn checks_rows_without_the_database() {
        let today = jiff::civil::date(2026, 11, 21);
        let tz = jiff::tz::TimeZone::UTC;
        let m = mapped(
            ImportKind::Payments,
            "户号,金额,交易流水号,缴费时间\nHZ0001,12.30,T1,2026/3/1 10:00:00\nHZ0001,-1,T2,\nHZ0001,5,T1,\n",
        );
        let mut keys = FileKeys::default();
        let mut errors = vec![];
        let ops: Vec<_> =
            m.table.records.iter().map(|(l, r)| check_row(&m, *l, r, &mut keys, &mut errors, &tz, today)).collect();
        assert!(matches!(&ops[0], Some(Op::Payment { amount_fen: 1230, .. })));
        assert!(ops[1].is_none() && ops[2].is_none());
        let codes: Vec<_> = errors.iter().map(|e| (e.line, e.code.as_str())).collect();
        assert_eq!(codes, vec![(3, "invalid_amount"), (4, "duplicate_in_file")]);
    }

    #[test]
    fn labels() {
        assert_eq!(column_label("account_no", true), "户号");
        assert_eq!(column_label("total_fen", true), "应缴(分)");
        assert_eq!(column_label("account_no", false), "account_no");
    }
}
