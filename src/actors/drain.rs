//! The shape every batch actor shares: wait for a wake-up (its channel), a fallback tick or
//! shutdown; then call its one SQL function until a call returns less than a full batch; record
//! metrics; on error log, count, back off, and go on. A circuit breaker skips calls while the
//! database keeps failing.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::circuit_breaker::CircuitBreaker;
use super::listener::Wake;
use crate::metrics::{ActorLabel, Metrics};

/// A boxed future returned by an actor's call.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// An actor's one SQL call: returns the rows it handled.
pub type Call = Arc<dyn Fn(PgPool) -> BoxFuture<Result<u64, sqlx::Error>> + Send + Sync>;

/// When the actor should look again without being told (e.g. the next retry coming due).
pub type NextDue = Arc<dyn Fn(PgPool) -> BoxFuture<Option<Instant>> + Send + Sync>;

/// Most consecutive full batches before yielding to check for shutdown.
const MAX_ROUNDS_PER_WAKE: usize = 64;

/// One batch actor.
pub struct DrainActor {
    /// Name in logs and metrics.
    pub name: &'static str,
    /// Pool.
    pub pool: PgPool,
    /// Wake-ups.
    pub rx: mpsc::Receiver<Wake>,
    /// Fallback tick.
    pub tick: Duration,
    /// A call handling this many rows means more may be waiting.
    pub batch_size: u64,
    /// The SQL call.
    pub call: Call,
    /// Optional early wake-up time.
    pub next_due: Option<NextDue>,
    /// Breaker around the call.
    pub breaker: Arc<CircuitBreaker>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Set while the loop runs.
    pub running: Arc<AtomicBool>,
}

impl DrainActor {
    /// One SQL call, with breaker and metrics. `Ok(None)` when the breaker skipped it.
    pub async fn run_once(&self) -> Result<Option<u64>, sqlx::Error> {
        if !self.breaker.allow() {
            return Ok(None);
        }
        let label = ActorLabel { actor: self.name.to_string() };
        let started = Instant::now();
        let result = (self.call)(self.pool.clone()).await;
        self.metrics.actor_iterations.get_or_create(&label).inc();
        self.metrics.actor_latency.get_or_create(&label).observe(started.elapsed().as_secs_f64());
        match result {
            Ok(n) => {
                self.breaker.record_success();
                self.metrics.actor_processed.get_or_create(&label).inc_by(n);
                self.metrics.actor_batch_size.get_or_create(&label).observe(n as f64);
                Ok(Some(n))
            }
            Err(e) => {
                self.breaker.record_failure();
                self.metrics.actor_errors.get_or_create(&label).inc();
                Err(e)
            }
        }
    }

    /// Runs until `shutdown`.
    pub async fn run(mut self, shutdown: CancellationToken) {
        self.running.store(true, Ordering::Relaxed);
        tracing::debug!(actor = self.name, "actor started");
        let mut failures: u32 = 0;
        let mut wake_at = Instant::now();
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                w = self.rx.recv() => {
                    if w.is_none() { break; }
                    while self.rx.try_recv().is_ok() {}
                }
                _ = tokio::time::sleep_until(wake_at.into()) => {}
            }
            let mut rounds = 0;
            let mut more = false;
            loop {
                match self.run_once().await {
                    Ok(Some(n)) => {
                        failures = 0;
                        rounds += 1;
                        more = n >= self.batch_size;
                        if !more || rounds >= MAX_ROUNDS_PER_WAKE || shutdown.is_cancelled() {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        failures += 1;
                        tracing::warn!(actor = self.name, error = %e, failures, "actor iteration failed");
                        let backoff = Duration::from_millis(50u64 << failures.min(6)).min(self.tick);
                        tokio::select! {
                            _ = shutdown.cancelled() => {}
                            _ = tokio::time::sleep(backoff) => {}
                        }
                        break;
                    }
                }
            }
            let mut next = Instant::now() + self.tick;
            if more {
                next = Instant::now();
            } else if let Some(due) = &self.next_due {
                if let Some(at) = due(self.pool.clone()).await {
                    next = next.min(at.max(Instant::now()));
                }
            }
            wake_at = next;
        }
        self.running.store(false, Ordering::Relaxed);
        tracing::debug!(actor = self.name, "actor stopped");
    }
}
