//! The work-order subsystem (issue 5, R-WO-01..13). This part: order types — the standard
//! set shipped as editable defaults, and their definitions checked before they are stored
//! (R-WO-02/04/08/13).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use waterdesk_domain::permissions::perm;
use waterdesk_domain::sla::{Calendar, Targets, default_targets};
use waterdesk_domain::workflow::{Workflow, standard_types};
use waterdesk_store::orders::{self as repo, OrderType, OrderTypeFields};

use crate::audit::{AuditCtx, security_in};
use crate::input::commit;
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

    pub async fn order_types(&self, p: &Principal) -> ServiceResult<Vec<OrderType>> {
        p.require(perm::ORDER_READ)?;
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
        if !repo::update_type(&mut tx, &f, now).await? {
            return Err(ServiceError::NotFound { entity: "order_type" });
        }
        let params = serde_json::json!({"code": code, "enabled": i.enabled});
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "order_type.update", "ok", params).await?;
        let t = repo::get_type(&mut tx, code).await?.ok_or(ServiceError::NotFound { entity: "order_type" })?;
        commit(tx).await?;
        Ok(t)
    }
}
