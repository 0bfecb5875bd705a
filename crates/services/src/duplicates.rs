//! Duplicate reports of one incident and merging them (并单, R-WO-09).
//!
//! - **Candidates**: a new report (type, site) is compared with the open orders of its
//!   type registered within 72 h and 300 m of it (`domain::duplicates`); the store narrows
//!   them with an indexed box, the data scope applies. The order page asks the same for
//!   an existing order (later reports count too).
//! - **Merge** (`order.dispatch`: consolidating reports of one incident is the dispatcher's
//!   call, 统一调度): the duplicate is closed through its workflow's `cancel` step — so the
//!   step's own permission (`order.accept` in the standard types), the version check, the
//!   event row ("并入 WO…") and the audit entry are those of any transition — and joins the
//!   master: `master_id`, a link row with its caller, its contact(s) pointing at the
//!   master. Everything in one transaction. Reports the duplicate had collected move to
//!   the master with it, so links never chain.
//! - **Attach a contact** (`order.create`, like registering the report as a new order): a
//!   call about an incident that already has an order becomes a linked report of it.
//! - **Conclusion**: when a master concludes, every linked caller gets one SMS through the
//!   outbox, in the conclusion's transaction (a phone already told for this order is not
//!   told again). The master's own caller is the origin's business (R-WO-10).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use waterdesk_domain::duplicates::{Candidate, Report, Rules, bounding_box_e6, duplicates};
use waterdesk_domain::permissions::perm;
use waterdesk_domain::phone::Phone;
use waterdesk_domain::workflow::{Action, Refusal, State};
use waterdesk_store::AnyConnection;
use waterdesk_store::duplicates::{self as repo, Link, Near, NewLink};
use waterdesk_store::orders::{self as orders_repo, Change, NewEvent, Order};
use waterdesk_store::{campaigns, contacts};

use crate::access::Masking;
use crate::audit::{AuditCtx, security_in};
use crate::input::{commit, degrees};
use crate::{Principal, ServiceError, ServiceResult, Services};

/// The outbox purpose of the notice to linked callers (its reference is the order number).
pub const CONCLUDED_SMS: &str = "order_concluded";

/// How many candidates are offered at most.
const MAX_OFFERED: usize = 20;
/// How many rows the box may bring before the exact check (a busy street in a storm).
const MAX_SCANNED: i64 = 500;

fn v(field: &str, code: &'static str, detail: impl Into<String>) -> ServiceError {
    ServiceError::validation(field, code, detail)
}

fn is_open(state: &str) -> bool {
    State::parse(state).is_some_and(|s| !s.is_terminal())
}

/// Where to look for duplicates of a report being registered.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DuplicateQuery {
    /// The order type of the report.
    #[serde(rename = "type")]
    pub type_code: Option<String>,
    /// The site, decimal degrees.
    pub lat: Option<f64>,
    pub lng: Option<f64>,
}

/// An open order that may be the same incident.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DuplicateCandidate {
    pub id: i64,
    pub order_no: String,
    pub type_code: String,
    pub title: String,
    pub address: String,
    pub state: String,
    /// Distance between the sites, metres.
    pub distance_m: i64,
    pub registered_at: jiff::Timestamp,
}

/// A merge as a dispatcher asks for it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeInput {
    /// The order to merge into this one (it is closed as cancelled).
    pub duplicate_id: i64,
    #[serde(default)]
    pub note: String,
    /// The duplicate's version as the caller saw it (optional; 409 if it changed).
    pub version: Option<i64>,
}

/// Both orders after a merge.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Merged {
    pub master: Order,
    pub duplicate: Order,
}

/// A contact to attach to an order as a further report.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkContactInput {
    pub contact_id: i64,
}

/// The master an order was merged into.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MasterRef {
    pub id: i64,
    pub order_no: String,
}

/// An order's linked reports, and its master if it was merged.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderLinks {
    pub merged_into: Option<MasterRef>,
    pub reports: Vec<Link>,
}

impl Services {
    /// Open orders that a report of `type` at (`lat`, `lng`) may duplicate, nearest first
    /// (R-WO-09): for the registration form and other systems before they register.
    pub async fn order_duplicates(&self, p: &Principal, q: &DuplicateQuery) -> ServiceResult<Vec<DuplicateCandidate>> {
        p.require(perm::ORDER_READ)?;
        let type_code = q.type_code.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let type_code = type_code.ok_or_else(|| v("type", "required", "the order type of the report"))?;
        let lat = q.lat.ok_or_else(|| v("lat", "required", "the site's latitude"))?;
        let lng = q.lng.ok_or_else(|| v("lng", "required", "the site's longitude"))?;
        crate::input::position(Some(lat), Some(lng))?;
        {
            let mut c = self.db.read().await?;
            if orders_repo::get_type(&mut c, type_code).await?.is_none() {
                return Err(v("type", "unknown_type", "no such order type"));
            }
        }
        self.find_duplicates(p, type_code, (lat, lng), self.now(), None).await
    }

    /// Open orders that may be the same incident as order `id` (its page's 疑似重复 box);
    /// none for a closed order or one without a site.
    pub async fn order_duplicates_of(&self, p: &Principal, id: i64) -> ServiceResult<Vec<DuplicateCandidate>> {
        p.require(perm::ORDER_READ)?;
        let scope = self.scope(p).await?;
        let o = {
            let mut c = self.db.read().await?;
            orders_repo::get(&mut c, id).await?
        };
        let o = o.filter(|o| scope.order(o)).ok_or(ServiceError::NotFound { entity: "order" })?;
        match (o.lat_e6, o.lng_e6) {
            (Some(lat), Some(lng)) if is_open(&o.state) && o.master_id.is_none() => {
                let pos = (degrees(lat), degrees(lng));
                self.find_duplicates(p, &o.type_code, pos, o.created_at, Some(o.id)).await
            }
            _ => Ok(vec![]),
        }
    }

    async fn find_duplicates(
        &self,
        p: &Principal,
        type_code: &str,
        pos: (f64, f64),
        at: jiff::Timestamp,
        exclude: Option<i64>,
    ) -> ServiceResult<Vec<DuplicateCandidate>> {
        let rules = Rules::default();
        let (lat_e6, lng_e6) = bounding_box_e6(pos, rules.radius_m);
        let scope = self.scope(p).await?;
        // Scope `own` sees no other orders to merge with.
        if scope.own_orders().is_some() {
            return Ok(vec![]);
        }
        let near = Near {
            type_code,
            lat_e6,
            lng_e6,
            since: at.checked_sub(rules.window).unwrap_or(at),
            until: at.checked_add(rules.window).unwrap_or(at),
            exclude,
            units: scope.units(),
        };
        let rows = {
            let mut c = self.db.read().await?;
            repo::open_near(&mut c, &near, MAX_SCANNED).await?
        };
        let candidates: Vec<Candidate> = rows
            .iter()
            .map(|r| Candidate {
                id: r.id,
                type_code: r.type_code.clone(),
                position: Some((degrees(r.lat_e6), degrees(r.lng_e6))),
                registered_at: r.created_at,
                open: is_open(&r.state),
            })
            .collect();
        let report = Report { type_code, position: pos, at };
        Ok(duplicates(&report, &candidates, &rules)
            .into_iter()
            .take(MAX_OFFERED)
            .filter_map(|m| {
                let r = rows.iter().find(|r| r.id == m.id)?;
                Some(DuplicateCandidate {
                    id: r.id,
                    order_no: r.order_no.clone(),
                    type_code: r.type_code.clone(),
                    title: r.title.clone(),
                    address: r.address.clone(),
                    state: r.state.clone(),
                    distance_m: m.distance_m.round() as i64,
                    registered_at: r.created_at,
                })
            })
            .collect())
    }

    /// Merges order `i.duplicate_id` into `master_id` (并单, R-WO-09); see the module doc.
    pub async fn order_merge(
        &self,
        p: &Principal,
        master_id: i64,
        i: &MergeInput,
        ctx: &AuditCtx,
    ) -> ServiceResult<Merged> {
        p.require(perm::ORDER_DISPATCH)?;
        if i.note.chars().count() > 1000 {
            return Err(v("note", "too_long", "at most 1000 characters"));
        }
        if i.duplicate_id == master_id {
            return Err(v("duplicate_id", "merge_into_self", "an order cannot be merged into itself"));
        }
        let scope = self.scope(p).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let m = orders_repo::get(&mut tx, master_id)
            .await?
            .filter(|o| scope.order(o))
            .ok_or(ServiceError::NotFound { entity: "order" })?;
        let d = orders_repo::get(&mut tx, i.duplicate_id)
            .await?
            .filter(|o| scope.order(o))
            .ok_or_else(|| v("duplicate_id", "unknown_order", "no such order"))?;
        if let Some(top) = m.master_id {
            let top_no = orders_repo::get(&mut tx, top).await?.map(|o| o.order_no).unwrap_or_default();
            return Err(v(
                "id",
                "master_merged",
                format!("{} was itself merged into {top_no}; merge into {top_no} instead", m.order_no),
            ));
        }
        if !is_open(&m.state) {
            return Err(v("id", "master_closed", format!("{} is {} and takes no more reports", m.order_no, m.state)));
        }
        if let Some(top) = d.master_id {
            let top_no = orders_repo::get(&mut tx, top).await?.map(|o| o.order_no).unwrap_or_default();
            return Err(v(
                "duplicate_id",
                "already_merged",
                format!("{} was already merged into {top_no}", d.order_no),
            ));
        }
        if !is_open(&d.state) {
            return Err(v("duplicate_id", "duplicate_closed", format!("{} is already {}", d.order_no, d.state)));
        }
        if d.type_code != m.type_code {
            return Err(v(
                "duplicate_id",
                "type_mismatch",
                format!("{} is a {} order, {} a {} order", d.order_no, d.type_code, m.order_no, m.type_code),
            ));
        }
        if i.version.is_some_and(|ver| ver != d.version) {
            return Err(ServiceError::Conflict { entity: "order" });
        }

        // The duplicate closes through its workflow's cancel step, like any transition.
        let (_, w) = self.workflow_of(&mut tx, &d.type_code).await?;
        let state = State::parse(&d.state).ok_or_else(|| ServiceError::Internal(format!("state {}", d.state)))?;
        let susp = d.suspended_from.as_deref().and_then(State::parse);
        let note = match i.note.trim() {
            "" => format!("并入 {}", m.order_no),
            n => format!("并入 {}：{n}", m.order_no),
        };
        let fields = [("note".to_string(), note.clone())].into_iter().collect();
        let mv = w.next(state, susp, Action::Cancel, |perm| p.has(perm), &fields).map_err(|r| match r {
            Refusal::Forbidden { permission, .. } => ServiceError::Forbidden { permission },
            other => v("duplicate_id", "illegal_transition", other.to_string()),
        })?;
        let change = Change {
            state: mv.to.code(),
            suspended_from: None,
            unit_id: d.unit_id,
            assignee_id: d.assignee_id,
            fields: &d.fields,
            milestone: crate::orders::milestone(Action::Cancel, mv.to),
            replied: false,
        };
        let closed = orders_repo::apply(&mut tx, d.id, d.version, &change, now)
            .await?
            .ok_or(ServiceError::Conflict { entity: "order" })?;
        orders_repo::unpause(&mut tx, d.id, now).await?;
        let event_fields = serde_json::json!({"merged_into": m.order_no}).to_string();
        let event = NewEvent {
            action: Action::Cancel.code(),
            from_state: mv.from.code(),
            to_state: mv.to.code(),
            actor_id: p.actor(),
            note: &note,
            fields: &event_fields,
            lat_e6: None,
            lng_e6: None,
        };
        orders_repo::add_event(&mut tx, d.id, &event, now).await?;

        // It joins the master, with whatever it had collected itself.
        repo::set_master(&mut tx, d.id, m.id).await?;
        let moved = repo::move_links(&mut tx, d.id, m.id, now).await?;
        let caller = match (d.caller.trim(), d.contact_id) {
            ("", Some(cid)) => contacts::get(&mut tx, cid).await?.map(|c| c.caller).unwrap_or_default(),
            (c, _) => c.to_string(),
        };
        let link = NewLink {
            master_id: m.id,
            kind: "order",
            order_id: Some(d.id),
            contact_id: d.contact_id,
            caller: &caller,
            note: i.note.trim(),
            created_by: p.actor(),
        };
        repo::insert_link(&mut tx, &link, now).await?;
        let contact_ids: BTreeSet<i64> = d.contact_id.into_iter().chain(moved.iter().filter_map(|(_, c)| *c)).collect();
        for cid in &contact_ids {
            contacts::set_order(&mut tx, *cid, &m.order_no, now).await?;
        }
        let params = serde_json::json!({
            "master_id": m.id, "master_no": m.order_no, "duplicate_id": d.id, "duplicate_no": d.order_no,
            "moved_links": moved.len(), "contacts": contact_ids.len(),
        });
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "order.merge", "ok", params).await?;
        commit(tx).await?;
        Ok(Merged { master: m, duplicate: Order { master_id: Some(master_id), ..closed } })
    }

    /// Attaches a contact to an open order as a further report of its incident (R-WO-09).
    pub async fn order_link_contact(
        &self,
        p: &Principal,
        order_id: i64,
        contact_id: i64,
        ctx: &AuditCtx,
    ) -> ServiceResult<Link> {
        p.require(perm::ORDER_CREATE)?;
        let scope = self.scope(p).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let m = orders_repo::get(&mut tx, order_id)
            .await?
            .filter(|o| scope.order(o))
            .ok_or(ServiceError::NotFound { entity: "order" })?;
        if let Some(top) = m.master_id {
            let top_no = orders_repo::get(&mut tx, top).await?.map(|o| o.order_no).unwrap_or_default();
            return Err(v(
                "id",
                "master_merged",
                format!("{} was merged into {top_no}; attach to {top_no}", m.order_no),
            ));
        }
        if !is_open(&m.state) {
            return Err(v("id", "master_closed", format!("{} is {} and takes no more reports", m.order_no, m.state)));
        }
        let c = contacts::get(&mut tx, contact_id)
            .await?
            .filter(|c| c.agent_id == Some(p.user_id) || scope.unit(c.unit_id))
            .ok_or_else(|| v("contact_id", "unknown_contact", "no such contact"))?;
        if c.order_no == m.order_no || repo::contact_master(&mut tx, c.id).await?.is_some() {
            let on = if c.order_no.is_empty() { m.order_no.clone() } else { c.order_no.clone() };
            return Err(v("contact_id", "already_linked", format!("{} is already a report of {on}", c.contact_no)));
        }
        if !c.order_no.is_empty() {
            return Err(v(
                "contact_id",
                "contact_has_order",
                format!("{} belongs to {}; merge that order instead", c.contact_no, c.order_no),
            ));
        }
        let link = NewLink {
            master_id: m.id,
            kind: "contact",
            order_id: None,
            contact_id: Some(c.id),
            caller: c.caller.trim(),
            note: "",
            created_by: p.actor(),
        };
        let link_id = repo::insert_link(&mut tx, &link, now).await?;
        contacts::set_order(&mut tx, c.id, &m.order_no, now).await?;
        let params = serde_json::json!({"order_id": m.id, "order_no": m.order_no, "contact_id": c.id, "contact_no": c.contact_no});
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "order.link_contact", "ok", params).await?;
        let link = repo::links(&mut tx, m.id).await?.into_iter().find(|l| l.id == link_id);
        commit(tx).await?;
        link.ok_or_else(|| ServiceError::Internal("link vanished".into()))
    }

    /// [`Services::order_link_contact`] with the contact named by its 热线编号
    /// (`C20261121-000001`) or its id, as people type it on the order page.
    pub async fn order_link_contact_ref(
        &self,
        p: &Principal,
        order_id: i64,
        reference: &str,
        ctx: &AuditCtx,
    ) -> ServiceResult<Link> {
        p.require(perm::ORDER_CREATE)?;
        let reference = reference.trim();
        let id = match reference.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) if reference.is_empty() || reference.len() > 40 => None,
            Err(_) => {
                let mut c = self.db.read().await?;
                contacts::by_no(&mut c, &reference.to_ascii_uppercase()).await?.map(|c| c.id)
            }
        };
        let id = id.ok_or_else(|| v("contact_id", "unknown_contact", "no such contact"))?;
        self.order_link_contact(p, order_id, id, ctx).await
    }

    /// The reports linked to an order, and the master it was merged into (callers masked
    /// without `customer.pii.read`).
    pub async fn order_links(&self, p: &Principal, id: i64) -> ServiceResult<OrderLinks> {
        p.require(perm::ORDER_READ)?;
        let scope = self.scope(p).await?;
        let mut c = self.db.read().await?;
        let o = orders_repo::get(&mut c, id)
            .await?
            .filter(|o| scope.order(o))
            .ok_or(ServiceError::NotFound { entity: "order" })?;
        let merged_into = match o.master_id {
            Some(mid) => orders_repo::get(&mut c, mid).await?.map(|m| MasterRef { id: m.id, order_no: m.order_no }),
            None => None,
        };
        let mask = Masking::of(p);
        let mut reports = repo::links(&mut c, o.id).await?;
        for r in &mut reports {
            r.caller = mask.phone(std::mem::take(&mut r.caller));
        }
        Ok(OrderLinks { merged_into, reports })
    }

    /// Tells every caller linked to a concluded master, once per phone number, through the
    /// SMS outbox in the conclusion's transaction (called by `order_act`; nothing happens
    /// for other states or orders without linked reports).
    pub(crate) async fn notify_linked(&self, conn: &mut AnyConnection, o: &Order) -> ServiceResult<()> {
        if o.state != State::Concluded.code() {
            return Ok(());
        }
        let links = repo::links(conn, o.id).await?;
        if links.is_empty() {
            return Ok(());
        }
        // The master's own caller hears from the origin's callback (R-WO-10), not from here.
        let mut told: BTreeSet<String> = BTreeSet::new();
        let mut own = vec![o.caller.clone()];
        if let Some(cid) = o.contact_id {
            own.extend(contacts::get(conn, cid).await?.map(|c| c.caller));
        }
        told.extend(own.iter().filter_map(|c| Phone::parse(c).ok()).map(|p| p.as_str().to_string()));
        told.extend(repo::sms_phones(conn, CONCLUDED_SMS, &o.order_no).await?);
        let title: String = o.title.chars().take(20).collect();
        let body = format!("您反映的“{title}”已处理完毕（工单 {}），感谢您的反映。", o.order_no);
        let now = self.now();
        for l in &links {
            let Ok(phone) = Phone::parse(&l.caller) else { continue };
            if told.insert(phone.as_str().to_string()) {
                campaigns::sms_queue(conn, phone.as_str(), &body, CONCLUDED_SMS, &o.order_no, now).await?;
            }
        }
        Ok(())
    }
}
