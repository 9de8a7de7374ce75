//! Task history for followers: a consistent snapshot with the history it reflects, then every
//! change recorded after a cursor.

use sqlx::Connection;
use uuid::Uuid;

use super::steps::fetch_steps;
use super::tasks::fetch_task;
use super::{Service, ServiceResult};
use crate::model::{HistoryCursor, Step, Task, TaskEvent};

impl Service {
    /// The task, its steps and its whole recorded history, read in one REPEATABLE READ
    /// transaction so they agree: any change missing from the history is missing from the
    /// snapshot too. (History ids are handed out in insertion order, not commit order, so a
    /// follower compares sets of ids, never only the highest one.)
    pub async fn task_snapshot(&self, task_uuid: Uuid) -> ServiceResult<(Task, Vec<Step>, Vec<TaskEvent>)> {
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        let task = fetch_task(&mut *tx, task_uuid).await?;
        let steps = fetch_steps(&mut *tx, task_uuid).await?;
        let history: Vec<TaskEvent> = sqlx::query_as("SELECT * FROM tasker.task_history_since($1, 0, 0)")
            .bind(task_uuid)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((task, steps, history))
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
