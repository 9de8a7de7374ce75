//! The worker: claim steps, run their handlers, heartbeat, report results.
//!
//! One [`Worker`] serves a set of namespaces. Its loop wakes on a notification on
//! [`DISPATCH_CHANNEL`](super::DISPATCH_CHANNEL) ([`wake`](super::wake)), on a polling tick (so a
//! lost notification delays work but never loses it), or when a concurrency slot frees up, and
//! then claims no more steps than it has free slots ([`claim`](super::claim)). Each claimed step
//! runs in its own task under the step's timeout ([`execute`](super::execute)). While steps run,
//! one heartbeat task extends the visibility of their messages ([`heartbeat`](super::heartbeat)),
//! and one submitter task reports finished steps in batches ([`report`](super::report)), which is
//! the only way a dispatch message is ever deleted: ack after execute. The submitter chains a
//! claim to each acknowledgement, in its transaction, for the slots the batch frees: the children
//! its results release are claimed there and handed back to the loop, without waiting for their
//! dispatch notification. A worker that dies mid-step
//! leaves its messages to reappear after the visibility timeout.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, info_span, warn, Instrument};

use super::claim::{Claimer, Slot, Slots};
use super::config::{WorkerConfig, WorkerError};
use super::execute::Executor;
use super::handler::HandlerRegistry;
use super::heartbeat::Heartbeat;
use super::metrics::WorkerMetrics;
use super::report::{backoff, Chain, Completed, Reporter};
use super::wake::Wakeups;
use crate::db::worker::ClaimedStep;

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

/// A worker: claims steps of its namespaces, runs them with its handlers, reports the results.
pub struct Worker {
    pool: PgPool,
    config: WorkerConfig,
    metrics: Arc<WorkerMetrics>,
    slots: Arc<Slots>,
    claimer: Claimer,
    executor: Arc<Executor>,
    reporter: Arc<Reporter>,
    heartbeat: Arc<Heartbeat>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("config", &self.config)
            .field("registry", self.executor.registry())
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
        let metrics = Arc::new(WorkerMetrics::default());
        let slots = Slots::new(config.concurrency, Arc::clone(&metrics));
        Ok(Self {
            claimer: Claimer::new(pool.clone(), &config, Arc::clone(&slots)),
            executor: Arc::new(Executor::new(pool.clone(), registry, &config, Arc::clone(&metrics))),
            reporter: Arc::new(Reporter::new(pool.clone(), &config, Arc::clone(&metrics))),
            heartbeat: Arc::new(Heartbeat::new(pool.clone(), &config, Arc::clone(&slots), Arc::clone(&metrics))),
            pool,
            config,
            metrics,
            slots,
        })
    }

    /// The worker's counters; the handle stays valid after [`run`](Self::run) consumed the worker.
    pub fn metrics(&self) -> Arc<WorkerMetrics> {
        Arc::clone(&self.metrics)
    }

    /// The worker's settings.
    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// Runs one claimed step's handler, in a span naming the step; resolves to its result.
    fn execute(&self, step: ClaimedStep, slot: Slot) -> impl Future<Output = Completed> + Send + 'static {
        let span = info_span!("step", step_uuid = %step.step_uuid, handler = %step.handler, attempt = step.attempt);
        let executor = Arc::clone(&self.executor);
        async move { Completed { message: executor.run(step).await, slot } }.instrument(span)
    }

    /// One round without the loop, for tests and tools: claims what the free slots allow from
    /// every served namespace, runs the handlers (heartbeating meanwhile), submits the results
    /// in one call, and returns what happened.
    pub async fn run_once(&self) -> Result<RoundOutcome, WorkerError> {
        let mut want: HashSet<String> = self.claimer.namespaces().served().await?.into_iter().collect();
        let claimed = self.claimer.claim_round(&mut want).await?;
        if claimed.is_empty() {
            return Ok(RoundOutcome::default());
        }
        let n = claimed.len();
        let stop = CancellationToken::new();
        let heartbeat = tokio::spawn(Arc::clone(&self.heartbeat).run(stop.clone()));
        let mut running = JoinSet::new();
        for (step, slot) in claimed {
            running.spawn(self.execute(step, slot));
        }
        let mut done = Vec::with_capacity(n);
        while let Some(joined) = running.join_next().await {
            match joined {
                Ok(c) => done.push(c),
                Err(e) => error!(error = %e, "step task failed"),
            }
        }
        let submitted = done.len();
        let accepted = self.reporter.submit(done).await;
        stop.cancel();
        let _ = heartbeat.await;
        Ok(RoundOutcome { claimed: n, submitted, accepted: accepted? })
    }

    /// Runs until `shutdown` is cancelled, then stops claiming, lets running handlers finish
    /// within [`WorkerConfig::shutdown_timeout`], submits their results and returns once every
    /// task it started has ended. Database errors are logged and retried with backoff.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), WorkerError> {
        let cfg = &self.config;
        let handlers = self.executor.registry().names();
        info!(worker_id = %cfg.worker_id, namespaces = ?cfg.namespaces, concurrency = cfg.concurrency, ?handlers, "worker started");
        if self.pool.options().get_max_connections() < 3 {
            warn!("the worker's pool has fewer than 3 connections; LISTEN keeps one");
        }

        // The listener stops with the claims; the heartbeat once every result is submitted.
        let wake = Arc::new(Wakeups::default());
        let listener = cfg.listen.then(|| {
            let (wake, pool, stop) = (Arc::clone(&wake), self.pool.clone(), shutdown.clone());
            tokio::spawn(async move { wake.listen(pool, stop).await })
        });
        let heartbeat_stop = CancellationToken::new();
        let heartbeat = tokio::spawn(Arc::clone(&self.heartbeat).run(heartbeat_stop.clone()));
        let (tx, rx) = mpsc::channel::<Completed>(cfg.concurrency);
        let (chained_tx, mut chained) = mpsc::unbounded_channel::<(ClaimedStep, Slot)>();
        let chain = Chain {
            slots: Arc::clone(&self.slots),
            batch_size: cfg.batch_size,
            vt_seconds: cfg.vt_seconds(),
            worker_id: cfg.worker_id.clone(),
            claimed: chained_tx,
            stop: shutdown.clone(),
        };
        let submitter = tokio::spawn(Arc::clone(&self.reporter).run(rx, Some(chain)));
        let spawn = |running: &mut JoinSet<()>, step: ClaimedStep, slot: Slot| {
            let (step, tx) = (self.execute(step, slot), tx.clone());
            running.spawn(async move {
                if tx.send(step.await).await.is_err() {
                    warn!("result dropped: the submitter has stopped");
                }
            });
        };

        let mut running: JoinSet<()> = JoinSet::new();
        let mut poll = tokio::time::interval(cfg.poll_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut refresh = tokio::time::interval(cfg.namespace_refresh_interval);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let namespaces = self.claimer.namespaces();
        let mut want: HashSet<String> = HashSet::new();
        let mut want_all = true;
        let mut failures = 0u32;

        while !shutdown.is_cancelled() {
            if self.slots.available() > 0 && (want_all || !want.is_empty()) {
                let round = async {
                    if want_all {
                        want.extend(namespaces.served().await?);
                        want_all = false;
                    }
                    self.claimer.claim_round(&mut want).await
                };
                match round.await {
                    Ok(claimed) if !claimed.is_empty() => {
                        failures = 0;
                        for (step, slot) in claimed {
                            spawn(&mut running, step, slot);
                        }
                        continue;
                    }
                    Ok(_) => failures = 0,
                    Err(e) => {
                        failures += 1;
                        warn!(error = %e, failures, "claim round failed");
                        tokio::select! {
                            _ = shutdown.cancelled() => break,
                            _ = tokio::time::sleep(backoff(failures)) => continue,
                        }
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
                Some((step, slot)) = chained.recv() => spawn(&mut running, step, slot),
                _ = self.slots.freed() => {}
                _ = wake.notified() => want_all |= wake.take().add_to(&mut want, namespaces).await,
                _ = poll.tick() => want_all = true,
                _ = refresh.tick() => {
                    if let Err(e) = namespaces.refresh().await {
                        warn!(error = %e, "reading namespaces failed");
                    }
                }
            }
        }

        // Steps a chained claim handed over before the shutdown still run; one that arrives later
        // is dropped with its slot, and its message reappears after the visibility timeout.
        chained.close();
        while let Ok((step, slot)) = chained.try_recv() {
            spawn(&mut running, step, slot);
        }
        info!(running = running.len(), "worker stopping: no more claims; waiting for running steps");
        if let Some(listener) = listener {
            let _ = listener.await;
        }
        let drained = tokio::time::timeout(cfg.shutdown_timeout, async {
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
        heartbeat_stop.cancel();
        let _ = heartbeat.await;
        info!(metrics = ?self.metrics.snapshot(), "worker stopped");
        Ok(())
    }
}
