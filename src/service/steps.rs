//! Steps: read, operate on one (resolve / complete / reset), history, batch retry.

use uuid::Uuid;

use super::{input, Service, ServiceError, ServiceResult};
use crate::db::engine;
use crate::model::{RetryFilter, RetryOutcome, Step, StepAction, StepActionRequest, StepTransition};

impl Service {
    /// The steps of a task, in template order. Unknown task: not found.
    pub async fn list_steps(&self, task_uuid: Uuid) -> ServiceResult<Vec<Step>> {
        let steps = engine::steps::fetch_steps(self.pool(), task_uuid).await?;
        if steps.is_empty() {
            // A task always has steps: none means no such task.
            return Err(ServiceError::NotFound(format!("task {task_uuid} not found")));
        }
        Ok(steps)
    }

    /// One step of a task. A step of another task is not found here.
    pub async fn get_step(&self, task_uuid: Uuid, step_uuid: Uuid) -> ServiceResult<Step> {
        engine::steps::fetch_step(self.pool(), task_uuid, step_uuid)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("step {step_uuid} of task {task_uuid} not found")))
    }

    /// Applies an operator action to a step and returns it afterwards.
    pub async fn act_on_step(&self, task_uuid: Uuid, step_uuid: Uuid, req: StepActionRequest) -> ServiceResult<Step> {
        input::opt_text("reason", req.reason.as_deref())?;
        if let Some(result) = &req.result {
            input::json("result", result)?;
        }
        self.get_step(task_uuid, step_uuid).await?;
        if req.result.is_some() && req.action != StepAction::CompleteManually {
            return Err(ServiceError::InvalidInput("result is only accepted with action complete_manually".into()));
        }
        engine::steps::act_on_step(self.pool(), step_uuid, req.action, req.reason.as_deref(), req.result).await?;
        self.get_step(task_uuid, step_uuid).await
    }

    /// A step's state history, oldest first.
    pub async fn step_transitions(&self, task_uuid: Uuid, step_uuid: Uuid) -> ServiceResult<Vec<StepTransition>> {
        self.get_step(task_uuid, step_uuid).await?;
        Ok(engine::steps::step_transitions(self.pool(), step_uuid).await?)
    }

    /// Database-native batch retry of failed steps (see `tasker.retry_failed_steps`).
    pub async fn retry_failed_steps(&self, filter: RetryFilter) -> ServiceResult<RetryOutcome> {
        let dry_run = filter.dry_run;
        input::opt_text("namespace", filter.namespace.as_deref())?;
        input::opt_text("name", filter.name.as_deref())?;
        input::opt_text("version", filter.version.as_deref())?;
        input::texts("step_names", filter.step_names.iter().flatten())?;
        input::opt_text("error_contains", filter.error_contains.as_deref())?;
        input::opt_text("error_class", filter.error_class.as_deref())?;
        input::opt_text("reason", filter.reason.as_deref())?;
        let json = serde_json::to_value(&filter).map_err(ServiceError::internal)?;
        let steps = engine::steps::retry_failed_steps(self.pool(), &json).await?;
        Ok(RetryOutcome { dry_run, count: steps.len(), steps })
    }
}
