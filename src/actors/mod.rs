//! The orchestration actors: thin loops around one SQL function each.
//!
//! | actor | wakes on | calls |
//! | --- | --- | --- |
//! | [`TaskRequestActor`] | API requests (bounded channel of commands) | `tasker.create_tasks` (batched; `tasker.create_task` for one) |
//! | [`StepEnqueuerActor`] | `tasker_steps_ready`, next retry due, tick | `tasker.enqueue_ready_steps` |
//! | [`ResultProcessorActor`] | `tasker_step_results`, tick | `tasker.process_step_results` |
//! | [`TaskFinalizerActor`] | `tasker_task_finalize`, tick | `tasker.finalize_tasks` |
//! | [`StalenessSweeper`] | its interval | `tasker.sweep_stale_steps` |
//! | [`Housekeeping`] | its interval (`[retention] enabled`) | `tasker.purge_tasks`, `tasker.purge_queue_archives` |
//!
//! Every actor has the same shape: a documented `Config` with `DEFAULT_*` constants, validated
//! by its constructor; `run_once()` makes one SQL call (tests call it directly, and
//! `run_once_at(now)` passes time instead of sleeping); `run(shutdown)` waits for shutdown, a
//! tick or a notification and calls `run_once`, draining while calls return full batches,
//! logging errors and backing off after repeated failures. Errors are [`ActorError`]s.
//!
//! Only the task request actor has a channel that carries work (bounded: full means
//! backpressure). The batch actors are woken by a coalesced [`WakeUp`] from the one
//! [`listener::NotificationHub`]: repeated notifications collapse into one pending wake-up, since
//! each wake-up drains everything anyway. Every loop also wakes on a slow tick, so a lost
//! notification delays work but never loses it. All coordination between servers sharing a
//! database is row locks and `SKIP LOCKED` in SQL: nothing here is shared state.

mod batch;
pub mod circuit_breaker;
mod error;
pub mod housekeeping;
pub mod listener;
pub mod result_processor;
pub mod staleness_sweeper;
pub mod status;
pub mod step_enqueuer;
pub mod task_finalizer;
pub mod task_request;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The status reports, defined in [`crate::model`] (kept here for callers of the actors).
pub use crate::model::{ActorStatus, BreakerStatus};
pub use batch::{ActorContext, WakeUp, BACKOFF_BASE, MAX_ROUNDS_PER_WAKE};
pub use circuit_breaker::CircuitBreaker;
pub use error::{ActorError, ActorResult};
pub use housekeeping::Housekeeping;
pub use listener::{Event, NotificationHub};
pub use result_processor::ResultProcessorActor;
pub use staleness_sweeper::StalenessSweeper;
pub use status::RuntimeStatus;
pub use step_enqueuer::StepEnqueuerActor;
pub use task_finalizer::TaskFinalizerActor;
pub use task_request::{TaskRequestActor, TaskSubmitter};

use crate::config::Config;
use crate::metrics::Metrics;
use batch::Core;
use status::{ActorEntry, Intake};

/// The running actors.
pub struct Actors {
    /// Hands create requests to the task request actor.
    pub submitter: TaskSubmitter,
    /// Status for health and metrics.
    pub status: Arc<RuntimeStatus>,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
    drain_timeout: Duration,
}

fn wake_entry(core: &Core) -> ActorEntry {
    ActorEntry { name: core.name, running: core.running.clone(), intake: Intake::WakeUp(core.wake.sender()) }
}

impl Actors {
    /// Builds the actors from `config` (failing on an out-of-range value) and starts the
    /// notification hub, the four actors and, when enabled, the staleness sweeper and the
    /// housekeeping actor.
    pub fn spawn(pool: PgPool, config: &Config, metrics: Arc<Metrics>) -> ActorResult<Actors> {
        let a = &config.orchestration.actors;
        let ctx = ActorContext::from_config(pool.clone(), metrics.clone(), &config.orchestration.circuit_breaker);
        let reply_timeout = Duration::from_millis(config.orchestration.web.request_timeout_ms);
        let (task_request, submitter) =
            TaskRequestActor::new(&ctx, task_request::Config::from_settings(a, reply_timeout))?;
        let enqueuer = StepEnqueuerActor::new(&ctx, step_enqueuer::Config::from_settings(a))?;
        let processor = ResultProcessorActor::new(&ctx, result_processor::Config::from_settings(a))?;
        let finalizer = TaskFinalizerActor::new(&ctx, task_finalizer::Config::from_settings(a))?;
        let staleness = &config.orchestration.staleness;
        let sweeper = match staleness.enabled {
            true => Some(StalenessSweeper::new(&ctx, staleness_sweeper::Config::from_settings(staleness))?),
            false => None,
        };
        let housekeeping = match config.retention.enabled {
            true => Some(Housekeeping::new(&ctx, housekeeping::Config::from_settings(&config.retention))?),
            false => None,
        };

        let mut hub = NotificationHub::new();
        hub.register_waker(listener::CHANNEL_STEPS_READY, enqueuer.wake_up().sender());
        hub.register_waker(listener::CHANNEL_STEP_RESULTS, processor.wake_up().sender());
        hub.register_waker(listener::CHANNEL_TASK_FINALIZE, finalizer.wake_up().sender());

        let entries = vec![
            ActorEntry {
                name: task_request::NAME,
                running: task_request.running_flag(),
                intake: Intake::Queue(submitter.channel().clone()),
            },
            wake_entry(enqueuer.status_parts()),
            wake_entry(processor.status_parts()),
            wake_entry(finalizer.status_parts()),
        ];
        let breakers = vec![
            task_request.breaker(),
            enqueuer.status_parts().breaker.clone(),
            processor.status_parts().breaker.clone(),
            finalizer.status_parts().breaker.clone(),
        ];

        let shutdown = CancellationToken::new();
        let mut tasks = JoinSet::new();
        tasks.spawn(task_request.run(shutdown.clone()));
        tasks.spawn(enqueuer.run(shutdown.clone()));
        tasks.spawn(processor.run(shutdown.clone()));
        tasks.spawn(finalizer.run(shutdown.clone()));
        if let Some(sweeper) = sweeper {
            tasks.spawn(sweeper.run(shutdown.clone()));
        }
        if let Some(housekeeping) = housekeeping {
            tasks.spawn(housekeeping.run(shutdown.clone()));
        }
        let hub = Arc::new(hub);
        tasks.spawn(hub.clone().run(pool, shutdown.clone()));
        let status = Arc::new(RuntimeStatus { metrics, hub, actors: entries, breakers });
        let drain_timeout = Duration::from_millis(a.shutdown_timeout_ms);
        Ok(Actors { submitter, status, shutdown, tasks, drain_timeout })
    }

    /// Stops every actor: intake first, then each loop finishes its current call; waits at most
    /// the configured shutdown timeout.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        let wait = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(self.drain_timeout + Duration::from_secs(1), wait).await.is_err() {
            tracing::warn!("actors did not stop within the shutdown timeout; aborting them");
            self.tasks.abort_all();
        }
    }
}
