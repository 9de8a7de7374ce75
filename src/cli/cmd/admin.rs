//! `tasker retry`, `tasker template list|show|register` and `tasker health`.

use std::path::Path;

use serde_json::Value;

use super::{read_source, show};
use crate::cli::args::{RetryArgs, TemplateCmd, TemplateRef};
use crate::cli::client::Client;
use crate::cli::error::{CliError, CliResult, Kind};
use crate::cli::output::{cell, duration, int_of, key_values, list_of, str_of, template_of, time_of, Table};
use crate::model::RetryFilter;

/// `tasker retry`: POST /v1/retries with the filter of the flags.
pub async fn retry(client: &Client, a: RetryArgs, json: bool) -> CliResult<()> {
    let filter = RetryFilter {
        namespace: a.namespace,
        name: a.name,
        version: a.version,
        task_uuids: (!a.tasks.is_empty()).then_some(a.tasks),
        step_names: (!a.steps.is_empty()).then_some(a.steps),
        error_contains: a.error_contains,
        error_class: a.error_class,
        failed_after: a.since,
        failed_before: a.until,
        limit: a.limit,
        dry_run: a.dry_run,
        reason: a.reason,
    };
    show(json, &client.retry(&filter).await?, |o| {
        let n = int_of(o, "count");
        let mut out = if o["dry_run"] == true {
            format!("dry run: {n} failed step(s) would be reset\n")
        } else {
            format!("{n} failed step(s) reset for retry\n")
        };
        let mut t = Table::new(&["TASK", "STEP", "TEMPLATE", "ATTEMPTS", "TASK STATE", "LAST ERROR"]);
        for s in o["steps"].as_array().into_iter().flatten() {
            let error = s["last_error"].get("message").map(cell).unwrap_or_else(|| cell(&s["last_error"]));
            t.row(vec![
                str_of(s, "task_uuid").into(),
                str_of(s, "step_name").into(),
                format!("{}/{}", str_of(s, "namespace"), str_of(s, "task_name")),
                cell(&s["previous_attempts"]),
                format!("{} -> {}", str_of(s, "task_state_before"), str_of(s, "task_state_after")),
                error,
            ]);
        }
        if !t.is_empty() {
            out.push_str(&t.render());
        }
        out
    });
    Ok(())
}

/// `tasker template …`.
pub async fn template(client: &Client, cmd: TemplateCmd, json: bool) -> CliResult<()> {
    match cmd {
        TemplateCmd::List { namespace } => {
            show(json, &client.list_templates(namespace.as_deref()).await?, templates_table);
            Ok(())
        }
        TemplateCmd::Show { template } => {
            let version = match &template.version {
                Some(v) => v.clone(),
                None => latest_version(client, &template).await?,
            };
            let t = client.get_template(&template.namespace, &template.name, &version).await?;
            show(json, &t, template_view);
            Ok(())
        }
        TemplateCmd::Register { file } => {
            let text = read_source("template file", &file.display().to_string())?;
            let content_type = content_type(&file, &text);
            let t = client.register_template(text, content_type).await?;
            show(json, &t, |t| {
                let steps = t["definition"]["steps"].as_array().map_or(0, Vec::len);
                format!("registered template {} ({steps} steps)\n", template_of(t))
            });
            Ok(())
        }
    }
}

/// The most recently registered version of a template (the one `task create` uses without a
/// version): the newest `created_at` among the listed versions.
async fn latest_version(client: &Client, r: &TemplateRef) -> CliResult<String> {
    let all = client.list_templates(Some(&r.namespace)).await?;
    all.as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["namespace"] == r.namespace.as_str() && t["name"] == r.name.as_str())
        .max_by_key(|t| {
            let created = chrono::DateTime::parse_from_rfc3339(str_of(t, "created_at")).ok();
            (created, str_of(t, "template_uuid").to_string())
        })
        .map(|t| str_of(t, "version").to_string())
        .ok_or_else(|| CliError::new(Kind::NotFound, "Not Found", format!("no template {r} is registered")))
}

/// The content type of a template file: by extension, else JSON when it starts with `{`.
pub fn content_type(path: &Path, text: &str) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("json") => "application/json",
        Some("yaml" | "yml") => "application/yaml",
        _ if text.trim_start().starts_with('{') => "application/json",
        _ => "application/yaml",
    }
}

fn templates_table(list: &Value) -> String {
    let mut t = Table::new(&["NAMESPACE", "NAME", "VERSION", "STEPS", "DESCRIPTION"]);
    for tpl in list.as_array().into_iter().flatten() {
        t.row(vec![
            str_of(tpl, "namespace").into(),
            str_of(tpl, "name").into(),
            str_of(tpl, "version").into(),
            cell(&tpl["step_count"]),
            cell(&tpl["description"]),
        ]);
    }
    if t.is_empty() {
        "no templates\n".into()
    } else {
        t.render()
    }
}

fn template_view(t: &Value) -> String {
    let mut out = key_values(&[
        ("template", template_of(t)),
        ("uuid", str_of(t, "template_uuid").into()),
        ("description", cell(&t["description"])),
        ("input schema", cell(&t["definition"]["input_schema"])),
        ("created", time_of(t, "created_at")),
        ("updated", time_of(t, "updated_at")),
    ]);
    let mut steps = Table::new(&["STEP", "HANDLER", "DEPENDS ON", "MAX ATTEMPTS", "TIMEOUT"]);
    for s in t["definition"]["steps"].as_array().into_iter().flatten() {
        steps.row(vec![
            str_of(s, "name").into(),
            str_of(s, "handler").into(),
            list_of(s, "depends_on"),
            cell(&s["retry"]["max_attempts"]),
            s["timeout_seconds"].as_i64().map(|t| format!("{t}s")).unwrap_or_default(),
        ]);
    }
    out.push('\n');
    out.push_str(&steps.render());
    out
}

/// `tasker health`: the detailed report; exit 6 when the server says it is unhealthy.
pub async fn health(client: &Client, json: bool) -> CliResult<()> {
    let report = client.health().await?;
    show(json, &report, health_view);
    match str_of(&report, "status") {
        "healthy" => Ok(()),
        status => {
            let failing: Vec<String> = report["checks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["healthy"] != true)
                .map(|c| format!("{} ({})", str_of(c, "name"), cell(&c["message"])))
                .collect();
            Err(CliError::new(Kind::Unavailable, format!("server {status}"), failing.join(", ")))
        }
    }
}

fn health_view(h: &Value) -> String {
    let mut out = key_values(&[
        ("status", str_of(h, "status").into()),
        ("version", str_of(h, "version").into()),
        ("uptime", h["uptime_seconds"].as_f64().map(duration).unwrap_or_default()),
        (
            "pool",
            format!(
                "{} open, {} idle, {} max",
                int_of(&h["pool"], "size"),
                int_of(&h["pool"], "idle"),
                int_of(&h["pool"], "max")
            ),
        ),
    ]);
    let mut checks = Table::new(&["CHECK", "HEALTHY", "MESSAGE"]);
    for c in h["checks"].as_array().into_iter().flatten() {
        checks.row(vec![str_of(c, "name").into(), cell(&c["healthy"]), cell(&c["message"])]);
    }
    let mut actors = Table::new(&["ACTOR", "RUNNING", "INTAKE", "PROCESSED", "ERRORS"]);
    for a in h["actors"].as_array().into_iter().flatten() {
        actors.row(vec![
            str_of(a, "name").into(),
            cell(&a["running"]),
            match (str_of(a, "intake"), a["wake_up_pending"].as_bool()) {
                ("wake_up", Some(true)) => "wake-up pending".into(),
                ("wake_up", _) => "wake-up".into(),
                _ => format!("{}/{}", int_of(a, "channel_depth"), int_of(a, "channel_capacity")),
            },
            cell(&a["processed"]),
            cell(&a["errors"]),
        ]);
    }
    let mut breakers = Table::new(&["BREAKER", "STATE", "FAILURES", "OPENED"]);
    for b in h["circuit_breakers"].as_array().into_iter().flatten() {
        breakers.row(vec![
            str_of(b, "name").into(),
            str_of(b, "state").into(),
            cell(&b["total_failures"]),
            cell(&b["opened_count"]),
        ]);
    }
    let mut queues = Table::new(&["QUEUE", "LENGTH", "VISIBLE", "OLDEST"]);
    for q in h["queues"].as_array().into_iter().flatten() {
        let oldest = q["oldest_msg_age_seconds"].as_f64().map(duration).unwrap_or_default();
        queues.row(vec![str_of(q, "queue_name").into(), cell(&q["length"]), cell(&q["visible"]), oldest]);
    }
    for t in [checks, actors, breakers, queues] {
        if !t.is_empty() {
            out.push('\n');
            out.push_str(&t.render());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_content_types() {
        assert_eq!(content_type(Path::new("t.json"), ""), "application/json");
        assert_eq!(content_type(Path::new("t.YML"), "{"), "application/yaml");
        assert_eq!(content_type(Path::new("-"), "  {\"a\":1}"), "application/json");
        assert_eq!(content_type(Path::new("t.txt"), "namespace: x"), "application/yaml");
    }
}
