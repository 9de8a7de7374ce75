//! `/v1/tasks`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::error::ApiError;
use super::extract::{parse_uuid, ApiJson};
use super::AppState;
use crate::model::{Task, TaskRequest};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/v1/tasks", post(create_task)).route("/v1/tasks/{task_uuid}", get(get_task))
}

/// Creates a task from a template.
async fn create_task(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<TaskRequest>,
) -> Result<(StatusCode, Json<Task>), ApiError> {
    state.require(&headers, "tasks:create")?;
    let task = state.service.create_task(req).await?;
    Ok((StatusCode::CREATED, Json(task)))
}

/// A task with its progress.
async fn get_task(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(task_uuid): Path<String>,
) -> Result<Json<Task>, ApiError> {
    state.require(&headers, "tasks:read")?;
    let uuid = parse_uuid("task uuid", &task_uuid)?;
    Ok(Json(state.service.get_task(uuid).await?))
}
