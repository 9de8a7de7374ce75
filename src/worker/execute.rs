//! Executing one claimed step: find its handler, run it in its own task under the step's timeout,
//! turn panics, timeouts and unknown handlers into outcomes, count the outcome, record the
//! invocation in the audit when asked, and build the result message.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn, Instrument};

use super::config::WorkerConfig;
use super::handler::{HandlerRegistry, StepContext, StepError, StepOutcome};
use super::metrics::WorkerMetrics;
use super::report::StepResultMessage;
use crate::db::worker::{self as sql, ClaimedStep, ExecutionRecord};

/// Runs claimed steps with a worker's handlers.
#[derive(Debug)]
pub(super) struct Executor {
    pool: PgPool,
    registry: HandlerRegistry,
    worker_id: String,
    /// Write one `tasker_audit.step_executions` row per invocation.
    record_executions: bool,
    metrics: Arc<WorkerMetrics>,
}

impl Executor {
    /// An executor of `registry`'s handlers, as `config`'s worker.
    pub(super) fn new(
        pool: PgPool,
        registry: HandlerRegistry,
        config: &WorkerConfig,
        metrics: Arc<WorkerMetrics>,
    ) -> Self {
        let (worker_id, record_executions) = (config.worker_id.clone(), config.record_executions);
        Self { pool, registry, worker_id, record_executions, metrics }
    }

    /// The handlers.
    pub(super) fn registry(&self) -> &HandlerRegistry {
        &self.registry
    }

    /// Executes one claimed step, counts its outcome, records the audit row (when asked), and
    /// returns the result to submit.
    pub(super) async fn run(&self, step: ClaimedStep) -> StepResultMessage {
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
        if self.record_executions {
            self.record(&step, &outcome, started_at, finished_at).await;
        }
        StepResultMessage::new(step.step_uuid, step.attempt, step.msg_id, self.worker_id.as_str(), outcome)
    }

    /// Runs the step's handler under its timeout, turning panics, timeouts and unknown handlers
    /// into outcomes.
    async fn execute(&self, step: &ClaimedStep) -> StepOutcome {
        let Some(handler) = self.registry.get(&step.handler) else {
            return StepOutcome::Permanent(StepError::new(
                "UnknownHandler",
                format!("no handler registered for {} (worker {})", step.handler, self.worker_id),
            ));
        };
        let ctx = context(step);
        let timeout = ctx.timeout;
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

    /// Appends the invocation to the audit; a failure is logged, never fatal to the step.
    async fn record(&self, step: &ClaimedStep, outcome: &StepOutcome, started: DateTime<Utc>, finished: DateTime<Utc>) {
        let error = match outcome {
            StepOutcome::Success(_) => None,
            StepOutcome::Retryable { error, .. } | StepOutcome::Permanent(error) => Some(error.to_json()),
        };
        let record = ExecutionRecord {
            step_uuid: step.step_uuid,
            task_uuid: step.task_uuid,
            attempt: step.attempt,
            handler: &step.handler,
            worker_id: &self.worker_id,
            started_at: started,
            finished_at: finished,
            outcome: outcome.status(),
            error,
        };
        if let Err(e) = sql::record_execution(&self.pool, &record).await {
            warn!(error = %e, "could not record the execution");
        }
    }
}

/// What the handler sees of a claimed step.
fn context(step: &ClaimedStep) -> StepContext {
    let parent_results = match &step.parent_results {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        _ => BTreeMap::new(),
    };
    StepContext {
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
        timeout: Duration::from_secs(u64::try_from(step.timeout_seconds).unwrap_or(0).max(1)),
    }
}

/// A retryable error of class `Panic` quoting the panic message.
fn panic_outcome(payload: Box<dyn std::any::Any + Send>) -> StepOutcome {
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_string());
    StepOutcome::retryable("Panic", format!("handler panicked: {msg}"))
}

/// Aborts a spawned task when dropped (a timed-out or abandoned handler must not run on).
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
