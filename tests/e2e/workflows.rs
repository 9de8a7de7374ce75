//! Workflows run end to end: a `tasker-server` process, `tasker-worker` processes, tasks created
//! over REST, outcomes read from the engine's views and the workers' execution audit.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use tasker_orchestration::testing::test_db;

use crate::support::*;

#[tokio::test]
async fn example_templates_complete_through_a_server_and_two_workers() {
    let scratch = Scratch::new("examples");
    let db = test_db().await;
    let server = ServerProcess::start(&scratch, "server", &db.url).await;
    let mut workers = Vec::new();
    for id in ["w1", "w2"] {
        // A small concurrency so that neither worker can hold the whole fan-out alone.
        let opts = WorkerOptions { concurrency: 4, ..WorkerOptions::new(id) };
        workers.push(WorkerProcess::start(&scratch, opts, &db.worker_url(&["*"]).await));
    }

    let order_context = json!({
        "order_id": "A-1",
        "customer_email": "a@example.com",
        "items": [{"sku": "X", "quantity": 2}, {"sku": "Y", "quantity": 1, "price_cents": 250}],
    });
    let linear = server.api.create_task("demo", "linear", json!({})).await;
    let diamond = server.api.create_task("demo", "diamond", json!({})).await;
    let fan_out = server.api.create_task("demo", "fan_out", json!({})).await;
    let order = server.api.create_task("orders", "order_fulfillment", order_context).await;
    let all = [linear, diamond, fan_out, order];

    wait_for_tasks(&db.pool, &all, "complete").await;
    for w in &mut workers {
        w.assert_running();
    }

    // The REST view agrees: every step complete.
    for (task, steps_total) in [(linear, 10), (diamond, 4), (fan_out, 102), (order, 5)] {
        let t = server.api.get_task(task).await;
        assert_eq!(t["state"], "complete", "{t}");
        assert_eq!(t["steps_total"], steps_total, "{t}");
        assert_eq!(t["step_counts"]["complete"], steps_total, "{t}");
    }

    // Parents' results reach their children: each order step builds on what its parents returned.
    let results: HashMap<String, Value> =
        steps(&db.pool, order).await.into_iter().map(|s| (s.step_name, s.results.unwrap_or(Value::Null))).collect();
    assert_eq!(results["validate_order"]["order_id"], "A-1", "{results:?}");
    assert_eq!(results["validate_order"]["amount_cents"], 2250, "{results:?}");
    assert_eq!(results["reserve_inventory"]["reservation_id"], "RES-A-1", "{results:?}");
    assert_eq!(results["reserve_inventory"]["reserved_quantity"], 3, "{results:?}");
    assert_eq!(results["charge_payment"]["payment_id"], "PAY-A-1", "{results:?}");
    assert_eq!(results["charge_payment"]["amount_cents"], 2250, "{results:?}");
    assert_eq!(results["ship_order"]["tracking_number"], "TRK-RES-A-1-PAY-A-1", "{results:?}");
    assert_eq!(results["notify_customer"]["tracking_number"], "TRK-RES-A-1-PAY-A-1", "{results:?}");
    assert_eq!(results["notify_customer"]["notified"], "a@example.com", "{results:?}");

    // Every step ran after its parents finished.
    let chain = steps(&db.pool, linear).await;
    for pair in chain.windows(2) {
        let (parent, child) = (&pair[0], &pair[1]);
        assert!(
            child.claimed_at >= parent.completed_at,
            "{} claimed at {:?}, before {} completed at {:?}",
            child.step_name,
            child.claimed_at,
            parent.step_name,
            parent.completed_at
        );
    }
    let fan = steps(&db.pool, fan_out).await;
    let join = fan.iter().find(|s| s.step_name == "join").expect("join step");
    let last_work = fan.iter().filter(|s| s.step_name.starts_with("work_")).filter_map(|s| s.completed_at).max();
    assert!(join.claimed_at >= last_work, "join claimed at {:?} before the last work step completed", join.claimed_at);
    let split = fan.iter().find(|s| s.step_name == "split").expect("split step");
    for s in fan.iter().filter(|s| s.step_name.starts_with("work_")) {
        assert!(s.claimed_at >= split.completed_at, "{} claimed before split completed", s.step_name);
    }

    // Every step executed exactly once, and both workers took part.
    let violations = execution_violations(&db.pool, &all).await;
    assert!(violations.is_empty(), "executions per step:\n{}", violations.join("\n"));
    let by_worker: Vec<(String, i64)> = sqlx::query_as(
        "SELECT worker_id, count(*) FROM tasker_audit.step_executions WHERE task_uuid = $1 GROUP BY 1 ORDER BY 1",
    )
    .bind(fan_out)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(by_worker.len(), 2, "fan-out steps per worker: {by_worker:?}");
}

#[tokio::test]
async fn a_flaky_step_is_retried_and_then_succeeds() {
    let scratch = Scratch::new("flaky");
    let db = test_db().await;
    let server = ServerProcess::start(&scratch, "server", &db.url).await;
    let _worker = WorkerProcess::start(&scratch, WorkerOptions::new("w1"), &db.worker_url(&["*"]).await);

    let task = server.api.create_task("demo", "flaky", json!({"fail_times": 1, "ms": 20})).await;
    wait_for_tasks(&db.pool, &[task], "complete").await;

    let unreliable = step(&db.pool, task, "unreliable").await;
    assert_eq!((unreliable.state.as_str(), unreliable.attempts), ("complete", 2), "{unreliable:?}");
    assert_eq!(unreliable.results.as_ref().map(|r| r["attempt"].clone()), Some(json!(2)), "{unreliable:?}");
    let outcomes: Vec<(i32, String)> =
        executions(&db.pool, unreliable.step_uuid).await.into_iter().map(|(a, _, o)| (a, o)).collect();
    assert_eq!(outcomes, vec![(1, "retryable_error".to_string()), (2, "success".to_string())]);

    // The retry went through waiting_for_retry, and the step after it ran once, afterwards.
    let retried: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tasker.workflow_step_transitions WHERE step_uuid = $1 AND to_state = 'waiting_for_retry'",
    )
    .bind(unreliable.step_uuid)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(retried, 1);
    let slow = step(&db.pool, task, "slow").await;
    assert_eq!((slow.state.as_str(), slow.attempts), ("complete", 1), "{slow:?}");
    assert_eq!(slow.results.as_ref().map(|r| r["slept_ms"].clone()), Some(json!(20)), "{slow:?}");
    assert!(slow.claimed_at >= unreliable.completed_at);
    let violations = execution_violations(&db.pool, &[task]).await;
    assert!(violations.is_empty(), "executions per step:\n{}", violations.join("\n"));
}

#[tokio::test]
async fn a_permanent_failure_ends_the_task_in_error_with_a_dlq_entry() {
    let scratch = Scratch::new("doomed");
    let db = test_db().await;
    let server = ServerProcess::start(&scratch, "server", &db.url).await;
    let _worker = WorkerProcess::start(&scratch, WorkerOptions::new("w1"), &db.worker_url(&["*"]).await);

    let task = server.api.create_task("demo", "doomed", json!({})).await;
    wait_for_tasks(&db.pool, &[task], "error").await;

    let rows = steps(&db.pool, task).await;
    let state = |name: &str| rows.iter().find(|s| s.step_name == name).map(|s| (s.state.clone(), s.attempts));
    assert_eq!(state("prepare"), Some(("complete".into(), 1)), "{rows:?}");
    assert_eq!(state("explode"), Some(("error".into(), 1)), "{rows:?}");
    assert_eq!(state("never_runs"), Some(("pending".into(), 0)), "{rows:?}");
    let explode = rows.iter().find(|s| s.step_name == "explode").unwrap();
    assert!(
        explode.last_error_message.as_deref().unwrap_or("").contains("fails permanently"),
        "{:?}",
        explode.last_error_message
    );
    let never_runs = rows.iter().find(|s| s.step_name == "never_runs").unwrap();
    assert_eq!(never_runs.enqueued_at, None, "a child of a failed step must never be dispatched");

    let dlq: Vec<(String, String)> =
        sqlx::query_as("SELECT task_state, resolution_status FROM tasker.dlq_entries WHERE task_uuid = $1")
            .bind(task)
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(dlq, vec![("error".to_string(), "pending".to_string())]);

    let t = server.api.get_task(task).await;
    assert_eq!(t["state"], "error", "{t}");
    assert!(t["last_error"].is_object(), "{t}");
    let violations = execution_violations(&db.pool, &[task]).await;
    assert!(violations.is_empty(), "executions per step:\n{}", violations.join("\n"));
}

#[tokio::test]
async fn cancelling_a_running_task_stops_further_dispatch() {
    let scratch = Scratch::new("cancel");
    let db = test_db().await;
    register_template(&db.pool, sleep_chain("slow_chain", 6, 300)).await;
    let server = ServerProcess::start(&scratch, "server", &db.url).await;
    let _worker = WorkerProcess::start(&scratch, WorkerOptions::new("w1"), &db.worker_url(&["*"]).await);

    let task = server.api.create_task("e2e", "slow_chain", json!({})).await;
    wait_until(
        "s2 to be in progress",
        || async { (step(&db.pool, task, "s2").await.state == "in_progress").then_some(()) },
        || describe_task(&db.pool, task),
    )
    .await;

    let (status, body) = server.api.cancel_task(task, "e2e: cancel mid-flight").await;
    let no_route = status == reqwest::StatusCode::METHOD_NOT_ALLOWED
        || (status == reqwest::StatusCode::NOT_FOUND && body.to_string().contains("no-route"));
    if no_route {
        // A server without the cancel route: the engine call it would make.
        let state: String = sqlx::query_scalar("SELECT tasker.cancel_task($1, $2)")
            .bind(task)
            .bind("e2e: cancel mid-flight")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(state, "cancelled");
    } else {
        assert_eq!(status, reqwest::StatusCode::OK, "DELETE /v1/tasks/{task}: {body}");
        assert_eq!(body["state"], "cancelled", "{body}");
    }

    // Long enough for the running step to finish and report, and for several more steps to
    // have been dispatched had the cancel not stopped them.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    assert_eq!(task_state(&db.pool, task).await, "cancelled", "{}", describe_task(&db.pool, task).await);
    let rows = steps(&db.pool, task).await;
    let states: Vec<(&str, &str)> = rows.iter().map(|s| (s.step_name.as_str(), s.state.as_str())).collect();
    assert_eq!(
        states,
        vec![
            ("s1", "complete"),
            ("s2", "cancelled"),
            ("s3", "cancelled"),
            ("s4", "cancelled"),
            ("s5", "cancelled"),
            ("s6", "cancelled")
        ],
        "the running step's late result must not revive it"
    );

    let cancelled_at: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "SELECT created_at FROM tasker.task_transitions WHERE task_uuid = $1 AND to_state = 'cancelled'",
    )
    .bind(task)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let enqueued_after: Vec<(String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "SELECT s.name, t.created_at FROM tasker.workflow_step_transitions t
           JOIN tasker.workflow_steps s USING (step_uuid)
          WHERE t.task_uuid = $1 AND t.to_state = 'enqueued' AND t.created_at >= $2",
    )
    .bind(task)
    .bind(cancelled_at)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(enqueued_after.is_empty(), "steps enqueued after the cancel at {cancelled_at}: {enqueued_after:?}");
    for s in rows.iter().filter(|s| ["s3", "s4", "s5", "s6"].contains(&s.step_name.as_str())) {
        assert_eq!((s.attempts, s.enqueued_at), (0, None), "{} was dispatched: {s:?}", s.step_name);
        assert!(executions(&db.pool, s.step_uuid).await.is_empty(), "{} was executed", s.step_name);
    }
    // No message for a later step reached the worker queue (s2's own message stays until a
    // worker reads it again and discards it as stale).
    let queued: Vec<String> = sqlx::query_scalar(
        "SELECT message ->> 'step_name' FROM pgmq.q_worker_e2e_queue
          WHERE message ->> 'task_uuid' = $1 AND message ->> 'step_name' <> 's2'",
    )
    .bind(task.to_string())
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(queued.is_empty(), "messages of the cancelled task's later steps queued: {queued:?}");
}
