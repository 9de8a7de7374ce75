//! Task history for followers: a consistent snapshot with the history it reflects, then every
//! change recorded after a cursor.

use uuid::Uuid;

use super::{Service, ServiceError, ServiceResult};
use crate::db::engine;
use crate::model::{HistoryCursor, Step, Task, TaskEvent};

impl Service {
    /// The task, its steps and its whole recorded history, read in one REPEATABLE READ
    /// transaction so they agree: any change missing from the history is missing from the
    /// snapshot too. (History ids are handed out in insertion order, not commit order, so a
    /// follower compares sets of ids, never only the highest one.)
    pub async fn task_snapshot(&self, task_uuid: Uuid) -> ServiceResult<(Task, Vec<Step>, Vec<TaskEvent>)> {
        engine::history::task_snapshot(self.pool(), task_uuid)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("task {task_uuid} not found")))
    }

    /// The steps of a task among `step_uuids`, in template order.
    pub async fn steps_by_uuid(&self, task_uuid: Uuid, step_uuids: &[Uuid]) -> ServiceResult<Vec<Step>> {
        Ok(engine::steps::fetch_steps_by_uuid(self.pool(), task_uuid, step_uuids).await?)
    }

    /// Every task and step state change after `cursor`, in the order they happened.
    pub async fn task_history_since(&self, task_uuid: Uuid, cursor: HistoryCursor) -> ServiceResult<Vec<TaskEvent>> {
        Ok(engine::history::task_history_since(self.pool(), task_uuid, cursor).await?)
    }
}
