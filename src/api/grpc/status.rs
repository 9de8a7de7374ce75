//! The one mapping from [`ServiceError`] (and [`AuthError`]) to [`tonic::Status`].
//!
//! | service error | gRPC code |
//! |---|---|
//! | `NotFound` | NOT_FOUND |
//! | `InvalidInput`, `InvalidTemplate` | INVALID_ARGUMENT |
//! | `IdempotencyConflict` | ALREADY_EXISTS |
//! | `NotAllowed` | FAILED_PRECONDITION |
//! | `Backpressure` | RESOURCE_EXHAUSTED, with `retry-after-ms` metadata and the delay in the message |
//! | `Unavailable` | UNAVAILABLE, with `retry-after-ms` metadata |
//! | `Internal` | INTERNAL: only the correlation id (also in `x-correlation-id` metadata) |

use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

use crate::api::auth::AuthError;
use crate::service::ServiceError;

/// Metadata key carrying how long to wait before retrying, in milliseconds.
pub const RETRY_AFTER_MS: &str = "retry-after-ms";
/// Metadata key carrying the correlation id of an internal error.
pub const CORRELATION_ID: &str = "x-correlation-id";

/// How long an UNAVAILABLE answer asks clients to wait.
const UNAVAILABLE_RETRY_MS: u128 = 1000;

fn with_metadata(mut status: Status, key: &'static str, value: String) -> Status {
    if let Ok(v) = MetadataValue::try_from(value.as_str()) {
        status.metadata_mut().insert(key, v);
    }
    status
}

impl From<ServiceError> for Status {
    fn from(e: ServiceError) -> Self {
        // Every message is written for clients; `Internal`'s holds only the correlation id.
        let message = e.to_string();
        match e {
            ServiceError::NotFound(_) => Status::new(Code::NotFound, message),
            ServiceError::InvalidInput(_) | ServiceError::InvalidTemplate(_) => {
                Status::new(Code::InvalidArgument, message)
            }
            ServiceError::IdempotencyConflict(_) => Status::new(Code::AlreadyExists, message),
            ServiceError::NotAllowed(_) => Status::new(Code::FailedPrecondition, message),
            ServiceError::Backpressure { retry_after } => with_metadata(
                Status::new(Code::ResourceExhausted, message),
                RETRY_AFTER_MS,
                retry_after.as_millis().to_string(),
            ),
            ServiceError::Unavailable(_) => {
                with_metadata(Status::new(Code::Unavailable, message), RETRY_AFTER_MS, UNAVAILABLE_RETRY_MS.to_string())
            }
            ServiceError::Internal { correlation_id } => {
                with_metadata(Status::new(Code::Internal, message), CORRELATION_ID, correlation_id.to_string())
            }
        }
    }
}

impl From<AuthError> for Status {
    fn from(e: AuthError) -> Self {
        let message = match e {
            AuthError::Unauthenticated => {
                "a valid API key is required (x-api-key or authorization: Bearer metadata)".to_string()
            }
            AuthError::Forbidden(_) => e.to_string(),
        };
        match e {
            AuthError::Unauthenticated => Status::new(Code::Unauthenticated, message),
            AuthError::Forbidden(_) => Status::new(Code::PermissionDenied, message),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn every_service_error_has_its_code() {
        let cases = [
            (ServiceError::NotFound("x".into()), Code::NotFound),
            (ServiceError::InvalidInput("x".into()), Code::InvalidArgument),
            (ServiceError::InvalidTemplate("x".into()), Code::InvalidArgument),
            (ServiceError::IdempotencyConflict("x".into()), Code::AlreadyExists),
            (ServiceError::NotAllowed("x".into()), Code::FailedPrecondition),
            (ServiceError::Backpressure { retry_after: Duration::from_millis(250) }, Code::ResourceExhausted),
            (ServiceError::Unavailable("x".into()), Code::Unavailable),
            (ServiceError::Internal { correlation_id: uuid::Uuid::nil() }, Code::Internal),
        ];
        for (err, code) in cases {
            assert_eq!(Status::from(err).code(), code);
        }
    }

    #[test]
    fn backpressure_says_when_to_retry() {
        let s = Status::from(ServiceError::Backpressure { retry_after: Duration::from_millis(250) });
        assert!(s.message().contains("250 ms"), "{}", s.message());
        assert_eq!(s.metadata().get(RETRY_AFTER_MS).and_then(|v| v.to_str().ok()), Some("250"));
    }

    #[test]
    fn internal_carries_only_the_correlation_id() {
        let id = uuid::Uuid::now_v7();
        let s = Status::from(ServiceError::Internal { correlation_id: id });
        assert_eq!(s.message(), format!("internal error (correlation id {id})"));
        assert_eq!(s.metadata().get(CORRELATION_ID).and_then(|v| v.to_str().ok()), Some(id.to_string().as_str()));
    }
}
