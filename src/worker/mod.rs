//! The worker runtime library: the [`StepHandler`] trait and its [`HandlerRegistry`], the
//! [`Worker`] loop (claim, execute under a timeout, heartbeat, submit: ack after execute), and
//! the built-in handlers that serve the example templates ([`builtin_registry`]).
//!
//! A worker speaks only the SQL protocol of `docs/worker-protocol.md`, so it can run inside the
//! server process or in its own (`tasker-worker`).

pub mod builtin;
pub mod handler;
pub mod runtime;

pub use builtin::builtin_registry;
pub use handler::{HandlerFuture, HandlerRegistry, StepContext, StepError, StepHandler, StepOutcome};
pub use runtime::{
    default_worker_id, MetricsSnapshot, RoundOutcome, Worker, WorkerConfig, WorkerError, WorkerMetrics,
    DISPATCH_CHANNEL,
};
