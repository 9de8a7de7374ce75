//! The worker runtime library: the [`StepHandler`] trait and its [`HandlerRegistry`], the
//! [`Worker`] loop (claim, execute under a timeout, heartbeat, submit: ack after execute), and
//! the built-in handlers that serve the example templates ([`builtin_registry`]).
//!
//! A worker speaks only the SQL protocol of `docs/worker-protocol.md` (through
//! [`crate::db::worker`]), so it can run inside the server process or in its own
//! (`tasker-worker`).
//!
//! | module | part |
//! | --- | --- |
//! | [`config`] | [`WorkerConfig`], defaults, validation, [`WorkerError`] |
//! | [`runtime`] | [`Worker`]: composes the parts below into the claim loop and its shutdown |
//! | [`wake`] | dispatch notifications ([`DISPATCH_CHANNEL`]) turned into wake-ups |
//! | `namespaces` | the served namespaces and their queues |
//! | `claim` | concurrency slots and claim rounds (`tasker.claim_steps`) |
//! | `execute` | one handler run: timeout, panics, unknown handlers, audit row |
//! | `heartbeat` | visibility extension of running steps (`tasker.extend_visibility`) |
//! | [`report`] | [`StepResultMessage`] and batched submission (`tasker.submit_step_results`) |
//! | [`metrics`] | [`WorkerMetrics`] |

pub mod builtin;
mod claim;
pub mod config;
mod execute;
pub mod handler;
mod heartbeat;
pub mod metrics;
mod namespaces;
pub mod report;
pub mod runtime;
pub mod wake;

pub use builtin::builtin_registry;
pub use config::{default_worker_id, WorkerConfig, WorkerError};
pub use handler::{HandlerFuture, HandlerRegistry, StepContext, StepError, StepHandler, StepOutcome};
pub use metrics::{MetricsSnapshot, WorkerMetrics};
pub use report::{StepResultMessage, StepStatus};
pub use runtime::{RoundOutcome, Worker};
pub use wake::DISPATCH_CHANNEL;
