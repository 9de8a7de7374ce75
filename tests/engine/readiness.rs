//! Readiness and dispatch: which steps reach the namespace queue after each round on the
//! linear, diamond and fan-out examples, the unfinished-parent counters, parents' results
//! handed to children by tasker.claim_steps, and tasker.enqueue_ready_steps' ordering and limit.

use std::collections::BTreeSet;

use serde_json::json;

use crate::support::*;

fn names(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| (*s).to_string()).collect()
}

async fn examples() -> TestDb {
    let db = test_db().await;
    load_examples(&db.pool).await;
    db
}

/// Succeeds with a result naming the step.
fn echo(c: &Claimed) -> Outcome {
    Outcome::Success(json!({"from": c.step_name}))
}

#[tokio::test]
async fn linear_chain_dispatches_one_step_per_round_in_order() {
    let db = examples().await;
    let pool = &db.pool;
    let task = create_task(pool, "demo", "linear", json!({})).await;
    for i in 1..=10 {
        let expected = format!("step_{i:02}");
        assert_eq!(queued_step_names(pool, "demo", task).await, names(&[&expected]), "before round {i}");
        assert_eq!(steps_in(pool, task, "enqueued").await, names(&[&expected]));
        let claimed = round(pool, "demo", None, echo).await;
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].step_name, expected);
    }
    assert!(queue_messages(pool, "demo").await.is_empty());
    assert_eq!(task_state(pool, task).await, "complete");
}

#[tokio::test]
async fn diamond_runs_start_then_both_branches_then_finish() {
    let db = examples().await;
    let pool = &db.pool;
    let task = create_task(pool, "demo", "diamond", json!({})).await;
    let rounds = run_until_idle(pool, "demo", None, echo).await;
    assert_eq!(rounds, vec![vec!["start"], vec!["left", "right"], vec!["finish"]]);
    assert_eq!(task_state(pool, task).await, "complete");
}

#[tokio::test]
async fn join_waits_for_every_parent() {
    let db = examples().await;
    let pool = &db.pool;
    let task = create_task(pool, "demo", "diamond", json!({})).await;
    round(pool, "demo", None, echo).await; // start
    assert_eq!(step(pool, task, "finish").await.parents_pending, 2);
    let claimed = claim(pool, "demo", 10, None).await;
    let left = claimed.iter().find(|c| c.step_name == "left").unwrap();
    assert!(submit(pool, left, &Outcome::ok()).await);
    process(pool, None).await;
    enqueue(pool, 100, None).await;
    let finish = step(pool, task, "finish").await;
    assert_eq!((finish.state.as_str(), finish.parents_pending, finish.ready_at), ("pending", 1, None));
    assert!(!queued_step_names(pool, "demo", task).await.contains("finish"));

    let right = claimed.iter().find(|c| c.step_name == "right").unwrap();
    assert!(submit(pool, right, &Outcome::ok()).await);
    let finish = step(pool, task, "finish").await;
    assert_eq!((finish.state.as_str(), finish.parents_pending), ("enqueued", 0));
    assert_eq!(queued_step_names(pool, "demo", task).await, names(&["finish"]));
}

#[tokio::test]
async fn parents_results_reach_children_through_claim() {
    let db = examples().await;
    let pool = &db.pool;
    let task = create_task(pool, "demo", "diamond", json!({"customer": 42})).await;
    round(pool, "demo", None, echo).await;
    let claimed = round(pool, "demo", None, echo).await;
    assert_eq!(claimed.len(), 2);
    for c in &claimed {
        assert_eq!(c.parent_results, json!({"start": {"from": "start"}}), "{}", c.step_name);
        assert_eq!(c.context, json!({"customer": 42}));
        assert_eq!((c.task_uuid, c.namespace.as_str(), c.task_name.as_str()), (task, "demo", "diamond"));
        assert_eq!((c.handler.as_str(), c.attempt, c.max_attempts, c.timeout_seconds), ("noop", 1, 3, 300));
    }
    let finish = only(claim(pool, "demo", 10, None).await);
    assert_eq!(finish.parent_results, json!({"left": {"from": "left"}, "right": {"from": "right"}}));
}

#[tokio::test]
async fn root_step_has_empty_parent_results_and_its_inputs() {
    let db = test_db().await;
    let pool = &db.pool;
    register(
        pool,
        json!({"namespace": "demo", "name": "inputs", "version": "1",
               "steps": [{"name": "a", "handler": "h", "inputs": {"size": 3}}]}),
    )
    .await;
    create_task(pool, "demo", "inputs", json!({})).await;
    let c = only(claim(pool, "demo", 10, None).await);
    assert_eq!(c.parent_results, json!({}));
    assert_eq!(c.inputs, json!({"size": 3}));
}

#[tokio::test]
async fn fan_out_dispatches_split_then_one_hundred_then_join() {
    let db = examples().await;
    let pool = &db.pool;
    let task = create_task(pool, "demo", "fan_out", json!({})).await;
    assert_eq!(queued_step_names(pool, "demo", task).await, names(&["split"]));

    round(pool, "demo", None, echo).await;
    let queued = queued_step_names(pool, "demo", task).await;
    assert_eq!(queued.len(), 100);
    assert!(queued.iter().all(|n| n.starts_with("work_")));
    assert_eq!(step(pool, task, "join").await.parents_pending, 100);

    // Half of the workers report: the join's counter drops by exactly that many.
    let claimed = claim(pool, "demo", 50, None).await;
    assert_eq!(claimed.len(), 50);
    for c in &claimed {
        assert!(submit(pool, c, &echo(c)).await);
    }
    process(pool, None).await;
    let join = step(pool, task, "join").await;
    assert_eq!((join.state.as_str(), join.parents_pending), ("pending", 50));

    round(pool, "demo", None, echo).await;
    assert_eq!(queued_step_names(pool, "demo", task).await, names(&["join"]));
    let join = only(claim(pool, "demo", 1000, None).await);
    let parents = join.parent_results.as_object().unwrap();
    assert_eq!(parents.len(), 100);
    assert_eq!(parents["work_042"], json!({"from": "work_042"}));
    assert!(submit(pool, &join, &Outcome::ok()).await);
    process(pool, None).await;
    finalize(pool, None).await;
    assert_eq!(task_state(pool, task).await, "complete");
}

#[tokio::test]
async fn each_namespace_has_its_own_queue() {
    let db = examples().await;
    let pool = &db.pool;
    create_task(pool, "orders", "order_fulfillment", json!({"order_id": "1", "items": [{"sku": "s", "quantity": 1}]}))
        .await;
    create_task(pool, "demo", "linear", json!({})).await;
    assert_eq!(queue_messages(pool, "orders").await.len(), 1);
    assert_eq!(queue_messages(pool, "demo").await.len(), 1);
    let c = only(claim(pool, "orders", 10, None).await);
    assert_eq!(c.step_name, "validate_order");
    assert_eq!(queue_messages(pool, "demo").await.len(), 1);
}

#[tokio::test]
async fn dispatch_message_carries_the_step_identity() {
    let db = examples().await;
    let pool = &db.pool;
    let task = create_task(pool, "demo", "linear", json!({})).await;
    let msg: serde_json::Value =
        sqlx::query_scalar("SELECT message FROM pgmq.q_worker_demo_queue").fetch_one(pool).await.unwrap();
    let s = step(pool, task, "step_01").await;
    assert_eq!(
        msg,
        json!({"step_uuid": s.step_uuid, "task_uuid": task, "namespace": "demo", "step_name": "step_01",
               "handler": "noop", "attempt": 1})
    );
}

/// Two tasks of root -> child whose roots were completed by hand: their children are ready but
/// not dispatched.
async fn two_ready_children(pool: &sqlx::PgPool, low: i64, high: i64) -> (uuid::Uuid, uuid::Uuid) {
    register(pool, template("demo", "pair", &[("root", &[]), ("child", &["root"])], json!({}))).await;
    let a = try_create_task(pool, "demo", "pair", json!({"n": 1}), json!({"priority": low})).await.unwrap();
    let b = try_create_task(pool, "demo", "pair", json!({"n": 2}), json!({"priority": high})).await.unwrap();
    for t in [a, b] {
        let root = step(pool, t, "root").await.step_uuid;
        let state: String = sqlx::query_scalar("SELECT tasker.complete_step($1, '{\"v\": 1}')")
            .bind(root)
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(state, "complete");
    }
    (a, b)
}

#[tokio::test]
async fn operator_completed_parent_makes_child_ready_for_the_enqueuer() {
    let db = test_db().await;
    let pool = &db.pool;
    let (a, _) = two_ready_children(pool, 0, 0).await;
    let child = step(pool, a, "child").await;
    assert_eq!((child.state.as_str(), child.parents_pending), ("pending", 0));
    assert!(child.ready_at.is_some());
    assert_eq!(task_state(pool, a).await, "enqueuing_steps");
    let view_ready: bool = sqlx::query_scalar("SELECT ready FROM tasker.step_overview WHERE step_uuid = $1")
        .bind(child.step_uuid)
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(view_ready);

    let sent = enqueue(pool, 100, None).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(step(pool, a, "child").await.state, "enqueued");
    assert_eq!(task_state(pool, a).await, "steps_in_process");
    assert!(enqueue(pool, 100, None).await.is_empty(), "a dispatched step is not dispatched again");
}

#[tokio::test]
async fn enqueue_takes_higher_priority_first_and_respects_the_limit() {
    let db = test_db().await;
    let pool = &db.pool;
    let (low, high) = two_ready_children(pool, 1, 5).await;
    let first = enqueue(pool, 1, None).await;
    assert_eq!(first, vec![step(pool, high, "child").await.step_uuid]);
    assert_eq!(step(pool, low, "child").await.state, "pending");
    let second = enqueue(pool, 1, None).await;
    assert_eq!(second, vec![step(pool, low, "child").await.step_uuid]);
}

#[tokio::test]
async fn enqueue_with_zero_limit_dispatches_nothing() {
    let db = test_db().await;
    let pool = &db.pool;
    let (a, _) = two_ready_children(pool, 0, 0).await;
    let before = queue_messages(pool, "demo").await.len();
    assert!(enqueue(pool, 0, None).await.is_empty());
    assert_eq!(queue_messages(pool, "demo").await.len(), before);
    assert_eq!(step(pool, a, "child").await.state, "pending");
}

#[tokio::test]
async fn step_is_not_ready_before_its_ready_at() {
    let db = test_db().await;
    let pool = &db.pool;
    two_ready_children(pool, 0, 0).await;
    let past = db_now(pool).await - chrono::Duration::seconds(60);
    assert!(enqueue(pool, 100, Some(past)).await.is_empty());
    assert_eq!(enqueue(pool, 100, None).await.len(), 2);
}
