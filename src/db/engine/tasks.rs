//! Tasks: create (one, or a batch in one call), read and list through `tasker.task_overview`,
//! cancel.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::error::{EngineError, EngineResult};
use crate::model::{StepCounts, Task, TaskListQuery, TaskRequest};

/// A row of `tasker.task_overview`.
#[derive(sqlx::FromRow)]
struct TaskRow {
    task_uuid: Uuid,
    namespace: String,
    name: String,
    version: String,
    state: String,
    context: Option<Value>,
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

/// The columns of a [`TaskRow`], with `{context}` standing for the context column.
const TASK_COLUMNS: &str = "task_uuid, namespace, name, version, state, {context}, priority, tags, initiator, \
     source_system, reason, idempotency_key, correlation_id, steps_total, steps_pending, steps_enqueued, \
     steps_in_progress, steps_waiting_for_retry, steps_complete, steps_error, steps_cancelled, \
     steps_resolved_manually, completion_pct::float8 AS completion_pct, last_error, created_at, updated_at, completed_at";

/// The select list of a [`TaskRow`]; without the context (a summary), the context column is a
/// NULL, so its TOASTed value is never read.
fn task_columns(with_context: bool) -> String {
    TASK_COLUMNS.replace("{context}", if with_context { "context" } else { "NULL::jsonb AS context" })
}

/// The options object of `tasker.create_task` for a request.
fn options_of(req: &TaskRequest) -> Value {
    let mut options = serde_json::Map::new();
    if let Some(p) = req.priority {
        options.insert("priority".into(), p.into());
    }
    if !req.tags.is_empty() {
        options.insert("tags".into(), req.tags.clone().into());
    }
    for (k, v) in [
        ("initiator", &req.initiator),
        ("source_system", &req.source_system),
        ("reason", &req.reason),
        ("idempotency_key", &req.idempotency_key),
    ] {
        if let Some(v) = v {
            options.insert(k.into(), v.clone().into());
        }
    }
    if let Some(c) = req.correlation_id {
        options.insert("correlation_id".into(), c.to_string().into());
    }
    Value::Object(options)
}

/// `tasker.create_task`: one task (and its root steps dispatched) in one transaction.
pub async fn create_task(pool: &PgPool, req: &TaskRequest) -> EngineResult<Uuid> {
    Ok(sqlx::query_scalar("SELECT tasker.create_task($1, $2, $3, $4, $5)")
        .bind(&req.namespace)
        .bind(&req.name)
        .bind(&req.version)
        .bind(req.context.clone().unwrap_or_else(|| serde_json::json!({})))
        .bind(options_of(req))
        .fetch_one(pool)
        .await?)
}

/// `tasker.create_tasks`: many requests in one call and one transaction; one result per
/// request, in order (a rejected request does not affect the others). The outer error is the
/// call's (the database), the inner ones each request's (TK002 unknown template, …).
pub async fn create_tasks(pool: &PgPool, reqs: &[&TaskRequest]) -> EngineResult<Vec<EngineResult<Uuid>>> {
    let body: Vec<Value> = reqs
        .iter()
        .map(|r| {
            serde_json::json!({
                "namespace": r.namespace,
                "name": r.name,
                "version": r.version,
                "context": r.context.clone().unwrap_or_else(|| serde_json::json!({})),
                "options": options_of(r),
            })
        })
        .collect();
    #[derive(sqlx::FromRow)]
    struct Row {
        task_uuid: Option<Uuid>,
        error_code: Option<String>,
        error_message: Option<String>,
    }
    let rows: Vec<Row> =
        sqlx::query_as("SELECT task_uuid, error_code, error_message FROM tasker.create_tasks($1) ORDER BY ordinality")
            .bind(Value::Array(body))
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|r| match r.task_uuid {
            Some(u) => Ok(u),
            None => Err(EngineError::from_sqlstate(
                r.error_code.as_deref().unwrap_or_default(),
                r.error_message.unwrap_or_default(),
            )),
        })
        .collect())
}

/// One task with its progress, through any executor (the pool, or a transaction for a
/// consistent snapshot). `None` when there is no such task.
pub async fn fetch_task<'e, E: sqlx::PgExecutor<'e>>(executor: E, task_uuid: Uuid) -> EngineResult<Option<Task>> {
    let row: Option<TaskRow> =
        sqlx::query_as(&format!("SELECT {} FROM tasker.task_overview WHERE task_uuid = $1", task_columns(true)))
            .bind(task_uuid)
            .fetch_optional(executor)
            .await?;
    Ok(row.map(Task::from))
}

/// Tasks matching `q`'s filters with a uuid below `before` (newest first), at most `limit`; with
/// their contexts only when `with_context`. `q.cursor`, `q.limit` and `q.include` are the
/// caller's to interpret.
pub async fn list_tasks(
    pool: &PgPool,
    q: &TaskListQuery,
    before: Option<Uuid>,
    limit: i64,
    with_context: bool,
) -> EngineResult<Vec<Task>> {
    let rows: Vec<TaskRow> = sqlx::query_as(&format!(
        "SELECT {} FROM tasker.task_overview
          WHERE ($1::text IS NULL OR namespace = $1)
            AND ($2::text IS NULL OR name = $2)
            AND ($3::text IS NULL OR state = $3)
            AND ($4::timestamptz IS NULL OR created_at >= $4)
            AND ($5::timestamptz IS NULL OR created_at < $5)
            AND ($6::uuid IS NULL OR task_uuid < $6)
          ORDER BY task_uuid DESC
          LIMIT $7",
        task_columns(with_context)
    ))
    .bind(&q.namespace)
    .bind(&q.name)
    .bind(&q.state)
    .bind(q.created_after)
    .bind(q.created_before)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Task::from).collect())
}

/// `tasker.cancel_task`: cancels the task and its unfinished steps; returns its new state.
pub async fn cancel_task(pool: &PgPool, task_uuid: Uuid, reason: Option<&str>) -> EngineResult<String> {
    Ok(sqlx::query_scalar("SELECT tasker.cancel_task($1, $2)").bind(task_uuid).bind(reason).fetch_one(pool).await?)
}
