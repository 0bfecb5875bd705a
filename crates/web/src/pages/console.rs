//! The agent console (R-CALL-01..04): seat at an extension, live screen pop on ringing,
//! customer search, the contact form with keyboard shortcuts, and today's contacts.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use waterdesk_domain::permissions::perm;
use waterdesk_store::contacts::ContactFilter;

use super::{FlashQuery, Layout, html};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::Query;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/console", get(console_page))
}

/// A dictionary item for a select: (code, label).
pub type Choice = (String, String);

#[derive(Template)]
#[template(path = "console.html")]
pub struct ConsolePage {
    layout: Layout,
    extension: String,
    channels: Vec<Choice>,
    sources: Vec<Choice>,
    categories: Vec<Choice>,
    today: Vec<TodayRow>,
}

pub struct TodayRow {
    id: i64,
    no: String,
    time: String,
    channel: String,
    category: String,
    caller: String,
    content: String,
    status: String,
}

async fn console_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    p.require(perm::CONTACT_WRITE)?;
    let s = st.services();
    let zh = ctx.lang == crate::i18n::Lang::Zh;
    let dict = |items: Vec<waterdesk_store::dicts::DictItem>| -> Vec<Choice> {
        items
            .into_iter()
            .map(|i| {
                let label = if zh || i.label_en.is_empty() { i.label_zh } else { i.label_en };
                (i.code, label)
            })
            .collect()
    };
    let channels = dict(s.dict_items(&p, "channel", false).await?);
    let sources = dict(s.dict_items(&p, "source", false).await?);
    let categories = dict(s.dict_items(&p, "category", false).await?);
    let label = |list: &[Choice], code: &str| {
        list.iter().find(|(c, _)| c == code).map(|(_, l)| l.clone()).unwrap_or_else(|| code.to_string())
    };
    let midnight = s.now().to_zoned(s.tz.clone()).start_of_day().map(|z| z.timestamp()).ok();
    let filter = ContactFilter { agent_id: Some(p.user_id), from: midnight, ..Default::default() };
    let page = s.contact_list(&p, filter, 100).await?;
    let layout = Layout::new(&st, &p, &ctx, "console.title", &f).await;
    let today = page
        .items
        .into_iter()
        .map(|v| {
            let c = v.contact;
            TodayRow {
                id: c.id,
                time: layout.dt(&c.started_at),
                channel: label(&channels, &c.channel),
                category: if c.category.is_empty() { String::new() } else { label(&categories, &c.category) },
                caller: c.caller,
                content: c.content.chars().take(60).collect(),
                status: c.status,
                no: c.contact_no,
            }
        })
        .collect();
    Ok(html(&ConsolePage {
        extension: s.agent_extension(&p).await?.unwrap_or_default(),
        channels,
        sources,
        categories,
        today,
        layout,
    }))
}
