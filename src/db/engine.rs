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

/// `tasker.create_task`: the request's options are passed as the options object.
pub async fn create_task(pool: &PgPool, req: &TaskRequest) -> Result<Uuid, sqlx::Error> {
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
    sqlx::query_scalar("SELECT tasker.create_task($1, $2, $3, $4, $5)")
        .bind(&req.namespace)
        .bind(&req.name)
        .bind(&req.version)
        .bind(req.context.clone().unwrap_or_else(|| serde_json::json!({})))
        .bind(serde_json::Value::Object(options))
        .fetch_one(pool)
        .await
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
