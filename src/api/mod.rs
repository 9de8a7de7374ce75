//! The front doors: REST (axum) and gRPC (tonic), both thin translations to the service layer,
//! sharing one API-key authorization.

pub mod auth;
pub mod grpc;
pub mod rest;
