//! The gRPC API through real tonic clients (the crate's own generated code) against a server
//! started in this process on a fresh PostgreSQL database.

mod auth;
mod hardening;
mod health;
mod parity;
mod rpcs;
mod stream;
mod support;
