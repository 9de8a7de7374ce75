//! The housekeeping actor: retention on a slow interval. Each round purges final tasks finished
//! more than `older_than_days` ago (`tasker.purge_tasks`, in batches of `batch_size`, one
//! transaction each, until a batch comes back short), then trims the pgmq archives of Tasker's
//! queues the same way (`tasker.purge_queue_archives`). A round makes at most
//! `max_batches_per_run` calls of each, so one huge backlog is worked off over several rounds
//! instead of one endless one. Several servers may run it at once: the purge functions skip
//! locked rows, so their batches split the work. Off unless `[retention] enabled`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::batch::ActorContext;
use super::error::{positive, ActorError, ActorResult};
use crate::config::RetentionConfig;
use crate::db::engine;
use crate::metrics::{ActorLabel, Metrics};

/// Actor name in logs and metrics.
pub const NAME: &str = "housekeeping";
/// Default time between rounds (`[retention] interval_ms`).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Shortest time between rounds, whatever the configuration says.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// Default age in days after which a final task is purged (`[retention] older_than_days`).
pub const DEFAULT_OLDER_THAN_DAYS: u32 = 30;
/// Default tasks (or archived messages) per purge call (`[retention] batch_size`).
pub const DEFAULT_BATCH_SIZE: u32 = 1000;
/// Largest batch accepted (one transaction deletes at most this many tasks and their rows).
pub const MAX_BATCH_SIZE: u32 = 100_000;
/// Default most calls of each purge function per round.
pub const DEFAULT_MAX_BATCHES_PER_RUN: u32 = 100;

/// How the housekeeping actor runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Time between rounds (at least [`MIN_INTERVAL`]).
    pub interval: Duration,
    /// Purge final tasks finished more than this many days ago; also the age of archived queue
    /// messages trimmed. At least 1.
    pub older_than_days: u32,
    /// Tasks (or archived messages) per call, 1..=[`MAX_BATCH_SIZE`].
    pub batch_size: u32,
    /// Copy purged rows to schema `tasker_archive` first.
    pub archive: bool,
    /// Most calls of each purge function per round (at least 1): bounds one round's work.
    pub max_batches_per_run: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            interval: DEFAULT_INTERVAL,
            older_than_days: DEFAULT_OLDER_THAN_DAYS,
            batch_size: DEFAULT_BATCH_SIZE,
            archive: false,
            max_batches_per_run: DEFAULT_MAX_BATCHES_PER_RUN,
        }
    }
}

impl Config {
    /// From `[retention]`.
    pub fn from_settings(r: &RetentionConfig) -> Self {
        Self {
            interval: Duration::from_millis(r.interval_ms).max(MIN_INTERVAL),
            older_than_days: r.older_than_days,
            batch_size: r.batch_size,
            archive: r.archive,
            max_batches_per_run: DEFAULT_MAX_BATCHES_PER_RUN,
        }
    }

    /// Every field in range.
    pub fn validate(&self) -> ActorResult<()> {
        positive(NAME, "older_than_days", u64::from(self.older_than_days))?;
        positive(NAME, "batch_size", u64::from(self.batch_size))?;
        positive(NAME, "max_batches_per_run", u64::from(self.max_batches_per_run))?;
        if self.batch_size > MAX_BATCH_SIZE {
            return Err(ActorError::InvalidConfig {
                actor: NAME,
                field: "batch_size",
                reason: format!("must be at most {MAX_BATCH_SIZE}"),
            });
        }
        if self.interval < MIN_INTERVAL {
            return Err(ActorError::InvalidConfig {
                actor: NAME,
                field: "interval",
                reason: format!("must be at least {} ms", MIN_INTERVAL.as_millis()),
            });
        }
        Ok(())
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Final tasks purged.
    pub tasks_purged: u64,
    /// `tasker.purge_tasks` calls made.
    pub task_batches: u32,
    /// Archived queue messages deleted.
    pub archive_messages_purged: u64,
    /// Whether the round stopped at `max_batches_per_run` with a full last batch: more may be
    /// due, for the next round.
    pub more: bool,
}

/// The housekeeping actor.
pub struct Housekeeping {
    pool: PgPool,
    metrics: Arc<Metrics>,
    config: Config,
}

impl Housekeeping {
    /// Builds the actor; fails when `config` is out of range.
    pub fn new(ctx: &ActorContext, config: Config) -> ActorResult<Self> {
        config.validate()?;
        Ok(Self { pool: ctx.pool.clone(), metrics: ctx.metrics.clone(), config })
    }

    /// One round: tasks, then queue archives, each in batches until one comes back short or the
    /// round's bound is reached.
    pub async fn run_once(&self) -> ActorResult<Outcome> {
        let label = ActorLabel { actor: NAME.into() };
        let started = Instant::now();
        let result = self.round().await;
        self.metrics.actor_iterations.get_or_create(&label).inc();
        self.metrics.actor_latency.get_or_create(&label).observe(started.elapsed().as_secs_f64());
        if result.is_err() {
            self.metrics.actor_errors.get_or_create(&label).inc();
        }
        result
    }

    async fn round(&self) -> ActorResult<Outcome> {
        let c = &self.config;
        let label = ActorLabel { actor: NAME.into() };
        let mut out = Outcome::default();
        let mut full = true;
        while full && out.task_batches < c.max_batches_per_run {
            let n = engine::retention::purge_tasks(&self.pool, c.older_than_days, c.batch_size, c.archive).await?;
            out.task_batches += 1;
            out.tasks_purged += n;
            self.metrics.retention_tasks_purged.inc_by(n);
            self.metrics.actor_processed.get_or_create(&label).inc_by(n);
            full = n >= u64::from(c.batch_size);
        }
        out.more = full;
        let mut batches = 0;
        let mut full = true;
        while full && batches < c.max_batches_per_run {
            let n = engine::retention::purge_queue_archives(&self.pool, c.older_than_days, c.batch_size).await?;
            batches += 1;
            out.archive_messages_purged += n;
            self.metrics.retention_archive_messages_purged.inc_by(n);
            full = n >= u64::from(c.batch_size);
        }
        out.more |= full;
        Ok(out)
    }

    /// A round every interval (the first at once) until `shutdown`. A failed round is logged and
    /// retried at the next interval, which is already a slow back-off; a round that hit its bound
    /// is followed by the next one at the next interval, not at once, so purging never crowds
    /// out the hot path.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut interval = tokio::time::interval(self.config.interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = interval.tick() => {}
            }
            match self.run_once().await {
                Ok(o) if o.tasks_purged == 0 && o.archive_messages_purged == 0 => {}
                Ok(o) => tracing::info!(
                    tasks = o.tasks_purged,
                    archive_messages = o.archive_messages_purged,
                    more = o.more,
                    "housekeeping purged old work"
                ),
                Err(e) => tracing::warn!(error = %e, "housekeeping round failed"),
            }
        }
    }
}
