//! Tasks: create, read, list, cancel.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{page_size, Service, ServiceError, ServiceResult};
use crate::model::{Page, StepCounts, Task, TaskListQuery, TaskRequest, TASK_STATES};

/// A row of `tasker.task_overview`.
#[derive(sqlx::FromRow)]
struct TaskRow {
    task_uuid: Uuid,
    namespace: String,
    name: String,
    version: String,
    state: String,
    context: Value,
    priority: i32,
    tags: Vec<String>,
    initiator: Option<String>,
    source_system: Option<String>,
    reason: Option<String>,
    idempotency_key: Option<String>,
    correlation_id: Uuid,
    steps_total: i32,
    steps_pending: i64,
    steps_enqueued: i64,
    steps_in_progress: i64,
    steps_waiting_for_retry: i64,
    steps_complete: i64,
    steps_error: i64,
    steps_cancelled: i64,
    steps_resolved_manually: i64,
    completion_pct: f64,
    last_error: Option<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
}

impl From<TaskRow> for Task {
    fn from(r: TaskRow) -> Self {
        Task {
            task_uuid: r.task_uuid,
            namespace: r.namespace,
            name: r.name,
            version: r.version,
            state: r.state,
            context: r.context,
            priority: r.priority,
            tags: r.tags,
            initiator: r.initiator,
            source_system: r.source_system,
            reason: r.reason,
            idempotency_key: r.idempotency_key,
            correlation_id: r.correlation_id,
            steps_total: r.steps_total,
            step_counts: StepCounts {
                pending: r.steps_pending,
                enqueued: r.steps_enqueued,
                in_progress: r.steps_in_progress,
                waiting_for_retry: r.steps_waiting_for_retry,
                complete: r.steps_complete,
                error: r.steps_error,
                cancelled: r.steps_cancelled,
                resolved_manually: r.steps_resolved_manually,
            },
            completion_pct: r.completion_pct,
            last_error: r.last_error,
            created_at: r.created_at,
            updated_at: r.updated_at,
            completed_at: r.completed_at,
        }
    }
}

const TASK_COLUMNS: &str = "task_uuid, namespace, name, version, state, context, priority, tags, initiator, \
     source_system, reason, idempotency_key, correlation_id, steps_total, steps_pending, steps_enqueued, \
     steps_in_progress, steps_waiting_for_retry, steps_complete, steps_error, steps_cancelled, \
     steps_resolved_manually, completion_pct::float8 AS completion_pct, last_error, created_at, updated_at, completed_at";

impl Service {
    /// Creates a task (through the task request actor when running with actors) and returns it.
    pub async fn create_task(&self, req: TaskRequest) -> ServiceResult<Task> {
        validate_request(&req)?;
        let task_uuid = match &self.inner.submitter {
            Some(s) => s.submit(req).await?,
            None => crate::db::engine::create_task(self.pool(), &req).await?,
        };
        self.get_task(task_uuid).await
    }

    /// A task with its progress.
    pub async fn get_task(&self, task_uuid: Uuid) -> ServiceResult<Task> {
        fetch_task(self.pool(), task_uuid).await
    }

    /// Tasks matching the filters, newest first, one page at a time.
    pub async fn list_tasks(&self, q: TaskListQuery) -> ServiceResult<Page<Task>> {
        let limit = page_size(q.limit)?;
        if let Some(state) = &q.state {
            if !TASK_STATES.contains(&state.as_str()) {
                return Err(ServiceError::InvalidInput(format!(
                    "unknown task state '{state}'; states are {}",
                    TASK_STATES.join(", ")
                )));
            }
        }
        let cursor = parse_cursor(q.cursor.as_deref())?;
        let rows: Vec<TaskRow> = sqlx::query_as(&format!(
            "SELECT {TASK_COLUMNS} FROM tasker.task_overview
              WHERE ($1::text IS NULL OR namespace = $1)
                AND ($2::text IS NULL OR name = $2)
                AND ($3::text IS NULL OR state = $3)
                AND ($4::timestamptz IS NULL OR created_at >= $4)
                AND ($5::timestamptz IS NULL OR created_at < $5)
                AND ($6::uuid IS NULL OR task_uuid < $6)
              ORDER BY task_uuid DESC
              LIMIT $7"
        ))
        .bind(&q.namespace)
        .bind(&q.name)
        .bind(&q.state)
        .bind(q.created_after)
        .bind(q.created_before)
        .bind(cursor)
        .bind(limit + 1)
        .fetch_all(self.pool())
        .await?;
        Ok(paginate(rows.into_iter().map(Task::from).collect(), limit, |t| t.task_uuid.to_string()))
    }

    /// Cancels a task and its unfinished steps; returns it afterwards.
    pub async fn cancel_task(&self, task_uuid: Uuid, reason: Option<String>) -> ServiceResult<Task> {
        let _state: String = sqlx::query_scalar("SELECT tasker.cancel_task($1, $2)")
            .bind(task_uuid)
            .bind(reason)
            .fetch_one(self.pool())
            .await?;
        self.get_task(task_uuid).await
    }
}

/// Checks what the database would reject less clearly.
fn validate_request(req: &TaskRequest) -> ServiceResult<()> {
    if req.namespace.trim().is_empty() || req.name.trim().is_empty() {
        return Err(ServiceError::InvalidInput("namespace and name are required".into()));
    }
    if let Some(ctx) = &req.context {
        if !ctx.is_object() && !ctx.is_null() {
            return Err(ServiceError::InvalidInput("context must be a JSON object".into()));
        }
    }
    Ok(())
}

/// Parses a page cursor (the last id served).
pub(crate) fn parse_cursor(cursor: Option<&str>) -> ServiceResult<Option<Uuid>> {
    match cursor {
        None | Some("") => Ok(None),
        Some(c) => Uuid::parse_str(c).map(Some).map_err(|_| {
            ServiceError::InvalidInput(format!("invalid cursor '{c}': use next_cursor from a previous page"))
        }),
    }
}

/// Cuts `limit + 1` fetched rows to a page and its cursor.
pub(crate) fn paginate<T>(mut items: Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> String) -> Page<T> {
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next_cursor = if more { items.last().map(cursor_of) } else { None };
    Page { items, next_cursor }
}

/// Parses a numeric page cursor (the last id served).
pub(crate) fn parse_cursor_id(cursor: Option<&str>) -> ServiceResult<Option<i64>> {
    match cursor {
        None | Some("") => Ok(None),
        Some(c) => c.parse::<i64>().map(Some).map_err(|_| {
            ServiceError::InvalidInput(format!("invalid cursor '{c}': use next_cursor from a previous page"))
        }),
    }
}

/// Reads one task through any executor (the pool, or a transaction for a consistent snapshot).
pub(crate) async fn fetch_task<'e, E: sqlx::PgExecutor<'e>>(executor: E, task_uuid: Uuid) -> ServiceResult<Task> {
    let row: Option<TaskRow> =
        sqlx::query_as(&format!("SELECT {TASK_COLUMNS} FROM tasker.task_overview WHERE task_uuid = $1"))
            .bind(task_uuid)
            .fetch_optional(executor)
            .await?;
    row.map(Task::from).ok_or_else(|| ServiceError::NotFound(format!("task {task_uuid} not found")))
}
