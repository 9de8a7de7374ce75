//! The REST API (axum): routes -> service layer. No business logic here.
//!
//! Every route is declared once, by the `#[utoipa::path]` annotation on its handler: the router
//! reads the method and path from it ([`api_route`]), and [`openapi::ApiDoc`] lists the same
//! handlers, so the OpenAPI document and the router cannot drift (a test compares [`routes`]
//! with the served document).

mod analytics;
mod dlq;
mod docs;
pub mod error;
pub mod extract;
mod health;
pub mod openapi;
mod steps;
mod tasks;
mod templates;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::handler::Handler;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use axum::Router;
use utoipa::openapi::path::HttpMethod;

use super::auth::{key_from_headers, Auth, AuthError, Principal};
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
    /// Serve `/metrics` without a key.
    pub public_metrics: bool,
    /// Serve `/health/detailed` without a key.
    pub public_health_details: bool,
}

/// The permission name used to check "any valid key" (docs when they are not public). No route
/// requires it as such: a key lacking it is still accepted there.
const ANY_KEY: &str = "docs:read";

impl AppState {
    /// Authorizes the request's key for `permission`.
    pub fn require(&self, headers: &HeaderMap, permission: &'static str) -> Result<Principal, ApiError> {
        Ok(self.auth.authorize(presented_key(headers), permission)?)
    }

    /// Accepts any valid key (or any request when auth is off): 401 otherwise.
    pub fn require_any_key(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        match self.auth.authorize(presented_key(headers), ANY_KEY) {
            Ok(_) | Err(AuthError::Forbidden(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    let bearer = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    key_from_headers(api_key, bearer)
}

/// Limits applied to every request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest body.
    pub max_body_bytes: usize,
    /// Longest request.
    pub request_timeout: Duration,
}

/// A route the router serves: method and path (axum and OpenAPI syntax agree: `{name}`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RouteInfo {
    /// HTTP method.
    pub method: Method,
    /// Path template.
    pub path: String,
}

/// One routed handler, with the method(s) and path of its `#[utoipa::path]` annotation.
pub(crate) struct ApiRoute {
    methods: Vec<Method>,
    path: String,
    handler: MethodRouter<AppState>,
}

/// Routes `handler` at the method(s) and path its `#[utoipa::path]` annotation (`P`) declares.
pub(crate) fn api_route<P, H, T>(handler: H) -> ApiRoute
where
    P: utoipa::Path,
    H: Handler<T, AppState>,
    T: 'static,
{
    let mut methods = Vec::new();
    let mut filter: Option<MethodFilter> = None;
    for m in P::methods() {
        let (method, f) = match m {
            HttpMethod::Get => (Method::GET, MethodFilter::GET),
            HttpMethod::Post => (Method::POST, MethodFilter::POST),
            HttpMethod::Put => (Method::PUT, MethodFilter::PUT),
            HttpMethod::Delete => (Method::DELETE, MethodFilter::DELETE),
            HttpMethod::Options => (Method::OPTIONS, MethodFilter::OPTIONS),
            HttpMethod::Head => (Method::HEAD, MethodFilter::HEAD),
            HttpMethod::Patch => (Method::PATCH, MethodFilter::PATCH),
            HttpMethod::Trace => (Method::TRACE, MethodFilter::TRACE),
        };
        methods.push(method);
        filter = Some(filter.map_or(f, |g| g.or(f)));
    }
    // An annotation always names a method; GET is only a fallback for the type checker.
    let handler = axum::routing::on(filter.unwrap_or(MethodFilter::GET), handler);
    ApiRoute { methods, path: P::path(), handler }
}

/// Every routed handler, by area.
fn route_table() -> Vec<ApiRoute> {
    let mut all = Vec::new();
    all.extend(tasks::routes());
    all.extend(steps::routes());
    all.extend(templates::routes());
    all.extend(analytics::routes());
    all.extend(dlq::routes());
    all.extend(health::routes());
    all.extend(docs::routes());
    all
}

/// Every (method, path) the router serves, sorted: the list the OpenAPI document must match.
pub fn routes() -> Vec<RouteInfo> {
    let mut out: Vec<RouteInfo> = route_table()
        .into_iter()
        .flat_map(|r| r.methods.into_iter().map(move |method| RouteInfo { method, path: r.path.clone() }))
        .collect();
    out.sort();
    out
}

/// The whole REST router: a pure constructor.
pub fn router(state: AppState, limits: Limits) -> Router {
    let mut by_path: BTreeMap<String, MethodRouter<AppState>> = BTreeMap::new();
    for r in route_table() {
        let merged = match by_path.remove(&r.path) {
            Some(existing) => existing.merge(r.handler),
            None => r.handler,
        };
        by_path.insert(r.path, merged);
    }
    let mut app = Router::new();
    for (path, handler) in by_path {
        app = app.route(&path, handler);
    }
    app.fallback(not_found)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn(problem_guard))
        .layer(middleware::from_fn_with_state((state.clone(), limits.request_timeout), observe))
        .with_state(state)
}

async fn not_found(req: Request) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no-route", format!("no route for {} {}", req.method(), req.uri().path()))
        .at(req.uri().path())
}

/// Longest plain-text error body kept as a problem's detail.
const MAX_DETAIL_BYTES: usize = 4096;
/// Largest problem document re-read to fill in its `instance`.
const MAX_PROBLEM_BYTES: usize = 64 * 1024;

/// Turns every 4xx/5xx answer that is not yet a JSON problem (axum's own 405, rejections of
/// extractors outside [`extract`]) into one, keeping headers such as `Allow`.
async fn problem_guard(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    if is_problem(resp.headers()) {
        return with_instance(resp, &path).await;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, MAX_DETAIL_BYTES)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let allow = parts.headers.get(header::ALLOW).cloned();
    let err = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = allow.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("");
            ApiError::new(
                status,
                "method-not-allowed",
                format!("method {method} is not allowed on {path}; allowed: {allowed}"),
            )
        }
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(status, "payload-too-large", "request body too large"),
        StatusCode::NOT_FOUND => ApiError::new(status, "no-route", format!("no route for {method} {path}")),
        _ if status.is_client_error() => ApiError::new(
            status,
            "bad-request",
            if text.is_empty() { status.canonical_reason().unwrap_or("bad request").to_string() } else { text },
        ),
        // A server error's body may hold internals: never pass it on.
        _ => ApiError::new(status, "server-error", status.canonical_reason().unwrap_or("server error")),
    };
    let mut out = err.at(path).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}

/// Sets a problem's `instance` to the request path when the handler left it out.
async fn with_instance(resp: Response, path: &str) -> Response {
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_PROBLEM_BYTES).await else {
        return ApiError::new(parts.status, "server-error", "unreadable error answer").at(path).into_response();
    };
    let bytes = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(mut doc)) if !doc.contains_key("instance") => {
            doc.insert("instance".into(), serde_json::Value::String(path.to_string()));
            serde_json::to_vec(&doc).map(axum::body::Bytes::from).unwrap_or(bytes)
        }
        _ => bytes,
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

fn is_problem(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/problem+json"))
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
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!("the request took longer than {} ms", timeout.as_millis()),
        )
        .at(path)
        .into_response(),
    };
    state.metrics.observe_request("rest", &route, resp.status().as_str(), started.elapsed().as_secs_f64());
    resp
}
