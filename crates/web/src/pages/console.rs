//! The agent console (R-CALL-01..04): seat at an extension, live screen pop on ringing,
//! customer search, the contact form with keyboard shortcuts, and today's contacts.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use waterdesk_domain::permissions::perm;
use waterdesk_store::contacts::ContactFilter;

use super::contacts::{Row, contact_row};
use super::{Choice, FlashQuery, Layout, dict_choices, html};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::Query;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/console", get(console_page))
}

#[derive(Template)]
#[template(path = "console.html")]
pub struct ConsolePage {
    layout: Layout,
    extension: String,
    channels: Vec<Choice>,
    sources: Vec<Choice>,
    categories: Vec<Choice>,
    today: Vec<Row>,
    /// May register work orders from contacts.
    can_order: bool,
}

async fn console_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    p.require(perm::CONTACT_WRITE)?;
    let s = st.services();
    let channels = dict_choices(&st, &p, ctx.lang, "channel", false).await?;
    let sources = dict_choices(&st, &p, ctx.lang, "source", false).await?;
    let categories = dict_choices(&st, &p, ctx.lang, "category", false).await?;
    let midnight = s.now().to_zoned(s.tz.clone()).start_of_day().map(|z| z.timestamp()).ok();
    let filter = ContactFilter { agent_id: Some(p.user_id), from: midnight, ..Default::default() };
    let page = s.contact_list(&p, filter, 100).await?;
    let layout = Layout::new(&st, &p, &ctx, "console.title", &f).await;
    let today = page.items.into_iter().map(|v| contact_row(&layout, &channels, &categories, v.contact, 60)).collect();
    Ok(html(&ConsolePage {
        extension: s.agent_extension(&p).await?.unwrap_or_default(),
        channels,
        sources,
        categories,
        today,
        can_order: p.has(perm::ORDER_CREATE),
        layout,
    }))
}
