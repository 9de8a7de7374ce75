//! Task history for followers: a consistent snapshot with a cursor, then every change after it.

use sqlx::Connection;
use uuid::Uuid;

use super::steps::fetch_steps;
use super::tasks::fetch_task;
use super::{Service, ServiceResult};
use crate::model::{HistoryCursor, Step, Task, TaskEvent};

impl Service {
    /// The task, its steps and the history cursor, read in one REPEATABLE READ transaction so the
    /// snapshot and the cursor agree: every change after the cursor is missing from the snapshot.
    pub async fn task_snapshot(&self, task_uuid: Uuid) -> ServiceResult<(Task, Vec<Step>, HistoryCursor)> {
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        let task = fetch_task(&mut *tx, task_uuid).await?;
        let steps = fetch_steps(&mut *tx, task_uuid).await?;
        let cursor: HistoryCursor = sqlx::query_as("SELECT task_id, step_id FROM tasker.task_history_cursor($1)")
            .bind(task_uuid)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((task, steps, cursor))
    }

    /// Every task and step state change after `cursor`, in the order they happened.
    pub async fn task_history_since(&self, task_uuid: Uuid, cursor: HistoryCursor) -> ServiceResult<Vec<TaskEvent>> {
        Ok(sqlx::query_as("SELECT * FROM tasker.task_history_since($1, $2, $3)")
            .bind(task_uuid)
            .bind(cursor.task_id)
            .bind(cursor.step_id)
            .fetch_all(self.pool())
            .await?)
    }
}
