//! `/ui/tasks/{uuid}`: the task's header, its DAG drawn as SVG, the step table, and, for
//! `?step=<uuid>`, that step's inputs, results, last error, attempts and state history. The
//! page follows the task live (`/ui/tasks/{uuid}/events`).

use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use uuid::Uuid;

use crate::api::ui::dag_svg::{self, DagNode};
use crate::api::ui::page::{duration, json_block, notice, respond, shell, state_badge, time, UiError};
use crate::api::ui::session::Viewer;
use crate::api::ui::UiState;
use crate::model::{Step, StepTransition, Task, TASK_FINAL_STATES};

/// `?step=` and `?notice=`.
#[derive(Debug, Default, Deserialize)]
pub struct TaskQuery {
    /// The step shown in detail.
    #[serde(default)]
    pub step: Option<String>,
    /// A notice from a redirect.
    #[serde(default)]
    pub notice: Option<String>,
}

/// Parses a uuid from a path or query, as a 400 page when malformed.
pub fn parse_uuid(what: &str, raw: &str) -> Result<Uuid, UiError> {
    Uuid::parse_str(raw).map_err(|_| UiError::bad_request(format!("{what} '{raw}' is not a valid UUID")))
}

/// Steps that can still be resolved or completed by hand.
fn open_step(state: &str) -> bool {
    !matches!(state, "complete" | "resolved_manually" | "cancelled")
}

/// The task page.
pub async fn task(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    Query(q): Query<TaskQuery>,
) -> Result<Response, UiError> {
    state.require(&viewer, "tasks:read")?;
    state.require(&viewer, "steps:read")?;
    let task_uuid = parse_uuid("task uuid", &raw)?;
    let task = state.service.get_task(task_uuid).await?;
    let steps = state.service.list_steps(task_uuid).await?;
    let selected = match q.step.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => {
            let step_uuid = parse_uuid("step uuid", s)?;
            let step = state.service.get_step(task_uuid, step_uuid).await?;
            let history = state.service.step_transitions(task_uuid, step_uuid).await?;
            let inputs = step_inputs(&state, &task, &step.name).await;
            Some((step, history, inputs))
        }
        None => None,
    };
    let can_cancel = state.allows(&viewer, "tasks:cancel") && !TASK_FINAL_STATES.contains(&task.state.as_str());
    let can_act = state.allows(&viewer, "steps:resolve");
    let base = format!("/ui/tasks/{task_uuid}");
    let nodes: Vec<DagNode> = steps
        .iter()
        .map(|s| DagNode {
            name: s.name.clone(),
            depends_on: s.depends_on.clone(),
            label: s.state.clone(),
            state: s.state.clone(),
            href: Some(format!("{base}?step={}#step", s.step_uuid)),
            selected: selected.as_ref().is_some_and(|(sel, _, _)| sel.step_uuid == s.step_uuid),
        })
        .collect();
    let body = html! {
        h1 { "Task " (task.namespace) "/" (task.name) " " code class="muted" { (task.task_uuid) } }
        (notice(q.notice.as_deref()))
        div id="live-region" class="task" data-task-state=(task.state) {
            div class="task-top" {
                section class="task-facts" aria-label="The task" { (header(&task, can_cancel)) }
                section class="task-dag" aria-labelledby="dag-title" {
                    h2 id="dag-title" { "Steps as a graph" }
                    div class="dag-scroll" {
                        (dag_svg::render(&nodes, &format!("{} steps of {}/{}; arrows point from a step to the steps that depend on it; select a step for its details", steps.len(), task.namespace, task.name)))
                    }
                }
            }
            @if let Some((step, history, inputs)) = &selected {
                (step_detail(&base, step, history, inputs.as_ref(), can_act))
            }
            section aria-labelledby="steps-title" {
                h2 id="steps-title" { "Steps" }
                (step_table(&base, &steps))
            }
        }
    };
    let live = format!("{base}/events");
    Ok(respond(&viewer, shell(&format!("Task {}", task.name), &viewer, "/ui/tasks", Some(&live), body)))
}

/// The step's inputs as its template declares them (`inputs` of the step's definition).
async fn step_inputs(state: &UiState, task: &Task, step: &str) -> Option<serde_json::Value> {
    let t = state.service.get_template(&task.namespace, &task.name, &task.version).await.ok()?;
    t.definition["steps"].as_array()?.iter().find(|s| s["name"] == step).map(|s| s["inputs"].clone())
}

fn header(task: &Task, can_cancel: bool) -> Markup {
    html! {
        dl class="facts" {
            dt { "Template" }
            dd { a href={ "/ui/templates/" (task.namespace) "/" (task.name) "/" (task.version) } { (task.namespace) "/" (task.name) " " (task.version) } }
            dt { "State" }
            dd id="task-state" data-state=(task.state) { (state_badge(&task.state)) }
            dt { "Progress" }
            dd { (task.step_counts.complete + task.step_counts.resolved_manually) " of " (task.steps_total) " steps done (" (format!("{:.0}", task.completion_pct)) " %)" }
            dt { "Created" } dd { (time(Some(task.created_at))) }
            dt { "Finished" } dd { (time(task.completed_at)) }
            dt { "Duration" } dd { (duration(task.created_at, task.completed_at)) }
            dt { "Priority" } dd { (task.priority) }
            @if let Some(i) = &task.initiator { dt { "Initiator" } dd { (i) } }
            @if !task.tags.is_empty() { dt { "Tags" } dd { (task.tags.join(", ")) } }
            dt { "Correlation id" } dd { code { (task.correlation_id) } }
        }
        @if can_cancel {
            p { a class="button danger" href={ "/ui/tasks/" (task.task_uuid) "/cancel" } { "Cancel this task…" } }
        }
        @if task.state == "error" || task.step_counts.error > 0 {
            p { a class="button" href={ "/ui/retries?task_uuid=" (task.task_uuid) } { "Retry this task's failed steps…" } }
        }
        details {
            summary { "Context" }
            (json_block(task.context.as_ref()))
        }
        @if task.last_error.is_some() {
            details open {
                summary { "Last error" }
                (json_block(task.last_error.as_ref()))
            }
        }
    }
}

fn step_table(base: &str, steps: &[Step]) -> Markup {
    html! {
        table class="list steps" {
            thead {
                tr {
                    th scope="col" { "#" }
                    th scope="col" { "Step" }
                    th scope="col" { "State" }
                    th scope="col" class="num" { "Attempts" }
                    th scope="col" { "Depends on" }
                    th scope="col" { "Claimed (UTC)" }
                    th scope="col" { "Took" }
                }
            }
            tbody {
                @for s in steps {
                    tr data-step=(s.name) data-state=(s.state) {
                        td class="num" { (s.position) }
                        td { a href={ (base) "?step=" (s.step_uuid) "#step" } { (s.name) } }
                        td { (state_badge(&s.state)) }
                        td class="num" { (s.attempts) " / " (s.max_attempts) }
                        td { (s.depends_on.join(", ")) }
                        td { (time(s.claimed_at)) }
                        td { @if let Some(c) = s.claimed_at { (duration(c, s.completed_at)) } @else { "—" } }
                    }
                }
            }
        }
    }
}

fn step_detail(
    base: &str,
    step: &Step,
    history: &[StepTransition],
    inputs: Option<&serde_json::Value>,
    can_act: bool,
) -> Markup {
    let act = |action: &str, label: &str| {
        html! { a class="button" href={ (base) "/steps/" (step.step_uuid) "/action?action=" (action) } { (label) } " " }
    };
    html! {
        section id="step" class="panel step-detail" aria-labelledby="step-title" {
            h2 id="step-title" { "Step " code { (step.name) } " " (state_badge(&step.state)) }
            dl class="facts" {
                dt { "Handler" } dd { code { (step.handler) } }
                dt { "Attempts" } dd { (step.attempts) " of " (step.max_attempts) }
                dt { "Depends on" } dd { @if step.depends_on.is_empty() { "nothing" } @else { (step.depends_on.join(", ")) } }
                dt { "Timeout" } dd { (step.timeout_seconds) " s" }
                dt { "Next retry" } dd { (time(step.next_retry_at)) }
                dt { "Enqueued" } dd { (time(step.enqueued_at)) }
                dt { "Claimed" } dd { (time(step.claimed_at)) }
                dt { "Completed" } dd { (time(step.completed_at)) }
            }
            @if can_act {
                p class="actions" {
                    @if step.state == "error" { (act("reset_for_retry", "Retry this step…")) }
                    @if open_step(&step.state) {
                        (act("resolve_manually", "Resolve manually…"))
                        (act("complete_manually", "Complete manually…"))
                    }
                }
            }
            div class="cols" {
                div { h3 { "Inputs" } (json_block(inputs)) }
                div { h3 { "Results" } (json_block(step.results.as_ref())) }
                div { h3 { "Last error" } (json_block(step.last_error.as_ref())) }
            }
            h3 { "State history" }
            table class="list" {
                thead { tr { th scope="col" { "At (UTC)" } th scope="col" { "From" } th scope="col" { "To" } th scope="col" { "Event" } th scope="col" class="num" { "Attempt" } th scope="col" { "Details" } } }
                tbody {
                    @for h in history {
                        tr {
                            td { (time(Some(h.created_at))) }
                            td { @if let Some(f) = &h.from_state { (state_badge(f)) } @else { "—" } }
                            td { (state_badge(&h.to_state)) }
                            td { (h.event) }
                            td class="num" { (h.attempt) }
                            td { @if let Some(m) = &h.metadata { code class="small" { (m.to_string()) } } }
                        }
                    }
                }
            }
            p { a href=(base) { "Close the step" } }
        }
    }
}
