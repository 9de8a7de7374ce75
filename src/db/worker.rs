//! Typed calls of the worker protocol (`docs/worker-protocol.md`): every SQL statement the worker
//! runtime sends, one function per round trip. The worker calls these and holds no SQL itself.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::PgPool;
use uuid::Uuid;

/// A namespace and its worker queue, as `tasker.list_namespaces()` returns them.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct NamespaceQueue {
    /// The namespace.
    pub name: String,
    /// Its pgmq queue, `worker_<namespace>_queue`: the payload of a dispatch notification.
    pub queue_name: String,
}

/// `tasker.list_namespaces()`: every namespace with its queue.
pub async fn list_namespaces(pool: &PgPool) -> Result<Vec<NamespaceQueue>, sqlx::Error> {
    sqlx::query_as("SELECT name, queue_name FROM tasker.list_namespaces()").fetch_all(pool).await
}

/// One step to run now: a row of `tasker.claim_steps`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ClaimedStep {
    /// The dispatch message: heartbeat and acknowledge with it.
    pub msg_id: i64,
    /// The step.
    pub step_uuid: Uuid,
    /// Its task.
    pub task_uuid: Uuid,
    /// This attempt's number (from 1); passed back when submitting.
    pub attempt: i32,
    /// The step's total number of attempts.
    pub max_attempts: i32,
    /// The task's namespace.
    pub namespace: String,
    /// The task template's name.
    pub task_name: String,
    /// The task template's version.
    pub task_version: String,
    /// The step's name within its task.
    pub step_name: String,
    /// The handler name the template gave the step.
    pub handler: String,
    /// How long the attempt may run; enforcing it is the worker's job.
    pub timeout_seconds: i32,
    /// The task's context.
    pub context: Value,
    /// The step's inputs from the template (`{}` when none).
    pub inputs: Value,
    /// The parents' results by step name.
    pub parent_results: Value,
}

/// `tasker.claim_steps`: claims up to `limit` steps of `namespace`, hiding their messages from
/// other readers for `vt_seconds`; `worker_id` goes into the steps' history. SQLSTATE `TK002` for
/// an unknown namespace.
pub async fn claim_steps(
    pool: &PgPool,
    namespace: &str,
    limit: i32,
    vt_seconds: i32,
    worker_id: &str,
) -> Result<Vec<ClaimedStep>, sqlx::Error> {
    sqlx::query_as(
        "SELECT msg_id, step_uuid, task_uuid, attempt, max_attempts, namespace, task_name, task_version,
                step_name, handler, timeout_seconds, context, inputs, parent_results
           FROM tasker.claim_steps($1, $2, $3, $4)",
    )
    .bind(namespace)
    .bind(limit)
    .bind(vt_seconds)
    .bind(worker_id)
    .fetch_all(pool)
    .await
}

/// `tasker.extend_visibility`: pushes the visibility timeout of `msg_ids` of `namespace`'s queue
/// `vt_seconds` into the future; returns the ids it extended (the others were already acked).
pub async fn extend_visibility(
    pool: &PgPool,
    namespace: &str,
    msg_ids: &[i64],
    vt_seconds: i32,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT * FROM tasker.extend_visibility($1, $2, $3)")
        .bind(namespace)
        .bind(msg_ids)
        .bind(vt_seconds)
        .fetch_all(pool)
        .await
}

/// Whether the engine took one submitted result: a row of `tasker.submit_step_results`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct SubmitOutcome {
    /// The step the result was for.
    pub step_uuid: Uuid,
    /// True when the result was applied and its dispatch message deleted; false when the attempt
    /// was superseded or the step is no longer in progress (drop the result).
    pub accepted: bool,
}

/// `tasker.submit_step_results`: reports `results` (each serialising to one result message of
/// the worker protocol, e.g. `worker::StepResultMessage`) and applies them in one transaction;
/// one row per result, in order. SQLSTATE `TK004` for a malformed result (nothing of the call is
/// applied).
pub async fn submit_step_results<M: serde::Serialize + Sync>(
    pool: &PgPool,
    results: &[M],
) -> Result<Vec<SubmitOutcome>, sqlx::Error> {
    sqlx::query_as("SELECT step_uuid, accepted FROM tasker.submit_step_results($1)")
        .bind(Json(results))
        .fetch_all(pool)
        .await
}

/// What [`submit_and_claim`] did: the results' outcomes, and the chained claim's steps or the
/// error that made it give way to a plain submission.
#[derive(Debug)]
pub struct SubmittedAndClaimed {
    /// One row per result, in order, as [`submit_step_results`] returns them.
    pub outcomes: Vec<SubmitOutcome>,
    /// The steps claimed in the acknowledgement's transaction; or the error of the call, after
    /// which the results went in on their own; or a claimed step the engine returned incomplete
    /// (the results were applied, and the steps come back after their visibility timeout).
    pub claimed: Result<Vec<ClaimedStep>, sqlx::Error>,
}

/// A row of `tasker.submit_and_claim`: a result's outcome (`accepted` set) or a claimed step.
#[derive(Debug, sqlx::FromRow)]
struct SubmitAndClaimRow {
    step_uuid: Uuid,
    accepted: Option<bool>,
    msg_id: Option<i64>,
    task_uuid: Option<Uuid>,
    attempt: Option<i32>,
    max_attempts: Option<i32>,
    namespace: Option<String>,
    task_name: Option<String>,
    task_version: Option<String>,
    step_name: Option<String>,
    handler: Option<String>,
    timeout_seconds: Option<i32>,
    context: Option<Value>,
    inputs: Option<Value>,
    parent_results: Option<Value>,
}

impl SubmitAndClaimRow {
    /// The claimed step of a claim row (`accepted` NULL). A claim row missing a column is an
    /// error naming it, never a step silently dropped.
    fn claimed(self) -> Result<ClaimedStep, sqlx::Error> {
        fn need<T>(v: Option<T>, column: &str) -> Result<T, sqlx::Error> {
            v.ok_or_else(|| {
                sqlx::Error::Protocol(format!("tasker.submit_and_claim returned a claimed step without {column}"))
            })
        }
        Ok(ClaimedStep {
            msg_id: need(self.msg_id, "msg_id")?,
            step_uuid: self.step_uuid,
            task_uuid: need(self.task_uuid, "task_uuid")?,
            attempt: need(self.attempt, "attempt")?,
            max_attempts: need(self.max_attempts, "max_attempts")?,
            namespace: need(self.namespace, "namespace")?,
            task_name: need(self.task_name, "task_name")?,
            task_version: need(self.task_version, "task_version")?,
            step_name: need(self.step_name, "step_name")?,
            handler: need(self.handler, "handler")?,
            timeout_seconds: need(self.timeout_seconds, "timeout_seconds")?,
            context: need(self.context, "context")?,
            inputs: need(self.inputs, "inputs")?,
            parent_results: need(self.parent_results, "parent_results")?,
        })
    }
}

/// `tasker.submit_and_claim`, the chained claim (docs/worker-protocol.md): reports `results` and
/// claims up to `limit` steps of `namespace` in one call, one transaction and one (durable)
/// commit, so that the children the results release are claimed without waiting for a dispatch
/// notification. A failing call never costs the acknowledgement: the results are then submitted
/// on their own and the call's error is returned beside their outcomes. An error of that plain
/// submission is returned as is (nothing of the results was applied).
pub async fn submit_and_claim<M: serde::Serialize + Sync>(
    pool: &PgPool,
    results: &[M],
    namespace: &str,
    limit: i32,
    vt_seconds: i32,
    worker_id: &str,
) -> Result<SubmittedAndClaimed, sqlx::Error> {
    let rows: Result<Vec<SubmitAndClaimRow>, sqlx::Error> = sqlx::query_as(
        "SELECT step_uuid, accepted, msg_id, task_uuid, attempt, max_attempts, namespace, task_name, task_version,
                step_name, handler, timeout_seconds, context, inputs, parent_results
           FROM tasker.submit_and_claim($1, $2, $3, $4, $5)",
    )
    .bind(Json(results))
    .bind(namespace)
    .bind(limit)
    .bind(vt_seconds)
    .bind(worker_id)
    .fetch_all(pool)
    .await;
    match rows {
        Ok(rows) => {
            let mut outcomes = Vec::with_capacity(results.len());
            let mut claimed = Ok(Vec::new());
            for row in rows {
                match row.accepted {
                    Some(accepted) => outcomes.push(SubmitOutcome { step_uuid: row.step_uuid, accepted }),
                    None => {
                        if let Ok(steps) = claimed.as_mut() {
                            match row.claimed() {
                                Ok(step) => steps.push(step),
                                Err(e) => claimed = Err(e),
                            }
                        }
                    }
                }
            }
            Ok(SubmittedAndClaimed { outcomes, claimed })
        }
        Err(e) => {
            let outcomes = submit_step_results(pool, results).await?;
            Ok(SubmittedAndClaimed { outcomes, claimed: Err(e) })
        }
    }
}

/// One handler invocation, as recorded in `tasker_audit.step_executions`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRecord<'a> {
    /// The step run.
    pub step_uuid: Uuid,
    /// Its task.
    pub task_uuid: Uuid,
    /// The attempt run.
    pub attempt: i32,
    /// The handler name.
    pub handler: &'a str,
    /// The worker that ran it.
    pub worker_id: &'a str,
    /// When the handler was started.
    pub started_at: DateTime<Utc>,
    /// When it ended (or was abandoned at its timeout).
    pub finished_at: DateTime<Utc>,
    /// `success`, `retryable_error` or `permanent_error`.
    pub outcome: &'a str,
    /// The error reported, for the two error outcomes.
    pub error: Option<Value>,
}

/// Appends `record` to `tasker_audit.step_executions` (a table of its own, written only here).
pub async fn record_execution(pool: &PgPool, record: &ExecutionRecord<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO tasker_audit.step_executions
             (step_uuid, task_uuid, attempt, handler, worker_id, started_at, finished_at, outcome, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(record.step_uuid)
    .bind(record.task_uuid)
    .bind(record.attempt)
    .bind(record.handler)
    .bind(record.worker_id)
    .bind(record.started_at)
    .bind(record.finished_at)
    .bind(record.outcome)
    .bind(&record.error)
    .execute(pool)
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim_row() -> SubmitAndClaimRow {
        SubmitAndClaimRow {
            step_uuid: Uuid::from_u128(1),
            accepted: None,
            msg_id: Some(7),
            task_uuid: Some(Uuid::from_u128(2)),
            attempt: Some(1),
            max_attempts: Some(3),
            namespace: Some("demo".into()),
            task_name: Some("linear".into()),
            task_version: Some("1.0.0".into()),
            step_name: Some("one".into()),
            handler: Some("noop".into()),
            timeout_seconds: Some(30),
            context: Some(serde_json::json!({})),
            inputs: Some(serde_json::json!({})),
            parent_results: Some(serde_json::json!({})),
        }
    }

    #[test]
    fn a_complete_claim_row_is_a_claimed_step() {
        let step = claim_row().claimed().expect("complete row");
        assert_eq!((step.msg_id, step.step_name.as_str(), step.attempt), (7, "one", 1));
    }

    #[test]
    fn a_claim_row_missing_a_column_is_an_error_naming_it() {
        let err = SubmitAndClaimRow { handler: None, ..claim_row() }.claimed().expect_err("incomplete row");
        assert!(err.to_string().contains("without handler"), "{err}");
    }
}
