//! Administration: organisation units, users, roles, dictionaries, parameters, jobs
//! (R-SYS-01, R-SYS-04). Every write is one transaction that includes its audit entry.

use waterdesk_domain::permissions::{self, admin_domains, perm};
use waterdesk_domain::username::{Username, UsernameError};
use waterdesk_store::dicts::{DictItem, DictType, ItemFields};
use waterdesk_store::jobs::JobRow;
use waterdesk_store::params::Parameter;
use waterdesk_store::roles::Role;
use waterdesk_store::units::{NewUnit, Unit};
use waterdesk_store::users::{NewUser, User, UserFilter};
use waterdesk_store::{StoreError, dicts, jobs, params, roles, sessions, units, users};

use crate::audit::{AuditCtx, security_in};
use crate::auth::{API_TOKEN_PREFIX, generate_password, hash_password, password_error_code, random_token, token_hash};
use crate::input::{commit, one_of, opt_text, text};
use crate::{Principal, ServiceError, ServiceResult, Services};

/// A code: 1–40 of `a-z 0-9 _ . -`.
fn code(field: &str, v: &str) -> ServiceResult<String> {
    let v = v.trim();
    let ok = !v.is_empty()
        && v.len() <= 40
        && v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(v.to_string())
    } else {
        Err(ServiceError::validation(field, "invalid_code", "use 1-40 characters of a-z, 0-9, '_', '.', '-'"))
    }
}

/// Maps a unique violation to `duplicate` of the given entity.
fn dup(entity: &'static str) -> impl Fn(StoreError) -> ServiceError {
    move |e| match e {
        StoreError::Conflict(_) => ServiceError::Duplicate { entity },
        other => ServiceError::Store(other),
    }
}

pub const UNIT_KINDS: &[&str] = &["company", "hotline_centre", "branch", "station", "meter_station", "department"];
pub const DATA_SCOPES: &[&str] = &["own", "unit", "unit_tree", "all"];
pub const USER_KINDS: &[&str] = &["staff", "service", "customer"];

/// Input for creating or editing a unit.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitInput {
    pub parent_id: Option<i64>,
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    pub kind: String,
    #[serde(default)]
    pub sort_order: i64,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

fn default_scope() -> String {
    "unit_tree".into()
}

fn default_kind() -> String {
    "staff".into()
}

/// Input for creating a user.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserInput {
    pub username: String,
    pub display_name: String,
    pub unit_id: i64,
    #[serde(default = "default_kind")]
    pub kind: String,
    #[serde(default = "default_scope")]
    pub data_scope: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub email: String,
    /// Initial password; generated when absent. The user must change it at first sign-in.
    pub password: Option<String>,
    /// Role codes (needs `security.user.grant`).
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Input for editing a user's profile.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    pub display_name: String,
    pub unit_id: i64,
    pub data_scope: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub disabled: bool,
}

/// A user with role codes, as shown to administrators.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct UserView {
    #[serde(flatten)]
    pub user: User,
    pub roles: Vec<String>,
    pub locked: bool,
}

/// Input for creating or editing a role.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    #[serde(default)]
    pub description: String,
    pub permissions: Vec<String>,
}

/// Input for a dictionary item.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DictItemInput {
    pub code: String,
    pub label_zh: String,
    #[serde(default)]
    pub label_en: String,
    pub parent_code: Option<String>,
    #[serde(default)]
    pub sort_order: i64,
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// An integration token as created: the secret is shown once.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    pub id: i64,
    pub token: String,
}

impl Services {
    // ---- units -------------------------------------------------------------------------

    pub async fn units_list(&self, p: &Principal) -> ServiceResult<Vec<Unit>> {
        p.require(perm::ADMIN_UNIT_READ)?;
        let mut c = self.db.read().await?;
        Ok(units::list(&mut c).await?)
    }

    pub async fn unit_get(&self, p: &Principal, id: i64) -> ServiceResult<Unit> {
        p.require(perm::ADMIN_UNIT_READ)?;
        let mut c = self.db.read().await?;
        units::get(&mut c, id).await?.ok_or(ServiceError::NotFound { entity: "unit" })
    }

    pub async fn unit_create(&self, p: &Principal, i: &UnitInput, ctx: &AuditCtx) -> ServiceResult<Unit> {
        p.require(perm::ADMIN_UNIT_WRITE)?;
        let code = code("code", &i.code)?;
        let name = text("name", &i.name, 100)?;
        let name_en = opt_text("name_en", &i.name_en, 100)?;
        let kind = one_of("kind", &i.kind, UNIT_KINDS)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if let Some(pid) = i.parent_id
            && units::get(&mut tx, pid).await?.is_none()
        {
            return Err(ServiceError::validation("parent_id", "unknown_unit", format!("no unit {pid}")));
        }
        let u = units::insert(
            &mut tx,
            &NewUnit {
                parent_id: i.parent_id,
                code: &code,
                name: &name,
                name_en: &name_en,
                kind: &kind,
                sort_order: i.sort_order,
            },
            now,
        )
        .await
        .map_err(dup("unit"))?;
        security_in(
            &mut tx,
            self,
            &ctx.clone().for_principal(p),
            "unit.create",
            "ok",
            serde_json::json!({"id": u.id, "code": code, "name": name}),
        )
        .await?;
        commit(tx).await?;
        Ok(u)
    }

    pub async fn unit_update(&self, p: &Principal, id: i64, i: &UnitInput, ctx: &AuditCtx) -> ServiceResult<Unit> {
        p.require(perm::ADMIN_UNIT_WRITE)?;
        let name = text("name", &i.name, 100)?;
        let name_en = opt_text("name_en", &i.name_en, 100)?;
        let kind = one_of("kind", &i.kind, UNIT_KINDS)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        units::update(&mut tx, id, &name, &name_en, &kind, i.sort_order, i.enabled, now).await.map_err(
            |e| match e {
                StoreError::NotFound => ServiceError::NotFound { entity: "unit" },
                e => e.into(),
            },
        )?;
        security_in(
            &mut tx,
            self,
            &ctx.clone().for_principal(p),
            "unit.update",
            "ok",
            serde_json::json!({"id": id, "name": name, "enabled": i.enabled}),
        )
        .await?;
        let u = units::get(&mut tx, id).await?.ok_or(ServiceError::NotFound { entity: "unit" })?;
        commit(tx).await?;
        Ok(u)
    }

    pub async fn unit_delete(&self, p: &Principal, id: i64, ctx: &AuditCtx) -> ServiceResult<()> {
        p.require(perm::ADMIN_UNIT_WRITE)?;
        let mut tx = self.db.begin().await?;
        if units::get(&mut tx, id).await?.is_none() {
            return Err(ServiceError::NotFound { entity: "unit" });
        }
        let (children, members) = units::usage(&mut tx, id).await?;
        if children > 0 || members > 0 {
            return Err(ServiceError::InUse { entity: "unit" });
        }
        units::delete(&mut tx, id).await?;
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "unit.delete", "ok", serde_json::json!({"id": id}))
            .await?;
        commit(tx).await
    }

    // ---- users -------------------------------------------------------------------------

    pub async fn users_list(&self, p: &Principal, f: &UserFilter) -> ServiceResult<Vec<UserView>> {
        p.require(perm::ADMIN_USER_READ)?;
        let scope = self.scope_unit_ids(p).await?;
        let mut c = self.db.read().await?;
        let mut out = Vec::new();
        let mut filter = f.clone();
        // Page until the limit is filled with in-scope users (scope is usually "all").
        loop {
            let page = users::list(&mut c, self.db.backend(), &filter).await?;
            let n = page.len() as i64;
            for u in page {
                filter.after_id = Some(u.id);
                if scope.as_ref().is_none_or(|s| s.contains(&u.unit_id)) {
                    out.push(self.view(&mut c, u).await?);
                    if out.len() as i64 >= f.limit {
                        return Ok(out);
                    }
                }
            }
            if n < filter.limit.clamp(1, 500) {
                return Ok(out);
            }
        }
    }

    async fn view(&self, c: &mut waterdesk_store::AnyConnection, u: User) -> ServiceResult<UserView> {
        let roles = users::role_codes(c, u.id).await?;
        let locked = u.locked_until.is_some_and(|t| t > self.now());
        Ok(UserView { user: u, roles, locked })
    }

    pub async fn user_get(&self, p: &Principal, id: i64) -> ServiceResult<UserView> {
        p.require(perm::ADMIN_USER_READ)?;
        let scope = self.scope_unit_ids(p).await?;
        let mut c = self.db.read().await?;
        let u = users::get(&mut c, id).await?.ok_or(ServiceError::NotFound { entity: "user" })?;
        if scope.is_some_and(|s| !s.contains(&u.unit_id)) {
            return Err(ServiceError::NotFound { entity: "user" });
        }
        self.view(&mut c, u).await
    }

    /// Role ids for codes, checking separation of duties on the union of permissions.
    async fn resolve_roles(&self, c: &mut waterdesk_store::AnyConnection, codes: &[String]) -> ServiceResult<Vec<i64>> {
        let mut ids = Vec::new();
        let mut all_perms: Vec<String> = Vec::new();
        for code in codes {
            let r = roles::get_by_code(c, code)
                .await?
                .ok_or_else(|| ServiceError::validation("roles", "unknown_role", format!("no role {code}")))?;
            ids.push(r.id);
            all_perms.extend(r.permissions);
        }
        if self.auth.separation_of_duties {
            let domains = admin_domains(all_perms.iter().map(String::as_str));
            if domains.len() > 1 {
                return Err(ServiceError::SeparationOfDuties(format!("{domains:?}")));
            }
        }
        Ok(ids)
    }

    /// Creates a user; returns the user and the initial password when it was generated.
    pub async fn user_create(
        &self,
        p: &Principal,
        i: &NewUserInput,
        ctx: &AuditCtx,
    ) -> ServiceResult<(UserView, Option<String>)> {
        p.require(perm::ADMIN_USER_WRITE)?;
        if !i.roles.is_empty() {
            p.require(perm::SECURITY_USER_GRANT)?;
        }
        let username = Username::parse(&i.username).map_err(|e| {
            let code = match e {
                UsernameError::Length => "username_length",
                UsernameError::Characters => "username_characters",
            };
            ServiceError::validation("username", code, e.to_string())
        })?;
        let display_name = text("display_name", &i.display_name, 60)?;
        let kind = one_of("kind", &i.kind, USER_KINDS)?;
        let scope = one_of("data_scope", &i.data_scope, DATA_SCOPES)?;
        let phone = opt_text("phone", &i.phone, 30)?;
        let email = opt_text("email", &i.email, 120)?;
        let (password, generated) = match &i.password {
            Some(pw) => {
                self.auth
                    .password_policy()
                    .check(username.as_str(), pw)
                    .map_err(|e| ServiceError::validation("password", password_error_code(&e), e.to_string()))?;
                (pw.clone(), None)
            }
            None => {
                let pw = generate_password();
                (pw.clone(), Some(pw))
            }
        };
        let pw = password.clone();
        let hash = tokio::task::spawn_blocking(move || hash_password(&pw))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))??;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if units::get(&mut tx, i.unit_id).await?.is_none() {
            return Err(ServiceError::validation("unit_id", "unknown_unit", format!("no unit {}", i.unit_id)));
        }
        let role_ids = self.resolve_roles(&mut tx, &i.roles).await?;
        let id = users::insert(
            &mut tx,
            &NewUser {
                username: username.as_str(),
                display_name: &display_name,
                unit_id: i.unit_id,
                kind: &kind,
                data_scope: &scope,
                phone: &phone,
                email: &email,
                password_hash: &hash,
                must_change_password: kind != "service",
            },
            now,
        )
        .await
        .map_err(dup("user"))?;
        users::set_roles(&mut tx, id, &role_ids).await?;
        security_in(
            &mut tx,
            self,
            &ctx.clone().for_principal(p),
            "user.create",
            "ok",
            serde_json::json!({"id": id, "username": username.as_str(), "unit_id": i.unit_id, "roles": i.roles}),
        )
        .await?;
        let u = users::get(&mut tx, id).await?.ok_or(ServiceError::NotFound { entity: "user" })?;
        let v = self.view(&mut tx, u).await?;
        commit(tx).await?;
        Ok((v, generated))
    }

    pub async fn user_update(&self, p: &Principal, id: i64, i: &UserUpdate, ctx: &AuditCtx) -> ServiceResult<UserView> {
        p.require(perm::ADMIN_USER_WRITE)?;
        let display_name = text("display_name", &i.display_name, 60)?;
        let scope = one_of("data_scope", &i.data_scope, DATA_SCOPES)?;
        let phone = opt_text("phone", &i.phone, 30)?;
        let email = opt_text("email", &i.email, 120)?;
        self.user_get(p, id).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if units::get(&mut tx, i.unit_id).await?.is_none() {
            return Err(ServiceError::validation("unit_id", "unknown_unit", format!("no unit {}", i.unit_id)));
        }
        if i.disabled && id == p.user_id {
            return Err(ServiceError::validation(
                "disabled",
                "cannot_disable_self",
                "you cannot disable your own account",
            ));
        }
        users::update_profile(&mut tx, id, &display_name, i.unit_id, &scope, &phone, &email, i.disabled, now).await?;
        if i.disabled {
            sessions::revoke_all_for_user(&mut tx, id, None, now).await?;
        }
        security_in(
            &mut tx,
            self,
            &ctx.clone().for_principal(p),
            "user.update",
            "ok",
            serde_json::json!({"id": id, "unit_id": i.unit_id, "data_scope": scope, "disabled": i.disabled}),
        )
        .await?;
        let u = users::get(&mut tx, id).await?.ok_or(ServiceError::NotFound { entity: "user" })?;
        let v = self.view(&mut tx, u).await?;
        commit(tx).await?;
        Ok(v)
    }

    pub async fn user_set_roles(
        &self,
        p: &Principal,
        id: i64,
        codes: &[String],
        ctx: &AuditCtx,
    ) -> ServiceResult<UserView> {
        p.require(perm::SECURITY_USER_GRANT)?;
        self.user_get_unscoped(id).await?;
        let mut tx = self.db.begin().await?;
        let ids = self.resolve_roles(&mut tx, codes).await?;
        users::set_roles(&mut tx, id, &ids).await?;
        security_in(
            &mut tx,
            self,
            &ctx.clone().for_principal(p),
            "user.roles",
            "ok",
            serde_json::json!({"id": id, "roles": codes}),
        )
        .await?;
        let u = users::get(&mut tx, id).await?.ok_or(ServiceError::NotFound { entity: "user" })?;
        let v = self.view(&mut tx, u).await?;
        commit(tx).await?;
        Ok(v)
    }

    async fn user_get_unscoped(&self, id: i64) -> ServiceResult<User> {
        let mut c = self.db.read().await?;
        users::get(&mut c, id).await?.ok_or(ServiceError::NotFound { entity: "user" })
    }

    pub async fn user_unlock(&self, p: &Principal, id: i64, ctx: &AuditCtx) -> ServiceResult<()> {
        p.require(perm::SECURITY_USER_UNLOCK)?;
        self.user_get_unscoped(id).await?;
        let mut tx = self.db.begin().await?;
        users::unlock(&mut tx, id, self.now()).await?;
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "user.unlock", "ok", serde_json::json!({"id": id}))
            .await?;
        commit(tx).await
    }

    /// Sets a new temporary password (generated unless given), ends the user's sessions
    /// and makes them change it at next sign-in. Returns the password.
    pub async fn user_reset_password(
        &self,
        p: &Principal,
        id: i64,
        password: Option<&str>,
        ctx: &AuditCtx,
    ) -> ServiceResult<String> {
        p.require(perm::SECURITY_USER_UNLOCK)?;
        let user = self.user_get_unscoped(id).await?;
        let pw = match password {
            Some(pw) => {
                self.auth
                    .password_policy()
                    .check(&user.username, pw)
                    .map_err(|e| ServiceError::validation("password", password_error_code(&e), e.to_string()))?;
                pw.to_string()
            }
            None => generate_password(),
        };
        let pw2 = pw.clone();
        let hash = tokio::task::spawn_blocking(move || hash_password(&pw2))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))??;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        users::set_password(&mut tx, id, &hash, true, now).await?;
        sessions::revoke_all_for_user(&mut tx, id, None, now).await?;
        security_in(
            &mut tx,
            self,
            &ctx.clone().for_principal(p),
            "user.reset_password",
            "ok",
            serde_json::json!({"id": id}),
        )
        .await?;
        commit(tx).await?;
        Ok(pw)
    }

    /// Issues an integration token for a service account, limited to `scopes`.
    pub async fn token_create(
        &self,
        p: &Principal,
        user_id: i64,
        name: &str,
        scopes: &[String],
        expires_at: Option<jiff::Timestamp>,
        ctx: &AuditCtx,
    ) -> ServiceResult<CreatedToken> {
        p.require(perm::SECURITY_USER_GRANT)?;
        let user = self.user_get_unscoped(user_id).await?;
        if user.kind != "service" {
            return Err(ServiceError::validation(
                "user_id",
                "not_service_account",
                "tokens are issued to service accounts",
            ));
        }
        let name = text("name", name, 60)?;
        for s in scopes {
            if !permissions::is_known(s) {
                return Err(ServiceError::validation(
                    "scopes",
                    "unknown_permission",
                    format!("unknown permission {s}"),
                ));
            }
        }
        let token = format!("{API_TOKEN_PREFIX}{}", random_token(32));
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let id = sessions::insert_token(
            &mut tx,
            user_id,
            &name,
            &token_hash(&token),
            &token[..10],
            &scopes.join(" "),
            expires_at,
            now,
        )
        .await?;
        security_in(
            &mut tx,
            self,
            &ctx.clone().for_principal(p),
            "token.create",
            "ok",
            serde_json::json!({"id": id, "user_id": user_id, "scopes": scopes}),
        )
        .await?;
        commit(tx).await?;
        Ok(CreatedToken { id, token })
    }

    pub async fn tokens_list(&self, p: &Principal, user_id: i64) -> ServiceResult<Vec<sessions::ApiToken>> {
        p.require(perm::ADMIN_USER_READ)?;
        let mut c = self.db.read().await?;
        Ok(sessions::tokens_for_user(&mut c, user_id).await?)
    }

    pub async fn token_revoke(&self, p: &Principal, id: i64, ctx: &AuditCtx) -> ServiceResult<()> {
        p.require(perm::SECURITY_USER_GRANT)?;
        let mut tx = self.db.begin().await?;
        sessions::revoke_token(&mut tx, id, self.now()).await.map_err(|e| match e {
            StoreError::NotFound => ServiceError::NotFound { entity: "token" },
            e => e.into(),
        })?;
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "token.revoke", "ok", serde_json::json!({"id": id}))
            .await?;
        commit(tx).await
    }

    // ---- roles -------------------------------------------------------------------------

    pub async fn roles_list(&self, p: &Principal) -> ServiceResult<Vec<Role>> {
        if !p.has(perm::SECURITY_ROLE_READ) {
            p.require(perm::ADMIN_USER_READ)?;
        }
        let mut c = self.db.read().await?;
        Ok(roles::list(&mut c).await?)
    }

    pub async fn role_get(&self, p: &Principal, id: i64) -> ServiceResult<Role> {
        p.require(perm::SECURITY_ROLE_READ)?;
        let mut c = self.db.read().await?;
        roles::get(&mut c, id).await?.ok_or(ServiceError::NotFound { entity: "role" })
    }

    fn check_role_input(&self, i: &RoleInput) -> ServiceResult<(String, String, String, String, Vec<String>)> {
        let code = code("code", &i.code)?;
        let name = text("name", &i.name, 60)?;
        let name_en = opt_text("name_en", &i.name_en, 60)?;
        let description = opt_text("description", &i.description, 500)?;
        let mut perms: Vec<String> = Vec::new();
        for p in &i.permissions {
            if !permissions::is_known(p) {
                return Err(ServiceError::validation(
                    "permissions",
                    "unknown_permission",
                    format!("unknown permission {p}"),
                ));
            }
            if !perms.contains(p) {
                perms.push(p.clone());
            }
        }
        if self.auth.separation_of_duties && admin_domains(perms.iter().map(String::as_str)).len() > 1 {
            return Err(ServiceError::SeparationOfDuties("role permissions".into()));
        }
        Ok((code, name, name_en, description, perms))
    }

    pub async fn role_create(&self, p: &Principal, i: &RoleInput, ctx: &AuditCtx) -> ServiceResult<Role> {
        p.require(perm::SECURITY_ROLE_WRITE)?;
        let (code, name, name_en, description, perms) = self.check_role_input(i)?;
        let mut tx = self.db.begin().await?;
        let id = roles::insert(&mut tx, &code, &name, &name_en, &description, false, self.now())
            .await
            .map_err(dup("role"))?;
        roles::set_permissions(&mut tx, id, &perms).await?;
        security_in(
            &mut tx,
            self,
            &ctx.clone().for_principal(p),
            "role.create",
            "ok",
            serde_json::json!({"id": id, "code": code, "permissions": perms}),
        )
        .await?;
        let r = roles::get(&mut tx, id).await?.ok_or(ServiceError::NotFound { entity: "role" })?;
        commit(tx).await?;
        Ok(r)
    }

    pub async fn role_update(&self, p: &Principal, id: i64, i: &RoleInput, ctx: &AuditCtx) -> ServiceResult<Role> {
        p.require(perm::SECURITY_ROLE_WRITE)?;
        let (_code, name, name_en, description, perms) = self.check_role_input(i)?;
        let mut tx = self.db.begin().await?;
        roles::update(&mut tx, id, &name, &name_en, &description, self.now()).await.map_err(|e| match e {
            StoreError::NotFound => ServiceError::NotFound { entity: "role" },
            e => e.into(),
        })?;
        roles::set_permissions(&mut tx, id, &perms).await?;
        security_in(
            &mut tx,
            self,
            &ctx.clone().for_principal(p),
            "role.update",
            "ok",
            serde_json::json!({"id": id, "permissions": perms}),
        )
        .await?;
        let r = roles::get(&mut tx, id).await?.ok_or(ServiceError::NotFound { entity: "role" })?;
        commit(tx).await?;
        Ok(r)
    }

    pub async fn role_delete(&self, p: &Principal, id: i64, ctx: &AuditCtx) -> ServiceResult<()> {
        p.require(perm::SECURITY_ROLE_WRITE)?;
        let mut tx = self.db.begin().await?;
        let r = roles::get(&mut tx, id).await?.ok_or(ServiceError::NotFound { entity: "role" })?;
        if r.builtin || roles::holders(&mut tx, id).await? > 0 {
            return Err(ServiceError::InUse { entity: "role" });
        }
        roles::delete(&mut tx, id).await?;
        security_in(
            &mut tx,
            self,
            &ctx.clone().for_principal(p),
            "role.delete",
            "ok",
            serde_json::json!({"id": id, "code": r.code}),
        )
        .await?;
        commit(tx).await
    }

    // ---- dictionaries ------------------------------------------------------------------

    pub async fn dict_types(&self, p: &Principal) -> ServiceResult<Vec<DictType>> {
        p.require(perm::DICT_READ)?;
        let mut c = self.db.read().await?;
        Ok(dicts::list_types(&mut c).await?)
    }

    pub async fn dict_items(&self, p: &Principal, dict: &str, include_disabled: bool) -> ServiceResult<Vec<DictItem>> {
        p.require(perm::DICT_READ)?;
        let mut c = self.db.read().await?;
        if !dicts::type_exists(&mut c, dict).await? {
            return Err(ServiceError::NotFound { entity: "dictionary" });
        }
        Ok(dicts::items(&mut c, dict, include_disabled).await?)
    }

    fn check_item(i: &DictItemInput) -> ServiceResult<(String, String, String, Option<String>)> {
        let code = code("code", &i.code)?;
        let zh = text("label_zh", &i.label_zh, 60)?;
        let en = opt_text("label_en", &i.label_en, 60)?;
        let parent = i.parent_code.as_deref().filter(|s| !s.trim().is_empty()).map(code_owned).transpose()?;
        Ok((code, zh, en, parent))
    }

    pub async fn dict_item_create(
        &self,
        p: &Principal,
        dict: &str,
        i: &DictItemInput,
        ctx: &AuditCtx,
    ) -> ServiceResult<DictItem> {
        p.require(perm::ADMIN_DICT_WRITE)?;
        let (code, zh, en, parent) = Self::check_item(i)?;
        let mut tx = self.db.begin().await?;
        if !dicts::type_exists(&mut tx, dict).await? {
            return Err(ServiceError::NotFound { entity: "dictionary" });
        }
        let f = ItemFields {
            code: &code,
            label_zh: &zh,
            label_en: &en,
            parent_code: parent.as_deref(),
            sort_order: i.sort_order,
            enabled: i.enabled,
        };
        let id = dicts::insert_item(&mut tx, dict, &f, self.now()).await.map_err(dup("dictionary item"))?;
        security_in(
            &mut tx,
            self,
            &ctx.clone().for_principal(p),
            "dict.create",
            "ok",
            serde_json::json!({"dict": dict, "code": code, "label_zh": zh}),
        )
        .await?;
        let item = dicts::get_item(&mut tx, id).await?.ok_or(ServiceError::NotFound { entity: "dictionary item" })?;
        commit(tx).await?;
        Ok(item)
    }

    pub async fn dict_item_update(
        &self,
        p: &Principal,
        dict: &str,
        id: i64,
        i: &DictItemInput,
        ctx: &AuditCtx,
    ) -> ServiceResult<DictItem> {
        p.require(perm::ADMIN_DICT_WRITE)?;
        let (_code, zh, en, parent) = Self::check_item(i)?;
        let mut tx = self.db.begin().await?;
        let existing = dicts::get_item(&mut tx, id)
            .await?
            .filter(|it| it.dict_code == dict)
            .ok_or(ServiceError::NotFound { entity: "dictionary item" })?;
        let f = ItemFields {
            code: &existing.code,
            label_zh: &zh,
            label_en: &en,
            parent_code: parent.as_deref(),
            sort_order: i.sort_order,
            enabled: i.enabled,
        };
        dicts::update_item(&mut tx, id, &f, self.now()).await?;
        security_in(
            &mut tx,
            self,
            &ctx.clone().for_principal(p),
            "dict.update",
            "ok",
            serde_json::json!({"dict": dict, "id": id, "label_zh": zh, "enabled": i.enabled}),
        )
        .await?;
        let item = dicts::get_item(&mut tx, id).await?.ok_or(ServiceError::NotFound { entity: "dictionary item" })?;
        commit(tx).await?;
        Ok(item)
    }

    // ---- parameters --------------------------------------------------------------------

    pub async fn params_list(&self, p: &Principal) -> ServiceResult<Vec<Parameter>> {
        p.require(perm::ADMIN_PARAM_READ)?;
        let mut c = self.db.read().await?;
        Ok(params::list(&mut c).await?)
    }

    /// Reads a parameter's value without a permission check (internal use: page footer).
    pub async fn param_value(&self, key: &str) -> ServiceResult<Option<String>> {
        let mut c = self.db.read().await?;
        Ok(params::get(&mut c, key).await?.map(|p| p.value))
    }

    pub async fn param_set(&self, p: &Principal, key: &str, value: &str, ctx: &AuditCtx) -> ServiceResult<Parameter> {
        p.require(perm::ADMIN_PARAM_WRITE)?;
        let mut tx = self.db.begin().await?;
        let existing = params::get(&mut tx, key).await?.ok_or(ServiceError::NotFound { entity: "parameter" })?;
        let value = value.trim();
        let ok = match existing.value_type.as_str() {
            "int" => value.parse::<i64>().is_ok(),
            "bool" => matches!(value, "true" | "false"),
            _ => value.chars().count() <= 500,
        };
        if !ok {
            return Err(ServiceError::validation(
                "value",
                "invalid_value",
                format!("expected a value of type {}", existing.value_type),
            ));
        }
        // R-SYS-03: the audit log is kept at least 180 days.
        if key == "audit.retention_days" && value.parse::<i64>().is_ok_and(|d| d < 180) {
            return Err(ServiceError::validation(
                "value",
                "retention_too_short",
                "the audit log must be kept at least 180 days",
            ));
        }
        params::set(&mut tx, key, value, &p.username, self.now()).await?;
        security_in(
            &mut tx,
            self,
            &ctx.clone().for_principal(p),
            "param.update",
            "ok",
            serde_json::json!({"key": key, "old": existing.value, "new": value}),
        )
        .await?;
        let out = params::get(&mut tx, key).await?.ok_or(ServiceError::NotFound { entity: "parameter" })?;
        commit(tx).await?;
        Ok(out)
    }

    // ---- jobs --------------------------------------------------------------------------

    pub async fn jobs_list(
        &self,
        p: &Principal,
        status: Option<&str>,
        limit: i64,
    ) -> ServiceResult<(Vec<JobRow>, Vec<(String, i64)>)> {
        p.require(perm::ADMIN_JOB_READ)?;
        let mut c = self.db.read().await?;
        Ok((jobs::list(&mut c, status, limit).await?, jobs::counts(&mut c).await?))
    }
}

fn code_owned(s: &str) -> ServiceResult<String> {
    code("parent_code", s)
}

impl Services {
    /// Broadcasts an announcement to every signed-in user (live, via SSE), recorded as an
    /// event and in the audit log.
    pub async fn announce(&self, p: &Principal, message: &str, ctx: &AuditCtx) -> ServiceResult<i64> {
        p.require(perm::ADMIN_ANNOUNCE)?;
        let message = text("message", message, 500)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (id, pending) = self
            .events
            .emit(&mut tx, "announcement", "all", serde_json::json!({"message": message, "from": p.display_name}), now)
            .await?;
        security_in(
            &mut tx,
            self,
            &ctx.clone().for_principal(p),
            "announcement.create",
            "ok",
            serde_json::json!({"message": message}),
        )
        .await?;
        commit(tx).await?;
        self.events.after_commit([pending]);
        Ok(id)
    }
}
