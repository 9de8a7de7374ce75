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

/// Default channel size (`[orchestration.actors] task_request_channel_size`).
pub const DEFAULT_CHANNEL_SIZE: usize = 1000;
/// Default concurrent create calls.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// Default most requests per `tasker.create_tasks` call.
pub const DEFAULT_BATCH_SIZE: usize = 64;
/// Default wait for an answer before the caller gets `Unavailable`.
pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// How the task request actor runs.
#[derive(Debug, Clone, Copy)]
pub struct TaskRequestConfig {
    /// Requests that may wait; one more is backpressure.
    pub channel_size: usize,
    /// Create calls in flight at once.
    pub concurrency: usize,
    /// Most requests one call creates together.
    pub batch_size: usize,
    /// How long a caller waits for its task uuid.
    pub reply_timeout: Duration,
}

impl Default for TaskRequestConfig {
    fn default() -> Self {
        Self {
            channel_size: DEFAULT_CHANNEL_SIZE,
            concurrency: DEFAULT_CONCURRENCY,
            batch_size: DEFAULT_BATCH_SIZE,
            reply_timeout: DEFAULT_REPLY_TIMEOUT,
        }
    }
}

/// The actor.
pub struct TaskRequestActor {
    pool: PgPool,
    rx: mpsc::Receiver<CreateTask>,
    concurrency: usize,
    batch_size: usize,
    metrics: Arc<Metrics>,
    breaker: Arc<CircuitBreaker>,
    running: Arc<AtomicBool>,
}

impl TaskRequestActor {
    /// Builds the actor and its submitter.
    pub(crate) fn new(
        pool: PgPool,
        config: &TaskRequestConfig,
        metrics: Arc<Metrics>,
        breaker: Arc<CircuitBreaker>,
        running: Arc<AtomicBool>,
    ) -> (Self, TaskSubmitter, mpsc::Sender<CreateTask>) {
        let TaskRequestConfig { channel_size, concurrency, batch_size, reply_timeout } = *config;
        let (tx, rx) = mpsc::channel(channel_size.max(1));
        let submitter =
            TaskSubmitter { tx: tx.clone(), reply_timeout, metrics: metrics.clone(), breaker: breaker.clone() };
        (
            Self {
                pool,
                rx,
                concurrency: concurrency.max(1),
                batch_size: batch_size.max(1),
                metrics,
                breaker,
                running,
            },
            submitter,
            tx,
        )
    }

    /// Serves requests until `shutdown`, then drains what is queued within `drain_timeout`.
    /// Requests waiting together are created together: up to `batch_size` per
    /// `tasker.create_tasks` call (one round trip, one commit), `concurrency` calls at a time.
    pub async fn run(mut self, shutdown: CancellationToken, drain_timeout: Duration) {
        self.running.store(true, Ordering::Relaxed);
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let mut batch = Vec::with_capacity(self.batch_size);
        loop {
            let n = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                n = self.rx.recv_many(&mut batch, self.batch_size) => n,
            };
            if n == 0 {
                break;
            }
            self.spawn_batch(std::mem::take(&mut batch), &permits).await;
        }
        // Stop intake, finish what was accepted.
        self.rx.close();
        let drain = async {
            while self.rx.recv_many(&mut batch, self.batch_size).await > 0 {
                self.spawn_batch(std::mem::take(&mut batch), &permits).await;
            }
            let _ = permits.acquire_many(self.concurrency as u32).await;
        };
        if tokio::time::timeout(drain_timeout, drain).await.is_err() {
            tracing::warn!("task request actor: drain timed out");
        }
        self.running.store(false, Ordering::Relaxed);
    }

    async fn spawn_batch(&self, cmds: Vec<CreateTask>, permits: &Arc<Semaphore>) {
        let Ok(permit) = permits.clone().acquire_owned().await else { return };
        let pool = self.pool.clone();
        let metrics = self.metrics.clone();
        let breaker = self.breaker.clone();
        tokio::spawn(async move {
            let label = ActorLabel { actor: NAME.into() };
            let started = Instant::now();
            let results: Result<Vec<Result<Uuid, ServiceError>>, ServiceError> = if cmds.len() == 1 {
                crate::db::engine::create_task(&pool, &cmds[0].req).await.map(|u| vec![Ok(u)]).or_else(|e| {
                    match ServiceError::from_db(e) {
                        // A rejected request is the caller's error, not the database's.
                        err @ (ServiceError::Unavailable(_) | ServiceError::Internal { .. }) => Err(err),
                        err => Ok(vec![Err(err)]),
                    }
                })
            } else {
                let reqs: Vec<&TaskRequest> = cmds.iter().map(|c| &c.req).collect();
                crate::db::engine::create_tasks(&pool, &reqs)
                    .await
                    .map(|rows| {
                        rows.into_iter()
                            .map(|r| r.map_err(|e| ServiceError::from_sqlstate(&e.code, e.message)))
                            .collect()
                    })
                    .map_err(ServiceError::from_db)
            };
            metrics.actor_iterations.get_or_create(&label).inc();
            metrics.actor_latency.get_or_create(&label).observe(started.elapsed().as_secs_f64());
            match results {
                Ok(results) => {
                    breaker.record_success();
                    metrics.actor_processed.get_or_create(&label).inc_by(results.len() as u64);
                    metrics.actor_batch_size.get_or_create(&label).observe(results.len() as f64);
                    let mut results = results.into_iter();
                    for cmd in cmds {
                        let result = results.next().unwrap_or_else(|| {
                            Err(ServiceError::internal("create_tasks returned fewer rows than requests"))
                        });
                        let _ = cmd.reply.send(result);
                    }
                }
                Err(err) => {
                    breaker.record_failure();
                    metrics.actor_errors.get_or_create(&label).inc();
                    for cmd in cmds {
                        let _ = cmd.reply.send(Err(clone_error(&err)));
                    }
                }
            }
            drop(permit);
        });
    }
}

/// The same failure for every request of a failed batch.
fn clone_error(err: &ServiceError) -> ServiceError {
    match err {
        ServiceError::Internal { correlation_id } => ServiceError::Internal { correlation_id: *correlation_id },
        ServiceError::Backpressure { retry_after } => ServiceError::Backpressure { retry_after: *retry_after },
        other => ServiceError::Unavailable(other.to_string()),
    }
}
