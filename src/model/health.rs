//! Health: what `/health*`, gRPC HealthService and `/metrics` report about the server, its
//! database, its actors and their circuit breakers.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One component's health.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ComponentStatus {
    /// Component name (`database`, `migrations`, `actors`, `circuit_breakers`).
    pub name: String,
    /// Whether it is healthy.
    pub healthy: bool,
    /// Why not, or a detail.
    pub message: Option<String>,
}

/// A health answer: `healthy` only when every check is.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HealthReport {
    /// `healthy` or `unhealthy`.
    pub status: String,
    /// Server version.
    pub version: String,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// The checks made.
    pub checks: Vec<ComponentStatus>,
}

impl HealthReport {
    /// Whether every check passed.
    pub fn is_healthy(&self) -> bool {
        self.status == "healthy"
    }
}

/// Connection pool use.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PoolStats {
    /// Open connections.
    pub size: u32,
    /// Idle connections.
    pub idle: u32,
    /// Maximum.
    pub max: u32,
}

/// A pgmq queue's depth.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct QueueDepth {
    /// Queue name.
    pub queue_name: String,
    /// Messages in the queue.
    pub length: i64,
    /// Messages visible now (not held by a reader).
    pub visible: i64,
    /// Age of the oldest message.
    pub oldest_msg_age_seconds: Option<i32>,
}

/// Everything health knows.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DetailedHealth {
    /// `healthy` or `unhealthy`.
    pub status: String,
    /// Server version.
    pub version: String,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// The readiness checks.
    pub checks: Vec<ComponentStatus>,
    /// Pool use.
    pub pool: PoolStats,
    /// Queue depths.
    pub queues: Vec<QueueDepth>,
    /// Per-actor status, throughput and intake.
    pub actors: Vec<ActorStatus>,
    /// Circuit breakers.
    pub circuit_breakers: Vec<BreakerStatus>,
}

/// How work reaches an actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorIntake {
    /// A bounded channel of commands (the task request actor): each command waits its turn, a
    /// full channel is backpressure, and its depth against its capacity is meaningful.
    Queue,
    /// A coalesced wake-up (the batch actors): any number of notifications while one is pending
    /// collapse into that one, so there is nothing to saturate; the actor then drains its table
    /// or queue in batches.
    WakeUp,
}

/// One actor's status.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ActorStatus {
    /// Actor name.
    pub name: String,
    /// Whether its loop is running.
    pub running: bool,
    /// How work reaches it.
    pub intake: ActorIntake,
    /// Channel capacity: the configured size of a queue, 1 for a wake-up.
    pub channel_capacity: usize,
    /// Commands waiting in a queue; for a wake-up, 1 when one is pending, else 0.
    pub channel_depth: usize,
    /// Queue depth / capacity, 0-1; absent for a wake-up, which cannot saturate.
    pub channel_saturation: Option<f64>,
    /// Whether a wake-up is pending (wake-up intake only).
    pub wake_up_pending: Option<bool>,
    /// Rows handled since start.
    pub processed: u64,
    /// Failed iterations since start.
    pub errors: u64,
    /// Iterations (SQL calls) since start.
    pub iterations: u64,
}

/// A circuit breaker's state for health and metrics.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BreakerStatus {
    /// Breaker name.
    pub name: String,
    /// `closed`, `half_open` or `open`.
    pub state: String,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// Failures since start.
    pub total_failures: u64,
    /// Times it opened since start.
    pub opened_count: u64,
}
