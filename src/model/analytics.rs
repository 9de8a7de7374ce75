use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Throughput and outcomes over a window.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct PerformanceMetrics {
    /// Window in hours.
    pub hours: i32,
    /// Tasks created in the window.
    pub tasks_created: i64,
    /// Tasks that completed in the window.
    pub tasks_completed: i64,
    /// Tasks that ended in error in the window.
    pub tasks_failed: i64,
    /// Tasks cancelled in the window.
    pub tasks_cancelled: i64,
    /// Tasks created in the window and still running.
    pub tasks_active: i64,
    /// completed / (completed + failed), 0-1.
    pub completion_rate: f64,
    /// failed / (completed + failed), 0-1.
    pub error_rate: f64,
    /// Mean creation-to-completion time of tasks completed in the window.
    pub mean_task_duration_ms: Option<f64>,
    /// Mean claim-to-completion time of steps completed in the window.
    pub mean_step_duration_ms: Option<f64>,
    /// Steps completed in the window.
    pub steps_completed: i64,
    /// Steps completed per second over the window.
    pub steps_per_second: f64,
    /// Tasks completed per hour over the window.
    pub tasks_per_hour: f64,
}

/// A slow step, by template and step name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct SlowStep {
    /// Namespace.
    pub namespace: String,
    /// Template name.
    pub task_name: String,
    /// Step name.
    pub step_name: String,
    /// Completed runs.
    pub executions: i64,
    /// Mean claim-to-completion time.
    pub mean_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// Share of steps of this name that ended in error, 0-1.
    pub error_rate: f64,
}

/// A slow template.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct SlowTemplate {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Completed tasks.
    pub tasks: i64,
    /// Mean creation-to-completion time.
    pub mean_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
}

/// Where time goes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Bottlenecks {
    /// Slowest steps first.
    pub slowest_steps: Vec<SlowStep>,
    /// Slowest templates first.
    pub slowest_templates: Vec<SlowTemplate>,
}

/// One hour of the throughput series (`tasker.throughput_series`).
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow)]
pub struct ThroughputBucket {
    /// Start of the hour.
    pub bucket_start: chrono::DateTime<chrono::Utc>,
    /// Tasks created in the hour.
    pub tasks_created: i64,
    /// Tasks that completed in the hour.
    pub tasks_completed: i64,
    /// Tasks that ended in error in the hour.
    pub tasks_failed: i64,
}
