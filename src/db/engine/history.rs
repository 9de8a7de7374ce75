//! A task's history for followers: a consistent snapshot, then every change after a cursor
//! (`tasker.task_history_since`).

use sqlx::{Connection, PgPool};
use uuid::Uuid;

use super::steps::fetch_steps;
use super::tasks::fetch_task;
use crate::db::error::EngineResult;
use crate::model::{HistoryCursor, Step, Task, TaskEvent};

/// The task (`None` when unknown), its steps and its whole recorded history, read in one
/// REPEATABLE READ, READ ONLY transaction so that they agree.
pub async fn task_snapshot(pool: &PgPool, task_uuid: Uuid) -> EngineResult<Option<(Task, Vec<Step>, Vec<TaskEvent>)>> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
    let Some(task) = fetch_task(&mut *tx, task_uuid).await? else { return Ok(None) };
    let steps = fetch_steps(&mut *tx, task_uuid).await?;
    let history: Vec<TaskEvent> =
        sqlx::query_as("SELECT * FROM tasker.task_history_since($1, 0, 0)").bind(task_uuid).fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(Some((task, steps, history)))
}

/// Every task and step state change of a task after `cursor`, in the order they happened.
pub async fn task_history_since(pool: &PgPool, task_uuid: Uuid, cursor: HistoryCursor) -> EngineResult<Vec<TaskEvent>> {
    Ok(sqlx::query_as("SELECT * FROM tasker.task_history_since($1, $2, $3)")
        .bind(task_uuid)
        .bind(cursor.task_id)
        .bind(cursor.step_id)
        .fetch_all(pool)
        .await?)
}
