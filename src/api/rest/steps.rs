//! `/v1/tasks/{task_uuid}/workflow_steps…` and `/v1/retries`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;

use super::error::{ApiError, Problem};
use super::extract::{parse_uuid, ApiJson};
use super::{api_route, ApiRoute, AppState};
use crate::model::{RetryFilter, RetryOutcome, Step, StepActionRequest, StepTransition};

pub(super) fn routes() -> Vec<ApiRoute> {
    vec![
        api_route::<__path_list_steps, _, _>(list_steps),
        api_route::<__path_get_step, _, _>(get_step),
        api_route::<__path_act_on_step, _, _>(act_on_step),
        api_route::<__path_step_transitions, _, _>(step_transitions),
        api_route::<__path_retry_failed_steps, _, _>(retry_failed_steps),
    ]
}

/// The steps of a task, in template order.
#[utoipa::path(
    get,
    path = "/v1/tasks/{task_uuid}/workflow_steps",
    tag = "steps",
    params(("task_uuid" = Uuid, Path, description = "The task")),
    responses(
        (status = 200, description = "The steps", body = Vec<Step>),
        (status = 400, description = "Not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such task", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["steps:read"]), ("bearer" = ["steps:read"]))
)]
pub(super) async fn list_steps(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(task_uuid): Path<String>,
) -> Result<Json<Vec<Step>>, ApiError> {
    state.require(&headers, "steps:read")?;
    let task_uuid = parse_uuid("task uuid", &task_uuid)?;
    Ok(Json(state.service.list_steps(task_uuid).await?))
}

/// One step: state, attempts, results or last error, and its parents (`depends_on`).
#[utoipa::path(
    get,
    path = "/v1/tasks/{task_uuid}/workflow_steps/{step_uuid}",
    tag = "steps",
    params(
        ("task_uuid" = Uuid, Path, description = "The task"),
        ("step_uuid" = Uuid, Path, description = "The step"),
    ),
    responses(
        (status = 200, description = "The step", body = Step),
        (status = 400, description = "Not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such step in this task", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("api_key" = ["steps:read"]), ("bearer" = ["steps:read"]))
)]
pub(super) async fn get_step(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((task_uuid, step_uuid)): Path<(String, String)>,
) -> Result<Json<Step>, ApiError> {
    state.require(&headers, "steps:read")?;
    let task_uuid = parse_uuid("task uuid", &task_uuid)?;
    let step_uuid = parse_uuid("step uuid", &step_uuid)?;
    Ok(Json(state.service.get_step(task_uuid, step_uuid).await?))
}

/// Operates on a step: `resolve_manually`, `complete_manually` (with `result`) or `reset_for_retry`.
#[utoipa::path(
    patch,
    path = "/v1/tasks/{task_uuid}/workflow_steps/{step_uuid}",
    tag = "steps",
    params(
        ("task_uuid" = Uuid, Path, description = "The task"),
        ("step_uuid" = Uuid, Path, description = "The step"),
    ),
    request_body = StepActionRequest,
    responses(
        (status = 200, description = "The step afterwards", body = Step),
        (status = 400, description = "Malformed JSON or not a UUID", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No such step in this task", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "The step's or task's state does not allow the action", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "Invalid body (unknown action, result without complete_manually)",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["steps:resolve"]), ("bearer" = ["steps:resolve"]))
)]
pub(super) async fn act_on_step(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((task_uuid, step_uuid)): Path<(String, String)>,
    body: Result<ApiJson<StepActionRequest>, ApiError>,
) -> Result<Json<Step>, ApiError> {
    state.require(&headers, "steps:resolve")?;
    let task_uuid = parse_uuid("task uuid", &task_uuid)?;
    let step_uuid = parse_uuid("step uuid", &step_uuid)?;
    let ApiJson(req) = body?;
    Ok(Json(state.service.act_on_step(task_uuid, step_uuid, req).await?))
}

/// A step's state history, oldest first.
#[utoipa::path(
    get,
    path = "/v1/tasks/{task_uuid}/workflow_steps/{step_uuid}/transitions",
    tag = "steps",
    params(
        ("task_uuid" = Uuid, Path, description = "The task"),
        ("step_uuid" = Uuid, Path, description = "The step"),
    ),
    responses(
        (status = 200, description = "The history", body = Vec<StepTransition>),
        (status = 400, description = "Not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such step in this task", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("api_key" = ["steps:read"]), ("bearer" = ["steps:read"]))
)]
pub(super) async fn step_transitions(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((task_uuid, step_uuid)): Path<(String, String)>,
) -> Result<Json<Vec<StepTransition>>, ApiError> {
    state.require(&headers, "steps:read")?;
    let task_uuid = parse_uuid("task uuid", &task_uuid)?;
    let step_uuid = parse_uuid("step uuid", &step_uuid)?;
    Ok(Json(state.service.step_transitions(task_uuid, step_uuid).await?))
}

/// Batch retry: resets every failed step matching the filter (fields combine with AND) in one
/// database call and lists them; with `dry_run` it lists what would be reset and changes nothing.
#[utoipa::path(
    post,
    path = "/v1/retries",
    tag = "steps",
    request_body = RetryFilter,
    responses(
        (status = 200, description = "The steps reset (or that would be, in a dry run)", body = RetryOutcome),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["retries:create"]), ("bearer" = ["retries:create"]))
)]
pub(super) async fn retry_failed_steps(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<ApiJson<RetryFilter>, ApiError>,
) -> Result<Json<RetryOutcome>, ApiError> {
    state.require(&headers, "retries:create")?;
    let ApiJson(filter) = body?;
    Ok(Json(state.service.retry_failed_steps(filter).await?))
}
