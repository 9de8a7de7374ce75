//! StepEnqueuerActor: dispatches ready steps in batches (`tasker.enqueue_ready_steps`: picks
//! ready steps with `SKIP LOCKED`, moves them to enqueued and sends them to their namespace
//! queues, in one transaction). It wakes on `tasker_steps_ready` (retries due, operator
//! actions), on the fallback tick, and early when the next retry comes due
//! (`tasker.next_ready_at`). Steps that become ready as a result of a result or a new task are
//! dispatched by those calls themselves; this actor catches everything else.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::batch::{self, ActorContext, BatchActor, Core, WakeUp};
use super::error::{positive, ActorResult};
use crate::config::ActorsConfig;
use crate::db::{engine, EngineResult};

/// Actor name in logs, metrics and health.
pub const NAME: &str = "step_enqueuer";
/// Default most steps one call dispatches (`[orchestration.actors] enqueue_batch_size`).
pub const DEFAULT_BATCH_SIZE: u32 = 500;
/// Default fallback tick (`[orchestration.actors] fallback_tick_ms`).
pub const DEFAULT_TICK: Duration = Duration::from_millis(1000);

/// How the step enqueuer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Most steps one `tasker.enqueue_ready_steps` call dispatches; a full batch means more may
    /// be ready, so the actor calls again at once.
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
    /// From `[orchestration.actors]`. Its `step_enqueuer_channel_size` sizes nothing: the
    /// actor's wake-up is coalesced (see [`WakeUp`]).
    pub fn from_settings(a: &ActorsConfig) -> Self {
        Self { batch_size: a.enqueue_batch_size, tick: Duration::from_millis(a.fallback_tick_ms) }
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
    /// The steps dispatched.
    pub dispatched: Vec<Uuid>,
}

/// The actor.
pub struct StepEnqueuerActor {
    core: Core,
    config: Config,
}

impl StepEnqueuerActor {
    /// Builds the actor; fails when `config` is out of range.
    pub fn new(ctx: &ActorContext, config: Config) -> ActorResult<Self> {
        config.validate()?;
        Ok(Self { core: Core::new(NAME, ctx), config })
    }

    /// Its configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Its coalesced wake-up (registered with the notification hub on `tasker_steps_ready`).
    pub fn wake_up(&self) -> &WakeUp {
        &self.core.wake
    }

    /// One `tasker.enqueue_ready_steps` call, through the breaker, with metrics.
    pub async fn run_once(&self) -> ActorResult<Outcome> {
        self.run_once_at(None).await
    }

    /// [`run_once`](Self::run_once) at a given time (tests pass time instead of sleeping).
    pub async fn run_once_at(&self, now: Option<DateTime<Utc>>) -> ActorResult<Outcome> {
        batch::run_once_at(self, now).await
    }

    /// Runs until `shutdown`: wake-up, next retry due or tick -> drain.
    pub async fn run(self, shutdown: CancellationToken) {
        batch::run_loop(&self, shutdown).await;
    }

    pub(crate) fn status_parts(&self) -> &Core {
        &self.core
    }
}

impl BatchActor for StepEnqueuerActor {
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
        let dispatched =
            engine::orchestration::enqueue_ready_steps(&self.core.pool, self.config.batch_size, now).await?;
        Ok(Outcome { dispatched })
    }

    fn rows(outcome: &Outcome) -> u64 {
        outcome.dispatched.len() as u64
    }

    async fn next_due(&self) -> Option<Instant> {
        let at = engine::orchestration::next_ready_at(&self.core.pool, None).await.ok().flatten()?;
        let wait = (at - Utc::now()).to_std().unwrap_or_default();
        Some(Instant::now() + wait)
    }
}
