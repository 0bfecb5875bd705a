//! `/api/v1/auth/*` and `/api/v1/me*`: sign-in for API clients and the caller's own account.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use waterdesk_services::auth::{LoginRequest, SessionKind};

use crate::auth::{AuthAny, Ctx};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(get_me))
        .routes(routes!(change_password))
        .routes(routes!(begin_totp))
        .routes(routes!(confirm_totp))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub username: String,
    pub password: String,
    /// Six-digit code, required when the account has TOTP enabled.
    pub totp: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Use as `Authorization: Bearer <token>`.
    pub token: String,
    pub token_type: &'static str,
    pub expires_at: jiff::Timestamp,
}

/// Sign in; returns a bearer token for the whole API.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginBody,
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorBody), (status = 423, description = "account locked", body = ErrorBody)))]
async fn login(
    State(st): State<AppState>,
    ctx: Ctx,
    Json(b): Json<LoginBody>,
) -> Result<axum::Json<LoginResponse>, ApiError> {
    let req = LoginRequest {
        username: &b.username,
        password: &b.password,
        totp: b.totp.as_deref(),
        kind: SessionKind::Api,
        user_agent: "",
    };
    let s = st.services().login(&req, &ctx.0.audit()).await?;
    Ok(axum::Json(LoginResponse { token: s.token, token_type: "Bearer", expires_at: s.expires_at }))
}

/// End the current session.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", responses((status = 204), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
async fn logout(State(st): State<AppState>, AuthAny(p, ctx): AuthAny) -> Result<StatusCode, ApiError> {
    st.services().logout(&p, &ctx.audit()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub unit_id: i64,
    pub data_scope: String,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub must_change_password: bool,
    pub must_enrol_totp: bool,
    pub totp_enabled: bool,
}

/// The signed-in principal, its roles and permissions.
#[utoipa::path(get, path = "/me", tag = "auth", responses((status = 200, body = Me), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
async fn get_me(AuthAny(p, _): AuthAny) -> axum::Json<Me> {
    axum::Json(Me {
        id: p.user_id,
        username: p.username,
        display_name: p.display_name,
        unit_id: p.unit_id,
        data_scope: p.data_scope.code().to_string(),
        roles: p.roles,
        permissions: p.permissions.into_iter().collect(),
        must_change_password: p.must_change_password,
        must_enrol_totp: p.must_enrol_totp,
        totp_enabled: p.totp_enabled,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    pub old_password: String,
    pub new_password: String,
}

/// Change your own password (other sessions end).
#[utoipa::path(post, path = "/me/password", tag = "auth", request_body = PasswordBody,
    responses((status = 204), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
async fn change_password(
    State(st): State<AppState>,
    AuthAny(p, ctx): AuthAny,
    Json(b): Json<PasswordBody>,
) -> Result<StatusCode, ApiError> {
    st.services().change_password(&p, &b.old_password, &b.new_password, &ctx.audit()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TotpBegin {
    /// `otpauth://` URI for an authenticator app (contains the secret).
    pub otpauth_uri: String,
}

/// Start TOTP enrolment.
#[utoipa::path(post, path = "/me/totp", tag = "auth", responses((status = 200, body = TotpBegin)), security(("bearer" = [])))]
async fn begin_totp(State(st): State<AppState>, AuthAny(p, _): AuthAny) -> Result<axum::Json<TotpBegin>, ApiError> {
    let uri = st.services().totp_begin(&p).await?;
    Ok(axum::Json(TotpBegin { otpauth_uri: uri }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpConfirm {
    /// The six-digit code shown by the authenticator app.
    pub totp: String,
}

/// Confirm TOTP enrolment with a current code.
#[utoipa::path(post, path = "/me/totp/confirm", tag = "auth", request_body = TotpConfirm,
    responses((status = 204), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
async fn confirm_totp(
    State(st): State<AppState>,
    AuthAny(p, ctx): AuthAny,
    Json(b): Json<TotpConfirm>,
) -> Result<impl IntoResponse, ApiError> {
    st.services().totp_confirm(&p, &b.totp, &ctx.audit()).await?;
    Ok(StatusCode::NO_CONTENT)
}
