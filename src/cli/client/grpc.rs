//! The gRPC backend: the generated `tasker.v1` clients over one channel, the API key in
//! `x-api-key` metadata, answers turned into the REST JSON by [`super::from_proto`].

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::{Channel, Endpoint};
use tonic::Request;
use uuid::Uuid;

use super::from_proto::{self as fp, json};
use super::Progress;
use crate::api::grpc::convert::{to_pvalue, to_struct};
use crate::api::grpc::proto::dlq_service_client::DlqServiceClient;
use crate::api::grpc::proto::health_service_client::HealthServiceClient;
use crate::api::grpc::proto::retry_service_client::RetryServiceClient;
use crate::api::grpc::proto::step_service_client::StepServiceClient;
use crate::api::grpc::proto::task_service_client::TaskServiceClient;
use crate::api::grpc::proto::template_service_client::TemplateServiceClient;
use crate::api::grpc::proto::{self, task_status_update::Update};
use crate::cli::error::{root_cause, CliError, CliResult, Kind};
use crate::model::{DlqListQuery, DlqUpdate, RetryFilter, StepAction, StepActionRequest, TaskListQuery, TaskRequest};

/// How long to wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A gRPC client for one server.
#[derive(Debug, Clone)]
pub struct Grpc {
    channel: Channel,
    key: Option<AsciiMetadataValue>,
}

/// `addr` as a URL: `host:port` gets `http://`.
pub fn grpc_url(addr: &str) -> String {
    if addr.contains("://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    }
}

impl Grpc {
    /// Connects to `addr` (`host:port` or `http://host:port`).
    pub async fn connect(addr: &str, key: Option<&str>) -> CliResult<Self> {
        let url = grpc_url(addr);
        let key = key
            .map(|k| {
                k.parse::<AsciiMetadataValue>().map_err(|_| {
                    CliError::new(Kind::Usage, "invalid --api-key", "the key has characters metadata cannot carry")
                })
            })
            .transpose()?;
        let endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| CliError::new(Kind::Usage, "invalid --grpc", format!("'{addr}': {e}")))?
            .connect_timeout(CONNECT_TIMEOUT);
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| CliError::unavailable(format!("cannot reach {url}: {}", root_cause(&e))))?;
        Ok(Self { channel, key })
    }

    fn req<T>(&self, message: T) -> Request<T> {
        let mut r = Request::new(message);
        if let Some(k) = &self.key {
            r.metadata_mut().insert("x-api-key", k.clone());
        }
        r
    }

    fn tasks(&self) -> TaskServiceClient<Channel> {
        TaskServiceClient::new(self.channel.clone())
    }

    fn steps(&self) -> StepServiceClient<Channel> {
        StepServiceClient::new(self.channel.clone())
    }

    fn dlq(&self) -> DlqServiceClient<Channel> {
        DlqServiceClient::new(self.channel.clone())
    }

    fn templates(&self) -> TemplateServiceClient<Channel> {
        TemplateServiceClient::new(self.channel.clone())
    }

    /// TaskService/CreateTask.
    pub async fn create_task(&self, r: &TaskRequest) -> CliResult<Value> {
        let msg = proto::CreateTaskRequest {
            name: r.name.clone(),
            namespace: r.namespace.clone(),
            version: r.version.clone(),
            context: r.context.clone().and_then(to_struct),
            initiator: r.initiator.clone(),
            source_system: r.source_system.clone(),
            reason: r.reason.clone(),
            tags: r.tags.clone(),
            priority: r.priority,
            idempotency_key: r.idempotency_key.clone(),
            correlation_id: r.correlation_id.map(|c| c.to_string()),
        };
        json(&fp::task(self.tasks().create_task(self.req(msg)).await?.into_inner())?)
    }

    /// TaskService/GetTask.
    pub async fn get_task(&self, task: Uuid) -> CliResult<Value> {
        let msg = proto::GetTaskRequest { task_uuid: task.to_string() };
        json(&fp::task(self.tasks().get_task(self.req(msg)).await?.into_inner())?)
    }

    /// TaskService/ListTasks, as the REST page.
    pub async fn list_tasks(&self, q: &TaskListQuery) -> CliResult<Value> {
        let msg = proto::ListTasksRequest {
            namespace: q.namespace.clone(),
            name: q.name.clone(),
            state: q.state.clone(),
            created_after: q.created_after.map(crate::api::grpc::convert::ts),
            created_before: q.created_before.map(crate::api::grpc::convert::ts),
            page_size: q.limit.unwrap_or(0),
            page_token: q.cursor.clone().unwrap_or_default(),
            include_context: q.include.as_deref() == Some("context"),
        };
        let resp = self.tasks().list_tasks(self.req(msg)).await?.into_inner();
        let items = resp.tasks.into_iter().map(fp::task).collect::<CliResult<Vec<_>>>()?;
        json(&fp::page(items, resp.next_page_token))
    }

    /// TaskService/CancelTask.
    pub async fn cancel_task(&self, task: Uuid, reason: Option<&str>) -> CliResult<Value> {
        let msg = proto::CancelTaskRequest { task_uuid: task.to_string(), reason: reason.map(Into::into) };
        json(&fp::task(self.tasks().cancel_task(self.req(msg)).await?.into_inner())?)
    }

    /// TaskService/StreamTaskStatus until the task is final; returns the final state.
    pub async fn follow_task(&self, task: Uuid, on: &mut dyn FnMut(&Progress)) -> CliResult<String> {
        let msg = proto::StreamTaskStatusRequest { task_uuid: task.to_string() };
        let mut stream = self.tasks().stream_task_status(self.req(msg)).await?.into_inner();
        let mut steps: HashMap<String, String> = HashMap::new();
        let mut total = 0;
        while let Some(update) = stream.message().await? {
            match update.update {
                Some(Update::Snapshot(s)) => {
                    total = s.task.as_ref().map(|t| i64::from(t.steps_total)).unwrap_or(0);
                    steps = s.steps.into_iter().map(|st| (st.step_uuid, st.state)).collect();
                }
                Some(Update::StepStateChange(c)) => {
                    steps.insert(c.step_uuid, c.to_state);
                }
                Some(Update::TaskStateChange(_)) | None => {}
            }
            let done = steps.values().filter(|s| *s == "complete" || *s == "resolved_manually").count() as i64;
            let p = Progress { state: update.task_state.clone(), done, total: total.max(steps.len() as i64) };
            on(&p);
            if update.terminal {
                return Ok(update.task_state);
            }
        }
        Err(CliError::unavailable("the task status stream ended before the task reached a final state"))
    }

    /// StepService/ListSteps, as the REST array.
    pub async fn list_steps(&self, task: Uuid) -> CliResult<Value> {
        let msg = proto::ListStepsRequest { task_uuid: task.to_string() };
        let resp = self.steps().list_steps(self.req(msg)).await?.into_inner();
        json(&resp.steps.into_iter().map(fp::step).collect::<CliResult<Vec<_>>>()?)
    }

    /// StepService/GetStep.
    pub async fn get_step(&self, task: Uuid, step: Uuid) -> CliResult<Value> {
        let msg = proto::GetStepRequest { task_uuid: task.to_string(), step_uuid: step.to_string() };
        json(&fp::step(self.steps().get_step(self.req(msg)).await?.into_inner())?)
    }

    /// StepService/ResolveStep.
    pub async fn act_on_step(&self, task: Uuid, step: Uuid, r: &StepActionRequest) -> CliResult<Value> {
        let action = match r.action {
            StepAction::ResolveManually => proto::StepAction::ResolveManually,
            StepAction::CompleteManually => proto::StepAction::CompleteManually,
            StepAction::ResetForRetry => proto::StepAction::ResetForRetry,
        };
        let msg = proto::ResolveStepRequest {
            task_uuid: task.to_string(),
            step_uuid: step.to_string(),
            action: action.into(),
            reason: r.reason.clone(),
            result: r.result.clone().map(to_pvalue),
        };
        json(&fp::step(self.steps().resolve_step(self.req(msg)).await?.into_inner())?)
    }

    /// StepService/ListStepTransitions, as the REST array.
    pub async fn step_transitions(&self, task: Uuid, step: Uuid) -> CliResult<Value> {
        let msg = proto::ListStepTransitionsRequest { task_uuid: task.to_string(), step_uuid: step.to_string() };
        let resp = self.steps().list_step_transitions(self.req(msg)).await?.into_inner();
        json(&resp.transitions.into_iter().map(fp::transition).collect::<CliResult<Vec<_>>>()?)
    }

    /// RetryService/RetryFailedSteps.
    pub async fn retry(&self, f: &RetryFilter) -> CliResult<Value> {
        let ts = crate::api::grpc::convert::ts;
        let msg = proto::RetryFailedStepsRequest {
            namespace: f.namespace.clone(),
            name: f.name.clone(),
            version: f.version.clone(),
            task_uuids: f.task_uuids.iter().flatten().map(Uuid::to_string).collect(),
            step_names: f.step_names.clone().unwrap_or_default(),
            error_contains: f.error_contains.clone(),
            error_class: f.error_class.clone(),
            failed_after: f.failed_after.map(ts),
            failed_before: f.failed_before.map(ts),
            limit: f.limit,
            dry_run: f.dry_run,
            reason: f.reason.clone(),
        };
        let resp = RetryServiceClient::new(self.channel.clone()).retry_failed_steps(self.req(msg)).await?;
        json(&fp::retry_outcome(resp.into_inner())?)
    }

    /// TemplateService/ListTemplates, as the REST array.
    pub async fn list_templates(&self, namespace: Option<&str>) -> CliResult<Value> {
        let msg = proto::ListTemplatesRequest { namespace: namespace.map(Into::into) };
        let resp = self.templates().list_templates(self.req(msg)).await?.into_inner();
        json(&resp.templates.into_iter().map(fp::template_summary).collect::<CliResult<Vec<_>>>()?)
    }

    /// TemplateService/GetTemplate.
    pub async fn get_template(&self, namespace: &str, name: &str, version: &str) -> CliResult<Value> {
        let msg = proto::GetTemplateRequest { namespace: namespace.into(), name: name.into(), version: version.into() };
        json(&fp::template(self.templates().get_template(self.req(msg)).await?.into_inner())?)
    }

    /// TemplateService/RegisterTemplate with the file's text (JSON or YAML).
    pub async fn register_template(&self, text: &str) -> CliResult<Value> {
        let msg = proto::RegisterTemplateRequest {
            source: Some(proto::register_template_request::Source::Text(text.into())),
        };
        json(&fp::template(self.templates().register_template(self.req(msg)).await?.into_inner())?)
    }

    /// DlqService/ListEntries, as the REST page.
    pub async fn list_dlq(&self, q: &DlqListQuery) -> CliResult<Value> {
        let msg = proto::ListDlqEntriesRequest {
            resolution_status: q.resolution_status.clone(),
            namespace: q.namespace.clone(),
            page_size: q.limit.unwrap_or(0),
            page_token: q.cursor.clone().unwrap_or_default(),
        };
        let resp = self.dlq().list_entries(self.req(msg)).await?.into_inner();
        let items = resp.entries.into_iter().map(fp::dlq_entry).collect::<CliResult<Vec<_>>>()?;
        json(&fp::page(items, resp.next_page_token))
    }

    /// DlqService/GetEntryByTask, as the REST array.
    pub async fn dlq_for_task(&self, task: Uuid) -> CliResult<Value> {
        let msg = proto::GetDlqEntryByTaskRequest { task_uuid: task.to_string() };
        let resp = self.dlq().get_entry_by_task(self.req(msg)).await?.into_inner();
        json(&resp.entries.into_iter().map(fp::dlq_entry).collect::<CliResult<Vec<_>>>()?)
    }

    /// DlqService/UpdateEntry.
    pub async fn update_dlq(&self, id: i64, u: &DlqUpdate) -> CliResult<Value> {
        let msg = proto::UpdateDlqEntryRequest {
            id,
            resolution_status: u.resolution_status.clone(),
            resolution_notes: u.resolution_notes.clone(),
            resolved_by: u.resolved_by.clone(),
        };
        json(&fp::dlq_entry(self.dlq().update_entry(self.req(msg)).await?.into_inner())?)
    }

    /// DlqService/GetStats.
    pub async fn dlq_stats(&self) -> CliResult<Value> {
        let resp = self.dlq().get_stats(self.req(proto::GetDlqStatsRequest {})).await?;
        json(&fp::dlq_stats(resp.into_inner()))
    }

    /// HealthService/CheckDetailedHealth.
    pub async fn health(&self) -> CliResult<Value> {
        let mut client = HealthServiceClient::new(self.channel.clone());
        let resp = client.check_detailed_health(self.req(proto::CheckDetailedHealthRequest {})).await?;
        json(&fp::detailed_health(resp.into_inner()))
    }
}
