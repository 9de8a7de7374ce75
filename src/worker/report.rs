//! Reporting: the result message of the worker protocol ([`StepResultMessage`]) and the submitter
//! that sends finished attempts to `tasker.submit_step_results` in batches. That call is the only
//! way a dispatch message is ever deleted: ack after execute.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};
use uuid::Uuid;

use super::claim::{Slot, Slots};
use super::config::WorkerConfig;
use super::handler::{StepError, StepOutcome};
use super::metrics::WorkerMetrics;
use crate::db::worker::{self as sql, ClaimedStep, SubmitOutcome};

/// Most results sent in one `tasker.submit_step_results` call.
pub const SUBMIT_BATCH_MAX: usize = 100;
/// Largest retry-after hint the engine accepts (12 digits of milliseconds).
pub const MAX_RETRY_AFTER_MS: u64 = 999_999_999_999;
/// Longest pause between two attempts to submit a batch.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// The `status` of a result: how the attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// The handler succeeded.
    Success,
    /// The attempt failed; another may succeed.
    RetryableError,
    /// The step cannot succeed.
    PermanentError,
}

/// One element of the JSON array `tasker.submit_step_results` takes (docs/worker-protocol.md,
/// "Report"): the outcome of one attempt of one claimed step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepResultMessage {
    /// The step, from the claimed row.
    pub step_uuid: Uuid,
    /// The attempt, from the claimed row: a result for a superseded attempt is refused.
    pub attempt: i32,
    /// The dispatch message, from the claimed row: deleted when the result is accepted.
    pub msg_id: i64,
    /// How the attempt ended.
    pub status: StepStatus,
    /// The reporting worker (accepted by the engine, not stored).
    pub worker: String,
    /// The step's result, for `success` (sent even when JSON `null`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// The error (`message`, `class`, optional `details`), for the two error statuses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<StepError>,
    /// For `retryable_error`: wait exactly this long before the next attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl StepResultMessage {
    /// The message reporting `outcome` for `attempt` of `step_uuid`, claimed with `msg_id`.
    pub fn new(step_uuid: Uuid, attempt: i32, msg_id: i64, worker: impl Into<String>, outcome: StepOutcome) -> Self {
        let (status, result, error, retry_after_ms) = match outcome {
            StepOutcome::Success(result) => (StepStatus::Success, Some(result), None, None),
            StepOutcome::Retryable { error, retry_after } => {
                let ms = retry_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).min(MAX_RETRY_AFTER_MS));
                (StepStatus::RetryableError, None, Some(error), ms)
            }
            StepOutcome::Permanent(error) => (StepStatus::PermanentError, None, Some(error), None),
        };
        Self { step_uuid, attempt, msg_id, status, worker: worker.into(), result, error, retry_after_ms }
    }
}

/// A finished attempt waiting to be submitted; its slot is released once it is.
#[derive(Debug)]
pub(super) struct Completed {
    /// What to submit.
    pub(super) message: StepResultMessage,
    /// The step's slot.
    pub(super) slot: Slot,
}

/// What the submitter needs to chain claims to its acknowledgements (docs/worker-protocol.md,
/// "Chained claim"): the slots to claim into, the claim's settings, where to hand the claimed
/// steps to the run loop, and the shutdown that ends chaining.
#[derive(Debug)]
pub(super) struct Chain {
    /// The worker's slots: a chained claim takes the batch's own and what is free.
    pub(super) slots: Arc<Slots>,
    /// Most steps per claim.
    pub(super) batch_size: usize,
    /// The claim's visibility timeout, in seconds.
    pub(super) vt_seconds: i32,
    /// Recorded in the claimed steps' history.
    pub(super) worker_id: String,
    /// The run loop, which runs what is claimed.
    pub(super) claimed: mpsc::UnboundedSender<(ClaimedStep, Slot)>,
    /// Once cancelled, results are submitted without a claim.
    pub(super) stop: CancellationToken,
}

/// Submits results, retrying transient failures.
#[derive(Debug)]
pub(super) struct Reporter {
    pool: PgPool,
    metrics: Arc<WorkerMetrics>,
    /// How long to keep retrying a batch: past the visibility timeout its messages are
    /// redelivered anyway.
    patience: Duration,
    /// How long a batch waits for the results of the worker's other running steps.
    linger: Duration,
}

impl Reporter {
    /// A reporter on `pool` that gives up on a batch after `config`'s visibility timeout.
    pub(super) fn new(pool: PgPool, config: &WorkerConfig, metrics: Arc<WorkerMetrics>) -> Self {
        Self { pool, metrics, patience: config.visibility_timeout, linger: config.report_linger }
    }

    /// Submits finished attempts in one call, retrying transient failures for up to the
    /// reporter's patience. The batch's slots are released when this returns. Returns how many
    /// results were accepted.
    pub(super) async fn submit(&self, batch: Vec<Completed>) -> Result<usize, sqlx::Error> {
        if batch.is_empty() {
            return Ok(0);
        }
        let (messages, _slots): (Vec<StepResultMessage>, Vec<Slot>) =
            batch.into_iter().map(|c| (c.message, c.slot)).unzip();
        self.submit_messages(&messages).await
    }

    /// Counts and logs the outcomes of a submission; returns how many results were accepted.
    fn tally(&self, submitted: usize, rows: &[SubmitOutcome]) -> usize {
        let accepted = rows.iter().filter(|r| r.accepted).count();
        for row in rows.iter().filter(|r| !r.accepted) {
            let step_uuid = row.step_uuid;
            warn!(%step_uuid, "result not accepted: attempt superseded or step no longer in progress");
        }
        self.metrics.rejected.fetch_add((rows.len() - accepted) as u64, Ordering::Relaxed);
        debug!(submitted, accepted, "submitted results");
        accepted
    }

    /// Submits `messages` in one call, retrying transient failures for up to the reporter's
    /// patience. Returns how many results were accepted.
    async fn submit_messages(&self, messages: &[StepResultMessage]) -> Result<usize, sqlx::Error> {
        let deadline = Instant::now() + self.patience;
        let mut failures = 0;
        loop {
            match sql::submit_step_results(&self.pool, messages).await {
                Ok(rows) => return Ok(self.tally(messages.len(), &rows)),
                // TK-class errors are the engine rejecting the input: retrying cannot help.
                Err(e) if matches!(&e, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("TK"))) => {
                    error!(error = %e, "results rejected by the engine; their steps will be redelivered");
                    return Err(e);
                }
                Err(e) => {
                    failures += 1;
                    if Instant::now() + backoff(failures) > deadline {
                        let steps: Vec<Uuid> = messages.iter().map(|m| m.step_uuid).collect();
                        error!(error = %e, ?steps, "could not submit results; their steps will be redelivered");
                        return Err(e);
                    }
                    warn!(error = %e, "submitting results failed; retrying");
                    tokio::time::sleep(backoff(failures)).await;
                }
            }
        }
    }

    /// Submits finished attempts and, in the same transaction, claims steps of the first result's
    /// namespace into the slots the batch frees (plus free ones, at most a claim batch); the
    /// claimed steps go to the run loop. A failing claim gives way to a plain submission
    /// ([`sql::submit_and_claim`]); a failing submission is retried without a claim. Returns how
    /// many results were accepted.
    pub(super) async fn submit_chained(&self, mut batch: Vec<Completed>, chain: &Chain) -> Result<usize, sqlx::Error> {
        let Some(namespace) = batch.first().map(|c| c.slot.namespace().to_string()) else {
            return Ok(0);
        };
        // The batch's permits: its steps are done once the results are in.
        let mut permit: Option<OwnedSemaphorePermit> = None;
        for c in &mut batch {
            merge(&mut permit, c.slot.take_permit());
        }
        let have = permit.as_ref().map_or(0, OwnedSemaphorePermit::num_permits);
        if have < chain.batch_size {
            merge(&mut permit, chain.slots.reserve(chain.batch_size - have));
        }
        let limit = permit.as_ref().map_or(0, OwnedSemaphorePermit::num_permits).min(chain.batch_size);
        let (messages, _slots): (Vec<StepResultMessage>, Vec<Slot>) =
            batch.into_iter().map(|c| (c.message, c.slot)).unzip();
        if limit == 0 {
            return self.submit_messages(&messages).await;
        }
        let limit_i32 = i32::try_from(limit).unwrap_or(i32::MAX);
        match sql::submit_and_claim(&self.pool, &messages, &namespace, limit_i32, chain.vt_seconds, &chain.worker_id)
            .await
        {
            Ok(done) => {
                let accepted = self.tally(messages.len(), &done.outcomes);
                match done.claimed {
                    Ok(steps) => {
                        if !steps.is_empty() {
                            debug!(claimed = steps.len(), "claimed with the acknowledgement");
                        }
                        for step in steps {
                            let slot = chain.slots.hold(
                                &step.namespace,
                                step.msg_id,
                                permit.as_mut().and_then(|p| p.split(1)),
                            );
                            // A run loop that has stopped drops the step: its message reappears
                            // after the visibility timeout.
                            let _ = chain.claimed.send((step, slot));
                        }
                    }
                    Err(e) => {
                        warn!(namespace = %namespace, error = %e, "chained claim failed; the results were applied");
                    }
                }
                Ok(accepted)
            }
            Err(e) if matches!(&e, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("TK"))) => {
                error!(error = %e, "results rejected by the engine; their steps will be redelivered");
                Err(e)
            }
            Err(e) => {
                warn!(error = %e, "submitting results failed; retrying");
                self.submit_messages(&messages).await
            }
        }
    }

    /// Adds to `batch` the results of the worker's other steps that finish within the linger:
    /// while a step holds a slot without its result in the batch (it is running, or its result is
    /// on its way), waits for the next result until the linger has passed since the call.
    async fn linger(&self, rx: &mut mpsc::Receiver<Completed>, batch: &mut Vec<Completed>) {
        if self.linger.is_zero() {
            return;
        }
        let deadline = tokio::time::Instant::now() + self.linger;
        while batch.len() < SUBMIT_BATCH_MAX && self.metrics.in_flight.load(Ordering::Relaxed) > batch.len() as u64 {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(c)) => batch.push(c),
                Ok(None) | Err(_) => break,
            }
        }
    }

    /// Reports finished attempts from `rx`, batching those that finish together, with a chained
    /// claim when `chain` is given and not stopped. Ends when every sender is gone and the channel
    /// is drained.
    pub(super) async fn run(self: Arc<Self>, mut rx: mpsc::Receiver<Completed>, chain: Option<Chain>) {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < SUBMIT_BATCH_MAX {
                match rx.try_recv() {
                    Ok(c) => batch.push(c),
                    Err(_) => break,
                }
            }
            self.linger(&mut rx, &mut batch).await;
            // Errors are logged in submit; the steps' messages reappear after the visibility timeout.
            let _ = match &chain {
                Some(chain) if !chain.stop.is_cancelled() => self.submit_chained(batch, chain).await,
                _ => self.submit(batch).await,
            };
        }
    }
}

/// Adds `more` to the permits in `into`.
fn merge(into: &mut Option<OwnedSemaphorePermit>, more: Option<OwnedSemaphorePermit>) {
    match (into.as_mut(), more) {
        (Some(p), Some(more)) => p.merge(more),
        (None, more) => *into = more,
        (Some(_), None) => {}
    }
}

/// The pause after `failures` consecutive database failures: 100 ms doubling, at most 10 s.
pub(super) fn backoff(failures: u32) -> Duration {
    let ms = 100u64.saturating_mul(1u64 << failures.min(10));
    Duration::from_millis(ms).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn wire(outcome: StepOutcome) -> Value {
        let step = Uuid::from_u128(7);
        serde_json::to_value(StepResultMessage::new(step, 2, 42, "w1", outcome)).unwrap_or_default()
    }

    #[test]
    fn success_carries_its_result_even_when_null() {
        let base =
            json!({"step_uuid": Uuid::from_u128(7), "attempt": 2, "msg_id": 42, "status": "success", "worker": "w1"});
        let mut with_result = base.clone();
        with_result["result"] = json!({"ok": true});
        assert_eq!(wire(StepOutcome::Success(json!({"ok": true}))), with_result);
        let mut with_null = base;
        with_null["result"] = Value::Null;
        assert_eq!(wire(StepOutcome::Success(Value::Null)), with_null);
    }

    #[test]
    fn retryable_error_carries_the_error_and_a_capped_retry_after() {
        let error = StepError::new("Timeout", "slow").with_details(json!({"code": 5}));
        let got = wire(StepOutcome::Retryable { error, retry_after: Some(Duration::from_secs(5)) });
        assert_eq!(
            got,
            json!({"step_uuid": Uuid::from_u128(7), "attempt": 2, "msg_id": 42, "status": "retryable_error",
                   "worker": "w1", "error": {"class": "Timeout", "message": "slow", "details": {"code": 5}},
                   "retry_after_ms": 5000})
        );
        let huge = wire(StepOutcome::Retryable {
            error: StepError::new("Busy", "later"),
            retry_after: Some(Duration::from_secs(u64::MAX)),
        });
        assert_eq!(huge["retry_after_ms"], json!(MAX_RETRY_AFTER_MS));
        assert!(wire(StepOutcome::retryable("Busy", "later")).get("retry_after_ms").is_none());
    }

    #[test]
    fn permanent_error_carries_the_error_without_details_when_none() {
        assert_eq!(
            wire(StepOutcome::permanent("PaymentDeclined", "card declined")),
            json!({"step_uuid": Uuid::from_u128(7), "attempt": 2, "msg_id": 42, "status": "permanent_error",
                   "worker": "w1", "error": {"class": "PaymentDeclined", "message": "card declined"}})
        );
    }
}
