//! Steps: read, operate on one (resolve / complete / reset), history, batch retry.

use uuid::Uuid;

use super::{Service, ServiceError, ServiceResult};
use crate::model::{RetriedStep, RetryFilter, RetryOutcome, Step, StepAction, StepActionRequest, StepTransition};

const STEP_COLUMNS: &str = "step_uuid, task_uuid, step_name, handler, position, state, attempts, max_attempts, \
     depends_on, parents_pending, ready, next_retry_at, results, last_error, timeout_seconds, enqueued_at, \
     claimed_at, completed_at, created_at, updated_at";

impl Service {
    /// The steps of a task, in template order. Unknown task: not found.
    pub async fn list_steps(&self, task_uuid: Uuid) -> ServiceResult<Vec<Step>> {
        let steps = fetch_steps(self.pool(), task_uuid).await?;
        if steps.is_empty() {
            // A task always has steps: none means no such task.
            return Err(ServiceError::NotFound(format!("task {task_uuid} not found")));
        }
        Ok(steps)
    }

    /// One step of a task. A step of another task is not found here.
    pub async fn get_step(&self, task_uuid: Uuid, step_uuid: Uuid) -> ServiceResult<Step> {
        let step: Option<Step> = sqlx::query_as(&format!(
            "SELECT {STEP_COLUMNS} FROM tasker.step_overview WHERE task_uuid = $1 AND step_uuid = $2"
        ))
        .bind(task_uuid)
        .bind(step_uuid)
        .fetch_optional(self.pool())
        .await?;
        step.ok_or_else(|| ServiceError::NotFound(format!("step {step_uuid} of task {task_uuid} not found")))
    }

    /// Applies an operator action to a step and returns it afterwards.
    pub async fn act_on_step(&self, task_uuid: Uuid, step_uuid: Uuid, req: StepActionRequest) -> ServiceResult<Step> {
        self.get_step(task_uuid, step_uuid).await?;
        if req.result.is_some() && req.action != StepAction::CompleteManually {
            return Err(ServiceError::InvalidInput("result is only accepted with action complete_manually".into()));
        }
        let query = match req.action {
            StepAction::ResolveManually => {
                sqlx::query_scalar::<_, String>("SELECT tasker.resolve_step($1, $2)").bind(step_uuid).bind(req.reason)
            }
            StepAction::CompleteManually => sqlx::query_scalar::<_, String>("SELECT tasker.complete_step($1, $3, $2)")
                .bind(step_uuid)
                .bind(req.reason)
                .bind(req.result.unwrap_or(serde_json::Value::Null)),
            StepAction::ResetForRetry => {
                sqlx::query_scalar::<_, String>("SELECT tasker.reset_step($1, $2)").bind(step_uuid).bind(req.reason)
            }
        };
        query.fetch_one(self.pool()).await?;
        self.get_step(task_uuid, step_uuid).await
    }

    /// A step's state history, oldest first.
    pub async fn step_transitions(&self, task_uuid: Uuid, step_uuid: Uuid) -> ServiceResult<Vec<StepTransition>> {
        self.get_step(task_uuid, step_uuid).await?;
        Ok(sqlx::query_as("SELECT * FROM tasker.step_transitions($1)").bind(step_uuid).fetch_all(self.pool()).await?)
    }

    /// Database-native batch retry of failed steps (see `tasker.retry_failed_steps`).
    pub async fn retry_failed_steps(&self, filter: RetryFilter) -> ServiceResult<RetryOutcome> {
        let dry_run = filter.dry_run;
        let json = serde_json::to_value(&filter).map_err(ServiceError::internal)?;
        let steps: Vec<RetriedStep> =
            sqlx::query_as("SELECT * FROM tasker.retry_failed_steps($1)").bind(json).fetch_all(self.pool()).await?;
        Ok(RetryOutcome { dry_run, count: steps.len(), steps })
    }
}

/// Reads a task's steps in template order through any executor.
pub(crate) async fn fetch_steps<'e, E: sqlx::PgExecutor<'e>>(executor: E, task_uuid: Uuid) -> ServiceResult<Vec<Step>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {STEP_COLUMNS} FROM tasker.step_overview WHERE task_uuid = $1 ORDER BY position"
    ))
    .bind(task_uuid)
    .fetch_all(executor)
    .await?)
}
