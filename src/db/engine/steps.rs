//! Steps: read through `tasker.step_overview`, operator actions (resolve, complete, reset),
//! a step's history, and the database-native batch retry.

use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::error::EngineResult;
use crate::model::{RetriedStep, Step, StepAction, StepTransition};

const STEP_COLUMNS: &str = "step_uuid, task_uuid, step_name, handler, position, state, attempts, max_attempts, \
     depends_on, parents_pending, ready, next_retry_at, results, last_error, timeout_seconds, enqueued_at, \
     claimed_at, completed_at, created_at, updated_at";

/// A task's steps in template order, through any executor (empty when there is no such task).
pub async fn fetch_steps<'e, E: sqlx::PgExecutor<'e>>(executor: E, task_uuid: Uuid) -> EngineResult<Vec<Step>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {STEP_COLUMNS} FROM tasker.step_overview WHERE task_uuid = $1 ORDER BY position"
    ))
    .bind(task_uuid)
    .fetch_all(executor)
    .await?)
}

/// The steps of a task among `step_uuids`, in template order.
pub async fn fetch_steps_by_uuid<'e, E: sqlx::PgExecutor<'e>>(
    executor: E,
    task_uuid: Uuid,
    step_uuids: &[Uuid],
) -> EngineResult<Vec<Step>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {STEP_COLUMNS} FROM tasker.step_overview WHERE task_uuid = $1 AND step_uuid = ANY ($2) ORDER BY position"
    ))
    .bind(task_uuid)
    .bind(step_uuids)
    .fetch_all(executor)
    .await?)
}

/// One step of a task; `None` when the task has no such step.
pub async fn fetch_step(pool: &PgPool, task_uuid: Uuid, step_uuid: Uuid) -> EngineResult<Option<Step>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {STEP_COLUMNS} FROM tasker.step_overview WHERE task_uuid = $1 AND step_uuid = $2"
    ))
    .bind(task_uuid)
    .bind(step_uuid)
    .fetch_optional(pool)
    .await?)
}

/// An operator action on one step (`tasker.resolve_step`, `tasker.complete_step` with
/// `result`, `tasker.reset_step`); returns the step's new state.
pub async fn act_on_step(
    pool: &PgPool,
    step_uuid: Uuid,
    action: StepAction,
    reason: Option<&str>,
    result: Option<Value>,
) -> EngineResult<String> {
    let query = match action {
        StepAction::ResolveManually => {
            sqlx::query_scalar::<_, String>("SELECT tasker.resolve_step($1, $2)").bind(step_uuid).bind(reason)
        }
        StepAction::CompleteManually => sqlx::query_scalar::<_, String>("SELECT tasker.complete_step($1, $3, $2)")
            .bind(step_uuid)
            .bind(reason)
            .bind(result.unwrap_or(Value::Null)),
        StepAction::ResetForRetry => {
            sqlx::query_scalar::<_, String>("SELECT tasker.reset_step($1, $2)").bind(step_uuid).bind(reason)
        }
    };
    Ok(query.fetch_one(pool).await?)
}

/// `tasker.step_transitions`: a step's state history, oldest first.
pub async fn step_transitions(pool: &PgPool, step_uuid: Uuid) -> EngineResult<Vec<StepTransition>> {
    Ok(sqlx::query_as("SELECT * FROM tasker.step_transitions($1)").bind(step_uuid).fetch_all(pool).await?)
}

/// `tasker.retry_failed_steps`: every failed step matching `filter` (its JSON form), reset for
/// retry unless `dry_run` says only to list them.
pub async fn retry_failed_steps(pool: &PgPool, filter: &Value) -> EngineResult<Vec<RetriedStep>> {
    Ok(sqlx::query_as("SELECT * FROM tasker.retry_failed_steps($1)").bind(filter).fetch_all(pool).await?)
}
