//! Task history for followers: a consistent snapshot with a commit-ordered cursor, then the
//! changes committed after it.

use uuid::Uuid;

use super::{Service, ServiceError, ServiceResult};
use crate::db::engine;
use crate::model::{FollowCursor, Step, Task, TaskChanges};

impl Service {
    /// The task, its steps and the cursor after which the changes it does not show are read,
    /// in one REPEATABLE READ transaction so that they agree.
    pub async fn task_snapshot(&self, task_uuid: Uuid) -> ServiceResult<(Task, Vec<Step>, FollowCursor)> {
        engine::history::task_snapshot(self.pool(), task_uuid)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("task {task_uuid} not found")))
    }

    /// The changes of a task committed after `after` (every change once, in commit order), with
    /// the task and the changed steps as they stand at the returned cursor.
    pub async fn task_changes_after(&self, task_uuid: Uuid, after: &FollowCursor) -> ServiceResult<TaskChanges> {
        Ok(engine::history::task_changes_after(self.pool(), task_uuid, after).await?)
    }
}
