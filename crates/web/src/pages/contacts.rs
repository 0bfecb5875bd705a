//! Contacts for supervisors and agents (R-CALL-07): the list with filters and paging, a
//! contact's page, and QA scoring on a score sheet (R-CALL-06).

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use waterdesk_domain::permissions::perm;
use waterdesk_services::campaigns::ReviewInput;
use waterdesk_store::campaigns::Sheet;
use waterdesk_store::contacts::{Contact, ContactFilter};

use super::{Choice, FlashQuery, Layout, RawForm, after_form, choice_label, dict_choices, html};
use crate::api::exports::{attachment, line};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/contacts", get(list_page))
        .route("/contacts/export.csv", get(export))
        .route("/contacts/{id}", get(detail_page))
        .route("/contacts/{id}/qa", post(qa))
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    caller: String,
    #[serde(default)]
    mine: String,
    before: Option<i64>,
    msg: Option<String>,
    err: Option<String>,
    detail: Option<String>,
}

/// A contact as a table row (contacts list, console, account 360 view).
pub struct Row {
    pub id: i64,
    pub no: String,
    pub time: String,
    pub channel: String,
    pub category: String,
    pub caller: String,
    /// The first `width` characters of the content.
    pub content: String,
    pub status: String,
    pub duration: String,
    pub ivr: String,
    /// The work order the contact created or joined (empty: none yet).
    pub order_no: String,
}

pub fn contact_row(layout: &Layout, channels: &[Choice], categories: &[Choice], c: Contact, width: usize) -> Row {
    Row {
        id: c.id,
        time: layout.dt(&c.started_at),
        channel: choice_label(channels, &c.channel),
        category: choice_label(categories, &c.category),
        caller: c.caller,
        content: c.content.chars().take(width).collect(),
        status: c.status,
        duration: c.duration_s.map(|d| format!("{d} s")).unwrap_or_default(),
        ivr: c.ivr_rating.map(|r| r.to_string()).unwrap_or_default(),
        order_no: c.order_no,
        no: c.contact_no,
    }
}

#[derive(Template)]
#[template(path = "contacts/list.html")]
pub struct ListPage {
    layout: Layout,
    rows: Vec<Row>,
    next: Option<i64>,
    next_query: String,
    export_url: String,
    can_export: bool,
    channels: Vec<Choice>,
    categories: Vec<Choice>,
    f_from: String,
    f_to: String,
    f_category: String,
    f_channel: String,
    f_caller: String,
    f_mine: bool,
}

/// The list's filters as a store filter (dates are local days, `to` inclusive).
fn filter_of<'a>(
    q: &'a ListQuery,
    cats: Option<&'a [String]>,
    user_id: i64,
    tz: &jiff::tz::TimeZone,
) -> ContactFilter<'a> {
    let day = |d: &str, plus: i64| -> Option<jiff::Timestamp> {
        let date: jiff::civil::Date = d.parse().ok()?;
        let date = date.checked_add(jiff::Span::new().days(plus)).ok()?;
        date.to_zoned(tz.clone()).ok().map(|z| z.timestamp())
    };
    ContactFilter {
        agent_id: (q.mine == "1").then_some(user_id),
        caller: Some(q.caller.trim()).filter(|c| !c.is_empty()),
        categories: cats,
        channel: Some(q.channel.as_str()).filter(|c| !c.is_empty()),
        from: day(&q.from, 0),
        to: day(&q.to, 1),
        before: q.before,
        ..Default::default()
    }
}

/// The filtered contacts as CSV, streamed page by page (memory stays flat).
async fn export(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    p.require(perm::REPORT_EXPORT)?;
    let s = st.services().clone();
    let channels = dict_choices(&st, &p, ctx.lang, "channel", true).await?;
    let categories = dict_choices(&st, &p, ctx.lang, "category", true).await?;
    let cats = (!q.category.is_empty()).then(|| vec![q.category.clone()]);
    let first = s.contact_list(&p, filter_of(&q, cats.as_deref(), p.user_id, &s.tz), 500).await?;
    let l = ctx.lang;
    let header: Vec<String> = [
        "contact.no",
        "contact.time",
        "contact.channel",
        "contact.category",
        "contact.caller",
        "contact.content",
        "contact.reply",
        "contact.status",
        "contacts.duration",
        "contacts.agent",
    ]
    .iter()
    .map(|k| l.t(k).to_string())
    .chain(std::iter::once("IVR".to_string()))
    .collect();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        let mut names: BTreeMap<i64, String> = BTreeMap::new();
        let mut chunk = String::from("\u{feff}");
        chunk.push_str(&line(&header));
        let mut page = first;
        loop {
            for v in &page.items {
                let c = &v.contact;
                let agent = match c.agent_id {
                    Some(a) => match names.get(&a) {
                        Some(n) => n.clone(),
                        None => {
                            let n = s.user_name(a).await.ok().flatten().unwrap_or_default();
                            names.insert(a, n.clone());
                            n
                        }
                    },
                    None => String::new(),
                };
                chunk.push_str(&line(&[
                    c.contact_no.clone(),
                    super::fmt_local(c.started_at, &s.tz),
                    choice_label(&channels, &c.channel),
                    choice_label(&categories, &c.category),
                    c.caller.clone(),
                    c.content.clone(),
                    c.reply.clone(),
                    c.status.clone(),
                    c.duration_s.map(|d| d.to_string()).unwrap_or_default(),
                    agent,
                    c.ivr_rating.map(|r| r.to_string()).unwrap_or_default(),
                ]));
            }
            if tx.send(Ok(axum::body::Bytes::from(std::mem::take(&mut chunk)))).await.is_err() {
                return; // the client went away
            }
            let Some(before) = page.next else { return };
            let q2 = ListQuery { before: Some(before), ..q.clone() };
            match s.contact_list(&p, filter_of(&q2, cats.as_deref(), p.user_id, &s.tz), 500).await {
                Ok(next) => page = next,
                Err(e) => {
                    tracing::error!(error = %e, "contacts export failed mid-way");
                    let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
                    return;
                }
            }
        }
    });
    let body = axum::body::Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    Ok(attachment(body, "text/csv; charset=utf-8", "contacts.csv"))
}

async fn list_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    p.require(perm::CONTACT_READ)?;
    let s = st.services();
    let channels = dict_choices(&st, &p, ctx.lang, "channel", true).await?;
    let categories = dict_choices(&st, &p, ctx.lang, "category", true).await?;
    let cats = (!q.category.is_empty()).then(|| vec![q.category.clone()]);
    let page = s.contact_list(&p, filter_of(&q, cats.as_deref(), p.user_id, &s.tz), 50).await?;
    let flash = FlashQuery { msg: q.msg.clone(), err: q.err.clone(), detail: q.detail.clone() };
    let layout = Layout::new(&st, &p, &ctx, "contacts.title", &flash).await;
    let rows = page.items.into_iter().map(|v| contact_row(&layout, &channels, &categories, v.contact, 80)).collect();
    let enc = |s: &str| urlencoding::encode(s).into_owned();
    let next_query = format!(
        "/contacts?from={}&to={}&category={}&channel={}&caller={}&mine={}",
        enc(&q.from),
        enc(&q.to),
        enc(&q.category),
        enc(&q.channel),
        enc(&q.caller),
        enc(&q.mine)
    );
    Ok(html(&ListPage {
        layout,
        rows,
        next: page.next,
        export_url: next_query.replacen("/contacts?", "/contacts/export.csv?", 1),
        can_export: p.has(perm::REPORT_EXPORT),
        next_query,
        channels,
        categories,
        f_from: q.from,
        f_to: q.to,
        f_category: q.category,
        f_channel: q.channel,
        f_caller: q.caller,
        f_mine: q.mine == "1",
    }))
}

#[derive(Template)]
#[template(path = "contacts/detail.html")]
pub struct DetailPage {
    layout: Layout,
    c: Contact,
    started: String,
    channel: String,
    category: String,
    agent: String,
    can_qa: bool,
    sheets: Vec<Sheet>,
    /// May register a work order from this contact (it has none yet).
    can_order: bool,
    /// Photos and files the customer sent (R-CALL-01).
    files: Vec<super::field::FileView>,
    can_upload: bool,
}

async fn detail_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    let s = st.services();
    let c = s.contact_get(&p, id).await?.contact;
    let channel = choice_label(&dict_choices(&st, &p, ctx.lang, "channel", true).await?, &c.channel);
    let category = match c.category.as_str() {
        "" => String::new(),
        code => choice_label(&dict_choices(&st, &p, ctx.lang, "category", true).await?, code),
    };
    let agent = match c.agent_id {
        Some(a) => s.user_name(a).await?.unwrap_or_default(),
        None => String::new(),
    };
    let can_qa = p.has(perm::CONTACT_QA) && c.agent_id != Some(p.user_id);
    let sheets = if can_qa { s.qa_sheets(&p).await?.into_iter().filter(|s| s.enabled).collect() } else { vec![] };
    let can_order = p.has(perm::ORDER_CREATE) && c.order_no.is_empty();
    let mut layout = Layout::new(&st, &p, &ctx, "contacts.title", &f).await;
    layout.title = c.contact_no.clone();
    let files = super::field::file_views(&st, &p, &layout, waterdesk_store::attachments::Owner::Contact(c.id)).await?;
    Ok(html(&DetailPage {
        started: layout.dt(&c.started_at),
        layout,
        c,
        channel,
        category,
        agent,
        can_qa,
        sheets,
        can_order,
        files,
        can_upload: p.has(perm::CONTACT_WRITE),
    }))
}

async fn qa(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    f: RawForm,
) -> Result<Response, ApiError> {
    let scores: BTreeMap<String, i64> = f
        .0
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("score_").map(|code| (code.to_string(), v.trim().parse().unwrap_or(-1))))
        .collect();
    let input = ReviewInput { sheet_id: f.int("sheet_id").unwrap_or(0), scores, comment: f.get("comment").to_string() };
    after_form(&format!("/contacts/{id}"), st.services().qa_review(&p, id, &input, &ctx.audit()).await, "saved")
}
