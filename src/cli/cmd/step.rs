//! `tasker step list|get|resolve|complete|reset|history`. STEP is a step uuid or a step name
//! within the task (looked up in the task's step list).

use serde_json::Value;
use uuid::Uuid;

use super::{json_arg, show};
use crate::cli::args::{StepCmd, StepRef};
use crate::cli::client::{no_such_step, Client};
use crate::cli::error::CliResult;
use crate::cli::output::{cell, int_of, key_values, list_of, str_of, time_of, Table};
use crate::model::{StepAction, StepActionRequest};

/// Runs a `step` subcommand.
pub async fn run(client: &Client, cmd: StepCmd, json: bool) -> CliResult<()> {
    match cmd {
        StepCmd::List { task } => {
            show(json, &client.list_steps(task).await?, steps_table);
            Ok(())
        }
        StepCmd::Get(r) => {
            let (task, step) = resolve(client, &r).await?;
            show(json, &client.get_step(task, step).await?, step_view);
            Ok(())
        }
        StepCmd::Resolve { step, reason } => act(client, &step, StepAction::ResolveManually, reason, None, json).await,
        StepCmd::Complete { step, reason, result } => {
            let result = result.as_deref().map(|r| json_arg("--result", r)).transpose()?;
            act(client, &step, StepAction::CompleteManually, reason, result, json).await
        }
        StepCmd::Reset { step, reason } => act(client, &step, StepAction::ResetForRetry, reason, None, json).await,
        StepCmd::History(r) => {
            let (task, step) = resolve(client, &r).await?;
            show(json, &client.step_transitions(task, step).await?, history_table);
            Ok(())
        }
    }
}

/// The task and step uuids of a step reference: a uuid is taken as is, a name is looked up in
/// the task's steps (not found: exit 3, naming the steps there are).
pub async fn resolve(client: &Client, r: &StepRef) -> CliResult<(Uuid, Uuid)> {
    if let Ok(step) = Uuid::parse_str(&r.step) {
        return Ok((r.task, step));
    }
    let steps = client.list_steps(r.task).await?;
    steps
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["name"] == r.step.as_str())
        .and_then(|s| s["step_uuid"].as_str())
        .and_then(|u| Uuid::parse_str(u).ok())
        .map(|step| (r.task, step))
        .ok_or_else(|| no_such_step(r.task, &r.step, &steps))
}

async fn act(
    client: &Client,
    r: &StepRef,
    action: StepAction,
    reason: Option<String>,
    result: Option<Value>,
    json: bool,
) -> CliResult<()> {
    let (task, step) = resolve(client, r).await?;
    let req = StepActionRequest { action, reason, result };
    show(json, &client.act_on_step(task, step, &req).await?, step_view);
    Ok(())
}

fn steps_table(steps: &Value) -> String {
    let mut t = Table::new(&["STEP", "NAME", "STATE", "ATTEMPTS", "DEPENDS ON", "HANDLER"]);
    for s in steps.as_array().into_iter().flatten() {
        t.row(vec![
            str_of(s, "step_uuid").into(),
            str_of(s, "name").into(),
            str_of(s, "state").into(),
            format!("{}/{}", int_of(s, "attempts"), int_of(s, "max_attempts")),
            list_of(s, "depends_on"),
            str_of(s, "handler").into(),
        ]);
    }
    if t.is_empty() {
        "no steps\n".into()
    } else {
        t.render()
    }
}

/// The human view of a step.
pub fn step_view(s: &Value) -> String {
    key_values(&[
        ("step", str_of(s, "step_uuid").into()),
        ("task", str_of(s, "task_uuid").into()),
        ("name", str_of(s, "name").into()),
        ("handler", str_of(s, "handler").into()),
        ("position", cell(&s["position"])),
        ("state", str_of(s, "state").into()),
        ("attempts", format!("{}/{}", int_of(s, "attempts"), int_of(s, "max_attempts"))),
        ("depends on", list_of(s, "depends_on")),
        ("parents pending", cell(&s["parents_pending"])),
        ("ready", cell(&s["ready"])),
        ("next retry", time_of(s, "next_retry_at")),
        ("timeout", s["timeout_seconds"].as_i64().map(|t| format!("{t}s")).unwrap_or_default()),
        ("enqueued", time_of(s, "enqueued_at")),
        ("claimed", time_of(s, "claimed_at")),
        ("completed", time_of(s, "completed_at")),
        ("results", cell(&s["results"])),
        ("last error", cell(&s["last_error"])),
    ])
}

fn history_table(transitions: &Value) -> String {
    let mut t = Table::new(&["ID", "FROM", "TO", "EVENT", "ATTEMPT", "AT", "METADATA"]);
    for tr in transitions.as_array().into_iter().flatten() {
        t.row(vec![
            cell(&tr["id"]),
            cell(&tr["from_state"]),
            str_of(tr, "to_state").into(),
            str_of(tr, "event").into(),
            cell(&tr["attempt"]),
            time_of(tr, "created_at"),
            cell(&tr["metadata"]),
        ]);
    }
    if t.is_empty() {
        "no transitions\n".into()
    } else {
        t.render()
    }
}
