//! The public progress look-up (R-DATA-06): a customer gives an order number (工单号
//! `WO…`) or a contact number (热线编号 `C…`) and the last four digits of the phone the
//! utility has for it, and sees where it stands — the type, when it was registered, the
//! stage in words a customer understands, the milestone times, and the reply once it is
//! concluded. Nothing else: no names, addresses, phones, units or staff.
//!
//! A number that does not exist and digits that do not match give the same answer
//! (`None` → 404 `progress_not_found`), so the look-up cannot tell which numbers exist.
//! Guessing is limited by counters in the database (`store::rate_limits`), shared by all
//! replicas: look-ups per client address, and failed look-ups per number.

use serde::Deserialize;
use utoipa::ToSchema;
use waterdesk_domain::numbering::DocNumber;
use waterdesk_store::{contacts, dicts, orders, progress as repo, rate_limits};

use crate::{ServiceError, ServiceResult, Services};

/// The limits of the look-up (fixed windows).
#[derive(Debug, Clone, Copy)]
pub struct ProgressLimits {
    /// Look-ups per client address per `ip_window_secs` (default 10 per 10 minutes).
    pub per_ip: i64,
    pub ip_window_secs: i64,
    /// Failed look-ups of one number per `number_window_secs` (default 5 an hour); after
    /// that the number answers `rate_limited` to everybody until the window ends.
    pub failures_per_number: i64,
    pub number_window_secs: i64,
}

impl Default for ProgressLimits {
    fn default() -> Self {
        ProgressLimits { per_ip: 10, ip_window_secs: 600, failures_per_number: 5, number_window_secs: 3600 }
    }
}

/// What the customer enters.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgressQuery {
    /// 工单号 `WO20261121-000001` or 热线编号 `C20261121-000001` (case and surrounding
    /// spaces do not matter).
    pub number: String,
    /// The last four digits of the phone number the utility has for the order or contact.
    pub phone_last4: String,
}

/// What the customer may see; stages and milestones as codes (the web layer words them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressFacts {
    pub number: String,
    /// `order` or `contact`.
    pub kind: &'static str,
    /// The order type's name, or the contact's category (zh, en).
    pub type_label: (String, String),
    /// The order's category, if it has one (zh, en).
    pub category_label: Option<(String, String)>,
    pub registered_at: jiff::Timestamp,
    /// `received`, `accepted`, `dispatched`, `taken`, `on_site`, `handled`, `on_hold`,
    /// `concluded`, `cancelled`, `rejected`, `replied`.
    pub stage: &'static str,
    /// (milestone, instant), oldest first: `registered`, `accepted`, `dispatched`,
    /// `arrived`, `resolved`, `concluded`, `replied`.
    pub milestones: Vec<(&'static str, jiff::Timestamp)>,
    /// What the customer was answered, once concluded (or, for a contact, replied).
    pub reply: Option<String>,
}

/// A customer's word for an order's state.
pub fn customer_stage(state: &str) -> &'static str {
    match state {
        "registered" => "received",
        "pending_approval" | "accepted" => "accepted",
        "dispatched" => "dispatched",
        "acknowledged" => "taken",
        "in_progress" => "on_site",
        "resolved" | "verified" => "handled",
        "suspended" => "on_hold",
        "concluded" => "concluded",
        "cancelled" => "cancelled",
        "rejected" => "rejected",
        _ => "received",
    }
}

/// The last four digits of a stored phone (whatever its punctuation), if it has four.
fn last4(phone: &str) -> Option<String> {
    let d: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    (d.len() >= 4).then(|| d[d.len() - 4..].iter().collect())
}

fn v(field: &str, code: &'static str, detail: &str) -> ServiceError {
    ServiceError::validation(field, code, detail)
}

impl Services {
    /// The fixed window containing now: (its start in Unix seconds, seconds until it ends).
    fn window(&self, secs: i64) -> (i64, i64) {
        let now = self.now().as_second();
        let start = now - now.rem_euclid(secs);
        (start, (start + secs - now).max(1))
    }

    /// Counts one look-up from `ip` (before anything else, malformed requests included);
    /// `RateLimited` beyond [`ProgressLimits::per_ip`]. A client already over the limit
    /// is refused by a read, without writing.
    pub async fn progress_admit(&self, ip: &str) -> ServiceResult<()> {
        let l = self.progress_limits;
        let (start, retry) = self.window(l.ip_window_secs);
        let bucket = format!("progress:ip:{ip}");
        let seen = {
            let mut c = self.db.read().await?;
            rate_limits::peek(&mut c, &bucket, start).await?
        };
        if seen >= l.per_ip {
            return Err(ServiceError::RateLimited { retry_after_secs: retry });
        }
        let mut tx = self.db.begin().await?;
        let hits = rate_limits::hit(&mut tx, &bucket, start, self.now()).await?;
        crate::input::commit(tx).await?;
        if hits > l.per_ip {
            return Err(ServiceError::RateLimited { retry_after_secs: retry });
        }
        Ok(())
    }

    /// The progress of an order or contact, if the number exists and the digits match one
    /// of its phones (the caller's, its contact's, or its customer's); `None` otherwise,
    /// alike for both. Malformed input is a validation error (it names no record). A
    /// number with [`ProgressLimits::failures_per_number`] failures in its window is
    /// `RateLimited` for everybody until the window ends.
    pub async fn progress_lookup(&self, ip: &str, q: &ProgressQuery) -> ServiceResult<Option<ProgressFacts>> {
        let raw = q.number.trim().to_ascii_uppercase();
        if raw.is_empty() {
            return Err(v("number", "required", "an order number (WO…) or a contact number (C…)"));
        }
        let no = DocNumber::parse(&raw)
            .ok_or_else(|| v("number", "invalid_number", "WO20261121-000001 or C20261121-000001"))?;
        let digits = q.phone_last4.trim();
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(v("phone_last4", "invalid_last4", "the last four digits of the phone number"));
        }
        let number = no.to_string();
        let l = self.progress_limits;
        let (start, retry) = self.window(l.number_window_secs);
        let bucket = format!("progress:fail:{number}");
        let mut c = self.db.read().await?;
        if rate_limits::peek(&mut c, &bucket, start).await? >= l.failures_per_number {
            return Err(ServiceError::RateLimited { retry_after_secs: retry });
        }
        let found = match no.kind {
            waterdesk_domain::numbering::NumberKind::WorkOrder => self.order_progress(&mut c, &number, digits).await?,
            waterdesk_domain::numbering::NumberKind::Contact => self.contact_progress(&mut c, &number, digits).await?,
        };
        drop(c);
        if found.is_none() {
            // Logged without the digits; the request middleware also records the failed
            // request (digits redacted) in the audit log.
            tracing::warn!(progress.number = %number, client.ip = ip, "progress look-up failed");
            let mut tx = self.db.begin().await?;
            rate_limits::hit(&mut tx, &bucket, start, self.now()).await?;
            crate::input::commit(tx).await?;
        }
        Ok(found)
    }

    async fn phones_match(
        &self,
        c: &mut waterdesk_store::AnyConnection,
        digits: &str,
        callers: &[&str],
        customer: Option<i64>,
    ) -> ServiceResult<bool> {
        if callers.iter().any(|p| last4(p).as_deref() == Some(digits)) {
            return Ok(true);
        }
        if let Some(id) = customer {
            return Ok(repo::customer_last4(c, id).await?.iter().any(|d| d == digits));
        }
        Ok(false)
    }

    async fn order_progress(
        &self,
        c: &mut waterdesk_store::AnyConnection,
        number: &str,
        digits: &str,
    ) -> ServiceResult<Option<ProgressFacts>> {
        let Some(id) = repo::order_id_by_no(c, number).await? else { return Ok(None) };
        let Some(o) = orders::get(c, id).await? else { return Ok(None) };
        let contact = match o.contact_id {
            Some(cid) => contacts::get(c, cid).await?,
            None => None,
        };
        let callers = [o.caller.as_str(), contact.as_ref().map_or("", |c| c.caller.as_str())];
        let customer = o.customer_id.or(contact.as_ref().and_then(|c| c.customer_id));
        if !self.phones_match(c, digits, &callers, customer).await? {
            return Ok(None);
        }
        let t = orders::get_type(c, &o.type_code).await?;
        let type_label = t.map_or_else(|| (o.type_code.clone(), o.type_code.clone()), |t| (t.name_zh, t.name_en));
        let category_label = match o.category.trim() {
            "" => None,
            cat => Some(self.dict_label(c, "category", cat).await?),
        };
        // A report merged into another (并单) is handled by that order: its progress shows.
        let handled = match o.master_id {
            Some(m) => orders::get(c, m).await?.unwrap_or(o.clone()),
            None => o.clone(),
        };
        let mut facts = order_facts(&handled);
        facts.number = o.order_no.clone();
        facts.registered_at = o.created_at;
        facts.type_label = type_label;
        facts.category_label = category_label;
        if let Some(first) = facts.milestones.first_mut() {
            first.1 = o.created_at;
        }
        Ok(Some(facts))
    }

    async fn contact_progress(
        &self,
        c: &mut waterdesk_store::AnyConnection,
        number: &str,
        digits: &str,
    ) -> ServiceResult<Option<ProgressFacts>> {
        let Some(k) = contacts::by_no(c, number).await? else { return Ok(None) };
        if !self.phones_match(c, digits, &[k.caller.as_str()], k.customer_id).await? {
            return Ok(None);
        }
        let type_label = match k.category.trim() {
            "" => ("来电来件".to_string(), "Contact".to_string()),
            cat => self.dict_label(c, "category", cat).await?,
        };
        // A contact turned into an order follows the order.
        let order = match k.order_no.trim() {
            "" => None,
            no => match repo::order_id_by_no(c, no).await? {
                Some(id) => orders::get(c, id).await?,
                None => None,
            },
        };
        let mut facts = match order {
            Some(o) => {
                let handled = match o.master_id {
                    Some(m) => orders::get(c, m).await?.unwrap_or(o),
                    None => o,
                };
                order_facts(&handled)
            }
            None => {
                let replied = k.status == "replied" && !k.reply.trim().is_empty();
                let mut milestones = vec![("registered", k.started_at)];
                if let (true, Some(at)) = (replied, k.replied_at) {
                    milestones.push(("replied", at));
                }
                ProgressFacts {
                    number: String::new(),
                    kind: "contact",
                    type_label: (String::new(), String::new()),
                    category_label: None,
                    registered_at: k.started_at,
                    stage: if replied { "replied" } else { "received" },
                    milestones,
                    reply: replied.then(|| k.reply.trim().to_string()),
                }
            }
        };
        facts.number = k.contact_no.clone();
        facts.kind = "contact";
        facts.type_label = type_label;
        facts.category_label = None;
        facts.registered_at = k.started_at;
        if let Some(first) = facts.milestones.first_mut() {
            first.1 = k.started_at;
        }
        Ok(Some(facts))
    }

    /// A dictionary item's labels (the code itself when the dictionary does not know it).
    async fn dict_label(
        &self,
        c: &mut waterdesk_store::AnyConnection,
        dict: &str,
        code: &str,
    ) -> ServiceResult<(String, String)> {
        let item = dicts::items(c, dict, true).await?.into_iter().find(|i| i.code == code);
        Ok(item.map_or_else(
            || (code.to_string(), code.to_string()),
            |i| {
                let en = if i.label_en.is_empty() { i.label_zh.clone() } else { i.label_en };
                (i.label_zh, en)
            },
        ))
    }
}

/// An order's stage, milestones and (once concluded) reply.
fn order_facts(o: &orders::Order) -> ProgressFacts {
    let mut milestones = vec![("registered", o.created_at)];
    for (name, at) in [
        ("accepted", o.accepted_at),
        ("dispatched", o.dispatched_at),
        ("arrived", o.arrived_at),
        ("resolved", o.resolved_at),
        ("concluded", o.concluded_at),
    ] {
        if let Some(at) = at {
            milestones.push((name, at));
        }
    }
    milestones.sort_by_key(|m| m.1);
    let reply = (o.state == "concluded")
        .then(|| {
            let f: serde_json::Value = serde_json::from_str(&o.fields).unwrap_or_default();
            f["reply"].as_str().map(|r| r.trim().to_string()).filter(|r| !r.is_empty())
        })
        .flatten();
    ProgressFacts {
        number: o.order_no.clone(),
        kind: "order",
        type_label: (String::new(), String::new()),
        category_label: None,
        registered_at: o.created_at,
        stage: customer_stage(&o.state),
        milestones,
        reply,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_four_digits_ignore_punctuation() {
        assert_eq!(last4("138-5801-2345").as_deref(), Some("2345"));
        assert_eq!(last4("0571 8877 6655").as_deref(), Some("6655"));
        assert_eq!(last4("123"), None);
        assert_eq!(last4(""), None);
    }

    #[test]
    fn every_state_has_a_customer_stage() {
        for s in waterdesk_domain::workflow::State::ALL {
            assert_ne!(customer_stage(s.code()), "", "{s:?}");
        }
        assert_eq!(customer_stage("in_progress"), "on_site");
        assert_eq!(customer_stage("verified"), "handled");
    }
}
