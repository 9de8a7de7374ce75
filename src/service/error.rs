//! The service layer's one error type, and the translation of database errors into it.
//!
//! Engine functions raise SQLSTATEs of class `TK` with messages written for users; those
//! messages are passed on. Anything else is logged once here with a correlation id, and only the
//! id reaches the client.

use std::time::Duration;

use uuid::Uuid;

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

/// The engine's SQLSTATE class.
pub const SQLSTATE_ILLEGAL_TRANSITION: &str = "TK001";
/// Not found.
pub const SQLSTATE_NOT_FOUND: &str = "TK002";
/// Invalid template.
pub const SQLSTATE_INVALID_TEMPLATE: &str = "TK003";
/// Invalid input.
pub const SQLSTATE_INVALID_INPUT: &str = "TK004";
/// Idempotency conflict.
pub const SQLSTATE_IDEMPOTENCY_CONFLICT: &str = "TK005";
/// Operation not allowed in the current state.
pub const SQLSTATE_NOT_ALLOWED: &str = "TK006";

impl ServiceError {
    /// An internal error: logs `what` with a new correlation id and returns the error carrying it.
    pub fn internal(what: impl std::fmt::Display) -> Self {
        let correlation_id = Uuid::now_v7();
        tracing::error!(%correlation_id, error = %what, "internal error");
        ServiceError::Internal { correlation_id }
    }

    /// Translates a database error. Engine errors keep their message (and hint); connection
    /// problems become `Unavailable`; everything else is internal.
    pub fn from_db(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.to_string()).unwrap_or_default();
                let mut message = db.message().to_string();
                if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                    if let Some(hint) = pg.hint() {
                        message = format!("{message} ({hint})");
                    }
                }
                ServiceError::from_sqlstate(&code, message)
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::warn!(error = %err, "database unavailable");
                ServiceError::Unavailable("the database is unavailable; retry later".into())
            }
            _ => ServiceError::internal(err),
        }
    }

    /// Translates an engine error given as SQLSTATE and message (as `tasker.create_tasks`
    /// reports them per request): `TK` codes keep their message, anything else is internal.
    pub fn from_sqlstate(code: &str, message: String) -> Self {
        match code {
            SQLSTATE_NOT_FOUND => ServiceError::NotFound(message),
            SQLSTATE_INVALID_TEMPLATE => ServiceError::InvalidTemplate(message),
            SQLSTATE_INVALID_INPUT => ServiceError::InvalidInput(message),
            SQLSTATE_IDEMPOTENCY_CONFLICT => ServiceError::IdempotencyConflict(message),
            SQLSTATE_ILLEGAL_TRANSITION | SQLSTATE_NOT_ALLOWED => ServiceError::NotAllowed(message),
            // query_canceled (statement timeout), too_many_connections, admin shutdown…
            "57014" | "53300" | "57P01" | "57P02" | "57P03" => {
                ServiceError::Unavailable("the database is unavailable; retry later".into())
            }
            _ => ServiceError::internal(format!("SQLSTATE {code}: {message}")),
        }
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

impl From<sqlx::Error> for ServiceError {
    fn from(err: sqlx::Error) -> Self {
        ServiceError::from_db(err)
    }
}
