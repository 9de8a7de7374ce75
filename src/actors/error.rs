//! The actors' one error type: what a `run_once` or a task submission can fail with.

use std::time::Duration;

use uuid::Uuid;

use crate::db::EngineError;

/// Why an actor call failed.
#[derive(Debug, thiserror::Error)]
pub enum ActorError {
    /// The engine call failed (for a task request: this request was rejected, e.g. unknown
    /// template, or the database failed).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The task request channel is full: try again after `retry_after`.
    #[error("the task request channel is full; retry in {} ms", retry_after.as_millis())]
    Backpressure {
        /// When to retry.
        retry_after: Duration,
    },
    /// The actor cannot take work now: its circuit breaker is open, it is shutting down, or no
    /// answer came within the reply timeout. The string says which, for the caller.
    #[error("{0}")]
    Unavailable(String),
    /// The whole batch this request was part of failed unexpectedly; the failure was logged
    /// once under this correlation id.
    #[error("task creation failed (correlation id {correlation_id})")]
    BatchFailed {
        /// Log correlation id.
        correlation_id: Uuid,
    },
    /// An actor `Config` value is out of range (found at construction).
    #[error("invalid {actor} actor configuration: {field} {reason}")]
    InvalidConfig {
        /// The actor.
        actor: &'static str,
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Result of an actor call.
pub type ActorResult<T> = Result<T, ActorError>;

/// Checks that a `Config` field is at least 1.
pub(crate) fn positive(actor: &'static str, field: &'static str, value: u64) -> ActorResult<()> {
    if value == 0 {
        return Err(ActorError::InvalidConfig { actor, field, reason: "must be at least 1".into() });
    }
    Ok(())
}
