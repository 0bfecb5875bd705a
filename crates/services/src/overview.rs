//! The dashboard's system overview for administrators: users, jobs, sign-ins.

use serde::Serialize;
use waterdesk_domain::permissions::perm;
use waterdesk_store::{audit, jobs, users};

use crate::{Principal, ServiceResult, Services};

/// What the dashboard shows; each part only when the principal may see it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overview {
    /// (all, disabled, locked)
    pub users: Option<(i64, i64, i64)>,
    /// Jobs per status.
    pub jobs: Option<Vec<(String, i64)>>,
    /// Sign-ins over the last 24 hours, oldest first: (hour start, successes, failures).
    pub sign_ins: Option<Vec<(jiff::Timestamp, i64, i64)>>,
}

impl Services {
    pub async fn overview(&self, p: &Principal) -> ServiceResult<Overview> {
        let now = self.now();
        let mut c = self.db.read().await?;
        let mut o = Overview::default();
        if p.has(perm::ADMIN_USER_READ) {
            o.users = Some(users::stats(&mut c, now).await?);
        }
        if p.has(perm::ADMIN_JOB_READ) {
            o.jobs = Some(jobs::counts(&mut c).await?);
        }
        if p.has(perm::AUDIT_READ) {
            // 24 whole hours ending with the current one.
            let this_hour = now
                .round(jiff::TimestampRound::new().smallest(jiff::Unit::Hour).mode(jiff::RoundMode::Trunc))
                .unwrap_or(now);
            let start = this_hour - jiff::SignedDuration::from_hours(23);
            let rows = audit::sign_ins_per_hour(&mut c, start).await?;
            let series = (0..24)
                .map(|i| {
                    let h = start + jiff::SignedDuration::from_hours(i);
                    let key = waterdesk_domain::time::to_db(h)[..13].to_string();
                    let (ok, failed) = rows.iter().find(|r| r.0 == key).map(|r| (r.1, r.2)).unwrap_or((0, 0));
                    (h, ok, failed)
                })
                .collect();
            o.sign_ins = Some(series);
        }
        Ok(o)
    }
}
