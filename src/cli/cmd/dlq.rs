//! `tasker dlq list|show|update|stats`.

use serde_json::Value;

use super::show;
use crate::cli::args::DlqCmd;
use crate::cli::client::Client;
use crate::cli::error::CliResult;
use crate::cli::output::{cell, duration, int_of, key_values, list_of, str_of, template_of, time_of, Table};
use crate::model::{DlqListQuery, DlqUpdate};

/// Runs a `dlq` subcommand.
pub async fn run(client: &Client, cmd: DlqCmd, json: bool) -> CliResult<()> {
    match cmd {
        DlqCmd::List { status, namespace, limit, cursor } => {
            let q = DlqListQuery { resolution_status: status, namespace, limit, cursor };
            show(json, &client.list_dlq(&q).await?, entries_table);
        }
        DlqCmd::Show { task } => {
            show(json, &client.dlq_for_task(task).await?, |entries| {
                let views: Vec<String> = entries.as_array().into_iter().flatten().map(entry_view).collect();
                if views.is_empty() {
                    format!("task {task} has no dead letter queue entry\n")
                } else {
                    views.join("\n")
                }
            });
        }
        DlqCmd::Update { id, status, notes, by } => {
            let update = DlqUpdate { resolution_status: status, resolution_notes: notes, resolved_by: by };
            show(json, &client.update_dlq(id, &update).await?, entry_view);
        }
        DlqCmd::Stats => show(json, &client.dlq_stats().await?, stats_view),
    }
    Ok(())
}

fn entries_table(page: &Value) -> String {
    let mut t = Table::new(&["ID", "TASK", "TEMPLATE", "STATUS", "TASK STATE", "FAILED STEPS", "CREATED"]);
    for e in page["items"].as_array().into_iter().flatten() {
        t.row(vec![
            cell(&e["id"]),
            str_of(e, "task_uuid").into(),
            template_of(e),
            str_of(e, "resolution_status").into(),
            str_of(e, "task_state_now").into(),
            list_of(e, "failed_steps"),
            time_of(e, "created_at"),
        ]);
    }
    let mut out = if t.is_empty() { "no dead letter queue entries\n".to_string() } else { t.render() };
    if let Some(c) = page["next_cursor"].as_str() {
        out.push_str(&format!("next page: --cursor {c}\n"));
    }
    out
}

/// The human view of a DLQ entry.
pub fn entry_view(e: &Value) -> String {
    key_values(&[
        ("entry", cell(&e["id"])),
        ("task", str_of(e, "task_uuid").into()),
        ("template", template_of(e)),
        ("status", str_of(e, "resolution_status").into()),
        ("reason", str_of(e, "reason").into()),
        ("failed steps", list_of(e, "failed_steps")),
        ("state at entry", str_of(e, "state_at_entry").into()),
        ("task state now", str_of(e, "task_state_now").into()),
        ("notes", cell(&e["resolution_notes"])),
        ("resolved by", cell(&e["resolved_by"])),
        ("created", time_of(e, "created_at")),
        ("updated", time_of(e, "updated_at")),
        ("resolved", time_of(e, "resolved_at")),
    ])
}

fn stats_view(s: &Value) -> String {
    let mut out = key_values(&[
        ("total", int_of(s, "total").to_string()),
        ("oldest open", s["oldest_open_age_seconds"].as_f64().map(duration).unwrap_or_else(|| "none".into())),
    ]);
    let mut t = Table::new(&["STATUS", "COUNT"]);
    for c in s["by_status"].as_array().into_iter().flatten() {
        t.row(vec![str_of(c, "resolution_status").into(), cell(&c["count"])]);
    }
    if !t.is_empty() {
        out.push('\n');
        out.push_str(&t.render());
    }
    out
}
