//! Administration console pages: units, users, roles, dictionaries, parameters, audit, jobs.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use waterdesk_domain::permissions::{self, perm};
use waterdesk_services::admin::{
    DATA_SCOPES, DictItemInput, NewUserInput, RoleInput, UNIT_KINDS, USER_KINDS, UnitInput, UserUpdate,
};
use waterdesk_store::audit::AuditFilter;
use waterdesk_store::users::UserFilter;

use super::{FlashQuery, Layout, RawForm, after_form, html, pick};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::i18n::Lang;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/units", get(units_page).post(unit_create))
        .route("/admin/units/{id}", post(unit_update))
        .route("/admin/units/{id}/delete", post(unit_delete))
        .route("/admin/users", get(users_page).post(user_create))
        .route("/admin/users/new", get(user_new_page))
        .route("/admin/users/export.csv", get(users_export))
        .route("/admin/users/{id}", get(user_page).post(user_update))
        .route("/admin/users/{id}/roles", post(user_roles))
        .route("/admin/users/{id}/unlock", post(user_unlock))
        .route("/admin/users/{id}/reset-password", post(user_reset))
        .route("/admin/users/{id}/tokens", post(token_create))
        .route("/admin/tokens/{id}/revoke", post(token_revoke))
        .route("/admin/roles", get(roles_page).post(role_create))
        .route("/admin/roles/{id}", get(role_page).post(role_update))
        .route("/admin/roles/{id}/delete", post(role_delete))
        .route("/admin/dicts", get(dicts_page))
        .route("/admin/dicts/{code}/items", post(dict_item_create))
        .route("/admin/dicts/{code}/items/{id}", post(dict_item_update))
        .route("/admin/params", get(params_page))
        .route("/admin/params/{key}", post(param_set))
        .route("/admin/audit", get(audit_page))
        .route("/admin/audit/export.csv", get(audit_export))
        .route("/admin/jobs", get(jobs_page))
}

fn kind_options(lang: Lang) -> Vec<(String, String)> {
    UNIT_KINDS
        .iter()
        .map(|k| {
            let l = waterdesk_services::bootstrap::DICTIONARIES
                .iter()
                .find(|d| d.0 == "unit_kind")
                .and_then(|d| d.3.iter().find(|i| i.0 == *k))
                .map(|i| pick(lang, i.1, i.2))
                .unwrap_or(k.to_string());
            (k.to_string(), l)
        })
        .collect()
}

// ---- units ---------------------------------------------------------------------------

pub struct UnitRow {
    id: i64,
    code: String,
    name: String,
    name_en: String,
    kind: String,
    kind_label: String,
    sort_order: i64,
    enabled: bool,
    depth: usize,
    indent_name: String,
}

#[derive(Template)]
#[template(path = "admin/units.html")]
pub struct UnitsPage {
    layout: Layout,
    units: Vec<UnitRow>,
    kinds: Vec<(String, String)>,
    can_write: bool,
}

async fn unit_rows(st: &AppState, p: &waterdesk_services::Principal, lang: Lang) -> Result<Vec<UnitRow>, ApiError> {
    let units = st.services().units_list(p).await?;
    let kinds = kind_options(lang);
    Ok(units
        .into_iter()
        .map(|u| {
            let depth = u.path.matches('/').count().saturating_sub(2);
            let name = pick(lang, &u.name, &u.name_en);
            UnitRow {
                id: u.id,
                indent_name: format!("{}{}", "— ".repeat(depth), name),
                kind_label: kinds.iter().find(|k| k.0 == u.kind).map(|k| k.1.clone()).unwrap_or(u.kind.clone()),
                code: u.code,
                name: u.name,
                name_en: u.name_en,
                kind: u.kind,
                sort_order: u.sort_order,
                enabled: u.enabled,
                depth,
            }
        })
        .collect())
}

async fn units_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    let units = unit_rows(&st, &p, ctx.lang).await?;
    let layout = Layout::new(&st, &p, &ctx, "unit.title", &f).await;
    Ok(html(&UnitsPage { layout, units, kinds: kind_options(ctx.lang), can_write: p.has(perm::ADMIN_UNIT_WRITE) }))
}

fn unit_input(f: &RawForm) -> UnitInput {
    UnitInput {
        parent_id: f.int("parent_id"),
        code: f.get("code").to_string(),
        name: f.get("name").to_string(),
        name_en: f.get("name_en").to_string(),
        kind: f.get("kind").to_string(),
        sort_order: f.int("sort_order").unwrap_or(0),
        enabled: f.flag("enabled"),
    }
}

async fn unit_create(State(st): State<AppState>, Auth(p, ctx): Auth, f: RawForm) -> Result<Response, ApiError> {
    after_form("/admin/units", st.services().unit_create(&p, &unit_input(&f), &ctx.audit()).await, "created")
}

async fn unit_update(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    f: RawForm,
) -> Result<Response, ApiError> {
    after_form("/admin/units", st.services().unit_update(&p, id, &unit_input(&f), &ctx.audit()).await, "saved")
}

async fn unit_delete(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    after_form("/admin/units", st.services().unit_delete(&p, id, &ctx.audit()).await, "deleted")
}

// ---- users ---------------------------------------------------------------------------

pub struct UserRow {
    id: i64,
    username: String,
    display_name: String,
    unit: String,
    roles: Vec<String>,
    disabled: bool,
    locked: bool,
    last_login: String,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
pub struct UsersPage {
    layout: Layout,
    users: Vec<UserRow>,
    units: Vec<(i64, String)>,
    roles: Vec<(String, String)>,
    q: String,
    unit_id: String,
    role: String,
    next_url: String,
    export_url: String,
    can_write: bool,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct UsersQuery {
    q: Option<String>,
    unit_id: Option<String>,
    role: Option<String>,
    after: Option<i64>,
}

async fn unit_options(
    st: &AppState,
    p: &waterdesk_services::Principal,
    lang: Lang,
) -> Result<Vec<(i64, String)>, ApiError> {
    Ok(unit_rows(st, p, lang).await?.into_iter().map(|u| (u.id, u.indent_name)).collect())
}

async fn users_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(q): Query<UsersQuery>,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    let lang = ctx.lang;
    let unit_id = q.unit_id.as_deref().and_then(|s| s.parse::<i64>().ok());
    let limit = 50;
    let filter = UserFilter {
        q: q.q.clone().filter(|s| !s.trim().is_empty()),
        unit_id,
        role_code: q.role.clone().filter(|s| !s.is_empty()),
        kind: None,
        after_id: q.after,
        limit,
    };
    let users = st.services().users_list(&p, &filter).await?;
    let units = if p.has(perm::ADMIN_UNIT_READ) { unit_options(&st, &p, lang).await? } else { vec![] };
    let roles: Vec<(String, String)> =
        st.services().roles_list(&p).await?.into_iter().map(|r| (r.code, pick(lang, &r.name, &r.name_en))).collect();
    let export_url = format!(
        "/admin/users/export.csv?q={}&unit_id={}&role={}",
        urlencoding::encode(q.q.as_deref().unwrap_or("")),
        unit_id.map(|u| u.to_string()).unwrap_or_default(),
        urlencoding::encode(q.role.as_deref().unwrap_or(""))
    );
    let next_url = if users.len() as i64 == limit {
        let last = users.last().map(|u| u.user.id).unwrap_or_default();
        format!(
            "/admin/users?q={}&unit_id={}&role={}&after={last}",
            urlencoding::encode(q.q.as_deref().unwrap_or("")),
            unit_id.map(|u| u.to_string()).unwrap_or_default(),
            urlencoding::encode(q.role.as_deref().unwrap_or(""))
        )
    } else {
        String::new()
    };
    let layout = Layout::new(&st, &p, &ctx, "user.title", &f).await;
    let rows = users
        .into_iter()
        .map(|v| UserRow {
            id: v.user.id,
            unit: units
                .iter()
                .find(|u| u.0 == v.user.unit_id)
                .map(|u| u.1.trim_start_matches("— ").to_string())
                .unwrap_or_default(),
            username: v.user.username,
            display_name: v.user.display_name,
            roles: v.roles,
            disabled: v.user.disabled,
            locked: v.locked,
            last_login: v.user.last_login_at.map(|t| layout.dt(&t)).unwrap_or_default(),
        })
        .collect();
    Ok(html(&UsersPage {
        layout,
        users: rows,
        units,
        roles,
        q: q.q.unwrap_or_default(),
        unit_id: unit_id.map(|u| u.to_string()).unwrap_or_default(),
        role: q.role.unwrap_or_default(),
        next_url,
        export_url,
        can_write: p.has(perm::ADMIN_USER_WRITE),
    }))
}

/// At most this many rows in one CSV export.
const EXPORT_LIMIT: usize = 100_000;

async fn users_export(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(q): Query<UsersQuery>,
) -> Result<Response, ApiError> {
    let mut filter = UserFilter {
        q: q.q.clone().filter(|s| !s.trim().is_empty()),
        unit_id: q.unit_id.as_deref().and_then(|s| s.parse::<i64>().ok()),
        role_code: q.role.clone().filter(|s| !s.is_empty()),
        kind: None,
        after_id: None,
        limit: 500,
    };
    let units = unit_options(&st, &p, ctx.lang).await.unwrap_or_default();
    let mut rows = Vec::new();
    loop {
        let page = st.services().users_list(&p, &filter).await?;
        let n = page.len();
        for v in page {
            filter.after_id = Some(v.user.id);
            rows.push(vec![
                v.user.username,
                v.user.display_name,
                units
                    .iter()
                    .find(|u| u.0 == v.user.unit_id)
                    .map(|u| u.1.trim_start_matches("— ").to_string())
                    .unwrap_or_default(),
                v.roles.join(" "),
                v.user.kind,
                v.user.data_scope,
                if v.user.disabled {
                    "disabled".into()
                } else if v.locked {
                    "locked".into()
                } else {
                    "active".into()
                },
                v.user.last_login_at.map(|t| super::fmt_local(t, &st.services().tz)).unwrap_or_default(),
            ]);
        }
        if n < 500 || rows.len() >= EXPORT_LIMIT {
            break;
        }
    }
    let l = ctx.lang;
    let header = [
        l.t("field.username"),
        l.t("field.display_name"),
        l.t("field.unit"),
        l.t("field.roles"),
        l.t("field.kind"),
        l.t("field.data_scope"),
        l.t("common.status"),
        l.t("field.last_login"),
    ];
    Ok(super::csv_response("users.csv", &header, rows))
}

pub struct TokenRow {
    id: i64,
    name: String,
    prefix: String,
    scopes: String,
    created: String,
    last_used: String,
    revoked: bool,
}

pub struct RoleCheck {
    code: String,
    name: String,
    held: bool,
}

#[derive(Template)]
#[template(path = "admin/user_edit.html")]
pub struct UserEditPage {
    layout: Layout,
    is_new: bool,
    id: i64,
    username: String,
    display_name: String,
    unit_id: i64,
    data_scope: String,
    phone: String,
    email: String,
    disabled: bool,
    locked: bool,
    units: Vec<(i64, String)>,
    kinds: Vec<(String, String)>,
    scopes: Vec<(String, String)>,
    all_roles: Vec<RoleCheck>,
    can_write: bool,
    can_grant: bool,
    can_unlock: bool,
    is_service: bool,
    tokens: Vec<TokenRow>,
    perms: Vec<PermCheck>,
}

fn scope_options(lang: Lang) -> Vec<(String, String)> {
    DATA_SCOPES.iter().map(|s| (s.to_string(), lang.t(&format!("scope.{s}")).to_string())).collect()
}

fn user_kind_options(lang: Lang) -> Vec<(String, String)> {
    USER_KINDS.iter().map(|s| (s.to_string(), lang.t(&format!("user.kind.{s}")).to_string())).collect()
}

async fn user_new_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    p.require(perm::ADMIN_USER_WRITE)?;
    let lang = ctx.lang;
    let units = unit_options(&st, &p, lang).await?;
    let layout = Layout::new(&st, &p, &ctx, "user.new", &f).await;
    Ok(html(&UserEditPage {
        layout,
        is_new: true,
        id: 0,
        username: String::new(),
        display_name: String::new(),
        unit_id: p.unit_id,
        data_scope: "unit_tree".into(),
        phone: String::new(),
        email: String::new(),
        disabled: false,
        locked: false,
        units,
        kinds: user_kind_options(lang),
        scopes: scope_options(lang),
        all_roles: vec![],
        can_write: true,
        can_grant: false,
        can_unlock: false,
        is_service: false,
        tokens: vec![],
        perms: vec![],
    }))
}

async fn render_user(
    st: &AppState,
    p: &waterdesk_services::Principal,
    ctx: &crate::auth::RequestCtx,
    id: i64,
    flash: &FlashQuery,
    secret: Option<(String, String)>,
) -> Result<Response, ApiError> {
    let lang = ctx.lang;
    let v = st.services().user_get(p, id).await?;
    let units = unit_options(st, p, lang).await?;
    let all_roles = st
        .services()
        .roles_list(p)
        .await?
        .into_iter()
        .map(|r| RoleCheck { held: v.roles.contains(&r.code), name: pick(lang, &r.name, &r.name_en), code: r.code })
        .collect();
    let is_service = v.user.kind == "service";
    let tokens = if is_service { st.services().tokens_list(p, id).await? } else { vec![] };
    let mut layout = Layout::new(st, p, ctx, "user.title", flash).await;
    if let Some((message, secret)) = secret {
        layout.flash = Some(super::Flash { kind: "ok", message, secret });
    }
    let tokens = tokens
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name,
            prefix: t.token_prefix,
            scopes: t.scopes,
            created: layout.dt(&t.created_at),
            last_used: t.last_used_at.map(|x| layout.dt(&x)).unwrap_or_default(),
            revoked: t.revoked_at.is_some(),
        })
        .collect();
    let perms = permissions::ALL
        .iter()
        .map(|d| PermCheck { code: d.code, label: if lang == Lang::En { d.en } else { d.zh }, held: false })
        .collect();
    Ok(html(&UserEditPage {
        is_service,
        tokens,
        perms,
        layout,
        is_new: false,
        id,
        username: v.user.username,
        display_name: v.user.display_name,
        unit_id: v.user.unit_id,
        data_scope: v.user.data_scope,
        phone: v.user.phone,
        email: v.user.email,
        disabled: v.user.disabled,
        locked: v.locked,
        units,
        kinds: vec![],
        scopes: scope_options(lang),
        all_roles,
        can_write: p.has(perm::ADMIN_USER_WRITE),
        can_grant: p.has(perm::SECURITY_USER_GRANT),
        can_unlock: p.has(perm::SECURITY_USER_UNLOCK),
    }))
}

async fn user_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    render_user(&st, &p, &ctx, id, &f, None).await
}

async fn user_create(State(st): State<AppState>, Auth(p, ctx): Auth, f: RawForm) -> Result<Response, ApiError> {
    let input = NewUserInput {
        username: f.get("username").to_string(),
        display_name: f.get("display_name").to_string(),
        unit_id: f.int("unit_id").unwrap_or_default(),
        kind: if f.get("kind").is_empty() { "staff".into() } else { f.get("kind").to_string() },
        data_scope: f.get("data_scope").to_string(),
        phone: f.get("phone").to_string(),
        email: f.get("email").to_string(),
        password: None,
        roles: vec![],
    };
    match st.services().user_create(&p, &input, &ctx.audit()).await {
        Ok((v, pw)) => {
            let msg = ctx.lang.t("msg.user_created").to_string();
            render_user(&st, &p, &ctx, v.user.id, &FlashQuery::default(), pw.map(|pw| (msg, pw))).await
        }
        Err(e) => after_form::<()>("/admin/users/new", Err(e), ""),
    }
}

async fn user_update(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    f: RawForm,
) -> Result<Response, ApiError> {
    let input = UserUpdate {
        display_name: f.get("display_name").to_string(),
        unit_id: f.int("unit_id").unwrap_or_default(),
        data_scope: f.get("data_scope").to_string(),
        phone: f.get("phone").to_string(),
        email: f.get("email").to_string(),
        disabled: f.flag("disabled"),
    };
    after_form(&format!("/admin/users/{id}"), st.services().user_update(&p, id, &input, &ctx.audit()).await, "saved")
}

async fn user_roles(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    f: RawForm,
) -> Result<Response, ApiError> {
    after_form(
        &format!("/admin/users/{id}"),
        st.services().user_set_roles(&p, id, &f.all("roles"), &ctx.audit()).await,
        "saved",
    )
}

async fn user_unlock(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    after_form(&format!("/admin/users/{id}"), st.services().user_unlock(&p, id, &ctx.audit()).await, "unlocked")
}

async fn user_reset(State(st): State<AppState>, Auth(p, ctx): Auth, Path(id): Path<i64>) -> Result<Response, ApiError> {
    match st.services().user_reset_password(&p, id, None, &ctx.audit()).await {
        Ok(pw) => {
            let msg = ctx.lang.t("msg.password_reset").to_string();
            render_user(&st, &p, &ctx, id, &FlashQuery::default(), Some((msg, pw))).await
        }
        Err(e) => after_form::<()>(&format!("/admin/users/{id}"), Err(e), ""),
    }
}

async fn token_create(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    f: RawForm,
) -> Result<Response, ApiError> {
    match st.services().token_create(&p, id, f.get("name"), &f.all("scopes"), None, &ctx.audit()).await {
        Ok(t) => {
            let msg = ctx.lang.t("msg.token_created").to_string();
            render_user(&st, &p, &ctx, id, &FlashQuery::default(), Some((msg, t.token))).await
        }
        Err(e) => after_form::<()>(&format!("/admin/users/{id}"), Err(e), ""),
    }
}

async fn token_revoke(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    f: RawForm,
) -> Result<Response, ApiError> {
    let back = f.int("user_id").map(|u| format!("/admin/users/{u}")).unwrap_or_else(|| "/admin/users".into());
    after_form(&back, st.services().token_revoke(&p, id, &ctx.audit()).await, "saved")
}

// ---- roles ---------------------------------------------------------------------------

pub struct RoleRow {
    id: i64,
    code: String,
    name: String,
    builtin: bool,
    count: usize,
}

#[derive(Template)]
#[template(path = "admin/roles.html")]
pub struct RolesPage {
    layout: Layout,
    roles: Vec<RoleRow>,
    can_write: bool,
}

async fn roles_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    p.require(perm::SECURITY_ROLE_READ)?;
    let lang = ctx.lang;
    let roles = st
        .services()
        .roles_list(&p)
        .await?
        .into_iter()
        .map(|r| RoleRow {
            id: r.id,
            name: pick(lang, &r.name, &r.name_en),
            code: r.code,
            builtin: r.builtin,
            count: r.permissions.len(),
        })
        .collect();
    let layout = Layout::new(&st, &p, &ctx, "role.title", &f).await;
    Ok(html(&RolesPage { layout, roles, can_write: p.has(perm::SECURITY_ROLE_WRITE) }))
}

pub struct PermCheck {
    code: &'static str,
    label: &'static str,
    held: bool,
}

#[derive(Template)]
#[template(path = "admin/role_edit.html")]
pub struct RoleEditPage {
    layout: Layout,
    id: i64,
    code: String,
    name: String,
    name_en: String,
    description: String,
    builtin: bool,
    perms: Vec<PermCheck>,
    can_write: bool,
}

async fn role_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    let r = st.services().role_get(&p, id).await?;
    let lang = ctx.lang;
    let perms = permissions::ALL
        .iter()
        .map(|d| PermCheck {
            code: d.code,
            label: if lang == Lang::En { d.en } else { d.zh },
            held: r.permissions.iter().any(|x| x == d.code),
        })
        .collect();
    let layout = Layout::new(&st, &p, &ctx, "role.title", &f).await;
    Ok(html(&RoleEditPage {
        layout,
        id,
        code: r.code,
        name: r.name,
        name_en: r.name_en,
        description: r.description,
        builtin: r.builtin,
        perms,
        can_write: p.has(perm::SECURITY_ROLE_WRITE),
    }))
}

fn role_input(f: &RawForm) -> RoleInput {
    RoleInput {
        code: f.get("code").to_string(),
        name: f.get("name").to_string(),
        name_en: f.get("name_en").to_string(),
        description: f.get("description").to_string(),
        permissions: f.all("permissions"),
    }
}

async fn role_create(State(st): State<AppState>, Auth(p, ctx): Auth, f: RawForm) -> Result<Response, ApiError> {
    match st.services().role_create(&p, &role_input(&f), &ctx.audit()).await {
        Ok(r) => after_form(&format!("/admin/roles/{}", r.id), Ok(()), "created"),
        Err(e) => after_form::<()>("/admin/roles", Err(e), ""),
    }
}

async fn role_update(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    f: RawForm,
) -> Result<Response, ApiError> {
    after_form(
        &format!("/admin/roles/{id}"),
        st.services().role_update(&p, id, &role_input(&f), &ctx.audit()).await,
        "saved",
    )
}

async fn role_delete(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    match st.services().role_delete(&p, id, &ctx.audit()).await {
        Ok(()) => after_form("/admin/roles", Ok(()), "deleted"),
        Err(e) => after_form::<()>(&format!("/admin/roles/{id}"), Err(e), ""),
    }
}

// ---- dictionaries --------------------------------------------------------------------

pub struct ItemRow {
    id: i64,
    code: String,
    label_zh: String,
    label_en: String,
    sort_order: i64,
    enabled: bool,
}

#[derive(Template)]
#[template(path = "admin/dicts.html")]
pub struct DictsPage {
    layout: Layout,
    types: Vec<(String, String)>,
    current: String,
    items: Vec<ItemRow>,
    can_write: bool,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct DictQuery {
    code: Option<String>,
}

async fn dicts_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(q): Query<DictQuery>,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    let lang = ctx.lang;
    let types: Vec<(String, String)> =
        st.services().dict_types(&p).await?.into_iter().map(|d| (d.code, pick(lang, &d.name, &d.name_en))).collect();
    let current = q
        .code
        .clone()
        .filter(|c| types.iter().any(|t| &t.0 == c))
        .or_else(|| types.first().map(|t| t.0.clone()))
        .unwrap_or_default();
    let items = if current.is_empty() {
        vec![]
    } else {
        st.services()
            .dict_items(&p, &current, true)
            .await?
            .into_iter()
            .map(|i| ItemRow {
                id: i.id,
                code: i.code,
                label_zh: i.label_zh,
                label_en: i.label_en,
                sort_order: i.sort_order,
                enabled: i.enabled,
            })
            .collect()
    };
    let layout = Layout::new(&st, &p, &ctx, "dict.title", &f).await;
    Ok(html(&DictsPage { layout, types, current, items, can_write: p.has(perm::ADMIN_DICT_WRITE) }))
}

fn item_input(f: &RawForm) -> DictItemInput {
    DictItemInput {
        code: f.get("code").to_string(),
        label_zh: f.get("label_zh").to_string(),
        label_en: f.get("label_en").to_string(),
        parent_code: None,
        sort_order: f.int("sort_order").unwrap_or(0),
        enabled: f.flag("enabled"),
    }
}

async fn dict_item_create(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(code): Path<String>,
    f: RawForm,
) -> Result<Response, ApiError> {
    let to = format!("/admin/dicts?code={}", urlencoding::encode(&code));
    after_form(&to, st.services().dict_item_create(&p, &code, &item_input(&f), &ctx.audit()).await, "created")
}

async fn dict_item_update(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path((code, id)): Path<(String, i64)>,
    f: RawForm,
) -> Result<Response, ApiError> {
    let to = format!("/admin/dicts?code={}", urlencoding::encode(&code));
    after_form(&to, st.services().dict_item_update(&p, &code, id, &item_input(&f), &ctx.audit()).await, "saved")
}

// ---- parameters ----------------------------------------------------------------------

pub struct ParamRow {
    key: String,
    description: String,
    value: String,
    updated: String,
    updated_by: String,
}

#[derive(Template)]
#[template(path = "admin/params.html")]
pub struct ParamsPage {
    layout: Layout,
    params: Vec<ParamRow>,
    can_write: bool,
}

async fn params_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(f): Query<FlashQuery>,
) -> Result<Response, ApiError> {
    let list = st.services().params_list(&p).await?;
    let layout = Layout::new(&st, &p, &ctx, "params.title", &f).await;
    let params = list
        .into_iter()
        .map(|x| ParamRow {
            description: pick(ctx.lang, &x.description_zh, &x.description_en),
            updated: layout.dt(&x.updated_at),
            key: x.key,
            value: x.value,
            updated_by: x.updated_by,
        })
        .collect();
    Ok(html(&ParamsPage { layout, params, can_write: p.has(perm::ADMIN_PARAM_WRITE) }))
}

async fn param_set(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(key): Path<String>,
    f: RawForm,
) -> Result<Response, ApiError> {
    after_form("/admin/params", st.services().param_set(&p, &key, f.get("value"), &ctx.audit()).await, "saved")
}

// ---- audit ---------------------------------------------------------------------------

pub struct AuditRow {
    seq: i64,
    time: String,
    event_type: String,
    username: String,
    ip: String,
    method: String,
    path: String,
    outcome: String,
    outcome_class: &'static str,
    status: i64,
    params: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
pub struct AuditPage {
    layout: Layout,
    entries: Vec<AuditRow>,
    types: Vec<String>,
    f_username: String,
    f_ip: String,
    f_type: String,
    f_from: String,
    f_to: String,
    next_url: String,
    export_url: String,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct AuditQuery {
    username: Option<String>,
    ip: Option<String>,
    event_type: Option<String>,
    from: Option<String>,
    to: Option<String>,
    before: Option<i64>,
}

/// Start of a local date (`2026-11-21`) as an instant.
fn local_day(s: &str, tz: &jiff::tz::TimeZone, plus_days: i64) -> Option<jiff::Timestamp> {
    let d: jiff::civil::Date = s.trim().parse().ok()?;
    let d = d.checked_add(jiff::Span::new().days(plus_days)).ok()?;
    d.to_zoned(tz.clone()).ok().map(|z| z.timestamp())
}

fn audit_filter(q: &AuditQuery, tz: &jiff::tz::TimeZone, limit: i64) -> AuditFilter {
    AuditFilter {
        username: q.username.clone().filter(|s| !s.is_empty()),
        ip: q.ip.clone().filter(|s| !s.is_empty()),
        event_type: q.event_type.clone().filter(|s| !s.is_empty()),
        from: q.from.as_deref().and_then(|s| local_day(s, tz, 0)),
        to: q.to.as_deref().and_then(|s| local_day(s, tz, 1)),
        before_seq: q.before,
        limit,
    }
}

/// The query string of the audit filters (without the page cursor).
fn audit_query_string(q: &AuditQuery) -> String {
    let e = |v: &Option<String>| urlencoding::encode(v.as_deref().unwrap_or("")).into_owned();
    format!(
        "username={}&ip={}&event_type={}&from={}&to={}",
        e(&q.username),
        e(&q.ip),
        e(&q.event_type),
        e(&q.from),
        e(&q.to)
    )
}

async fn audit_export(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let tz = st.services().tz.clone();
    let mut f = audit_filter(&q, &tz, 1000);
    let mut rows = Vec::new();
    loop {
        let page = st.services().audit_search(&p, &f).await?;
        let n = page.len();
        for e in page {
            f.before_seq = Some(e.seq);
            rows.push(vec![
                e.seq.to_string(),
                super::fmt_local(e.occurred_at, &tz),
                e.event_type,
                e.username,
                e.ip,
                e.method,
                e.path,
                e.outcome,
                e.status.to_string(),
                e.params,
                e.hash,
            ]);
        }
        if n < 1000 || rows.len() >= EXPORT_LIMIT {
            break;
        }
    }
    let l = ctx.lang;
    let header = [
        l.t("audit.seq"),
        l.t("audit.time"),
        l.t("audit.event_type"),
        l.t("audit.user"),
        l.t("audit.ip"),
        l.t("audit.method"),
        l.t("audit.path"),
        l.t("audit.outcome"),
        l.t("audit.status"),
        l.t("audit.params"),
        "hash",
    ];
    Ok(super::csv_response("audit-log.csv", &header, rows))
}

async fn audit_page(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let tz = st.services().tz.clone();
    let limit = 100;
    let f = audit_filter(&q, &tz, limit);
    let export_url = format!("/admin/audit/export.csv?{}", audit_query_string(&q));
    let list = st.services().audit_search(&p, &f).await?;
    let types = st.services().audit_event_types(&p).await?;
    let layout = Layout::new(&st, &p, &ctx, "audit.title", &FlashQuery::default()).await;
    let next_url = if list.len() as i64 == limit {
        format!("/admin/audit?{}&before={}", audit_query_string(&q), list.last().map(|e| e.seq).unwrap_or_default())
    } else {
        String::new()
    };
    let entries = list
        .into_iter()
        .map(|e| AuditRow {
            seq: e.seq,
            time: layout.dt(&e.occurred_at),
            outcome_class: match e.outcome.as_str() {
                "ok" => "ok",
                "denied" | "failed" | "locked" => "warn",
                _ => "",
            },
            event_type: e.event_type,
            username: e.username,
            ip: e.ip,
            method: e.method,
            path: e.path,
            outcome: e.outcome,
            status: e.status,
            params: e.params,
        })
        .collect();
    Ok(html(&AuditPage {
        layout,
        entries,
        types,
        f_username: q.username.unwrap_or_default(),
        f_ip: q.ip.unwrap_or_default(),
        f_type: q.event_type.unwrap_or_default(),
        f_from: q.from.unwrap_or_default(),
        export_url,
        f_to: q.to.unwrap_or_default(),
        next_url,
    }))
}

// ---- jobs ----------------------------------------------------------------------------

pub struct JobRowView {
    id: i64,
    kind: String,
    status: String,
    attempts: i64,
    max_attempts: i64,
    run_at: String,
    last_error: String,
}

#[derive(Template)]
#[template(path = "admin/jobs.html")]
pub struct JobsPage {
    layout: Layout,
    jobs: Vec<JobRowView>,
    counts: Vec<(String, i64)>,
}

async fn jobs_page(State(st): State<AppState>, Auth(p, ctx): Auth) -> Result<Response, ApiError> {
    let (jobs, counts) = st.services().jobs_list(&p, None, 100).await?;
    let layout = Layout::new(&st, &p, &ctx, "jobs.title", &FlashQuery::default()).await;
    let jobs = jobs
        .into_iter()
        .map(|j| JobRowView {
            id: j.id,
            run_at: layout.dt(&j.run_at),
            kind: j.kind,
            status: j.status,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            last_error: j.last_error.unwrap_or_default(),
        })
        .collect();
    Ok(html(&JobsPage { layout, jobs, counts }))
}
