//! Fine-grained permissions and the built-in roles (DESIGN §2, R-SYS-01).
//!
//! A permission is a dotted string (`order.dispatch`); a role is a set of them, stored in
//! the database and editable by a security administrator. The built-in roles below are
//! what a new installation (and the demo) starts with.
//!
//! Separation of duties (三员分立, MLPS level 3): permissions fall into at most one of three
//! administrative domains — system (`admin.*`), security (`security.*`) and audit
//! (`audit.*`). When separation is enforced, no user may hold permissions from two domains.

use serde::Serialize;

/// Catalogue entry for one permission.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PermissionDef {
    pub code: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
}

/// Permission codes as constants, so a typo is a compile error.
pub mod perm {
    pub const ADMIN_UNIT_READ: &str = "admin.unit.read";
    pub const ADMIN_UNIT_WRITE: &str = "admin.unit.write";
    pub const ADMIN_USER_READ: &str = "admin.user.read";
    pub const ADMIN_USER_WRITE: &str = "admin.user.write";
    pub const ADMIN_DICT_WRITE: &str = "admin.dict.write";
    pub const ADMIN_PARAM_READ: &str = "admin.param.read";
    pub const ADMIN_PARAM_WRITE: &str = "admin.param.write";
    pub const ADMIN_JOB_READ: &str = "admin.job.read";
    pub const ADMIN_ANNOUNCE: &str = "admin.announce";
    pub const SECURITY_ROLE_READ: &str = "security.role.read";
    pub const SECURITY_ROLE_WRITE: &str = "security.role.write";
    pub const SECURITY_USER_GRANT: &str = "security.user.grant";
    pub const SECURITY_USER_UNLOCK: &str = "security.user.unlock";
    pub const AUDIT_READ: &str = "audit.read";
    pub const DICT_READ: &str = "dict.read";
    pub const CUSTOMER_READ: &str = "customer.read";
    pub const CUSTOMER_WRITE: &str = "customer.write";
    pub const CUSTOMER_PII_READ: &str = "customer.pii.read";
    pub const BILLING_WRITE: &str = "billing.write";
    pub const CONTACT_READ: &str = "contact.read";
    pub const CONTACT_WRITE: &str = "contact.write";
    pub const CONTACT_QA: &str = "contact.qa";
    pub const CAMPAIGN_MANAGE: &str = "campaign.manage";
    pub const ORDER_READ: &str = "order.read";
    pub const ORDER_CREATE: &str = "order.create";
    pub const ORDER_ACCEPT: &str = "order.accept";
    pub const ORDER_DISPATCH: &str = "order.dispatch";
    pub const ORDER_HANDLE: &str = "order.handle";
    pub const ORDER_APPROVE: &str = "order.approve";
    pub const ORDER_VERIFY: &str = "order.verify";
    pub const ORDER_VISIT: &str = "order.visit";
    pub const REPORT_READ: &str = "report.read";
    pub const REPORT_EXPORT: &str = "report.export";
    pub const KB_READ: &str = "kb.read";
    pub const KB_WRITE: &str = "kb.write";
    pub const MONITOR_READ: &str = "monitor.read";
    pub const PORTAL_SELF: &str = "portal.self";
}

use perm::*;

/// Every permission the system knows, in display order.
pub const ALL: &[PermissionDef] = &[
    PermissionDef { code: ADMIN_UNIT_READ, zh: "查看组织单位", en: "View organisation units" },
    PermissionDef { code: ADMIN_UNIT_WRITE, zh: "管理组织单位", en: "Manage organisation units" },
    PermissionDef { code: ADMIN_USER_READ, zh: "查看用户", en: "View users" },
    PermissionDef { code: ADMIN_USER_WRITE, zh: "管理用户", en: "Manage users" },
    PermissionDef { code: ADMIN_DICT_WRITE, zh: "管理数据字典", en: "Manage dictionaries" },
    PermissionDef { code: ADMIN_PARAM_READ, zh: "查看系统参数", en: "View system parameters" },
    PermissionDef { code: ADMIN_PARAM_WRITE, zh: "修改系统参数", en: "Change system parameters" },
    PermissionDef { code: ADMIN_JOB_READ, zh: "查看后台任务", en: "View background jobs" },
    PermissionDef { code: ADMIN_ANNOUNCE, zh: "发布系统公告", en: "Broadcast announcements" },
    PermissionDef { code: SECURITY_ROLE_READ, zh: "查看角色权限", en: "View roles" },
    PermissionDef { code: SECURITY_ROLE_WRITE, zh: "管理角色权限", en: "Manage roles" },
    PermissionDef { code: SECURITY_USER_GRANT, zh: "为用户授予角色", en: "Grant roles to users" },
    PermissionDef { code: SECURITY_USER_UNLOCK, zh: "解锁/重置用户密码", en: "Unlock users, reset passwords" },
    PermissionDef { code: AUDIT_READ, zh: "查看审计日志", en: "Read the audit log" },
    PermissionDef { code: DICT_READ, zh: "查看数据字典", en: "Read dictionaries" },
    PermissionDef { code: CUSTOMER_READ, zh: "查看客户", en: "View customers" },
    PermissionDef { code: CUSTOMER_WRITE, zh: "维护客户", en: "Edit customers" },
    PermissionDef {
        code: CUSTOMER_PII_READ, zh: "查看客户敏感信息", en: "See customers' personal data unmasked"
    },
    PermissionDef { code: BILLING_WRITE, zh: "录入抄表与缴费", en: "Record meter readings and payments" },
    PermissionDef { code: CONTACT_READ, zh: "查看来电来件", en: "View contacts" },
    PermissionDef { code: CONTACT_WRITE, zh: "登记来电来件", en: "Record contacts" },
    PermissionDef { code: CONTACT_QA, zh: "服务质检评分", en: "Score agents' service (QA)" },
    PermissionDef { code: CAMPAIGN_MANAGE, zh: "管理外呼任务", en: "Manage outbound campaigns" },
    PermissionDef { code: ORDER_READ, zh: "查看工单", en: "View work orders" },
    PermissionDef { code: ORDER_CREATE, zh: "创建工单", en: "Create work orders" },
    PermissionDef { code: ORDER_ACCEPT, zh: "受理工单", en: "Accept work orders" },
    PermissionDef { code: ORDER_DISPATCH, zh: "派单", en: "Dispatch work orders" },
    PermissionDef { code: ORDER_HANDLE, zh: "处理工单", en: "Handle work orders" },
    PermissionDef { code: ORDER_APPROVE, zh: "审批工单", en: "Approve work orders" },
    PermissionDef { code: ORDER_VERIFY, zh: "核实办结", en: "Verify and conclude orders" },
    PermissionDef { code: ORDER_VISIT, zh: "回访", en: "Return visits" },
    PermissionDef { code: REPORT_READ, zh: "查看统计报表", en: "View statistics" },
    PermissionDef { code: REPORT_EXPORT, zh: "导出报表", en: "Export reports" },
    PermissionDef { code: KB_READ, zh: "查阅知识库", en: "Read the knowledge base" },
    PermissionDef { code: KB_WRITE, zh: "维护知识库", en: "Edit the knowledge base" },
    PermissionDef { code: MONITOR_READ, zh: "查看管网监测", en: "View network monitoring" },
    PermissionDef { code: PORTAL_SELF, zh: "自助服务", en: "Self-service portal" },
];

/// Whether `code` names a known permission.
pub fn is_known(code: &str) -> bool {
    ALL.iter().any(|p| p.code == code)
}

/// Administrative domain of a permission, for separation of duties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum AdminDomain {
    System,
    Security,
    Audit,
}

/// The administrative domain a permission belongs to, if any.
pub fn admin_domain(code: &str) -> Option<AdminDomain> {
    // Seeing the organisation and its users is needed by all three administrators
    // (granting roles, reading the audit log); it administers nothing.
    if code == perm::ADMIN_USER_READ || code == perm::ADMIN_UNIT_READ {
        None
    } else if code.starts_with("admin.") {
        Some(AdminDomain::System)
    } else if code.starts_with("security.") {
        Some(AdminDomain::Security)
    } else if code.starts_with("audit.") {
        Some(AdminDomain::Audit)
    } else {
        None
    }
}

/// The administrative domains a set of permissions spans. Under separation of duties a
/// user's permissions may span at most one.
pub fn admin_domains<'a>(codes: impl IntoIterator<Item = &'a str>) -> Vec<AdminDomain> {
    let mut out = Vec::new();
    for d in codes.into_iter().filter_map(admin_domain) {
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

/// The built-in roles of DESIGN §2 (plus the MLPS split of the administrator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuiltinRole {
    Admin,
    SysAdmin,
    SecurityAdmin,
    Auditor,
    Agent,
    Dispatcher,
    FieldWorker,
    Approver,
    Supervisor,
    Customer,
}

/// A permission-checking view, implemented by whatever holds a principal's permissions.
pub type Permission = &'static str;

impl BuiltinRole {
    pub const ALL: [BuiltinRole; 10] = [
        BuiltinRole::Admin,
        BuiltinRole::SysAdmin,
        BuiltinRole::SecurityAdmin,
        BuiltinRole::Auditor,
        BuiltinRole::Agent,
        BuiltinRole::Dispatcher,
        BuiltinRole::FieldWorker,
        BuiltinRole::Approver,
        BuiltinRole::Supervisor,
        BuiltinRole::Customer,
    ];

    /// The role's code in the database.
    pub fn code(self) -> &'static str {
        match self {
            BuiltinRole::Admin => "admin",
            BuiltinRole::SysAdmin => "sys_admin",
            BuiltinRole::SecurityAdmin => "security_admin",
            BuiltinRole::Auditor => "auditor",
            BuiltinRole::Agent => "agent",
            BuiltinRole::Dispatcher => "dispatcher",
            BuiltinRole::FieldWorker => "field_worker",
            BuiltinRole::Approver => "approver",
            BuiltinRole::Supervisor => "supervisor",
            BuiltinRole::Customer => "customer",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Chinese and English names.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            BuiltinRole::Admin => ("系统管理员", "Administrator"),
            BuiltinRole::SysAdmin => ("系统管理员(三员)", "System administrator"),
            BuiltinRole::SecurityAdmin => ("安全管理员", "Security administrator"),
            BuiltinRole::Auditor => ("审计员", "Auditor"),
            BuiltinRole::Agent => ("坐席客服", "Agent"),
            BuiltinRole::Dispatcher => ("调度派单员", "Dispatcher"),
            BuiltinRole::FieldWorker => ("维修处理人员", "Field worker"),
            BuiltinRole::Approver => ("审批人", "Approver"),
            BuiltinRole::Supervisor => ("班长主管", "Supervisor"),
            BuiltinRole::Customer => ("客户", "Customer"),
        }
    }

    /// The permissions a fresh installation grants the role.
    pub fn permissions(self) -> Vec<&'static str> {
        let staff_read = [DICT_READ];
        let v: Vec<&'static str> = match self {
            BuiltinRole::Admin => ALL.iter().map(|p| p.code).filter(|c| *c != PORTAL_SELF).collect(),
            BuiltinRole::SysAdmin => vec![
                ADMIN_UNIT_READ,
                ADMIN_UNIT_WRITE,
                ADMIN_USER_READ,
                ADMIN_USER_WRITE,
                ADMIN_DICT_WRITE,
                ADMIN_PARAM_READ,
                ADMIN_PARAM_WRITE,
                ADMIN_JOB_READ,
                ADMIN_ANNOUNCE,
            ],
            BuiltinRole::SecurityAdmin => {
                vec![
                    SECURITY_ROLE_READ,
                    SECURITY_ROLE_WRITE,
                    SECURITY_USER_GRANT,
                    SECURITY_USER_UNLOCK,
                    ADMIN_USER_READ,
                    ADMIN_UNIT_READ,
                ]
            }
            BuiltinRole::Auditor => {
                vec![AUDIT_READ, ADMIN_USER_READ, ADMIN_UNIT_READ, CUSTOMER_READ, CONTACT_READ, ORDER_READ, REPORT_READ]
            }
            BuiltinRole::Agent => vec![
                CUSTOMER_READ,
                CUSTOMER_WRITE,
                CUSTOMER_PII_READ,
                CONTACT_READ,
                CONTACT_WRITE,
                ORDER_READ,
                ORDER_CREATE,
                ORDER_VISIT,
                KB_READ,
            ],
            BuiltinRole::Dispatcher => vec![
                CUSTOMER_READ,
                CUSTOMER_PII_READ,
                CONTACT_READ,
                ORDER_READ,
                ORDER_CREATE,
                ORDER_ACCEPT,
                ORDER_DISPATCH,
                ORDER_VERIFY,
                KB_READ,
                MONITOR_READ,
            ],
            BuiltinRole::FieldWorker => vec![CUSTOMER_READ, ORDER_READ, ORDER_HANDLE, KB_READ],
            BuiltinRole::Approver => vec![CUSTOMER_READ, ORDER_READ, ORDER_APPROVE],
            BuiltinRole::Supervisor => vec![
                CUSTOMER_READ,
                CONTACT_READ,
                CONTACT_QA,
                CAMPAIGN_MANAGE,
                ORDER_READ,
                ORDER_VERIFY,
                REPORT_READ,
                REPORT_EXPORT,
                KB_READ,
                KB_WRITE,
                MONITOR_READ,
            ],
            BuiltinRole::Customer => return vec![PORTAL_SELF],
        };
        let mut v = v;
        for p in staff_read {
            if !v.contains(&p) {
                v.push(p);
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_roles_use_known_permissions() {
        for r in BuiltinRole::ALL {
            for p in r.permissions() {
                assert!(is_known(p), "{p}");
            }
            assert_eq!(BuiltinRole::from_code(r.code()), Some(r));
        }
    }

    #[test]
    fn codes_are_unique() {
        let mut codes: Vec<_> = ALL.iter().map(|p| p.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ALL.len());
    }

    #[test]
    fn separation_of_duties_domains() {
        // The three MLPS administrators each stay inside one domain; the all-in-one admin does not.
        for r in [BuiltinRole::SysAdmin, BuiltinRole::SecurityAdmin, BuiltinRole::Auditor] {
            assert_eq!(admin_domains(r.permissions()).len(), 1, "{r:?}");
        }
        assert_eq!(admin_domains(BuiltinRole::Admin.permissions()).len(), 3);
        assert!(admin_domains(BuiltinRole::Agent.permissions()).is_empty());
        assert!(!BuiltinRole::Agent.permissions().contains(&PORTAL_SELF));
    }
}
