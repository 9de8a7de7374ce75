//! `/ui/tasks`: the task list with the REST filters (namespace, name, state, creation time range),
//! newest first, one page at a time (`cursor`).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{DateTime, NaiveDateTime, Utc};
use maud::html;
use serde::Deserialize;

use crate::api::ui::page::{enc, notice, respond, shell, state_badge, time, UiError};
use crate::api::ui::session::Viewer;
use crate::api::ui::UiState;
use crate::model::{TaskListQuery, TASK_STATES};

/// Rows per page.
pub const PAGE_SIZE: u32 = 50;

/// The filter form's fields (empty fields mean "any").
#[derive(Debug, Default, Deserialize)]
pub struct TasksQuery {
    /// Namespace.
    #[serde(default)]
    pub namespace: String,
    /// Template name.
    #[serde(default)]
    pub name: String,
    /// Task state.
    #[serde(default)]
    pub state: String,
    /// Created at or after (RFC 3339, or `YYYY-MM-DDTHH:MM` in UTC).
    #[serde(default)]
    pub created_after: String,
    /// Created before (same forms).
    #[serde(default)]
    pub created_before: String,
    /// The page after this task.
    #[serde(default)]
    pub cursor: String,
    /// A notice from a redirect.
    #[serde(default)]
    pub notice: Option<String>,
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// Parses a time given by a form: RFC 3339, or a `datetime-local` value taken as UTC.
pub fn parse_time(field: &str, s: &str) -> Result<Option<DateTime<Utc>>, UiError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    for f in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(Some(t.and_utc()));
        }
    }
    Err(UiError::bad_request(format!("{field} '{s}' is not a time: use YYYY-MM-DDTHH:MM (UTC) or RFC 3339")))
}

/// The task list.
pub async fn list(
    State(state): State<UiState>,
    viewer: Viewer,
    q: Result<Query<TasksQuery>, QueryRejection>,
) -> Result<Response, UiError> {
    state.require(&viewer, "tasks:read")?;
    let Query(q) = q.map_err(|e| UiError::bad_request(e.body_text()))?;
    let query = TaskListQuery {
        namespace: opt(&q.namespace),
        name: opt(&q.name),
        state: opt(&q.state),
        created_after: parse_time("created_after", &q.created_after)?,
        created_before: parse_time("created_before", &q.created_before)?,
        limit: Some(PAGE_SIZE),
        cursor: opt(&q.cursor),
        include: None,
    };
    let page = state.service.list_tasks(query).await?;
    let filters = format!(
        "namespace={}&name={}&state={}&created_after={}&created_before={}",
        enc(&q.namespace),
        enc(&q.name),
        enc(&q.state),
        enc(&q.created_after),
        enc(&q.created_before)
    );
    let body = html! {
        h1 { "Tasks" }
        (notice(q.notice.as_deref()))
        form method="get" action="/ui/tasks" class="filters" aria-label="Filter tasks" {
            label { "Namespace " input name="namespace" value=(q.namespace) size="12"; }
            label { "Name " input name="name" value=(q.name) size="16"; }
            label { "State "
                select name="state" {
                    option value="" { "any" }
                    @for s in TASK_STATES {
                        option value=(s) selected[q.state == *s] { (s) }
                    }
                }
            }
            label { "Created after (UTC) " input name="created_after" type="datetime-local" value=(q.created_after); }
            label { "Created before (UTC) " input name="created_before" type="datetime-local" value=(q.created_before); }
            button type="submit" { "Filter" }
            " " a href="/ui/tasks" { "Clear" }
        }
        @if page.items.is_empty() {
            p class="muted" { "No tasks match." }
        } @else {
            table class="list" {
                caption class="visually-hidden" { "Tasks, newest first" }
                thead {
                    tr {
                        th scope="col" { "Task" }
                        th scope="col" { "Template" }
                        th scope="col" { "State" }
                        th scope="col" class="num" { "Progress" }
                        th scope="col" { "Created (UTC)" }
                        th scope="col" { "Finished (UTC)" }
                    }
                }
                tbody {
                    @for t in &page.items {
                        tr {
                            td { a href={ "/ui/tasks/" (t.task_uuid) } { code { (t.task_uuid) } } }
                            td { (t.namespace) "/" (t.name) " " span class="muted" { (t.version) } }
                            td { (state_badge(&t.state)) }
                            td class="num" { (t.step_counts.complete + t.step_counts.resolved_manually) " / " (t.steps_total) }
                            td { (time(Some(t.created_at))) }
                            td { (time(t.completed_at)) }
                        }
                    }
                }
            }
        }
        nav class="pager" aria-label="Pages" {
            @if !q.cursor.is_empty() { a href={ "/ui/tasks?" (filters) } { "« Newest" } " " }
            @if let Some(next) = &page.next_cursor {
                a href={ "/ui/tasks?" (filters) "&cursor=" (enc(next)) } rel="next" { "Older »" }
            }
        }
    };
    Ok(respond(&viewer, shell("Tasks", &viewer, "/ui/tasks", None, body)))
}
