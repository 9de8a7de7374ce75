//! The heartbeat: while steps run, their dispatch messages are kept invisible to other workers by
//! extending their visibility timeout (`tasker.extend_visibility`, one call per namespace) every
//! `heartbeat_interval`. A worker that dies stops beating, and its messages reappear.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::claim::Slots;
use super::config::WorkerConfig;
use super::metrics::WorkerMetrics;
use crate::db::worker as sql;

/// Extends the visibility of the messages held by a worker's running steps.
#[derive(Debug)]
pub(super) struct Heartbeat {
    pool: PgPool,
    slots: Arc<Slots>,
    metrics: Arc<WorkerMetrics>,
    /// The visibility timeout each beat grants, in whole seconds.
    vt_seconds: i32,
    every: Duration,
}

impl Heartbeat {
    /// Beats every `heartbeat_interval` of `config` for the messages of `slots`, granting its
    /// visibility timeout each time.
    pub(super) fn new(pool: PgPool, config: &WorkerConfig, slots: Arc<Slots>, metrics: Arc<WorkerMetrics>) -> Self {
        let (vt_seconds, every) = (config.vt_seconds(), config.heartbeat_interval);
        Self { pool, slots, metrics, vt_seconds, every }
    }

    /// Beats until `stop` is cancelled; the first beat is one interval after the start.
    pub(super) async fn run(self: Arc<Self>, stop: CancellationToken) {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + self.every, self.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => self.beat().await,
            }
        }
    }

    /// Extends the visibility of every running step's message, one call per namespace. A failure
    /// is logged; the next beat tries again.
    async fn beat(&self) {
        for (namespace, ids) in self.slots.messages() {
            match sql::extend_visibility(&self.pool, &namespace, &ids, self.vt_seconds).await {
                Ok(extended) => {
                    self.metrics.heartbeats.fetch_add(1, Ordering::Relaxed);
                    if extended.len() < ids.len() {
                        debug!(%namespace, held = ids.len(), extended = extended.len(), "some messages were already acked");
                    }
                }
                Err(e) => warn!(%namespace, error = %e, "heartbeat failed"),
            }
        }
    }
}
