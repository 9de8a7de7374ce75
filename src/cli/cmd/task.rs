//! `tasker task create|get|list|cancel|watch|graph`.

use serde_json::Value;

use super::{json_arg, show};
use crate::cli::args::{CreateArgs, GraphFormat, ListArgs, TaskCmd};
use crate::cli::client::{Client, Progress};
use crate::cli::error::{CliError, CliResult};
use crate::cli::graph::{self, GraphStep};
use crate::cli::output::{cell, emit, key_values, list_of, str_of, template_of, time_of, Table};
use crate::cli::watch;
use crate::model::{TaskListQuery, TaskRequest};

/// Runs a `task` subcommand.
pub async fn run(client: &Client, cmd: TaskCmd, json: bool) -> CliResult<()> {
    match cmd {
        TaskCmd::Create(a) => create(client, a, json).await,
        TaskCmd::Get { task } => {
            show(json, &client.get_task(task).await?, task_view);
            Ok(())
        }
        TaskCmd::List(a) => list(client, a, json).await,
        TaskCmd::Cancel { task, reason } => {
            show(json, &client.cancel_task(task, reason.as_deref()).await?, task_view);
            Ok(())
        }
        TaskCmd::Watch { task } => watch::watch(client, task, json, None).await,
        TaskCmd::Graph { task, format } => graph(client, task, format, json).await,
    }
}

async fn create(client: &Client, a: CreateArgs, json: bool) -> CliResult<()> {
    let context = match &a.context {
        Some(raw) => {
            let v = json_arg("--context", raw)?;
            if !v.is_object() {
                return Err(CliError::invalid("invalid --context", "the task context must be a JSON object"));
            }
            Some(v)
        }
        None => None,
    };
    let req = TaskRequest {
        name: a.template.name.clone(),
        namespace: a.template.namespace.clone(),
        version: a.template.version.clone(),
        context,
        initiator: a.initiator,
        source_system: None,
        reason: a.reason,
        tags: a.tags,
        priority: a.priority,
        idempotency_key: a.idempotency_key,
        correlation_id: None,
    };
    let task = client.create_task(&req).await?;
    if !a.wait {
        show(json, &task, task_view);
        return Ok(());
    }
    let uuid = str_of(&task, "task_uuid")
        .parse()
        .map_err(|_| CliError::unexpected(format!("the created task has no valid task_uuid: {task}")))?;
    watch::watch(client, uuid, json, Some(&task)).await
}

async fn list(client: &Client, a: ListArgs, json: bool) -> CliResult<()> {
    let q = TaskListQuery {
        namespace: a.namespace,
        name: a.name,
        state: a.state,
        limit: a.limit,
        cursor: a.cursor,
        ..Default::default()
    };
    show(json, &client.list_tasks(&q).await?, |page| {
        let mut t = Table::new(&["TASK", "TEMPLATE", "STATE", "STEPS", "CREATED"]);
        for task in page["items"].as_array().into_iter().flatten() {
            let p = Progress::of_task(task);
            t.row(vec![
                str_of(task, "task_uuid").into(),
                template_of(task),
                p.state,
                format!("{}/{}", p.done, p.total),
                time_of(task, "created_at"),
            ]);
        }
        let mut out = if t.is_empty() { "no tasks\n".to_string() } else { t.render() };
        if let Some(c) = page["next_cursor"].as_str() {
            out.push_str(&format!("next page: --cursor {c}\n"));
        }
        out
    });
    Ok(())
}

async fn graph(client: &Client, task: uuid::Uuid, format: GraphFormat, json: bool) -> CliResult<()> {
    let steps = client.list_steps(task).await?;
    if json {
        show(true, &steps, |_| String::new());
        return Ok(());
    }
    let nodes: Vec<GraphStep> = steps.as_array().into_iter().flatten().map(GraphStep::from_json).collect();
    let out = match format {
        GraphFormat::Text => {
            let t = client.get_task(task).await?;
            format!("task {task} ({}) {}\n{}", template_of(&t), str_of(&t, "state"), graph::text(&nodes))
        }
        GraphFormat::Mermaid => graph::mermaid(&nodes),
        GraphFormat::Dot => graph::dot(&format!("task {task}"), &nodes),
    };
    emit(&out);
    Ok(())
}

/// The human view of a task.
pub fn task_view(t: &Value) -> String {
    let p = Progress::of_task(t);
    let counts: Vec<String> = t["step_counts"]
        .as_object()
        .map(|m| m.iter().filter(|(_, n)| n.as_i64().unwrap_or(0) > 0).map(|(k, n)| format!("{k} {n}")).collect())
        .unwrap_or_default();
    let pct = t["completion_pct"].as_f64().unwrap_or(0.0);
    let context = match &t["context"] {
        Value::Object(m) if m.is_empty() => String::new(),
        other => cell(other),
    };
    key_values(&[
        ("task", str_of(t, "task_uuid").into()),
        ("template", template_of(t)),
        ("state", p.state.clone()),
        ("steps", format!("{}/{} done ({pct:.0}%)", p.done, p.total)),
        ("step states", counts.join(", ")),
        ("priority", cell(&t["priority"])),
        ("tags", list_of(t, "tags")),
        ("initiator", cell(&t["initiator"])),
        ("reason", cell(&t["reason"])),
        ("idempotency key", cell(&t["idempotency_key"])),
        ("correlation id", cell(&t["correlation_id"])),
        ("context", context),
        ("created", time_of(t, "created_at")),
        ("updated", time_of(t, "updated_at")),
        ("completed", time_of(t, "completed_at")),
        ("last error", cell(&t["last_error"])),
    ])
}
