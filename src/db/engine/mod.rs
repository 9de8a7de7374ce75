//! The engine seam: every SQL call the server makes is a typed function here, one module per
//! concern, each a call of a function or a read of a view under `sql/` (`docs/sql-api.md`).
//! Errors come back as [`EngineError`](crate::db::EngineError), translated once.
//!
//! | module | what |
//! | --- | --- |
//! | [`tasks`] | create (one or a batch), read, list, cancel tasks |
//! | [`steps`] | read steps, operator actions, step history, batch retry |
//! | [`orchestration`] | the actors' calls: enqueue, process results, finalize, sweep |
//! | [`templates`] | register, list and read templates |
//! | [`dlq`] | the dead letter queue |
//! | [`history`] | consistent task snapshots and the change feed of a task |
//! | [`analytics`] | performance, bottlenecks, state counts |
//! | [`health`] | reachability, pool use, pgmq queue depths |
//! | [`retention`] | the housekeeping actor's purges of old tasks and queue archives |
//!
//! The worker's calls (claim, heartbeat, submit) are the worker protocol and live with it.

pub mod analytics;
pub mod dlq;
pub mod health;
pub mod history;
pub mod orchestration;
pub mod retention;
pub mod steps;
pub mod tasks;
pub mod templates;

pub use orchestration::{FinalizedTask, ResultCounts};

/// A batch limit as the SQL functions take it (`integer`), saturating.
pub(crate) fn sql_limit(limit: impl TryInto<i32>) -> i32 {
    limit.try_into().unwrap_or(i32::MAX)
}
