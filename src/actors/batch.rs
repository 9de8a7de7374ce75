//! What the three batch actors (step enqueuer, result processor, task finalizer) share: the
//! parts every actor is built from ([`ActorContext`]), a coalesced wake-up ([`WakeUp`]), and the
//! loop. Each actor is still its own type with its own `Config`; it implements [`BatchActor`]
//! (its one SQL call) and gets `run_once` and `run` from here.
//!
//! The loop: wait for a wake-up, the fallback tick or shutdown; then call the actor's SQL
//! function until a call returns less than a full batch (at most [`MAX_ROUNDS_PER_WAKE`] calls
//! before looking at shutdown again); on error log, count, back off, and go on. The circuit
//! breaker skips calls while the database keeps failing.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::{mpsc, Mutex};
use tokio_util::sync::CancellationToken;

use super::circuit_breaker::{self, CircuitBreaker};
use super::error::{ActorError, ActorResult};
use super::listener::Wake;
use crate::config::CircuitBreakerConfig;
use crate::db::EngineResult;
use crate::metrics::{ActorLabel, Metrics};

/// Most consecutive full batches before yielding to check for shutdown.
pub const MAX_ROUNDS_PER_WAKE: usize = 64;
/// First back-off after a failed call; it doubles per consecutive failure, capped at the tick.
pub const BACKOFF_BASE: Duration = Duration::from_millis(50);

/// What every actor is built from: the pool, the metrics registry and the circuit breaker
/// settings (`[orchestration.circuit_breaker]`).
#[derive(Clone)]
pub struct ActorContext {
    /// The pool every call goes through.
    pub pool: PgPool,
    /// Where throughput, latency and errors are recorded.
    pub metrics: Arc<Metrics>,
    /// Consecutive failures that open an actor's breaker.
    pub failure_threshold: u32,
    /// How long an open breaker waits before a probe.
    pub open_duration: Duration,
}

impl ActorContext {
    /// A context with the default breaker settings and a fresh metrics registry.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            metrics: Arc::new(Metrics::new()),
            failure_threshold: circuit_breaker::DEFAULT_FAILURE_THRESHOLD,
            open_duration: circuit_breaker::DEFAULT_OPEN_DURATION,
        }
    }

    /// A context with the configured breaker settings, recording into `metrics`.
    pub fn from_config(pool: PgPool, metrics: Arc<Metrics>, cb: &CircuitBreakerConfig) -> Self {
        Self {
            pool,
            metrics,
            failure_threshold: cb.failure_threshold,
            open_duration: Duration::from_millis(cb.open_duration_ms),
        }
    }

    /// A new breaker named after an actor.
    pub(crate) fn breaker(&self, name: &str) -> Arc<CircuitBreaker> {
        Arc::new(CircuitBreaker::new(name, self.failure_threshold, self.open_duration))
    }
}

/// A coalesced wake-up: a channel of capacity one. A wake-up sent while one is pending is
/// dropped (`try_send` finds the channel full), which loses nothing: the actor drains everything
/// when it wakes. So it reports "pending or not", never a depth.
pub struct WakeUp {
    tx: mpsc::Sender<Wake>,
    rx: Mutex<mpsc::Receiver<Wake>>,
}

impl Default for WakeUp {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(1);
        Self { tx, rx: Mutex::new(rx) }
    }
}

impl WakeUp {
    /// The sending side, for the notification hub.
    pub fn sender(&self) -> mpsc::Sender<Wake> {
        self.tx.clone()
    }

    /// Wakes the actor (coalesced with a pending wake-up).
    pub fn wake(&self) {
        let _ = self.tx.try_send(Wake);
    }

    /// Whether a wake-up is pending.
    pub fn pending(&self) -> bool {
        self.tx.capacity() == 0
    }
}

/// The parts of a batch actor the loop uses.
pub(crate) struct Core {
    pub name: &'static str,
    pub pool: PgPool,
    pub metrics: Arc<Metrics>,
    pub breaker: Arc<CircuitBreaker>,
    pub running: Arc<AtomicBool>,
    pub wake: WakeUp,
}

impl Core {
    pub(crate) fn new(name: &'static str, ctx: &ActorContext) -> Self {
        Self {
            name,
            pool: ctx.pool.clone(),
            metrics: ctx.metrics.clone(),
            breaker: ctx.breaker(name),
            running: Arc::new(AtomicBool::new(false)),
            wake: WakeUp::default(),
        }
    }
}

/// One batch actor: its SQL call and how to read its outcome.
pub(crate) trait BatchActor: Send + Sync {
    /// What one call returns.
    type Outcome: Send;
    /// The shared parts.
    fn core(&self) -> &Core;
    /// A call handling this many rows means more may be waiting.
    fn batch_size(&self) -> u64;
    /// The fallback tick.
    fn tick(&self) -> Duration;
    /// The one SQL call, at `now` (`None`: the database's clock).
    fn call(&self, now: Option<DateTime<Utc>>) -> impl Future<Output = EngineResult<Self::Outcome>> + Send;
    /// Rows an outcome handled.
    fn rows(outcome: &Self::Outcome) -> u64;
    /// When to look again without being told (e.g. the next retry coming due).
    fn next_due(&self) -> impl Future<Output = Option<Instant>> + Send {
        async { None }
    }
}

/// One call with breaker and metrics. A skipped call (breaker open) is `ActorError::Unavailable`.
pub(crate) async fn run_once_at<A: BatchActor>(actor: &A, now: Option<DateTime<Utc>>) -> ActorResult<A::Outcome> {
    let core = actor.core();
    if !core.breaker.allow() {
        return Err(ActorError::Unavailable(format!("{} circuit breaker is open", core.name)));
    }
    let label = ActorLabel { actor: core.name.to_string() };
    let started = Instant::now();
    let result = actor.call(now).await;
    core.metrics.actor_iterations.get_or_create(&label).inc();
    core.metrics.actor_latency.get_or_create(&label).observe(started.elapsed().as_secs_f64());
    match result {
        Ok(outcome) => {
            let n = A::rows(&outcome);
            core.breaker.record_success();
            core.metrics.actor_processed.get_or_create(&label).inc_by(n);
            core.metrics.actor_batch_size.get_or_create(&label).observe(n as f64);
            Ok(outcome)
        }
        Err(e) => {
            // Only an outage (connection, timeout, resources) counts toward the breaker.
            if e.is_unavailable() {
                core.breaker.record_failure();
            }
            core.metrics.actor_errors.get_or_create(&label).inc();
            Err(e.into())
        }
    }
}

/// The loop, until `shutdown`.
pub(crate) async fn run_loop<A: BatchActor>(actor: &A, shutdown: CancellationToken) {
    let core = actor.core();
    let mut rx = core.wake.rx.lock().await;
    core.running.store(true, Ordering::Relaxed);
    tracing::debug!(actor = core.name, "actor started");
    let tick = actor.tick();
    let mut failures: u32 = 0;
    let mut wake_at = Instant::now();
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            w = rx.recv() => if w.is_none() { break },
            _ = tokio::time::sleep_until(wake_at.into()) => {}
        }
        let mut rounds = 0;
        let mut more = false;
        loop {
            match run_once_at(actor, None).await {
                Ok(outcome) => {
                    failures = 0;
                    rounds += 1;
                    more = A::rows(&outcome) >= actor.batch_size();
                    if !more || rounds >= MAX_ROUNDS_PER_WAKE || shutdown.is_cancelled() {
                        break;
                    }
                }
                // The breaker is open: skip until the next wake-up or tick.
                Err(ActorError::Unavailable(_)) => break,
                Err(e) => {
                    failures += 1;
                    tracing::warn!(actor = core.name, error = %e, failures, "actor iteration failed");
                    let backoff = (BACKOFF_BASE * (1u32 << failures.min(6))).min(tick);
                    tokio::select! {
                        _ = shutdown.cancelled() => {}
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    break;
                }
            }
        }
        wake_at = if more {
            Instant::now()
        } else {
            let next = Instant::now() + tick;
            match actor.next_due().await {
                Some(at) => next.min(at.max(Instant::now())),
                None => next,
            }
        };
    }
    core.running.store(false, Ordering::Relaxed);
    tracing::debug!(actor = core.name, "actor stopped");
}
