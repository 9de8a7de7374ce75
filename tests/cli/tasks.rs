//! `tasker task …` over REST.

use serde_json::json;

use crate::support::{command, finish, order_context, Env, WITH_WORKER};

#[tokio::test]
async fn create_get_list_and_watch_a_task() {
    let env = Env::start(WITH_WORKER).await;
    let created = env
        .rest(&[
            "--json",
            "task",
            "create",
            "demo/diamond@1.0.0",
            "--context",
            r#"{"n": 1}"#,
            "--idempotency-key",
            "cli-key-1",
            "--tag",
            "cli",
            "--priority",
            "5",
        ])
        .await
        .json();
    assert_eq!((created["namespace"].as_str(), created["name"].as_str()), (Some("demo"), Some("diamond")));
    assert_eq!(created["context"], json!({"n": 1}));
    assert_eq!(created["idempotency_key"], "cli-key-1");
    assert_eq!(created["tags"], json!(["cli"]));
    assert_eq!(created["priority"], 5);
    let uuid = created["task_uuid"].as_str().expect("uuid").to_string();

    // Not a terminal: one plain line per change, the last one final; exit 0.
    let watch = env.rest(&["task", "watch", &uuid]).await;
    let lines: Vec<&str> = watch.ok().lines().collect();
    assert!(!lines.is_empty());
    for l in &lines {
        let parts: Vec<&str> = l.split(' ').collect();
        assert_eq!(parts.len(), 5, "{l}");
        assert!(chrono::DateTime::parse_from_rfc3339(parts[0]).is_ok(), "{l}");
        assert_eq!((parts[1], parts[4]), ("task", "steps"), "{l}");
        assert!(parts[3].ends_with("/4"), "{l}");
    }
    assert!(lines.last().is_some_and(|l| l.ends_with(" task complete 4/4 steps")), "{lines:?}");

    // A complete task cannot be cancelled: 409, invalid input.
    env.rest(&["task", "cancel", &uuid]).await.code(4).error_mentions("error: Conflict: ");

    // --json is the API's JSON.
    let rest = env.get(&format!("/v1/tasks/{uuid}")).await;
    assert_eq!(env.rest(&["task", "get", &uuid, "--json"]).await.json(), rest);
    let human = env.rest(&["task", "get", &uuid]).await;
    let text = human.ok();
    assert!(text.contains(&uuid) && text.contains("demo/diamond@1.0.0") && text.contains("4/4 done"), "{text}");

    let list = env.rest(&["task", "list", "--namespace", "demo", "--limit", "10", "--json"]).await.json();
    assert_eq!(list, env.get("/v1/tasks?namespace=demo&limit=10").await);
    assert!(list["items"].as_array().is_some_and(|a| a.iter().any(|t| t["task_uuid"] == uuid.as_str())));
    let table = env.rest(&["task", "list", "--state", "complete"]).await;
    let text = table.ok();
    assert!(text.starts_with("TASK "), "{text}");
    assert!(text.lines().any(|l| l.starts_with(&uuid) && l.contains("complete") && l.contains("4/4")), "{text}");
    let empty = env.rest(&["task", "list", "--namespace", "nothing_here"]).await;
    assert_eq!(empty.ok(), "no tasks\n");

    // Paging: the cursor of page one gives page two.
    env.rest(&["task", "create", "demo/linear"]).await.ok();
    let page1 = env.rest(&["task", "list", "--limit", "1", "--json"]).await.json();
    let cursor = page1["next_cursor"].as_str().expect("a next page").to_string();
    let page2 = env.rest(&["task", "list", "--limit", "1", "--cursor", &cursor, "--json"]).await.json();
    assert_ne!(page1["items"][0]["task_uuid"], page2["items"][0]["task_uuid"]);
    assert!(env.rest(&["task", "list", "--limit", "1"]).await.ok().contains(&format!("next page: --cursor {cursor}")));

    // The same key with another request is refused: invalid input.
    env.rest(&["task", "create", "demo/diamond", "--context", r#"{"n": 2}"#, "--idempotency-key", "cli-key-1"])
        .await
        .code(4)
        .error_mentions("error: Conflict: ");
}

#[tokio::test]
async fn create_wait_follows_to_the_end() {
    let env = Env::start(WITH_WORKER).await;
    let ctx = order_context().to_string();
    let out = env.rest(&["task", "create", "orders/order_fulfillment", "--context", &ctx, "--wait"]).await;
    let text = out.ok();
    let first = text.lines().next().unwrap_or("");
    assert!(first.starts_with("created task ") && first.ends_with("(orders/order_fulfillment@1.0.0)"), "{text}");
    assert!(text.lines().last().is_some_and(|l| l.ends_with("task complete 5/5 steps")), "{text}");

    // With --json, only the final task is printed.
    let task = env.rest(&["--json", "task", "create", "demo/diamond", "--wait"]).await.json();
    assert_eq!(task["state"], "complete");
    assert_eq!(task, env.get(&format!("/v1/tasks/{}", task["task_uuid"].as_str().unwrap_or(""))).await);

    // The context from a file.
    let path = crate::support::temp_file("ctx.json", &ctx);
    let arg = format!("@{}", path.display());
    let task = env.rest(&["--json", "task", "create", "orders/order_fulfillment", "--context", &arg]).await;
    assert_eq!(task.json()["context"], order_context());
}

#[tokio::test]
async fn cancel_ends_a_watch_with_exit_7() {
    // No worker: the task waits for one, so it can be cancelled while watched.
    let env = Env::start(&[]).await;
    let uuid = env.create("demo", "diamond", json!({})).await;
    let url = env.ts.rest_url();
    let watcher = command(&["--url", &url, "task", "watch", &uuid], &[]).spawn().expect("spawn watch");
    let cancelled = env.rest(&["--json", "task", "cancel", &uuid, "--reason", "from the cli"]).await.json();
    assert_eq!(cancelled["state"], "cancelled");
    assert_eq!(cancelled, env.get(&format!("/v1/tasks/{uuid}")).await);
    let out = finish(watcher).await;
    out.code(7).error_mentions("error: task was cancelled: task ");
    assert!(out.stdout.lines().last().is_some_and(|l| l.ends_with("task cancelled 0/4 steps")), "{}", out.stdout);

    // Cancelling again is harmless. Human output of cancel.
    env.rest(&["task", "cancel", &uuid]).await.code(0);
    let other = env.create("demo", "linear", json!({})).await;
    let text = env.rest(&["task", "cancel", &other]).await;
    assert!(text.ok().lines().any(|l| l.starts_with("state") && l.ends_with("cancelled")), "{}", text.stdout);
}

#[tokio::test]
async fn graph_draws_the_dag_in_three_formats() {
    let env = Env::start(WITH_WORKER).await;
    let uuid = env.create("orders", "order_fulfillment", order_context()).await;
    env.wait_for_state(&uuid, "complete").await;

    let text = env.rest(&["task", "graph", &uuid]).await;
    let expected = format!(
        "task {uuid} (orders/order_fulfillment@1.0.0) complete
validate_order [complete]
├── reserve_inventory [complete]
│   └── ship_order [complete]
│       └── notify_customer [complete]
└── charge_payment [complete]
    └── ship_order (see above)
"
    );
    assert_eq!(text.ok(), expected);

    let mermaid = env.rest(&["task", "graph", &uuid, "--format", "mermaid"]).await;
    let m = mermaid.ok();
    assert!(m.starts_with("flowchart TD\n"), "{m}");
    for step in ["validate_order", "reserve_inventory", "charge_payment", "ship_order", "notify_customer"] {
        assert!(m.contains(&format!("    {step}[\"{step}<br/>complete\"]:::complete\n")), "{step}: {m}");
    }
    let edges: Vec<&str> = m.lines().filter(|l| l.contains("-->")).map(str::trim).collect();
    assert_eq!(
        edges,
        [
            "validate_order --> reserve_inventory",
            "validate_order --> charge_payment",
            "reserve_inventory --> ship_order",
            "charge_payment --> ship_order",
            "ship_order --> notify_customer",
        ]
    );

    let dot = env.rest(&["task", "graph", &uuid, "--format", "dot"]).await;
    let d = dot.ok();
    assert!(d.starts_with(&format!("digraph \"task {uuid}\" {{\n")) && d.ends_with("}\n"), "{d}");
    assert_eq!(d.matches("[label=").count(), 5, "{d}");
    assert!(d.contains("    ship_order [label=\"ship_order\\ncomplete\""), "{d}");
    let edges: Vec<&str> = d.lines().filter(|l| l.contains(" -> ")).map(str::trim).collect();
    assert_eq!(edges.len(), 5, "{d}");
    assert!(edges.contains(&"charge_payment -> ship_order;") && edges.contains(&"ship_order -> notify_customer;"));

    // --json: the steps the graph is drawn from, as the API returns them.
    let json = env.rest(&["task", "graph", &uuid, "--json"]).await.json();
    assert_eq!(json, env.get(&format!("/v1/tasks/{uuid}/workflow_steps")).await);
}
