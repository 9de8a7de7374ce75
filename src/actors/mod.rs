//! The orchestration actors: thin loops that call one SQL function per iteration.
//!
//! | actor | wakes on | calls |
//! | --- | --- | --- |
//! | [`task_request`] | API requests (bounded channel) | `tasker.create_task` |
//! | step_enqueuer | `tasker_steps_ready`, next retry due, tick | `tasker.enqueue_ready_steps` |
//! | result_processor | `tasker_step_results`, tick | `tasker.process_step_results` |
//! | task_finalizer | `tasker_task_finalize`, tick | `tasker.finalize_tasks` |
//! | staleness sweeper | its interval | `tasker.sweep_stale_steps` |
//!
//! Notifications come from one [`listener::NotificationHub`]; every loop also wakes on a slow
//! tick, so a lost notification delays work but never loses it. All coordination between
//! servers sharing a database is row locks and `SKIP LOCKED` in SQL: nothing here is shared state.

pub mod circuit_breaker;
pub mod drain;
pub mod listener;
pub mod status;
pub mod task_request;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use circuit_breaker::{BreakerStatus, CircuitBreaker};
pub use listener::{Event, NotificationHub};
pub use status::{ActorStatus, RuntimeStatus};
pub use task_request::TaskSubmitter;

use crate::config::Config;
use crate::metrics::Metrics;
use drain::{Call, DrainActor, NextDue};
use status::ActorEntry;

/// (name, wake channel, channel size, batch size, call, early wake-up) of a batch actor.
type BatchSpec = (&'static str, &'static str, usize, u32, Call, Option<NextDue>);

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

impl Actors {
    /// Starts the notification hub, the four actors and the staleness sweeper.
    pub fn spawn(pool: PgPool, config: &Config, metrics: Arc<Metrics>) -> Actors {
        let a = &config.orchestration.actors;
        let cb = &config.orchestration.circuit_breaker;
        let shutdown = CancellationToken::new();
        let tick = Duration::from_millis(a.fallback_tick_ms);
        let drain_timeout = Duration::from_millis(a.shutdown_timeout_ms);
        let breaker = |name: &str| {
            Arc::new(CircuitBreaker::new(name, cb.failure_threshold, Duration::from_millis(cb.open_duration_ms)))
        };
        let mut hub = NotificationHub::new();
        let mut tasks = JoinSet::new();
        let mut entries = Vec::new();
        let mut breakers = Vec::new();

        // TaskRequestActor.
        let running = Arc::new(AtomicBool::new(false));
        let b = breaker("task_request");
        let (actor, submitter, tx) = task_request::TaskRequestActor::new(
            pool.clone(),
            &task_request::TaskRequestConfig {
                channel_size: a.task_request_channel_size,
                concurrency: a.task_request_concurrency,
                batch_size: a.task_request_batch_size,
                reply_timeout: Duration::from_millis(config.orchestration.web.request_timeout_ms),
            },
            metrics.clone(),
            b.clone(),
            running.clone(),
        );
        entries.push(ActorEntry { name: task_request::NAME, running, channel: Box::new(tx) });
        breakers.push(b);
        tasks.spawn(actor.run(shutdown.clone(), drain_timeout));

        // The three batch actors share one shape.
        let enqueue_batch = a.enqueue_batch_size;
        let result_batch = a.result_batch_size;
        let finalize_batch = a.finalize_batch_size;
        let specs: Vec<BatchSpec> = vec![
            (
                "step_enqueuer",
                listener::CHANNEL_STEPS_READY,
                a.step_enqueuer_channel_size,
                enqueue_batch,
                Arc::new(move |p: PgPool| {
                    Box::pin(async move { crate::db::engine::enqueue_ready_steps(&p, enqueue_batch).await })
                }),
                Some(Arc::new(|p: PgPool| {
                    Box::pin(async move {
                        let at = crate::db::engine::next_ready_at(&p).await.ok().flatten()?;
                        let wait = (at - chrono::Utc::now()).to_std().unwrap_or_default();
                        Some(Instant::now() + wait)
                    })
                })),
            ),
            (
                "result_processor",
                listener::CHANNEL_STEP_RESULTS,
                a.result_processor_channel_size,
                result_batch,
                Arc::new(move |p: PgPool| {
                    Box::pin(async move {
                        crate::db::engine::process_step_results(&p, result_batch).await.map(|c| c.results as u64)
                    })
                }),
                None,
            ),
            (
                "task_finalizer",
                listener::CHANNEL_TASK_FINALIZE,
                a.task_finalizer_channel_size,
                finalize_batch,
                Arc::new(move |p: PgPool| {
                    Box::pin(async move {
                        crate::db::engine::finalize_tasks(&p, finalize_batch).await.map(|v| v.len() as u64)
                    })
                }),
                None,
            ),
        ];
        for (name, channel, size, batch, call, next_due) in specs {
            let (tx, rx) = mpsc::channel(size.max(1));
            hub.register_waker(channel, tx.clone());
            let running = Arc::new(AtomicBool::new(false));
            let b = breaker(name);
            let actor = DrainActor {
                name,
                pool: pool.clone(),
                rx,
                tick,
                batch_size: u64::from(batch),
                call,
                next_due,
                breaker: b.clone(),
                metrics: metrics.clone(),
                running: running.clone(),
            };
            entries.push(ActorEntry { name, running, channel: Box::new(tx) });
            breakers.push(b);
            tasks.spawn(actor.run(shutdown.clone()));
        }

        // Staleness sweeper.
        let st = config.orchestration.staleness.clone();
        if st.enabled {
            let p = pool.clone();
            let sd = shutdown.clone();
            tasks.spawn(async move {
                let mut interval = tokio::time::interval(Duration::from_millis(st.interval_ms.max(100)));
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = sd.cancelled() => break,
                        _ = interval.tick() => {}
                    }
                    match crate::db::engine::sweep_stale_steps(&p, st.grace_seconds, 500).await {
                        Ok(0) => {}
                        Ok(n) => tracing::warn!(steps = n, "staleness sweep failed steps whose queue message vanished"),
                        Err(e) => tracing::warn!(error = %e, "staleness sweep failed"),
                    }
                }
            });
        }

        let hub = Arc::new(hub);
        tasks.spawn(hub.clone().run(pool, shutdown.clone()));
        let status = Arc::new(RuntimeStatus { metrics, hub, actors: entries, breakers });
        Actors { submitter, status, shutdown, tasks, drain_timeout }
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
