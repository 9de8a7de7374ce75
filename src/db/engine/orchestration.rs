//! The orchestration actors' calls: one function, one round trip, one transaction each. Every
//! time-dependent call takes `now` (`None`: the database's `now()`), so tests pass time instead
//! of sleeping.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::sql_limit;
use crate::db::error::EngineResult;

/// Counts returned by `tasker.process_step_results`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
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

/// A task `tasker.finalize_tasks` took: the state it left and the one it reached (the same
/// when the task had to keep waiting).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FinalizedTask {
    /// The task.
    pub task_uuid: Uuid,
    /// Its state before.
    pub from_state: String,
    /// Its state after.
    pub to_state: String,
}

/// `tasker.enqueue_ready_steps`: dispatches up to `limit` ready steps; returns their uuids.
pub async fn enqueue_ready_steps(pool: &PgPool, limit: u32, now: Option<DateTime<Utc>>) -> EngineResult<Vec<Uuid>> {
    Ok(sqlx::query_scalar("SELECT step_uuid FROM tasker.enqueue_ready_steps($1, $2)")
        .bind(sql_limit(limit))
        .bind(now)
        .fetch_all(pool)
        .await?)
}

/// `tasker.next_ready_at`: the earliest future ready time (a retry coming due), if any.
pub async fn next_ready_at(pool: &PgPool, now: Option<DateTime<Utc>>) -> EngineResult<Option<DateTime<Utc>>> {
    Ok(sqlx::query_scalar("SELECT tasker.next_ready_at($1)").bind(now).fetch_one(pool).await?)
}

/// `tasker.process_step_results`: applies up to `limit` result messages from the results queue.
pub async fn process_step_results(pool: &PgPool, limit: u32, now: Option<DateTime<Utc>>) -> EngineResult<ResultCounts> {
    Ok(sqlx::query_as("SELECT * FROM tasker.process_step_results($1, $2)")
        .bind(sql_limit(limit))
        .bind(now)
        .fetch_one(pool)
        .await?)
}

/// `tasker.finalize_tasks`: evaluates up to `limit` tasks flagged for finalization.
pub async fn finalize_tasks(pool: &PgPool, limit: u32, now: Option<DateTime<Utc>>) -> EngineResult<Vec<FinalizedTask>> {
    Ok(sqlx::query_as("SELECT task_uuid, from_state, to_state FROM tasker.finalize_tasks($1, $2)")
        .bind(sql_limit(limit))
        .bind(now)
        .fetch_all(pool)
        .await?)
}

/// `tasker.sweep_stale_steps`: fails up to `limit` in-flight steps whose queue message vanished
/// more than `grace_seconds` past their timeout; returns the number of steps reported.
pub async fn sweep_stale_steps(
    pool: &PgPool,
    grace_seconds: u32,
    limit: u32,
    now: Option<DateTime<Utc>>,
) -> EngineResult<u64> {
    let n: i32 = sqlx::query_scalar("SELECT tasker.sweep_stale_steps($1, $2, $3)")
        .bind(sql_limit(grace_seconds))
        .bind(sql_limit(limit))
        .bind(now)
        .fetch_one(pool)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}
