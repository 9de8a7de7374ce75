use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// A workflow step.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Step {
    /// Id.
    pub step_uuid: Uuid,
    /// Its task.
    pub task_uuid: Uuid,
    /// Step name within the template.
    #[sqlx(rename = "step_name")]
    pub name: String,
    /// Handler name.
    pub handler: String,
    /// Position in the template.
    pub position: i32,
    /// One of the 8 step states.
    pub state: String,
    /// Attempts so far.
    pub attempts: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// Names of the steps it depends on.
    pub depends_on: Vec<String>,
    /// Parents not yet satisfied.
    pub parents_pending: i32,
    /// Dispatchable now.
    pub ready: bool,
    /// When a retry is due.
    pub next_retry_at: Option<DateTime<Utc>>,
    /// Result of the last successful run.
    #[schema(value_type = Option<Object>)]
    pub results: Option<Value>,
    /// The last error.
    #[schema(value_type = Option<Object>)]
    pub last_error: Option<Value>,
    /// Per-attempt timeout.
    pub timeout_seconds: i32,
    /// Last dispatched.
    pub enqueued_at: Option<DateTime<Utc>>,
    /// Last claimed by a worker.
    pub claimed_at: Option<DateTime<Utc>>,
    /// Completed or resolved.
    pub completed_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// One entry of a step's state history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct StepTransition {
    /// Sequence id.
    pub id: i64,
    /// Previous state (absent for the first entry).
    pub from_state: Option<String>,
    /// New state.
    pub to_state: String,
    /// The event that caused it.
    pub event: String,
    /// Attempt number at the time.
    pub attempt: i32,
    /// Reason, error, worker…
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// What an operator does to a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepAction {
    /// Mark resolved; satisfies dependents without results.
    ResolveManually,
    /// Mark complete with the given result.
    CompleteManually,
    /// Put a failed step back to pending with zero attempts.
    ResetForRetry,
}

/// Body of `PATCH …/workflow_steps/{step_uuid}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepActionRequest {
    /// The action.
    pub action: StepAction,
    /// Why (recorded in the step's history).
    #[serde(default)]
    pub reason: Option<String>,
    /// Result for `complete_manually`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
}

/// Which failed steps a batch retry resets; every field optional, combined with AND.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryFilter {
    /// Template namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Template name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Template version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Only these tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_uuids: Option<Vec<Uuid>>,
    /// Only these step names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_names: Option<Vec<String>>,
    /// Case-insensitive text in the step's last error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_contains: Option<String>,
    /// The error's class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_class: Option<String>,
    /// Failed at or after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_after: Option<DateTime<Utc>>,
    /// Failed before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_before: Option<DateTime<Utc>>,
    /// Most steps reset (1-100000, default 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 100000)]
    pub limit: Option<u32>,
    /// Show what would change, change nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// Recorded in each step's history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A step reset (or that would be, in a dry run).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct RetriedStep {
    /// The step.
    pub step_uuid: Uuid,
    /// Its task.
    pub task_uuid: Uuid,
    /// Namespace.
    pub namespace: String,
    /// Template name.
    pub task_name: String,
    /// Step name.
    pub step_name: String,
    /// Attempts before the reset.
    pub previous_attempts: i32,
    /// Error before the reset.
    #[schema(value_type = Option<Object>)]
    pub last_error: Option<Value>,
    /// Task state before.
    pub task_state_before: String,
    /// Task state after.
    pub task_state_after: String,
}

/// Result of a batch retry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RetryOutcome {
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Number of steps.
    pub count: usize,
    /// The steps.
    pub steps: Vec<RetriedStep>,
}
