//! Plain types shared by the service layer and both transports: requests, resources, states.
//! They serialize to the JSON of the REST API and convert to the protobuf messages of gRPC.

mod analytics;
mod dlq;
mod health;
mod history;
mod step;
mod task;
mod template;

pub use analytics::{Bottlenecks, PerformanceMetrics, SlowStep, SlowTemplate, ThroughputBucket};
pub use dlq::{DlqEntry, DlqListQuery, DlqStats, DlqStatusCount, DlqUpdate};
pub use health::{
    ActorIntake, ActorStatus, BreakerStatus, ComponentStatus, DetailedHealth, HealthReport, PoolStats, QueueDepth,
};
pub use history::{FollowCursor, TaskChanges, TaskEvent};
pub use step::{RetriedStep, RetryFilter, RetryOutcome, Step, StepAction, StepActionRequest, StepTransition};
pub use task::{Page, StepCounts, Task, TaskListQuery, TaskRequest};
pub use template::{Template, TemplateSummary};

use serde::Serialize;
use utoipa::ToSchema;

/// A task state, as the OpenAPI document lists it (the values of [`TASK_STATES`]; requests carry
/// it as text).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum TaskStateName {
    Pending,
    Initializing,
    EnqueuingSteps,
    StepsInProcess,
    EvaluatingResults,
    WaitingForDependencies,
    WaitingForRetry,
    BlockedByFailures,
    Complete,
    Error,
    Cancelled,
    ResolvedManually,
}

/// A DLQ entry's resolution status, as the OpenAPI document lists it (the values of the service's
/// `DLQ_STATUSES`; requests carry it as text).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum DlqStatusName {
    Pending,
    Investigating,
    Resolved,
    Retried,
    Discarded,
}

/// The 12 task states.
pub const TASK_STATES: &[&str] = &[
    "pending",
    "initializing",
    "enqueuing_steps",
    "steps_in_process",
    "evaluating_results",
    "waiting_for_dependencies",
    "waiting_for_retry",
    "blocked_by_failures",
    "complete",
    "error",
    "cancelled",
    "resolved_manually",
];

/// Task states in which the engine will not move the task again by itself.
pub const TASK_FINAL_STATES: &[&str] = &["complete", "error", "cancelled", "resolved_manually"];

/// The 8 step states.
pub const STEP_STATES: &[&str] =
    &["pending", "enqueued", "in_progress", "waiting_for_retry", "complete", "error", "cancelled", "resolved_manually"];
