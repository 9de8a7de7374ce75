//! `tasker.v1.StepService` and `tasker.v1.RetryService`.

use tonic::{Request, Response, Status};

use super::convert::{from_pvalue, parse_uuid, retry_filter, step_action};
use super::proto::retry_service_server::RetryService;
use super::proto::step_service_server::StepService;
use super::proto::{
    GetStepRequest, ListStepTransitionsRequest, ListStepTransitionsResponse, ListStepsRequest, ListStepsResponse,
    ResolveStepRequest, RetryFailedStepsRequest, RetryFailedStepsResponse, Step,
};
use super::GrpcState;
use crate::model::StepActionRequest;

/// The `StepService` implementation.
pub(super) struct Steps(pub(super) GrpcState);

#[tonic::async_trait]
impl StepService for Steps {
    async fn list_steps(&self, request: Request<ListStepsRequest>) -> Result<Response<ListStepsResponse>, Status> {
        self.0.require(&request, "steps:read")?;
        let task = parse_uuid("task_uuid", &request.get_ref().task_uuid)?;
        let steps = self.0.service.list_steps(task).await?;
        Ok(Response::new(ListStepsResponse { steps: steps.into_iter().map(Into::into).collect() }))
    }

    async fn get_step(&self, request: Request<GetStepRequest>) -> Result<Response<Step>, Status> {
        self.0.require(&request, "steps:read")?;
        let req = request.get_ref();
        let task = parse_uuid("task_uuid", &req.task_uuid)?;
        let step = parse_uuid("step_uuid", &req.step_uuid)?;
        Ok(Response::new(self.0.service.get_step(task, step).await?.into()))
    }

    async fn resolve_step(&self, request: Request<ResolveStepRequest>) -> Result<Response<Step>, Status> {
        self.0.require(&request, "steps:resolve")?;
        let req = request.into_inner();
        let task = parse_uuid("task_uuid", &req.task_uuid)?;
        let step = parse_uuid("step_uuid", &req.step_uuid)?;
        let action = StepActionRequest {
            action: step_action(req.action)?,
            reason: req.reason,
            result: req.result.map(from_pvalue),
        };
        Ok(Response::new(self.0.service.act_on_step(task, step, action).await?.into()))
    }

    async fn list_step_transitions(
        &self,
        request: Request<ListStepTransitionsRequest>,
    ) -> Result<Response<ListStepTransitionsResponse>, Status> {
        self.0.require(&request, "steps:read")?;
        let req = request.get_ref();
        let task = parse_uuid("task_uuid", &req.task_uuid)?;
        let step = parse_uuid("step_uuid", &req.step_uuid)?;
        let transitions = self.0.service.step_transitions(task, step).await?;
        Ok(Response::new(ListStepTransitionsResponse {
            transitions: transitions.into_iter().map(Into::into).collect(),
        }))
    }
}

/// The `RetryService` implementation.
pub(super) struct Retries(pub(super) GrpcState);

#[tonic::async_trait]
impl RetryService for Retries {
    async fn retry_failed_steps(
        &self,
        request: Request<RetryFailedStepsRequest>,
    ) -> Result<Response<RetryFailedStepsResponse>, Status> {
        self.0.require(&request, "retries:create")?;
        let filter = retry_filter(request.into_inner())?;
        Ok(Response::new(self.0.service.retry_failed_steps(filter).await?.into()))
    }
}
