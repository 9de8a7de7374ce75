//! `/health`, `/health/live`, `/health/ready`, `/health/detailed`, `/metrics` (public).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use super::error::ApiError;
use super::AppState;
use crate::service::{DetailedHealth, HealthReport};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/health/detailed", get(detailed))
        .route("/metrics", get(metrics))
}

fn status_of(report: &HealthReport) -> StatusCode {
    if report.is_healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

/// Summary: the readiness checks (200 when all pass, 503 otherwise).
async fn health(State(state): State<AppState>) -> (StatusCode, Json<HealthReport>) {
    let r = state.service.readiness().await;
    (status_of(&r), Json(r))
}

/// Liveness: the process answers.
async fn live(State(state): State<AppState>) -> Json<HealthReport> {
    Json(state.service.liveness())
}

/// Readiness: database, migrations, actors, circuit breakers.
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<HealthReport>) {
    let r = state.service.readiness().await;
    (status_of(&r), Json(r))
}

/// Every component: pool, queues, actors, breakers.
async fn detailed(State(state): State<AppState>) -> Result<(StatusCode, Json<DetailedHealth>), ApiError> {
    let d = state.service.detailed_health().await?;
    let code = if d.status == "healthy" { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    Ok((code, Json(d)))
}

/// Prometheus text format.
pub(super) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    state.service.refresh_metrics(&state.metrics).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.encode())
}
