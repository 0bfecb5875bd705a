//! Where bills, payments and arrears come from (R-CUS-02, R-INT-02): the built-in ledger
//! (default), or a utility's existing billing system (查表营业系统) over HTTP.
//!
//! The HTTP contract (docs/INTEGRATION-billing.md): `GET {base_url}/accounts/{account_no}/summary`
//! with `Authorization: Bearer {token}` answers 200 with a [`BillingSummary`] as JSON, or
//! 404 when the billing system does not know the account.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use waterdesk_store::billing;
use waterdesk_store::customers::Account;

use crate::{ServiceError, ServiceResult, Services};

/// Which billing provider serves account balances.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case", deny_unknown_fields)]
pub enum BillingConfig {
    /// The built-in ledger in waterdesk's database.
    #[default]
    Builtin,
    /// An external billing system speaking the documented JSON contract.
    Http {
        base_url: String,
        #[serde(default)]
        token: String,
        #[serde(default = "default_timeout")]
        timeout_secs: u64,
    },
}

impl std::fmt::Debug for BillingConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BillingConfig::Builtin => f.write_str("Builtin"),
            BillingConfig::Http { base_url, timeout_secs, .. } => f
                .debug_struct("Http")
                .field("base_url", base_url)
                .field("token", &"***")
                .field("timeout_secs", timeout_secs)
                .finish(),
        }
    }
}

impl BillingConfig {
    /// Checks the settings at start-up.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            BillingConfig::Builtin => Ok(()),
            BillingConfig::Http { base_url, .. } if base_url.starts_with("http://") => Ok(()),
            BillingConfig::Http { base_url, .. } if base_url.starts_with("https://") => Err(
                "billing.base_url: HTTPS is not supported yet; use http:// inside the LAN or a TLS-terminating proxy"
                    .into(),
            ),
            BillingConfig::Http { base_url, .. } => {
                Err(format!("billing.base_url `{base_url}` must start with http://"))
            }
        }
    }
}

fn default_timeout() -> u64 {
    5
}

/// One bill as the provider reports it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BillSummary {
    /// `YYYY-MM`.
    pub period: String,
    /// m³.
    pub volume: i64,
    pub total_fen: i64,
    pub paid_fen: i64,
    /// `unpaid`, `partial` or `paid`.
    pub status: String,
    /// `YYYY-MM-DD`.
    pub due_on: String,
}

/// One payment as the provider reports it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PaymentSummary {
    pub paid_at: jiff::Timestamp,
    pub amount_fen: i64,
    pub channel: String,
    pub external_txn_id: String,
}

/// An account's billing state: the JSON contract of the HTTP provider.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BillingSummary {
    pub account_no: String,
    /// `builtin` or `http` (set by waterdesk, not by the provider).
    #[serde(default)]
    pub source: String,
    /// Unpaid amount (欠费).
    pub arrears_fen: i64,
    /// Prepaid amount not yet used (预存).
    #[serde(default)]
    pub credit_fen: i64,
    /// m³ used this year.
    #[serde(default)]
    pub ytd_m3: i64,
    /// Current tier (1-based), if the provider knows it.
    #[serde(default)]
    pub tier: Option<usize>,
    /// m³ left before the next tier.
    #[serde(default)]
    pub remaining_in_tier: Option<i64>,
    /// Newest first, at most 12.
    #[serde(default)]
    pub bills: Vec<BillSummary>,
    /// Newest first, at most 12.
    #[serde(default)]
    pub payments: Vec<PaymentSummary>,
}

impl Services {
    /// The account's billing state from the configured provider.
    pub async fn billing_summary(&self, account: &Account) -> ServiceResult<BillingSummary> {
        match &*self.billing {
            BillingConfig::Builtin => self.builtin_summary(account).await,
            BillingConfig::Http { base_url, token, timeout_secs } => {
                http_summary(base_url, token, *timeout_secs, &account.account_no).await
            }
        }
    }

    async fn builtin_summary(&self, account: &Account) -> ServiceResult<BillingSummary> {
        let mut c = self.db.read().await?;
        let id = account.id;
        let bills = billing::bills_of(&mut c, id, 12).await?;
        let payments = billing::payments_of(&mut c, id, 12).await?;
        let (billed, paid, received) = billing::balance(&mut c, id).await?;
        let year = self.now().to_zoned(self.tz.clone()).year().to_string();
        let ytd = billing::ytd(&mut c, id, &year).await?;
        let (tariff, _) = Self::tariff_of(billing::tariff(&mut c, &account.tariff_code).await?)?;
        let pos = tariff.position(ytd, account.household_size);
        Ok(BillingSummary {
            account_no: account.account_no.clone(),
            source: "builtin".into(),
            arrears_fen: billed - paid,
            credit_fen: (received - paid).max(0),
            ytd_m3: ytd,
            tier: Some(pos.tier),
            remaining_in_tier: pos.remaining_in_tier,
            bills: bills
                .into_iter()
                .map(|b| BillSummary {
                    period: b.period,
                    volume: b.volume,
                    total_fen: b.total_fen,
                    paid_fen: b.paid_fen,
                    status: b.status,
                    due_on: b.due_on,
                })
                .collect(),
            payments: payments
                .into_iter()
                .map(|p| PaymentSummary {
                    paid_at: p.paid_at,
                    amount_fen: p.amount_fen,
                    channel: p.channel,
                    external_txn_id: p.external_txn_id,
                })
                .collect(),
        })
    }
}

fn http_client(timeout_secs: u64) -> ServiceResult<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(timeout_secs.clamp(1, 60)))
        .build()
        .map_err(|e| ServiceError::Internal(format!("billing client: {e}")))
}

async fn http_summary(
    base_url: &str,
    token: &str,
    timeout_secs: u64,
    account_no: &str,
) -> ServiceResult<BillingSummary> {
    let url = format!("{}/accounts/{}/summary", base_url.trim_end_matches('/'), urlencode(account_no));
    let mut req = http_client(timeout_secs)?.get(&url).header("accept", "application/json");
    if !token.is_empty() {
        req = req.bearer_auth(token);
    }
    let upstream = |why: String| {
        tracing::warn!(billing.url = %url, error = %why, "billing system call failed");
        ServiceError::Upstream { service: "billing" }
    };
    let resp = req.send().await.map_err(|e| upstream(e.to_string()))?;
    match resp.status().as_u16() {
        200 => {
            let mut s: BillingSummary = resp.json().await.map_err(|e| upstream(format!("malformed summary: {e}")))?;
            if s.account_no != account_no {
                return Err(upstream(format!("summary for {} instead of {account_no}", s.account_no)));
            }
            s.source = "http".into();
            s.bills.truncate(12);
            s.payments.truncate(12);
            // Keep what an agent reads plausible even if the provider disagrees with itself.
            if s.arrears_fen < 0 || s.bills.iter().any(|b| b.total_fen < 0 || b.paid_fen < 0) {
                return Err(upstream("negative amounts in summary".into()));
            }
            Ok(s)
        }
        404 => Ok(BillingSummary {
            account_no: account_no.to_string(),
            source: "http".into(),
            arrears_fen: 0,
            credit_fen: 0,
            ytd_m3: 0,
            tier: None,
            remaining_in_tier: None,
            bills: vec![],
            payments: vec![],
        }),
        s => Err(upstream(format!("status {s}"))),
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
