//! TaskRequestActor: creates tasks. API requests reach it through a bounded channel; a full
//! channel is backpressure (the caller gets `ServiceError::Backpressure`, REST answers 503 with
//! Retry-After), never an unbounded wait. Up to `concurrency` `tasker.create_task` calls run at
//! once, each in its own transaction (which also dispatches the task's root steps).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::circuit_breaker::CircuitBreaker;
use crate::metrics::{ActorLabel, Metrics};
use crate::model::TaskRequest;
use crate::service::ServiceError;

/// Actor name.
pub const NAME: &str = "task_request";
/// How long a caller is told to wait when the channel is full.
pub const BACKPRESSURE_RETRY_AFTER: Duration = Duration::from_secs(1);

/// A create request and where its answer goes.
pub struct CreateTask {
    req: TaskRequest,
    reply: oneshot::Sender<Result<Uuid, ServiceError>>,
}

/// The API's handle on the actor.
#[derive(Clone)]
pub struct TaskSubmitter {
    tx: mpsc::Sender<CreateTask>,
    reply_timeout: Duration,
    metrics: Arc<Metrics>,
    breaker: Arc<CircuitBreaker>,
}

impl TaskSubmitter {
    /// Queues a create request and waits for its task uuid. Full channel -> `Backpressure`;
    /// actor stopped, database circuit open or no answer within the reply timeout -> `Unavailable`.
    pub async fn submit(&self, req: TaskRequest) -> Result<Uuid, ServiceError> {
        if !self.breaker.allow() {
            return Err(ServiceError::Unavailable("the database is failing; task creation is paused".into()));
        }
        let (reply, rx) = oneshot::channel();
        match self.tx.try_send(CreateTask { req, reply }) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.metrics.actor_backpressure.get_or_create(&ActorLabel { actor: NAME.into() }).inc();
                return Err(ServiceError::Backpressure { retry_after: BACKPRESSURE_RETRY_AFTER });
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                return Err(ServiceError::Unavailable("the server is shutting down".into()));
            }
        }
        match tokio::time::timeout(self.reply_timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(ServiceError::Unavailable("the server is shutting down".into())),
            Err(_) => {
                Err(ServiceError::Unavailable("task creation timed out; retry with the same idempotency key".into()))
            }
        }
    }
}

/// The actor.
pub struct TaskRequestActor {
    pool: PgPool,
    rx: mpsc::Receiver<CreateTask>,
    concurrency: usize,
    metrics: Arc<Metrics>,
    breaker: Arc<CircuitBreaker>,
    running: Arc<AtomicBool>,
}

impl TaskRequestActor {
    /// Builds the actor and its submitter.
    pub(crate) fn new(
        pool: PgPool,
        channel_size: usize,
        concurrency: usize,
        reply_timeout: Duration,
        metrics: Arc<Metrics>,
        breaker: Arc<CircuitBreaker>,
        running: Arc<AtomicBool>,
    ) -> (Self, TaskSubmitter, mpsc::Sender<CreateTask>) {
        let (tx, rx) = mpsc::channel(channel_size.max(1));
        let submitter =
            TaskSubmitter { tx: tx.clone(), reply_timeout, metrics: metrics.clone(), breaker: breaker.clone() };
        (Self { pool, rx, concurrency: concurrency.max(1), metrics, breaker, running }, submitter, tx)
    }

    /// Serves requests until `shutdown`, then drains what is queued within `drain_timeout`.
    pub async fn run(mut self, shutdown: CancellationToken, drain_timeout: Duration) {
        self.running.store(true, Ordering::Relaxed);
        let permits = Arc::new(Semaphore::new(self.concurrency));
        loop {
            let cmd = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                cmd = self.rx.recv() => cmd,
            };
            let Some(cmd) = cmd else { break };
            self.spawn_one(cmd, &permits).await;
        }
        // Stop intake, finish what was accepted.
        self.rx.close();
        let drain = async {
            while let Some(cmd) = self.rx.recv().await {
                self.spawn_one(cmd, &permits).await;
            }
            let _ = permits.acquire_many(self.concurrency as u32).await;
        };
        if tokio::time::timeout(drain_timeout, drain).await.is_err() {
            tracing::warn!("task request actor: drain timed out");
        }
        self.running.store(false, Ordering::Relaxed);
    }

    async fn spawn_one(&self, cmd: CreateTask, permits: &Arc<Semaphore>) {
        let Ok(permit) = permits.clone().acquire_owned().await else { return };
        let pool = self.pool.clone();
        let metrics = self.metrics.clone();
        let breaker = self.breaker.clone();
        tokio::spawn(async move {
            let label = ActorLabel { actor: NAME.into() };
            let started = Instant::now();
            let result = crate::db::engine::create_task(&pool, &cmd.req).await;
            metrics.actor_iterations.get_or_create(&label).inc();
            metrics.actor_latency.get_or_create(&label).observe(started.elapsed().as_secs_f64());
            let result = match result {
                Ok(uuid) => {
                    breaker.record_success();
                    metrics.actor_processed.get_or_create(&label).inc();
                    metrics.actor_batch_size.get_or_create(&label).observe(1.0);
                    Ok(uuid)
                }
                Err(e) => {
                    let err = ServiceError::from_db(e);
                    if matches!(err, ServiceError::Unavailable(_) | ServiceError::Internal { .. }) {
                        breaker.record_failure();
                        metrics.actor_errors.get_or_create(&label).inc();
                    } else {
                        // A rejected request is the caller's error, not the database's.
                        breaker.record_success();
                    }
                    Err(err)
                }
            };
            let _ = cmd.reply.send(result);
            drop(permit);
        });
    }
}
