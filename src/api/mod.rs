//! The front doors: REST (axum) and gRPC (tonic), both thin translations to the service layer,
//! sharing one API-key authorization.

pub mod auth;
#[cfg(feature = "grpc-api")]
pub mod grpc;
#[cfg(feature = "web-api")]
pub mod rest;
