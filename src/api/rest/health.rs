//! `/health`, `/health/live`, `/health/ready`, `/health/detailed`, `/metrics` (public).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;

use super::error::ApiError;
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

fn status_of(report: &HealthReport) -> StatusCode {
    if report.is_healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

/// Summary: the readiness checks (200 when all pass, 503 otherwise).
#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    responses(
        (status = 200, description = "Every check passes", body = HealthReport),
        (status = 503, description = "A check fails (named in `checks`)", body = HealthReport),
    )
)]
pub(super) async fn health(State(state): State<AppState>) -> (StatusCode, Json<HealthReport>) {
    let r = state.service.readiness().await;
    (status_of(&r), Json(r))
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
        (status = 503, description = "Not ready (the failing check is named)", body = HealthReport),
    )
)]
pub(super) async fn ready(state: State<AppState>) -> (StatusCode, Json<HealthReport>) {
    // The summary at /health is the readiness report.
    health(state).await
}

/// Every component: checks, pool use, queue depths, actors (throughput, channel saturation),
/// circuit breakers.
#[utoipa::path(
    get,
    path = "/health/detailed",
    tag = "health",
    responses(
        (status = 200, description = "Healthy", body = DetailedHealth),
        (status = 503, description = "A component is unhealthy", body = DetailedHealth),
    )
)]
pub(super) async fn detailed(State(state): State<AppState>) -> Result<(StatusCode, Json<DetailedHealth>), ApiError> {
    let d = state.service.detailed_health().await?;
    let code = if d.status == "healthy" { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    Ok((code, Json(d)))
}

/// Prometheus text format: actor throughput, latency and errors, channel and queue depths,
/// circuit states, tasks and steps by state, HTTP requests by route and status.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    responses((status = 200, description = "Prometheus text exposition", body = String,
        content_type = "text/plain; version=0.0.4"))
)]
pub(super) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    state.service.refresh_metrics(&state.metrics).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.encode())
}
