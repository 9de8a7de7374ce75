//! `tasker step …` over REST: steps by uuid or by name, operator actions, history.

use serde_json::json;

use crate::support::{Env, WITH_WORKER};

#[tokio::test]
async fn steps_are_listed_and_read_by_name_or_uuid() {
    let env = Env::start(WITH_WORKER).await;
    let task = env.create("demo", "diamond", json!({})).await;
    env.wait_for_state(&task, "complete").await;
    let start = env.step_uuid(&task, "start").await;

    let list = env.rest(&["step", "list", &task, "--json"]).await.json();
    assert_eq!(list, env.get(&format!("/v1/tasks/{task}/workflow_steps")).await);
    let table = env.rest(&["step", "list", &task]).await;
    let text = table.ok();
    assert!(text.starts_with("STEP "), "{text}");
    assert!(text.lines().any(|l| l.starts_with(&start) && l.contains(" start ") && l.contains("complete")), "{text}");
    assert!(text.lines().any(|l| l.contains(" finish ") && l.contains("left, right")), "{text}");

    let rest = env.get(&format!("/v1/tasks/{task}/workflow_steps/{start}")).await;
    assert_eq!(env.rest(&["step", "get", &task, "start", "--json"]).await.json(), rest);
    assert_eq!(env.rest(&["step", "get", &task, &start, "--json"]).await.json(), rest);
    let view = env.rest(&["step", "get", &task, "finish"]).await;
    let text = view.ok();
    assert!(text.contains("depends on") && text.contains("left, right") && text.contains("results"), "{text}");

    let history = env.rest(&["step", "history", &task, "start", "--json"]).await.json();
    assert_eq!(history, env.get(&format!("/v1/tasks/{task}/workflow_steps/{start}/transitions")).await);
    assert!(history.as_array().is_some_and(|h| h.last().is_some_and(|t| t["to_state"] == "complete")), "{history}");
    let table = env.rest(&["step", "history", &task, "start"]).await;
    assert!(table.ok().starts_with("ID "), "{}", table.stdout);
    assert!(table.stdout.lines().any(|l| l.contains("in_progress") && l.contains("complete")), "{}", table.stdout);

    // An unknown step name is not found, and the error names the steps there are.
    env.rest(&["step", "get", &task, "nope"]).await.code(3).error_mentions("steps: start, left, right, finish");
    let random = uuid::Uuid::now_v7().to_string();
    env.rest(&["step", "get", &task, &random]).await.code(3).error_mentions("error: Not Found: ");
}

#[tokio::test]
async fn operators_resolve_complete_and_reset_failed_steps() {
    let env = Env::start(WITH_WORKER).await;
    let doomed = [
        env.create("demo", "doomed", json!({})).await,
        env.create("demo", "doomed", json!({})).await,
        env.create("demo", "doomed", json!({})).await,
    ];
    for t in &doomed {
        env.wait_for_state(t, "error").await;
    }

    // complete_manually with a result: the step is complete, the task goes on to the end.
    let step = env
        .rest(&[
            "--json",
            "step",
            "complete",
            &doomed[0],
            "explode",
            "--result",
            r#"{"fixed": true}"#,
            "--reason",
            "by hand",
        ])
        .await
        .json();
    assert_eq!((step["name"].as_str(), step["state"].as_str()), (Some("explode"), Some("complete")));
    assert_eq!(step["results"], json!({"fixed": true}));
    env.wait_for_state(&doomed[0], "complete").await;
    let history = env.rest(&["step", "history", &doomed[0], "explode", "--json"]).await.json();
    let last = history.as_array().and_then(|h| h.last()).cloned().unwrap_or_default();
    assert_eq!((last["to_state"].as_str(), last["event"].as_str()), (Some("complete"), Some("complete_manually")));

    // resolve_manually: human output is the step afterwards.
    let out = env.rest(&["step", "resolve", &doomed[1], "explode", "--reason", "not needed"]).await;
    assert!(out.ok().lines().any(|l| l.starts_with("state") && l.ends_with("resolved_manually")), "{}", out.stdout);
    env.wait_for_state(&doomed[1], "complete").await;

    // reset_for_retry: back to pending (the worker may already have claimed it again when the
    // answer is read, so the history says what happened).
    let step = env.rest(&["--json", "step", "reset", &doomed[2], "explode", "--reason", "again"]).await.json();
    assert_eq!(step["name"], "explode");
    let history = env.rest(&["step", "history", &doomed[2], "explode", "--json"]).await.json();
    let reset = history.as_array().and_then(|h| h.iter().find(|t| t["event"] == "reset")).cloned().unwrap_or_default();
    assert_eq!(
        (reset["from_state"].as_str(), reset["to_state"].as_str()),
        (Some("error"), Some("pending")),
        "{history}"
    );

    // Operator errors: bad --result is invalid input before anything is sent; a complete step
    // cannot be completed again (409).
    env.rest(&["step", "complete", &doomed[0], "explode", "--result", "{broken"])
        .await
        .code(4)
        .error_mentions("invalid --result");
    env.rest(&["step", "complete", &doomed[0], "prepare"]).await.code(4).error_mentions("Conflict");
}
