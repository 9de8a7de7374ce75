//! The worker runtime: claim steps, run their handlers, heartbeat, report results.
//!
//! One [`Worker`] serves a set of namespaces. Its loop wakes on a notification on
//! [`DISPATCH_CHANNEL`] (payload: the queue a step was sent to), on a polling tick (so a lost
//! notification delays work but never loses it), or when a concurrency slot frees up, and then
//! claims with `tasker.claim_steps` no more steps than it has free slots. Each claimed step runs in
//! its own task under the step's timeout. While steps run, one heartbeat task extends the
//! visibility of their messages (`tasker.extend_visibility`, one call per namespace), and one
//! submitter task reports finished steps in batches (`tasker.submit_step_results`), which is the
//! only way a dispatch message is ever deleted: ack after execute. A worker that dies mid-step
//! leaves its messages to reappear after the visibility timeout.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::{mpsc, Notify, OnceCell, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, info_span, warn, Instrument};
use uuid::Uuid;

use super::handler::{HandlerRegistry, StepContext, StepError, StepOutcome};

/// The channel the engine notifies when it sends steps to a worker queue; the payload is the
/// queue name (`worker_<namespace>_queue`).
pub const DISPATCH_CHANNEL: &str = "tasker_step_dispatched";
/// Default [`WorkerConfig::concurrency`].
pub const DEFAULT_CONCURRENCY: usize = 16;
/// Default [`WorkerConfig::batch_size`].
pub const DEFAULT_BATCH_SIZE: usize = 10;
/// Largest [`WorkerConfig::batch_size`] accepted.
pub const MAX_BATCH_SIZE: usize = 1000;
/// Default [`WorkerConfig::visibility_timeout`].
pub const DEFAULT_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`WorkerConfig::heartbeat_interval`] (a third of the default visibility timeout).
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);
/// Default [`WorkerConfig::poll_interval`].
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Default [`WorkerConfig::namespace_refresh_interval`].
pub const DEFAULT_NAMESPACE_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// Default [`WorkerConfig::shutdown_timeout`].
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// Most results sent in one `tasker.submit_step_results` call.
const SUBMIT_BATCH_MAX: usize = 100;
/// Longest pause after repeated database failures.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Largest retry-after hint the engine accepts (12 digits of milliseconds).
const MAX_RETRY_AFTER_MS: u128 = 999_999_999_999;

/// Errors of the worker runtime.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// A [`WorkerConfig`] field is out of range; the message names it.
    #[error("invalid worker config: {0}")]
    InvalidConfig(String),
    /// A database call failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// Worker settings. Build with struct update syntax over [`Default`]; [`Worker::new`] validates.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Namespaces to serve. Empty means every namespace (`tasker.list_namespaces()`), re-read every
    /// `namespace_refresh_interval` (and when a notification names an unknown queue). A listed
    /// namespace that does not exist yet is served once it appears.
    pub namespaces: Vec<String>,
    /// Most steps running at once in this worker.
    pub concurrency: usize,
    /// Most steps claimed per namespace per `tasker.claim_steps` call (also bounded by free slots).
    pub batch_size: usize,
    /// How long a claimed message stays invisible to other workers without a heartbeat; whole
    /// seconds, at least 1. A worker that dies mid-step loses its steps to others after this long.
    pub visibility_timeout: Duration,
    /// How often the visibility of running steps' messages is extended. Must be shorter than
    /// `visibility_timeout`; a third of it leaves room for a slow round trip.
    pub heartbeat_interval: Duration,
    /// How often the worker claims without being notified: the fallback for lost notifications.
    pub poll_interval: Duration,
    /// How often the namespaces are re-read.
    pub namespace_refresh_interval: Duration,
    /// On shutdown, how long running handlers may take to finish before they are abandoned (their
    /// messages reappear after the visibility timeout).
    pub shutdown_timeout: Duration,
    /// Whether to LISTEN on [`DISPATCH_CHANNEL`]; without it the worker only polls.
    pub listen: bool,
    /// Identifies this worker in step history and in the execution audit.
    pub worker_id: String,
    /// Record every handler invocation in `tasker_audit.step_executions` (created at start).
    pub record_executions: bool,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            namespaces: Vec::new(),
            concurrency: DEFAULT_CONCURRENCY,
            batch_size: DEFAULT_BATCH_SIZE,
            visibility_timeout: DEFAULT_VISIBILITY_TIMEOUT,
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            poll_interval: DEFAULT_POLL_INTERVAL,
            namespace_refresh_interval: DEFAULT_NAMESPACE_REFRESH_INTERVAL,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            listen: true,
            worker_id: default_worker_id(),
            record_executions: false,
        }
    }
}

impl WorkerConfig {
    /// Checks every field; the error names the first field out of range.
    pub fn validate(&self) -> Result<(), WorkerError> {
        let bad = |msg: String| Err(WorkerError::InvalidConfig(msg));
        for ns in &self.namespaces {
            let ok = ns.len() <= 34
                && ns.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && ns.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !ok {
                return bad(format!("namespaces: {ns:?} is not a namespace name ([a-z][a-z0-9_]{{0,33}})"));
            }
        }
        if self.concurrency == 0 || self.concurrency > Semaphore::MAX_PERMITS {
            return bad(format!("concurrency must be at least 1, got {}", self.concurrency));
        }
        if self.batch_size == 0 || self.batch_size > MAX_BATCH_SIZE {
            return bad(format!("batch_size must be from 1 to {MAX_BATCH_SIZE}, got {}", self.batch_size));
        }
        if self.visibility_timeout < Duration::from_secs(1) || self.visibility_timeout.as_secs() > i32::MAX as u64 {
            return bad(format!("visibility_timeout must be at least 1s, got {:?}", self.visibility_timeout));
        }
        if self.heartbeat_interval.is_zero() || self.heartbeat_interval >= self.visibility_timeout {
            return bad(format!(
                "heartbeat_interval must be above zero and below visibility_timeout ({:?}), got {:?}",
                self.visibility_timeout, self.heartbeat_interval
            ));
        }
        if self.poll_interval.is_zero() {
            return bad("poll_interval must be above zero".into());
        }
        if self.namespace_refresh_interval.is_zero() {
            return bad("namespace_refresh_interval must be above zero".into());
        }
        if self.worker_id.trim().is_empty() {
            return bad("worker_id must not be empty".into());
        }
        Ok(())
    }

    /// The visibility timeout in whole seconds, rounded up, as `tasker.claim_steps` takes it.
    fn vt_seconds(&self) -> i32 {
        let secs = self.visibility_timeout.as_secs() + u64::from(self.visibility_timeout.subsec_nanos() > 0);
        i32::try_from(secs).unwrap_or(i32::MAX)
    }
}

/// `<hostname>-<pid>`: the default worker id.
pub fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "worker".to_string());
    format!("{host}-{}", std::process::id())
}

/// Counters of one worker, readable while it runs (see [`Worker::metrics`]).
#[derive(Debug, Default)]
pub struct WorkerMetrics {
    claimed: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    in_flight: AtomicU64,
    rejected: AtomicU64,
    heartbeats: AtomicU64,
}

/// A copy of a worker's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Steps claimed (attempts started).
    pub claimed: u64,
    /// Attempts whose handler succeeded.
    pub succeeded: u64,
    /// Attempts that ended in a permanent error.
    pub failed: u64,
    /// Attempts that ended in a retryable error (including timeouts and panics).
    pub retried: u64,
    /// Steps claimed whose result is not submitted yet.
    pub in_flight: u64,
    /// Results the engine did not accept (superseded attempt or step no longer in progress).
    pub rejected: u64,
    /// Successful `tasker.extend_visibility` calls.
    pub heartbeats: u64,
}

impl WorkerMetrics {
    /// The current values.
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            claimed: self.claimed.load(Ordering::Relaxed),
            succeeded: self.succeeded.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            heartbeats: self.heartbeats.load(Ordering::Relaxed),
        }
    }
}

/// What one [`Worker::run_once`] round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundOutcome {
    /// Steps claimed.
    pub claimed: usize,
    /// Results submitted.
    pub submitted: usize,
    /// Results the engine accepted.
    pub accepted: usize,
}

/// One row of `tasker.claim_steps`.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Claimed {
    msg_id: i64,
    step_uuid: Uuid,
    task_uuid: Uuid,
    attempt: i32,
    max_attempts: i32,
    namespace: String,
    task_name: String,
    task_version: String,
    step_name: String,
    handler: String,
    timeout_seconds: i32,
    context: Value,
    inputs: Value,
    parent_results: Value,
}

#[derive(Default)]
struct NamespaceCache {
    /// queue name -> namespace.
    by_queue: HashMap<String, String>,
    /// Every namespace, sorted.
    names: Vec<String>,
    loaded: bool,
}

/// What woke the claim loop since it last looked: specific queues, or "claim everything".
#[derive(Default)]
struct Wakeups {
    state: Mutex<WakeState>,
    notify: Notify,
}

#[derive(Default)]
struct WakeState {
    all: bool,
    queues: HashSet<String>,
}

impl Wakeups {
    fn queue(&self, queue: &str) {
        lock(&self.state).queues.insert(queue.to_string());
        self.notify.notify_one();
    }

    fn all(&self) {
        lock(&self.state).all = true;
        self.notify.notify_one();
    }

    fn take(&self) -> WakeState {
        std::mem::take(&mut *lock(&self.state))
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// State shared by the claim loop, the step tasks, the heartbeat and the submitter.
struct Shared {
    pool: PgPool,
    registry: HandlerRegistry,
    config: WorkerConfig,
    vt_seconds: i32,
    metrics: Arc<WorkerMetrics>,
    slots: Arc<Semaphore>,
    /// namespace -> msg_id -> how many running steps of this worker hold it.
    in_flight: Mutex<HashMap<String, BTreeMap<i64, usize>>>,
    namespaces: Mutex<NamespaceCache>,
    slot_freed: Notify,
    audit_ready: OnceCell<()>,
    rotation: AtomicUsize,
}

/// A claimed step's hold on a concurrency slot and on the heartbeat: released when dropped, that
/// is after its result is submitted (or abandoned).
struct Slot {
    shared: Arc<Shared>,
    namespace: String,
    msg_id: i64,
    permit: Option<OwnedSemaphorePermit>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        {
            let mut map = lock(&self.shared.in_flight);
            if let Some(ids) = map.get_mut(&self.namespace) {
                if let Some(n) = ids.get_mut(&self.msg_id) {
                    *n -= 1;
                    if *n == 0 {
                        ids.remove(&self.msg_id);
                    }
                }
                if ids.is_empty() {
                    map.remove(&self.namespace);
                }
            }
        }
        self.shared.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
        drop(self.permit.take());
        self.shared.slot_freed.notify_one();
    }
}

/// A finished attempt waiting to be submitted.
struct Completed {
    body: Value,
    step_uuid: Uuid,
    _slot: Slot,
}

/// Aborts a spawned task when dropped (a timed-out or abandoned handler must not run on).
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn backoff(failures: u32) -> Duration {
    let ms = 100u64.saturating_mul(1u64 << failures.min(10));
    Duration::from_millis(ms).min(MAX_BACKOFF)
}

/// Sleeps `d` unless `stop` fires first; returns whether it fired.
async fn sleep_or_stop(d: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        _ = stop.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
    }
}

fn is_sqlstate(e: &sqlx::Error, code: &str) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some(code))
}

fn panic_outcome(payload: Box<dyn std::any::Any + Send>) -> StepOutcome {
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_string());
    StepOutcome::retryable("Panic", format!("handler panicked: {msg}"))
}

impl Shared {
    /// Creates the audit table when executions are recorded. Once per worker.
    async fn prepare(&self) -> Result<(), sqlx::Error> {
        if !self.config.record_executions {
            return Ok(());
        }
        self.audit_ready
            .get_or_try_init(|| async {
                let mut tx = self.pool.begin().await?;
                // Concurrent CREATE ... IF NOT EXISTS can still collide; serialize workers.
                sqlx::query("SELECT pg_advisory_xact_lock(hashtext('tasker_audit.step_executions'))")
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("CREATE SCHEMA IF NOT EXISTS tasker_audit").execute(&mut *tx).await?;
                sqlx::query(
                    "CREATE TABLE IF NOT EXISTS tasker_audit.step_executions (
                         id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                         step_uuid   uuid NOT NULL,
                         task_uuid   uuid NOT NULL,
                         attempt     integer NOT NULL,
                         handler     text NOT NULL,
                         worker_id   text NOT NULL,
                         started_at  timestamptz NOT NULL,
                         finished_at timestamptz NOT NULL,
                         outcome     text NOT NULL,
                         error       jsonb)",
                )
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "CREATE INDEX IF NOT EXISTS step_executions_step ON tasker_audit.step_executions (step_uuid, attempt)",
                )
                .execute(&mut *tx)
                .await?;
                tx.commit().await
            })
            .await
            .map(|_| ())
    }

    async fn refresh_namespaces(&self) -> Result<(), sqlx::Error> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT name, queue_name FROM tasker.list_namespaces()").fetch_all(&self.pool).await?;
        let mut cache = lock(&self.namespaces);
        cache.names = rows.iter().map(|(n, _)| n.clone()).collect();
        cache.by_queue = rows.into_iter().map(|(n, q)| (q, n)).collect();
        cache.loaded = true;
        Ok(())
    }

    fn serves(&self, namespace: &str) -> bool {
        self.config.namespaces.is_empty() || self.config.namespaces.iter().any(|n| n == namespace)
    }

    /// The namespaces to claim from: the configured ones that exist, or all.
    async fn served_namespaces(&self) -> Result<Vec<String>, sqlx::Error> {
        if !lock(&self.namespaces).loaded {
            self.refresh_namespaces().await?;
        }
        let cache = lock(&self.namespaces);
        Ok(cache.names.iter().filter(|n| self.serves(n)).cloned().collect())
    }

    /// The served namespace whose queue is `queue`, re-reading namespaces once for an unknown queue.
    async fn namespace_for_queue(&self, queue: &str) -> Result<Option<String>, sqlx::Error> {
        let known = lock(&self.namespaces).by_queue.get(queue).cloned();
        let ns = match known {
            Some(ns) => Some(ns),
            None => {
                self.refresh_namespaces().await?;
                lock(&self.namespaces).by_queue.get(queue).cloned()
            }
        };
        Ok(ns.filter(|n| self.serves(n)))
    }

    async fn claim(&self, namespace: &str, limit: usize) -> Result<Vec<Claimed>, sqlx::Error> {
        sqlx::query_as::<_, Claimed>(
            "SELECT msg_id, step_uuid, task_uuid, attempt, max_attempts, namespace, task_name, task_version,
                    step_name, handler, timeout_seconds, context, inputs, parent_results
               FROM tasker.claim_steps($1, $2, $3, $4)",
        )
        .bind(namespace)
        .bind(i32::try_from(limit).unwrap_or(i32::MAX))
        .bind(self.vt_seconds)
        .bind(&self.config.worker_id)
        .fetch_all(&self.pool)
        .await
    }

    /// Claims from the namespaces in `want`, as many steps as there are free slots. A namespace
    /// that yields fewer steps than asked is drained and leaves `want`. Returns the claimed
    /// steps, each holding its slot; an error after some claims is logged and ends the round.
    async fn claim_round(self: &Arc<Self>, want: &mut HashSet<String>) -> Result<Vec<(Claimed, Slot)>, sqlx::Error> {
        let mut order: Vec<String> = want.iter().cloned().collect();
        order.sort_unstable();
        if !order.is_empty() {
            let start = self.rotation.fetch_add(1, Ordering::Relaxed) % order.len();
            order.rotate_left(start);
        }
        let mut out = Vec::new();
        for ns in order {
            let limit = self.slots.available_permits().min(self.config.batch_size);
            if limit == 0 {
                break;
            }
            let Ok(mut permits) = self.slots.clone().try_acquire_many_owned(limit as u32) else {
                break;
            };
            let rows = match self.claim(&ns, limit).await {
                Ok(rows) => rows,
                Err(e) if is_sqlstate(&e, "TK002") => {
                    debug!(namespace = %ns, "namespace no longer exists");
                    want.remove(&ns);
                    lock(&self.namespaces).loaded = false;
                    continue;
                }
                Err(e) if out.is_empty() => return Err(e),
                Err(e) => {
                    warn!(namespace = %ns, error = %e, "claim failed; running what was claimed");
                    break;
                }
            };
            if rows.len() < limit {
                want.remove(&ns);
            }
            for row in rows {
                let permit = permits.split(1);
                *lock(&self.in_flight).entry(row.namespace.clone()).or_default().entry(row.msg_id).or_insert(0) += 1;
                self.metrics.claimed.fetch_add(1, Ordering::Relaxed);
                self.metrics.in_flight.fetch_add(1, Ordering::Relaxed);
                let slot =
                    Slot { shared: Arc::clone(self), namespace: row.namespace.clone(), msg_id: row.msg_id, permit };
                out.push((row, slot));
            }
        }
        if !out.is_empty() {
            debug!(claimed = out.len(), "claimed steps");
        }
        Ok(out)
    }

    /// Runs the step's handler under its timeout, turning panics, timeouts and unknown handlers
    /// into outcomes.
    async fn execute(&self, step: &Claimed) -> StepOutcome {
        let Some(handler) = self.registry.get(&step.handler) else {
            return StepOutcome::Permanent(StepError::new(
                "UnknownHandler",
                format!("no handler registered for {} (worker {})", step.handler, self.config.worker_id),
            ));
        };
        let timeout = Duration::from_secs(u64::try_from(step.timeout_seconds).unwrap_or(0).max(1));
        let parent_results = match &step.parent_results {
            Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            _ => BTreeMap::new(),
        };
        let ctx = StepContext {
            step_uuid: step.step_uuid,
            task_uuid: step.task_uuid,
            attempt: step.attempt,
            max_attempts: step.max_attempts,
            namespace: step.namespace.clone(),
            task_name: step.task_name.clone(),
            task_version: step.task_version.clone(),
            step_name: step.step_name.clone(),
            handler: step.handler.clone(),
            context: step.context.clone(),
            inputs: step.inputs.clone(),
            parent_results,
            timeout,
        };
        let fut = match std::panic::catch_unwind(AssertUnwindSafe(|| handler.call(ctx))) {
            Ok(fut) => fut,
            Err(payload) => return panic_outcome(payload),
        };
        let mut task = AbortOnDrop(tokio::spawn(fut.in_current_span()));
        match tokio::time::timeout(timeout, &mut task.0).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(e)) if e.is_panic() => panic_outcome(e.into_panic()),
            Ok(Err(e)) => StepOutcome::retryable("Cancelled", format!("handler task ended abnormally: {e}")),
            Err(_) => StepOutcome::retryable(
                "Timeout",
                format!("handler {} did not finish within the step timeout of {}s", step.handler, timeout.as_secs()),
            ),
        }
    }

    /// Executes one claimed step, records metrics and the audit row, and builds its result.
    async fn execute_step(self: Arc<Self>, step: Claimed, slot: Slot) -> Completed {
        let started_at = Utc::now();
        let outcome = self.execute(&step).await;
        let finished_at = Utc::now();
        let counter = match &outcome {
            StepOutcome::Success(_) => &self.metrics.succeeded,
            StepOutcome::Retryable { .. } => &self.metrics.retried,
            StepOutcome::Permanent(_) => &self.metrics.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        match &outcome {
            StepOutcome::Success(_) => debug!("step succeeded"),
            StepOutcome::Retryable { error, .. } => info!(error = %error, "step failed, retryable"),
            StepOutcome::Permanent(error) => info!(error = %error, "step failed permanently"),
        }
        if self.config.record_executions {
            self.record_execution(&step, &outcome, started_at, finished_at).await;
        }
        let mut body = json!({
            "step_uuid": step.step_uuid,
            "attempt": step.attempt,
            "msg_id": step.msg_id,
            "status": outcome.status(),
            "worker": self.config.worker_id,
        });
        match outcome {
            StepOutcome::Success(result) => body["result"] = result,
            StepOutcome::Retryable { error, retry_after } => {
                body["error"] = error.to_json();
                if let Some(d) = retry_after {
                    body["retry_after_ms"] = json!(d.as_millis().min(MAX_RETRY_AFTER_MS) as u64);
                }
            }
            StepOutcome::Permanent(error) => body["error"] = error.to_json(),
        }
        Completed { body, step_uuid: step.step_uuid, _slot: slot }
    }

    async fn record_execution(
        &self,
        step: &Claimed,
        outcome: &StepOutcome,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
    ) {
        let error = match outcome {
            StepOutcome::Success(_) => None,
            StepOutcome::Retryable { error, .. } | StepOutcome::Permanent(error) => Some(error.to_json()),
        };
        let res = sqlx::query(
            "INSERT INTO tasker_audit.step_executions
                 (step_uuid, task_uuid, attempt, handler, worker_id, started_at, finished_at, outcome, error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(step.step_uuid)
        .bind(step.task_uuid)
        .bind(step.attempt)
        .bind(&step.handler)
        .bind(&self.config.worker_id)
        .bind(started_at)
        .bind(finished_at)
        .bind(outcome.status())
        .bind(error)
        .execute(&self.pool)
        .await;
        if let Err(e) = res {
            warn!(error = %e, "could not record the execution");
        }
    }

    /// Submits finished attempts in one call, retrying transient failures for up to a visibility
    /// timeout (past it the messages are redelivered anyway). The batch's slots are released when
    /// this returns. Returns how many results were accepted.
    async fn submit(&self, batch: Vec<Completed>) -> Result<usize, sqlx::Error> {
        if batch.is_empty() {
            return Ok(0);
        }
        let payload = Value::Array(batch.iter().map(|c| c.body.clone()).collect());
        let deadline = Instant::now() + self.config.visibility_timeout;
        let mut failures = 0;
        loop {
            let res: Result<Vec<(Uuid, bool)>, sqlx::Error> =
                sqlx::query_as("SELECT step_uuid, accepted FROM tasker.submit_step_results($1)")
                    .bind(&payload)
                    .fetch_all(&self.pool)
                    .await;
            match res {
                Ok(rows) => {
                    let accepted = rows.iter().filter(|(_, ok)| *ok).count();
                    for (step_uuid, _) in rows.iter().filter(|(_, ok)| !*ok) {
                        warn!(%step_uuid, "result not accepted: attempt superseded or step no longer in progress");
                    }
                    self.metrics.rejected.fetch_add((rows.len() - accepted) as u64, Ordering::Relaxed);
                    debug!(submitted = batch.len(), accepted, "submitted results");
                    return Ok(accepted);
                }
                // TK-class errors are the engine rejecting the input: retrying cannot help.
                Err(e) if matches!(&e, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("TK"))) => {
                    error!(error = %e, "results rejected by the engine; their steps will be redelivered");
                    return Err(e);
                }
                Err(e) => {
                    failures += 1;
                    if Instant::now() + backoff(failures) > deadline {
                        let steps: Vec<Uuid> = batch.iter().map(|c| c.step_uuid).collect();
                        error!(error = %e, ?steps, "could not submit results; their steps will be redelivered");
                        return Err(e);
                    }
                    warn!(error = %e, "submitting results failed; retrying");
                    tokio::time::sleep(backoff(failures)).await;
                }
            }
        }
    }

    /// Extends the visibility of every running step's message, one call per namespace.
    async fn heartbeat(&self) {
        let snapshot: Vec<(String, Vec<i64>)> =
            lock(&self.in_flight).iter().map(|(ns, ids)| (ns.clone(), ids.keys().copied().collect())).collect();
        for (ns, ids) in snapshot {
            let res: Result<Vec<i64>, sqlx::Error> =
                sqlx::query_scalar("SELECT * FROM tasker.extend_visibility($1, $2, $3)")
                    .bind(&ns)
                    .bind(&ids)
                    .bind(self.vt_seconds)
                    .fetch_all(&self.pool)
                    .await;
            match res {
                Ok(extended) => {
                    self.metrics.heartbeats.fetch_add(1, Ordering::Relaxed);
                    if extended.len() < ids.len() {
                        debug!(namespace = %ns, held = ids.len(), extended = extended.len(), "some messages were already acked");
                    }
                }
                Err(e) => warn!(namespace = %ns, error = %e, "heartbeat failed"),
            }
        }
    }
}

async fn heartbeat_loop(shared: Arc<Shared>, stop: CancellationToken) {
    let every = shared.config.heartbeat_interval;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => shared.heartbeat().await,
        }
    }
}

/// Reports finished attempts, batching those that finish together. Ends when every sender is gone
/// and the channel is drained.
async fn submit_loop(shared: Arc<Shared>, mut rx: mpsc::Receiver<Completed>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < SUBMIT_BATCH_MAX {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        // Errors are logged in submit; the steps' messages reappear after the visibility timeout.
        let _ = shared.submit(batch).await;
    }
}

/// Listens on [`DISPATCH_CHANNEL`], reconnecting with backoff. After every (re)connection it asks
/// for a full claim round: notifications sent while it was not listening are lost.
async fn listen_loop(pool: PgPool, wake: Arc<Wakeups>, stop: CancellationToken) {
    let mut failures = 0u32;
    loop {
        let connected = async {
            let mut l = PgListener::connect_with(&pool).await?;
            l.listen(DISPATCH_CHANNEL).await?;
            Ok::<_, sqlx::Error>(l)
        };
        let mut listener = tokio::select! {
            _ = stop.cancelled() => return,
            r = connected => match r {
                Ok(l) => l,
                Err(e) => {
                    failures += 1;
                    warn!(error = %e, "cannot LISTEN on {DISPATCH_CHANNEL}; polling meanwhile");
                    if sleep_or_stop(backoff(failures), &stop).await {
                        return;
                    }
                    continue;
                }
            },
        };
        debug!("listening on {DISPATCH_CHANNEL}");
        wake.all();
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                r = listener.try_recv() => match r {
                    Ok(Some(n)) => {
                        failures = 0;
                        wake.queue(n.payload());
                    }
                    // The connection dropped and sqlx reconnected and re-listened: poll for what was missed.
                    Ok(None) => {
                        info!("notification connection re-established");
                        wake.all();
                    }
                    Err(e) => {
                        failures += 1;
                        warn!(error = %e, "notification connection lost; reconnecting");
                        break;
                    }
                },
            }
        }
        drop(listener);
        if sleep_or_stop(backoff(failures), &stop).await {
            return;
        }
    }
}

/// A worker: claims steps of its namespaces, runs them with its handlers, reports the results.
pub struct Worker {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("config", &self.shared.config)
            .field("registry", &self.shared.registry)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker on `pool` running `registry`'s handlers. Fails when `config` is invalid.
    ///
    /// The worker holds one pool connection for LISTEN while it runs; size the pool for that plus
    /// claims, heartbeats, submissions and (with `record_executions`) audit inserts.
    pub fn new(pool: PgPool, registry: HandlerRegistry, config: WorkerConfig) -> Result<Self, WorkerError> {
        config.validate()?;
        let shared = Shared {
            pool,
            registry,
            vt_seconds: config.vt_seconds(),
            slots: Arc::new(Semaphore::new(config.concurrency)),
            config,
            metrics: Arc::new(WorkerMetrics::default()),
            in_flight: Mutex::new(HashMap::new()),
            namespaces: Mutex::new(NamespaceCache::default()),
            slot_freed: Notify::new(),
            audit_ready: OnceCell::new(),
            rotation: AtomicUsize::new(0),
        };
        Ok(Self { shared: Arc::new(shared) })
    }

    /// The worker's counters; the handle stays valid after [`run`](Self::run) consumed the worker.
    pub fn metrics(&self) -> Arc<WorkerMetrics> {
        Arc::clone(&self.shared.metrics)
    }

    /// The worker's settings.
    pub fn config(&self) -> &WorkerConfig {
        &self.shared.config
    }

    /// One round without the loop, for tests and tools: claims what the free slots allow from
    /// every served namespace, runs the handlers (heartbeating meanwhile), submits the results
    /// in one call, and returns what happened.
    pub async fn run_once(&self) -> Result<RoundOutcome, WorkerError> {
        let shared = &self.shared;
        shared.prepare().await?;
        let mut want: HashSet<String> = shared.served_namespaces().await?.into_iter().collect();
        let claimed = shared.claim_round(&mut want).await?;
        if claimed.is_empty() {
            return Ok(RoundOutcome::default());
        }
        let n = claimed.len();
        let stop = CancellationToken::new();
        let heartbeat = tokio::spawn(heartbeat_loop(Arc::clone(shared), stop.clone()));
        let mut running = JoinSet::new();
        for (step, slot) in claimed {
            let span = info_span!("step", step_uuid = %step.step_uuid, handler = %step.handler, attempt = step.attempt);
            running.spawn(Arc::clone(shared).execute_step(step, slot).instrument(span));
        }
        let mut done = Vec::with_capacity(n);
        while let Some(joined) = running.join_next().await {
            match joined {
                Ok(c) => done.push(c),
                Err(e) => error!(error = %e, "step task failed"),
            }
        }
        let submitted = done.len();
        let accepted = shared.submit(done).await;
        stop.cancel();
        let _ = heartbeat.await;
        Ok(RoundOutcome { claimed: n, submitted, accepted: accepted? })
    }

    /// Runs until `shutdown` is cancelled, then stops claiming, lets running handlers finish
    /// within [`WorkerConfig::shutdown_timeout`], submits their results and returns.
    ///
    /// Database errors are logged and retried with backoff; only a failure to create the audit
    /// table (with `record_executions`) ends the run with an error.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), WorkerError> {
        let shared = self.shared;
        shared.prepare().await?;
        let cfg = &shared.config;
        info!(
            worker_id = %cfg.worker_id,
            namespaces = ?cfg.namespaces,
            concurrency = cfg.concurrency,
            handlers = ?shared.registry.names(),
            "worker started"
        );
        if shared.pool.options().get_max_connections() < 3 {
            warn!("the worker's pool has fewer than 3 connections; LISTEN keeps one");
        }

        let aux_stop = CancellationToken::new();
        let wake = Arc::new(Wakeups::default());
        let listener =
            cfg.listen.then(|| tokio::spawn(listen_loop(shared.pool.clone(), Arc::clone(&wake), aux_stop.clone())));
        let heartbeat = tokio::spawn(heartbeat_loop(Arc::clone(&shared), aux_stop.clone()));
        let (tx, rx) = mpsc::channel::<Completed>(cfg.concurrency);
        let submitter = tokio::spawn(submit_loop(Arc::clone(&shared), rx));

        let mut running: JoinSet<()> = JoinSet::new();
        let mut poll = tokio::time::interval(cfg.poll_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut refresh = tokio::time::interval(cfg.namespace_refresh_interval);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut want: HashSet<String> = HashSet::new();
        let mut want_all = true;
        let mut failures = 0u32;

        loop {
            if shutdown.is_cancelled() {
                break;
            }
            if shared.slots.available_permits() > 0 && (want_all || !want.is_empty()) {
                let round = async {
                    if want_all {
                        want.extend(shared.served_namespaces().await?);
                        want_all = false;
                    }
                    shared.claim_round(&mut want).await
                };
                match round.await {
                    Ok(claimed) => {
                        failures = 0;
                        let progressed = !claimed.is_empty();
                        for (step, slot) in claimed {
                            let span = info_span!("step", step_uuid = %step.step_uuid, handler = %step.handler, attempt = step.attempt);
                            let tx = tx.clone();
                            let shared = Arc::clone(&shared);
                            running.spawn(
                                async move {
                                    let done = shared.execute_step(step, slot).await;
                                    if tx.send(done).await.is_err() {
                                        warn!("result dropped: the submitter has stopped");
                                    }
                                }
                                .instrument(span),
                            );
                        }
                        if progressed {
                            continue;
                        }
                    }
                    Err(e) => {
                        failures += 1;
                        warn!(error = %e, failures, "claim round failed");
                        if sleep_or_stop(backoff(failures), &shutdown).await {
                            break;
                        }
                        continue;
                    }
                }
            }
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                Some(joined) = running.join_next() => {
                    if let Err(e) = joined {
                        error!(error = %e, "step task failed");
                    }
                }
                _ = shared.slot_freed.notified() => {}
                _ = wake.notify.notified() => {
                    let woke = wake.take();
                    want_all |= woke.all;
                    for queue in woke.queues {
                        match shared.namespace_for_queue(&queue).await {
                            Ok(Some(ns)) => { want.insert(ns); }
                            Ok(None) => {}
                            Err(e) => { warn!(error = %e, "reading namespaces failed"); want_all = true; }
                        }
                    }
                }
                _ = poll.tick() => want_all = true,
                _ = refresh.tick() => {
                    if let Err(e) = shared.refresh_namespaces().await {
                        warn!(error = %e, "reading namespaces failed");
                    }
                }
            }
        }

        info!(running = running.len(), "worker stopping: no more claims; waiting for running steps");
        if let Some(l) = listener {
            l.abort();
        }
        let drained = tokio::time::timeout(shared.config.shutdown_timeout, async {
            while let Some(joined) = running.join_next().await {
                if let Err(e) = joined {
                    error!(error = %e, "step task failed");
                }
            }
        })
        .await;
        if drained.is_err() {
            warn!(
                abandoned = running.len(),
                "shutdown timeout: abandoning running steps; their messages reappear after the visibility timeout"
            );
            running.shutdown().await;
        }
        drop(tx);
        if let Err(e) = submitter.await {
            error!(error = %e, "result submitter failed");
        }
        aux_stop.cancel();
        let _ = heartbeat.await;
        info!(metrics = ?shared.metrics.snapshot(), "worker stopped");
        Ok(())
    }
}
