//! Customer pages for agents: search, customer card, account 360 view with usage chart,
//! reading and payment entry.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use waterdesk_domain::money::Fen;
use waterdesk_domain::permissions::perm;
use waterdesk_services::ServiceError;
use waterdesk_services::customers::{
    ACCOUNT_CATEGORIES, ACCOUNT_STATUSES, AccountBrief, AccountInput, CustomerInput, MeterInput, PAYMENT_CHANNELS,
    PaymentInput, PhoneInput, ReadingInput,
};
use waterdesk_store::customers::Meter;

use super::{FlashQuery, Layout, RawForm, after_form, html};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/customers", get(search_page).post(customer_create))
        .route("/customers/new", get(customer_new))
        .route("/customers/import", get(import_page))
        .route("/customers/{id}", get(customer_page).post(customer_update))
        .route("/customers/{id}/accounts", post(account_create))
        .route("/accounts/{id}", get(account_page).post(account_update))
        .route("/accounts/{id}/meters", post(meter_create))
        .route("/accounts/{id}/readings", post(reading_create))
        .route("/accounts/{id}/payments", post(payment_create))
}

pub struct Hit {
    id: i64,
    name: String,
    organisation: bool,
    phones: Vec<String>,
    accounts: Vec<(i64, String, String)>,
    matched: &'static str,
}

#[derive(Template)]
#[template(path = "customers/search.html")]
pub struct SearchPage {
    layout: Layout,
    q: String,
    hits: Vec<Hit>,
    can_write: bool,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
}

async fn search_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(q): Query<SearchQuery>,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    let q = q.q.unwrap_or_default();
    let hits = st.services().customer_search(&p, &q, 50).await?;
    let lang = ctx.lang;
    let hits = hits
        .into_iter()
        .map(|h| Hit {
            id: h.customer.id,
            organisation: h.customer.kind == "organisation",
            name: h.customer.name,
            phones: h.customer.phones.into_iter().map(|p| p.phone).collect(),
            accounts: h.customer.accounts.into_iter().map(|a| (a.id, a.account_no, a.address)).collect(),
            matched: lang.t(&format!(
                "cust.match.{}",
                serde_json::to_value(h.matched).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
            )),
        })
        .collect();
    let layout = Layout::new(&st, &p, &ctx, "cust.search", &f).await;
    Ok(html(&SearchPage { layout, q, hits, can_write: p.has(perm::CUSTOMER_WRITE) }))
}

#[derive(Template)]
#[template(path = "customers/customer.html")]
pub struct CustomerPage {
    layout: Layout,
    is_new: bool,
    id: i64,
    name: String,
    kind: String,
    kind_label: String,
    phones: Vec<String>,
    first_phone: String,
    id_type: String,
    id_number: String,
    email: String,
    unit: String,
    masked: bool,
    accounts: Vec<AccountBrief>,
    can_write: bool,
}

async fn customer_new(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    p.require(perm::CUSTOMER_WRITE)?;
    let layout = Layout::new(&st, &p, &ctx, "cust.new", &f).await;
    Ok(html(&CustomerPage {
        layout,
        is_new: true,
        id: 0,
        name: String::new(),
        kind: "person".into(),
        kind_label: String::new(),
        phones: vec![],
        first_phone: String::new(),
        id_type: String::new(),
        id_number: String::new(),
        email: String::new(),
        unit: String::new(),
        masked: false,
        accounts: vec![],
        can_write: true,
    }))
}

async fn customer_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    let c = st.services().customer_get(&p, id).await?;
    let unit = {
        let mut conn = st.services().db.read().await?;
        waterdesk_store::units::get(&mut conn, c.unit_id).await?.map(|u| u.name).unwrap_or_default()
    };
    let mut layout = Layout::new(&st, &p, &ctx, "cust.title", &f).await;
    layout.title = c.name.clone();
    Ok(html(&CustomerPage {
        is_new: false,
        id,
        kind_label: ctx.lang.t(&format!("cust.kind.{}", c.kind)).to_string(),
        first_phone: c.phones.first().map(|p| p.phone.clone()).unwrap_or_default(),
        phones: c.phones.into_iter().map(|p| p.phone).collect(),
        name: c.name,
        kind: c.kind,
        id_type: c.id_type,
        id_number: c.id_number,
        email: c.email,
        unit,
        masked: c.masked,
        accounts: c.accounts,
        can_write: p.has(perm::CUSTOMER_WRITE),
        layout,
    }))
}

fn customer_input(f: &RawForm, keep_phones: Option<Vec<PhoneInput>>) -> CustomerInput {
    let phone = f.get("phone").trim();
    CustomerInput {
        kind: f.get("kind").to_string(),
        name: f.get("name").to_string(),
        id_type: f.get("id_type").to_string(),
        id_number: f.get("id_number").to_string(),
        email: f.get("email").to_string(),
        wechat_openid: String::new(),
        note: String::new(),
        unit_id: None,
        phones: if phone.is_empty() {
            keep_phones.unwrap_or_default()
        } else {
            vec![PhoneInput { phone: phone.to_string(), label: String::new() }]
        },
    }
}

async fn customer_create(State(st): State<AppState>, Auth(p, ctx): Auth, f: RawForm) -> Result<Response, ApiError> {
    match st.services().customer_create(&p, &customer_input(&f, None), &ctx.audit()).await {
        Ok(c) => after_form(&format!("/customers/{}", c.id), Ok(()), "created"),
        Err(e) => after_form::<()>("/customers/new", Err(e), ""),
    }
}

async fn customer_update(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    f: RawForm,
) -> Result<Response, ApiError> {
    p.require(perm::CUSTOMER_WRITE)?;
    // Masked values are not shown in the form: keep what is stored when a field comes back empty.
    let current = st
        .services()
        .customer_get(
            &waterdesk_services::Principal {
                permissions: p.permissions.iter().cloned().chain([perm::CUSTOMER_PII_READ.to_string()]).collect(),
                ..p.clone()
            },
            id,
        )
        .await?;
    let mut input = customer_input(
        &f,
        Some(current.phones.iter().map(|x| PhoneInput { phone: x.phone.clone(), label: x.label.clone() }).collect()),
    );
    if input.id_number.trim().is_empty() {
        input.id_number = current.id_number;
    }
    input.unit_id = Some(current.unit_id);
    after_form(&format!("/customers/{id}"), st.services().customer_update(&p, id, &input, &ctx.audit()).await, "saved")
}

async fn account_create(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    f: RawForm,
) -> Result<Response, ApiError> {
    p.require(perm::CUSTOMER_WRITE)?;
    let holder = st.services().customer_get(&p, id).await?;
    let input = AccountInput {
        account_no: f.get("account_no").to_string(),
        holder_id: id,
        address: f.get("address").to_string(),
        lat: None,
        lon: None,
        category: f.get("category").to_string(),
        status: "active".into(),
        book_no: String::new(),
        unit_id: Some(holder.unit_id),
        tariff_code: None,
        household_size: f.int("household_size").unwrap_or(4),
        e_bill: false,
        transfer_reason: String::new(),
    };
    match st.services().account_create(&p, &input, &ctx.audit()).await {
        Ok(a) => after_form(&format!("/accounts/{}", a.id), Ok(()), "created"),
        Err(e) => after_form::<()>(&format!("/customers/{id}"), Err(e), ""),
    }
}

/// The account's latest contacts as table rows.
async fn account_contacts(
    st: &AppState,
    p: &waterdesk_services::Principal,
    contacts: &[waterdesk_services::contacts::ContactView],
    layout: &Layout,
) -> Result<Vec<super::contacts::Row>, ApiError> {
    if contacts.is_empty() {
        return Ok(vec![]);
    }
    // The 360 table shows no channel: only the categories are looked up.
    let categories = super::dict_choices(st, p, layout.lang, "category", true).await?;
    Ok(contacts.iter().map(|v| super::contacts::contact_row(layout, &[], &categories, v.contact.clone(), 60)).collect())
}

/// Edits an account from its page: address, category, status, tariff, or a change of
/// holder (过户) with its reason.
async fn account_update(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    f: RawForm,
) -> Result<Response, ApiError> {
    p.require(perm::CUSTOMER_WRITE)?;
    let old = st.services().account_360(&p, id).await?.account;
    let coord = |k: &str| f.get(k).trim().parse::<f64>().ok();
    let input = AccountInput {
        account_no: old.account_no.clone(),
        holder_id: f.int("holder_id").unwrap_or(old.holder_id),
        address: f.get("address").to_string(),
        lat: coord("lat"),
        lon: coord("lon"),
        category: f.get("category").to_string(),
        status: f.get("status").to_string(),
        book_no: f.get("book_no").to_string(),
        unit_id: Some(old.unit_id),
        tariff_code: Some(f.get("tariff_code").to_string()).filter(|t| !t.is_empty()),
        household_size: f.int("household_size").unwrap_or(0),
        e_bill: f.get("e_bill") == "on",
        transfer_reason: f.get("transfer_reason").to_string(),
    };
    after_form(&format!("/accounts/{id}"), st.services().account_update(&p, id, &input, &ctx.audit()).await, "saved")
}

/// Installs a meter, or changes one (换表): the replaced meter is removed on the day
/// the new one is installed.
async fn meter_create(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    f: RawForm,
) -> Result<Response, ApiError> {
    let input = MeterInput {
        serial: f.get("serial").to_string(),
        diameter_mm: f.int("diameter_mm").unwrap_or(0),
        model: f.get("model").to_string(),
        installed_on: f.get("installed_on").to_string(),
        initial_reading: f.int("initial_reading").unwrap_or(0),
        replaces_meter_id: f.int("replaces_meter_id").filter(|m| *m > 0),
    };
    after_form(&format!("/accounts/{id}"), st.services().meter_add(&p, id, &input, &ctx.audit()).await, "saved")
}

pub struct UsageBar {
    x: i64,
    y: i64,
    h: i64,
    volume: i64,
    amount: String,
    label: String,
}

pub struct BillRow {
    period: String,
    volume: i64,
    total: String,
    paid: String,
    status: String,
    due_on: String,
}

pub struct PaymentRow {
    time: String,
    amount: String,
    channel: String,
    txn: String,
}

#[derive(Template)]
#[template(path = "customers/account.html")]
pub struct AccountPage {
    layout: Layout,
    id: i64,
    account_no: String,
    address: String,
    category: String,
    status: String,
    tariff_name: String,
    household: i64,
    book_no: String,
    holder_id: i64,
    holder_name: String,
    holder_phones: Vec<String>,
    arrears_fen: i64,
    arrears: String,
    credit: String,
    tier: usize,
    source: String,
    ytd: i64,
    remaining: Option<i64>,
    tier_pct: i64,
    usage: Vec<UsageBar>,
    bills: Vec<BillRow>,
    payments: Vec<PaymentRow>,
    meters: Vec<Meter>,
    current_meter: i64,
    holders: Vec<(String, String, String, String)>,
    /// The account's recent contacts.
    contacts: Vec<super::contacts::Row>,
    can_contacts: bool,
    channels: Vec<&'static str>,
    can_bill: bool,
    can_write: bool,
    /// The account's fields as stored, for the edit form.
    edit: waterdesk_store::customers::Account,
    tariffs: Vec<(String, String)>,
    categories: &'static [&'static str],
    statuses: &'static [&'static str],
    today: String,
}

async fn account_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    let v = st.services().account_360(&p, id).await?;
    let lang = ctx.lang;
    let mut layout = Layout::new(&st, &p, &ctx, "acct.title", &f).await;
    layout.title = format!("{} {}", lang.t("acct.title"), v.account.account_no);
    let b = &v.billing;
    // Usage chart: the last 12 bills, oldest left.
    let mut bills_asc: Vec<_> = b.bills.iter().collect();
    bills_asc.reverse();
    let max = bills_asc.iter().map(|b| b.volume).max().unwrap_or(0).max(1);
    let usage = bills_asc
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let h = b.volume * 100 / max;
            let label = b.period.get(2..).unwrap_or(&b.period).to_string();
            UsageBar {
                x: i as i64 * 50 + 4,
                y: 120 - h,
                h,
                volume: b.volume,
                amount: Fen(b.total_fen).to_string(),
                label,
            }
        })
        .collect();
    let tier_pct = match b.remaining_in_tier {
        Some(r) if b.ytd_m3 + r > 0 => (b.ytd_m3 * 100 / (b.ytd_m3 + r)).clamp(0, 100),
        _ => 100,
    };
    Ok(html(&AccountPage {
        id,
        account_no: v.account.account_no.clone(),
        address: v.account.address.clone(),
        category: lang.t(&format!("acct.category.{}", v.account.category)).to_string(),
        status: lang.t(&format!("acct.status.{}", v.account.status)).to_string(),
        tariff_name: v.tariff_name.clone(),
        household: v.account.household_size,
        book_no: v.account.book_no.clone(),
        holder_id: v.holder.id,
        holder_name: v.holder.name.clone(),
        holder_phones: v.holder.phones.iter().map(|p| p.phone.clone()).collect(),
        arrears_fen: v.billing.arrears_fen,
        arrears: Fen(v.billing.arrears_fen).to_string(),
        credit: Fen(v.billing.credit_fen.max(0)).to_string(),
        tier: v.billing.tier.unwrap_or(0),
        ytd: v.billing.ytd_m3,
        remaining: v.billing.remaining_in_tier,
        source: v.billing.source.clone(),
        tier_pct,
        usage,
        bills: v
            .billing
            .bills
            .iter()
            .map(|b| BillRow {
                period: b.period.clone(),
                volume: b.volume,
                total: Fen(b.total_fen).to_string(),
                paid: Fen(b.paid_fen).to_string(),
                status: b.status.clone(),
                due_on: b.due_on.clone(),
            })
            .collect(),
        payments: v
            .billing
            .payments
            .iter()
            .map(|x| PaymentRow {
                time: layout.dt(&x.paid_at),
                amount: Fen(x.amount_fen).to_string(),
                channel: x.channel.clone(),
                txn: x.external_txn_id.clone(),
            })
            .collect(),
        current_meter: v.meters.iter().rev().find(|m| m.removed_on.is_none()).map(|m| m.id).unwrap_or(0),
        meters: v.meters.clone(),
        holders: v
            .holders
            .iter()
            .map(|h| {
                (
                    h.customer_name.clone(),
                    layout.dt(&h.from_at),
                    h.to_at.map(|t| layout.dt(&t)).unwrap_or_default(),
                    h.reason.clone(),
                )
            })
            .collect(),
        contacts: account_contacts(&st, &p, &v.contacts, &layout).await?,
        can_contacts: p.has(perm::CONTACT_READ),
        channels: PAYMENT_CHANNELS.to_vec(),
        can_bill: p.has(perm::BILLING_WRITE),
        can_write: p.has(perm::CUSTOMER_WRITE),
        tariffs: st.services().tariffs_list(&p).await?.into_iter().map(|t| (t.code, t.name)).collect(),
        categories: ACCOUNT_CATEGORIES,
        statuses: ACCOUNT_STATUSES,
        today: st.services().now().to_zoned(st.services().tz.clone()).date().to_string(),
        edit: v.account,
        layout,
    }))
}

async fn reading_create(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    f: RawForm,
) -> Result<Response, ApiError> {
    let input = ReadingInput {
        meter_id: f.int("meter_id").unwrap_or_default(),
        read_on: f.get("read_on").to_string(),
        reading: f.int("reading").unwrap_or(-1),
        source: "manual".into(),
    };
    after_form(&format!("/accounts/{id}"), st.services().reading_record(&p, id, &input, &ctx.audit()).await, "saved")
}

async fn payment_create(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    f: RawForm,
) -> Result<Response, ApiError> {
    p.require(perm::BILLING_WRITE)?;
    let Some(amount) = Fen::parse_yuan(f.get("amount")) else {
        return after_form::<()>(
            &format!("/accounts/{id}"),
            Err(ServiceError::validation("amount", "invalid_amount", "e.g. 39.00")),
            "",
        );
    };
    let input = PaymentInput {
        channel: f.get("channel").to_string(),
        amount_fen: amount.0,
        paid_at: None,
        external_txn_id: f.get("external_txn_id").to_string(),
        note: String::new(),
    };
    after_form(&format!("/accounts/{id}"), st.services().payment_record(&p, id, &input, &ctx.audit()).await, "saved")
}

#[derive(Template)]
#[template(path = "customers/import.html")]
pub struct ImportPage {
    layout: Layout,
    kinds: Vec<&'static str>,
    exports: Vec<&'static str>,
    runs: Vec<waterdesk_store::imports::ImportRun>,
}

async fn import_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    p.require(perm::CUSTOMER_WRITE)?;
    let runs = st.services().import_runs(&p).await?;
    let layout = Layout::new(&st, &p, &ctx, "imp.title", &f).await;
    let kinds = vec!["customers", "readings", "bills", "payments"];
    let exports = vec!["customers", "meters", "readings", "bills", "payments"];
    Ok(html(&ImportPage { layout, kinds, exports, runs }))
}
