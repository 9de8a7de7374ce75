//! The front doors: REST (axum), the web dashboard (`/ui`, beside REST) and gRPC (tonic), all
//! thin translations to the service layer, sharing one API-key authorization.

pub mod auth;
#[cfg(feature = "grpc-api")]
pub mod grpc;
#[cfg(feature = "web-api")]
pub mod rest;
#[cfg(feature = "web-api")]
pub mod ui;
