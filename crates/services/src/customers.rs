//! Customers, accounts, meters, readings and payments (R-CUS-01/02), with data scope and
//! PII masking (R-CALL-07). Billing arithmetic is the domain's tariff; storage is the
//! built-in ledger.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use waterdesk_domain::money::Fen;
use waterdesk_domain::permissions::perm;
use waterdesk_domain::phone::{Phone, PhoneError, valid_id_number};
use waterdesk_domain::tariff::Tariff;
use waterdesk_store::billing::{self, Bill, NewBill, Payment};
use waterdesk_store::customers::{
    self as repo, Account, AccountFields, Customer, CustomerFields, HolderPeriod, MatchKind, Meter, Reading,
};
use waterdesk_store::{AnyConnection, StoreError, units};

use crate::access::Masking;
use crate::audit::{AuditCtx, security_in};
use crate::input::{commit, one_of, opt_text, text};
use crate::{Principal, ServiceError, ServiceResult, Services};

pub const CUSTOMER_KINDS: &[&str] = &["person", "organisation"];
pub const ID_TYPES: &[&str] = &["", "id_card", "passport", "uscc", "other"];
pub const ACCOUNT_CATEGORIES: &[&str] = &["residential", "non_residential", "special"];
pub const ACCOUNT_STATUSES: &[&str] = &["active", "suspended", "closed"];
pub const READING_SOURCES: &[&str] = &["manual", "self", "import", "smart"];
pub const PAYMENT_CHANNELS: &[&str] = &["counter", "wechat", "alipay", "bank", "app", "other"];

/// The built-in tariffs created at first start: (code, 中文, English, definition).
pub fn default_tariffs() -> Vec<(&'static str, &'static str, &'static str, Tariff)> {
    vec![
        (
            "residential",
            "居民生活用水(阶梯)",
            "Residential (tiered)",
            Tariff {
                tier_limits: vec![216, 300],
                tier_prices: vec![Fen(290), Fen(435), Fen(870)],
                sewage_per_m3: Fen(100),
                base_household: 4,
                extra_per_person: vec![54, 75],
            },
        ),
        ("non_residential", "非居民用水", "Non-residential", Tariff::flat(Fen(450), Fen(130))),
        ("special", "特种用水", "Special", Tariff::flat(Fen(1000), Fen(130))),
    ]
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneInput {
    pub phone: String,
    #[serde(default)]
    pub label: String,
}

/// Input for creating or editing a customer.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    /// `person` or `organisation`.
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub id_type: String,
    #[serde(default)]
    pub id_number: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub wechat_openid: String,
    #[serde(default)]
    pub note: String,
    /// Handling unit; default: the caller's unit.
    pub unit_id: Option<i64>,
    #[serde(default)]
    pub phones: Vec<PhoneInput>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PhoneView {
    pub phone: String,
    pub label: String,
}

/// A customer as a caller may see it: phones and ID number masked without `customer.pii.read`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerView {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub id_type: String,
    pub id_number: String,
    pub email: String,
    pub wechat_openid: String,
    pub note: String,
    pub unit_id: i64,
    pub phones: Vec<PhoneView>,
    pub accounts: Vec<AccountBrief>,
    /// True when personal data was masked for this caller.
    pub masked: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountBrief {
    pub id: i64,
    pub account_no: String,
    pub address: String,
    pub category: String,
    pub status: String,
}

/// A search result.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchHit {
    pub matched: MatchKind,
    pub customer: CustomerView,
}

/// Input for creating or editing an account (户号).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountInput {
    pub account_no: String,
    pub holder_id: i64,
    pub address: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub category: String,
    #[serde(default = "active")]
    pub status: String,
    #[serde(default)]
    pub book_no: String,
    pub unit_id: Option<i64>,
    /// Default: the tariff named like the category.
    pub tariff_code: Option<String>,
    #[serde(default = "four")]
    pub household_size: i64,
    #[serde(default)]
    pub e_bill: bool,
    /// Why the holder changes (过户), when it does.
    #[serde(default)]
    pub transfer_reason: String,
}

fn active() -> String {
    "active".into()
}
fn four() -> i64 {
    4
}

/// Everything an agent needs about an account (the 360 view).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Account360 {
    pub account: Account,
    pub holder: CustomerView,
    pub holders: Vec<HolderPeriod>,
    pub meters: Vec<Meter>,
    pub readings: Vec<Reading>,
    /// Bills, payments, arrears, credit and tier position from the billing provider.
    pub billing: crate::billing_provider::BillingSummary,
    pub tariff_name: String,
    /// The account's ten latest contacts (empty without `contact.read`).
    pub contacts: Vec<crate::contacts::ContactView>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeterInput {
    pub serial: String,
    /// 口径 in mm (15, 20, 25, 40, 50, 80, 100, 150, 200).
    pub diameter_mm: i64,
    #[serde(default)]
    pub model: String,
    /// `YYYY-MM-DD`.
    pub installed_on: String,
    #[serde(default)]
    pub initial_reading: i64,
    /// The meter this one replaces (换表): it is marked removed and its readings end.
    pub replaces_meter_id: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadingInput {
    pub meter_id: i64,
    /// `YYYY-MM-DD`.
    pub read_on: String,
    /// The register value, whole m³.
    pub reading: i64,
    #[serde(default = "manual")]
    pub source: String,
}

fn manual() -> String {
    "manual".into()
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReadingResult {
    pub reading: Reading,
    /// The bill the reading produced (none when another bill already covers its month).
    pub bill: Option<Bill>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentInput {
    /// `counter`, `wechat`, `alipay`, `bank`, `app`, `other`.
    pub channel: String,
    /// Amount in fen (分).
    pub amount_fen: i64,
    pub paid_at: Option<jiff::Timestamp>,
    /// The payment system's transaction id: paying twice with one id records one payment.
    pub external_txn_id: String,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentResult {
    pub payment: Payment,
    /// False when this transaction id was already recorded (idempotent replay).
    pub created: bool,
}

fn v(field: &str, code: &'static str, detail: impl Into<String>) -> ServiceError {
    ServiceError::validation(field, code, detail)
}

fn date(field: &str, s: &str) -> ServiceResult<jiff::civil::Date> {
    s.trim().parse::<jiff::civil::Date>().map_err(|_| v(field, "invalid_date", "use YYYY-MM-DD"))
}

fn not_found(entity: &'static str) -> impl Fn(StoreError) -> ServiceError {
    move |e| match e {
        StoreError::NotFound => ServiceError::NotFound { entity },
        StoreError::Conflict(_) => ServiceError::Duplicate { entity },
        e => e.into(),
    }
}

/// Account numbers (户号): 4–20 letters and digits.
pub(crate) fn account_no(s: &str) -> ServiceResult<String> {
    let s = s.trim();
    if (4..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(s.to_ascii_uppercase())
    } else {
        Err(v("account_no", "invalid_account_no", "4-20 letters and digits"))
    }
}

impl Services {
    fn customer_view(
        &self,
        p: &Principal,
        c: Customer,
        phones: Vec<repo::CustomerPhone>,
        accounts: Vec<Account>,
    ) -> CustomerView {
        let mask = Masking::of(p);
        CustomerView {
            id: c.id,
            kind: c.kind,
            name: c.name,
            id_type: c.id_type,
            id_number: mask.id_number(c.id_number),
            email: c.email,
            wechat_openid: mask.secret(c.wechat_openid),
            note: c.note,
            unit_id: c.unit_id,
            phones: phones.into_iter().map(|ph| PhoneView { phone: mask.phone(ph.phone), label: ph.label }).collect(),
            accounts: accounts
                .into_iter()
                .map(|a| AccountBrief {
                    id: a.id,
                    account_no: a.account_no,
                    address: a.address,
                    category: a.category,
                    status: a.status,
                })
                .collect(),
            masked: mask.masked(),
        }
    }

    async fn load_view(&self, p: &Principal, conn: &mut AnyConnection, id: i64) -> ServiceResult<CustomerView> {
        let c = repo::get_customer(conn, id).await?.ok_or(ServiceError::NotFound { entity: "customer" })?;
        let phones = repo::phones(conn, id).await?;
        let accounts = repo::accounts_of(conn, id).await?;
        Ok(self.customer_view(p, c, phones, accounts))
    }

    pub(crate) async fn check_customer(
        &self,
        p: &Principal,
        i: &CustomerInput,
    ) -> ServiceResult<(CustomerFieldsOwned, Vec<(String, String)>)> {
        let kind = one_of("kind", &i.kind, CUSTOMER_KINDS)?;
        let name = text("name", &i.name, 100)?;
        let id_type = one_of("id_type", i.id_type.trim(), ID_TYPES)?;
        let id_number = opt_text("id_number", &i.id_number, 40)?.to_ascii_uppercase();
        if id_type == "id_card" && !valid_id_number(&id_number) {
            return Err(v("id_number", "invalid_id_number", "not a valid 18-character resident ID number"));
        }
        let email = opt_text("email", &i.email, 120)?;
        if !email.is_empty() && !email.contains('@') {
            return Err(v("email", "invalid_email", "not an e-mail address"));
        }
        let unit_id = i.unit_id.unwrap_or(p.unit_id);
        if !self.in_scope(p, unit_id).await? {
            return Err(v("unit_id", "out_of_scope", "the unit is outside your data scope"));
        }
        let mut phones: Vec<(String, String)> = Vec::new();
        for (n, ph) in i.phones.iter().enumerate() {
            let parsed = Phone::parse(&ph.phone).map_err(|e| {
                let code = match e {
                    PhoneError::Characters => "phone_characters",
                    PhoneError::Shape => "phone_shape",
                };
                v(&format!("phones[{n}]"), code, e.to_string())
            })?;
            if !phones.iter().any(|(p, _)| p == parsed.as_str()) {
                phones.push((parsed.to_string(), opt_text("label", &ph.label, 20)?));
            }
        }
        Ok((
            CustomerFieldsOwned {
                kind,
                name,
                id_type,
                id_number,
                email,
                wechat_openid: opt_text("wechat_openid", &i.wechat_openid, 64)?,
                note: opt_text("note", &i.note, 1000)?,
                unit_id,
            },
            phones,
        ))
    }

    pub async fn customer_create(
        &self,
        p: &Principal,
        i: &CustomerInput,
        ctx: &AuditCtx,
    ) -> ServiceResult<CustomerView> {
        p.require(perm::CUSTOMER_WRITE)?;
        let (f, phones) = self.check_customer(p, i).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let id = Self::customer_insert_in(&mut tx, &f, now).await?;
        self.finish_customer_write(p, tx, id, &f.name, &phones, now, "customer.create", ctx).await
    }

    /// Inserts checked customer fields (no phones, index, audit or commit): the core shared
    /// by the API and imports.
    pub(crate) async fn customer_insert_in(
        conn: &mut AnyConnection,
        f: &CustomerFieldsOwned,
        now: jiff::Timestamp,
    ) -> ServiceResult<i64> {
        if units::get(conn, f.unit_id).await?.is_none() {
            return Err(v("unit_id", "unknown_unit", "no such unit"));
        }
        Ok(repo::insert_customer(conn, &f.borrow(), now).await?)
    }

    pub async fn customer_update(
        &self,
        p: &Principal,
        id: i64,
        i: &CustomerInput,
        ctx: &AuditCtx,
    ) -> ServiceResult<CustomerView> {
        p.require(perm::CUSTOMER_WRITE)?;
        self.customer_get(p, id).await?;
        let (f, phones) = self.check_customer(p, i).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        Self::customer_update_in(&mut tx, id, &f, now).await?;
        self.finish_customer_write(p, tx, id, &f.name, &phones, now, "customer.update", ctx).await
    }

    pub(crate) async fn customer_update_in(
        conn: &mut AnyConnection,
        id: i64,
        f: &CustomerFieldsOwned,
        now: jiff::Timestamp,
    ) -> ServiceResult<()> {
        repo::update_customer(conn, id, &f.borrow(), now).await.map_err(not_found("customer"))
    }

    /// The common end of creating and updating a customer: phones, search index, audit
    /// entry, the new view, commit.
    #[allow(clippy::too_many_arguments)]
    async fn finish_customer_write(
        &self,
        p: &Principal,
        mut tx: waterdesk_store::Tx,
        id: i64,
        name: &str,
        phones: &[(String, String)],
        now: jiff::Timestamp,
        event: &str,
        ctx: &AuditCtx,
    ) -> ServiceResult<CustomerView> {
        repo::set_phones(&mut tx, id, phones, now).await?;
        repo::reindex(&mut tx, self.db.backend(), &[id]).await?;
        let params = serde_json::json!({"id": id, "name": name});
        security_in(&mut tx, self, &ctx.clone().for_principal(p), event, "ok", params).await?;
        let view = self.load_view(p, &mut tx, id).await?;
        commit(tx).await?;
        Ok(view)
    }

    pub async fn customer_get(&self, p: &Principal, id: i64) -> ServiceResult<CustomerView> {
        p.require(perm::CUSTOMER_READ)?;
        let mut c = self.db.read().await?;
        let view = self.load_view(p, &mut c, id).await?;
        if !self.in_scope(p, view.unit_id).await? {
            return Err(ServiceError::NotFound { entity: "customer" });
        }
        Ok(view)
    }

    /// Finds customers the way agents search: an account number, a phone number (whole or
    /// last four digits), a name (exact, prefix, part) or an address fragment. Results are
    /// ranked by how they matched, then by id.
    pub async fn customer_search(&self, p: &Principal, q: &str, limit: i64) -> ServiceResult<Vec<SearchHit>> {
        p.require(perm::CUSTOMER_READ)?;
        let q = q.trim();
        if q.is_empty() {
            return Ok(vec![]);
        }
        if q.chars().count() > 100 {
            return Err(v("q", "too_long", "at most 100 characters"));
        }
        let limit = limit.clamp(1, 100);
        let scope = self.scope_unit_ids(p).await?;
        let digits: String = q.chars().filter(|c| c.is_ascii_digit()).collect();
        let mut plan: Vec<(repo::Lookup, String)> = Vec::new();
        if q.bytes().all(|b| b.is_ascii_alphanumeric()) {
            plan.push((repo::Lookup::AccountNo, q.to_ascii_uppercase()));
        }
        if let Ok(ph) = Phone::parse(q) {
            plan.push((repo::Lookup::Phone, ph.to_string()));
        } else if digits.len() == 4 && q.trim().len() == 4 {
            plan.push((repo::Lookup::PhoneLast4, digits.clone()));
        }
        if !q.bytes().all(|b| b.is_ascii_digit() || b == b' ' || b == b'-') {
            plan.push((repo::Lookup::NameExact, q.to_string()));
            plan.push((repo::Lookup::NamePrefix, q.to_string()));
        }
        let mut c = self.db.read().await?;
        let mut hits: Vec<(MatchKind, i64)> = Vec::new();
        for (kind, value) in plan {
            if hits.len() as i64 >= limit {
                break;
            }
            for id in repo::find(&mut c, kind, &value, scope.as_deref(), limit).await? {
                if !hits.iter().any(|(_, h)| *h == id) {
                    hits.push((kind.into(), id));
                }
            }
        }
        // Substrings of names and addresses, through the bigram index.
        // Not for numbers (phones, account numbers): their digits are everywhere in addresses.
        let numeric = q.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ' || b == b'-' || b == b'+');
        let substring =
            (hits.len() as i64) < limit && !numeric && q.chars().filter(|c| !c.is_whitespace()).count() >= 2;
        let mut gram_hits = Vec::new();
        if substring {
            for id in repo::find_by_grams(&mut c, q, scope.as_deref(), limit).await? {
                if !hits.iter().any(|(_, h)| *h == id) {
                    gram_hits.push(id);
                }
            }
        }
        hits.truncate(limit as usize);
        let needle: String = q.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase();
        gram_hits.truncate((limit as usize).saturating_sub(hits.len()));
        let ids: Vec<i64> = hits.iter().map(|(_, id)| *id).chain(gram_hits.iter().copied()).collect();
        let details = repo::customers_with_details(&mut c, &ids).await?;
        let mut out = Vec::with_capacity(details.len());
        for (customer, phones, accounts) in details {
            let id = customer.id;
            let view = self.customer_view(p, customer, phones, accounts);
            let matched = match hits.iter().find(|(_, h)| *h == id) {
                Some((kind, _)) => *kind,
                None if view.name.to_lowercase().contains(&needle) => MatchKind::Name,
                None => MatchKind::Address,
            };
            out.push(SearchHit { matched, customer: view });
        }
        // Name matches before address matches, each in id order.
        out.sort_by_key(|h| h.matched);
        Ok(out)
    }

    pub(crate) async fn check_account(
        &self,
        p: &Principal,
        conn: &mut AnyConnection,
        i: &AccountInput,
    ) -> ServiceResult<AccountFieldsOwned> {
        let no = account_no(&i.account_no)?;
        let address = text("address", &i.address, 200)?;
        let category = one_of("category", &i.category, ACCOUNT_CATEGORIES)?;
        let status = one_of("status", &i.status, ACCOUNT_STATUSES)?;
        let book_no = opt_text("book_no", &i.book_no, 20)?;
        if !(1..=50).contains(&i.household_size) {
            return Err(v("household_size", "out_of_range", "1 to 50 persons"));
        }
        let coord = |field: &str, x: Option<f64>, max: f64| -> ServiceResult<Option<i64>> {
            match x {
                None => Ok(None),
                Some(x) => crate::input::micro_degrees(x, max)
                    .map(Some)
                    .ok_or_else(|| v(field, "out_of_range", format!("between -{max} and {max}"))),
            }
        };
        let lat_e6 = coord("lat", i.lat, 90.0)?;
        let lon_e6 = coord("lon", i.lon, 180.0)?;
        let unit_id = i.unit_id.unwrap_or(p.unit_id);
        if !self.in_scope(p, unit_id).await? {
            return Err(v("unit_id", "out_of_scope", "the unit is outside your data scope"));
        }
        if units::get(conn, unit_id).await?.is_none() {
            return Err(v("unit_id", "unknown_unit", "no such unit"));
        }
        if repo::get_customer(conn, i.holder_id).await?.is_none() {
            return Err(v("holder_id", "unknown_customer", "no such customer"));
        }
        let tariff_code = i.tariff_code.clone().unwrap_or_else(|| category.clone());
        if billing::tariff(conn, &tariff_code).await?.is_none() {
            return Err(v("tariff_code", "unknown_tariff", "no such tariff"));
        }
        Ok(AccountFieldsOwned {
            account_no: no,
            holder_id: i.holder_id,
            address,
            lat_e6,
            lon_e6,
            category,
            status,
            book_no,
            unit_id,
            tariff_code,
            household_size: i.household_size,
            e_bill: i.e_bill,
        })
    }

    pub async fn account_create(&self, p: &Principal, i: &AccountInput, ctx: &AuditCtx) -> ServiceResult<Account> {
        p.require(perm::CUSTOMER_WRITE)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let f = self.check_account(p, &mut tx, i).await?;
        let id = Self::account_insert_in(&mut tx, &f, now).await?;
        repo::reindex(&mut tx, self.db.backend(), &[f.holder_id]).await?;
        security_in(
            &mut tx,
            self,
            &ctx.clone().for_principal(p),
            "account.create",
            "ok",
            serde_json::json!({"id": id, "account_no": f.account_no, "holder_id": f.holder_id}),
        )
        .await?;
        let a = repo::get_account(&mut tx, id).await?.ok_or(ServiceError::NotFound { entity: "account" })?;
        commit(tx).await?;
        Ok(a)
    }

    pub(crate) async fn account_insert_in(
        conn: &mut AnyConnection,
        f: &AccountFieldsOwned,
        now: jiff::Timestamp,
    ) -> ServiceResult<i64> {
        repo::insert_account(conn, &f.borrow(), now).await.map_err(|e| match e {
            StoreError::Conflict(_) => v("account_no", "duplicate_account_no", "this account number exists already"),
            e => e.into(),
        })
    }

    pub async fn account_update(
        &self,
        p: &Principal,
        id: i64,
        i: &AccountInput,
        ctx: &AuditCtx,
    ) -> ServiceResult<Account> {
        p.require(perm::CUSTOMER_WRITE)?;
        let old = self.account_scoped(p, id).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let f = self.check_account(p, &mut tx, i).await?;
        Self::account_update_in(&mut tx, id, &f, &i.transfer_reason, now).await?;
        repo::reindex(&mut tx, self.db.backend(), &[old.holder_id, f.holder_id]).await?;
        security_in(
            &mut tx,
            self,
            &ctx.clone().for_principal(p),
            "account.update",
            "ok",
            serde_json::json!({"id": id, "holder_id": f.holder_id, "status": f.status}),
        )
        .await?;
        let a = repo::get_account(&mut tx, id).await?.ok_or(ServiceError::NotFound { entity: "account" })?;
        commit(tx).await?;
        Ok(a)
    }

    pub(crate) async fn account_update_in(
        conn: &mut AnyConnection,
        id: i64,
        f: &AccountFieldsOwned,
        transfer_reason: &str,
        now: jiff::Timestamp,
    ) -> ServiceResult<()> {
        let reason = if transfer_reason.trim().is_empty() { "transfer" } else { transfer_reason.trim() };
        repo::update_account(conn, id, &f.borrow(), reason, now).await.map_err(|e| match e {
            StoreError::Conflict(_) => v("account_no", "duplicate_account_no", "this account number exists already"),
            e => not_found("account")(e),
        })
    }

    pub(crate) async fn account_scoped(&self, p: &Principal, id: i64) -> ServiceResult<Account> {
        let mut c = self.db.read().await?;
        let a = repo::get_account(&mut c, id).await?.ok_or(ServiceError::NotFound { entity: "account" })?;
        if !self.in_scope(p, a.unit_id).await? {
            return Err(ServiceError::NotFound { entity: "account" });
        }
        Ok(a)
    }

    /// Parses an account's tariff row into the domain tariff and its name.
    pub(crate) fn tariff_of(row: Option<billing::TariffRow>) -> ServiceResult<(Tariff, String)> {
        let row = row.ok_or(ServiceError::Internal("account tariff missing".into()))?;
        let t: Tariff = serde_json::from_str(&row.definition)
            .map_err(|e| ServiceError::Internal(format!("tariff {}: {e}", row.code)))?;
        Ok((t, row.name))
    }

    /// The account 360 view.
    pub async fn account_360(&self, p: &Principal, id: i64) -> ServiceResult<Account360> {
        p.require(perm::CUSTOMER_READ)?;
        let account = self.account_scoped(p, id).await?;
        let mut c = self.db.read().await?;
        let holder = self.load_view(p, &mut c, account.holder_id).await?;
        let holders = repo::holder_history(&mut c, id).await?;
        let meters = repo::meters_of(&mut c, id).await?;
        let readings = repo::readings_of(&mut c, id, 24).await?;
        let tariff_name = billing::tariff(&mut c, &account.tariff_code).await?.map(|t| t.name).unwrap_or_default();
        drop(c);
        let billing = self.billing_summary(&account).await?;
        let contacts = if p.has(perm::CONTACT_READ) {
            let f = waterdesk_store::contacts::ContactFilter { account_id: Some(id), ..Default::default() };
            self.contact_list(p, f, 10).await?.items
        } else {
            vec![]
        };
        Ok(Account360 { account, holder, holders, meters, readings, billing, tariff_name, contacts })
    }

    /// Installs a meter on an account, optionally replacing (换表) an old one.
    pub async fn meter_add(
        &self,
        p: &Principal,
        account_id: i64,
        i: &MeterInput,
        ctx: &AuditCtx,
    ) -> ServiceResult<Meter> {
        p.require(perm::CUSTOMER_WRITE)?;
        self.account_scoped(p, account_id).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let id = Self::meter_insert_in(&mut tx, account_id, i, now).await?;
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "meter.install", "ok", serde_json::json!({"account_id": account_id, "meter_id": id, "serial": i.serial.trim(), "replaces": i.replaces_meter_id})).await?;
        let m = repo::get_meter(&mut tx, id).await?.ok_or(ServiceError::NotFound { entity: "meter" })?;
        commit(tx).await?;
        Ok(m)
    }

    /// Checks and installs a meter (and removes the one it replaces) in a transaction.
    pub(crate) async fn meter_insert_in(
        conn: &mut AnyConnection,
        account_id: i64,
        i: &MeterInput,
        now: jiff::Timestamp,
    ) -> ServiceResult<i64> {
        let serial = text("serial", &i.serial, 40)?;
        if !(10..=1000).contains(&i.diameter_mm) {
            return Err(v("diameter_mm", "out_of_range", "10 to 1000 mm"));
        }
        let installed = date("installed_on", &i.installed_on)?;
        if i.initial_reading < 0 {
            return Err(v("initial_reading", "negative_reading", "a meter reading cannot be negative"));
        }
        let model = opt_text("model", &i.model, 60)?;
        if let Some(old) = i.replaces_meter_id {
            let m = repo::get_meter(conn, old).await?.filter(|m| m.account_id == account_id && m.removed_on.is_none());
            if m.is_none() {
                return Err(v("replaces_meter_id", "unknown_meter", "no installed meter with this id on the account"));
            }
            repo::remove_meter(conn, old, &installed.to_string(), now).await?;
        }
        repo::insert_meter(
            conn,
            account_id,
            &serial,
            i.diameter_mm,
            &model,
            &installed.to_string(),
            i.initial_reading,
            now,
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => v("serial", "duplicate_serial", "a meter with this serial exists already"),
            e => e.into(),
        })
    }

    /// Records a meter reading and bills its volume with the account's tariff (one bill
    /// per account and month). A reading below the previous one is refused: a replaced
    /// meter must be recorded as a meter change first.
    pub async fn reading_record(
        &self,
        p: &Principal,
        account_id: i64,
        i: &ReadingInput,
        ctx: &AuditCtx,
    ) -> ServiceResult<ReadingResult> {
        p.require(perm::BILLING_WRITE)?;
        let account = self.account_scoped(p, account_id).await?;
        let source = one_of("source", &i.source, READING_SOURCES)?;
        let read_on = date("read_on", &i.read_on)?;
        if i.reading < 0 {
            return Err(v("reading", "negative_reading", "a meter reading cannot be negative"));
        }
        let today = self.now().to_zoned(self.tz.clone()).date();
        if read_on > today {
            return Err(v("read_on", "future_date", "a reading cannot be in the future"));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (meter_id, volume, bill_id) =
            self.reading_in(&mut tx, &account, i.meter_id, read_on, i.reading, &source, now).await?;
        let bill = match bill_id {
            Some(_) => billing::bills_of(&mut tx, account_id, 1).await?.into_iter().next(),
            None => None,
        };
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "reading.record", "ok", serde_json::json!({"account_id": account_id, "meter_id": meter_id, "read_on": read_on.to_string(), "reading": i.reading, "volume": volume})).await?;
        let reading = repo::readings_of(&mut tx, account_id, 1)
            .await?
            .into_iter()
            .next()
            .ok_or(ServiceError::NotFound { entity: "reading" })?;
        commit(tx).await?;
        Ok(ReadingResult { reading, bill })
    }

    /// The account's only installed meter (a reading without a serial goes there).
    pub(crate) async fn installed_meter(conn: &mut AnyConnection, account_id: i64) -> ServiceResult<Meter> {
        let mut installed: Vec<Meter> =
            repo::meters_of(conn, account_id).await?.into_iter().filter(|m| m.removed_on.is_none()).collect();
        match installed.len() {
            1 => Ok(installed.remove(0)),
            0 => Err(v("meter_serial", "no_meter", "the account has no installed meter")),
            _ => Err(v("meter_serial", "meter_ambiguous", "the account has several meters: give the serial")),
        }
    }

    /// Records a checked reading on a meter of the account and bills the month when no bill
    /// covers it yet. Returns the meter, the volume and the new bill. Runs inside the
    /// caller's transaction.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn reading_in(
        &self,
        conn: &mut AnyConnection,
        account: &Account,
        meter_id: i64,
        read_on: jiff::civil::Date,
        reading: i64,
        source: &str,
        now: jiff::Timestamp,
    ) -> ServiceResult<(i64, i64, Option<i64>)> {
        let account_id = account.id;
        if reading < 0 {
            return Err(v("reading", "negative_reading", "a meter reading cannot be negative"));
        }
        let meter = repo::get_meter(conn, meter_id)
            .await?
            .filter(|m| m.account_id == account_id)
            .ok_or_else(|| v("meter_id", "unknown_meter", "no such meter on this account"))?;
        if meter.removed_on.is_some() {
            return Err(v("meter_id", "meter_removed", "this meter has been replaced"));
        }
        let previous = meter.last_reading.unwrap_or(meter.initial_reading);
        let previous_on = meter.last_read_on.clone().unwrap_or_else(|| meter.installed_on.clone());
        if read_on.to_string() <= previous_on {
            return Err(v("read_on", "reading_not_after_last", format!("the last reading is of {previous_on}")));
        }
        if reading < previous {
            return Err(v(
                "reading",
                "reading_decreased",
                format!("below the previous reading {previous}; record a meter change first"),
            ));
        }
        let volume = reading - previous;
        let reading_id =
            repo::insert_reading(conn, meter.id, account_id, &read_on.to_string(), reading, volume, source, now)
                .await?;
        let period = read_on.strftime("%Y-%m").to_string();
        let year = read_on.strftime("%Y").to_string();
        let exists = billing::bills_of(conn, account_id, 1).await?.first().is_some_and(|b| b.period >= period);
        if exists {
            return Ok((meter.id, volume, None));
        }
        let (tariff, _) = Self::tariff_of(billing::tariff(conn, &account.tariff_code).await?)?;
        let ytd = billing::ytd(conn, account_id, &year).await?;
        let charge = tariff.charge(ytd, volume, account.household_size);
        let due = read_on.checked_add(jiff::Span::new().days(30)).unwrap_or(read_on);
        let lines = serde_json::to_string(&charge.lines).unwrap_or_default();
        let bill_id = billing::insert_bill(
            conn,
            &NewBill {
                account_id,
                period: &period,
                read_from: &previous_on,
                read_to: &read_on.to_string(),
                volume,
                water_fen: charge.water.0,
                sewage_fen: charge.sewage.0,
                due_on: &due.to_string(),
                ytd_after: charge.ytd_after,
                lines: &lines,
            },
            now,
        )
        .await?;
        repo::set_reading_bill(conn, reading_id, bill_id).await?;
        // Money paid in advance (credit) settles the new bill at once.
        self.apply_credit(conn, account_id, now).await?;
        Ok((meter.id, volume, Some(bill_id)))
    }

    /// Allocates money paid in advance to open bills: each payment's unallocated rest,
    /// oldest payment first, to the oldest open bill first, so every fen of a bill can be
    /// traced to the payment that settled it.
    async fn apply_credit(&self, conn: &mut AnyConnection, account_id: i64, now: jiff::Timestamp) -> ServiceResult<()> {
        let mut credits = billing::unallocated_payments(conn, account_id).await?;
        if credits.is_empty() {
            return Ok(());
        }
        for b in billing::open_bills(conn, account_id).await? {
            let mut due = b.total_fen - b.paid_fen;
            while due > 0 {
                let Some((payment_id, left)) = credits.first_mut() else { return Ok(()) };
                let share = due.min(*left);
                billing::pay_bill(conn, b.id, share, now).await?;
                billing::allocate(conn, *payment_id, b.id, share).await?;
                *left -= share;
                due -= share;
                if *left == 0 {
                    credits.remove(0);
                }
            }
        }
        Ok(())
    }

    /// Records a payment, idempotent by the payment system's transaction id, and settles
    /// open bills oldest first; what is left stays as credit (预存).
    pub async fn payment_record(
        &self,
        p: &Principal,
        account_id: i64,
        i: &PaymentInput,
        ctx: &AuditCtx,
    ) -> ServiceResult<PaymentResult> {
        p.require(perm::BILLING_WRITE)?;
        self.account_scoped(p, account_id).await?;
        let channel = one_of("channel", &i.channel, PAYMENT_CHANNELS)?;
        let txn = text("external_txn_id", &i.external_txn_id, 64)?;
        let now = self.now();
        let paid_at = i.paid_at.unwrap_or(now);
        let note = opt_text("note", &i.note, 200)?;
        let mut tx = self.db.begin().await?;
        let (id, created) =
            Self::payment_in(&mut tx, account_id, &channel, i.amount_fen, paid_at, &txn, &note, now).await?;
        let payment = billing::get_payment(&mut tx, id).await?.ok_or(ServiceError::NotFound { entity: "payment" })?;
        if !created {
            return Ok(PaymentResult { payment, created: false });
        }
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "payment.record", "ok", serde_json::json!({"account_id": account_id, "payment_id": id, "amount_fen": i.amount_fen, "channel": channel, "external_txn_id": txn})).await?;
        commit(tx).await?;
        Ok(PaymentResult { payment, created: true })
    }

    /// Records a checked payment and settles open bills oldest first, inside the caller's
    /// transaction. A known transaction id is a replay (`created` false) when it names the
    /// same account and amount, and an error otherwise.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn payment_in(
        conn: &mut AnyConnection,
        account_id: i64,
        channel: &str,
        amount_fen: i64,
        paid_at: jiff::Timestamp,
        txn: &str,
        note: &str,
        now: jiff::Timestamp,
    ) -> ServiceResult<(i64, bool)> {
        if amount_fen <= 0 {
            return Err(v("amount_fen", "non_positive_amount", "the amount must be positive (fen)"));
        }
        if amount_fen > 10_000_000_000 {
            return Err(v("amount_fen", "amount_too_large", "more than 100 million yuan"));
        }
        let (id, created) =
            billing::insert_payment(conn, account_id, channel, amount_fen, paid_at, txn, note, now).await?;
        if !created {
            let payment = billing::get_payment(conn, id).await?.ok_or(ServiceError::NotFound { entity: "payment" })?;
            if payment.account_id != account_id || payment.amount_fen != amount_fen {
                return Err(v(
                    "external_txn_id",
                    "txn_id_reused",
                    "this transaction id was used for a different payment",
                ));
            }
            return Ok((id, false));
        }
        let mut left = amount_fen;
        for b in billing::open_bills(conn, account_id).await? {
            if left <= 0 {
                break;
            }
            let share = left.min(b.total_fen - b.paid_fen);
            billing::pay_bill(conn, b.id, share, now).await?;
            billing::allocate(conn, id, b.id, share).await?;
            left -= share;
        }
        Ok((id, true))
    }

    /// Rebuilds the search index of every customer; `progress(done)` after each batch.
    pub async fn reindex_customers(&self, mut progress: impl FnMut(i64)) -> ServiceResult<i64> {
        let mut after = 0;
        let mut done = 0;
        loop {
            let ids = {
                let mut c = self.db.read().await?;
                repo::customer_ids_after(&mut c, after, 2000).await?
            };
            let Some(last) = ids.last().copied() else { return Ok(done) };
            let mut tx = self.db.begin().await?;
            repo::reindex(&mut tx, self.db.backend(), &ids).await?;
            commit(tx).await?;
            done += ids.len() as i64;
            after = last;
            progress(done);
        }
    }

    /// The tariffs (any signed-in staff member with `customer.read`).
    pub async fn tariffs_list(&self, p: &Principal) -> ServiceResult<Vec<billing::TariffRow>> {
        p.require(perm::CUSTOMER_READ)?;
        let mut c = self.db.read().await?;
        Ok(billing::tariffs(&mut c).await?)
    }
}

/// Owned, validated customer fields.
pub(crate) struct CustomerFieldsOwned {
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) id_type: String,
    pub(crate) id_number: String,
    pub(crate) email: String,
    pub(crate) wechat_openid: String,
    pub(crate) note: String,
    pub(crate) unit_id: i64,
}

impl CustomerFieldsOwned {
    fn borrow(&self) -> CustomerFields<'_> {
        CustomerFields {
            kind: &self.kind,
            name: &self.name,
            id_type: &self.id_type,
            id_number: &self.id_number,
            email: &self.email,
            wechat_openid: &self.wechat_openid,
            note: &self.note,
            unit_id: self.unit_id,
        }
    }
}

/// Owned, validated account fields.
pub(crate) struct AccountFieldsOwned {
    account_no: String,
    holder_id: i64,
    address: String,
    lat_e6: Option<i64>,
    lon_e6: Option<i64>,
    category: String,
    status: String,
    book_no: String,
    unit_id: i64,
    tariff_code: String,
    household_size: i64,
    e_bill: bool,
}

impl AccountFieldsOwned {
    fn borrow(&self) -> AccountFields<'_> {
        AccountFields {
            account_no: &self.account_no,
            holder_id: self.holder_id,
            address: &self.address,
            lat_e6: self.lat_e6,
            lon_e6: self.lon_e6,
            category: &self.category,
            status: &self.status,
            book_no: &self.book_no,
            unit_id: self.unit_id,
            tariff_code: &self.tariff_code,
            household_size: self.household_size,
            e_bill: self.e_bill,
        }
    }
}

impl Services {
    /// One page of an export (customers with accounts, bills, payments), in the caller's
    /// data scope, personal data masked without `customer.pii.read`. Returns the rows and
    /// the cursor of the next page.
    pub async fn export_page(
        &self,
        p: &Principal,
        kind: repo::ExportKind,
        after: i64,
        limit: i64,
    ) -> ServiceResult<(Vec<Vec<String>>, Option<i64>)> {
        p.require(perm::CUSTOMER_READ)?;
        p.require(perm::REPORT_EXPORT)?;
        let scope = self.scope_unit_ids(p).await?;
        let mut c = self.db.read().await?;
        let rows = repo::export_page(&mut c, kind, after, scope.as_deref(), limit.clamp(1, 10_000)).await?;
        let next = (rows.len() as i64 == limit).then(|| rows.last().map(|r| r.0)).flatten();
        let mask = Masking::of(p);
        let width = kind.columns().len();
        let rows = rows
            .into_iter()
            .map(|(_, mut cells)| {
                cells.truncate(width);
                if kind == repo::ExportKind::Customers {
                    cells[3] = mask.id_number(std::mem::take(&mut cells[3]));
                    cells[4] = mask.phone(std::mem::take(&mut cells[4]));
                }
                cells
            })
            .collect();
        Ok((rows, next))
    }
}
