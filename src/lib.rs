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
//! - [`testing`]: the test harness: one PostgreSQL per test process, a fresh database per test.
//! - [`worker`]: the worker runtime (handler trait, registry, claim/execute/heartbeat/submit loop) and
//!   the built-in handlers; `docs/worker-protocol.md` is the protocol it speaks.

pub mod actors;
pub mod api;
pub mod config;
pub mod db;
pub mod metrics;
pub mod model;
pub mod server;
pub mod service;
pub mod templates;
pub mod testing;
pub mod worker;
