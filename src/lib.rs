//! # Tasker
//!
//! A PostgreSQL-native workflow orchestrator: the database is the engine.
//!
//! ## Layout
//! - `sql/` and `migrations/` (not Rust): the engine. State machines, DAG readiness, dispatch,
//!   results, retries, finalization and the operator API are SQL functions; see `docs/sql-api.md`.
//! - [`config`]: typed configuration (base file, environment overlay, `TASKER__*` overrides).
//! - [`model`]: plain types shared by every layer: requests, resources, states, health reports.
//! - [`db`]: the pool, the migrator (pgmq, `migrations/`, `sql/`), the embedded PostgreSQL, and
//!   [`db::engine`], the one seam for SQL: every call the server makes, typed, one module per
//!   concern, errors translated once into [`db::EngineError`].
//! - [`templates`]: template files (YAML/JSON) under `config/tasks/`, registered at start.
//! - [`metrics`]: Prometheus metrics.
//! - [`actors`]: TaskRequestActor, StepEnqueuerActor, ResultProcessorActor, TaskFinalizerActor,
//!   StalenessSweeper (one type each, `run_once` + `run`), the LISTEN/NOTIFY hub and circuit
//!   breakers.
//! - [`service`]: the one service layer under REST and gRPC; maps engine and actor errors to
//!   [`service::ServiceError`].
//! - [`api`]: REST (axum) and gRPC (tonic) front doors over the service layer; API keys.
//! - [`server`]: start-up order and graceful shutdown of `tasker-server`.
//! - [`worker`]: the worker runtime (handler trait, registry, claim/execute/heartbeat/submit loop) and
//!   the built-in handlers; `docs/worker-protocol.md` is the protocol it speaks.
//! - [`testing`]: the test harness: one PostgreSQL per test process, a fresh database per test,
//!   and [`testing::Engine`], the real actors driven by `run_once`.
//! - [`cli`]: the `tasker` command-line client (REST or gRPC).
//!
//! Dependencies point down only, in the order above: api → service → {actors, db}; actors → db;
//! worker → db; model and config at the bottom (`tests/architecture.rs` checks it).
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
