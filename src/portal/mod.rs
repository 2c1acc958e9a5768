//! The HTTP face of Switchboard (SPEC §6, §8): the browser portal, the JSON API under
//! `/api/v1` with its OpenAPI document, `/healthz` and Prometheus `/metrics`, behind the
//! cross-site refusal. Handlers only authenticate and call [`crate::service`]; they hold no
//! business rules and no SQL.
//!
//! `router(state)` builds the whole application, so tests can serve it on `127.0.0.1:0`.

mod account_pages;
pub mod api;
mod api_page;
pub mod auth;
mod channel_pages;
pub mod error;
mod inbox_pages;
mod invitation_pages;
pub mod metrics;
mod operator_pages;
pub mod origin;
pub mod page;
pub mod pages;
mod param;
mod people_pages;
mod shape;
pub mod svg;
pub mod words;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::service::Service;

use self::auth::RateLimiter;
use self::error::AppError;
use self::metrics::Metrics;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub svc: Service,
    pub metrics: Arc<Metrics>,
    /// Logins per client address.
    pub login_limit: Arc<RateLimiter>,
    /// Invitation-token requests per client address.
    pub token_limit: Arc<RateLimiter>,
    /// Mark cookies `Secure` (when served over TLS).
    pub secure_cookies: bool,
    /// How long a session lasts.
    pub session_ttl: Duration,
    /// This server's origin as people reach it (from `--base-url`): browsers' writes must
    /// come from it or from the host they were sent to.
    pub origin: String,
}

impl AppState {
    pub fn new(svc: Service) -> AppState {
        AppState {
            origin: origin::origin_of(&svc.config.base_url),
            svc,
            metrics: Metrics::new(),
            // 10 logins at once, then one every 6 s (10 a minute) per address.
            login_limit: Arc::new(RateLimiter::new(10, Duration::from_secs(6))),
            // 60 token requests at once, then 2 a second per address.
            token_limit: Arc::new(RateLimiter::new(60, Duration::from_millis(500))),
            secure_cookies: false,
            session_ttl: Duration::from_secs(12 * 3600),
        }
    }

    pub fn session_ttl_ms(&self) -> i64 {
        i64::try_from(self.session_ttl.as_millis()).unwrap_or(i64::MAX)
    }
}

/// The application: API, OpenAPI document, health and metrics.
pub fn router(state: AppState) -> Router {
    let (api, openapi) = api::router().split_for_parts();
    let openapi_json = Arc::new(api::document_json(&openapi));
    let openapi_value: Arc<serde_json::Value> = Arc::new(serde_json::from_str(&openapi_json).unwrap_or_default());
    Router::new()
        .merge(api)
        .merge(pages::router())
        .merge(operator_pages::router())
        .merge(account_pages::router())
        .merge(people_pages::router())
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let body = openapi_json.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], body.as_str().to_string()) }
            }),
        )
        .route(
            "/api",
            get(move |user: Option<auth::Authed>| {
                let doc = openapi_value.clone();
                async move { api_page::page(&doc, user.as_ref().map(page::HeaderUser::of)) }
            }),
        )
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::scrape))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), origin::gate))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let route = request
                .extensions()
                .get::<axum::extract::MatchedPath>()
                .map_or_else(|| request.uri().path().to_string(), |p| p.as_str().to_string());
            tracing::info_span!("request", method = %request.method(), route)
        }))
        .layer(RequestBodyLimitLayer::new(error::BODY_LIMIT))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        // Pages and answers about an organization are not kept by browsers or proxies (a
        // shared computer's back button shows nothing after logout); the static files say
        // their own.
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .layer(axum::middleware::from_fn(shape::shape_errors))
        .with_state(state)
}

/// `GET /healthz`: 200 when the database answers, 503 otherwise.
async fn healthz(State(state): State<AppState>) -> Response {
    match state.svc.health().await {
        Ok(_) => (StatusCode::OK, axum::Json(serde_json::json!({"status": "ok"}))).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({"status": "database unreachable"})))
                .into_response()
        }
    }
}

/// No page or API operation at this path: said with the path (cut at 200 characters).
async fn not_found(uri: axum::http::Uri) -> AppError {
    let path: String = uri.path().chars().take(200).collect();
    AppError::Service(crate::service::ServiceError::NotFound(format!("page or API path `{path}`")))
}
