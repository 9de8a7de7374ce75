//! The state-changing actions, each a confirmation page (GET, works without JavaScript) and a
//! POST that checks the CSRF token and the same permission as its REST route, calls the service
//! layer, and redirects back (POST-redirect-GET) with a notice:
//!
//! | action | confirmation | POST | permission |
//! |---|---|---|---|
//! | cancel a task | `/ui/tasks/{t}/cancel` | same | `tasks:cancel` |
//! | resolve / complete / reset (retry) a step | `/ui/tasks/{t}/steps/{s}/action?action=…` | same | `steps:resolve` |
//! | batch retry (dry run shown first) | `/ui/retries?…&preview=1` | `/ui/retries` | `retries:create` |
//! | update a DLQ entry | `/ui/dlq/{id}` | same | `dlq:update` |

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::page::{csrf_field, enc, json_block, notice, respond, see_other, shell, state_badge, UiError};
use super::pages::task::parse_uuid;
use super::pages::tasks::parse_time;
use super::session::Viewer;
use super::UiState;
use crate::model::{DlqUpdate, RetryFilter, StepAction, StepActionRequest};
use crate::service::DLQ_STATUSES;

fn form<T>(f: Result<Form<T>, FormRejection>) -> Result<T, UiError> {
    f.map(|Form(v)| v).map_err(|e| UiError::bad_request(e.body_text()))
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn page(viewer: &Viewer, title: &str, current: &str, body: Markup) -> Response {
    respond(viewer, shell(title, viewer, current, None, body))
}

/// A reason and the CSRF token.
#[derive(Debug, Deserialize)]
pub struct ReasonForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// Why (recorded in the history).
    #[serde(default)]
    pub reason: String,
}

/// Confirmation of cancelling a task.
pub async fn cancel_form(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(raw): Path<String>,
) -> Result<Response, UiError> {
    state.require(&viewer, "tasks:cancel")?;
    let task = state.service.get_task(parse_uuid("task uuid", &raw)?).await?;
    let body = html! {
        h1 { "Cancel task " code { (task.task_uuid) } "?" }
        p { (task.namespace) "/" (task.name) " is " (state_badge(&task.state)) ". Cancelling stops its unfinished steps; it cannot be undone." }
        form method="post" class="stack" {
            (csrf_field(&viewer))
            label for="reason" { "Reason (recorded in the task's history)" }
            input id="reason" name="reason" type="text" size="60";
            div { button type="submit" class="danger" { "Cancel the task" } " " a href={ "/ui/tasks/" (task.task_uuid) } { "Keep it running" } }
        }
    };
    Ok(page(&viewer, "Cancel task", "/ui/tasks", body))
}

/// Cancels a task.
pub async fn cancel(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    f: Result<Form<ReasonForm>, FormRejection>,
) -> Result<Response, UiError> {
    state.require(&viewer, "tasks:cancel")?;
    let f = form(f)?;
    viewer.check_csrf(&f.csrf)?;
    let task_uuid = parse_uuid("task uuid", &raw)?;
    let task = state.service.cancel_task(task_uuid, opt(&f.reason)).await?;
    Ok(see_other(&format!("/ui/tasks/{task_uuid}?notice={}", enc(&format!("Task {}: {}", task.name, task.state)))))
}

/// `?action=` of the step action page.
#[derive(Debug, Deserialize)]
pub struct ActionQuery {
    /// `resolve_manually`, `complete_manually` or `reset_for_retry`.
    pub action: StepAction,
}

/// The step action form.
#[derive(Debug, Deserialize)]
pub struct StepActionForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// The action.
    pub action: StepAction,
    /// Why.
    #[serde(default)]
    pub reason: String,
    /// For `complete_manually`: the result, as JSON text (empty = none).
    #[serde(default)]
    pub result: String,
}

fn action_label(a: StepAction) -> (&'static str, &'static str) {
    match a {
        StepAction::ResolveManually => {
            ("Resolve manually", "The step counts as done without results; the steps after it may run.")
        }
        StepAction::CompleteManually => {
            ("Complete manually", "The step counts as complete with the result you give; the steps after it may run.")
        }
        StepAction::ResetForRetry => {
            ("Retry", "The failed step goes back to pending with its attempts reset, and runs again.")
        }
    }
}

/// Confirmation of a step action.
pub async fn step_action_form(
    State(state): State<UiState>,
    viewer: Viewer,
    Path((t, s)): Path<(String, String)>,
    q: Result<Query<ActionQuery>, QueryRejection>,
) -> Result<Response, UiError> {
    state.require(&viewer, "steps:resolve")?;
    let Query(q) = q.map_err(|e| UiError::bad_request(e.body_text()))?;
    let (task_uuid, step_uuid) = (parse_uuid("task uuid", &t)?, parse_uuid("step uuid", &s)?);
    let step = state.service.get_step(task_uuid, step_uuid).await?;
    let (label, explain) = action_label(q.action);
    let action = serde_json::to_value(q.action).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
    let body = html! {
        h1 { (label) ": step " code { (step.name) } "?" }
        p { "The step is " (state_badge(&step.state)) " after " (step.attempts) " of " (step.max_attempts) " attempts. " (explain) }
        @if step.last_error.is_some() { h2 { "Its last error" } (json_block(step.last_error.as_ref())) }
        form method="post" class="stack" {
            (csrf_field(&viewer))
            input type="hidden" name="action" value=(action);
            label for="reason" { "Reason (recorded in the step's history)" }
            input id="reason" name="reason" type="text" size="60";
            @if q.action == StepAction::CompleteManually {
                label for="result" { "Result (a JSON object; empty for none)" }
                textarea id="result" name="result" rows="6" cols="60" { "{}" }
            }
            div { button type="submit" { (label) } " " a href={ "/ui/tasks/" (task_uuid) "?step=" (step_uuid) "#step" } { "Back" } }
        }
    };
    Ok(page(&viewer, label, "/ui/tasks", body))
}

/// Applies a step action.
pub async fn step_action(
    State(state): State<UiState>,
    viewer: Viewer,
    Path((t, s)): Path<(String, String)>,
    f: Result<Form<StepActionForm>, FormRejection>,
) -> Result<Response, UiError> {
    state.require(&viewer, "steps:resolve")?;
    let f = form(f)?;
    viewer.check_csrf(&f.csrf)?;
    let (task_uuid, step_uuid) = (parse_uuid("task uuid", &t)?, parse_uuid("step uuid", &s)?);
    let result = match (f.action, f.result.trim()) {
        (StepAction::CompleteManually, text) if !text.is_empty() => Some(serde_json::from_str(text).map_err(|e| {
            UiError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, format!("The result is not JSON: {e}"))
        })?),
        _ => None,
    };
    let req = StepActionRequest { action: f.action, reason: opt(&f.reason), result };
    let step = state.service.act_on_step(task_uuid, step_uuid, req).await?;
    let text = format!("Step {}: {}", step.name, step.state);
    Ok(see_other(&format!("/ui/tasks/{task_uuid}?step={step_uuid}&notice={}#step", enc(&text))))
}

/// The batch retry filter, as the form sends it (empty fields mean any).
#[derive(Debug, Default, Deserialize)]
pub struct RetryForm {
    /// The session's CSRF token (POST only).
    #[serde(default)]
    pub csrf: String,
    /// Namespace.
    #[serde(default)]
    pub namespace: String,
    /// Template name.
    #[serde(default)]
    pub name: String,
    /// One task.
    #[serde(default)]
    pub task_uuid: String,
    /// One step name.
    #[serde(default)]
    pub step_name: String,
    /// Text in the last error.
    #[serde(default)]
    pub error_contains: String,
    /// Error class.
    #[serde(default)]
    pub error_class: String,
    /// Failed at or after.
    #[serde(default)]
    pub failed_after: String,
    /// Failed before.
    #[serde(default)]
    pub failed_before: String,
    /// Why.
    #[serde(default)]
    pub reason: String,
    /// Show the dry run.
    #[serde(default)]
    pub preview: String,
    /// A notice from a redirect.
    #[serde(default)]
    pub notice: Option<String>,
}

impl RetryForm {
    fn filter(&self, dry_run: bool) -> Result<RetryFilter, UiError> {
        let task_uuids = match opt(&self.task_uuid) {
            Some(t) => Some(vec![parse_uuid("task uuid", &t)?]),
            None => None,
        };
        Ok(RetryFilter {
            namespace: opt(&self.namespace),
            name: opt(&self.name),
            version: None,
            task_uuids,
            step_names: opt(&self.step_name).map(|s| vec![s]),
            error_contains: opt(&self.error_contains),
            error_class: opt(&self.error_class),
            failed_after: parse_time("failed_after", &self.failed_after)?,
            failed_before: parse_time("failed_before", &self.failed_before)?,
            limit: None,
            dry_run,
            reason: opt(&self.reason),
        })
    }

    fn fields(&self) -> [(&'static str, &'static str, &str); 8] {
        [
            ("namespace", "Namespace", &self.namespace),
            ("name", "Template name", &self.name),
            ("task_uuid", "Task uuid", &self.task_uuid),
            ("step_name", "Step name", &self.step_name),
            ("error_contains", "Error contains", &self.error_contains),
            ("error_class", "Error class", &self.error_class),
            ("failed_after", "Failed after (UTC)", &self.failed_after),
            ("failed_before", "Failed before (UTC)", &self.failed_before),
        ]
    }
}

/// The batch retry page: the filter; with `preview`, the dry run and the confirmation.
pub async fn retry_form(
    State(state): State<UiState>,
    viewer: Viewer,
    q: Result<Query<RetryForm>, QueryRejection>,
) -> Result<Response, UiError> {
    state.require(&viewer, "retries:create")?;
    let Query(q) = q.map_err(|e| UiError::bad_request(e.body_text()))?;
    let preview =
        if q.preview.is_empty() { None } else { Some(state.service.retry_failed_steps(q.filter(true)?).await?) };
    let body = html! {
        h1 { "Batch retry of failed steps" }
        (notice(q.notice.as_deref()))
        p { "Every failed step matching all the filled-in fields is reset and runs again. The dry run comes first: nothing changes until you confirm." }
        form method="get" action="/ui/retries" class="filters" aria-label="Which failed steps" {
            @for (field, label, value) in q.fields() {
                label { (label) " " input name=(field) value=(value) type=(if field.starts_with("failed_") { "datetime-local" } else { "text" }) size="14"; }
            }
            input type="hidden" name="preview" value="1";
            button type="submit" { "Dry run" }
        }
        @if let Some(outcome) = &preview {
            section class="panel wide" aria-labelledby="dry-run" {
                h2 id="dry-run" { "Dry run: " (outcome.count) " step" @if outcome.count != 1 { "s" } " would be retried" }
                @if !outcome.steps.is_empty() {
                    table class="list" {
                        thead { tr { th scope="col" { "Task" } th scope="col" { "Step" } th scope="col" class="num" { "Attempts" } th scope="col" { "Last error" } th scope="col" { "Task state after" } } }
                        tbody {
                            @for s in &outcome.steps {
                                tr {
                                    td { a href={ "/ui/tasks/" (s.task_uuid) } { (s.namespace) "/" (s.task_name) } }
                                    td { (s.step_name) }
                                    td class="num" { (s.previous_attempts) }
                                    td { code class="small" { (s.last_error.as_ref().map(ToString::to_string).unwrap_or_default()) } }
                                    td { (state_badge(&s.task_state_after)) }
                                }
                            }
                        }
                    }
                    form method="post" action="/ui/retries" class="stack" {
                        (csrf_field(&viewer))
                        @for (field, _, value) in q.fields() { input type="hidden" name=(field) value=(value); }
                        label for="reason" { "Reason (recorded in each step's history)" }
                        input id="reason" name="reason" type="text" size="60";
                        div { button type="submit" { "Retry " (outcome.count) " step" @if outcome.count != 1 { "s" } } }
                    }
                }
            }
        }
    };
    Ok(page(&viewer, "Batch retry", "/ui/retries", body))
}

/// Runs the batch retry.
pub async fn retry(
    State(state): State<UiState>,
    viewer: Viewer,
    f: Result<Form<RetryForm>, FormRejection>,
) -> Result<Response, UiError> {
    state.require(&viewer, "retries:create")?;
    let f = form(f)?;
    viewer.check_csrf(&f.csrf)?;
    let outcome = state.service.retry_failed_steps(f.filter(false)?).await?;
    let text = format!("{} step{} reset for retry", outcome.count, if outcome.count == 1 { "" } else { "s" });
    Ok(see_other(&format!("/ui/retries?notice={}", enc(&text))))
}

/// The DLQ update form's fields.
#[derive(Debug, Deserialize)]
pub struct DlqForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// New status (empty = unchanged).
    #[serde(default)]
    pub resolution_status: String,
    /// Notes to append.
    #[serde(default)]
    pub resolution_notes: String,
    /// Who.
    #[serde(default)]
    pub resolved_by: String,
}

fn parse_id(raw: &str) -> Result<i64, UiError> {
    raw.parse().map_err(|_| UiError::bad_request(format!("DLQ entry id '{raw}' is not an integer")))
}

/// The DLQ entry update form.
pub async fn dlq_form(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(raw): Path<String>,
) -> Result<Response, UiError> {
    state.require(&viewer, "dlq:update")?;
    let id = parse_id(&raw)?;
    let body = html! {
        h1 { "Update DLQ entry " (id) }
        p { "Records a step of the investigation. The task itself is not changed: retry its steps from its page or with a batch retry." }
        form method="post" class="stack" {
            (csrf_field(&viewer))
            label for="resolution_status" { "Status" }
            select id="resolution_status" name="resolution_status" {
                option value="" { "(unchanged)" }
                @for s in DLQ_STATUSES { option value=(s) { (s) } }
            }
            label for="resolution_notes" { "Notes to append" }
            textarea id="resolution_notes" name="resolution_notes" rows="4" cols="60" {}
            label for="resolved_by" { "By" }
            input id="resolved_by" name="resolved_by" type="text";
            div { button type="submit" { "Save" } " " a href="/ui/dlq" { "Back" } }
        }
    };
    Ok(page(&viewer, "Update DLQ entry", "/ui/dlq", body))
}

/// Updates a DLQ entry.
pub async fn dlq_update(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    f: Result<Form<DlqForm>, FormRejection>,
) -> Result<Response, UiError> {
    state.require(&viewer, "dlq:update")?;
    let f = form(f)?;
    viewer.check_csrf(&f.csrf)?;
    let id = parse_id(&raw)?;
    let update = DlqUpdate {
        resolution_status: opt(&f.resolution_status),
        resolution_notes: opt(&f.resolution_notes),
        resolved_by: opt(&f.resolved_by),
    };
    let entry = state.service.update_dlq(id, update).await?;
    let text = format!("Entry {}: {}", entry.id, entry.resolution_status);
    Ok(see_other(&format!("/ui/dlq?notice={}", enc(&text))))
}
