//! Tasks: create, read, list, cancel.

use uuid::Uuid;

use super::{input, page_size, Service, ServiceError, ServiceResult};

/// Largest page of `list_tasks` with `include=context`: contexts may be large (a task's context
/// is limited only by the request body size), so such pages are smaller.
pub const MAX_PAGE_SIZE_WITH_CONTEXT: u32 = 100;
use crate::db::engine;
use crate::model::{Page, Task, TaskListQuery, TaskRequest, TASK_STATES};

impl Service {
    /// Creates a task (through the task request actor when running with actors) and returns it.
    pub async fn create_task(&self, req: TaskRequest) -> ServiceResult<Task> {
        validate_request(&req)?;
        let task_uuid = match &self.inner.submitter {
            Some(s) => s.submit(req).await?,
            None => engine::tasks::create_task(self.pool(), &req).await?,
        };
        self.get_task(task_uuid).await
    }

    /// A task with its progress.
    pub async fn get_task(&self, task_uuid: Uuid) -> ServiceResult<Task> {
        found_task(engine::tasks::fetch_task(self.pool(), task_uuid).await?, task_uuid)
    }

    /// Tasks matching the filters, newest first, one page at a time: summaries without their
    /// contexts, unless `include=context` (then a page holds at most [`MAX_PAGE_SIZE_WITH_CONTEXT`]
    /// tasks, whatever the limit; `next_cursor` pages on).
    pub async fn list_tasks(&self, q: TaskListQuery) -> ServiceResult<Page<Task>> {
        let limit = page_size(q.limit)?;
        input::opt_text("namespace", q.namespace.as_deref())?;
        input::opt_text("name", q.name.as_deref())?;
        input::opt_text("state", q.state.as_deref())?;
        input::opt_text("cursor", q.cursor.as_deref())?;
        let with_context = match q.include.as_deref() {
            None | Some("") => false,
            Some("context") => true,
            Some(other) => {
                return Err(ServiceError::InvalidInput(format!("unknown include '{other}'; the only one is 'context'")))
            }
        };
        let limit = if with_context { limit.min(i64::from(MAX_PAGE_SIZE_WITH_CONTEXT)) } else { limit };
        if let Some(state) = &q.state {
            if !TASK_STATES.contains(&state.as_str()) {
                return Err(ServiceError::InvalidInput(format!(
                    "unknown task state '{state}'; states are {}",
                    TASK_STATES.join(", ")
                )));
            }
        }
        let cursor = parse_cursor(q.cursor.as_deref())?;
        let rows = engine::tasks::list_tasks(self.pool(), &q, cursor, limit + 1, with_context).await?;
        Ok(paginate(rows, limit, |t| t.task_uuid.to_string()))
    }

    /// Cancels a task and its unfinished steps; returns it afterwards.
    pub async fn cancel_task(&self, task_uuid: Uuid, reason: Option<String>) -> ServiceResult<Task> {
        input::opt_text("reason", reason.as_deref())?;
        engine::tasks::cancel_task(self.pool(), task_uuid, reason.as_deref()).await?;
        self.get_task(task_uuid).await
    }
}

/// A task read by uuid, or not found.
pub(crate) fn found_task(task: Option<Task>, task_uuid: Uuid) -> ServiceResult<Task> {
    task.ok_or_else(|| ServiceError::NotFound(format!("task {task_uuid} not found")))
}

/// Checks what the database would reject less clearly.
fn validate_request(req: &TaskRequest) -> ServiceResult<()> {
    input::text("namespace", &req.namespace)?;
    input::text("name", &req.name)?;
    input::opt_text("version", req.version.as_deref())?;
    input::opt_text("initiator", req.initiator.as_deref())?;
    input::opt_text("source_system", req.source_system.as_deref())?;
    input::opt_text("reason", req.reason.as_deref())?;
    input::opt_text("idempotency_key", req.idempotency_key.as_deref())?;
    input::texts("tags", &req.tags)?;
    if let Some(ctx) = &req.context {
        input::json("context", ctx)?;
    }
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

/// Parses a page cursor (the last id served, a hyphenated UUID as `next_cursor` gives it; the
/// OpenAPI document states that form).
pub(crate) fn parse_cursor(cursor: Option<&str>) -> ServiceResult<Option<Uuid>> {
    match cursor {
        None | Some("") => Ok(None),
        Some(c) => Some(c).filter(|c| c.len() == 36).and_then(|c| Uuid::parse_str(c).ok()).map(Some).ok_or_else(|| {
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

/// Parses a numeric page cursor (the last id served: up to 18 digits, as the OpenAPI document
/// states; no sign).
pub(crate) fn parse_cursor_id(cursor: Option<&str>) -> ServiceResult<Option<i64>> {
    match cursor {
        None | Some("") => Ok(None),
        Some(c) => Some(c)
            .filter(|c| c.len() <= 18 && c.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|c| c.parse::<i64>().ok())
            .map(Some)
            .ok_or_else(|| {
                ServiceError::InvalidInput(format!("invalid cursor '{c}': use next_cursor from a previous page"))
            }),
    }
}
