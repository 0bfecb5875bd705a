//! Import of customers with their accounts and meters from CSV (R-CUS-03): UTF-8 or GBK
//! (as Excel in China saves it), Chinese or English headers, a preview of the column
//! mapping, a row-level validation report, all-or-nothing or skip-bad-rows, and
//! idempotent re-import (rows are matched by account number).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use waterdesk_domain::permissions::perm;
use waterdesk_store::customers as repo;

use crate::audit::{AuditCtx, security_in};
use crate::customers::{AccountInput, CustomerInput, MeterInput, PhoneInput};
use crate::{Principal, ServiceError, ServiceResult, Services};

/// The columns an import understands: (field, accepted headers).
pub const COLUMNS: &[(&str, &[&str])] = &[
    ("account_no", &["户号", "account_no", "用户编号"]),
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
const REQUIRED: &[&str] = &["account_no", "name", "address"];

/// All rows or none, or the good rows only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    AllOrNothing,
    SkipBadRows,
}

/// One problem in the file.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowError {
    /// 1-based line in the file (the header is line 1).
    pub line: usize,
    pub column: String,
    pub code: String,
    pub message: String,
}

/// What the file looks like, before anything is written.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportPreview {
    /// `utf-8` or `gbk`.
    pub encoding: String,
    pub headers: Vec<String>,
    /// For each header, the field it maps to (empty: ignored).
    pub mapping: Vec<String>,
    /// Required fields no header maps to.
    pub missing: Vec<String>,
    pub rows: usize,
    /// The first rows as mapped values.
    pub sample: Vec<Vec<String>>,
}

/// What an import did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    pub encoding: String,
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    pub skipped: usize,
    /// True when nothing was written (all-or-nothing with errors).
    pub rolled_back: bool,
    /// True when an all-or-nothing import stopped at a row that failed on write (after the
    /// checks had passed, e.g. a concurrent change): the rows before it stay written.
    pub partially_written: bool,
    pub errors: Vec<RowError>,
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

struct Parsed {
    encoding: &'static str,
    headers: Vec<String>,
    /// Field index per header.
    fields: Vec<Option<usize>>,
    records: Vec<(usize, Vec<String>)>,
}

fn parse(bytes: &[u8]) -> ServiceResult<Parsed> {
    let (text, encoding) = decode(bytes)?;
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| ServiceError::validation("file", "not_csv", e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let fields = headers
        .iter()
        .map(|h| {
            COLUMNS.iter().position(|(f, names)| *f == h.as_str() || names.iter().any(|n| n.eq_ignore_ascii_case(h)))
        })
        .collect();
    let mut records = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| ServiceError::validation("file", "not_csv", format!("line {}: {e}", i + 2)))?;
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        records.push((i + 2, rec.iter().map(|c| c.trim().to_string()).collect()));
    }
    Ok(Parsed { encoding, headers, fields, records })
}

impl Parsed {
    fn get<'a>(&self, row: &'a [String], field: &str) -> &'a str {
        let Some(fi) = COLUMNS.iter().position(|(f, _)| *f == field) else { return "" };
        self.fields.iter().position(|x| *x == Some(fi)).and_then(|hi| row.get(hi)).map(String::as_str).unwrap_or("")
    }

    fn missing(&self) -> Vec<String> {
        REQUIRED
            .iter()
            .filter(|f| !self.fields.iter().flatten().any(|fi| COLUMNS[*fi].0 == **f))
            .map(|f| f.to_string())
            .collect()
    }
}

const MAX_ROWS: usize = 200_000;

impl Services {
    /// Parses a file and shows how it would be read.
    pub fn import_preview(&self, p: &Principal, bytes: &[u8]) -> ServiceResult<ImportPreview> {
        p.require(perm::CUSTOMER_WRITE)?;
        let parsed = parse(bytes)?;
        Ok(ImportPreview {
            encoding: parsed.encoding.into(),
            mapping: parsed.fields.iter().map(|f| f.map(|i| COLUMNS[i].0.to_string()).unwrap_or_default()).collect(),
            missing: parsed.missing(),
            rows: parsed.records.len(),
            sample: parsed.records.iter().take(10).map(|(_, r)| r.clone()).collect(),
            headers: parsed.headers,
        })
    }

    /// Imports customers, accounts and meters. Each row is one account; a known account
    /// number updates that account and its holder instead of creating a duplicate.
    pub async fn import_customers(
        &self,
        p: &Principal,
        bytes: &[u8],
        mode: ImportMode,
        ctx: &AuditCtx,
    ) -> ServiceResult<ImportReport> {
        p.require(perm::CUSTOMER_WRITE)?;
        let parsed = parse(bytes)?;
        let missing = parsed.missing();
        if !missing.is_empty() {
            return Err(ServiceError::validation(
                "file",
                "missing_columns",
                format!("missing columns: {}", missing.join(", ")),
            ));
        }
        if parsed.records.len() > MAX_ROWS {
            return Err(ServiceError::validation("file", "too_many_rows", format!("at most {MAX_ROWS} rows per file")));
        }
        let mut report = ImportReport {
            encoding: parsed.encoding.into(),
            rows: parsed.records.len(),
            created: 0,
            updated: 0,
            skipped: 0,
            rolled_back: false,
            partially_written: false,
            errors: vec![],
        };
        // First pass: validate every row without writing (the service rules run again on write).
        let mut seen = std::collections::HashSet::new();
        let mut serials = std::collections::HashSet::new();
        let mut good = Vec::new();
        for (line, row) in &parsed.records {
            let account_no = parsed.get(row, "account_no").to_ascii_uppercase();
            let mut errs = Vec::new();
            let mut err = |column: &str, code: &str, message: String| {
                errs.push(RowError { line: *line, column: column.into(), code: code.into(), message })
            };
            if account_no.is_empty() {
                err("account_no", "required", "户号不能为空 / account number missing".into());
            } else if !seen.insert(account_no.clone()) {
                err(
                    "account_no",
                    "duplicate_in_file",
                    "同一文件中户号重复 / account number repeated in this file".into(),
                );
            }
            if !account_no.is_empty() && crate::customers::account_no(&account_no).is_err() {
                err(
                    "account_no",
                    "invalid_account_no",
                    format!("户号应为4-20位字母数字 / 4-20 letters and digits: {account_no}"),
                );
            }
            if parsed.get(row, "name").is_empty() {
                err("name", "required", "户名不能为空 / name missing".into());
            }
            if parsed.get(row, "address").is_empty() {
                err("address", "required", "地址不能为空 / address missing".into());
            }
            if !matches!(
                parsed.get(row, "category"),
                "" | "居民" | "residential" | "非居民" | "non_residential" | "特种" | "special"
            ) {
                err(
                    "category",
                    "invalid_choice",
                    format!("用水类别应为居民/非居民/特种 / category: {}", parsed.get(row, "category")),
                );
            }
            let serial = parsed.get(row, "meter_serial");
            if !serial.is_empty() && !serials.insert(serial.to_string()) {
                err(
                    "meter_serial",
                    "duplicate_in_file",
                    format!("同一文件中表号重复 / meter serial repeated: {serial}"),
                );
            }
            let phone = parsed.get(row, "phone");
            if !phone.is_empty() && waterdesk_domain::phone::Phone::parse(phone).is_err() {
                err("phone", "invalid_phone", format!("电话号码无效 / invalid phone number: {phone}"));
            }
            let hh = parsed.get(row, "household_size");
            if !hh.is_empty() && hh.parse::<i64>().map(|n| !(1..=50).contains(&n)).unwrap_or(true) {
                err("household_size", "invalid_number", format!("人口应为1-50 / household size 1-50: {hh}"));
            }
            let d = parsed.get(row, "diameter_mm");
            if !d.is_empty() && d.parse::<i64>().is_err() {
                err("diameter_mm", "invalid_number", format!("口径应为数字 / diameter must be a number: {d}"));
            }
            let on = parsed.get(row, "installed_on");
            if !on.is_empty() && on.parse::<jiff::civil::Date>().is_err() {
                err("installed_on", "invalid_date", format!("日期格式应为 YYYY-MM-DD / date: {on}"));
            }
            if errs.is_empty() {
                good.push((*line, row.clone(), account_no));
            } else {
                report.errors.extend(errs);
            }
        }
        // Meter serials already installed elsewhere.
        {
            let mut c = self.db.read().await?;
            for (line, row, account_no) in &good {
                let serial = parsed.get(row, "meter_serial");
                if !serial.is_empty()
                    && repo::get_account_by_no(&mut c, account_no).await?.is_none()
                    && repo::meter_serial_exists(&mut c, serial).await?
                {
                    report.errors.push(RowError {
                        line: *line,
                        column: "meter_serial".into(),
                        code: "duplicate_serial".into(),
                        message: format!("表号已存在 / meter serial exists: {serial}"),
                    });
                }
            }
        }
        let bad_lines: std::collections::HashSet<usize> = report.errors.iter().map(|e| e.line).collect();
        good.retain(|(line, _, _)| !bad_lines.contains(line));
        if !report.errors.is_empty() && mode == ImportMode::AllOrNothing {
            report.rolled_back = true;
            report.skipped = report.rows;
            return Ok(report);
        }
        report.skipped = report.rows - good.len();
        // Second pass: write each row through the same service functions as the API.
        for (line, row, account_no) in good {
            match self.import_row(p, &parsed, &row, &account_no, ctx).await {
                Ok(true) => report.created += 1,
                Ok(false) => report.updated += 1,
                Err(e) => {
                    let (column, code) = match &e {
                        ServiceError::Validation { field, code, .. } => (field.clone(), code.to_string()),
                        other => (String::new(), other.code().to_string()),
                    };
                    report.errors.push(RowError { line, column, code, message: e.to_string() });
                    report.skipped += 1;
                    if mode == ImportMode::AllOrNothing {
                        // Rows before this one are written: say so rather than pretend.
                        report.partially_written = report.created + report.updated > 0;
                        break;
                    }
                }
            }
        }
        report.errors.sort_by_key(|e| e.line);
        let mut tx = self.db.begin().await?;
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "import.customers", if report.errors.is_empty() { "ok" } else { "partial" }, serde_json::json!({"rows": report.rows, "created": report.created, "updated": report.updated, "skipped": report.skipped, "encoding": report.encoding})).await?;
        crate::input::commit(tx).await?;
        Ok(report)
    }

    /// Writes one row; `Ok(true)` when the account was created.
    async fn import_row(
        &self,
        p: &Principal,
        parsed: &Parsed,
        row: &[String],
        account_no: &str,
        ctx: &AuditCtx,
    ) -> ServiceResult<bool> {
        let existing = {
            let mut c = self.db.read().await?;
            repo::get_account_by_no(&mut c, account_no).await?
        };
        let phone = parsed.get(row, "phone");
        let id_number = parsed.get(row, "id_number");
        let customer = CustomerInput {
            kind: if parsed.get(row, "name").ends_with("公司") { "organisation".into() } else { "person".into() },
            name: parsed.get(row, "name").into(),
            id_type: if id_number.is_empty() {
                String::new()
            } else if waterdesk_domain::phone::valid_id_number(id_number) {
                "id_card".into()
            } else {
                "other".into()
            },
            id_number: id_number.into(),
            email: String::new(),
            wechat_openid: String::new(),
            note: String::new(),
            unit_id: existing.as_ref().map(|a| a.unit_id),
            phones: if phone.is_empty() {
                vec![]
            } else {
                vec![PhoneInput { phone: phone.into(), label: String::new() }]
            },
        };
        let category = match parsed.get(row, "category") {
            "" | "居民" | "residential" => "residential",
            "非居民" | "non_residential" => "non_residential",
            "特种" | "special" => "special",
            other => other,
        }
        .to_string();
        let mut account = AccountInput {
            account_no: account_no.into(),
            holder_id: 0,
            address: parsed.get(row, "address").into(),
            lat: None,
            lon: None,
            category,
            status: "active".into(),
            book_no: parsed.get(row, "book_no").into(),
            unit_id: existing.as_ref().map(|a| a.unit_id),
            tariff_code: existing.as_ref().map(|a| a.tariff_code.clone()),
            household_size: parsed.get(row, "household_size").parse().unwrap_or(4),
            e_bill: existing.as_ref().is_some_and(|a| a.e_bill),
            transfer_reason: String::new(),
        };
        match existing {
            Some(a) => {
                self.customer_update(p, a.holder_id, &customer, ctx).await?;
                account.holder_id = a.holder_id;
                account.status = a.status.clone();
                if account.tariff_code.as_deref() != Some(account.category.as_str()) && a.category != account.category {
                    account.tariff_code = None;
                }
                self.account_update(p, a.id, &account, ctx).await?;
                Ok(false)
            }
            None => {
                let c = self.customer_create(p, &customer, ctx).await?;
                account.holder_id = c.id;
                let a = self.account_create(p, &account, ctx).await?;
                let serial = parsed.get(row, "meter_serial");
                if !serial.is_empty() {
                    let installed = parsed.get(row, "installed_on");
                    let meter = MeterInput {
                        serial: serial.into(),
                        diameter_mm: parsed.get(row, "diameter_mm").parse().unwrap_or(20),
                        model: String::new(),
                        installed_on: if installed.is_empty() {
                            self.now().to_zoned(self.tz.clone()).date().to_string()
                        } else {
                            installed.into()
                        },
                        initial_reading: 0,
                        replaces_meter_id: None,
                    };
                    self.meter_add(p, a.id, &meter, ctx).await?;
                }
                Ok(true)
            }
        }
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
    fn maps_chinese_and_english_headers() {
        let p = parse("户号,name,联系电话,其他\nHZ1,张三,13800138000,x\n".as_bytes()).unwrap();
        assert_eq!(p.get(&p.records[0].1, "phone"), "13800138000");
        assert_eq!(p.get(&p.records[0].1, "name"), "张三");
        assert_eq!(p.missing(), vec!["address".to_string()]);
    }
}
