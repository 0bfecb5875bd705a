//! The call subsystem's records (R-CALL-01/02/04/07/08): contacts (来电/来件) from every
//! channel, with a unique number allocated in the transaction; telephone (CTI) events that
//! open, assign and close a call's contact and pop the caller's data on the agent's screen
//! (R-CALL-03); agents' extensions; the daily interface for other systems.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use waterdesk_domain::numbering::{DocNumber, NumberKind, day_key};
use waterdesk_domain::permissions::perm;
use waterdesk_domain::phone::Phone;
use waterdesk_store::audit as audit_repo;
use waterdesk_store::contacts::{self as repo, CallFacts, Contact, ContactFields, ContactFilter, NewContact};
use waterdesk_store::customers::{self as cust, Lookup};
use waterdesk_store::{AnyConnection, BatchWrite, BoxFuture, dicts, numbers, units, users};

use crate::access::Masking;
use crate::audit::{AuditCtx, security_in};
use crate::customers::SearchHit;
use crate::input::{commit, one_of, opt_text};
use crate::{Principal, ServiceError, ServiceResult, Services};

pub const DIRECTIONS: &[&str] = &["inbound", "outbound"];
pub const CTI_EVENTS: &[&str] = &["ringing", "answered", "hangup", "ivr_rating"];
/// The categories the daily interface lists by default (R-CALL-08).
pub const DAILY_CATEGORIES: &[&str] = &["consultation", "complaint", "suggestion"];

fn v(field: &str, code: &'static str, detail: impl Into<String>) -> ServiceError {
    ServiceError::validation(field, code, detail)
}

fn hotline() -> String {
    "hotline".into()
}
fn inbound() -> String {
    "inbound".into()
}
fn customer_source() -> String {
    "customer".into()
}

/// What an agent records about a contact.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    /// From the `channel` dictionary; default `hotline`.
    #[serde(default = "hotline")]
    pub channel: String,
    /// `inbound` (default) or `outbound`.
    #[serde(default = "inbound")]
    pub direction: String,
    /// From the `source` dictionary; default `customer`.
    #[serde(default = "customer_source")]
    pub source: String,
    /// The caller's number, if known (unknown callers are common).
    #[serde(default)]
    pub caller: String,
    pub customer_id: Option<i64>,
    pub account_id: Option<i64>,
    /// From the `category` dictionary (consultation, complaint, suggestion, repair, …).
    pub category: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub address: String,
    /// 答复: what the customer was told.
    #[serde(default)]
    pub reply: String,
}

/// A contact as a caller may see it: the caller's number masked without `customer.pii.read`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactView {
    #[serde(flatten)]
    pub contact: Contact,
    pub masked: bool,
}

/// A page of contacts, newest first (or ascending for the daily interface).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactPage {
    pub items: Vec<ContactView>,
    /// Cursor for the next page, if there is one.
    pub next: Option<i64>,
}

/// One telephone event from the PBX (Asterisk, FreeSWITCH …) over HTTP.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CtiEvent {
    /// `ringing`, `answered`, `hangup` or `ivr_rating`.
    pub event: String,
    /// The PBX's id of the call (Asterisk `UNIQUEID`, FreeSWITCH `uuid`).
    pub call_id: String,
    #[serde(default)]
    pub caller: String,
    #[serde(default)]
    pub called: String,
    /// The agent's extension the call rings at or was answered on.
    #[serde(default)]
    pub extension: String,
    /// When it happened (default: when received).
    pub at: Option<jiff::Timestamp>,
    #[serde(default)]
    pub recording_url: String,
    /// IVR satisfaction 1–5 (`ivr_rating`).
    pub rating: Option<i64>,
    /// `inbound` (default) or `outbound`.
    #[serde(default = "inbound")]
    pub direction: String,
}

/// What a telephone event did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CtiOutcome {
    pub contact_id: i64,
    pub contact_no: String,
    /// The agent the call is with, if one is seated at the extension.
    pub agent_id: Option<i64>,
    /// True when this event had been received before (a retry): nothing changed.
    pub duplicate: bool,
}

/// The caller's data for the agent's screen (R-CALL-03).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScreenPop {
    pub contact: Option<ContactView>,
    pub caller: String,
    pub customers: Vec<SearchHit>,
    /// Arrears per account of those customers: (account id, arrears in fen).
    pub arrears: Vec<(i64, i64)>,
    pub recent_contacts: Vec<ContactView>,
}

impl Services {
    /// Checks codes against their dictionaries (each field is named after its dictionary),
    /// in one query; the first unknown code is the error.
    async fn check_dicts<const N: usize>(
        &self,
        c: &mut AnyConnection,
        fields: [(&str, &str); N],
    ) -> ServiceResult<[String; N]> {
        let fields = fields.map(|(dict, code)| (dict, code.trim()));
        let found = dicts::enabled_pairs(c, &fields).await?;
        if let Some(((dict, code), _)) = fields.iter().zip(&found).find(|(_, ok)| !**ok) {
            return Err(v(dict, "unknown_code", format!("not in the {dict} dictionary: {code}")));
        }
        Ok(fields.map(|(_, code)| code.to_string()))
    }

    /// A caller number as stored: a phone number normalised, else the text as given.
    fn caller_number(field: &str, s: &str) -> ServiceResult<String> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(String::new());
        }
        match Phone::parse(s) {
            Ok(p) => Ok(p.to_string()),
            Err(_) if s.len() <= 32 && s.chars().all(|c| c.is_ascii_alphanumeric() || "+-*#".contains(c)) => {
                Ok(s.to_string())
            }
            Err(_) => Err(v(field, "invalid_caller", "a telephone number, or the PBX's name for an unknown caller")),
        }
    }

    fn contact_view(&self, p: &Principal, mut c: Contact) -> ContactView {
        let mask = Masking::of(p);
        c.caller = mask.phone(std::mem::take(&mut c.caller));
        ContactView { contact: c, masked: mask.masked() }
    }

    /// Checks an agent's input against the dictionaries, the customer and account, and the
    /// caller's data scope.
    async fn check_contact(&self, p: &Principal, i: &ContactInput) -> ServiceResult<ContactInputChecked> {
        let mut c = self.db.read().await?;
        let [channel, source, category] = self
            .check_dicts(&mut c, [("channel", i.channel.as_str()), ("source", &i.source), ("category", &i.category)])
            .await?;
        let direction = one_of("direction", &i.direction, DIRECTIONS)?;
        let caller = Self::caller_number("caller", &i.caller)?;
        let content = opt_text("content", &i.content, 4000)?;
        let address = opt_text("address", &i.address, 200)?;
        let reply = opt_text("reply", &i.reply, 4000)?;
        let scope = self.scope_unit_ids(p).await?;
        let in_scope = |unit: i64| scope.as_ref().is_none_or(|s| s.contains(&unit));
        let mut customer_id = i.customer_id;
        if let Some(id) = i.account_id {
            let a = cust::get_account(&mut c, id)
                .await?
                .filter(|a| in_scope(a.unit_id))
                .ok_or_else(|| v("account_id", "unknown_account", "no such account"))?;
            match customer_id {
                None => customer_id = Some(a.holder_id),
                Some(cid) if cid != a.holder_id => {
                    return Err(v("account_id", "account_not_of_customer", "the account belongs to another customer"));
                }
                _ => {}
            }
        }
        if let Some(id) = customer_id {
            cust::get_customer(&mut c, id)
                .await?
                .filter(|x| in_scope(x.unit_id))
                .ok_or_else(|| v("customer_id", "unknown_customer", "no such customer"))?;
        }
        Ok(ContactInputChecked {
            channel,
            source,
            category,
            direction,
            caller,
            content,
            address,
            reply,
            customer_id,
            account_id: i.account_id,
        })
    }

    /// Records a contact from any channel (walk-in, web, WeChat … or a call without CTI).
    pub async fn contact_create(&self, p: &Principal, i: &ContactInput, ctx: &AuditCtx) -> ServiceResult<ContactView> {
        p.require(perm::CONTACT_WRITE)?;
        let f = self.check_contact(p, i).await?;
        let write = ContactWrite {
            fields: f,
            now: self.now(),
            agent_id: p.user_id,
            unit_id: p.unit_id,
            audit: ctx.clone().for_principal(p),
        };
        // Registrations are the hotline's most frequent write: they share commits.
        let c = self.contact_writes.write(write).await?;
        Ok(self.contact_view(p, c))
    }

    /// A contact in the caller's data scope.
    async fn contact_scoped(&self, p: &Principal, id: i64) -> ServiceResult<Contact> {
        let mut c = self.db.read().await?;
        let contact = repo::get(&mut c, id).await?.ok_or(ServiceError::NotFound { entity: "contact" })?;
        let own = contact.agent_id == Some(p.user_id);
        if !own && !self.in_scope(p, contact.unit_id).await? {
            return Err(ServiceError::NotFound { entity: "contact" });
        }
        Ok(contact)
    }

    pub async fn contact_get(&self, p: &Principal, id: i64) -> ServiceResult<ContactView> {
        p.require(perm::CONTACT_READ)?;
        Ok(self.contact_view(p, self.contact_scoped(p, id).await?))
    }

    /// Records what the agent entered on a contact (a call's draft, or a correction).
    pub async fn contact_update(
        &self,
        p: &Principal,
        id: i64,
        i: &ContactInput,
        ctx: &AuditCtx,
    ) -> ServiceResult<ContactView> {
        p.require(perm::CONTACT_WRITE)?;
        let old = self.contact_scoped(p, id).await?;
        let mut f = self.check_contact(p, i).await?;
        // A masked number sent back unchanged keeps the real one.
        if f.caller.contains('*') && !old.caller.is_empty() {
            f.caller = old.caller.clone();
        }
        let now = self.now();
        let status = if f.reply.is_empty() { "open" } else { "replied" };
        let mut tx = self.db.begin().await?;
        repo::update(&mut tx, id, &f.fields(), status, now).await?;
        let params =
            serde_json::json!({"id": id, "contact_no": old.contact_no, "category": f.category, "status": status});
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "contact.update", "ok", params).await?;
        let c = repo::get(&mut tx, id).await?.ok_or(ServiceError::NotFound { entity: "contact" })?;
        commit(tx).await?;
        Ok(self.contact_view(p, c))
    }

    /// Contacts matching a filter, in the caller's scope, newest first.
    pub async fn contact_list(
        &self,
        p: &Principal,
        mut f: ContactFilter<'_>,
        limit: i64,
    ) -> ServiceResult<ContactPage> {
        p.require(perm::CONTACT_READ)?;
        let scope = self.scope_unit_ids(p).await?;
        f.units = scope.as_deref();
        let limit = limit.clamp(1, 500);
        let mut c = self.db.read().await?;
        let rows = repo::list(&mut c, &f, limit).await?;
        let next = (rows.len() as i64 == limit).then(|| rows.last().map(|r| r.id)).flatten();
        Ok(ContactPage { items: rows.into_iter().map(|r| self.contact_view(p, r)).collect(), next })
    }

    /// R-CALL-08: one local day's contacts of the given categories (default consultations,
    /// complaints and suggestions) in ascending, stable order; page with `after`.
    pub async fn contacts_daily(
        &self,
        p: &Principal,
        day: jiff::civil::Date,
        categories: &[String],
        after: i64,
        limit: i64,
    ) -> ServiceResult<ContactPage> {
        let from = day.to_zoned(self.tz.clone()).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let to = from.tomorrow().map_err(|e| ServiceError::Internal(e.to_string()))?;
        let defaults: Vec<String> = DAILY_CATEGORIES.iter().map(|s| s.to_string()).collect();
        let cats = if categories.is_empty() { &defaults[..] } else { categories };
        let f = ContactFilter {
            categories: Some(cats),
            from: Some(from.timestamp()),
            to: Some(to.timestamp()),
            after: Some(after.max(0)),
            ..Default::default()
        };
        self.contact_list(p, f, limit).await
    }

    /// A staff member's display name (agents named on contacts).
    pub async fn user_name(&self, id: i64) -> ServiceResult<Option<String>> {
        let mut c = self.db.read().await?;
        Ok(users::get(&mut c, id).await?.map(|u| u.display_name))
    }

    /// Seats the caller at a telephone extension: calls ringing there pop on their screen.
    pub async fn agent_seat(&self, p: &Principal, extension: &str, ctx: &AuditCtx) -> ServiceResult<String> {
        p.require(perm::CONTACT_WRITE)?;
        let ext = extension.trim();
        if !(2..=16).contains(&ext.len()) || !ext.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(v("extension", "invalid_extension", "2-16 letters and digits"));
        }
        let mut tx = self.db.begin().await?;
        repo::seat(&mut tx, p.user_id, ext, self.now()).await?;
        security_in(
            &mut tx,
            self,
            &ctx.clone().for_principal(p),
            "agent.seat",
            "ok",
            serde_json::json!({"extension": ext}),
        )
        .await?;
        commit(tx).await?;
        Ok(ext.to_string())
    }

    pub async fn agent_unseat(&self, p: &Principal, ctx: &AuditCtx) -> ServiceResult<()> {
        let mut tx = self.db.begin().await?;
        repo::unseat(&mut tx, p.user_id).await?;
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "agent.unseat", "ok", serde_json::json!({})).await?;
        commit(tx).await
    }

    pub async fn agent_extension(&self, p: &Principal) -> ServiceResult<Option<String>> {
        let mut c = self.db.read().await?;
        Ok(repo::extension_of(&mut c, p.user_id).await?)
    }

    /// Handles one telephone event; repeated events (PBX retries) change nothing, and
    /// events may arrive in any order: the first one opens the call's draft contact.
    pub async fn cti_event(&self, e: &CtiEvent) -> ServiceResult<CtiOutcome> {
        let event = one_of("event", &e.event, CTI_EVENTS)?;
        let call_id = e.call_id.trim();
        if call_id.is_empty() || call_id.len() > 64 {
            return Err(v("call_id", "invalid_call_id", "1-64 characters"));
        }
        let direction = one_of("direction", &e.direction, DIRECTIONS)?;
        let caller = Self::caller_number("caller", &e.caller)?;
        let called = Self::caller_number("called", &e.called)?;
        let rating = match (event.as_str(), e.rating) {
            ("ivr_rating", Some(r)) if (1..=5).contains(&r) => Some(r),
            ("ivr_rating", _) => return Err(v("rating", "invalid_rating", "1 to 5")),
            _ => None,
        };
        let recording = e.recording_url.trim();
        if !recording.is_empty()
            && (recording.len() > 500 || !(recording.starts_with("http://") || recording.starts_with("https://")))
        {
            return Err(v("recording_url", "invalid_url", "an http(s) URL of at most 500 characters"));
        }
        let now = self.now();
        let at = e.at.unwrap_or(now);
        let mut tx = self.db.begin().await?;
        let payload = serde_json::to_string(e).unwrap_or_default();
        let first_time = repo::cti_event_once(&mut tx, call_id, &event, &payload, now).await?;
        let agent_id = match e.extension.trim() {
            "" => None,
            ext => repo::agent_at(&mut tx, ext).await?,
        };
        let contact = match repo::by_call(&mut tx, call_id).await? {
            Some(c) => c,
            None => {
                let unit_id = match agent_id {
                    Some(a) => users::get(&mut tx, a).await?.map(|u| u.unit_id),
                    None => None,
                };
                let unit_id = match unit_id {
                    Some(u) => u,
                    None => units::list(&mut tx)
                        .await?
                        .first()
                        .map(|u| u.id)
                        .ok_or(ServiceError::Internal("no unit".into()))?,
                };
                // The caller's customer and account, when the number names exactly one.
                let customers = if caller.is_empty() {
                    vec![]
                } else {
                    cust::find(&mut tx, Lookup::Phone, &caller, None, 2).await?
                };
                let customer_id = (customers.len() == 1).then(|| customers[0]);
                let account_id = match customer_id {
                    Some(cid) => {
                        let accounts = cust::accounts_of(&mut tx, cid).await?;
                        (accounts.len() == 1).then(|| accounts[0].id)
                    }
                    None => None,
                };
                let no = numbers::allocate(&mut tx, NumberKind::Contact, now, &self.tz).await?.to_string();
                let f = ContactFields {
                    channel: "hotline",
                    direction: &direction,
                    source: "customer",
                    caller: &caller,
                    customer_id,
                    account_id,
                    category: "",
                    content: "",
                    address: "",
                    reply: "",
                };
                let started = if event == "ringing" { at } else { e.at.unwrap_or(now) };
                let c = NewContact {
                    contact_no: &no,
                    fields: f,
                    status: "draft",
                    agent_id,
                    unit_id,
                    call_id: Some(call_id),
                    called: &called,
                    started_at: started,
                    now,
                };
                repo::insert(&mut tx, &c).await?
            }
        };
        if !first_time {
            commit(tx).await?;
            return Ok(CtiOutcome {
                contact_id: contact.id,
                contact_no: contact.contact_no,
                agent_id: contact.agent_id,
                duplicate: true,
            });
        }
        let facts = CallFacts {
            agent_id,
            answered_at: (event == "answered").then_some(at),
            ended_at: (event == "hangup").then_some(at),
            recording_url: (!recording.is_empty()).then_some(recording),
            ivr_rating: rating,
        };
        repo::set_call_facts(&mut tx, contact.id, &facts, now).await?;
        let after = repo::get(&mut tx, contact.id).await?.ok_or(ServiceError::NotFound { entity: "contact" })?;
        let mut pending = Vec::new();
        if let Some(agent) = after.agent_id {
            let kind = format!("cti.{event}");
            let payload = serde_json::json!({
                "contact_id": after.id, "contact_no": after.contact_no, "call_id": call_id,
                "duration_s": after.duration_s, "extension": e.extension.trim(),
            });
            let (_, p) = self.events.emit(&mut tx, &kind, &format!("user:{agent}"), payload, now).await?;
            pending.push(p);
        }
        commit(tx).await?;
        self.events.after_commit(pending);
        Ok(CtiOutcome {
            contact_id: after.id,
            contact_no: after.contact_no,
            agent_id: after.agent_id,
            duplicate: false,
        })
    }

    /// The screen pop for a contact or a caller number: matching customers with their
    /// accounts' arrears, and the caller's recent contacts.
    pub async fn screen_pop(&self, p: &Principal, contact_id: Option<i64>, caller: &str) -> ServiceResult<ScreenPop> {
        p.require(perm::CONTACT_READ)?;
        p.require(perm::CUSTOMER_READ)?;
        let contact = match contact_id {
            Some(id) => Some(self.contact_scoped(p, id).await?),
            None => None,
        };
        let caller = match &contact {
            Some(c) => c.caller.clone(),
            None => Self::caller_number("caller", caller)?,
        };
        let mut customers = if caller.is_empty() { vec![] } else { self.customer_search(p, &caller, 5).await? };
        if let Some(cid) = contact.as_ref().and_then(|c| c.customer_id)
            && !customers.iter().any(|h| h.customer.id == cid)
            && let Ok(view) = self.customer_get(p, cid).await
        {
            customers.insert(0, SearchHit { matched: cust::MatchKind::Phone, customer: view });
        }
        let mut arrears = Vec::new();
        for a in customers.iter().flat_map(|h| h.customer.accounts.iter()).take(8) {
            let account = {
                let mut c = self.db.read().await?;
                cust::get_account(&mut c, a.id).await?
            };
            if let Some(account) = account
                && let Ok(s) = self.billing_summary(&account).await
            {
                arrears.push((a.id, s.arrears_fen));
            }
        }
        let mut recent = Vec::new();
        if !caller.is_empty() {
            let f = ContactFilter { caller: Some(&caller), ..Default::default() };
            recent = self.contact_list(p, f, 6).await?.items;
        }
        for h in customers.iter().take(3) {
            let f = ContactFilter { customer_id: Some(h.customer.id), ..Default::default() };
            for c in self.contact_list(p, f, 6).await?.items {
                if !recent.iter().any(|r| r.contact.id == c.contact.id) {
                    recent.push(c);
                }
            }
        }
        recent.retain(|c| Some(c.contact.id) != contact_id);
        recent.sort_by_key(|c| std::cmp::Reverse(c.contact.id));
        recent.truncate(6);
        Ok(ScreenPop {
            contact: contact.map(|c| self.contact_view(p, c)),
            caller: Masking::of(p).phone(caller),
            customers,
            arrears,
            recent_contacts: recent,
        })
    }
}

struct ContactInputChecked {
    channel: String,
    source: String,
    category: String,
    direction: String,
    caller: String,
    content: String,
    address: String,
    reply: String,
    customer_id: Option<i64>,
    account_id: Option<i64>,
}

impl ContactInputChecked {
    fn fields(&self) -> ContactFields<'_> {
        ContactFields {
            channel: &self.channel,
            direction: &self.direction,
            source: &self.source,
            caller: &self.caller,
            customer_id: self.customer_id,
            account_id: self.account_id,
            category: &self.category,
            content: &self.content,
            address: &self.address,
            reply: &self.reply,
        }
    }
}

/// A registration waiting for its group commit.
pub struct ContactWrite {
    fields: ContactInputChecked,
    now: jiff::Timestamp,
    agent_id: i64,
    unit_id: i64,
    audit: AuditCtx,
}

/// Registers contacts in batches (ARCHITECTURE D17): their numbers in one statement per
/// day, the rows in one insert, the audit entries in one.
pub struct ContactWrites {
    pub(crate) tz: jiff::tz::TimeZone,
}

impl BatchWrite for ContactWrites {
    type Item = ContactWrite;
    type Output = Contact;
    type Error = ServiceError;

    fn write<'c>(
        &'c self,
        conn: &'c mut AnyConnection,
        items: &'c [ContactWrite],
    ) -> BoxFuture<'c, Result<Vec<Contact>, ServiceError>> {
        Box::pin(async move {
            // Numbers in arrival order; a batch rarely straddles midnight, but may.
            let mut nos = Vec::with_capacity(items.len());
            let mut i = 0;
            while i < items.len() {
                let day = day_key(items[i].now, &self.tz);
                let n = items[i..].iter().take_while(|w| day_key(w.now, &self.tz) == day).count();
                let first = numbers::allocate_range(conn, NumberKind::Contact, &day, n as i64).await?;
                for k in 0..n {
                    let seq = first + k as i64;
                    nos.push(DocNumber { kind: NumberKind::Contact, day: day.clone(), seq }.to_string());
                }
                i += n;
            }
            let rows: Vec<NewContact<'_>> = items
                .iter()
                .zip(&nos)
                .map(|(w, no)| NewContact {
                    contact_no: no,
                    fields: w.fields.fields(),
                    status: if w.fields.reply.is_empty() { "open" } else { "replied" },
                    agent_id: Some(w.agent_id),
                    unit_id: w.unit_id,
                    call_id: None,
                    called: "",
                    started_at: w.now,
                    now: w.now,
                })
                .collect();
            let stored = repo::insert_many(conn, &rows).await?;
            let entries: Vec<_> = items
                .iter()
                .zip(&stored)
                .map(|(w, c)| {
                    let params = serde_json::json!({"id": c.id, "contact_no": c.contact_no, "category": c.category,
                        "channel": c.channel});
                    (w.audit.entry("contact.create", "ok", 0, params), w.now)
                })
                .collect();
            let refs: Vec<_> = entries.iter().map(|(e, at)| (e, *at)).collect();
            audit_repo::append_many(conn, &refs).await?;
            Ok(stored)
        })
    }
}
