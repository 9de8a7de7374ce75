//! Following a task to its final state (`task watch`, `task create --wait`): a live progress bar
//! on a terminal, one plain line per change otherwise, and the exit code of the final state.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use uuid::Uuid;

use super::client::{Client, Progress};
use super::error::{CliError, CliResult, Kind};
use super::output::{emit, print_json, template_of};

/// How the progress is shown.
enum Reporter {
    /// A live bar (stdout is a terminal).
    Bar(ProgressBar),
    /// One line per change (stdout is not a terminal).
    Lines(Option<Progress>),
    /// Nothing (`--json`: only the final task is printed).
    Quiet,
}

impl Reporter {
    fn new(json: bool) -> Self {
        if json {
            Reporter::Quiet
        } else if std::io::stdout().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stdout());
            let style = ProgressStyle::with_template(
                "{spinner:.green} [{elapsed_precise}] [{bar:40.cyan/blue}] {pos}/{len} steps  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(120));
            Reporter::Bar(bar)
        } else {
            Reporter::Lines(None)
        }
    }

    fn update(&mut self, p: &Progress) {
        match self {
            Reporter::Bar(bar) => {
                bar.set_length(p.total.max(0) as u64);
                bar.set_position(p.done.max(0) as u64);
                bar.set_message(p.state.clone());
                if p.is_final() {
                    // Stops where it is (finish() would fill the bar even for a failed task).
                    bar.abandon();
                }
            }
            Reporter::Lines(last) => {
                if last.as_ref() != Some(p) {
                    emit(&format!("{}\n", line(&now(), p)));
                    *last = Some(p.clone());
                }
            }
            Reporter::Quiet => {}
        }
    }

    fn abandon(&self) {
        if let Reporter::Bar(bar) = self {
            bar.abandon();
        }
    }
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The line printed per change when stdout is not a terminal: `<time> task <state> <done>/<total> steps`.
pub fn line(time: &str, p: &Progress) -> String {
    format!("{time} task {} {}/{} steps", p.state, p.done, p.total)
}

/// The outcome of a final state: `Ok` for complete and resolved_manually, exit 7 otherwise.
pub fn outcome(task: &Value) -> CliResult<()> {
    let state = task["state"].as_str().unwrap_or_default();
    match state {
        "complete" | "resolved_manually" => Ok(()),
        _ => {
            let mut detail = format!("task {}", task["task_uuid"].as_str().unwrap_or_default());
            if let Some(e) = task.get("last_error").filter(|e| !e.is_null()) {
                let msg = e.get("message").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| e.to_string());
                detail.push_str(&format!(": {msg}"));
            }
            let title =
                if state == "cancelled" { "task was cancelled".into() } else { format!("task ended in {state}") };
            Err(CliError::new(Kind::TaskFailed, title, detail))
        }
    }
}

/// Follows `task` until it is final, showing progress; with `json`, prints the final task's JSON.
/// Exits (through the error) with 7 when the task ends in error or cancelled. `created` is the
/// task just created by `task create --wait`: it is announced first (`created task …`).
pub async fn watch(client: &Client, task: Uuid, json: bool, created: Option<&Value>) -> CliResult<()> {
    let mut reporter = Reporter::new(json);
    match (&reporter, created) {
        (Reporter::Bar(bar), Some(t)) => bar.println(format!("created task {task} ({})", template_of(t))),
        (Reporter::Lines(_), Some(t)) => emit(&format!("created task {task} ({})\n", template_of(t))),
        (Reporter::Bar(bar), None) => {
            // On a terminal, a header names the task (and the first read says at once whether it exists).
            let t = client.get_task(task).await.inspect_err(|_| bar.finish_and_clear())?;
            bar.println(format!("task {task} ({})", template_of(&t)));
        }
        (Reporter::Lines(_) | Reporter::Quiet, None) | (Reporter::Quiet, Some(_)) => {}
    }
    let followed = client.follow_task(task, &mut |p| reporter.update(p)).await;
    if followed.is_err() {
        reporter.abandon();
    }
    followed?;
    let final_task = client.get_task(task).await?;
    if json {
        print_json(&final_task);
    }
    outcome(&final_task)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lines_name_time_state_and_steps() {
        let p = Progress { state: "steps_in_process".into(), done: 2, total: 5 };
        assert_eq!(line("T", &p), "T task steps_in_process 2/5 steps");
    }

    #[test]
    fn final_states_decide_the_exit_code() {
        assert!(outcome(&json!({"state": "complete"})).is_ok());
        assert!(outcome(&json!({"state": "resolved_manually"})).is_ok());
        let e = outcome(&json!({"state": "error", "task_uuid": "t", "last_error": {"message": "boom"}})).err();
        assert_eq!(e.as_ref().map(super::super::error::CliError::exit_code), Some(7));
        assert_eq!(e.map(|e| e.to_string()), Some("task ended in error: task t: boom".into()));
        assert_eq!(outcome(&json!({"state": "cancelled"})).err().map(|e| e.exit_code()), Some(7));
    }

    #[test]
    fn progress_is_read_from_a_task() {
        let t = json!({"state": "complete", "steps_total": 4, "step_counts": {"complete": 3, "resolved_manually": 1}});
        let p = Progress::of_task(&t);
        assert_eq!((p.done, p.total, p.is_final()), (4, 4, true));
    }
}
