//! The work-order subsystem (issue 5, R-WO-01..13): order types — the standard set shipped
//! as editable defaults, their definitions checked before they are stored (R-WO-02/04/08/
//! 13) — and the lifecycle: registration with its number, and every transition decided by
//! the type's workflow, applied with an optimistic version check and recorded as an event
//! in the same transaction (R-WO-01/03).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use waterdesk_domain::numbering::NumberKind;
use waterdesk_domain::permissions::perm;
use waterdesk_domain::sla::{Calendar, Targets, default_targets};
use waterdesk_domain::workflow::{Action, Level, Refusal, State, Workflow, priority, standard_types};
use waterdesk_store::orders::{
    self as repo, Change, Milestone, NewEvent, NewOrder, Order, OrderEvent, OrderFilter, OrderType, OrderTypeFields,
};
use waterdesk_store::{contacts, numbers, users};

use crate::access::Masking;
use crate::audit::{AuditCtx, security_in};
use crate::input::{commit, degrees, position};
use crate::{Principal, ServiceError, ServiceResult, Services};

fn v(field: &str, code: &'static str, detail: impl Into<String>) -> ServiceError {
    ServiceError::validation(field, code, detail)
}

fn json<T: Serialize>(value: &T) -> ServiceResult<String> {
    serde_json::to_string(value).map_err(|e| ServiceError::Internal(e.to_string()))
}

/// SLA targets by priority level (`"1"` … `"4"`).
pub type TargetsByLevel = BTreeMap<String, Targets>;

/// The default targets of every level.
pub fn default_targets_by_level() -> TargetsByLevel {
    (1..=4u8).map(|l| (l.to_string(), default_targets(l))).collect()
}

/// An order type's definition as administrators edit it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderTypeInput {
    pub name_zh: String,
    #[serde(default)]
    pub name_en: String,
    #[schema(value_type = Object)]
    pub workflow: Workflow,
    #[schema(value_type = Object)]
    pub targets: TargetsByLevel,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub calendar: Option<Calendar>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub sort_order: i64,
}

fn yes() -> bool {
    true
}

/// Checks a definition: a sound workflow, targets for levels 1–4, a usable calendar.
pub fn check_type(i: &OrderTypeInput) -> ServiceResult<()> {
    if i.name_zh.trim().is_empty() || i.name_zh.chars().count() > 50 || i.name_en.chars().count() > 80 {
        return Err(v("name_zh", "invalid_name", "a name of 1–50 characters (English at most 80)"));
    }
    if let Some(p) = i.workflow.check().first() {
        return Err(v("workflow", "unsound_workflow", p.to_string()));
    }
    for level in ["1", "2", "3", "4"] {
        if !i.targets.contains_key(level) {
            return Err(v("targets", "missing_level", format!("targets for priority level {level}")));
        }
    }
    if let Some(k) = i.targets.keys().find(|k| !["1", "2", "3", "4"].contains(&k.as_str())) {
        return Err(v("targets", "unknown_level", format!("levels are 1–4, not {k}")));
    }
    if i.targets.values().any(|t| [t.acknowledge, t.arrive, t.complete, t.reply].iter().flatten().any(|m| *m == 0)) {
        return Err(v("targets", "invalid_target", "a target is a positive number of minutes, or absent"));
    }
    if let Some(c) = &i.calendar {
        c.validate().map_err(|e| v("calendar", "invalid_calendar", e.to_string()))?;
    }
    Ok(())
}

impl Services {
    /// Stores the standard types that are missing (first start, or after an upgrade that
    /// adds one); existing definitions, possibly edited, are left alone.
    pub(crate) async fn ensure_standard_order_types(
        &self,
        conn: &mut waterdesk_store::AnyConnection,
    ) -> ServiceResult<usize> {
        let targets = json(&default_targets_by_level())?;
        let mut added = 0;
        for (i, t) in standard_types().into_iter().enumerate() {
            let workflow = json(&t.workflow)?;
            let f = OrderTypeFields {
                code: t.code,
                name_zh: t.zh,
                name_en: t.en,
                workflow: &workflow,
                targets: &targets,
                calendar: "",
                enabled: true,
                sort_order: (i as i64 + 1) * 10,
            };
            if repo::insert_type_if_missing(conn, &f, self.now()).await? {
                added += 1;
            }
        }
        Ok(added)
    }

    /// Order types: for whoever reads orders, and for the administrators who edit them.
    pub async fn order_types(&self, p: &Principal) -> ServiceResult<Vec<OrderType>> {
        if !p.has(perm::ADMIN_DICT_WRITE) {
            p.require(perm::ORDER_READ)?;
        }
        let mut c = self.db.read().await?;
        Ok(repo::list_types(&mut c).await?)
    }

    /// Replaces an order type's definition after checking it (R-WO-02).
    pub async fn order_type_update(
        &self,
        p: &Principal,
        code: &str,
        i: &OrderTypeInput,
        ctx: &AuditCtx,
    ) -> ServiceResult<OrderType> {
        p.require(perm::ADMIN_DICT_WRITE)?;
        check_type(i)?;
        let (workflow, targets) = (json(&i.workflow)?, json(&i.targets)?);
        let calendar = match &i.calendar {
            Some(c) => json(c)?,
            None => String::new(),
        };
        let f = OrderTypeFields {
            code,
            name_zh: i.name_zh.trim(),
            name_en: i.name_en.trim(),
            workflow: &workflow,
            targets: &targets,
            calendar: &calendar,
            enabled: i.enabled,
            sort_order: i.sort_order,
        };
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let before = repo::get_type(&mut tx, code).await?;
        if !repo::update_type(&mut tx, &f, now).await? {
            return Err(ServiceError::NotFound { entity: "order_type" });
        }
        // New deadlines, calendar or workflow change what every order of the type counts
        // towards (timeliness, replies, visits): its stored indicator facts are recomputed.
        if before.is_some_and(|b| {
            (b.workflow.as_str(), b.targets.as_str(), b.calendar.as_str()) != (f.workflow, f.targets, f.calendar)
        }) {
            waterdesk_store::stats::forget_type_facts(&mut tx, code).await?;
        }
        let params = serde_json::json!({"code": code, "enabled": i.enabled});
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "order_type.update", "ok", params).await?;
        let t = repo::get_type(&mut tx, code).await?.ok_or(ServiceError::NotFound { entity: "order_type" })?;
        commit(tx).await?;
        Ok(t)
    }
}

/// A new order as staff or another system registers it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    pub type_code: String,
    /// `staff`, `contact`, `portal`, `api`, `billing`, `hotline12345`, `alarm`, `plan`.
    #[serde(default)]
    pub origin: String,
    #[serde(default)]
    pub origin_ref: String,
    pub contact_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub account_id: Option<i64>,
    #[serde(default)]
    pub category: String,
    /// `low`, `medium`, `high`.
    pub impact: String,
    pub urgency: String,
    pub title: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub address: String,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    #[serde(default)]
    pub caller: String,
}

/// A check-in farther than this from the site (metres) is flagged `checkin_far`.
pub const CHECKIN_RADIUS_M: f64 = 500.0;

pub const ORIGINS: &[&str] = &["staff", "contact", "portal", "api", "billing", "hotline12345", "alarm", "plan"];

/// A transition as a user asks for it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActInput {
    /// The version the user saw; a transition on a changed order is refused (409).
    pub version: i64,
    #[serde(default)]
    pub note: String,
    /// Step fields (cause, solution, readings …).
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// For `dispatch` and `reassign`: the crew member.
    pub assignee_id: Option<i64>,
    /// For `dispatch` and `reassign`: the handling unit (default: the assignee's).
    pub unit_id: Option<i64>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
}

fn refusal(r: Refusal) -> ServiceError {
    match r {
        Refusal::Forbidden { permission, .. } => ServiceError::Forbidden { permission },
        Refusal::MissingField { field, .. } => v(&field, "required", "required by this step"),
        other => v("action", "illegal_transition", other.to_string()),
    }
}

/// The milestone an action reaches the first time.
pub(crate) fn milestone(action: Action, to: State) -> Option<Milestone> {
    match (action, to) {
        (Action::Accept | Action::Approve, State::Accepted | State::PendingApproval) => Some(Milestone::Accepted),
        (Action::Dispatch | Action::Reassign, _) => Some(Milestone::Dispatched),
        (Action::Acknowledge, _) => Some(Milestone::Acknowledged),
        (Action::Start, _) => Some(Milestone::Arrived),
        (Action::Complete, _) => Some(Milestone::Resolved),
        (_, State::Concluded) => Some(Milestone::Concluded),
        _ => None,
    }
}

/// Actions a crew member may take only on an order assigned to them.
/// Whether `p` may take a crew step on `o`: theirs, or — to acknowledge — an order
/// dispatched to their unit without a person.
pub(crate) fn may_take_crew_step(p: &Principal, o: &Order, action: Action) -> bool {
    o.assignee_id == Some(p.user_id)
        || (action == Action::Acknowledge
            && o.assignee_id.is_none()
            && o.unit_id == p.unit_id
            && p.has(perm::ORDER_HANDLE))
}

pub(crate) fn crew_only(action: Action) -> bool {
    matches!(action, Action::Acknowledge | Action::Decline | Action::Start | Action::Complete)
}

impl Services {
    pub(crate) async fn workflow_of(
        &self,
        conn: &mut waterdesk_store::AnyConnection,
        code: &str,
    ) -> ServiceResult<(OrderType, Workflow)> {
        let t =
            repo::get_type(conn, code).await?.ok_or_else(|| v("type_code", "unknown_type", "no such order type"))?;
        let w: Workflow = serde_json::from_str(&t.workflow).map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok((t, w))
    }

    /// Registers an order (R-WO-01): its number is allocated in the transaction; an
    /// originating contact is linked both ways.
    pub async fn order_create(&self, p: &Principal, i: &OrderInput, ctx: &AuditCtx) -> ServiceResult<Order> {
        p.require(perm::ORDER_CREATE)?;
        let mut tx = self.db.begin().await?;
        let o = self.order_create_in(&mut tx, p, i, ctx, self.now()).await?;
        commit(tx).await?;
        Ok(Masking::of(p).order(o))
    }

    /// [`Self::order_create`] in the caller's transaction (a plan's run creates its orders in one).
    pub(crate) async fn order_create_in(
        &self,
        tx: &mut waterdesk_store::AnyConnection,
        p: &Principal,
        i: &OrderInput,
        ctx: &AuditCtx,
        now: jiff::Timestamp,
    ) -> ServiceResult<Order> {
        let impact =
            Level::parse(i.impact.trim()).ok_or_else(|| v("impact", "invalid_level", "low, medium or high"))?;
        let urgency =
            Level::parse(i.urgency.trim()).ok_or_else(|| v("urgency", "invalid_level", "low, medium or high"))?;
        let origin = if i.origin.trim().is_empty() { "staff" } else { i.origin.trim() };
        if !ORIGINS.contains(&origin) {
            return Err(v("origin", "unknown_origin", ORIGINS.join(", ")));
        }
        let title = i.title.trim();
        if title.is_empty() || title.chars().count() > 100 {
            return Err(v("title", "invalid_title", "1–100 characters"));
        }
        if i.content.chars().count() > 4000 || i.address.chars().count() > 200 || i.origin_ref.chars().count() > 100 {
            return Err(v("content", "too_long", "content ≤ 4000, address ≤ 200, origin_ref ≤ 100 characters"));
        }
        let (lat, lng) = position(i.lat, i.lng)?;
        let (t, _) = self.workflow_of(tx, i.type_code.trim()).await?;
        if !t.enabled {
            return Err(v("type_code", "type_disabled", "this order type is disabled"));
        }
        if let Some(cid) = i.contact_id
            && contacts::get(tx, cid).await?.is_none()
        {
            return Err(v("contact_id", "unknown_contact", "no such contact"));
        }
        let no = numbers::allocate(tx, NumberKind::WorkOrder, now, &self.tz).await?.to_string();
        let o = repo::insert(
            tx,
            &NewOrder {
                order_no: &no,
                type_code: &t.code,
                origin,
                origin_ref: i.origin_ref.trim(),
                contact_id: i.contact_id,
                customer_id: i.customer_id,
                account_id: i.account_id,
                category: i.category.trim(),
                impact: i.impact.trim(),
                urgency: i.urgency.trim(),
                priority: i64::from(priority(impact, urgency)),
                title,
                content: i.content.trim(),
                address: i.address.trim(),
                lat_e6: lat,
                lng_e6: lng,
                caller: i.caller.trim(),
                unit_id: p.unit_id,
                created_by: p.actor(),
            },
            now,
        )
        .await?;
        if let Some(cid) = i.contact_id {
            contacts::set_order(tx, cid, &no, now).await?;
        }
        let event = NewEvent {
            action: "register",
            from_state: "registered",
            to_state: "registered",
            actor_id: p.actor(),
            note: "",
            fields: "{}",
            lat_e6: None,
            lng_e6: None,
        };
        repo::add_event(tx, o.id, &event, now).await?;
        self.queue_auto_dispatch(tx, &o).await?;
        let params = serde_json::json!({"id": o.id, "order_no": no, "type": t.code, "priority": o.priority});
        security_in(tx, self, &ctx.clone().for_principal(p), "order.create", "ok", params).await?;
        Ok(o)
    }

    /// Applies `action` to an order (R-WO-03): the workflow decides, the version check
    /// makes concurrent transitions on one order fail but one, and the transition, its
    /// event and the SLA pause are one transaction.
    pub async fn order_act(
        &self,
        p: &Principal,
        id: i64,
        action: &str,
        i: &ActInput,
        ctx: &AuditCtx,
    ) -> ServiceResult<Order> {
        p.require(perm::ORDER_READ)?;
        let action = Action::parse(action).ok_or_else(|| v("action", "unknown_action", "not a work-order action"))?;
        if i.note.chars().count() > 2000 || i.fields.iter().any(|(k, v)| k.len() > 50 || v.chars().count() > 2000) {
            return Err(v("note", "too_long", "note and field values ≤ 2000 characters"));
        }
        let (lat, lng) = position(i.lat, i.lng)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let o = self.order_visible(&mut tx, p, id).await?;
        // Decided on what the user saw, or not at all: a changed order is reloaded first.
        if o.version != i.version {
            return Err(ServiceError::Conflict { entity: "order" });
        }
        let (_, w) = self.workflow_of(&mut tx, &o.type_code).await?;
        let state = State::parse(&o.state).ok_or_else(|| ServiceError::Internal(format!("state {}", o.state)))?;
        let susp = o.suspended_from.as_deref().and_then(State::parse);
        let mut fields = i.fields.clone();
        if !i.note.trim().is_empty() {
            fields.insert("note".into(), i.note.trim().to_string());
        }
        let m = w.next(state, susp, action, |perm| p.has(perm), &fields).map_err(refusal)?;
        // Standard vocabulary (R-WO-13): causes and solutions from their dictionaries, the
        // satisfaction of a return visit from its fixed scale.
        let coded: Vec<(&str, &str)> = ["cause", "solution"]
            .into_iter()
            .filter_map(|k| i.fields.get(k).map(|c| (k, c.trim())).filter(|(_, c)| !c.is_empty()))
            .collect();
        if !coded.is_empty() {
            let found = waterdesk_store::dicts::enabled_pairs(&mut tx, &coded).await?;
            if let Some(((dict, code), _)) = coded.iter().zip(&found).find(|(_, ok)| !**ok) {
                return Err(v(dict, "unknown_code", format!("not in the {dict} dictionary: {code}")));
            }
        }
        if let Some(s) = i.fields.get("satisfaction").map(|s| s.trim()).filter(|s| !s.is_empty())
            && !crate::campaigns::SATISFACTION.contains(&s)
        {
            return Err(v("satisfaction", "unknown_code", crate::campaigns::SATISFACTION.join(", ")));
        }
        let replied = i.fields.get("reply").is_some_and(|r| !r.trim().is_empty());
        if m.to == State::Concluded && w.customer_reply && o.replied_at.is_none() && !replied {
            return Err(v(
                "reply",
                "reply_required",
                "the customer must have had a reply (答复) before the order concludes",
            ));
        }
        if crew_only(action) && !may_take_crew_step(p, &o, action) {
            return Err(v("action", "not_assignee", "only the crew member the order is assigned to"));
        }
        let (mut unit_id, mut assignee) = (o.unit_id, o.assignee_id);
        if action == Action::Acknowledge && o.assignee_id.is_none() {
            assignee = Some(p.user_id); // a crew member of the unit takes it (抢单)
        }
        match action {
            // To a unit (班组) without a person: any of its crew members may take it.
            Action::Dispatch | Action::Reassign if i.assignee_id.is_none() && i.unit_id.is_some() => {
                let u = i.unit_id.unwrap_or_default();
                waterdesk_store::units::get(&mut tx, u)
                    .await?
                    .filter(|u| u.enabled)
                    .ok_or_else(|| v("unit_id", "unknown_unit", "no such active unit"))?;
                assignee = None;
                unit_id = u;
            }
            Action::Dispatch | Action::Reassign => {
                let a =
                    i.assignee_id.ok_or_else(|| v("assignee_id", "required", "who handles the order, or the unit"))?;
                let user = users::get(&mut tx, a)
                    .await?
                    .filter(|u| !u.disabled)
                    .ok_or_else(|| v("assignee_id", "unknown_user", "no such active user"))?;
                if !users::permissions(&mut tx, a).await?.iter().any(|g| g == perm::ORDER_HANDLE) {
                    return Err(v("assignee_id", "not_a_crew", "the user cannot handle orders"));
                }
                assignee = Some(a);
                unit_id = i.unit_id.unwrap_or(user.unit_id);
            }
            Action::Decline => assignee = None,
            _ => {}
        }
        // The check-in's distance from the site; far away is flagged, not refused (R-WO-07).
        let mut step_fields = i.fields.clone();
        if action == Action::Start
            && let (Some(site), Some(here)) = (o.lat_e6.zip(o.lng_e6), lat.zip(lng))
        {
            let deg = |(a, b): (i64, i64)| (degrees(a), degrees(b));
            let d = waterdesk_domain::dispatch::haversine_m(deg(site), deg(here)).round();
            step_fields.insert("checkin_distance_m".into(), format!("{d}"));
            if d > CHECKIN_RADIUS_M {
                step_fields.insert("checkin_far".into(), "1".into());
            }
        }
        // Step fields accumulate on the order (the latest value wins).
        let mut stored: BTreeMap<String, String> = serde_json::from_str(&o.fields).unwrap_or_default();
        stored.extend(step_fields.iter().map(|(k, v)| (k.clone(), v.trim().to_string())));
        let stored = serde_json::to_string(&stored).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let change = Change {
            state: m.to.code(),
            suspended_from: m.suspended_from.map(State::code),
            unit_id,
            assignee_id: assignee,
            fields: &stored,
            milestone: milestone(action, m.to),
            replied,
        };
        let after = repo::apply(&mut tx, id, i.version, &change, now)
            .await?
            .ok_or(ServiceError::Conflict { entity: "order" })?;
        match action {
            Action::Suspend => repo::pause(&mut tx, id, now).await?,
            Action::Resume | Action::Cancel => repo::unpause(&mut tx, id, now).await?,
            _ => {}
        }
        let event_fields = serde_json::to_string(&step_fields).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let event = NewEvent {
            action: action.code(),
            from_state: m.from.code(),
            to_state: m.to.code(),
            actor_id: p.actor(),
            note: i.note.trim(),
            fields: &event_fields,
            lat_e6: lat,
            lng_e6: lng,
        };
        repo::add_event(&mut tx, id, &event, now).await?;
        self.queue_callbacks(&mut tx, &after, action).await?;
        self.notify_linked(&mut tx, &after).await?; // R-WO-09: linked callers told on conclusion
        self.queue_auto_dispatch(&mut tx, &after).await?;
        // The crew member's phone hears of a new order at once (new-order alert, R-WO-07).
        let mut pending = Vec::new();
        if matches!(action, Action::Dispatch | Action::Reassign) {
            let payload = serde_json::json!({"order_id": id, "order_no": after.order_no, "title": after.title,
                "address": after.address, "priority": after.priority});
            let topic = match after.assignee_id {
                Some(to) => format!("user:{to}"),
                None => format!("unit:{}", after.unit_id),
            };
            pending.push(self.events.emit(&mut tx, "order.assigned", &topic, payload, now).await?.1);
        }
        let params = serde_json::json!({"id": id, "order_no": o.order_no, "action": action.code(), "to": m.to.code()});
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "order.act", "ok", params).await?;
        commit(tx).await?;
        self.events.after_commit(pending);
        Ok(Masking::of(p).order(after))
    }
}

/// An order with its history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderDetail {
    pub order: Order,
    pub events: Vec<OrderEvent>,
}

impl Services {
    /// An order and its transitions, in the caller's data scope.
    pub async fn order_get(&self, p: &Principal, id: i64) -> ServiceResult<OrderDetail> {
        p.require(perm::ORDER_READ)?;
        let mut c = self.db.read().await?;
        let order = self.order_visible(&mut c, p, id).await?;
        let events = repo::events(&mut c, id).await?;
        Ok(OrderDetail { order: Masking::of(p).order(order), events })
    }
}

/// What an order list asks for.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OrderQuery {
    /// Comma-separated state codes.
    pub state: Option<String>,
    /// Only open orders (not concluded, rejected or cancelled).
    #[serde(default)]
    pub open: bool,
    #[serde(rename = "type")]
    pub type_code: Option<String>,
    /// `me` for the caller's own orders, or a user id.
    pub assignee: Option<String>,
    pub priority: Option<i64>,
    /// Keyset paging: orders with an id below this (newest first).
    pub before: Option<i64>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<i64>,
}

impl Services {
    /// A page of orders in the caller's data scope (a crew member sees those assigned to
    /// them too), newest first with keyset paging.
    pub async fn order_list(&self, p: &Principal, q: &OrderQuery) -> ServiceResult<Vec<Order>> {
        p.require(perm::ORDER_READ)?;
        let limit = q.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(v("limit", "invalid_limit", "1 to 200"));
        }
        let states: Option<Vec<String>> = match q.state.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(list) => Some(
                list.split(',')
                    .map(|s| {
                        State::parse(s.trim())
                            .map(|st| st.code().to_string())
                            .ok_or_else(|| v("state", "unknown_state", format!("not a state: {s}")))
                    })
                    .collect::<ServiceResult<_>>()?,
            ),
        };
        if q.priority.is_some_and(|p| !(1..=4).contains(&p)) {
            return Err(v("priority", "invalid_priority", "1 to 4"));
        }
        let assignee = match q.assignee.as_deref().map(str::trim) {
            None | Some("") => None,
            Some("me") => Some(p.user_id),
            Some(id) => Some(id.parse::<i64>().map_err(|_| v("assignee", "invalid_assignee", "`me` or a user id"))?),
        };
        // Their own orders are a crew member's scope whatever their unit.
        let scope = self.scope(p).await?;
        let mine = assignee == Some(p.user_id);
        let f = OrderFilter {
            units: if mine { None } else { scope.order_units() },
            own: if mine { None } else { scope.own_orders() },
            states: states.as_deref(),
            open: q.open,
            type_code: q.type_code.as_deref().map(str::trim).filter(|s| !s.is_empty()),
            assignee_id: assignee,
            // A crew member's own orders include those dispatched to their unit, to take.
            or_unclaimed_in: (assignee == Some(p.user_id) && p.has(perm::ORDER_HANDLE)).then_some(p.unit_id),
            priority: q.priority,
            before: q.before,
        };
        let mut c = self.db.read().await?;
        Ok(Masking::of(p).orders(repo::list(&mut c, &f, limit).await?))
    }
}
