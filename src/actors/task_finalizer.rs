//! TaskFinalizerActor: finalizes tasks in batches (`tasker.finalize_tasks`: takes tasks flagged
//! for finalization with `SKIP LOCKED` and derives each one's state from its steps: complete,
//! error (with its DLQ entry) or back to waiting). It wakes on `tasker_task_finalize` and on the
//! fallback tick.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::batch::{self, ActorContext, BatchActor, Core, WakeUp};
use super::error::{positive, ActorResult};
use crate::config::ActorsConfig;
use crate::db::engine::{self, FinalizedTask};
use crate::db::EngineResult;

/// Actor name in logs, metrics and health.
pub const NAME: &str = "task_finalizer";
/// Default most tasks one call finalizes (`[orchestration.actors] finalize_batch_size`).
pub const DEFAULT_BATCH_SIZE: u32 = 200;
/// Default fallback tick (`[orchestration.actors] fallback_tick_ms`).
pub const DEFAULT_TICK: Duration = Duration::from_millis(1000);

/// How the step enqueuer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Most tasks one `tasker.finalize_tasks` call takes; a full batch means more may be
    /// flagged, so the actor calls again at once.
    pub batch_size: u32,
    /// How often it looks without being woken, so a lost notification only delays work.
    pub tick: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self { batch_size: DEFAULT_BATCH_SIZE, tick: DEFAULT_TICK }
    }
}

impl Config {
    /// From `[orchestration.actors]`. Its `task_finalizer_channel_size` sizes nothing: the
    /// actor's wake-up is coalesced (see [`WakeUp`]).
    pub fn from_settings(a: &ActorsConfig) -> Self {
        Self { batch_size: a.finalize_batch_size, tick: Duration::from_millis(a.fallback_tick_ms) }
    }

    /// Every field at least 1.
    pub fn validate(&self) -> ActorResult<()> {
        positive(NAME, "batch_size", u64::from(self.batch_size))?;
        positive(NAME, "tick", self.tick.as_millis() as u64)
    }
}

/// What one call did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The tasks taken, with the state each left and reached.
    pub tasks: Vec<FinalizedTask>,
}

/// The actor.
pub struct TaskFinalizerActor {
    core: Core,
    config: Config,
}

impl TaskFinalizerActor {
    /// Builds the actor; fails when `config` is out of range.
    pub fn new(ctx: &ActorContext, config: Config) -> ActorResult<Self> {
        config.validate()?;
        Ok(Self { core: Core::new(NAME, ctx), config })
    }

    /// Its configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Its coalesced wake-up (registered with the notification hub on `tasker_task_finalize`).
    pub fn wake_up(&self) -> &WakeUp {
        &self.core.wake
    }

    /// One `tasker.finalize_tasks` call, through the breaker, with metrics.
    pub async fn run_once(&self) -> ActorResult<Outcome> {
        self.run_once_at(None).await
    }

    /// [`run_once`](Self::run_once) at a given time (tests pass time instead of sleeping).
    pub async fn run_once_at(&self, now: Option<DateTime<Utc>>) -> ActorResult<Outcome> {
        batch::run_once_at(self, now).await
    }

    /// Runs until `shutdown`: wake-up or tick -> drain.
    pub async fn run(self, shutdown: CancellationToken) {
        batch::run_loop(&self, shutdown).await;
    }

    pub(crate) fn status_parts(&self) -> &Core {
        &self.core
    }
}

impl BatchActor for TaskFinalizerActor {
    type Outcome = Outcome;

    fn core(&self) -> &Core {
        &self.core
    }

    fn batch_size(&self) -> u64 {
        u64::from(self.config.batch_size)
    }

    fn tick(&self) -> Duration {
        self.config.tick
    }

    async fn call(&self, now: Option<DateTime<Utc>>) -> EngineResult<Outcome> {
        let tasks = engine::orchestration::finalize_tasks(&self.core.pool, self.config.batch_size, now).await?;
        Ok(Outcome { tasks })
    }

    fn rows(outcome: &Outcome) -> u64 {
        outcome.tasks.len() as u64
    }
}
