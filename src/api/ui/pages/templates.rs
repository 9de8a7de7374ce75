//! `/ui/templates`: every registered template; `/ui/templates/{namespace}/{name}/{version}`: one,
//! with its DAG drawn as on a task page and its steps' settings.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::html;

use crate::api::ui::dag_svg::{self, DagNode};
use crate::api::ui::page::{json_block, respond, shell, time, UiError};
use crate::api::ui::session::Viewer;
use crate::api::ui::UiState;

/// The template list.
pub async fn list(State(state): State<UiState>, viewer: Viewer) -> Result<Response, UiError> {
    state.require(&viewer, "templates:read")?;
    let templates = state.service.list_templates(None).await?;
    let body = html! {
        h1 { "Templates" }
        table class="list" {
            thead { tr { th scope="col" { "Template" } th scope="col" { "Version" } th scope="col" class="num" { "Steps" } th scope="col" { "Description" } th scope="col" { "Registered (UTC)" } } }
            tbody {
                @for t in &templates {
                    tr {
                        td { a href={ "/ui/templates/" (t.namespace) "/" (t.name) "/" (t.version) } { (t.namespace) "/" (t.name) } }
                        td { (t.version) }
                        td class="num" { (t.step_count) }
                        td { (t.description.as_deref().unwrap_or("")) }
                        td { (time(Some(t.created_at))) }
                    }
                }
            }
        }
    };
    Ok(respond(&viewer, shell("Templates", &viewer, "/ui/templates", None, body)))
}

/// One template and its DAG.
pub async fn template(
    State(state): State<UiState>,
    viewer: Viewer,
    Path((namespace, name, version)): Path<(String, String, String)>,
) -> Result<Response, UiError> {
    state.require(&viewer, "templates:read")?;
    let t = state.service.get_template(&namespace, &name, &version).await?;
    let steps = t.definition["steps"].as_array().cloned().unwrap_or_default();
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let nodes: Vec<DagNode> = steps
        .iter()
        .map(|s| DagNode {
            name: text(&s["name"]),
            depends_on: s["depends_on"].as_array().map(|a| a.iter().map(text).collect()).unwrap_or_default(),
            label: text(&s["handler"]),
            state: "template".into(),
            href: None,
            selected: false,
        })
        .collect();
    let body = html! {
        h1 { "Template " (t.namespace) "/" (t.name) " " span class="muted" { (t.version) } }
        @if let Some(d) = &t.description { p { (d) } }
        p { a href={ "/ui/tasks?namespace=" (t.namespace) "&name=" (t.name) } { "Tasks of this template" } }
        section aria-labelledby="dag-title" {
            h2 id="dag-title" { "Steps as a graph" }
            div class="dag-scroll" {
                (dag_svg::render(&nodes, &format!("{} steps; each box shows the step's handler", nodes.len())))
            }
        }
        section aria-labelledby="steps-title" {
            h2 id="steps-title" { "Steps" }
            table class="list" {
                thead { tr { th scope="col" { "Step" } th scope="col" { "Handler" } th scope="col" { "Depends on" } th scope="col" { "Retry" } th scope="col" class="num" { "Timeout (s)" } } }
                tbody {
                    @for s in &steps {
                        tr {
                            td { (text(&s["name"])) }
                            td { code { (text(&s["handler"])) } }
                            td { (s["depends_on"].as_array().map(|a| a.iter().map(text).collect::<Vec<_>>().join(", ")).unwrap_or_default()) }
                            td { code class="small" { (s["retry"].to_string()) } }
                            td class="num" { (s["timeout_seconds"].to_string()) }
                        }
                    }
                }
            }
        }
        details { summary { "The normalized definition" } (json_block(Some(&t.definition))) }
    };
    Ok(respond(&viewer, shell(&format!("Template {}", t.name), &viewer, "/ui/templates", None, body)))
}
