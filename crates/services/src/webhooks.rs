//! Origin callbacks (R-WO-10): when an order is resolved, concluded, cancelled or
//! rejected, the systems that subscribed — the 12345 hotline, billing, the portal — are
//! told over HTTP, with retries.
//!
//! The transition's transaction queues one `webhook.deliver` job per matching subscription
//! (dedupe key `webhook:<subscription>:<order>:<event>:<version>`), so a callback is never
//! lost when the process dies after the commit (DESIGN §3, principle 4). The job POSTs the
//! event as JSON, signed like the CTI endpoint's inbound events (HMAC-SHA256 over
//! `timestamp.body`); a non-2xx answer or a network error fails the job, and the queue
//! retries with backoff until it dead-letters it. Every attempt is recorded for the
//! administrators. The originating contact of a concluded order is marked replied in the
//! same transaction. See docs/INTEGRATION-webhooks.md.

use std::sync::LazyLock;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use utoipa::ToSchema;
use waterdesk_domain::permissions::perm;
use waterdesk_domain::workflow::Action;
use waterdesk_store::AnyConnection;
use waterdesk_store::jobs::NewJob;
use waterdesk_store::orders::Order;
use waterdesk_store::webhooks::{self as repo, Delivery, NewDelivery, Subscription, SubscriptionFields};

use crate::audit::{AuditCtx, security_in};
use crate::input::{commit, text};
use crate::orders::ORIGINS;
use crate::{Principal, ServiceError, ServiceResult, Services};

/// The job kind of a callback.
pub const WEBHOOK_JOB: &str = "webhook.deliver";
/// The events a subscription may ask for.
pub const EVENTS: &[&str] = &["order.resolved", "order.concluded", "order.cancelled", "order.rejected"];
/// Attempts before a callback is dead-lettered: with 5 s × 2ⁿ backoff capped at an hour,
/// about three hours of retries.
pub const MAX_ATTEMPTS: i64 = 12;
/// How long one attempt may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

fn v(field: &str, code: &'static str, detail: impl Into<String>) -> ServiceError {
    ServiceError::validation(field, code, detail)
}

/// `sha256=` + hex HMAC-SHA256(secret, "<timestamp>.<body>") — the scheme of the CTI
/// endpoint's inbound events (docs/INTEGRATION-cti.md), here outbound.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The callback event of an order's new state, if any.
pub fn event_of(state: &str) -> Option<&'static str> {
    match state {
        "resolved" => Some("order.resolved"),
        "concluded" => Some("order.concluded"),
        "cancelled" => Some("order.cancelled"),
        "rejected" => Some("order.rejected"),
        _ => None,
    }
}

/// Whether a comma-separated list holds `item` (an empty list holds everything when
/// `empty_is_all`).
fn listed(list: &str, item: &str, empty_is_all: bool) -> bool {
    let mut items = list.split(',').map(str::trim).filter(|s| !s.is_empty()).peekable();
    (empty_is_all && items.peek().is_none()) || items.any(|s| s == item)
}

/// A subscription as an administrator enters it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionInput {
    pub name: String,
    /// `http://…` (plain HTTP; HTTPS through a TLS-terminating proxy).
    pub url: String,
    /// Shared secret for the signature, 16–200 characters; on update, empty keeps the old one.
    #[serde(default)]
    pub secret: String,
    /// Some of `order.resolved`, `order.concluded`, `order.cancelled`, `order.rejected`.
    pub events: Vec<String>,
    /// Only orders of these origins (`hotline12345`, `billing`, `portal` …); empty: all.
    #[serde(default)]
    pub origins: Vec<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// A checked subscription: (name, url, events, origins).
fn check(i: &SubscriptionInput, secret_required: bool) -> ServiceResult<(String, String, String, String)> {
    let name = text("name", &i.name, 100)?;
    let url = i.url.trim();
    let parsed = reqwest::Url::parse(url).map_err(|_| v("url", "invalid_url", "an absolute http:// URL"))?;
    match parsed.scheme() {
        "http" if parsed.host_str().is_some() && url.len() <= 500 => {}
        "https" => return Err(v("url", "https_unsupported", "plain HTTP only; put a TLS-terminating proxy in front")),
        _ => return Err(v("url", "invalid_url", "an absolute http:// URL of at most 500 characters")),
    }
    let n = i.secret.chars().count();
    if (secret_required || n > 0) && !(16..=200).contains(&n) {
        return Err(v("secret", "invalid_secret", "16 to 200 characters"));
    }
    let mut events: Vec<&str> = i.events.iter().map(|e| e.trim()).filter(|e| !e.is_empty()).collect();
    events.sort_unstable();
    events.dedup();
    if events.is_empty() {
        return Err(v("events", "required", format!("one or more of {}", EVENTS.join(", "))));
    }
    if let Some(bad) = events.iter().find(|e| !EVENTS.contains(e)) {
        return Err(v("events", "unknown_event", format!("{bad}: not one of {}", EVENTS.join(", "))));
    }
    let mut origins: Vec<&str> = i.origins.iter().map(|o| o.trim()).filter(|o| !o.is_empty()).collect();
    origins.sort_unstable();
    origins.dedup();
    if let Some(bad) = origins.iter().find(|o| !ORIGINS.contains(o)) {
        return Err(v("origins", "unknown_origin", format!("{bad}: not one of {}", ORIGINS.join(", "))));
    }
    Ok((name, url.to_string(), events.join(","), origins.join(",")))
}

/// What one delivery job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The receiver answered 2xx.
    Delivered,
    /// Nothing to do: the subscription is gone or disabled, or an earlier run delivered.
    Skipped(&'static str),
    /// Non-2xx or a network error: the job fails and is retried.
    Failed(String),
}

static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
});

impl Services {
    /// Subscriptions with their latest delivery attempt.
    pub async fn webhook_list(&self, p: &Principal) -> ServiceResult<Vec<Subscription>> {
        p.require(perm::ADMIN_PARAM_READ)?;
        let mut c = self.db.read().await?;
        Ok(repo::list(&mut c, false).await?)
    }

    pub async fn webhook_get(&self, p: &Principal, id: i64) -> ServiceResult<Subscription> {
        p.require(perm::ADMIN_PARAM_READ)?;
        let mut c = self.db.read().await?;
        repo::get(&mut c, id).await?.ok_or(ServiceError::NotFound { entity: "webhook" })
    }

    /// Subscribes a system to order events (R-WO-10).
    pub async fn webhook_create(
        &self,
        p: &Principal,
        i: &SubscriptionInput,
        ctx: &AuditCtx,
    ) -> ServiceResult<Subscription> {
        p.require(perm::ADMIN_PARAM_WRITE)?;
        let (name, url, events, origins) = check(i, true)?;
        let f = SubscriptionFields {
            name: &name,
            url: &url,
            secret: &i.secret,
            events: &events,
            origins: &origins,
            enabled: i.enabled,
        };
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let id = repo::insert(&mut tx, &f, now).await?;
        let params = serde_json::json!({"id": id, "name": name, "url": url, "events": events, "origins": origins,
            "enabled": i.enabled});
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "webhook.create", "ok", params).await?;
        let s = repo::get(&mut tx, id).await?.ok_or(ServiceError::NotFound { entity: "webhook" })?;
        commit(tx).await?;
        Ok(s)
    }

    /// Replaces a subscription (an empty secret keeps the stored one).
    pub async fn webhook_update(
        &self,
        p: &Principal,
        id: i64,
        i: &SubscriptionInput,
        ctx: &AuditCtx,
    ) -> ServiceResult<Subscription> {
        p.require(perm::ADMIN_PARAM_WRITE)?;
        let (name, url, events, origins) = check(i, false)?;
        let f = SubscriptionFields {
            name: &name,
            url: &url,
            secret: i.secret.trim(),
            events: &events,
            origins: &origins,
            enabled: i.enabled,
        };
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if !repo::update(&mut tx, id, &f, now).await? {
            return Err(ServiceError::NotFound { entity: "webhook" });
        }
        let params = serde_json::json!({"id": id, "name": name, "url": url, "events": events, "origins": origins,
            "enabled": i.enabled, "secret_changed": !i.secret.trim().is_empty()});
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "webhook.update", "ok", params).await?;
        let s = repo::get(&mut tx, id).await?.ok_or(ServiceError::NotFound { entity: "webhook" })?;
        commit(tx).await?;
        Ok(s)
    }

    /// Turns a subscription on or off; while off, nothing is queued for it and queued
    /// callbacks are dropped when their turn comes.
    pub async fn webhook_set_enabled(
        &self,
        p: &Principal,
        id: i64,
        enabled: bool,
        ctx: &AuditCtx,
    ) -> ServiceResult<Subscription> {
        p.require(perm::ADMIN_PARAM_WRITE)?;
        let mut tx = self.db.begin().await?;
        if !repo::set_enabled(&mut tx, id, enabled, self.now()).await? {
            return Err(ServiceError::NotFound { entity: "webhook" });
        }
        let event = if enabled { "webhook.enable" } else { "webhook.disable" };
        security_in(&mut tx, self, &ctx.clone().for_principal(p), event, "ok", serde_json::json!({"id": id})).await?;
        let s = repo::get(&mut tx, id).await?.ok_or(ServiceError::NotFound { entity: "webhook" })?;
        commit(tx).await?;
        Ok(s)
    }

    /// A subscription's latest delivery attempts, newest first.
    pub async fn webhook_deliveries(&self, p: &Principal, id: i64, limit: i64) -> ServiceResult<Vec<Delivery>> {
        p.require(perm::ADMIN_PARAM_READ)?;
        if !(1..=500).contains(&limit) {
            return Err(v("limit", "invalid_limit", "1 to 500"));
        }
        let mut c = self.db.read().await?;
        if repo::get(&mut c, id).await?.is_none() {
            return Err(ServiceError::NotFound { entity: "webhook" });
        }
        Ok(repo::deliveries(&mut c, id, limit).await?)
    }

    /// Called by the transition door after its event row, in its transaction: queues the
    /// callbacks of the order's new state and answers the originating contact of a
    /// concluded order. Steps that do not move the order (urge, supervise) and a resume
    /// back into a state it had before tell nobody.
    pub(crate) async fn queue_callbacks(
        &self,
        conn: &mut AnyConnection,
        o: &Order,
        action: Action,
    ) -> ServiceResult<()> {
        if matches!(action, Action::Urge | Action::Supervise | Action::Resume) {
            return Ok(());
        }
        let Some(event) = event_of(&o.state) else { return Ok(()) };
        let fields: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&o.fields).unwrap_or_default();
        let reply = fields.get("reply").and_then(|r| r.as_str()).unwrap_or("").trim().to_string();
        let now = o.updated_at;
        if event == "order.concluded"
            && let Some(cid) = o.contact_id
        {
            let answer = if reply.is_empty() { format!("工单 {} 已办结", o.order_no) } else { reply.clone() };
            repo::contact_replied(conn, cid, &answer, now).await?;
        }
        for (sub, events, origins) in repo::enabled(conn).await? {
            if !listed(&events, event, false) || !listed(&origins, &o.origin, true) {
                continue;
            }
            let key = format!("webhook:{sub}:{}:{event}:{}", o.id, o.version);
            let body = serde_json::json!({
                "event": event, "order_id": o.id, "order_no": o.order_no, "type_code": o.type_code,
                "state": o.state, "origin": o.origin, "origin_ref": o.origin_ref, "contact_id": o.contact_id,
                "customer_id": o.customer_id, "account_id": o.account_id, "title": o.title, "reply": reply,
                "version": o.version, "occurred_at": now, "resolved_at": o.resolved_at,
                "concluded_at": o.concluded_at,
            });
            let payload = serde_json::json!({"subscription_id": sub, "key": key, "order_id": o.id, "event": event,
                "body": body});
            let job = NewJob {
                kind: WEBHOOK_JOB,
                payload: &payload,
                run_at: now,
                max_attempts: MAX_ATTEMPTS,
                dedupe_key: Some(&key),
            };
            waterdesk_store::jobs::enqueue(conn, &job, now).await?;
        }
        Ok(())
    }

    /// One attempt of a callback (the `webhook.deliver` job's work): POSTs the event to the
    /// subscription's URL, signed, and records the attempt.
    pub async fn webhook_deliver(&self, payload: &serde_json::Value) -> ServiceResult<DeliveryOutcome> {
        let bad =
            || ServiceError::Internal("webhook payload without subscription_id, key, order_id, event or body".into());
        let sub_id = payload["subscription_id"].as_i64().ok_or_else(bad)?;
        let key = payload["key"].as_str().ok_or_else(bad)?;
        let order_id = payload["order_id"].as_i64().ok_or_else(bad)?;
        let event = payload["event"].as_str().ok_or_else(bad)?;
        let mut body = payload["body"].clone();
        if !body.is_object() {
            return Err(bad());
        }
        let (sub, job) = {
            let mut c = self.db.read().await?;
            (repo::get(&mut c, sub_id).await?, repo::job_of(&mut c, key).await?)
        };
        let Some(sub) = sub.filter(|s| s.enabled) else { return Ok(DeliveryOutcome::Skipped("subscription disabled")) };
        let Some((job_id, attempt)) = job else { return Err(ServiceError::Internal(format!("no job with key {key}"))) };
        {
            let mut c = self.db.read().await?;
            if repo::delivered(&mut c, job_id).await? {
                return Ok(DeliveryOutcome::Skipped("delivered before"));
            }
        }
        let now = self.now();
        body["delivery_id"] = job_id.into();
        body["delivered_at"] = serde_json::to_value(now).unwrap_or_default();
        let bytes = serde_json::to_vec(&body).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let timestamp = now.as_second();
        let started = std::time::Instant::now();
        let sent = CLIENT
            .post(&sub.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Waterdesk-Event", event)
            .header("X-Waterdesk-Delivery", job_id.to_string())
            .header("X-Waterdesk-Timestamp", timestamp.to_string())
            .header("X-Waterdesk-Signature", sign(&sub.secret, timestamp, &bytes))
            .body(bytes)
            .send()
            .await;
        let (status, error) = match sent {
            Ok(r) if r.status().is_success() => (Some(i64::from(r.status().as_u16())), String::new()),
            Ok(r) => {
                let status = r.status();
                let text: String = r.text().await.unwrap_or_default().chars().take(200).collect();
                (Some(i64::from(status.as_u16())), format!("HTTP {status} {}", text.trim()).trim().to_string())
            }
            Err(e) => (None, format!("{e}").chars().take(500).collect()),
        };
        let ok = error.is_empty();
        let d = NewDelivery {
            subscription_id: sub.id,
            job_id,
            attempt,
            order_id,
            event,
            ok,
            status_code: status,
            error: &error,
            duration_ms: started.elapsed().as_millis() as i64,
        };
        let mut tx = self.db.begin().await?;
        repo::record(&mut tx, &d, self.now()).await?;
        commit(tx).await?;
        Ok(if ok { DeliveryOutcome::Delivered } else { DeliveryOutcome::Failed(error) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_events() {
        assert!(listed("order.concluded,order.cancelled", "order.cancelled", false));
        assert!(!listed("", "order.concluded", false));
        assert!(listed(" ", "billing", true));
        assert!(!listed("hotline12345", "billing", true));
        assert_eq!(event_of("concluded"), Some("order.concluded"));
        assert_eq!(event_of("in_progress"), None);
    }

    #[test]
    fn signature_is_hmac_of_timestamp_and_body() {
        // Known answer: HMAC-SHA256("key", "1.{}") (Python's hmac, openssl dgst -hmac).
        let s = sign("key", 1, b"{}");
        assert_eq!(s, "sha256=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224");
        assert_ne!(s, sign("key", 2, b"{}"));
        assert_ne!(s, sign("other", 1, b"{}"));
    }

    #[test]
    fn subscriptions_are_checked() {
        let ok = SubscriptionInput {
            name: "12345".into(),
            url: "http://127.0.0.1:9000/cb".into(),
            secret: "s".repeat(16),
            events: vec!["order.concluded".into()],
            origins: vec!["hotline12345".into()],
            enabled: true,
        };
        assert!(check(&ok, true).is_ok());
        let code = |i: SubscriptionInput| match check(&i, true) {
            Err(ServiceError::Validation { code, .. }) => code,
            other => panic!("{other:?}"),
        };
        assert_eq!(code(SubscriptionInput { url: "https://x.example/cb".into(), ..ok.clone() }), "https_unsupported");
        assert_eq!(code(SubscriptionInput { url: "ftp://x".into(), ..ok.clone() }), "invalid_url");
        assert_eq!(code(SubscriptionInput { secret: "short".into(), ..ok.clone() }), "invalid_secret");
        assert_eq!(code(SubscriptionInput { events: vec![], ..ok.clone() }), "required");
        assert_eq!(code(SubscriptionInput { events: vec!["order.x".into()], ..ok.clone() }), "unknown_event");
        assert_eq!(code(SubscriptionInput { origins: vec!["fax".into()], ..ok.clone() }), "unknown_origin");
    }
}
