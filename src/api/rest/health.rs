//! `/health`, `/health/live`, `/health/ready` (always public), `/health/detailed` and `/metrics`
//! (public unless `[orchestration.web] public_health_details` / `public_metrics` is false and auth
//! is on; then any valid API key opens them). An unhealthy answer (503) is a problem document
//! of type `urn:tasker:problem:unhealthy` whose detail names the failing checks.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;
use axum::Json;

use super::error::{ApiError, Problem};
use super::{api_route, ApiRoute, AppState};
use crate::model::{DetailedHealth, HealthReport};

pub(super) fn routes() -> Vec<ApiRoute> {
    vec![
        api_route::<__path_health, _, _>(health),
        api_route::<__path_live, _, _>(live),
        api_route::<__path_ready, _, _>(ready),
        api_route::<__path_detailed, _, _>(detailed),
        api_route::<__path_metrics, _, _>(metrics),
    ]
}

/// The report when healthy, else a 503 problem naming the failing checks.
fn answer(report: HealthReport) -> Result<Json<HealthReport>, ApiError> {
    if report.is_healthy() {
        Ok(Json(report))
    } else {
        Err(ApiError::unhealthy(report.checks))
    }
}

/// Summary: the readiness checks (200 when all pass, 503 otherwise).
#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    responses(
        (status = 200, description = "Every check passes", body = HealthReport),
        (status = 503, description = "A check fails: a problem naming it in `detail`, every check in `checks`",
            body = Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn health(State(state): State<AppState>) -> Result<Json<HealthReport>, ApiError> {
    answer(state.service.readiness().await)
}

/// Liveness: the process answers (no dependency is checked).
#[utoipa::path(
    get,
    path = "/health/live",
    tag = "health",
    responses((status = 200, description = "The process answers", body = HealthReport))
)]
pub(super) async fn live(State(state): State<AppState>) -> Json<HealthReport> {
    Json(state.service.liveness())
}

/// Readiness: database reachable, migrations current, actors running, circuit breakers closed.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "health",
    responses(
        (status = 200, description = "Ready", body = HealthReport),
        (status = 503, description = "Not ready: a problem naming the failing check", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub(super) async fn ready(state: State<AppState>) -> Result<Json<HealthReport>, ApiError> {
    // The summary at /health is the readiness report.
    health(state).await
}

/// Every component: checks, pool use, queue depths, actors (throughput, channel saturation),
/// circuit breakers. Needs any valid API key when auth is on and `public_health_details` is false.
#[utoipa::path(
    get,
    path = "/health/detailed",
    tag = "health",
    responses(
        (status = 200, description = "Healthy", body = DetailedHealth),
        (status = 401, description = "Private and no valid API key", body = Problem,
            content_type = "application/problem+json"),
        (status = 503, description = "A component is unhealthy: a problem naming the failing checks", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub(super) async fn detailed(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<DetailedHealth>, ApiError> {
    if !state.public_health_details {
        state.require_any_key(&headers)?;
    }
    let d = state.service.detailed_health().await?;
    if d.status == "healthy" {
        Ok(Json(d))
    } else {
        Err(ApiError::unhealthy(d.checks))
    }
}

/// Prometheus text format: actor throughput, latency and errors, channel and queue depths,
/// circuit states, tasks and steps by state (counted at most every 30 s), HTTP requests by route
/// and status. Needs any valid API key when auth is on and `public_metrics` is false.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    responses(
        (status = 200, description = "Prometheus text exposition", body = String,
            content_type = "text/plain; version=0.0.4"),
        (status = 401, description = "Private and no valid API key", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub(super) async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    if !state.public_metrics {
        state.require_any_key(&headers)?;
    }
    state.service.refresh_metrics(&state.metrics).await;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.encode()))
}
