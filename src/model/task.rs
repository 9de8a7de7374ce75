use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// A request to run a template. `version` absent means the latest registered version.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskRequest {
    /// Template name (not blank).
    #[schema(pattern = r"\S")]
    pub name: String,
    /// Template namespace (not blank).
    #[schema(pattern = r"\S")]
    pub namespace: String,
    /// Template version; absent = most recently registered.
    #[serde(default)]
    pub version: Option<String>,
    /// Task context, a JSON object handed to every step (checked against the template's input_schema).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub context: Option<Value>,
    /// Who asked.
    #[serde(default)]
    pub initiator: Option<String>,
    /// Which system asked.
    #[serde(default)]
    pub source_system: Option<String>,
    /// Why.
    #[serde(default)]
    pub reason: Option<String>,
    /// Free-form labels.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Higher runs first (-1000000..=1000000, default 0).
    #[serde(default)]
    #[schema(minimum = -1000000, maximum = 1000000)]
    pub priority: Option<i32>,
    /// Same key and same request -> the same task; same key, different request -> conflict
    /// (1-255 characters).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    pub idempotency_key: Option<String>,
    /// Correlation id for tracing across systems (defaults to the task uuid).
    #[serde(default)]
    pub correlation_id: Option<Uuid>,
}

/// Steps of a task per state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StepCounts {
    /// pending
    pub pending: i64,
    /// enqueued
    pub enqueued: i64,
    /// in_progress
    pub in_progress: i64,
    /// waiting_for_retry
    pub waiting_for_retry: i64,
    /// complete
    pub complete: i64,
    /// error
    pub error: i64,
    /// cancelled
    pub cancelled: i64,
    /// resolved_manually
    pub resolved_manually: i64,
}

/// A task with its progress.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Task {
    /// Id (UUIDv7, time-ordered).
    pub task_uuid: Uuid,
    /// Template namespace.
    pub namespace: String,
    /// Template name.
    pub name: String,
    /// Template version.
    pub version: String,
    /// One of the 12 task states.
    pub state: String,
    /// The task context. Always present on a single task; absent from list items unless the list
    /// was asked for it (`include=context`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
    /// Priority.
    pub priority: i32,
    /// Tags.
    pub tags: Vec<String>,
    /// Who asked.
    pub initiator: Option<String>,
    /// Which system asked.
    pub source_system: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// Idempotency key, if any.
    pub idempotency_key: Option<String>,
    /// Correlation id.
    pub correlation_id: Uuid,
    /// Number of steps.
    pub steps_total: i32,
    /// Steps per state.
    pub step_counts: StepCounts,
    /// Share of steps complete or resolved, 0-100.
    pub completion_pct: f64,
    /// The most recent step error.
    #[schema(value_type = Option<Object>)]
    pub last_error: Option<Value>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Reached a final state.
    pub completed_at: Option<DateTime<Utc>>,
}

/// Filters and paging for listing tasks (newest first).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TaskListQuery {
    /// Only this namespace.
    pub namespace: Option<String>,
    /// Only this template name.
    pub name: Option<String>,
    /// Only this state.
    #[param(value_type = Option<super::TaskStateName>)]
    pub state: Option<String>,
    /// Created at or after.
    pub created_after: Option<DateTime<Utc>>,
    /// Created before.
    pub created_before: Option<DateTime<Utc>>,
    /// Page size (1-500, default 50; with `include=context` a page holds at most 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page (a task uuid; empty = first page).
    #[param(pattern = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$")]
    pub cursor: Option<String>,
    /// `context` to return each task's context too (list items are summaries without it);
    /// pages are then at most 100 tasks.
    #[param(pattern = r"^(context)?$")]
    pub include: Option<String>,
}

/// One page of a list; `next_cursor` fetches the next (absent on the last page). Pages are stable
/// under inserts: items are ordered newest first by id, and the cursor is the last id served.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}
