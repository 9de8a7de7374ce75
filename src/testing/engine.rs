//! One simulated orchestrator for tests and benchmarks: the real actors, built on a pool and
//! driven by hand through their `run_once`, with time passed in (`p_now`) instead of slept.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::actors::{
    result_processor, staleness_sweeper, step_enqueuer, task_finalizer, ActorContext, ActorResult,
    ResultProcessorActor, StalenessSweeper, StepEnqueuerActor, TaskFinalizerActor,
};
use crate::db::engine::{FinalizedTask, ResultCounts};

/// Batch size of the simulated actors: large enough that one call takes everything a test makes.
pub const TEST_BATCH_SIZE: u32 = 1000;
/// Most passes [`Engine::run_until_idle`] makes before giving up (a workflow that never settles).
pub const MAX_PASSES: usize = 1000;

/// What one pass of the actors did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    /// The result processor's counts.
    pub results: ResultCounts,
    /// Steps the enqueuer dispatched.
    pub dispatched: usize,
    /// Tasks the finalizer took.
    pub finalized: Vec<FinalizedTask>,
}

impl Pass {
    /// Whether anything moved.
    pub fn moved(&self) -> bool {
        self.results.results > 0 || self.dispatched > 0 || !self.finalized.is_empty()
    }
}

/// The orchestration actors of a server, without their loops: each pass calls the result
/// processor, the step enqueuer and the task finalizer once, in that order.
pub struct Engine {
    /// The step enqueuer.
    pub enqueuer: StepEnqueuerActor,
    /// The result processor.
    pub processor: ResultProcessorActor,
    /// The task finalizer.
    pub finalizer: TaskFinalizerActor,
    /// The staleness sweeper (not part of a pass; call it when a test wants it).
    pub sweeper: StalenessSweeper,
}

impl Engine {
    /// The actors on `pool`, with batches of [`TEST_BATCH_SIZE`] and default breakers.
    pub fn new(pool: &PgPool) -> Self {
        Self::with_context(&ActorContext::new(pool.clone()), TEST_BATCH_SIZE)
    }

    /// The actors built from `ctx` (its pool, metrics and breaker settings), with batches of
    /// `batch_size`.
    pub fn with_context(ctx: &ActorContext, batch_size: u32) -> Self {
        let tick = step_enqueuer::DEFAULT_TICK;
        let built = (|| -> ActorResult<Self> {
            Ok(Self {
                enqueuer: StepEnqueuerActor::new(ctx, step_enqueuer::Config { batch_size, tick })?,
                processor: ResultProcessorActor::new(ctx, result_processor::Config { batch_size, tick })?,
                finalizer: TaskFinalizerActor::new(ctx, task_finalizer::Config { batch_size, tick })?,
                sweeper: StalenessSweeper::new(ctx, staleness_sweeper::Config { batch_size, ..Default::default() })?,
            })
        })();
        match built {
            Ok(engine) => engine,
            Err(e) => panic!("test engine: {e}"),
        }
    }

    /// One pass at the database's time.
    pub async fn run_once(&self) -> ActorResult<Pass> {
        self.run_once_at(None).await
    }

    /// One pass at `now`: process results, enqueue ready steps, finalize flagged tasks.
    pub async fn run_once_at(&self, now: Option<DateTime<Utc>>) -> ActorResult<Pass> {
        let results = self.processor.run_once_at(now).await?;
        let dispatched = self.enqueuer.run_once_at(now).await?.dispatched.len();
        let finalized = self.finalizer.run_once_at(now).await?.tasks;
        Ok(Pass { results, dispatched, finalized })
    }

    /// Passes at the database's time until one moves nothing; returns every task finalized.
    pub async fn run_until_idle(&self) -> ActorResult<Vec<FinalizedTask>> {
        self.run_until_idle_at(None).await
    }

    /// Passes at `now` until one moves nothing; returns every task finalized. Panics after
    /// [`MAX_PASSES`] passes that all moved something.
    pub async fn run_until_idle_at(&self, now: Option<DateTime<Utc>>) -> ActorResult<Vec<FinalizedTask>> {
        let mut finalized = Vec::new();
        for _ in 0..MAX_PASSES {
            let pass = self.run_once_at(now).await?;
            let moved = pass.moved();
            finalized.extend(pass.finalized);
            if !moved {
                return Ok(finalized);
            }
        }
        panic!("the engine did not become idle in {MAX_PASSES} passes");
    }
}
