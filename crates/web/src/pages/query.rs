//! The query builder page (R-DATA-02/03): conditions and AND/OR groups over the work
//! orders, sort, keyset pages, saved and shared queries, Excel export with progress, and a
//! print view of a result page. `query.js` builds the query document and calls the API;
//! this module gives it the fields, operators and choices in the page's language.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};
use waterdesk_domain::permissions::perm;
use waterdesk_domain::query::{Field, Kind, Op, SortKey};
use waterdesk_domain::workflow::State as OrderState;
use waterdesk_store::order_query::QueryRow;

use super::{FlashQuery, Layout, dict_choices, html, pick};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::Query;
use crate::i18n::Lang;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/query", get(query_page)).route("/query/print", get(print_page))
}

#[derive(Template)]
#[template(path = "query/index.html")]
pub struct QueryPageT {
    layout: Layout,
    /// Fields, operators, choices and texts for query.js (JSON).
    meta: String,
    export_limit: i64,
}

fn op_label(lang: Lang, op: Op) -> &'static str {
    lang.t(match op {
        Op::Eq => "query.op.eq",
        Op::In => "query.op.in",
        Op::NotIn => "query.op.not_in",
        Op::Under => "query.op.under",
        Op::Between => "query.op.between",
        Op::Contains => "query.op.contains",
        Op::Is => "query.op.is",
    })
}

fn kind_code(k: Kind) -> &'static str {
    match k {
        Kind::Code => "code",
        Kind::Number => "number",
        Kind::Phone => "phone",
        Kind::Text => "text",
        Kind::Id => "id",
        Kind::Int => "int",
        Kind::Date => "date",
        Kind::Bool => "bool",
    }
}

fn sort_label(lang: Lang, k: SortKey) -> String {
    match k {
        SortKey::RegisteredAt => pick(lang, Field::RegisteredAt.label().0, Field::RegisteredAt.label().1),
        SortKey::Priority => pick(lang, Field::Priority.label().0, Field::Priority.label().1),
        SortKey::OrderNo => pick(lang, Field::OrderNo.label().0, Field::OrderNo.label().1),
        SortKey::UpdatedAt => lang.t("query.sort.updated_at").to_string(),
    }
}

/// UI texts query.js needs, by short key.
const TEXTS: &[&str] = &[
    "all",
    "any",
    "add_condition",
    "add_group",
    "remove",
    "run",
    "prev",
    "next",
    "export",
    "exporting",
    "export_done",
    "print",
    "save",
    "shared",
    "delete",
    "load",
    "name",
    "no_rows",
    "rows",
    "page",
    "yes",
    "no",
    "from",
    "to",
    "saved_ok",
    "deleted_ok",
    "confirm_delete",
    "error",
    "mine",
    "hold_ctrl",
];

/// A dictionary's choices; for channel and source also the order origins, which stand in
/// for them on orders registered without a contact.
async fn choices_with_origins(
    st: &AppState,
    p: &waterdesk_services::Principal,
    lang: Lang,
    dict: &str,
) -> Vec<(String, String)> {
    let mut choices = dict_choices(st, p, lang, dict, true).await.unwrap_or_default();
    if dict != "category" {
        for o in waterdesk_services::orders::ORIGINS.iter().filter(|o| **o != "contact") {
            if !choices.iter().any(|(c, _)| c == o) {
                choices.push((o.to_string(), lang.t(&format!("order.origin.{o}")).to_string()));
            }
        }
    }
    choices
}

async fn meta(st: &AppState, p: &waterdesk_services::Principal, lang: Lang) -> Result<Value, ApiError> {
    let s = st.services();
    let fields: Vec<Value> = Field::ALL
        .iter()
        .map(|f| {
            json!({
                "code": f.code(),
                "label": pick(lang, f.label().0, f.label().1),
                "kind": kind_code(f.kind()),
                "ops": f.ops().iter().map(|o| o.code()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let ops: serde_json::Map<String, Value> =
        Op::ALL.iter().map(|o| (o.code().to_string(), Value::from(op_label(lang, *o)))).collect();
    let pairs = |v: Vec<(String, String)>| -> Value { v.into_iter().map(|(c, l)| json!([c, l])).collect() };
    let mut options = serde_json::Map::new();
    for d in ["channel", "source", "category"] {
        options.insert(d.into(), pairs(choices_with_origins(st, p, lang, d).await));
    }
    let types = s.order_types(p).await?;
    options.insert(
        "type".into(),
        pairs(types.into_iter().map(|t| (t.code, pick(lang, &t.name_zh, &t.name_en))).collect()),
    );
    options.insert(
        "state".into(),
        pairs(
            OrderState::ALL.iter().map(|st| (st.code().to_string(), pick(lang, st.label().0, st.label().1))).collect(),
        ),
    );
    options.insert(
        "satisfaction".into(),
        pairs(
            waterdesk_services::order_views::SATISFACTION
                .iter()
                .map(|(c, zh, en)| (c.to_string(), pick(lang, zh, en)))
                .collect(),
        ),
    );
    let units = s.query_units(p).await?;
    options.insert(
        "unit".into(),
        units.into_iter().map(|(id, zh, en)| json!([id, pick(lang, &zh, &en)])).collect::<Vec<_>>().into(),
    );
    options.insert("priority".into(), (1..=4).map(|n| json!([n, n.to_string()])).collect::<Vec<_>>().into());
    let sort: Vec<Value> = SortKey::ALL.iter().map(|k| json!([k.code(), sort_label(lang, *k)])).collect();
    let texts: serde_json::Map<String, Value> =
        TEXTS.iter().map(|k| (k.to_string(), Value::from(lang.t(&format!("query.ui.{k}"))))).collect();
    let errors: serde_json::Map<String, Value> = [
        "query_unknown_field",
        "query_unknown_key",
        "query_bad_operator",
        "query_bad_value",
        "query_bad_range",
        "query_too_complex",
        "query_range_too_large",
        "query_bad_sort",
        "query_bad_limit",
        "query_bad_cursor",
        "query_bad_group",
        "query_timeout",
        "export_too_large",
        "export_busy",
    ]
    .iter()
    .map(|k| (k.to_string(), Value::from(lang.t(&format!("query.err.{k}")))))
    .collect();
    Ok(json!({"fields": fields, "ops": ops, "options": options, "sort": sort, "t": texts, "errors": errors,
        "me": p.user_id}))
}

async fn query_page(State(st): State<AppState>, Auth(p, ctx): Auth) -> Result<Response, ApiError> {
    p.require(perm::ORDER_READ)?;
    let meta = meta(&st, &p, ctx.lang).await?.to_string();
    let layout = Layout::new(&st, &p, &ctx, "query.title", &FlashQuery::default()).await;
    Ok(html(&QueryPageT { layout, meta, export_limit: waterdesk_services::Services::export_limit(&p) }))
}

/// `q`: the query document as JSON (a page of its result is printed).
#[derive(Debug, Default, serde::Deserialize)]
pub struct PrintQuery {
    pub q: Option<String>,
}

pub struct PrintRow {
    pub r: QueryRow,
    pub type_name: String,
    pub state: String,
    pub channel: String,
    pub registered: String,
}

#[derive(Template)]
#[template(path = "query/print.html")]
pub struct PrintPage {
    layout: Layout,
    rows: Vec<PrintRow>,
    conditions: Vec<String>,
    printed: String,
    more: bool,
}

async fn print_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(q): Query<PrintQuery>,
) -> Result<Response, ApiError> {
    p.require(perm::ORDER_READ)?;
    let s = st.services();
    let doc: Value = match q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => json!({}),
        Some(t) => serde_json::from_str(t).map_err(|_| {
            ApiError::from(waterdesk_services::ServiceError::validation(
                "q",
                "query_bad_value",
                "the query is not JSON",
            ))
        })?,
    };
    let page = s.order_query(&p, &doc).await?;
    let parsed = s.order_query_parse(&doc)?;
    let lang = ctx.lang;
    // The heading names codes as the page does (types, states, dictionaries, yes/no).
    let meta = meta(&st, &p, lang).await?;
    let name_of = |field: Field, code: &str| -> String {
        meta["options"][field.code()]
            .as_array()
            .and_then(|l| {
                l.iter().find(|o| {
                    o[0].as_str() == Some(code) || o[0].as_i64().is_some_and(|n| code.parse::<i64>() == Ok(n))
                })
            })
            .and_then(|o| o[1].as_str())
            .map_or_else(|| code.to_string(), str::to_string)
    };
    let conditions = parsed
        .conditions()
        .iter()
        .map(|c| {
            use waterdesk_domain::query::Val;
            let (zh, en) = c.field.label();
            let value = match &c.value {
                Val::Texts(t) => t.iter().map(|x| name_of(c.field, x)).collect::<Vec<_>>().join(", "),
                Val::Ids(i) => i.iter().map(|x| name_of(c.field, &x.to_string())).collect::<Vec<_>>().join(", "),
                Val::Bool(b) => lang.t(if *b { "query.ui.yes" } else { "query.ui.no" }).to_string(),
                v => describe(v, &s.tz),
            };
            format!("{} {} {}", pick(lang, zh, en), op_label(lang, c.op), value)
        })
        .collect();
    let channels = choices_with_origins(&st, &p, lang, "channel").await;
    let rows = page
        .items
        .into_iter()
        .map(|r| PrintRow {
            type_name: pick(lang, &r.type_zh, &r.type_en),
            state: OrderState::parse(&r.state).map(|x| pick(lang, x.label().0, x.label().1)).unwrap_or(r.state.clone()),
            channel: super::choice_label(&channels, &r.channel),
            registered: super::fmt_local(r.registered_at, &s.tz),
            r,
        })
        .collect();
    let mut layout = Layout::new(&st, &p, &ctx, "query.print_title", &FlashQuery::default()).await;
    layout.title = lang.t("query.print_title").to_string();
    Ok(html(&PrintPage { printed: layout.dt(&s.now()), layout, rows, conditions, more: page.next.is_some() }))
}

fn describe(v: &waterdesk_domain::query::Val, tz: &jiff::tz::TimeZone) -> String {
    use waterdesk_domain::query::Val;
    match v {
        Val::Texts(t) => t.join(", "),
        Val::Ids(i) => i.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", "),
        Val::Ints(a, b) => format!("{a}–{b}"),
        Val::Range(a, b) => format!("{} – {}", super::fmt_local(*a, tz), super::fmt_local(*b, tz)),
        Val::Bool(b) => b.to_string(),
        Val::Substring(s) => format!("“{s}”"),
    }
}
