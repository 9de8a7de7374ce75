//! API keys in gRPC metadata: `x-api-key: <key>` or `authorization: Bearer <key>`, checked
//! against the same keys and permissions as REST ([`crate::api::auth::Auth`]).
//!
//! Each RPC names its permission when it starts (`state.require(&request, "tasks:read")`);
//! a missing or unknown key is UNAUTHENTICATED, a key without the permission PERMISSION_DENIED.
//! `HealthService`, `grpc.health.v1.Health` and reflection do not call it: they are public, but
//! for `CheckDetailedHealth` when `[orchestration.web] public_health_details` is false (then any
//! valid key, [`GrpcState::require_any_key`]).

use tonic::metadata::MetadataMap;
use tonic::{Request, Status};

use super::GrpcState;
use crate::api::auth::{key_from_headers, AuthError, Principal};

/// The key presented in `metadata`, if any.
pub fn key_from_metadata(metadata: &MetadataMap) -> Option<&str> {
    let api_key = metadata.get("x-api-key").and_then(|v| v.to_str().ok());
    let bearer = metadata.get("authorization").and_then(|v| v.to_str().ok());
    key_from_headers(api_key, bearer)
}

impl GrpcState {
    /// Authorizes the request's key for `permission`.
    pub fn require<T>(&self, request: &Request<T>, permission: &'static str) -> Result<Principal, Status> {
        Ok(self.auth.authorize(key_from_metadata(request.metadata()), permission)?)
    }

    /// Accepts any valid key (or any request when auth is off): UNAUTHENTICATED otherwise.
    pub fn require_any_key<T>(&self, request: &Request<T>) -> Result<(), Status> {
        match self.auth.authorize(key_from_metadata(request.metadata()), "docs:read") {
            Ok(_) | Err(AuthError::Forbidden(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
