//! A worker's counters: what it claimed, how its attempts ended, what the engine refused.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one worker, readable while it runs (see [`Worker::metrics`](super::Worker::metrics)).
/// The runtime's parts count with `Relaxed` adds: each counter is exact, a snapshot is not atomic.
#[derive(Debug, Default)]
pub struct WorkerMetrics {
    pub(super) claimed: AtomicU64,
    pub(super) succeeded: AtomicU64,
    pub(super) failed: AtomicU64,
    pub(super) retried: AtomicU64,
    pub(super) in_flight: AtomicU64,
    pub(super) rejected: AtomicU64,
    pub(super) heartbeats: AtomicU64,
}

/// A copy of a worker's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Steps claimed (attempts started).
    pub claimed: u64,
    /// Attempts whose handler succeeded.
    pub succeeded: u64,
    /// Attempts that ended in a permanent error.
    pub failed: u64,
    /// Attempts that ended in a retryable error (including timeouts and panics).
    pub retried: u64,
    /// Steps claimed whose result is not submitted yet.
    pub in_flight: u64,
    /// Results the engine did not accept (superseded attempt or step no longer in progress).
    pub rejected: u64,
    /// Successful `tasker.extend_visibility` calls.
    pub heartbeats: u64,
}

impl WorkerMetrics {
    /// The current values.
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            claimed: self.claimed.load(Ordering::Relaxed),
            succeeded: self.succeeded.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            heartbeats: self.heartbeats.load(Ordering::Relaxed),
        }
    }
}
