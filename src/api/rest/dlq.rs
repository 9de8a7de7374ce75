//! `/v1/dlq`: the dead letter queue.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;

use super::error::{ApiError, Problem};
use super::extract::{parse_uuid, ApiJson, ApiQuery};
use super::{api_route, ApiRoute, AppState};
use crate::model::{DlqEntry, DlqListQuery, DlqStats, DlqUpdate, Page};

pub(super) fn routes() -> Vec<ApiRoute> {
    vec![
        api_route::<__path_list_dlq, _, _>(list_dlq),
        api_route::<__path_dlq_for_task, _, _>(dlq_for_task),
        api_route::<__path_update_dlq_entry, _, _>(update_dlq_entry),
        api_route::<__path_dlq_stats, _, _>(dlq_stats),
    ]
}

/// DLQ entries, newest first, one page at a time (`next_cursor` -> `cursor`).
///
/// Entries come without `snapshot` (the task and its steps at the time, which can be large):
/// `GET /v1/dlq/task/{task_uuid}` returns them with it.
#[utoipa::path(
    get,
    path = "/v1/dlq",
    tag = "dlq",
    params(DlqListQuery),
    responses(
        (status = 200, description = "One page of entries, without snapshots", body = Page<DlqEntry>),
        (status = 400, description = "Unknown or malformed query parameter", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "Invalid status, limit or cursor", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("api_key" = ["dlq:read"]), ("bearer" = ["dlq:read"]))
)]
pub(super) async fn list_dlq(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<ApiQuery<DlqListQuery>, ApiError>,
) -> Result<Json<Page<DlqEntry>>, ApiError> {
    state.require(&headers, "dlq:read")?;
    let ApiQuery(q) = query?;
    Ok(Json(state.service.list_dlq(q).await?))
}

/// The DLQ entries of one task, newest first (empty when it never failed).
#[utoipa::path(
    get,
    path = "/v1/dlq/task/{task_uuid}",
    tag = "dlq",
    params(("task_uuid" = Uuid, Path, description = "The task")),
    responses(
        (status = 200, description = "The entries, with their snapshots", body = Vec<DlqEntry>),
        (status = 400, description = "Not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such task", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["dlq:read"]), ("bearer" = ["dlq:read"]))
)]
pub(super) async fn dlq_for_task(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(task_uuid): Path<String>,
) -> Result<Json<Vec<DlqEntry>>, ApiError> {
    state.require(&headers, "dlq:read")?;
    let task_uuid = parse_uuid("task uuid", &task_uuid)?;
    Ok(Json(state.service.dlq_for_task(task_uuid).await?))
}

/// Records an investigation step on an entry: status, notes (appended), who. The task itself is
/// not touched (use the step actions or `/v1/retries` for that).
#[utoipa::path(
    patch,
    path = "/v1/dlq/entry/{id}",
    tag = "dlq",
    params(("id" = i64, Path, description = "The entry")),
    request_body = DlqUpdate,
    responses(
        (status = 200, description = "The entry afterwards", body = DlqEntry),
        (status = 400, description = "Malformed JSON or id", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such entry", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown status, unknown field or nothing to update", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("api_key" = ["dlq:update"]), ("bearer" = ["dlq:update"]))
)]
pub(super) async fn update_dlq_entry(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<ApiJson<DlqUpdate>, ApiError>,
) -> Result<Json<DlqEntry>, ApiError> {
    state.require(&headers, "dlq:update")?;
    let id: i64 = id.parse().map_err(|_| ApiError::bad_request(format!("DLQ entry id '{id}' is not an integer")))?;
    let ApiJson(update) = body?;
    Ok(Json(state.service.update_dlq(id, update).await?))
}

/// Entries per status and the age of the oldest open entry.
#[utoipa::path(
    get,
    path = "/v1/dlq/stats",
    tag = "dlq",
    responses((status = 200, description = "The summary", body = DlqStats)),
    security(("api_key" = ["dlq:read"]), ("bearer" = ["dlq:read"]))
)]
pub(super) async fn dlq_stats(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<DlqStats>, ApiError> {
    state.require(&headers, "dlq:read")?;
    Ok(Json(state.service.dlq_stats().await?))
}
