//! The REST API (axum): routes -> service layer. No business logic here.

pub mod error;
pub mod extract;
mod health;
mod tasks;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::HeaderMap;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;

use super::auth::{key_from_headers, Auth, Principal};
use crate::metrics::Metrics;
use crate::service::Service;
use error::ApiError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The service layer.
    pub service: Service,
    /// API keys.
    pub auth: Arc<Auth>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Serve docs without a key.
    pub public_docs: bool,
}

impl AppState {
    /// Authorizes the request's key for `permission`.
    pub fn require(&self, headers: &HeaderMap, permission: &'static str) -> Result<Principal, ApiError> {
        let api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
        let bearer = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        Ok(self.auth.authorize(key_from_headers(api_key, bearer), permission)?)
    }
}

/// Limits applied to every request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest body.
    pub max_body_bytes: usize,
    /// Longest request.
    pub request_timeout: Duration,
}

/// The whole REST router: a pure constructor.
pub fn router(state: AppState, limits: Limits) -> Router {
    Router::new()
        .merge(tasks::routes())
        .merge(health::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn_with_state((state.clone(), limits.request_timeout), observe))
        .with_state(state)
}

async fn not_found(req: Request) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "no-route",
        format!("no route for {} {}", req.method(), req.uri().path()),
    )
    .at(req.uri().path())
}

/// Times every request, applies the request timeout, counts it by route and status.
async fn observe(State((state, timeout)): State<(AppState, Duration)>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let path = req.uri().path().to_string();
    let resp = match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!("the request took longer than {} ms", timeout.as_millis()),
        )
        .at(path)
        .into_response(),
    };
    state.metrics.observe_request("rest", &route, resp.status().as_str(), started.elapsed().as_secs_f64());
    resp
}
