//! # Tasker
//!
//! A PostgreSQL-native workflow orchestrator: the database is the engine.
//!
//! ## Layout
//! - `sql/` and `migrations/` (not Rust): the engine. State machines, DAG readiness, dispatch,
//!   results, retries, finalization and the operator API are SQL functions; see `docs/sql-api.md`.
//! - [`db`]: the pool, the migrator (pgmq, `migrations/`, `sql/`) and the embedded PostgreSQL.
//! - [`templates`]: template files (YAML/JSON) under `config/tasks/`, registered at start.
//! - [`testing`]: the test harness: one PostgreSQL per test process, a fresh database per test.

pub mod db;
pub mod templates;
pub mod testing;
