//! The staleness sweeper: a safety net on a slow interval (`tasker.sweep_stale_steps`). Steps
//! enqueued or in progress past their timeout plus a grace period whose queue message has
//! vanished (a queue purged by hand, a message deleted outside the protocol) are failed, so the
//! result processor and finalizer apply retries, the task's error state and the DLQ entry as for
//! any other failure. A step whose message still exists is left alone: redelivery after the
//! visibility timeout recovers it.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

use super::batch::ActorContext;
use super::error::{positive, ActorResult};
use crate::config::StalenessConfig;
use crate::db::engine;
use crate::metrics::{ActorLabel, Metrics};

/// Actor name in logs and metrics.
pub const NAME: &str = "staleness_sweeper";
/// Default time between sweeps (`[orchestration.staleness] interval_ms`).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// Shortest time between sweeps, whatever the configuration says.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// Default grace beyond a step's timeout (`[orchestration.staleness] grace_seconds`).
pub const DEFAULT_GRACE_SECONDS: u32 = 60;
/// Default most steps one sweep reports.
pub const DEFAULT_BATCH_SIZE: u32 = 500;

/// How the sweeper runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Time between sweeps (at least [`MIN_INTERVAL`]).
    pub interval: Duration,
    /// A step is stale this many seconds after its own timeout.
    pub grace_seconds: u32,
    /// Most steps one sweep reports; the rest wait for the next sweep.
    pub batch_size: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self { interval: DEFAULT_INTERVAL, grace_seconds: DEFAULT_GRACE_SECONDS, batch_size: DEFAULT_BATCH_SIZE }
    }
}

impl Config {
    /// From `[orchestration.staleness]`.
    pub fn from_settings(s: &StalenessConfig) -> Self {
        Self {
            interval: Duration::from_millis(s.interval_ms).max(MIN_INTERVAL),
            grace_seconds: s.grace_seconds,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }

    /// Batch size at least 1, interval at least [`MIN_INTERVAL`].
    pub fn validate(&self) -> ActorResult<()> {
        positive(NAME, "batch_size", u64::from(self.batch_size))?;
        if self.interval < MIN_INTERVAL {
            return Err(super::ActorError::InvalidConfig {
                actor: NAME,
                field: "interval",
                reason: format!("must be at least {} ms", MIN_INTERVAL.as_millis()),
            });
        }
        Ok(())
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Steps reported failed.
    pub reported: u64,
}

/// The sweeper.
pub struct StalenessSweeper {
    pool: PgPool,
    metrics: Arc<Metrics>,
    config: Config,
}

impl StalenessSweeper {
    /// Builds the sweeper; fails when `config` is out of range.
    pub fn new(ctx: &ActorContext, config: Config) -> ActorResult<Self> {
        config.validate()?;
        Ok(Self { pool: ctx.pool.clone(), metrics: ctx.metrics.clone(), config })
    }

    /// One sweep at the database's time.
    pub async fn run_once(&self) -> ActorResult<Outcome> {
        self.run_once_at(None).await
    }

    /// One sweep at `now` (tests pass time instead of sleeping).
    pub async fn run_once_at(&self, now: Option<DateTime<Utc>>) -> ActorResult<Outcome> {
        let label = ActorLabel { actor: NAME.into() };
        let started = Instant::now();
        let result = engine::orchestration::sweep_stale_steps(
            &self.pool,
            self.config.grace_seconds,
            self.config.batch_size,
            now,
        )
        .await;
        self.metrics.actor_iterations.get_or_create(&label).inc();
        self.metrics.actor_latency.get_or_create(&label).observe(started.elapsed().as_secs_f64());
        match result {
            Ok(reported) => {
                self.metrics.actor_processed.get_or_create(&label).inc_by(reported);
                Ok(Outcome { reported })
            }
            Err(e) => {
                self.metrics.actor_errors.get_or_create(&label).inc();
                Err(e.into())
            }
        }
    }

    /// Sweeps every interval (the first at once) until `shutdown`. A failed sweep is logged and
    /// retried at the next interval, which is already a slow back-off.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut interval = tokio::time::interval(self.config.interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = interval.tick() => {}
            }
            match self.run_once().await {
                Ok(Outcome { reported: 0 }) => {}
                Ok(Outcome { reported }) => {
                    tracing::warn!(steps = reported, "staleness sweep failed steps whose queue message vanished");
                }
                Err(e) => tracing::warn!(error = %e, "staleness sweep failed"),
            }
        }
    }
}
