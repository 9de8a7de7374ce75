use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// A dead letter queue entry: a task that ended in `error`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct DlqEntry {
    /// Id.
    pub id: i64,
    /// The task.
    pub task_uuid: Uuid,
    /// Namespace.
    pub namespace: String,
    /// Template name.
    pub name: String,
    /// Template version.
    pub version: String,
    /// Why the task failed (its failed steps and their errors).
    pub reason: String,
    /// Task state when the entry was made.
    pub state_at_entry: String,
    /// Task state now.
    pub task_state_now: String,
    /// pending, investigating, resolved, retried or discarded.
    pub resolution_status: String,
    /// Investigation notes.
    pub resolution_notes: Option<String>,
    /// Who resolved it.
    pub resolved_by: Option<String>,
    /// Steps in error at the time.
    pub failed_steps: Vec<String>,
    /// Task and steps at the time. Present on the entries of one task and on an updated entry;
    /// absent from list pages (a snapshot holds the whole task).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub snapshot: Option<Value>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Resolved, retried or discarded at.
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Filters for listing DLQ entries (newest first).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DlqListQuery {
    /// Only this status.
    #[param(value_type = Option<super::DlqStatusName>)]
    pub resolution_status: Option<String>,
    /// Only this namespace.
    pub namespace: Option<String>,
    /// Page size (1-500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page (an entry id; empty = first page).
    #[param(pattern = "^[0-9]{0,18}$")]
    pub cursor: Option<String>,
}

/// Body of `PATCH /v1/dlq/entry/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DlqUpdate {
    /// New status.
    #[serde(default)]
    #[schema(value_type = Option<super::DlqStatusName>)]
    pub resolution_status: Option<String>,
    /// Notes to append.
    #[serde(default)]
    pub resolution_notes: Option<String>,
    /// Who.
    #[serde(default)]
    pub resolved_by: Option<String>,
}

/// Entries per status.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct DlqStatusCount {
    /// Status.
    pub resolution_status: String,
    /// Entries.
    pub count: i64,
}

/// DLQ summary.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DlqStats {
    /// All entries.
    pub total: i64,
    /// Entries per status.
    pub by_status: Vec<DlqStatusCount>,
    /// Age of the oldest entry still pending or investigating.
    pub oldest_open_age_seconds: Option<f64>,
}
