//! # Tasker
//!
//! A PostgreSQL-native workflow orchestrator: the database is the engine.
//!
//! ## Layout
//! - `sql/` and `migrations/` (not Rust): the engine. State machines, DAG readiness, dispatch,
//!   results, retries, finalization and the operator API are SQL functions; see `docs/sql-api.md`.
//! - [`actors`]: TaskRequest, StepEnqueuer, ResultProcessor, TaskFinalizer, staleness sweeper,
//!   the LISTEN/NOTIFY hub and circuit breakers.
//! - [`api`]: REST (axum) and gRPC (tonic) front doors over the service layer; API keys.
//! - [`config`]: typed configuration (base file, environment overlay, `TASKER__*` overrides).
//! - [`db`]: the pool, the migrator (pgmq, `migrations/`, `sql/`) and the embedded PostgreSQL.
//! - [`metrics`]: Prometheus metrics.
//! - [`model`]: plain types shared by the service layer and both transports.
//! - [`server`]: start-up order and graceful shutdown of `tasker-server`.
//! - [`service`]: the one service layer under REST and gRPC.
//! - [`templates`]: template files (YAML/JSON) under `config/tasks/`, registered at start.
//! - [`cli`]: the `tasker` command-line client (REST or gRPC).
//! - [`testing`]: the test harness: one PostgreSQL per test process, a fresh database per test.
//! - [`worker`]: the worker runtime (handler trait, registry, claim/execute/heartbeat/submit loop) and
//!   the built-in handlers; `docs/worker-protocol.md` is the protocol it speaks.

//!
//! ## Cargo features
//! `postgres` (the engine: everything above but `api`), `web-api` (REST), `grpc-api` (gRPC),
//! `test-utils` ([`testing`]) and `cli` (the `tasker` client, [`cli`]) are on by default;
//! `tokio-console` is opt-in. `--no-default-features --features postgres` builds a headless
//! server (actors only) and the worker, with neither axum nor tonic.

#[cfg(feature = "postgres")]
pub mod actors;
#[cfg(any(feature = "web-api", feature = "grpc-api"))]
pub mod api;
#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
#[cfg(feature = "postgres")]
pub mod db;
#[cfg(feature = "postgres")]
pub mod metrics;
#[cfg(feature = "postgres")]
pub mod model;
#[cfg(feature = "postgres")]
pub mod server;
#[cfg(feature = "postgres")]
pub mod service;
#[cfg(feature = "postgres")]
pub mod templates;
#[cfg(feature = "test-utils")]
pub mod testing;
#[cfg(feature = "postgres")]
pub mod worker;
