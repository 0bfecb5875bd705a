//! Administration API: units, users, integration tokens, roles, dictionaries, parameters.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use waterdesk_services::admin::{
    CreatedToken, DictItemInput, NewUserInput, RoleInput, UnitInput, UserUpdate, UserView,
};
use waterdesk_store::dicts::{DictItem, DictType};
use waterdesk_store::params::Parameter;
use waterdesk_store::roles::Role;
use waterdesk_store::sessions::ApiToken;
use waterdesk_store::units::Unit;
use waterdesk_store::users::UserFilter;

use crate::auth::Auth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_units, create_unit))
        .routes(routes!(get_unit, update_unit, delete_unit))
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user))
        .routes(routes!(set_user_roles))
        .routes(routes!(unlock_user))
        .routes(routes!(reset_user_password))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(list_roles, create_role))
        .routes(routes!(get_role, update_role, delete_role))
        .routes(routes!(list_permissions))
        .routes(routes!(list_dicts))
        .routes(routes!(list_dict_items, create_dict_item))
        .routes(routes!(update_dict_item))
        .routes(routes!(list_params))
        .routes(routes!(set_param))
}

/// A list envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<i64>,
}

impl<T> Items<T> {
    pub fn all(items: Vec<T>) -> axum::Json<Self> {
        axum::Json(Items { items, next_after: None })
    }
}

// ---- units ---------------------------------------------------------------------------

/// All organisation units in tree order.
#[utoipa::path(get, path = "/units", tag = "admin", responses((status = 200, body = Items<Unit>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn list_units(State(st): State<AppState>, Auth(p, _): Auth) -> Result<axum::Json<Items<Unit>>, ApiError> {
    Ok(Items::all(st.services().units_list(&p).await?))
}

/// Create a unit.
#[utoipa::path(post, path = "/units", tag = "admin", request_body = UnitInput,
    responses((status = 201, body = Unit), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn create_unit(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Json(b): Json<UnitInput>,
) -> Result<(StatusCode, axum::Json<Unit>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(st.services().unit_create(&p, &b, &ctx.audit()).await?)))
}

#[utoipa::path(get, path = "/units/{id}", tag = "admin", params(("id" = i64, Path)), responses((status = 200, body = Unit), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_unit(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<Unit>, ApiError> {
    Ok(axum::Json(st.services().unit_get(&p, id).await?))
}

/// Update a unit (the code and parent stay).
#[utoipa::path(put, path = "/units/{id}", tag = "admin", params(("id" = i64, Path)), request_body = UnitInput,
    responses((status = 200, body = Unit), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn update_unit(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Json(b): Json<UnitInput>,
) -> Result<axum::Json<Unit>, ApiError> {
    Ok(axum::Json(st.services().unit_update(&p, id, &b, &ctx.audit()).await?))
}

/// Delete an empty unit (no sub-units, no users).
#[utoipa::path(delete, path = "/units/{id}", tag = "admin", params(("id" = i64, Path)),
    responses((status = 204), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn delete_unit(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    st.services().unit_delete(&p, id, &ctx.audit()).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- users ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    /// Substring of username or name.
    pub q: Option<String>,
    pub unit_id: Option<i64>,
    /// Role code.
    pub role: Option<String>,
    pub kind: Option<String>,
    /// Keyset cursor from `next_after`.
    pub after: Option<i64>,
    pub limit: Option<i64>,
}

/// Users visible in the caller's data scope, paged by id.
#[utoipa::path(get, path = "/users", tag = "admin", params(UserQuery), responses((status = 200, body = Items<UserView>)), security(("bearer" = [])))]
async fn list_users(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Query(q): Query<UserQuery>,
) -> Result<axum::Json<Items<UserView>>, ApiError> {
    let limit = super::limit_or_default(q.limit);
    let f = UserFilter { q: q.q, unit_id: q.unit_id, role_code: q.role, kind: q.kind, after_id: q.after, limit };
    let items = st.services().users_list(&p, &f).await?;
    let next_after = (items.len() as i64 == limit).then(|| items.last().map(|u| u.user.id)).flatten();
    Ok(axum::Json(Items { items, next_after }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedUser {
    pub user: UserView,
    /// The generated initial password, shown once (absent when one was given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_password: Option<String>,
}

/// Create a user. Roles need `security.user.grant`.
#[utoipa::path(post, path = "/users", tag = "admin", request_body = NewUserInput,
    responses((status = 201, body = CreatedUser), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn create_user(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Json(b): Json<NewUserInput>,
) -> Result<(StatusCode, axum::Json<CreatedUser>), ApiError> {
    let (user, initial_password) = st.services().user_create(&p, &b, &ctx.audit()).await?;
    Ok((StatusCode::CREATED, axum::Json(CreatedUser { user, initial_password })))
}

#[utoipa::path(get, path = "/users/{id}", tag = "admin", params(("id" = i64, Path)), responses((status = 200, body = UserView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_user(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<UserView>, ApiError> {
    Ok(axum::Json(st.services().user_get(&p, id).await?))
}

#[utoipa::path(put, path = "/users/{id}", tag = "admin", params(("id" = i64, Path)), request_body = UserUpdate,
    responses((status = 200, body = UserView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn update_user(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Json(b): Json<UserUpdate>,
) -> Result<axum::Json<UserView>, ApiError> {
    Ok(axum::Json(st.services().user_update(&p, id, &b, &ctx.audit()).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolesBody {
    pub roles: Vec<String>,
}

/// Replace a user's roles (security administrator).
#[utoipa::path(put, path = "/users/{id}/roles", tag = "admin", params(("id" = i64, Path)), request_body = RolesBody,
    responses((status = 200, body = UserView), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn set_user_roles(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Json(b): Json<RolesBody>,
) -> Result<axum::Json<UserView>, ApiError> {
    Ok(axum::Json(st.services().user_set_roles(&p, id, &b.roles, &ctx.audit()).await?))
}

/// Unlock a user locked by failed sign-ins.
#[utoipa::path(post, path = "/users/{id}/unlock", tag = "admin", params(("id" = i64, Path)), responses((status = 204)), security(("bearer" = [])))]
async fn unlock_user(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    st.services().user_unlock(&p, id, &ctx.audit()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    /// The new password; generated when absent.
    pub password: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResetResponse {
    /// The temporary password, shown once; the user must change it at sign-in.
    pub password: String,
}

/// Reset a user's password; their sessions end.
#[utoipa::path(post, path = "/users/{id}/reset-password", tag = "admin", params(("id" = i64, Path)), request_body = ResetBody,
    responses((status = 200, body = ResetResponse)), security(("bearer" = [])))]
async fn reset_user_password(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Json(b): Json<ResetBody>,
) -> Result<axum::Json<ResetResponse>, ApiError> {
    let password = st.services().user_reset_password(&p, id, b.password.as_deref(), &ctx.audit()).await?;
    Ok(axum::Json(ResetResponse { password }))
}

/// Integration tokens of a service account.
#[utoipa::path(get, path = "/users/{id}/tokens", tag = "admin", params(("id" = i64, Path)), responses((status = 200, body = Items<ApiToken>)), security(("bearer" = [])))]
async fn list_tokens(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<Items<ApiToken>>, ApiError> {
    Ok(Items::all(st.services().tokens_list(&p, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    pub name: String,
    /// Permissions the token may use (within the account's roles).
    pub scopes: Vec<String>,
    pub expires_at: Option<jiff::Timestamp>,
}

/// Issue an integration token (shown once) for a service account.
#[utoipa::path(post, path = "/users/{id}/tokens", tag = "admin", params(("id" = i64, Path)), request_body = TokenBody,
    responses((status = 201, body = CreatedToken), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn create_token(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Json(b): Json<TokenBody>,
) -> Result<(StatusCode, axum::Json<CreatedToken>), ApiError> {
    let t = st.services().token_create(&p, id, &b.name, &b.scopes, b.expires_at, &ctx.audit()).await?;
    Ok((StatusCode::CREATED, axum::Json(t)))
}

/// Revoke an integration token.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "admin", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn revoke_token(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    st.services().token_revoke(&p, id, &ctx.audit()).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- roles ---------------------------------------------------------------------------

#[utoipa::path(get, path = "/roles", tag = "admin", responses((status = 200, body = Items<Role>)), security(("bearer" = [])))]
async fn list_roles(State(st): State<AppState>, Auth(p, _): Auth) -> Result<axum::Json<Items<Role>>, ApiError> {
    Ok(Items::all(st.services().roles_list(&p).await?))
}

#[utoipa::path(post, path = "/roles", tag = "admin", request_body = RoleInput,
    responses((status = 201, body = Role), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn create_role(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Json(b): Json<RoleInput>,
) -> Result<(StatusCode, axum::Json<Role>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(st.services().role_create(&p, &b, &ctx.audit()).await?)))
}

#[utoipa::path(get, path = "/roles/{id}", tag = "admin", params(("id" = i64, Path)), responses((status = 200, body = Role), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_role(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<Role>, ApiError> {
    Ok(axum::Json(st.services().role_get(&p, id).await?))
}

#[utoipa::path(put, path = "/roles/{id}", tag = "admin", params(("id" = i64, Path)), request_body = RoleInput,
    responses((status = 200, body = Role), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn update_role(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Json(b): Json<RoleInput>,
) -> Result<axum::Json<Role>, ApiError> {
    Ok(axum::Json(st.services().role_update(&p, id, &b, &ctx.audit()).await?))
}

/// Delete a custom role that nobody holds.
#[utoipa::path(delete, path = "/roles/{id}", tag = "admin", params(("id" = i64, Path)), responses((status = 204), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn delete_role(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    st.services().role_delete(&p, id, &ctx.audit()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionView {
    pub code: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
}

/// The permission catalogue.
#[utoipa::path(get, path = "/permissions", tag = "admin", responses((status = 200, body = Items<PermissionView>)), security(("bearer" = [])))]
async fn list_permissions(Auth(p, _): Auth) -> Result<axum::Json<Items<PermissionView>>, ApiError> {
    p.require(waterdesk_domain::permissions::perm::SECURITY_ROLE_READ).map_err(ApiError::from)?;
    Ok(Items::all(
        waterdesk_domain::permissions::ALL
            .iter()
            .map(|d| PermissionView { code: d.code, zh: d.zh, en: d.en })
            .collect(),
    ))
}

// ---- dictionaries --------------------------------------------------------------------

#[utoipa::path(get, path = "/dicts", tag = "admin", responses((status = 200, body = Items<DictType>)), security(("bearer" = [])))]
async fn list_dicts(State(st): State<AppState>, Auth(p, _): Auth) -> Result<axum::Json<Items<DictType>>, ApiError> {
    Ok(Items::all(st.services().dict_types(&p).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ItemsQuery {
    #[serde(default)]
    pub include_disabled: bool,
}

#[utoipa::path(get, path = "/dicts/{code}/items", tag = "admin", params(("code" = String, Path), ItemsQuery),
    responses((status = 200, body = Items<DictItem>), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn list_dict_items(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(code): Path<String>,
    Query(q): Query<ItemsQuery>,
) -> Result<axum::Json<Items<DictItem>>, ApiError> {
    Ok(Items::all(st.services().dict_items(&p, &code, q.include_disabled).await?))
}

#[utoipa::path(post, path = "/dicts/{code}/items", tag = "admin", params(("code" = String, Path)), request_body = DictItemInput,
    responses((status = 201, body = DictItem), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn create_dict_item(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(code): Path<String>,
    Json(b): Json<DictItemInput>,
) -> Result<(StatusCode, axum::Json<DictItem>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(st.services().dict_item_create(&p, &code, &b, &ctx.audit()).await?)))
}

#[utoipa::path(put, path = "/dicts/{code}/items/{id}", tag = "admin", params(("code" = String, Path), ("id" = i64, Path)), request_body = DictItemInput,
    responses((status = 200, body = DictItem), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn update_dict_item(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path((code, id)): Path<(String, i64)>,
    Json(b): Json<DictItemInput>,
) -> Result<axum::Json<DictItem>, ApiError> {
    Ok(axum::Json(st.services().dict_item_update(&p, &code, id, &b, &ctx.audit()).await?))
}

// ---- parameters ----------------------------------------------------------------------

#[utoipa::path(get, path = "/params", tag = "admin", responses((status = 200, body = Items<Parameter>)), security(("bearer" = [])))]
async fn list_params(State(st): State<AppState>, Auth(p, _): Auth) -> Result<axum::Json<Items<Parameter>>, ApiError> {
    Ok(Items::all(st.services().params_list(&p).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParamBody {
    pub value: String,
}

#[utoipa::path(put, path = "/params/{key}", tag = "admin", params(("key" = String, Path)), request_body = ParamBody,
    responses((status = 200, body = Parameter), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn set_param(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(key): Path<String>,
    Json(b): Json<ParamBody>,
) -> Result<axum::Json<Parameter>, ApiError> {
    Ok(axum::Json(st.services().param_set(&p, &key, &b.value, &ctx.audit()).await?))
}
