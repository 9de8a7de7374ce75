//! `/v1/tasks`: create, list, read, cancel.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{ApiError, Problem};
use super::extract::{parse_uuid, ApiJson, ApiQuery};
use super::{api_route, ApiRoute, AppState};
use crate::model::{Page, Task, TaskListQuery, TaskRequest};

pub(super) fn routes() -> Vec<ApiRoute> {
    vec![
        api_route::<__path_create_task, _, _>(create_task),
        api_route::<__path_list_tasks, _, _>(list_tasks),
        api_route::<__path_get_task, _, _>(get_task),
        api_route::<__path_cancel_task, _, _>(cancel_task),
    ]
}

/// Creates a task from a template.
///
/// The template is `namespace`/`name`/`version` (latest version when absent); `context` is checked
/// against the template's `input_schema`. The same `idempotency_key` with the same body returns
/// the same task.
#[utoipa::path(
    post,
    path = "/v1/tasks",
    tag = "tasks",
    request_body = TaskRequest,
    responses(
        (status = 201, description = "The task (new, or the earlier one for a repeated idempotency key)", body = Task),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown template", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Idempotency key reused with a different body", body = Problem,
            content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid body (wrong types, unknown fields) or context failing the template's \
            input_schema", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Backpressure: retry after the Retry-After header's seconds", body = Problem,
            content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds"))),
    ),
    security(("api_key" = ["tasks:create"]), ("bearer" = ["tasks:create"]))
)]
pub(super) async fn create_task(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<ApiJson<TaskRequest>, ApiError>,
) -> Result<(StatusCode, Json<Task>), ApiError> {
    state.require(&headers, "tasks:create")?;
    let ApiJson(req) = body?;
    let task = state.service.create_task(req).await?;
    Ok((StatusCode::CREATED, Json(task)))
}

/// Lists tasks, newest first, one page at a time.
///
/// Items are summaries: everything `GET /v1/tasks/{task_uuid}` returns but the `context`. With
/// `include=context` each item carries its context too, and a page holds at most 100 tasks
/// (`limit` 1-100; 1-500 without). Pages are stable under inserts: pass `next_cursor` as
/// `cursor` for the next page; tasks created meanwhile never shift it.
#[utoipa::path(
    get,
    path = "/v1/tasks",
    tag = "tasks",
    params(TaskListQuery),
    responses(
        (status = 200, description = "One page of task summaries (with contexts for include=context)", body = Page<Task>),
        (status = 400, description = "Unknown or malformed query parameter", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "Invalid filter value (state, limit, cursor, include)", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("api_key" = ["tasks:read"]), ("bearer" = ["tasks:read"]))
)]
pub(super) async fn list_tasks(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<ApiQuery<TaskListQuery>, ApiError>,
) -> Result<Json<Page<Task>>, ApiError> {
    state.require(&headers, "tasks:read")?;
    let ApiQuery(q) = query?;
    Ok(Json(state.service.list_tasks(q).await?))
}

/// A task with its step counts per state, completion percentage and last error.
#[utoipa::path(
    get,
    path = "/v1/tasks/{task_uuid}",
    tag = "tasks",
    params(("task_uuid" = Uuid, Path, description = "The task")),
    responses(
        (status = 200, description = "The task", body = Task),
        (status = 400, description = "Not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such task", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["tasks:read"]), ("bearer" = ["tasks:read"]))
)]
pub(super) async fn get_task(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(task_uuid): Path<String>,
) -> Result<Json<Task>, ApiError> {
    state.require(&headers, "tasks:read")?;
    let uuid = parse_uuid("task uuid", &task_uuid)?;
    Ok(Json(state.service.get_task(uuid).await?))
}

/// Query of `DELETE /v1/tasks/{task_uuid}`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct CancelParams {
    /// Why (recorded in the task's and steps' history).
    reason: Option<String>,
}

/// Cancels a task and its unfinished steps; returns the task afterwards.
#[utoipa::path(
    delete,
    path = "/v1/tasks/{task_uuid}",
    tag = "tasks",
    params(("task_uuid" = Uuid, Path, description = "The task"), CancelParams),
    responses(
        (status = 200, description = "The cancelled task", body = Task),
        (status = 400, description = "Not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such task", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The task is complete or resolved: it cannot be cancelled", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("api_key" = ["tasks:cancel"]), ("bearer" = ["tasks:cancel"]))
)]
pub(super) async fn cancel_task(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(task_uuid): Path<String>,
    query: Result<ApiQuery<CancelParams>, ApiError>,
) -> Result<Json<Task>, ApiError> {
    state.require(&headers, "tasks:cancel")?;
    let uuid = parse_uuid("task uuid", &task_uuid)?;
    let ApiQuery(q) = query?;
    Ok(Json(state.service.cancel_task(uuid, q.reason).await?))
}
