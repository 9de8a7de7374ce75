use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Step, Task};

/// Where a follower of a task's history stands: the database snapshot (`pg_snapshot` text) of
/// its last read. The changes after it are those committed by transactions that snapshot does
/// not see, so a follower sees every change once, in commit order
/// (`tasker.task_history_after`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowCursor(pub String);

/// What changed in a task after a [`FollowCursor`], read in one transaction.
#[derive(Debug, Clone)]
pub struct TaskChanges {
    /// The changes, in the order they happened.
    pub events: Vec<TaskEvent>,
    /// The task as it stands, when one of the changes is the task's.
    pub task: Option<Task>,
    /// The steps that changed, as they stand, in template order.
    pub steps: Vec<Step>,
    /// The cursor of the next read.
    pub cursor: FollowCursor,
}

/// One recorded state change of a task or of one of its steps.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct TaskEvent {
    /// `task` or `step`.
    pub kind: String,
    /// History id (per kind).
    pub id: i64,
    /// The step (step events).
    pub step_uuid: Option<Uuid>,
    /// The step's name (step events).
    pub step_name: Option<String>,
    /// The step's position in the template (step events).
    pub step_position: Option<i32>,
    /// State before (absent for the first entry).
    pub from_state: Option<String>,
    /// State after.
    pub to_state: String,
    /// The event.
    pub event: String,
    /// The step's attempt number (step events).
    pub attempt: Option<i32>,
    /// Reason, error, worker…
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// When.
    pub created_at: DateTime<Utc>,
}
