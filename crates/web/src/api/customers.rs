//! Customers, accounts (户号), meters, readings and payments (R-CUS-01/02).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use waterdesk_services::customers::{
    Account360, AccountInput, CustomerInput, CustomerView, MeterInput, PaymentInput, PaymentResult, ReadingInput,
    ReadingResult, SearchHit,
};
use waterdesk_store::billing::TariffRow;
use waterdesk_store::customers::{Account, Meter};

use super::admin::Items;
use crate::auth::Auth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_customers, create_customer))
        .routes(routes!(get_customer, update_customer))
        .routes(routes!(create_account))
        .routes(routes!(get_account, update_account))
        .routes(routes!(add_meter))
        .routes(routes!(record_reading))
        .routes(routes!(record_payment))
        .routes(routes!(list_tariffs))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Account number, phone (whole or last 4 digits), name or address fragment.
    #[serde(default)]
    pub q: String,
    pub limit: Option<i64>,
}

/// Search customers as agents do; phones and ID numbers are masked without `customer.pii.read`.
#[utoipa::path(get, path = "/customers", tag = "customers", params(SearchQuery),
    responses((status = 200, body = Items<SearchHit>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn search_customers(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Query(q): Query<SearchQuery>,
) -> Result<axum::Json<Items<SearchHit>>, ApiError> {
    Ok(Items::all(st.services().customer_search(&p, &q.q, q.limit.unwrap_or(20)).await?))
}

#[utoipa::path(post, path = "/customers", tag = "customers", request_body = CustomerInput,
    responses((status = 201, body = CustomerView), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn create_customer(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Json(b): Json<CustomerInput>,
) -> Result<(StatusCode, axum::Json<CustomerView>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(st.services().customer_create(&p, &b, &ctx.audit()).await?)))
}

#[utoipa::path(get, path = "/customers/{id}", tag = "customers", params(("id" = i64, Path)),
    responses((status = 200, body = CustomerView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_customer(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<CustomerView>, ApiError> {
    Ok(axum::Json(st.services().customer_get(&p, id).await?))
}

#[utoipa::path(put, path = "/customers/{id}", tag = "customers", params(("id" = i64, Path)), request_body = CustomerInput,
    responses((status = 200, body = CustomerView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn update_customer(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Json(b): Json<CustomerInput>,
) -> Result<axum::Json<CustomerView>, ApiError> {
    Ok(axum::Json(st.services().customer_update(&p, id, &b, &ctx.audit()).await?))
}

/// Open an account (户号) for a customer.
#[utoipa::path(post, path = "/accounts", tag = "customers", request_body = AccountInput,
    responses((status = 201, body = Account), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn create_account(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Json(b): Json<AccountInput>,
) -> Result<(StatusCode, axum::Json<Account>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(st.services().account_create(&p, &b, &ctx.audit()).await?)))
}

/// The account 360 view: holder, holders' history, meters, readings, bills, payments, balance, tier position.
#[utoipa::path(get, path = "/accounts/{id}", tag = "customers", params(("id" = i64, Path)),
    responses((status = 200, body = Account360), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_account(
    State(st): State<AppState>,
    Auth(p, _): Auth,
    Path(id): Path<i64>,
) -> Result<axum::Json<Account360>, ApiError> {
    Ok(axum::Json(st.services().account_360(&p, id).await?))
}

/// Update an account; a new `holder_id` is an ownership transfer (过户) kept in the history.
#[utoipa::path(put, path = "/accounts/{id}", tag = "customers", params(("id" = i64, Path)), request_body = AccountInput,
    responses((status = 200, body = Account), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn update_account(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Json(b): Json<AccountInput>,
) -> Result<axum::Json<Account>, ApiError> {
    Ok(axum::Json(st.services().account_update(&p, id, &b, &ctx.audit()).await?))
}

/// Install a meter (or replace one: `replaces_meter_id`).
#[utoipa::path(post, path = "/accounts/{id}/meters", tag = "customers", params(("id" = i64, Path)), request_body = MeterInput,
    responses((status = 201, body = Meter), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn add_meter(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Json(b): Json<MeterInput>,
) -> Result<(StatusCode, axum::Json<Meter>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(st.services().meter_add(&p, id, &b, &ctx.audit()).await?)))
}

/// Record a meter reading; the month's bill is computed with the account's tariff.
#[utoipa::path(post, path = "/accounts/{id}/readings", tag = "customers", params(("id" = i64, Path)), request_body = ReadingInput,
    responses((status = 201, body = ReadingResult), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn record_reading(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Json(b): Json<ReadingInput>,
) -> Result<(StatusCode, axum::Json<ReadingResult>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(st.services().reading_record(&p, id, &b, &ctx.audit()).await?)))
}

/// Record a payment, idempotent by `external_txn_id` (200 with `created: false` on a replay).
#[utoipa::path(post, path = "/accounts/{id}/payments", tag = "customers", params(("id" = i64, Path)), request_body = PaymentInput,
    responses((status = 201, body = PaymentResult), (status = 200, body = PaymentResult), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn record_payment(
    State(st): State<AppState>,
    Auth(p, ctx): Auth,
    Path(id): Path<i64>,
    Json(b): Json<PaymentInput>,
) -> Result<(StatusCode, axum::Json<PaymentResult>), ApiError> {
    let r = st.services().payment_record(&p, id, &b, &ctx.audit()).await?;
    let status = if r.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, axum::Json(r)))
}

/// Tariffs (阶梯水价) with their definitions.
#[utoipa::path(get, path = "/tariffs", tag = "customers", responses((status = 200, body = Items<TariffRow>)), security(("bearer" = [])))]
async fn list_tariffs(State(st): State<AppState>, Auth(p, _): Auth) -> Result<axum::Json<Items<TariffRow>>, ApiError> {
    Ok(Items::all(st.services().tariffs_list(&p).await?))
}
