//! One client, two backends: [`Client::Rest`] (default) and [`Client::Grpc`] (`--grpc`). Every
//! operation answers the JSON the REST API returns for it, whichever backend carried it.

pub mod from_proto;
pub mod grpc;
pub mod rest;

use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;

use super::args::GlobalArgs;
use super::error::{CliError, CliResult};
use crate::model::{
    DlqListQuery, DlqUpdate, RetryFilter, StepActionRequest, TaskListQuery, TaskRequest, TASK_FINAL_STATES,
};

/// How often `task watch` polls over REST.
pub const POLL_INTERVAL: Duration = Duration::from_millis(300);

/// Where a followed task stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The task's state.
    pub state: String,
    /// Steps complete or resolved.
    pub done: i64,
    /// Steps in all.
    pub total: i64,
}

impl Progress {
    /// The progress shown by a task's JSON (`state`, `step_counts`, `steps_total`).
    pub fn of_task(task: &Value) -> Self {
        let count = |k: &str| task["step_counts"][k].as_i64().unwrap_or(0);
        Self {
            state: task["state"].as_str().unwrap_or_default().to_string(),
            done: count("complete") + count("resolved_manually"),
            total: task["steps_total"].as_i64().unwrap_or(0),
        }
    }

    /// Whether the state is final (complete, error, cancelled, resolved_manually).
    pub fn is_final(&self) -> bool {
        TASK_FINAL_STATES.contains(&self.state.as_str())
    }
}

/// A connected client.
#[derive(Debug, Clone)]
pub enum Client {
    /// REST at `--url`.
    Rest(rest::Rest),
    /// gRPC at `--grpc`.
    Grpc(grpc::Grpc),
}

impl Client {
    /// The client the global flags ask for (gRPC connects at once).
    pub async fn connect(g: &GlobalArgs) -> CliResult<Self> {
        let key = g.api_key.as_deref().filter(|k| !k.is_empty());
        match &g.grpc {
            Some(addr) => Ok(Client::Grpc(grpc::Grpc::connect(addr, key).await?)),
            None => Ok(Client::Rest(rest::Rest::new(&g.url, key.map(Into::into))?)),
        }
    }

    /// Creates a task (POST /v1/tasks).
    pub async fn create_task(&self, r: &TaskRequest) -> CliResult<Value> {
        match self {
            Client::Rest(c) => c.post(&["v1", "tasks"], r).await,
            Client::Grpc(c) => c.create_task(r).await,
        }
    }

    /// A task (GET /v1/tasks/{uuid}).
    pub async fn get_task(&self, task: Uuid) -> CliResult<Value> {
        match self {
            Client::Rest(c) => c.get(&["v1", "tasks", &task.to_string()], &[]).await,
            Client::Grpc(c) => c.get_task(task).await,
        }
    }

    /// A page of tasks (GET /v1/tasks).
    pub async fn list_tasks(&self, q: &TaskListQuery) -> CliResult<Value> {
        match self {
            Client::Rest(c) => {
                let query = [
                    ("namespace", q.namespace.clone()),
                    ("name", q.name.clone()),
                    ("state", q.state.clone()),
                    ("created_after", q.created_after.map(|t| t.to_rfc3339())),
                    ("created_before", q.created_before.map(|t| t.to_rfc3339())),
                    ("limit", q.limit.map(|l| l.to_string())),
                    ("cursor", q.cursor.clone()),
                ];
                c.get(&["v1", "tasks"], &query).await
            }
            Client::Grpc(c) => c.list_tasks(q).await,
        }
    }

    /// Cancels a task (DELETE /v1/tasks/{uuid}).
    pub async fn cancel_task(&self, task: Uuid, reason: Option<&str>) -> CliResult<Value> {
        match self {
            Client::Rest(c) => {
                c.delete(&["v1", "tasks", &task.to_string()], &[("reason", reason.map(Into::into))]).await
            }
            Client::Grpc(c) => c.cancel_task(task, reason).await,
        }
    }

    /// Follows a task until it is final, calling `on` at each change (REST: polling every
    /// [`POLL_INTERVAL`]; gRPC: StreamTaskStatus). Returns the final state.
    pub async fn follow_task(&self, task: Uuid, on: &mut dyn FnMut(&Progress)) -> CliResult<String> {
        match self {
            Client::Rest(_) => loop {
                let p = Progress::of_task(&self.get_task(task).await?);
                on(&p);
                if p.is_final() {
                    return Ok(p.state);
                }
                tokio::time::sleep(POLL_INTERVAL).await;
            },
            Client::Grpc(c) => c.follow_task(task, on).await,
        }
    }

    /// The steps of a task (GET /v1/tasks/{uuid}/workflow_steps).
    pub async fn list_steps(&self, task: Uuid) -> CliResult<Value> {
        match self {
            Client::Rest(c) => c.get(&["v1", "tasks", &task.to_string(), "workflow_steps"], &[]).await,
            Client::Grpc(c) => c.list_steps(task).await,
        }
    }

    /// One step (GET /v1/tasks/{uuid}/workflow_steps/{step}).
    pub async fn get_step(&self, task: Uuid, step: Uuid) -> CliResult<Value> {
        match self {
            Client::Rest(c) => {
                c.get(&["v1", "tasks", &task.to_string(), "workflow_steps", &step.to_string()], &[]).await
            }
            Client::Grpc(c) => c.get_step(task, step).await,
        }
    }

    /// Acts on a step (PATCH /v1/tasks/{uuid}/workflow_steps/{step}).
    pub async fn act_on_step(&self, task: Uuid, step: Uuid, r: &StepActionRequest) -> CliResult<Value> {
        match self {
            Client::Rest(c) => {
                c.patch(&["v1", "tasks", &task.to_string(), "workflow_steps", &step.to_string()], r).await
            }
            Client::Grpc(c) => c.act_on_step(task, step, r).await,
        }
    }

    /// A step's transitions (GET …/workflow_steps/{step}/transitions).
    pub async fn step_transitions(&self, task: Uuid, step: Uuid) -> CliResult<Value> {
        match self {
            Client::Rest(c) => {
                let (t, s) = (task.to_string(), step.to_string());
                c.get(&["v1", "tasks", &t, "workflow_steps", &s, "transitions"], &[]).await
            }
            Client::Grpc(c) => c.step_transitions(task, step).await,
        }
    }

    /// Batch retry (POST /v1/retries).
    pub async fn retry(&self, f: &RetryFilter) -> CliResult<Value> {
        match self {
            Client::Rest(c) => c.post(&["v1", "retries"], f).await,
            Client::Grpc(c) => c.retry(f).await,
        }
    }

    /// The templates (GET /v1/templates).
    pub async fn list_templates(&self, namespace: Option<&str>) -> CliResult<Value> {
        match self {
            Client::Rest(c) => c.get(&["v1", "templates"], &[("namespace", namespace.map(Into::into))]).await,
            Client::Grpc(c) => c.list_templates(namespace).await,
        }
    }

    /// One template (GET /v1/templates/{ns}/{name}/{version}).
    pub async fn get_template(&self, namespace: &str, name: &str, version: &str) -> CliResult<Value> {
        match self {
            Client::Rest(c) => c.get(&["v1", "templates", namespace, name, version], &[]).await,
            Client::Grpc(c) => c.get_template(namespace, name, version).await,
        }
    }

    /// Registers a template from its text (POST /v1/templates with `content_type`).
    pub async fn register_template(&self, text: String, content_type: &str) -> CliResult<Value> {
        match self {
            Client::Rest(c) => c.post_raw(&["v1", "templates"], content_type, text).await,
            Client::Grpc(c) => c.register_template(&text).await,
        }
    }

    /// A page of DLQ entries (GET /v1/dlq).
    pub async fn list_dlq(&self, q: &DlqListQuery) -> CliResult<Value> {
        match self {
            Client::Rest(c) => {
                let query = [
                    ("resolution_status", q.resolution_status.clone()),
                    ("namespace", q.namespace.clone()),
                    ("limit", q.limit.map(|l| l.to_string())),
                    ("cursor", q.cursor.clone()),
                ];
                c.get(&["v1", "dlq"], &query).await
            }
            Client::Grpc(c) => c.list_dlq(q).await,
        }
    }

    /// The DLQ entries of a task (GET /v1/dlq/task/{uuid}).
    pub async fn dlq_for_task(&self, task: Uuid) -> CliResult<Value> {
        match self {
            Client::Rest(c) => c.get(&["v1", "dlq", "task", &task.to_string()], &[]).await,
            Client::Grpc(c) => c.dlq_for_task(task).await,
        }
    }

    /// Updates a DLQ entry (PATCH /v1/dlq/entry/{id}).
    pub async fn update_dlq(&self, id: i64, u: &DlqUpdate) -> CliResult<Value> {
        match self {
            Client::Rest(c) => c.patch(&["v1", "dlq", "entry", &id.to_string()], u).await,
            Client::Grpc(c) => c.update_dlq(id, u).await,
        }
    }

    /// DLQ statistics (GET /v1/dlq/stats).
    pub async fn dlq_stats(&self) -> CliResult<Value> {
        match self {
            Client::Rest(c) => c.get(&["v1", "dlq", "stats"], &[]).await,
            Client::Grpc(c) => c.dlq_stats().await,
        }
    }

    /// The detailed health report (GET /health/detailed, answered with 200 or 503; GET /health
    /// on a server without it), healthy or not.
    pub async fn health(&self) -> CliResult<Value> {
        match self {
            Client::Rest(c) => {
                let (mut status, mut body) = c.get_any(&["health", "detailed"]).await?;
                if status == 404 {
                    (status, body) = c.get_any(&["health"]).await?;
                }
                if body.get("status").and_then(Value::as_str).is_some() {
                    Ok(body)
                } else {
                    Err(rest::problem_error(status, &body, ""))
                }
            }
            Client::Grpc(c) => c.health().await,
        }
    }
}

/// The error for a step name that is not in the task.
pub fn no_such_step(task: Uuid, step: &str, steps: &Value) -> CliError {
    let names: Vec<&str> =
        steps.as_array().map(|a| a.iter().filter_map(|s| s["name"].as_str()).collect()).unwrap_or_default();
    CliError::new(
        super::error::Kind::NotFound,
        "Not Found",
        format!("task {task} has no step named '{step}' (steps: {})", names.join(", ")),
    )
}
