//! tasker.create_task: request validation (TK002 / TK004, nothing written), what a new task
//! looks like, and the idempotency key (same request -> same task; different -> TK005).

use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::*;

/// Counts of everything create_task writes.
async fn written(pool: &PgPool) -> [i64; 6] {
    [
        count(pool, "SELECT count(*) FROM tasker.tasks").await,
        count(pool, "SELECT count(*) FROM tasker.workflow_steps").await,
        count(pool, "SELECT count(*) FROM tasker.workflow_step_edges").await,
        count(pool, "SELECT count(*) FROM tasker.task_transitions").await,
        count(pool, "SELECT count(*) FROM tasker.workflow_step_transitions").await,
        count(pool, "SELECT count(*) FROM pgmq.q_worker_orders_queue").await
            + count(pool, "SELECT count(*) FROM pgmq.q_worker_demo_queue").await,
    ]
}

fn order() -> Value {
    json!({"order_id": "o-1", "customer_email": "a@example.com", "items": [{"sku": "x", "quantity": 2}]})
}

/// Calls create_task on orders/order_fulfillment, expects `code`, checks nothing was written.
async fn refused(pool: &PgPool, context: Value, options: Value, code: &str) -> String {
    let before = written(pool).await;
    let msg = expect_sqlstate(try_create_task(pool, "orders", "order_fulfillment", context, options).await, code);
    assert_eq!(written(pool).await, before, "create_task wrote something before failing: {msg}");
    msg
}

async fn examples() -> TestDb {
    let db = test_db().await;
    load_examples(&db.pool).await;
    db
}

#[tokio::test]
async fn new_task_has_its_steps_edges_and_roots_dispatched() {
    let db = examples().await;
    let pool = &db.pool;
    let task = create_task(pool, "orders", "order_fulfillment", order()).await;
    assert_eq!(task_state(pool, task).await, "steps_in_process");
    let path: Vec<String> = task_history(pool, task).await.into_iter().map(|h| h.1).collect();
    assert_eq!(path, vec!["pending", "initializing", "enqueuing_steps", "steps_in_process"]);
    assert_eq!(count(pool, "SELECT count(*) FROM tasker.workflow_steps").await, 5);
    assert_eq!(count(pool, "SELECT count(*) FROM tasker.workflow_step_edges").await, 5);
    let states = step_states(pool, task).await;
    assert_eq!(states["validate_order"], "enqueued");
    assert_eq!(steps_in(pool, task, "pending").await.len(), 4);
    let ship = step(pool, task, "ship_order").await;
    assert_eq!((ship.parents_total, ship.parents_pending, ship.ready_at), (2, 2, None));
    let reserve = step(pool, task, "reserve_inventory").await;
    assert_eq!(reserve.max_attempts, 5);
    let msgs = queue_messages(pool, "orders").await;
    assert_eq!(msgs.len(), 1);
    assert_eq!((msgs[0].step_name.as_str(), msgs[0].attempt, msgs[0].task_uuid), ("validate_order", 1, task));
}

#[tokio::test]
async fn options_are_stored_on_the_task() {
    let db = examples().await;
    let pool = &db.pool;
    let corr = uuid::Uuid::now_v7();
    let task = try_create_task(
        pool,
        "demo",
        "linear",
        json!({}),
        json!({"priority": 7, "tags": ["a", "b"], "initiator": "me", "source_system": "tests",
               "reason": "because", "correlation_id": corr}),
    )
    .await
    .unwrap();
    let row: (i32, Vec<String>, Option<String>, Option<String>, Option<String>, uuid::Uuid) = sqlx::query_as(
        "SELECT priority, tags, initiator, source_system, reason, correlation_id FROM tasker.tasks WHERE task_uuid = $1",
    )
    .bind(task)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        row,
        (7, vec!["a".into(), "b".into()], Some("me".into()), Some("tests".into()), Some("because".into()), corr)
    );
    assert_eq!(step(pool, task, "step_05").await.state, "pending");
}

#[tokio::test]
async fn unknown_template_raises_tk002() {
    let db = examples().await;
    let pool = &db.pool;
    let msg = expect_sqlstate(try_create_task(pool, "orders", "nope", json!({}), json!({})).await, "TK002");
    assert!(msg.contains("unknown task template orders/nope/latest"), "{msg}");
    assert_eq!(count(pool, "SELECT count(*) FROM tasker.tasks").await, 0);
}

#[tokio::test]
async fn unknown_template_version_raises_tk002() {
    let db = examples().await;
    let res: Result<uuid::Uuid, _> =
        sqlx::query_scalar("SELECT tasker.create_task('demo', 'linear', '9.9.9', '{}', '{}')")
            .fetch_one(&db.pool)
            .await;
    let msg = expect_sqlstate(res, "TK002");
    assert!(msg.contains("demo/linear/9.9.9"), "{msg}");
}

#[tokio::test]
async fn context_that_is_not_an_object_raises_tk004() {
    let db = examples().await;
    for ctx in [json!([1]), json!("text"), json!(3), Value::Null] {
        let msg = refused(&db.pool, ctx.clone(), json!({}), "TK004").await;
        assert!(msg.contains("task context must be a JSON object"), "{ctx}: {msg}");
    }
}

#[tokio::test]
async fn context_failing_input_schema_raises_tk004_naming_the_path() {
    let db = examples().await;
    let msg = refused(&db.pool, json!({"order_id": 5}), json!({}), "TK004").await;
    assert!(msg.contains("input_schema of orders/order_fulfillment/1.0.0"), "{msg}");
    assert!(msg.contains("$.order_id: expected string, got number"), "{msg}");

    let msg =
        refused(&db.pool, json!({"items": [{"sku": "x"}, {"sku": "y", "quantity": 0}]}), json!({}), "TK004").await;
    assert!(msg.contains("$.items[0]: missing required property 'quantity'"), "{msg}");
    assert!(msg.contains("$.items[1].quantity: less than minimum 1"), "{msg}");
}

#[tokio::test]
async fn context_matching_input_schema_is_accepted() {
    let db = examples().await;
    let task = try_create_task(&db.pool, "orders", "order_fulfillment", order(), json!({})).await.unwrap();
    let ctx: Value = sqlx::query_scalar("SELECT context FROM tasker.tasks WHERE task_uuid = $1")
        .bind(task)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(ctx, order());
}

#[tokio::test]
async fn unknown_option_raises_tk004() {
    let db = examples().await;
    let msg = refused(&db.pool, order(), json!({"priorty": 3}), "TK004").await;
    assert!(msg.contains("unknown option 'priorty'"), "{msg}");
}

#[tokio::test]
async fn mistyped_options_raise_tk004() {
    let db = examples().await;
    for (opts, text) in [
        (json!({"priority": "high"}), "priority must be an integer"),
        (json!({"priority": 1.5}), "priority must be an integer"),
        (json!({"tags": "a"}), "tags must be a list of strings"),
        (json!({"tags": [1]}), "tags must be a list of strings"),
        (json!({"initiator": 5}), "option initiator must be a string"),
        (json!({"idempotency_key": ""}), "idempotency_key must be 1 to 255 characters"),
        (json!({"correlation_id": "not-a-uuid"}), "correlation_id must be a UUID"),
        (json!([1]), "options must be a JSON object"),
    ] {
        let msg = refused(&db.pool, order(), opts.clone(), "TK004").await;
        assert!(msg.contains(text), "{opts}: {msg}");
    }
}

#[tokio::test]
async fn same_idempotency_key_and_request_returns_the_same_task() {
    let db = examples().await;
    let pool = &db.pool;
    let opts = json!({"idempotency_key": "order-o-1", "priority": 2});
    let first = try_create_task(pool, "orders", "order_fulfillment", order(), opts.clone()).await.unwrap();
    let before = written(pool).await;
    let second = try_create_task(pool, "orders", "order_fulfillment", order(), opts).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(written(pool).await, before, "the repeated request created something");
}

#[tokio::test]
async fn same_idempotency_key_with_different_context_raises_tk005() {
    let db = examples().await;
    let pool = &db.pool;
    let opts = json!({"idempotency_key": "order-o-1"});
    let first = try_create_task(pool, "orders", "order_fulfillment", order(), opts.clone()).await.unwrap();
    let mut other = order();
    other["order_id"] = json!("o-2");
    let msg = refused(pool, other, opts, "TK005").await;
    assert!(msg.contains("order-o-1") && msg.contains(&first.to_string()), "{msg}");
}

#[tokio::test]
async fn same_idempotency_key_with_different_options_raises_tk005() {
    let db = examples().await;
    let pool = &db.pool;
    try_create_task(pool, "orders", "order_fulfillment", order(), json!({"idempotency_key": "k", "priority": 1}))
        .await
        .unwrap();
    refused(pool, order(), json!({"idempotency_key": "k", "priority": 2}), "TK005").await;
}

#[tokio::test]
async fn different_idempotency_keys_create_different_tasks() {
    let db = examples().await;
    let pool = &db.pool;
    let a =
        try_create_task(pool, "orders", "order_fulfillment", order(), json!({"idempotency_key": "a"})).await.unwrap();
    let b =
        try_create_task(pool, "orders", "order_fulfillment", order(), json!({"idempotency_key": "b"})).await.unwrap();
    assert_ne!(a, b);
    assert_eq!(count(pool, "SELECT count(*) FROM tasker.tasks").await, 2);
}

#[tokio::test]
async fn concurrent_creates_with_one_idempotency_key_make_one_task() {
    let db = examples().await;
    let mut handles = Vec::new();
    for _ in 0..8 {
        let pool = db.pool.clone();
        handles.push(tokio::spawn(async move {
            try_create_task(&pool, "orders", "order_fulfillment", order(), json!({"idempotency_key": "race"}))
                .await
                .unwrap()
        }));
    }
    let mut ids = Vec::new();
    for h in handles {
        ids.push(h.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(count(&db.pool, "SELECT count(*) FROM tasker.tasks").await, 1);
    assert_eq!(count(&db.pool, "SELECT count(*) FROM pgmq.q_worker_orders_queue").await, 1);
}

#[tokio::test]
async fn latest_version_is_used_when_none_is_given() {
    let db = test_db().await;
    let pool = &db.pool;
    let mut v1 = template("demo", "versioned", &[("a", &[])], json!({}));
    register(pool, v1.clone()).await;
    v1["version"] = json!("2.0.0");
    v1["steps"] = json!([{"name": "a", "handler": "h"}, {"name": "b", "handler": "h", "depends_on": ["a"]}]);
    register(pool, v1).await;
    let task = create_task(pool, "demo", "versioned", json!({})).await;
    let version: String = sqlx::query_scalar("SELECT version FROM tasker.tasks WHERE task_uuid = $1")
        .bind(task)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(version, "2.0.0");
    assert_eq!(steps(pool, task).await.len(), 2);
}

#[tokio::test]
async fn create_tasks_creates_each_request_alone_and_reports_failures_in_order() {
    let db = examples().await;
    let pool = &db.pool;
    type Row = (i32, Option<uuid::Uuid>, Option<String>, Option<String>);
    let rows: Vec<Row> =
        sqlx::query_as("SELECT ordinality, task_uuid, error_code, error_message FROM tasker.create_tasks($1)")
            .bind(json!([
                {"namespace": "demo", "name": "diamond", "version": "1.0.0"},
                {"namespace": "demo", "name": "nope"},
                {"namespace": "demo", "name": "diamond", "context": [1]},
                "not an object",
                {"namespace": "demo", "name": "diamond", "options": {"idempotency_key": "batch-key"}},
                {"namespace": "demo", "name": "diamond", "options": {"idempotency_key": "batch-key"}},
                {"namespace": "demo", "name": "nope", "version": "9"}
            ]))
            .fetch_all(pool)
            .await
            .unwrap();
    let codes: Vec<Option<&str>> = rows.iter().map(|r| r.2.as_deref()).collect();
    assert_eq!(codes, vec![None, Some("TK002"), Some("TK004"), Some("TK004"), None, None, Some("TK002")]);
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 6, 7]);
    assert!(rows[6].1.is_none() && rows[6].3.is_some(), "a failed last request: no task, a message");
    assert!(rows[1].3.as_deref().is_some_and(|m| m.contains("demo/nope")), "{:?}", rows[1]);
    assert_eq!(rows[4].1, rows[5].1, "one idempotency key, one task, also within a batch");
    assert_eq!(count(pool, "SELECT count(*) FROM tasker.tasks").await, 2, "failed requests left nothing");
    assert_eq!(count(pool, "SELECT count(*) FROM tasker.workflow_steps").await, 8);
}

#[tokio::test]
async fn creation_history_is_a_legal_path_and_the_task_and_step_rows_are_written_once() {
    let db = examples().await;
    let pool = &db.pool;
    // Counts as differences within one transaction: the session's pending counts
    // (pg_stat_xact_user_tables) may still hold earlier transactions' until it flushes them.
    const COUNTS: &str = "SELECT sum(n_tup_ins) FILTER (WHERE relid = 'tasker.tasks'::regclass)::bigint,
                                 sum(n_tup_upd)::bigint
                            FROM pg_stat_xact_user_tables WHERE relid IN ('tasker.tasks'::regclass, 'tasker.workflow_steps'::regclass)";
    let mut tx = pool.begin().await.expect("begin");
    let (ins0, upd0): (i64, i64) = sqlx::query_as(COUNTS).fetch_one(&mut *tx).await.expect("xact stats");
    let task: uuid::Uuid = sqlx::query_scalar("SELECT tasker.create_task('orders', 'order_fulfillment', NULL, $1)")
        .bind(order())
        .fetch_one(&mut *tx)
        .await
        .expect("create_task");
    // Statistics of this transaction: the task row was inserted, and neither it nor a step updated.
    let (ins, upd): (i64, i64) = sqlx::query_as(COUNTS).fetch_one(&mut *tx).await.expect("xact stats");
    tx.commit().await.expect("commit");
    assert_eq!((ins - ins0, upd - upd0), (1, 0), "a new task and its steps are one row write each");

    // Every recorded step of the way is a move the task state machine allows, in order.
    let rows: Vec<(Option<String>, String, String, bool)> = sqlx::query_as(
        "SELECT h.from_state, h.event, h.to_state,
                h.from_state IS NULL AND h.event = 'create' AND h.to_state = 'pending'
                OR EXISTS (SELECT 1 FROM tasker.task_state_transitions m
                            WHERE m.from_state = h.from_state AND m.event = h.event AND m.to_state = h.to_state)
           FROM tasker.task_transitions h WHERE h.task_uuid = $1 ORDER BY h.id",
    )
    .bind(task)
    .fetch_all(pool)
    .await
    .expect("history");
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(rows.iter().all(|r| r.3), "a creation history row is not an allowed move: {rows:?}");
    for pair in rows.windows(2) {
        assert_eq!(pair[0].2.as_str(), pair[1].0.as_deref().unwrap_or(""), "the path is not contiguous: {rows:?}");
    }
    assert_eq!(rows[3].2, task_state(pool, task).await);

    // Each root step is inserted enqueued with the one history row of its enqueue, an allowed move;
    // the other steps wait, pending, with no history yet.
    let steps: Vec<(String, i32, String, i64, bool)> = sqlx::query_as(
        "SELECT s.name, s.parents_total, s.state,
                (SELECT count(*) FROM tasker.workflow_step_transitions h
                  WHERE h.task_uuid = s.task_uuid AND h.step_uuid = s.step_uuid),
                EXISTS (SELECT 1 FROM tasker.workflow_step_transitions h
                          JOIN tasker.step_state_transitions m
                            ON m.from_state = h.from_state AND m.event = h.event AND m.to_state = h.to_state
                         WHERE h.task_uuid = s.task_uuid AND h.step_uuid = s.step_uuid
                           AND h.event = 'enqueue' AND h.from_state = 'pending' AND h.to_state = 'enqueued')
           FROM tasker.workflow_steps s WHERE s.task_uuid = $1 ORDER BY s.position",
    )
    .bind(task)
    .fetch_all(pool)
    .await
    .expect("steps");
    assert!(steps.iter().any(|s| s.1 == 0) && steps.iter().any(|s| s.1 > 0), "{steps:?}");
    for (name, parents, state, history, enqueue_row) in &steps {
        if *parents == 0 {
            assert_eq!((state.as_str(), *history, *enqueue_row), ("enqueued", 1, true), "root {name}");
        } else {
            assert_eq!((state.as_str(), *history), ("pending", 0), "step {name}");
        }
    }
}

/// Task and step ids are version 7 UUIDs that sort by time below the millisecond: tasks created
/// one after another in a session sort in creation order even within one millisecond.
#[tokio::test]
async fn uuid_v7_sorts_by_time_within_a_millisecond_and_keeps_version_and_variant() {
    let db = examples().await;
    let pool = &db.pool;
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar(
        "SELECT tasker.uuid_v7(timestamptz '2026-12-07 08:00:00.123000+00' + make_interval(secs => n / 1000000.0))
           FROM generate_series(0, 999, 37) AS n ORDER BY n",
    )
    .fetch_all(pool)
    .await
    .expect("uuid_v7");
    assert!(ids.len() > 20);
    for id in &ids {
        assert_eq!(id.get_version_num(), 7, "{id}");
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122, "{id}");
        assert!(id.to_string().starts_with("01"), "{id}: the millisecond in the first 48 bits");
    }
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(sorted, ids, "ids made at later microseconds of one millisecond sort later");
    // Same millisecond prefix for all of them.
    assert!(ids.iter().all(|id| id.as_bytes()[..6] == ids[0].as_bytes()[..6]));
}

/// uuid_v7 runs once per task and per step created: the planner must inline it (a call that is
/// not inlined parses and plans its body once per statement), with an argument and with its
/// volatile default alike.
#[tokio::test]
async fn uuid_v7_is_inlined() {
    let db = examples().await;
    for call in ["tasker.uuid_v7()", "tasker.uuid_v7(now())", "tasker.uuid_v7(clock_timestamp())"] {
        let plan: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN (VERBOSE, COSTS OFF) SELECT {call}"))
            .fetch_all(&db.pool)
            .await
            .expect("explain");
        let plan = plan.join("\n");
        assert!(plan.contains("gen_random_uuid"), "{call}: {plan}");
        assert!(!plan.contains("uuid_v7"), "{call} is not inlined: {plan}");
    }
}

/// A batch of several templates is inserted set by set: each task gets its own template's steps,
/// edges between its own steps only, its state path in order, and one message per root.
#[tokio::test]
async fn create_tasks_gives_each_task_of_a_mixed_batch_its_own_steps_and_edges() {
    let db = examples().await;
    let pool = &db.pool;
    let rows: Vec<(i32, Option<uuid::Uuid>, Option<String>)> =
        sqlx::query_as("SELECT ordinality, task_uuid, error_code FROM tasker.create_tasks($1)")
            .bind(json!([
                {"namespace": "orders", "name": "order_fulfillment", "context": order()},
                {"namespace": "demo", "name": "diamond"},
                {"namespace": "orders", "name": "order_fulfillment", "context": order(), "options": {"priority": 7}},
                {"namespace": "demo", "name": "linear"}
            ]))
            .fetch_all(pool)
            .await
            .expect("create_tasks");
    assert!(rows.iter().all(|r| r.1.is_some() && r.2.is_none()), "{rows:?}");
    let tasks: Vec<uuid::Uuid> = rows.iter().filter_map(|r| r.1).collect();
    let mut sorted = tasks.clone();
    sorted.sort();
    assert_eq!(sorted, tasks, "task ids sort in request order");

    for (task, (steps, edges, roots)) in tasks.iter().zip([(5, 5, 1), (4, 4, 1), (5, 5, 1), (10, 9, 1)]) {
        let got: (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM tasker.workflow_steps WHERE task_uuid = $1),
                    (SELECT count(*) FROM tasker.workflow_step_edges e
                       JOIN tasker.workflow_steps p ON p.step_uuid = e.from_step_uuid
                       JOIN tasker.workflow_steps c ON c.step_uuid = e.to_step_uuid
                      WHERE p.task_uuid = $1 AND c.task_uuid = $1),
                    (SELECT count(*) FROM tasker.workflow_steps WHERE task_uuid = $1 AND state = 'enqueued'),
                    (SELECT count(*) FROM tasker.workflow_step_edges e
                       JOIN tasker.workflow_steps p ON p.step_uuid = e.from_step_uuid
                       JOIN tasker.workflow_steps c ON c.step_uuid = e.to_step_uuid
                      WHERE (p.task_uuid = $1) <> (c.task_uuid = $1))",
        )
        .bind(task)
        .fetch_one(pool)
        .await
        .expect("counts");
        assert_eq!(got, (steps, edges, roots, 0), "task {task}");
        let path: Vec<String> = task_history(pool, *task).await.into_iter().map(|h| h.1).collect();
        assert_eq!(path, vec!["pending", "initializing", "enqueuing_steps", "steps_in_process"]);
        // Every step's parent counter matches its edges.
        let wrong: i64 = count(
            pool,
            &format!(
                "SELECT count(*) FROM tasker.workflow_steps s WHERE s.task_uuid = '{task}'
                    AND s.parents_total <> (SELECT count(*) FROM tasker.workflow_step_edges e
                                             WHERE e.to_step_uuid = s.step_uuid)"
            ),
        )
        .await;
        assert_eq!(wrong, 0, "task {task}");
    }
    let priority: i32 = sqlx::query_scalar("SELECT priority FROM tasker.workflow_steps WHERE task_uuid = $1 LIMIT 1")
        .bind(tasks[2])
        .fetch_one(pool)
        .await
        .expect("priority");
    assert_eq!(priority, 7);
    assert_eq!(queue_messages(pool, "orders").await.len(), 2);
    assert_eq!(queue_messages(pool, "demo").await.len(), 2);
}

/// When inserting the batch fails (here a trigger refuses one task row), each request is inserted
/// again alone: only the refused one is lost, and an idempotency key still returns its first task
/// or TK005 for a different request.
#[tokio::test]
async fn create_tasks_loses_only_the_request_whose_insert_fails() {
    let db = examples().await;
    let pool = &db.pool;
    sqlx::raw_sql(
        "CREATE FUNCTION public.refuse_task() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.context ? 'refuse' THEN RAISE EXCEPTION 'refused by a trigger'; END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER refuse_task BEFORE INSERT ON tasker.tasks FOR EACH ROW EXECUTE FUNCTION public.refuse_task();",
    )
    .execute(pool)
    .await
    .expect("trigger");
    type Row = (i32, Option<uuid::Uuid>, Option<String>, Option<String>);
    let rows: Vec<Row> =
        sqlx::query_as("SELECT ordinality, task_uuid, error_code, error_message FROM tasker.create_tasks($1)")
            .bind(json!([
                {"namespace": "demo", "name": "diamond", "options": {"idempotency_key": "k"}},
                {"namespace": "demo", "name": "diamond", "context": {"refuse": true}},
                {"namespace": "demo", "name": "nope"},
                {"namespace": "demo", "name": "diamond", "options": {"idempotency_key": "k"}},
                {"namespace": "demo", "name": "diamond", "options": {"idempotency_key": "k", "reason": "other"}},
                {"namespace": "demo", "name": "linear"}
            ]))
            .fetch_all(pool)
            .await
            .expect("create_tasks");
    let codes: Vec<Option<&str>> = rows.iter().map(|r| r.2.as_deref()).collect();
    assert_eq!(codes, vec![None, Some("P0001"), Some("TK002"), None, Some("TK005"), None], "{rows:?}");
    assert!(rows[1].3.as_deref().is_some_and(|m| m.contains("refused by a trigger")), "{rows:?}");
    assert!(rows[4].3.as_deref().is_some_and(|m| m.contains("idempotency key 'k'")), "{rows:?}");
    assert_eq!(rows[0].1, rows[3].1, "the same request with the same key is the same task");
    assert!(rows[0].1.is_some() && rows[5].1.is_some() && rows[0].1 != rows[5].1);
    assert_eq!(count(pool, "SELECT count(*) FROM tasker.tasks").await, 2);
    assert_eq!(count(pool, "SELECT count(*) FROM tasker.workflow_steps").await, 4 + 10);
    assert_eq!(count(pool, "SELECT count(*) FROM tasker.task_transitions").await, 8);
    assert_eq!(queue_messages(pool, "demo").await.len(), 2, "one root message per created task");
}
