//! The main commands over gRPC (`--grpc`): the same JSON as REST, the same exit codes.

use serde_json::json;

use crate::support::{command, finish, Env, WITH_WORKER};

#[tokio::test]
async fn tasks_and_steps_over_grpc_match_rest() {
    let env = Env::start(WITH_WORKER).await;
    let created = env
        .grpc(&[
            "--json",
            "task",
            "create",
            "demo/diamond",
            "--context",
            r#"{"n": 1, "f": 1.5}"#,
            "--idempotency-key",
            "g1",
            "--tag",
            "grpc",
        ])
        .await
        .json();
    assert_eq!(created["context"], json!({"n": 1, "f": 1.5}));
    assert_eq!((created["idempotency_key"].as_str(), created["tags"][0].as_str()), (Some("g1"), Some("grpc")));
    let uuid = created["task_uuid"].as_str().expect("uuid").to_string();

    // watch over StreamTaskStatus: plain lines, exit 0.
    let watch = env.grpc(&["task", "watch", &uuid]).await;
    assert!(watch.ok().lines().last().is_some_and(|l| l.ends_with(" task complete 4/4 steps")), "{}", watch.stdout);
    for l in watch.stdout.lines() {
        assert!(l.split(' ').nth(1) == Some("task") && l.ends_with(" steps"), "{l}");
    }

    // get, list and step list print what REST returns for the same resources.
    let rest_task = env.get(&format!("/v1/tasks/{uuid}")).await;
    assert_eq!(env.grpc(&["--json", "task", "get", &uuid]).await.json(), rest_task);
    let list = env.grpc(&["--json", "task", "list", "--namespace", "demo", "--limit", "5"]).await.json();
    assert_eq!(list, env.get("/v1/tasks?namespace=demo&limit=5").await);
    let steps = env.grpc(&["--json", "step", "list", &uuid]).await.json();
    assert_eq!(steps, env.get(&format!("/v1/tasks/{uuid}/workflow_steps")).await);
    let start = env.grpc(&["--json", "step", "get", &uuid, "start"]).await.json();
    assert_eq!(
        start,
        env.get(&format!("/v1/tasks/{uuid}/workflow_steps/{}", env.step_uuid(&uuid, "start").await)).await
    );
    let history = env.grpc(&["--json", "step", "history", &uuid, "finish"]).await.json();
    assert!(history.as_array().is_some_and(|h| h.len() >= 3), "{history}");
    let graph = env.grpc(&["task", "graph", &uuid]).await;
    assert!(graph.ok().contains("└── finish (see above)"), "{}", graph.stdout);
    assert!(env.grpc(&["task", "get", &uuid]).await.ok().contains("4/4 done"));

    // --wait over gRPC, and templates.
    let waited = env.grpc(&["--json", "task", "create", "demo/linear", "--wait"]).await.json();
    assert_eq!(waited["state"], "complete");
    let tpl = env.grpc(&["--json", "template", "show", "demo/diamond"]).await.json();
    assert_eq!(tpl, env.get("/v1/templates/demo/diamond/1.0.0").await);
    assert_eq!(env.grpc(&["--json", "template", "list"]).await.json(), env.get("/v1/templates").await);

    // Errors carry the status code's name and the same exit codes.
    let random = uuid::Uuid::now_v7().to_string();
    env.grpc(&["task", "get", &random]).await.code(3).error_mentions("error: NOT_FOUND: ");
    env.grpc(&["task", "create", "demo/nope"]).await.code(3).error_mentions("NOT_FOUND");
    env.grpc(&["task", "create", "demo/diamond", "--context", r#"{"n": 2}"#, "--idempotency-key", "g1"])
        .await
        .code(4)
        .error_mentions("ALREADY_EXISTS");
}

#[tokio::test]
async fn cancel_watch_dlq_and_health_over_grpc() {
    let env = Env::start(&[]).await;
    let uuid = env.create("demo", "diamond", json!({})).await;
    let grpc = env.ts.grpc_url();
    let watcher = command(&["--grpc", &grpc, "task", "watch", &uuid], &[]).spawn().expect("spawn watch");
    let cancelled = env.grpc(&["--json", "task", "cancel", &uuid, "--reason", "grpc"]).await.json();
    assert_eq!(cancelled["state"], "cancelled");
    assert_eq!(cancelled, env.get(&format!("/v1/tasks/{uuid}")).await);
    let out = finish(watcher).await;
    out.code(7).error_mentions("task was cancelled");
    assert!(out.stdout.lines().last().is_some_and(|l| l.ends_with("task cancelled 0/4 steps")), "{}", out.stdout);
    assert!(env.grpc(&["task", "cancel", &uuid]).await.ok().contains("cancelled"));

    let health = env.grpc(&["--json", "health"]).await.json();
    assert_eq!(health["status"], "healthy");
    let rest = env.get("/health/detailed").await;
    assert_eq!(health["checks"], rest["checks"]);
    // Counters move between two reads; the actors, their intake and the fields are the same.
    let shape = |h: &serde_json::Value| -> Vec<(String, String, Vec<String>)> {
        let actors = h["actors"].as_array().cloned().unwrap_or_default();
        actors
            .iter()
            .map(|a| {
                let keys = a.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
                (a["name"].to_string(), a["intake"].to_string(), keys)
            })
            .collect()
    };
    assert!(!shape(&rest).is_empty());
    assert_eq!(shape(&health), shape(&rest));
    assert!(env.grpc(&["health"]).await.ok().contains("healthy"));

    assert_eq!(env.grpc(&["--json", "dlq", "stats"]).await.json(), env.get("/v1/dlq/stats").await);
    assert_eq!(env.grpc(&["--json", "dlq", "list"]).await.json(), env.get("/v1/dlq").await);
    let dry = env.grpc(&["--json", "retry", "--namespace", "demo", "--dry-run"]).await.json();
    assert_eq!(dry, env.post("/v1/retries", &json!({"namespace": "demo", "dry_run": true})).await);
}
