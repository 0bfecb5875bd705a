//! The JSON API under `/api/v1` (R-INT-01): one `router()` per resource, documented with
//! utoipa so that `/api/openapi.json` is generated from the code.

pub mod admin;
pub mod attachments;
pub mod audit;
pub mod auth;
pub mod campaigns;
pub mod contacts;
pub mod customers;
pub mod dispatch;
pub mod events;
pub mod exports;
pub mod imports;
pub mod orders;
pub mod plans;
pub mod public;
pub mod queries;
pub mod reports;
pub mod stats;

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "waterdesk API",
        description = "Customer service information system for water supply and drainage utilities (DB33/T 2050-2017). \
Errors are `{\"error\": {\"code\", \"message\", \"field\", \"detail\"}}` with stable codes; messages are Chinese by default, \
English with `Accept-Language: en`. Authenticate with `Authorization: Bearer <token>` (from `POST /api/v1/auth/login`, or an \
integration token `wdt_…`).",
        license(name = "Apache-2.0")
    ),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Sign-in, sessions, own account"),
        (name = "admin", description = "Units, users, roles, dictionaries, parameters"),
        (name = "customers", description = "Customers, accounts, meters, readings, bills, payments"),
        (name = "contacts", description = "Contacts (来电/来件), CTI events and screen pop, agent extensions, daily interface"),
        (name = "campaigns", description = "Outbound campaigns and call lists, SMS outbox, QA scoring, evaluations"),
        (name = "orders", description = "Work orders: types and workflows, registration, transitions, history"),
        (name = "stats", description = "Service indicators, quick counts, the supervisor dashboard, custom reports (saved, shared, scheduled, Excel)"),
        (name = "public", description = "Public operations without sign-in (the customer's progress look-up), rate-limited"),
        (name = "audit", description = "Audit log (read-only)"),
        (name = "system", description = "Jobs, events, announcements"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        c.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(crate::auth::SESSION_COOKIE))),
        );
    }
}

/// The API routes with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).nest(
        "/api/v1",
        auth::router()
            .merge(admin::router())
            .merge(audit::router())
            .merge(events::router())
            .merge(customers::router())
            .merge(imports::router())
            .merge(exports::router())
            .merge(contacts::router())
            .merge(campaigns::router())
            .merge(orders::router())
            .merge(attachments::router())
            .merge(dispatch::router())
            .merge(plans::router())
            .merge(reports::router())
            .merge(queries::router())
            .merge(stats::router())
            .merge(public::router()),
    )
}

/// Query parameters for keyset-paged lists.
pub fn limit_or_default(limit: Option<i64>) -> i64 {
    limit.unwrap_or(50).clamp(1, 500)
}
