//! Typed calls of the engine's SQL functions used by the actors: one function, one round trip.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::model::TaskRequest;

/// Counts returned by `tasker.process_step_results`.
#[derive(Debug, Clone, Copy, Default, sqlx::FromRow)]
pub struct ResultCounts {
    /// Messages read.
    pub results: i32,
    /// Steps completed.
    pub completed: i32,
    /// Steps sent to waiting_for_retry.
    pub retried: i32,
    /// Steps failed.
    pub failed: i32,
    /// Messages ignored (duplicates, stale attempts, malformed).
    pub ignored: i32,
    /// Children dispatched.
    pub dispatched: i32,
    /// Tasks flagged for finalization.
    pub tasks_flagged: i32,
}

/// The options object of `tasker.create_task` for a request.
fn options_of(req: &TaskRequest) -> serde_json::Value {
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
    serde_json::Value::Object(options)
}

/// `tasker.create_task`: the request's options are passed as the options object.
pub async fn create_task(pool: &PgPool, req: &TaskRequest) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar("SELECT tasker.create_task($1, $2, $3, $4, $5)")
        .bind(&req.namespace)
        .bind(&req.name)
        .bind(&req.version)
        .bind(req.context.clone().unwrap_or_else(|| serde_json::json!({})))
        .bind(options_of(req))
        .fetch_one(pool)
        .await
}

/// Why one request of [`create_tasks`] failed: its SQLSTATE and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    /// SQLSTATE (`TK002`, …).
    pub code: String,
    /// The engine's message (with its hint).
    pub message: String,
}

/// `tasker.create_tasks`: many requests in one call and one transaction; one result per request,
/// in order (a failed request does not affect the others).
pub async fn create_tasks(
    pool: &PgPool,
    reqs: &[&TaskRequest],
) -> Result<Vec<Result<Uuid, RequestError>>, sqlx::Error> {
    let body: Vec<serde_json::Value> = reqs
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
            .bind(serde_json::Value::Array(body))
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|r| match r.task_uuid {
            Some(u) => Ok(u),
            None => Err(RequestError {
                code: r.error_code.unwrap_or_default(),
                message: r.error_message.unwrap_or_default(),
            }),
        })
        .collect())
}

/// `tasker.enqueue_ready_steps`: returns the number of steps dispatched.
pub async fn enqueue_ready_steps(pool: &PgPool, limit: u32) -> Result<u64, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tasker.enqueue_ready_steps($1)")
        .bind(i32::try_from(limit).unwrap_or(i32::MAX))
        .fetch_one(pool)
        .await?;
    Ok(n as u64)
}

/// `tasker.next_ready_at`: the earliest future ready time (a retry coming due).
pub async fn next_ready_at(pool: &PgPool) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("SELECT tasker.next_ready_at()").fetch_one(pool).await
}

/// `tasker.process_step_results`.
pub async fn process_step_results(pool: &PgPool, limit: u32) -> Result<ResultCounts, sqlx::Error> {
    sqlx::query_as("SELECT * FROM tasker.process_step_results($1)")
        .bind(i32::try_from(limit).unwrap_or(i32::MAX))
        .fetch_one(pool)
        .await
}

/// `tasker.finalize_tasks`: returns (task, from_state, to_state) per task taken.
pub async fn finalize_tasks(pool: &PgPool, limit: u32) -> Result<Vec<(Uuid, String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT task_uuid, from_state, to_state FROM tasker.finalize_tasks($1)")
        .bind(i32::try_from(limit).unwrap_or(i32::MAX))
        .fetch_all(pool)
        .await
}

/// `tasker.sweep_stale_steps`: returns the number of steps reported.
pub async fn sweep_stale_steps(pool: &PgPool, grace_seconds: u32, limit: u32) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("SELECT tasker.sweep_stale_steps($1, $2)")
        .bind(i32::try_from(grace_seconds).unwrap_or(i32::MAX))
        .bind(i32::try_from(limit).unwrap_or(i32::MAX))
        .fetch_one(pool)
        .await
}
