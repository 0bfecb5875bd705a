//! Who may see what, decided once (R-SYS-01, R-CALL-07, ARCHITECTURE D7): the records a
//! principal's data scope reaches, and whether personal data reaches them masked.
//!
//! Every service that reads or acts on a record asks here instead of deciding for itself,
//! so reading an order and acting on it cannot disagree, and every response — JSON, page,
//! export or event — masks the same fields for the same principal.

use serde::{Deserialize, Serialize};
use waterdesk_domain::permissions::perm;
use waterdesk_domain::phone::{mask_id_number, mask_phone};
use waterdesk_store::orders::{Order, OwnOrders};
use waterdesk_store::units;

use crate::{Principal, ServiceError, ServiceResult, Services};

/// How far a user's data scope reaches (数据范围).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataScope {
    /// Work orders assigned to or created by the user (a crew member also sees the
    /// unassigned orders dispatched to their team, to take them); other records of their unit.
    Own,
    /// Records of the user's unit.
    Unit,
    /// Records of the user's unit and every unit below it.
    UnitTree,
    /// Everything.
    All,
}

impl DataScope {
    /// Every scope, narrowest first.
    pub const ALL: [DataScope; 4] = [DataScope::Own, DataScope::Unit, DataScope::UnitTree, DataScope::All];

    pub fn code(self) -> &'static str {
        match self {
            DataScope::Own => "own",
            DataScope::Unit => "unit",
            DataScope::UnitTree => "unit_tree",
            DataScope::All => "all",
        }
    }

    pub fn parse(s: &str) -> Option<DataScope> {
        DataScope::ALL.into_iter().find(|d| d.code() == s)
    }

    /// A stored scope; an unknown one (a hand-edited row) reaches the least.
    pub fn from_stored(s: &str) -> DataScope {
        DataScope::parse(s).unwrap_or(DataScope::Own)
    }
}

/// A principal's data scope resolved to units, for one call.
#[derive(Debug, Clone)]
pub struct Scope {
    user_id: i64,
    unit_id: i64,
    kind: DataScope,
    /// Units whose records are visible; `None`: all.
    units: Option<Vec<i64>>,
    /// A crew member may take unassigned orders dispatched to their unit.
    takes: bool,
}

impl Scope {
    /// Units whose records (customers, contacts, aggregates) are visible; `None`: all.
    pub fn units(&self) -> Option<&[i64]> {
        self.units.as_deref()
    }

    /// Whether records of `unit_id` are visible.
    pub fn unit(&self, unit_id: i64) -> bool {
        self.units.as_ref().is_none_or(|u| u.contains(&unit_id))
    }

    /// Whether the order is visible: the user's own (assigned or created) always; with scope
    /// `own` also those waiting for them to take; otherwise by the handling unit.
    pub fn order(&self, o: &Order) -> bool {
        if o.assignee_id == Some(self.user_id) || o.created_by == Some(self.user_id) {
            return true;
        }
        match self.kind {
            DataScope::Own => {
                self.takes && o.assignee_id.is_none() && o.state == "dispatched" && o.unit_id == self.unit_id
            }
            _ => self.unit(o.unit_id),
        }
    }

    /// The handling units an order list is limited to (`None`: all, or scope `own`, which
    /// [`Self::own_orders`] limits instead).
    pub fn order_units(&self) -> Option<&[i64]> {
        if self.kind == DataScope::Own { None } else { self.units() }
    }

    /// The restriction of scope `own` for order lists and queries (`None`: by unit only).
    pub fn own_orders(&self) -> Option<OwnOrders> {
        (self.kind == DataScope::Own)
            .then_some(OwnOrders { user_id: self.user_id, take_unit: self.takes.then_some(self.unit_id) })
    }
}

impl Services {
    /// The principal's data scope, resolved (one read of the unit tree for `unit_tree`).
    pub async fn scope(&self, p: &Principal) -> ServiceResult<Scope> {
        let units = match p.data_scope {
            DataScope::All => None,
            DataScope::Unit | DataScope::Own => Some(vec![p.unit_id]),
            DataScope::UnitTree => {
                let mut c = self.db.read().await?;
                let all = units::list(&mut c).await?;
                match all.iter().find(|u| u.id == p.unit_id) {
                    None => Some(vec![]),
                    Some(mine) => Some(all.iter().filter(|u| u.path.starts_with(&mine.path)).map(|u| u.id).collect()),
                }
            }
        };
        Ok(Scope {
            user_id: p.user_id,
            unit_id: p.unit_id,
            kind: p.data_scope,
            units,
            takes: p.has(perm::ORDER_HANDLE),
        })
    }

    /// Unit ids the principal may see, or `None` for all.
    pub async fn scope_unit_ids(&self, p: &Principal) -> ServiceResult<Option<Vec<i64>>> {
        Ok(self.scope(p).await?.units)
    }

    /// Whether a unit is inside the principal's data scope.
    pub(crate) async fn in_scope(&self, p: &Principal, unit_id: i64) -> ServiceResult<bool> {
        Ok(self.scope(p).await?.unit(unit_id))
    }

    /// Order `id` if the principal may see it; `not_found` otherwise, as if it did not exist,
    /// so reading, acting, attaching, merging and linking agree (issue 24).
    pub(crate) async fn order_visible(
        &self,
        conn: &mut waterdesk_store::AnyConnection,
        p: &Principal,
        id: i64,
    ) -> ServiceResult<Order> {
        let scope = self.scope(p).await?;
        waterdesk_store::orders::get(conn, id)
            .await?
            .filter(|o| scope.order(o))
            .ok_or(ServiceError::NotFound { entity: "order" })
    }
}

/// Whether personal data (phone numbers, ID numbers, WeChat ids) reaches the principal
/// masked: the one decision every response applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Masking {
    masked: bool,
}

impl Masking {
    pub fn of(p: &Principal) -> Masking {
        Masking { masked: !p.has(perm::CUSTOMER_PII_READ) }
    }

    /// Whether values are masked for this principal.
    pub fn masked(self) -> bool {
        self.masked
    }

    /// A phone number as the principal may see it (`138****1234`).
    pub fn phone(self, s: String) -> String {
        if self.masked && !s.is_empty() { mask_phone(&s) } else { s }
    }

    /// An identity document number as the principal may see it.
    pub fn id_number(self, s: String) -> String {
        if self.masked && !s.is_empty() { mask_id_number(&s) } else { s }
    }

    /// An opaque personal identifier (a WeChat openid): hidden whole.
    pub fn secret(self, s: String) -> String {
        if self.masked && !s.is_empty() { "***".into() } else { s }
    }

    /// An order with its caller's number masked.
    pub fn order(self, mut o: Order) -> Order {
        o.caller = self.phone(std::mem::take(&mut o.caller));
        o
    }

    /// A campaign's call target with its number masked.
    pub fn target(self, mut t: waterdesk_store::campaigns::Target) -> waterdesk_store::campaigns::Target {
        t.phone = self.phone(std::mem::take(&mut t.phone));
        t
    }

    /// Orders with their callers' numbers masked.
    pub fn orders(self, orders: Vec<Order>) -> Vec<Order> {
        orders.into_iter().map(|o| self.order(o)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_and_unknown_reaches_least() {
        for d in DataScope::ALL {
            assert_eq!(DataScope::parse(d.code()), Some(d));
        }
        assert_eq!(DataScope::from_stored("everything"), DataScope::Own);
    }
}
