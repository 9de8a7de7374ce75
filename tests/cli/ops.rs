//! `tasker retry`, `tasker dlq …`, `tasker health` and `tasker completions` over REST, with a
//! failing template registered through the CLI.

use serde_json::json;

use crate::support::{tasker, temp_file, Env, WITH_WORKER};

/// A one-step template whose step always fails.
const FAILING: &str = "\
namespace: demo
name: cli_always_fails
version: 1.0.0
description: One step that fails permanently.
steps:
  - name: fail
    handler: fail_permanently
    retry: { max_attempts: 1 }
";

#[tokio::test]
async fn a_failing_task_exits_7_and_lands_in_the_dlq() {
    let env = Env::start(WITH_WORKER).await;
    let file = temp_file("failing.yaml", FAILING);
    let out = env.rest(&["template", "register", &file.display().to_string()]).await;
    assert_eq!(out.ok(), "registered template demo/cli_always_fails@1.0.0 (1 steps)\n");

    // --wait and watch both end with 7 and say why on stderr.
    let out = env.rest(&["task", "create", "demo/cli_always_fails", "--wait"]).await;
    out.code(7).error_mentions("error: task ended in error: task ");
    assert!(out.stdout.lines().last().is_some_and(|l| l.ends_with("task error 0/1 steps")), "{}", out.stdout);
    let task = out.stdout.lines().next().and_then(|l| l.split(' ').nth(2)).unwrap_or_default().to_string();
    let watch = env.rest(&["task", "watch", &task]).await;
    watch.code(7);
    assert_eq!(watch.stdout.lines().count(), 1, "{}", watch.stdout);
    let watch = env.rest(&["--json", "task", "watch", &task]).await;
    assert_eq!(
        watch.code(7).stdout.parse::<serde_json::Value>().ok(),
        Some(env.get(&format!("/v1/tasks/{task}")).await)
    );

    // Retry, dry run: what the API answers, and nothing changes.
    let filter = json!({"namespace": "demo", "name": "cli_always_fails", "dry_run": true});
    let args = ["retry", "--namespace", "demo", "--name", "cli_always_fails", "--since", "1h", "--dry-run", "--json"];
    let dry = env.rest(&args).await.json();
    assert_eq!(dry, env.post("/v1/retries", &filter).await);
    assert_eq!((dry["dry_run"].as_bool(), dry["count"].as_u64()), (Some(true), Some(1)));
    assert_eq!(dry["steps"][0]["step_name"], "fail");
    let human = env.rest(&["retry", "--name", "cli_always_fails", "--error-contains", "BY DESIGN", "--dry-run"]).await;
    let text = human.ok();
    assert!(text.starts_with("dry run: 1 failed step(s) would be reset\nTASK "), "{text}");
    assert!(text.contains(&task) && text.contains("demo/cli_always_fails"), "{text}");
    let old =
        ["retry", "--name", "cli_always_fails", "--since", "2000-01-01T00:00:00Z", "--until", "2001-01-01T00:00:00Z"];
    let none = env.rest(&[&old[..], &["--dry-run"]].concat()).await;
    assert_eq!(none.ok(), "dry run: 0 failed step(s) would be reset\n");
    assert_eq!(env.get(&format!("/v1/tasks/{task}")).await["state"], "error");

    // The DLQ has the task.
    let list = env.rest(&["dlq", "list", "--json"]).await.json();
    assert_eq!(list, env.get("/v1/dlq").await);
    let entry = list["items"].as_array().and_then(|a| a.iter().find(|e| e["task_uuid"] == task.as_str())).cloned();
    let id = entry.as_ref().and_then(|e| e["id"].as_i64()).expect("a DLQ entry for the task").to_string();
    let table = env.rest(&["dlq", "list", "--status", "pending", "--namespace", "demo"]).await;
    assert!(
        table.ok().lines().any(|l| l.starts_with(&id) && l.contains(&task) && l.contains("fail")),
        "{}",
        table.stdout
    );
    assert_eq!(
        env.rest(&["dlq", "show", &task, "--json"]).await.json(),
        env.get(&format!("/v1/dlq/task/{task}")).await
    );
    assert!(env.rest(&["dlq", "show", &task]).await.ok().contains("failed steps"));
    // The age of the oldest entry moves on between two reads: compare the rest.
    let without_age = |mut v: serde_json::Value| {
        assert!(v["oldest_open_age_seconds"].as_f64().is_some_and(|a| a >= 0.0), "{v}");
        v.as_object_mut().map(|o| o.remove("oldest_open_age_seconds"));
        v
    };
    let stats = without_age(env.rest(&["dlq", "stats", "--json"]).await.json());
    assert_eq!(stats, without_age(env.get("/v1/dlq/stats").await));
    assert!(stats["total"].as_i64().is_some_and(|n| n >= 1), "{stats}");
    assert!(env.rest(&["dlq", "stats"]).await.ok().contains("pending"));

    let updated = env
        .rest(&["dlq", "update", &id, "--status", "investigating", "--notes", "looking", "--by", "cli-test", "--json"])
        .await
        .json();
    assert_eq!(
        (updated["resolution_status"].as_str(), updated["resolved_by"].as_str()),
        (Some("investigating"), Some("cli-test"))
    );
    let human = env.rest(&["dlq", "update", &id, "--notes", "still looking"]).await;
    assert!(human.ok().lines().any(|l| l.starts_with("status") && l.ends_with("investigating")), "{}", human.stdout);
    env.rest(&["dlq", "update", &id, "--status", "nonsense"]).await.code(4);
    env.rest(&["dlq", "update", "999999", "--notes", "x"]).await.code(3);
    let other = uuid::Uuid::now_v7().to_string();
    env.rest(&["dlq", "show", &other]).await.code(3);

    // A real retry resets the step (which then fails again).
    let done = env.rest(&["retry", "--task", &task, "--step", "fail", "--reason", "try again"]).await;
    assert!(done.ok().starts_with("1 failed step(s) reset for retry\n"), "{}", done.stdout);
}

#[tokio::test]
async fn health_and_completions() {
    let env = Env::start(&[]).await;
    let health = env.rest(&["health", "--json"]).await.json();
    let rest = env.get("/health/detailed").await;
    assert_eq!(health["status"], "healthy");
    let keys = |v: &serde_json::Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
    assert_eq!(keys(&health), keys(&rest));
    assert_eq!(health["checks"], rest["checks"]);
    let text = env.rest(&["health"]).await;
    let out = text.ok();
    assert!(out.starts_with("status ") && out.contains("healthy") && out.contains("CHECK"), "{out}");

    let bash = tasker(&["completions", "bash"]).await;
    assert!(bash.ok().contains("task") && bash.stdout.contains("tasker"), "{}", bash.stdout);
    for shell in ["zsh", "fish"] {
        assert!(!tasker(&["completions", shell]).await.ok().is_empty());
    }
    tasker(&["completions", "tcsh"]).await.code(2);
}
