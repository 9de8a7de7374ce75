//! `/ui/dlq`: dead letter queue entries, newest first, filtered by status and namespace, one page
//! at a time; each entry links to its task and to its update form.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use crate::api::ui::page::{enc, notice, respond, shell, state_badge, time, UiError};
use crate::api::ui::session::Viewer;
use crate::api::ui::UiState;
use crate::model::DlqListQuery;
use crate::service::DLQ_STATUSES;

/// The filter form's fields (empty means any).
#[derive(Debug, Default, Deserialize)]
pub struct DlqQuery {
    /// Status.
    #[serde(default)]
    pub resolution_status: String,
    /// Namespace.
    #[serde(default)]
    pub namespace: String,
    /// The page after this entry id.
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

/// The DLQ list.
pub async fn list(
    State(state): State<UiState>,
    viewer: Viewer,
    q: Result<Query<DlqQuery>, QueryRejection>,
) -> Result<Response, UiError> {
    state.require(&viewer, "dlq:read")?;
    let Query(q) = q.map_err(|e| UiError::bad_request(e.body_text()))?;
    let page = state
        .service
        .list_dlq(DlqListQuery {
            resolution_status: opt(&q.resolution_status),
            namespace: opt(&q.namespace),
            limit: Some(50),
            cursor: opt(&q.cursor),
        })
        .await?;
    let can_update = state.allows(&viewer, "dlq:update");
    let filters = format!("resolution_status={}&namespace={}", enc(&q.resolution_status), enc(&q.namespace));
    let body = html! {
        h1 { "Dead letter queue" }
        (notice(q.notice.as_deref()))
        form method="get" action="/ui/dlq" class="filters" aria-label="Filter entries" {
            label { "Status "
                select name="resolution_status" {
                    option value="" { "any" }
                    @for s in DLQ_STATUSES { option value=(s) selected[q.resolution_status == *s] { (s) } }
                }
            }
            label { "Namespace " input name="namespace" value=(q.namespace) size="12"; }
            button type="submit" { "Filter" }
        }
        @if page.items.is_empty() {
            p class="muted" { "No entries." }
        } @else {
            table class="list" {
                thead {
                    tr {
                        th scope="col" class="num" { "Id" }
                        th scope="col" { "Task" }
                        th scope="col" { "Failed steps" }
                        th scope="col" { "Task now" }
                        th scope="col" { "Status" }
                        th scope="col" { "Notes" }
                        th scope="col" { "Entered (UTC)" }
                        @if can_update { th scope="col" { span class="visually-hidden" { "Actions" } } }
                    }
                }
                tbody {
                    @for e in &page.items {
                        tr {
                            td class="num" { (e.id) }
                            td { a href={ "/ui/tasks/" (e.task_uuid) } { (e.namespace) "/" (e.name) } }
                            td { (e.failed_steps.join(", ")) }
                            td { (state_badge(&e.task_state_now)) }
                            td { (e.resolution_status) }
                            td { (e.resolution_notes.as_deref().unwrap_or("")) }
                            td { (time(Some(e.created_at))) }
                            @if can_update { td { a href={ "/ui/dlq/" (e.id) } { "Update…" } } }
                        }
                    }
                }
            }
        }
        nav class="pager" aria-label="Pages" {
            @if let Some(next) = &page.next_cursor {
                a href={ "/ui/dlq?" (filters) "&cursor=" (enc(next)) } rel="next" { "Older »" }
            }
        }
    };
    Ok(respond(&viewer, shell("DLQ", &viewer, "/ui/dlq", None, body)))
}
