//! TaskRequestActor: creates tasks. API requests reach it through a bounded channel of
//! `[orchestration.actors] task_request_channel_size` commands; a full channel is backpressure
//! (the caller gets [`ActorError::Backpressure`]; REST answers 503 with Retry-After, gRPC
//! RESOURCE_EXHAUSTED), never an unbounded wait. Requests waiting together are created
//! together: up to `batch_size` per `tasker.create_tasks` call (one round trip, one transaction
//! that also dispatches each task's root steps), `concurrency` calls at a time. One request alone
//! goes through `tasker.create_task`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, Mutex, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::batch::ActorContext;
use super::circuit_breaker::CircuitBreaker;
use super::error::{positive, ActorError, ActorResult};
use crate::config::ActorsConfig;
use crate::db::{engine, EngineError, EngineResult};
use crate::metrics::{ActorLabel, Metrics};
use crate::model::TaskRequest;

/// Actor name in logs, metrics and health.
pub const NAME: &str = "task_request";
/// How long a caller is told to wait when the channel is full.
pub const BACKPRESSURE_RETRY_AFTER: Duration = Duration::from_secs(1);
/// Default channel size (`[orchestration.actors] task_request_channel_size`).
pub const DEFAULT_CHANNEL_SIZE: usize = 1000;
/// Default concurrent create calls (`task_request_concurrency`): few, so that requests waiting
/// together make large batches (docs/benchmarks.md, "Task creation in fewer, larger batches").
pub const DEFAULT_CONCURRENCY: usize = 2;
/// Default most requests per `tasker.create_tasks` call (`task_request_batch_size`).
pub const DEFAULT_BATCH_SIZE: usize = 64;
/// Default wait for an answer before the caller gets `Unavailable`
/// (`[orchestration.web] request_timeout_ms`).
pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time shutdown gives queued requests to be created (`shutdown_timeout_ms`).
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How the task request actor runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Requests that may wait in the channel; one more is backpressure.
    pub channel_size: usize,
    /// Create calls in flight at once.
    pub concurrency: usize,
    /// Most requests one call creates together.
    pub batch_size: usize,
    /// How long a caller waits for its task uuid.
    pub reply_timeout: Duration,
    /// How long shutdown waits for accepted requests to be created.
    pub drain_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            channel_size: DEFAULT_CHANNEL_SIZE,
            concurrency: DEFAULT_CONCURRENCY,
            batch_size: DEFAULT_BATCH_SIZE,
            reply_timeout: DEFAULT_REPLY_TIMEOUT,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
        }
    }
}

impl Config {
    /// From `[orchestration.actors]`, with the API's request timeout as the reply timeout.
    pub fn from_settings(a: &ActorsConfig, reply_timeout: Duration) -> Self {
        Self {
            channel_size: a.task_request_channel_size,
            concurrency: a.task_request_concurrency,
            batch_size: a.task_request_batch_size,
            reply_timeout,
            drain_timeout: Duration::from_millis(a.shutdown_timeout_ms),
        }
    }

    /// Sizes and the reply timeout at least 1.
    pub fn validate(&self) -> ActorResult<()> {
        positive(NAME, "channel_size", self.channel_size as u64)?;
        positive(NAME, "concurrency", self.concurrency as u64)?;
        positive(NAME, "batch_size", self.batch_size as u64)?;
        positive(NAME, "reply_timeout", self.reply_timeout.as_millis() as u64)
    }
}

/// A create request and where its answer goes.
pub struct CreateTask {
    req: TaskRequest,
    reply: oneshot::Sender<ActorResult<Uuid>>,
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
    /// actor stopped, database circuit open or no answer within the reply timeout -> `Unavailable`;
    /// a rejected request -> `Engine` (unknown template, invalid context, …).
    pub async fn submit(&self, req: TaskRequest) -> ActorResult<Uuid> {
        if !self.breaker.allow() {
            return Err(ActorError::Unavailable("the database is failing; task creation is paused".into()));
        }
        let (reply, rx) = oneshot::channel();
        match self.tx.try_send(CreateTask { req, reply }) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.metrics.actor_backpressure.get_or_create(&ActorLabel { actor: NAME.into() }).inc();
                return Err(ActorError::Backpressure { retry_after: BACKPRESSURE_RETRY_AFTER });
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                return Err(ActorError::Unavailable("the server is shutting down".into()));
            }
        }
        match tokio::time::timeout(self.reply_timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(ActorError::Unavailable("the server is shutting down".into())),
            Err(_) => {
                Err(ActorError::Unavailable("task creation timed out; retry with the same idempotency key".into()))
            }
        }
    }

    /// The channel, for status (depth against capacity).
    pub(crate) fn channel(&self) -> &mpsc::Sender<CreateTask> {
        &self.tx
    }
}

/// What one [`TaskRequestActor::run_once`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Tasks created (or found by idempotency key).
    pub created: usize,
    /// Requests the engine rejected (each caller got its error).
    pub rejected: usize,
}

/// Creates batches and answers their callers; shared by `run_once` and the spawned calls of `run`.
#[derive(Clone)]
struct Creator {
    pool: PgPool,
    metrics: Arc<Metrics>,
    breaker: Arc<CircuitBreaker>,
}

impl Creator {
    /// One create call for `cmds`, answering each. A request the engine rejects is that caller's
    /// error; a failed call answers every caller and is returned.
    async fn create(&self, cmds: Vec<CreateTask>) -> ActorResult<Outcome> {
        let label = ActorLabel { actor: NAME.into() };
        let started = Instant::now();
        let results = self.call(&cmds).await;
        self.metrics.actor_iterations.get_or_create(&label).inc();
        self.metrics.actor_latency.get_or_create(&label).observe(started.elapsed().as_secs_f64());
        match results {
            Ok(results) => {
                if results.iter().any(|r| r.as_ref().is_err_and(EngineError::is_unavailable)) {
                    self.breaker.record_failure();
                } else {
                    self.breaker.record_success();
                }
                self.metrics.actor_processed.get_or_create(&label).inc_by(results.len() as u64);
                self.metrics.actor_batch_size.get_or_create(&label).observe(results.len() as f64);
                let mut outcome = Outcome::default();
                let mut results = results.into_iter();
                for cmd in cmds {
                    let result = results.next().unwrap_or_else(|| {
                        Err(EngineError::Sql {
                            code: "XX000".into(),
                            message: "create_tasks returned too few rows".into(),
                        })
                    });
                    match result {
                        Ok(_) => outcome.created += 1,
                        Err(_) => outcome.rejected += 1,
                    }
                    let _ = cmd.reply.send(result.map_err(ActorError::from));
                }
                Ok(outcome)
            }
            Err(err) => {
                // Only an outage (connection, timeout, resources) counts toward the breaker: a
                // bad request must never pause task creation for everyone.
                if err.is_unavailable() {
                    self.breaker.record_failure();
                }
                self.metrics.actor_errors.get_or_create(&label).inc();
                // Logged once here; every caller gets the id to quote.
                let correlation_id = Uuid::now_v7();
                if err.is_unavailable() {
                    tracing::warn!(error = %err, requests = cmds.len(), "task creation: database unavailable");
                } else {
                    tracing::error!(%correlation_id, error = %err, requests = cmds.len(), "task creation failed");
                }
                for cmd in cmds {
                    let reply = if err.is_unavailable() {
                        ActorError::Unavailable("the database is unavailable; retry later".into())
                    } else {
                        ActorError::BatchFailed { correlation_id }
                    };
                    let _ = cmd.reply.send(Err(reply));
                }
                Err(err.into())
            }
        }
    }

    /// One request: `tasker.create_task`; several: `tasker.create_tasks`. The outer error is a
    /// failure of the call itself (database), not of a request.
    async fn call(&self, cmds: &[CreateTask]) -> EngineResult<Vec<EngineResult<Uuid>>> {
        if let [one] = cmds {
            return match engine::tasks::create_task(&self.pool, &one.req).await {
                Ok(u) => Ok(vec![Ok(u)]),
                // A rejected request is the caller's error, not the database's.
                Err(e) if e.is_rejection() => Ok(vec![Err(e)]),
                Err(e) => Err(e),
            };
        }
        let reqs: Vec<&TaskRequest> = cmds.iter().map(|c| &c.req).collect();
        match engine::tasks::create_tasks(&self.pool, &reqs).await {
            Ok(results) => Ok(results),
            Err(e) if e.is_unavailable() => Err(e),
            // The call failed as a whole for a reason that is not an outage (one request the
            // server could not even take as a parameter, such as a NUL in its context): retry
            // request by request, so only that request fails.
            Err(e) => {
                tracing::warn!(error = %e, requests = cmds.len(), "batch create failed; creating one by one");
                let mut results = Vec::with_capacity(cmds.len());
                for cmd in cmds {
                    match engine::tasks::create_task(&self.pool, &cmd.req).await {
                        Err(e) if e.is_unavailable() && results.is_empty() => return Err(e),
                        r => results.push(r),
                    }
                }
                Ok(results)
            }
        }
    }
}

/// The actor.
pub struct TaskRequestActor {
    creator: Creator,
    rx: Mutex<mpsc::Receiver<CreateTask>>,
    config: Config,
    running: Arc<AtomicBool>,
}

impl TaskRequestActor {
    /// Builds the actor and the submitter that feeds it; fails when `config` is out of range.
    pub fn new(ctx: &ActorContext, config: Config) -> ActorResult<(Self, TaskSubmitter)> {
        config.validate()?;
        let (tx, rx) = mpsc::channel(config.channel_size);
        let breaker = ctx.breaker(NAME);
        let submitter = TaskSubmitter {
            tx,
            reply_timeout: config.reply_timeout,
            metrics: ctx.metrics.clone(),
            breaker: breaker.clone(),
        };
        let creator = Creator { pool: ctx.pool.clone(), metrics: ctx.metrics.clone(), breaker };
        let actor = Self { creator, rx: Mutex::new(rx), config, running: Arc::new(AtomicBool::new(false)) };
        Ok((actor, submitter))
    }

    /// Its configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Creates the requests waiting now (up to `batch_size`) in one call and answers them;
    /// nothing waiting is an empty outcome.
    pub async fn run_once(&self) -> ActorResult<Outcome> {
        let mut cmds = Vec::new();
        {
            let mut rx = self.rx.lock().await;
            while cmds.len() < self.config.batch_size {
                match rx.try_recv() {
                    Ok(cmd) => cmds.push(cmd),
                    Err(_) => break,
                }
            }
        }
        if cmds.is_empty() {
            return Ok(Outcome::default());
        }
        self.creator.create(cmds).await
    }

    /// Serves requests until `shutdown`, then stops intake and creates what was accepted within
    /// the drain timeout.
    pub async fn run(self, shutdown: CancellationToken) {
        self.running.store(true, Ordering::Relaxed);
        let mut rx = self.rx.lock().await;
        let permits = Arc::new(Semaphore::new(self.config.concurrency));
        let size = self.config.batch_size;
        let mut batch = Vec::with_capacity(size);
        loop {
            // A free call first, then the batch: requests that arrive while every call is in
            // flight wait together for the next one.
            let permit = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                permit = Arc::clone(&permits).acquire_owned() => permit,
            };
            let Ok(permit) = permit else { break };
            let n = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                n = rx.recv_many(&mut batch, size) => n,
            };
            if n == 0 {
                break;
            }
            self.spawn_batch(std::mem::take(&mut batch), permit);
        }
        // Stop intake, finish what was accepted.
        rx.close();
        let drain = async {
            while let Ok(permit) = Arc::clone(&permits).acquire_owned().await {
                if rx.recv_many(&mut batch, size).await == 0 {
                    break;
                }
                self.spawn_batch(std::mem::take(&mut batch), permit);
            }
            let _ = permits.acquire_many(self.config.concurrency as u32).await;
        };
        if tokio::time::timeout(self.config.drain_timeout, drain).await.is_err() {
            tracing::warn!("task request actor: drain timed out");
        }
        self.running.store(false, Ordering::Relaxed);
    }

    /// Creates `cmds` in a call of its own, which holds `permit` until it is done.
    fn spawn_batch(&self, cmds: Vec<CreateTask>, permit: OwnedSemaphorePermit) {
        let creator = self.creator.clone();
        tokio::spawn(async move {
            if let Err(e) = creator.create(cmds).await {
                tracing::debug!(error = %e, "task request batch failed; every caller was answered");
            }
            drop(permit);
        });
    }

    pub(crate) fn running_flag(&self) -> Arc<AtomicBool> {
        self.running.clone()
    }

    pub(crate) fn breaker(&self) -> Arc<CircuitBreaker> {
        self.creator.breaker.clone()
    }

    /// Its circuit breaker's state.
    pub fn breaker_status(&self) -> crate::model::BreakerStatus {
        self.creator.breaker.status()
    }
}
