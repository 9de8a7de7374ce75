//! `/v1/analytics`: performance and bottlenecks, computed by SQL functions.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{ApiError, Problem};
use super::extract::ApiQuery;
use super::{api_route, ApiRoute, AppState};
use crate::model::{Bottlenecks, PerformanceMetrics};
use crate::service::{DEFAULT_BOTTLENECK_LIMIT, DEFAULT_HOURS};

pub(super) fn routes() -> Vec<ApiRoute> {
    vec![api_route::<__path_performance, _, _>(performance), api_route::<__path_bottlenecks, _, _>(bottlenecks)]
}

/// Query of `GET /v1/analytics/performance`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct PerformanceParams {
    /// Window in hours (1-2160, default 24).
    #[param(minimum = 1, maximum = 2160)]
    hours: Option<u32>,
}

/// Query of `GET /v1/analytics/bottlenecks`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct BottleneckParams {
    /// How many slowest steps and templates (1-100, default 10).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// Window in hours (1-2160, default 24).
    #[param(minimum = 1, maximum = 2160)]
    hours: Option<u32>,
}

/// Throughput, completion and error rates, mean durations over the last `hours` hours.
#[utoipa::path(
    get,
    path = "/v1/analytics/performance",
    tag = "analytics",
    params(PerformanceParams),
    responses(
        (status = 200, description = "The metrics", body = PerformanceMetrics),
        (status = 400, description = "Unknown or malformed query parameter", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "hours out of range", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["analytics:read"]), ("bearer" = ["analytics:read"]))
)]
pub(super) async fn performance(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<ApiQuery<PerformanceParams>, ApiError>,
) -> Result<Json<PerformanceMetrics>, ApiError> {
    state.require(&headers, "analytics:read")?;
    let ApiQuery(q) = query?;
    Ok(Json(state.service.performance_metrics(q.hours.unwrap_or(DEFAULT_HOURS)).await?))
}

/// The slowest steps and templates over the last `hours` hours.
#[utoipa::path(
    get,
    path = "/v1/analytics/bottlenecks",
    tag = "analytics",
    params(BottleneckParams),
    responses(
        (status = 200, description = "The slowest steps and templates", body = Bottlenecks),
        (status = 400, description = "Unknown or malformed query parameter", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "limit or hours out of range", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("api_key" = ["analytics:read"]), ("bearer" = ["analytics:read"]))
)]
pub(super) async fn bottlenecks(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<ApiQuery<BottleneckParams>, ApiError>,
) -> Result<Json<Bottlenecks>, ApiError> {
    state.require(&headers, "analytics:read")?;
    let ApiQuery(q) = query?;
    let limit = q.limit.unwrap_or(DEFAULT_BOTTLENECK_LIMIT);
    Ok(Json(state.service.bottlenecks(limit, q.hours.unwrap_or(DEFAULT_HOURS)).await?))
}
