use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// Where a follower of a task's history stands: the last task and step history ids it has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct HistoryCursor {
    /// Last task history id seen.
    pub task_id: i64,
    /// Last step history id seen.
    pub step_id: i64,
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
