//! The service layer's one error type, and the translation of engine and actor errors into it.
//!
//! Engine functions raise SQLSTATEs of class `TK` with messages written for users; `db` turns
//! them into [`EngineError`] variants and their messages are passed on. Anything else is logged
//! once here with a correlation id, and only the id reaches the client.

use std::time::Duration;

use uuid::Uuid;

use crate::actors::ActorError;
use crate::db::EngineError;

/// Why a service call failed. Each transport maps it once (HTTP status, gRPC code).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The task, step, template or entry does not exist (TK002).
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed or fails validation (TK004, bad query values).
    #[error("{0}")]
    InvalidInput(String),
    /// A template definition is invalid (TK003).
    #[error("{0}")]
    InvalidTemplate(String),
    /// The idempotency key was used for a different request (TK005).
    #[error("{0}")]
    IdempotencyConflict(String),
    /// The resource's state does not allow the operation (TK001, TK006).
    #[error("{0}")]
    NotAllowed(String),
    /// A bounded channel is full: try again later.
    #[error("the server is busy; retry in {} ms", retry_after.as_millis())]
    Backpressure {
        /// When to retry.
        retry_after: Duration,
    },
    /// A dependency (database, actor) is unavailable or timed out.
    #[error("{0}")]
    Unavailable(String),
    /// An unexpected failure; details are in the server log under this id.
    #[error("internal error (correlation id {correlation_id})")]
    Internal {
        /// Log correlation id.
        correlation_id: Uuid,
    },
}

impl ServiceError {
    /// An internal error: logs `what` with a new correlation id and returns the error carrying it.
    pub fn internal(what: impl std::fmt::Display) -> Self {
        let correlation_id = Uuid::now_v7();
        tracing::error!(%correlation_id, error = %what, "internal error");
        ServiceError::Internal { correlation_id }
    }

    /// A short machine-readable kind, used in problem `type` URIs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ServiceError::NotFound(_) => "not-found",
            ServiceError::InvalidInput(_) => "invalid-input",
            ServiceError::InvalidTemplate(_) => "invalid-template",
            ServiceError::IdempotencyConflict(_) => "idempotency-conflict",
            ServiceError::NotAllowed(_) => "not-allowed",
            ServiceError::Backpressure { .. } => "backpressure",
            ServiceError::Unavailable(_) => "unavailable",
            ServiceError::Internal { .. } => "internal",
        }
    }
}

impl From<EngineError> for ServiceError {
    /// Engine errors keep their message (and hint); connection problems become `Unavailable`
    /// (logged as a warning); everything else is internal (logged with a correlation id).
    fn from(err: EngineError) -> Self {
        match err {
            EngineError::NotFound(m) => ServiceError::NotFound(m),
            EngineError::InvalidTemplate(m) => ServiceError::InvalidTemplate(m),
            EngineError::InvalidInput(m) => ServiceError::InvalidInput(m),
            EngineError::IdempotencyConflict(m) => ServiceError::IdempotencyConflict(m),
            EngineError::IllegalTransition(m) | EngineError::NotAllowed(m) => ServiceError::NotAllowed(m),
            EngineError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "database unavailable");
                ServiceError::Unavailable("the database is unavailable; retry later".into())
            }
            err @ (EngineError::Sql { .. } | EngineError::Database(_)) => ServiceError::internal(err),
        }
    }
}

impl From<ActorError> for ServiceError {
    fn from(err: ActorError) -> Self {
        match err {
            ActorError::Engine(e) => e.into(),
            ActorError::Backpressure { retry_after } => ServiceError::Backpressure { retry_after },
            ActorError::Unavailable(m) => ServiceError::Unavailable(m),
            ActorError::BatchFailed { correlation_id } => ServiceError::Internal { correlation_id },
            err @ ActorError::InvalidConfig { .. } => ServiceError::internal(err),
        }
    }
}
