//! ResultProcessorActor: applies the step results that arrive as queue messages, in batches
//! (`tasker.process_step_results`: reads a batch from the `orchestration_step_results` queue and,
//! in one transaction, completes or fails each step, applies the retry policy, dispatches children
//! that became ready and flags tasks for finalization). Workers do not pass through it: their
//! `tasker.submit_step_results` applies results in its own transaction; this actor serves
//! processes with queue access that post results there. It wakes on `tasker_step_results`
//! (notified by a trigger on the queue table) and on the fallback tick.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::batch::{self, ActorContext, BatchActor, Core, WakeUp};
use super::error::{positive, ActorResult};
use crate::config::ActorsConfig;
use crate::db::engine::{self, ResultCounts};
use crate::db::EngineResult;

/// Actor name in logs, metrics and health.
pub const NAME: &str = "result_processor";
/// Default most results one call applies (`[orchestration.actors] result_batch_size`).
pub const DEFAULT_BATCH_SIZE: u32 = 500;
/// Default fallback tick (`[orchestration.actors] fallback_tick_ms`).
pub const DEFAULT_TICK: Duration = Duration::from_millis(1000);

/// How the step enqueuer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Most results one `tasker.process_step_results` call applies; a full batch means more may
    /// be waiting, so the actor calls again at once.
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
    /// From `[orchestration.actors]`. Its `result_processor_channel_size` sizes nothing: the
    /// actor's wake-up is coalesced (see [`WakeUp`]).
    pub fn from_settings(a: &ActorsConfig) -> Self {
        Self { batch_size: a.result_batch_size, tick: Duration::from_millis(a.fallback_tick_ms) }
    }

    /// Every field at least 1.
    pub fn validate(&self) -> ActorResult<()> {
        positive(NAME, "batch_size", u64::from(self.batch_size))?;
        positive(NAME, "tick", self.tick.as_millis() as u64)
    }
}

/// What one call did: the counts of `tasker.process_step_results`.
pub type Outcome = ResultCounts;

/// The actor.
pub struct ResultProcessorActor {
    core: Core,
    config: Config,
}

impl ResultProcessorActor {
    /// Builds the actor; fails when `config` is out of range.
    pub fn new(ctx: &ActorContext, config: Config) -> ActorResult<Self> {
        config.validate()?;
        Ok(Self { core: Core::new(NAME, ctx), config })
    }

    /// Its configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Its coalesced wake-up (registered with the notification hub on `tasker_step_results`).
    pub fn wake_up(&self) -> &WakeUp {
        &self.core.wake
    }

    /// One `tasker.process_step_results` call, through the breaker, with metrics.
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

impl BatchActor for ResultProcessorActor {
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
        engine::orchestration::process_step_results(&self.core.pool, self.config.batch_size, now).await
    }

    fn rows(outcome: &Outcome) -> u64 {
        u64::try_from(outcome.results).unwrap_or(0)
    }
}
