//! Work-order pages (issue 5, R-WO-01/03/07): the order queue with filters and paging,
//! registration (also from a contact), an order with its milestones, step fields,
//! history and the actions the user may take now, and a printable order sheet for crews
//! working on paper. Transitions go through `Services::order_act`, like the API's.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use waterdesk_domain::permissions::perm;
use waterdesk_domain::workflow::{Action, State as OrderState};
use waterdesk_services::order_views::{AvailableAction, Directory, FieldKind, Vocabulary};
use waterdesk_services::orders::{ActInput, OrderInput, OrderQuery};
use waterdesk_services::{Principal, ServiceError};
use waterdesk_store::orders::{Order, OrderType};

use super::{Choice, FlashQuery, Layout, RawForm, after_form, html, pick};
use crate::auth::{Auth, RequestCtx};
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::i18n::{CATALOGUE, Lang};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orders", get(list_page).post(create))
        .route("/orders/new", get(new_page))
        .route("/orders/{id}", get(detail_page))
        .route("/orders/{id}/print", get(print_page))
        .route("/orders/{id}/actions/{action}", post(act))
        .route("/orders/{id}/merge", post(merge))
        .route("/orders/{id}/contacts", post(link_contact))
}

const PAGE: i64 = 50;

/// A catalogue text, or `fallback` for keys the catalogue does not know (fields of
/// workflows edited by administrators).
fn label_or(lang: Lang, key: &str, fallback: &str) -> String {
    match CATALOGUE.binary_search_by(|(k, _, _)| (*k).cmp(key)) {
        Ok(_) => lang.t(key).to_string(),
        Err(_) => fallback.to_string(),
    }
}

pub(super) fn state_label(lang: Lang, code: &str) -> String {
    OrderState::parse(code).map(|s| pick(lang, s.label().0, s.label().1)).unwrap_or_else(|| code.to_string())
}

fn action_label(lang: Lang, code: &str) -> String {
    match code {
        "register" => lang.t("order.registered").to_string(),
        _ => Action::parse(code).map(|a| pick(lang, a.label().0, a.label().1)).unwrap_or_else(|| code.to_string()),
    }
}

/// Order types as (code, name in the page's language).
fn type_names(lang: Lang, types: &[OrderType]) -> BTreeMap<String, String> {
    types.iter().map(|t| (t.code.clone(), pick(lang, &t.name_zh, &t.name_en))).collect()
}

/// The label of a field's value: from the vocabulary when the field has one.
fn value_label(lang: Lang, vocabulary: &Vocabulary, field: &str, value: &str) -> String {
    vocabulary
        .get(field)
        .and_then(|choices| choices.iter().find(|c| c.code == value))
        .map(|c| pick(lang, &c.zh, &c.en))
        .unwrap_or_else(|| value.to_string())
}

/// A JSON object of step fields as (label, value) pairs.
fn field_pairs(lang: Lang, vocabulary: &Vocabulary, json: &str) -> Vec<(String, String)> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).unwrap_or_default();
    map.into_iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            (label_or(lang, &format!("order.field.{k}"), &k), value_label(lang, vocabulary, &k, &v))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The queue

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    open: String,
    #[serde(default, rename = "type")]
    type_code: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    mine: String,
    before: Option<i64>,
    msg: Option<String>,
    err: Option<String>,
    detail: Option<String>,
}

/// An order as a row of the queue.
pub struct Row {
    pub id: i64,
    pub no: String,
    pub type_name: String,
    pub title: String,
    pub address: String,
    pub priority: i64,
    pub state: String,
    pub state_label: String,
    pub assignee: String,
    pub unit: String,
    pub created: String,
    pub overdue: bool,
}

#[derive(Template)]
#[template(path = "orders/list.html")]
pub struct ListPage {
    layout: Layout,
    rows: Vec<Row>,
    next: Option<i64>,
    next_query: String,
    states: Vec<Choice>,
    types: Vec<Choice>,
    can_create: bool,
    f_state: String,
    f_open: bool,
    f_type: String,
    f_priority: String,
    f_mine: bool,
}

async fn list_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    p.require(perm::ORDER_READ)?;
    let s = st.services();
    let lang = ctx.lang;
    let query = OrderQuery {
        state: Some(q.state.clone()).filter(|x| !x.is_empty()),
        open: q.open == "1",
        type_code: Some(q.type_code.clone()).filter(|x| !x.is_empty()),
        assignee: (q.mine == "1").then(|| "me".to_string()),
        priority: q.priority.trim().parse().ok(),
        before: q.before,
        // One more than a page tells whether there is a next page.
        limit: Some(PAGE + 1),
    };
    let mut flash = FlashQuery { msg: q.msg.clone(), err: q.err.clone(), detail: q.detail.clone() };
    let mut orders = match s.order_list(&p, &query).await {
        Ok(o) => o,
        // A hand-edited filter: say so over an empty list.
        Err(ServiceError::Validation { field, detail, .. }) => {
            flash = FlashQuery {
                msg: None,
                err: Some("validation_failed".into()),
                detail: Some(format!("{field}: {detail}")),
            };
            vec![]
        }
        Err(e) => return Err(e.into()),
    };
    let next = (orders.len() as i64 > PAGE).then(|| {
        orders.truncate(PAGE as usize);
        orders.last().map(|o| o.id).unwrap_or_default()
    });
    let types = s.order_types(&p).await?;
    let names = type_names(lang, &types);
    let dir = s.order_directory(&p, orders.iter().filter_map(|o| o.assignee_id)).await?;
    let layout = Layout::new(&st, &p, &ctx, "orders.title", &flash).await;
    let rows = orders
        .into_iter()
        .map(|o| Row {
            id: o.id,
            type_name: names.get(&o.type_code).cloned().unwrap_or_else(|| o.type_code.clone()),
            priority: o.priority,
            state_label: state_label(lang, &o.state),
            assignee: dir.user(o.assignee_id),
            unit: dir.unit(o.unit_id, lang == Lang::En),
            created: layout.dt(&o.created_at),
            overdue: o.overdue,
            no: o.order_no,
            title: o.title,
            address: o.address,
            state: o.state,
        })
        .collect();
    let enc = |s: &str| urlencoding::encode(s).into_owned();
    let next_query = format!(
        "/orders?state={}&open={}&type={}&priority={}&mine={}",
        enc(&q.state),
        enc(&q.open),
        enc(&q.type_code),
        enc(&q.priority),
        enc(&q.mine)
    );
    Ok(html(&ListPage {
        layout,
        rows,
        next,
        next_query,
        states: OrderState::ALL.iter().map(|x| (x.code().to_string(), pick(lang, x.label().0, x.label().1))).collect(),
        types: types.iter().map(|t| (t.code.clone(), pick(lang, &t.name_zh, &t.name_en))).collect(),
        can_create: p.has(perm::ORDER_CREATE),
        f_state: q.state,
        f_open: q.open == "1",
        f_type: q.type_code,
        f_priority: q.priority,
        f_mine: q.mine == "1",
    }))
}

// ---------------------------------------------------------------------------------------
// Registration

/// The registration form as typed (kept to show it again after a refusal).
#[derive(Debug, Clone, Default)]
pub struct OrderForm {
    type_code: String,
    impact: String,
    urgency: String,
    title: String,
    content: String,
    address: String,
    caller: String,
    category: String,
    customer_id: String,
    account_id: String,
    contact_id: String,
    lat: String,
    lng: String,
}

impl OrderForm {
    fn from_raw(f: &RawForm) -> OrderForm {
        let g = |k: &str| f.get(k).to_string();
        OrderForm {
            type_code: g("type_code"),
            impact: g("impact"),
            urgency: g("urgency"),
            title: g("title"),
            content: g("content"),
            address: g("address"),
            caller: g("caller"),
            category: g("category"),
            customer_id: g("customer_id"),
            account_id: g("account_id"),
            contact_id: g("contact_id"),
            lat: g("lat"),
            lng: g("lng"),
        }
    }

    /// Parses the numbers at the boundary; the services check everything else.
    fn input(&self) -> Result<OrderInput, ServiceError> {
        fn id(field: &str, v: &str) -> Result<Option<i64>, ServiceError> {
            match v.trim() {
                "" => Ok(None),
                v => v.parse().map(Some).map_err(|_| ServiceError::validation(field, "invalid_id", "a number")),
            }
        }
        fn coordinate(field: &str, v: &str) -> Result<Option<f64>, ServiceError> {
            match v.trim() {
                "" => Ok(None),
                v => v
                    .parse()
                    .map(Some)
                    .map_err(|_| ServiceError::validation(field, "invalid_coordinate", "decimal degrees")),
            }
        }
        let contact_id = id("contact_id", &self.contact_id)?;
        Ok(OrderInput {
            type_code: self.type_code.clone(),
            origin: if contact_id.is_some() { "contact".into() } else { "staff".into() },
            contact_id,
            customer_id: id("customer_id", &self.customer_id)?,
            account_id: id("account_id", &self.account_id)?,
            category: self.category.clone(),
            impact: self.impact.clone(),
            urgency: self.urgency.clone(),
            title: self.title.clone(),
            content: self.content.clone(),
            address: self.address.clone(),
            lat: coordinate("lat", &self.lat)?,
            lng: coordinate("lng", &self.lng)?,
            caller: self.caller.clone(),
            ..Default::default()
        })
    }
}

#[derive(Template)]
#[template(path = "orders/new.html")]
pub struct NewPage {
    layout: Layout,
    form: OrderForm,
    types: Vec<Choice>,
    levels: Vec<Choice>,
    /// The contact the order comes from already has this order.
    existing_order: String,
    contact_no: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct NewQuery {
    contact_id: Option<String>,
    msg: Option<String>,
    err: Option<String>,
    detail: Option<String>,
}

async fn render_new(
    st: &AppState,
    p: &Principal,
    ctx: &RequestCtx,
    form: OrderForm,
    flash: &FlashQuery,
    contact: (String, String),
) -> Result<Response, ApiError> {
    let lang = ctx.lang;
    let types = st.services().order_types(p).await?;
    let layout = Layout::new(st, p, ctx, "orders.new", flash).await;
    Ok(html(&NewPage {
        layout,
        form,
        types: types
            .iter()
            .filter(|t| t.enabled)
            .map(|t| (t.code.clone(), pick(lang, &t.name_zh, &t.name_en)))
            .collect(),
        levels: ["low", "medium", "high"]
            .iter()
            .map(|l| (l.to_string(), lang.t(&format!("order.level.{l}")).to_string()))
            .collect(),
        existing_order: contact.1,
        contact_no: contact.0,
    }))
}

async fn new_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(q): Query<NewQuery>,
) -> Result<Response, ApiError> {
    p.require(perm::ORDER_CREATE)?;
    let mut form = OrderForm { impact: "medium".into(), urgency: "medium".into(), ..Default::default() };
    let mut contact = (String::new(), String::new());
    if let Some(cid) = q.contact_id.as_deref().and_then(|c| c.trim().parse::<i64>().ok()) {
        // Pre-filled from the contact the agent just recorded (R-WO-01).
        let v = st.services().contact_get(&p, cid).await?;
        let c = v.contact;
        let types = st.services().order_types(&p).await?;
        if types.iter().any(|t| t.enabled && t.code == c.category) {
            form.type_code = c.category.clone();
        }
        form.title = c.content.lines().next().unwrap_or_default().chars().take(40).collect();
        form.content = c.content;
        form.address = c.address;
        // A masked number is no use to the crew; the agent types it instead.
        form.caller = if v.masked { String::new() } else { c.caller };
        form.category = c.category;
        form.customer_id = c.customer_id.map(|x| x.to_string()).unwrap_or_default();
        form.account_id = c.account_id.map(|x| x.to_string()).unwrap_or_default();
        form.contact_id = c.id.to_string();
        contact = (c.contact_no, c.order_no);
    }
    let flash = FlashQuery { msg: q.msg, err: q.err, detail: q.detail };
    render_new(&st, &p, &ctx, form, &flash, contact).await
}

/// The catalogue key of a registration field's label.
fn form_key(field: &str) -> &'static str {
    match field {
        "type_code" => "order.type",
        "impact" => "order.impact",
        "urgency" => "order.urgency",
        "title" => "order.title",
        "content" => "order.content",
        "address" => "order.address",
        "caller" => "order.caller",
        "lat" => "acct.lat",
        "lng" => "acct.lon",
        "customer_id" => "contact.customer",
        "account_id" => "contact.account",
        "contact_id" => "order.contact",
        _ => "",
    }
}

async fn create(State(st): State<AppState>, Auth(p, ctx): Auth, f: RawForm) -> Result<Response, ApiError> {
    p.require(perm::ORDER_CREATE)?;
    let form = OrderForm::from_raw(&f);
    let result = match form.input() {
        Ok(input) => st.services().order_create(&p, &input, &ctx.audit()).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(o) => after_form(&format!("/orders/{}", o.id), Ok(()), "created"),
        // Shown again with what was typed, and why it was refused.
        Err(ServiceError::Validation { field, detail, .. }) => {
            let flash = FlashQuery {
                msg: None,
                err: Some("validation_failed".into()),
                detail: Some(format!("{}: {detail}", label_or(ctx.lang, form_key(&field), &field))),
            };
            render_new(&st, &p, &ctx, form, &flash, (String::new(), String::new())).await
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------
// An order

/// A field of an action's form.
pub struct FieldView {
    pub name: String,
    pub label: String,
    /// `select`, `number`, `textarea` or `text`.
    pub kind: &'static str,
    pub choices: Vec<Choice>,
}

/// An action the user may take, as a small form.
pub struct ActionView {
    pub code: &'static str,
    pub label: String,
    /// Button style: `btn-primary` for the way forward, `btn-danger` for ending or
    /// handing back, empty otherwise.
    pub style: &'static str,
    /// Asks for confirmation before it is sent.
    pub confirm: bool,
    pub note_required: bool,
    pub needs_assignee: bool,
    pub fields: Vec<FieldView>,
}

pub(super) fn action_view(lang: Lang, a: AvailableAction) -> ActionView {
    let style = match a.action {
        Action::Reject | Action::Deny | Action::Cancel | Action::Decline => "btn-danger",
        Action::Urge | Action::Supervise | Action::Suspend | Action::Reassign | Action::SendBack => "",
        _ => "btn-primary",
    };
    ActionView {
        code: a.action.code(),
        label: pick(lang, a.action.label().0, a.action.label().1),
        style,
        confirm: matches!(a.action, Action::Reject | Action::Deny | Action::Cancel),
        note_required: a.note_required,
        needs_assignee: a.needs_assignee,
        fields: a
            .fields
            .into_iter()
            .map(|f| FieldView {
                label: label_or(lang, &format!("order.field.{}", f.name), &f.name),
                kind: match f.kind {
                    FieldKind::Select => "select",
                    FieldKind::Number => "number",
                    FieldKind::LongText => "textarea",
                    FieldKind::Text => "text",
                },
                choices: f.choices.into_iter().map(|c| (c.code.clone(), pick(lang, &c.zh, &c.en))).collect(),
                name: f.name,
            })
            .collect(),
    }
}

/// One transition of the history.
pub struct EventRow {
    pub time: String,
    pub action: String,
    pub from: String,
    pub to: String,
    pub actor: String,
    pub note: String,
    pub fields: Vec<(String, String)>,
}

/// What the order page and the order sheet show about an order.
pub struct OrderView {
    pub o: Order,
    pub type_name: String,
    pub state_label: String,
    pub origin: String,
    pub impact: String,
    pub urgency: String,
    pub category: String,
    pub unit: String,
    pub assignee: String,
    pub creator: String,
    pub created: String,
    pub position: String,
    /// (label, local time or empty).
    pub milestones: Vec<(String, String)>,
    pub fields: Vec<(String, String)>,
    pub events: Vec<EventRow>,
    /// Causes and solutions to tick on paper.
    pub causes: Vec<String>,
    pub solutions: Vec<String>,
}

pub(super) async fn order_view(
    st: &AppState,
    p: &Principal,
    lang: Lang,
    layout: &Layout,
    id: i64,
) -> Result<OrderView, ApiError> {
    let s = st.services();
    let d = s.order_get(p, id).await?;
    let o = d.order;
    let types = s.order_types(p).await?;
    let vocabulary = s.order_vocabulary(p).await?;
    let people = o.assignee_id.into_iter().chain(o.created_by).chain(d.events.iter().filter_map(|e| e.actor_id));
    let dir: Directory = s.order_directory(p, people).await?;
    let level = |l: &str| if l.is_empty() { String::new() } else { label_or(lang, &format!("order.level.{l}"), l) };
    let dt = |t: Option<jiff::Timestamp>| t.map(|t| layout.dt(&t)).unwrap_or_default();
    let milestones = [
        ("accepted", o.accepted_at),
        ("dispatched", o.dispatched_at),
        ("acknowledged", o.acknowledged_at),
        ("arrived", o.arrived_at),
        ("resolved", o.resolved_at),
        ("concluded", o.concluded_at),
    ]
    .into_iter()
    .map(|(k, t)| (lang.t(&format!("order.ms.{k}")).to_string(), dt(t)))
    .collect();
    let events = d
        .events
        .iter()
        .map(|e| EventRow {
            time: layout.dt(&e.at),
            action: action_label(lang, &e.action),
            from: state_label(lang, &e.from_state),
            to: state_label(lang, &e.to_state),
            actor: dir.user(e.actor_id),
            note: e.note.clone(),
            fields: field_pairs(lang, &vocabulary, &e.fields),
        })
        .collect();
    let enabled = |field: &str| -> Vec<String> {
        vocabulary.get(field).into_iter().flatten().filter(|c| c.enabled).map(|c| pick(lang, &c.zh, &c.en)).collect()
    };
    let position = match (o.lat_e6, o.lng_e6) {
        (Some(lat), Some(lng)) => format!("{:.6},{:.6}", lat as f64 / 1e6, lng as f64 / 1e6),
        _ => String::new(),
    };
    Ok(OrderView {
        type_name: types
            .iter()
            .find(|t| t.code == o.type_code)
            .map(|t| pick(lang, &t.name_zh, &t.name_en))
            .unwrap_or_else(|| o.type_code.clone()),
        state_label: state_label(lang, &o.state),
        origin: label_or(lang, &format!("order.origin.{}", o.origin), &o.origin),
        impact: level(&o.impact),
        urgency: level(&o.urgency),
        category: value_label(lang, &vocabulary, "category", &o.category),
        unit: dir.unit(o.unit_id, lang == Lang::En),
        assignee: dir.user(o.assignee_id),
        creator: dir.user(o.created_by),
        created: layout.dt(&o.created_at),
        position,
        milestones,
        fields: field_pairs(lang, &vocabulary, &o.fields),
        events,
        causes: enabled("cause"),
        solutions: enabled("solution"),
        o,
    })
}

#[derive(Template)]
#[template(path = "orders/detail.html")]
pub struct DetailPage {
    layout: Layout,
    v: OrderView,
    actions: Vec<ActionView>,
    crew: Vec<Choice>,
    can_customer: bool,
    can_contact: bool,
    /// Possible duplicates and linked reports (R-WO-09).
    dup: DuplicatesBox,
    /// Photos, videos and signatures (R-WO-07).
    files: Vec<super::field::FileView>,
}

async fn detail_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    p.require(perm::ORDER_READ)?;
    let s = st.services();
    let mut layout = Layout::new(&st, &p, &ctx, "orders.title", &f).await;
    let v = order_view(&st, &p, ctx.lang, &layout, id).await?;
    layout.title = v.o.order_no.clone();
    let available = s.order_available_actions(&p, &v.o).await?;
    // Dispatch and reassignment choose among the crew, best suggestion first (R-WO-06).
    let crew = if available.iter().any(|a| a.needs_assignee) {
        let in_hand = ctx.lang.t("order.in_hand");
        let ranked = s.dispatch_suggestions(&p, v.o.id, 50).await?;
        // The crews' units too: dispatched to a unit, any of its members takes the order.
        let mut units: Vec<Choice> = Vec::new();
        for c in &ranked {
            let value = format!("unit:{}", c.unit_id);
            if !units.iter().any(|u| u.0 == value) {
                units.push((value, format!("{} {}", ctx.lang.t("order.to_unit"), c.unit_name)));
            }
        }
        ranked
            .into_iter()
            .map(|c| {
                let mut label = format!("{} · {}", c.display_name, c.unit_name);
                if let Some(m) = c.distance_m {
                    label.push_str(&format!(" · {:.1} km", m / 1000.0));
                }
                label.push_str(&format!(" · {in_hand} {}", c.open_orders));
                (c.user_id.to_string(), label)
            })
            .chain(units)
            .collect()
    } else {
        vec![]
    };
    let actions = available.into_iter().map(|a| action_view(ctx.lang, a)).collect();
    let dup = duplicates_box(&st, &p, &layout, &v.o).await?;
    let files = super::field::file_views(&st, &p, &layout, waterdesk_store::attachments::Owner::Order(v.o.id)).await?;
    Ok(html(&DetailPage {
        layout,
        v,
        actions,
        crew,
        can_customer: p.has(perm::CUSTOMER_READ),
        can_contact: p.has(perm::CONTACT_READ),
        dup,
        files,
    }))
}

async fn act(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path((id, action)): Path<(i64, String)>,
    f: RawForm,
) -> Result<Response, ApiError> {
    // Step fields come as `f_<name>`; empty ones are left out so that they do not
    // overwrite what an earlier step recorded.
    let fields: BTreeMap<String, String> =
        f.0.iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .filter_map(|(k, v)| k.strip_prefix("f_").map(|k| (k.to_string(), v.trim().to_string())))
            .collect();
    let input = ActInput {
        // No version: the services refuse it as a stale one (after checking permission).
        version: f.int("version").unwrap_or(0),
        note: f.get("note").trim().to_string(),
        fields,
        // A crew member's id, or `unit:<id>` to dispatch to a unit.
        assignee_id: f.int("assignee_id"),
        unit_id: f.get("assignee_id").strip_prefix("unit:").and_then(|u| u.trim().parse().ok()),
        // Where the crew member is (the phone app's check-in, R-WO-07).
        lat: f.get("lat").trim().parse().ok(),
        lng: f.get("lng").trim().parse().ok(),
    };
    // The phone app posts here too and wants its own page back.
    let to = if f.get("back") == "m" { format!("/m/orders/{id}") } else { format!("/orders/{id}") };
    match st.services().order_act(&p, id, &action, &input, &ctx.audit()).await {
        // Somebody moved the order first: the page shows it as it is now, and says so.
        Err(ServiceError::Conflict { .. }) => Ok(Redirect::to(&format!("{to}?err=order_changed")).into_response()),
        r => after_form(&to, r, "order_acted"),
    }
}

// ---------------------------------------------------------------------------------------
// The order sheet (R-WO-07: the paper alternative)

#[derive(Template)]
#[template(path = "orders/print.html")]
pub struct PrintPage {
    layout: Layout,
    v: OrderView,
    printed: String,
    satisfaction: Vec<String>,
}

async fn print_page(State(st): State<AppState>, Auth(p, ctx): Auth, Path(id): Path<i64>) -> Result<Response, ApiError> {
    p.require(perm::ORDER_READ)?;
    let s = st.services();
    let mut layout = Layout::new(&st, &p, &ctx, "order.print.title", &FlashQuery::default()).await;
    let v = order_view(&st, &p, ctx.lang, &layout, id).await?;
    layout.title = format!("{} {}", layout.t("order.print.title"), v.o.order_no);
    let satisfaction =
        waterdesk_services::order_views::SATISFACTION.iter().map(|(_, zh, en)| pick(ctx.lang, zh, en)).collect();
    Ok(html(&PrintPage { printed: layout.dt(&s.now()), layout, v, satisfaction }))
}

// ---------------------------------------------------------------------------------------
// Duplicates and merging (并单, R-WO-09)

/// An open order that may be the same incident, with the merge the page offers: the
/// younger order goes into the older one.
pub struct CandidateView {
    pub id: i64,
    pub no: String,
    pub title: String,
    pub address: String,
    pub state_label: String,
    pub distance_m: i64,
    pub registered: String,
    /// The master of the offered merge, the order merged into it, and that order's version
    /// when it is the one on the page.
    pub master_id: i64,
    pub duplicate_id: i64,
    pub version: Option<i64>,
    /// The order on the page is the one that goes.
    pub this_goes: bool,
}

/// A report linked to the order.
pub struct LinkView {
    pub kind: String,
    pub order: Option<(i64, String)>,
    pub contact: Option<(i64, String)>,
    pub caller: String,
    pub note: String,
    pub time: String,
}

/// The order page's box of possible duplicates and linked reports.
pub struct DuplicatesBox {
    pub candidates: Vec<CandidateView>,
    pub links: Vec<LinkView>,
    pub merged_into: Option<(i64, String)>,
    pub can_merge: bool,
    pub can_link: bool,
    /// Open and not merged: takes further reports.
    pub open: bool,
}

async fn duplicates_box(st: &AppState, p: &Principal, layout: &Layout, o: &Order) -> Result<DuplicatesBox, ApiError> {
    let s = st.services();
    let lang = layout.lang;
    let candidates = s
        .order_duplicates_of(p, o.id)
        .await?
        .into_iter()
        .map(|c| {
            let this_goes = (c.registered_at, c.id) < (o.created_at, o.id);
            CandidateView {
                master_id: if this_goes { c.id } else { o.id },
                duplicate_id: if this_goes { o.id } else { c.id },
                version: this_goes.then_some(o.version),
                this_goes,
                state_label: state_label(lang, &c.state),
                registered: layout.dt(&c.registered_at),
                distance_m: c.distance_m,
                id: c.id,
                no: c.order_no,
                title: c.title,
                address: c.address,
            }
        })
        .collect();
    let l = s.order_links(p, o.id).await?;
    let links = l
        .reports
        .into_iter()
        .map(|r| LinkView {
            kind: lang.t(&format!("dup.kind.{}", r.kind)).to_string(),
            order: r.order_id.zip(r.order_no),
            contact: r.contact_id.zip(r.contact_no),
            caller: r.caller,
            note: r.note,
            time: layout.dt(&r.created_at),
        })
        .collect();
    Ok(DuplicatesBox {
        candidates,
        links,
        merged_into: l.merged_into.map(|m| (m.id, m.order_no)),
        can_merge: p.has(perm::ORDER_DISPATCH),
        can_link: p.has(perm::ORDER_CREATE),
        open: o.master_id.is_none() && OrderState::parse(&o.state).is_some_and(|s| !s.is_terminal()),
    })
}

/// Merges from the order page: `{id}` is the master, `duplicate_id` the order that goes,
/// `from` the page to return to when the merge is refused.
async fn merge(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    f: RawForm,
) -> Result<Response, ApiError> {
    p.require(perm::ORDER_DISPATCH)?;
    let input = waterdesk_services::duplicates::MergeInput {
        duplicate_id: f.int("duplicate_id").unwrap_or(0),
        note: f.get("note").trim().to_string(),
        version: f.int("version"),
    };
    let from = format!("/orders/{}", f.int("from").unwrap_or(id));
    match st.services().order_merge(&p, id, &input, &ctx.audit()).await {
        Ok(_) => Ok(Redirect::to(&format!("/orders/{id}?msg=merged")).into_response()),
        Err(ServiceError::Conflict { .. }) => Ok(Redirect::to(&format!("{from}?err=order_changed")).into_response()),
        Err(e) => after_form(&from, Err::<(), _>(e), "merged"),
    }
}

/// Attaches a contact, by its 热线编号 or id, to the order as a further report.
async fn link_contact(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    f: RawForm,
) -> Result<Response, ApiError> {
    p.require(perm::ORDER_CREATE)?;
    let r = st.services().order_link_contact_ref(&p, id, f.get("contact"), &ctx.audit()).await;
    after_form(&format!("/orders/{id}"), r, "contact_linked")
}
