//! The two state machines: every allowed move of tasker.task_state_transitions and
//! tasker.step_state_transitions is applied by tasker.transition_tasks / tasker.transition_steps
//! with its side effects and history row; every other (state, event) pair is refused with TK001
//! and changes nothing; unknown ids raise TK002.

use std::collections::{BTreeSet, HashSet};

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::*;

const FINAL_TASK_STATES: [&str; 4] = ["complete", "error", "cancelled", "resolved_manually"];

/// A database with one single-step task whose rows the tests move around.
async fn one_step_task() -> (TestDb, Uuid, Uuid) {
    let db = test_db().await;
    register(&db.pool, template("demo", "single", &[("only", &[])], json!({}))).await;
    let task = create_task(&db.pool, "demo", "single", json!({})).await;
    let step = step(&db.pool, task, "only").await.step_uuid;
    (db, task, step)
}

/// Test setup only: puts a task into `state`, keeping the table's CHECK constraints satisfied.
async fn put_task_in(pool: &PgPool, task: Uuid, state: &str) {
    sqlx::query(
        "UPDATE tasker.tasks SET state = $2, \
                completed_at = CASE WHEN $2 IN ('complete', 'error', 'cancelled', 'resolved_manually') THEN now() END \
          WHERE task_uuid = $1",
    )
    .bind(task)
    .bind(state)
    .execute(pool)
    .await
    .unwrap();
}

/// Test setup only: puts a (root) step into `state`, keeping the table's CHECK constraints satisfied.
async fn put_step_in(pool: &PgPool, step: Uuid, state: &str) {
    sqlx::query(
        "UPDATE tasker.workflow_steps SET state = $2, attempts = 1, ready_at = NULL, \
                completed_at = CASE WHEN $2 IN ('complete', 'resolved_manually') THEN now() END, \
                next_retry_at = CASE WHEN $2 = 'waiting_for_retry' THEN now() END \
          WHERE step_uuid = $1",
    )
    .bind(step)
    .bind(state)
    .execute(pool)
    .await
    .unwrap();
}

async fn task_history_len(pool: &PgPool, task: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM tasker.task_transitions WHERE task_uuid = $1")
        .bind(task)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn step_history_len(pool: &PgPool, step: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM tasker.workflow_step_transitions WHERE step_uuid = $1")
        .bind(step)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn task_machine(pool: &PgPool) -> (Vec<(String, String, String)>, Vec<String>, Vec<String>) {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT from_state, event, to_state FROM tasker.task_state_transitions ORDER BY 1, 2")
            .fetch_all(pool)
            .await
            .unwrap();
    let states = sqlx::query_scalar("SELECT state FROM tasker.task_states ORDER BY 1").fetch_all(pool).await.unwrap();
    let events = sqlx::query_scalar("SELECT DISTINCT event FROM tasker.task_state_transitions ORDER BY 1")
        .fetch_all(pool)
        .await
        .unwrap();
    (rows, states, events)
}

async fn step_machine(pool: &PgPool) -> (Vec<(String, String, String)>, Vec<String>, Vec<String>) {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT from_state, event, to_state FROM tasker.step_state_transitions ORDER BY 1, 2")
            .fetch_all(pool)
            .await
            .unwrap();
    let states = sqlx::query_scalar("SELECT state FROM tasker.step_states ORDER BY 1").fetch_all(pool).await.unwrap();
    let events = sqlx::query_scalar("SELECT DISTINCT event FROM tasker.step_state_transitions ORDER BY 1")
        .fetch_all(pool)
        .await
        .unwrap();
    (rows, states, events)
}

#[tokio::test]
async fn state_machine_tables_hold_the_designed_states() {
    let db = test_db().await;
    let (task_rows, task_states, _) = task_machine(&db.pool).await;
    let (step_rows, step_states, _) = step_machine(&db.pool).await;
    assert_eq!(task_states.len(), 12);
    assert_eq!(step_states.len(), 8);
    assert_eq!(task_rows.len(), 37);
    assert_eq!(step_rows.len(), 24);
    // Final task states allow only the operator moves out of error.
    for (from, event, _) in &task_rows {
        if ["complete", "cancelled", "resolved_manually"].contains(&from.as_str()) {
            panic!("final task state {from} has a move on {event}");
        }
    }
}

#[tokio::test]
async fn every_allowed_task_transition_moves_the_task_and_records_history() {
    let (db, task, _) = one_step_task().await;
    let pool = &db.pool;
    let (rows, _, _) = task_machine(pool).await;
    for (from, event, to) in rows {
        put_task_in(pool, task, &from).await;
        let before = task_history_len(pool, task).await;
        let moved: Vec<(Uuid, String, String)> =
            sqlx::query_as("SELECT * FROM tasker.transition_tasks(ARRAY[$1]::uuid[], $2, $3)")
                .bind(task)
                .bind(&event)
                .bind(json!({"test": event}))
                .fetch_all(pool)
                .await
                .unwrap_or_else(|e| panic!("{from} --{event}--> {to}: {e}"));
        assert_eq!(moved, vec![(task, from.clone(), to.clone())], "{from} --{event}-->");
        assert_eq!(task_state(pool, task).await, to, "{from} --{event}-->");

        let completed: Option<Ts> = sqlx::query_scalar("SELECT completed_at FROM tasker.tasks WHERE task_uuid = $1")
            .bind(task)
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(completed.is_some(), FINAL_TASK_STATES.contains(&to.as_str()), "completed_at after {from} -> {to}");

        assert_eq!(task_history_len(pool, task).await, before + 1);
        let last: (Option<String>, String, String, Option<serde_json::Value>) = sqlx::query_as(
            "SELECT from_state, to_state, event, metadata FROM tasker.task_transitions \
              WHERE task_uuid = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(task)
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!(last, (Some(from.clone()), to.clone(), event.clone(), Some(json!({"test": event}))));
    }
}

#[tokio::test]
async fn every_forbidden_task_event_is_refused_with_tk001_and_changes_nothing() {
    let (db, task, _) = one_step_task().await;
    let pool = &db.pool;
    let (rows, states, mut events) = task_machine(pool).await;
    events.push("no_such_event".into());
    let allowed: HashSet<(String, String)> = rows.into_iter().map(|(f, e, _)| (f, e)).collect();
    let mut refused = 0;
    for state in &states {
        put_task_in(pool, task, state).await;
        for event in &events {
            if allowed.contains(&(state.clone(), event.clone())) {
                continue;
            }
            let before = task_history_len(pool, task).await;
            let res = sqlx::query("SELECT * FROM tasker.transition_tasks(ARRAY[$1]::uuid[], $2)")
                .bind(task)
                .bind(event)
                .execute(pool)
                .await;
            let msg = expect_sqlstate(res, "TK001");
            assert!(msg.contains(state) && msg.contains(event), "message names state and event: {msg}");
            assert_eq!(&task_state(pool, task).await, state);
            assert_eq!(task_history_len(pool, task).await, before);
            refused += 1;
        }
    }
    assert!(refused > 100, "only {refused} forbidden pairs checked");
}

#[tokio::test]
async fn refused_task_event_hint_lists_allowed_events_or_says_final() {
    let (db, task, _) = one_step_task().await;
    let pool = &db.pool;
    put_task_in(pool, task, "waiting_for_retry").await;
    let err = sqlx::query("SELECT * FROM tasker.transition_tasks(ARRAY[$1]::uuid[], 'complete')")
        .bind(task)
        .execute(pool)
        .await
        .unwrap_err();
    assert_eq!(
        hint(&err).as_deref(),
        Some("events allowed in state 'waiting_for_retry': cancel, enqueue, evaluate, resolve")
    );

    put_task_in(pool, task, "complete").await;
    let err = sqlx::query("SELECT * FROM tasker.transition_tasks(ARRAY[$1]::uuid[], 'cancel')")
        .bind(task)
        .execute(pool)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err).as_deref(), Some("TK001"));
    assert_eq!(hint(&err).as_deref(), Some("state 'complete' is final"));
}

#[tokio::test]
async fn task_batch_with_one_forbidden_move_changes_no_task() {
    let (db, first, _) = one_step_task().await;
    let pool = &db.pool;
    let second = create_task(pool, "demo", "single", json!({"n": 2})).await;
    put_task_in(pool, first, "waiting_for_dependencies").await;
    put_task_in(pool, second, "complete").await;
    let before = (task_history_len(pool, first).await, task_history_len(pool, second).await);
    let res = sqlx::query("SELECT * FROM tasker.transition_tasks($1, 'evaluate')")
        .bind(vec![first, second])
        .execute(pool)
        .await;
    expect_sqlstate(res, "TK001");
    assert_eq!(task_state(pool, first).await, "waiting_for_dependencies");
    assert_eq!(task_state(pool, second).await, "complete");
    assert_eq!((task_history_len(pool, first).await, task_history_len(pool, second).await), before);
}

#[tokio::test]
async fn transition_of_unknown_task_raises_tk002() {
    let (db, task, _) = one_step_task().await;
    let unknown = Uuid::now_v7();
    let res = sqlx::query("SELECT * FROM tasker.transition_tasks($1, 'cancel')")
        .bind(vec![task, unknown])
        .execute(&db.pool)
        .await;
    let msg = expect_sqlstate(res, "TK002");
    assert!(msg.contains(&unknown.to_string()), "{msg}");
    assert_eq!(task_state(&db.pool, task).await, "steps_in_process");
}

#[tokio::test]
async fn every_allowed_step_transition_moves_the_step_and_records_history() {
    let (db, _, step_uuid) = one_step_task().await;
    let pool = &db.pool;
    let (rows, _, _) = step_machine(pool).await;
    for (from, event, to) in rows {
        put_step_in(pool, step_uuid, &from).await;
        let before = step_history_len(pool, step_uuid).await;
        let moved: Vec<(Uuid, Uuid, String, String, i32)> =
            sqlx::query_as("SELECT * FROM tasker.transition_steps(ARRAY[$1]::uuid[], $2, NULL, $3)")
                .bind(step_uuid)
                .bind(&event)
                .bind(json!({"test": event}))
                .fetch_all(pool)
                .await
                .unwrap_or_else(|e| panic!("{from} --{event}--> {to}: {e}"));
        assert_eq!(moved.len(), 1);
        assert_eq!((&moved[0].2, &moved[0].3), (&from, &to), "{from} --{event}-->");

        let s = step_by_uuid(pool, step_uuid).await;
        assert_eq!(s.state, to, "{from} --{event}-->");
        let expected_attempts = match event.as_str() {
            "claim" | "reclaim" => 2,
            "reset" => 0,
            _ => 1,
        };
        assert_eq!(s.attempts, expected_attempts, "attempts after {from} --{event}-->");
        assert_eq!(moved[0].4, expected_attempts);
        assert_eq!(s.completed_at.is_some(), to == "complete" || to == "resolved_manually", "{from} -> {to}");
        assert_eq!(s.next_retry_at.is_some(), to == "waiting_for_retry", "{from} -> {to}");
        // A root step is dispatchable exactly when pending or waiting for its retry.
        assert_eq!(s.ready_at.is_some(), to == "pending" || to == "waiting_for_retry", "ready_at after {from} -> {to}");
        if to == "enqueued" {
            assert!(s.enqueued_at.is_some());
        }
        if event == "claim" || event == "reclaim" {
            assert!(s.claimed_at.is_some());
        }

        assert_eq!(step_history_len(pool, step_uuid).await, before + 1);
        let last: (Option<String>, String, String, i32, Option<serde_json::Value>) = sqlx::query_as(
            "SELECT from_state, to_state, event, attempt, metadata FROM tasker.workflow_step_transitions \
              WHERE step_uuid = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(step_uuid)
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!(
            last,
            (Some(from.clone()), to.clone(), event.clone(), expected_attempts, Some(json!({"test": event})))
        );
    }
}

#[tokio::test]
async fn every_forbidden_step_event_is_refused_with_tk001_and_changes_nothing() {
    let (db, _, step_uuid) = one_step_task().await;
    let pool = &db.pool;
    let (rows, states, mut events) = step_machine(pool).await;
    events.push("no_such_event".into());
    let allowed: HashSet<(String, String)> = rows.into_iter().map(|(f, e, _)| (f, e)).collect();
    let mut refused = 0;
    for state in &states {
        put_step_in(pool, step_uuid, state).await;
        for event in &events {
            if allowed.contains(&(state.clone(), event.clone())) {
                continue;
            }
            let before = step_history_len(pool, step_uuid).await;
            let res = sqlx::query("SELECT * FROM tasker.transition_steps(ARRAY[$1]::uuid[], $2)")
                .bind(step_uuid)
                .bind(event)
                .execute(pool)
                .await;
            let msg = expect_sqlstate(res, "TK001");
            assert!(msg.contains(state) && msg.contains(event), "message names state and event: {msg}");
            let s = step_by_uuid(pool, step_uuid).await;
            assert_eq!(&s.state, state);
            assert_eq!(s.attempts, 1);
            assert_eq!(step_history_len(pool, step_uuid).await, before);
            refused += 1;
        }
    }
    assert!(refused > 60, "only {refused} forbidden pairs checked");
}

#[tokio::test]
async fn step_transition_of_unknown_step_raises_tk002() {
    let (db, _, step_uuid) = one_step_task().await;
    let res = sqlx::query("SELECT * FROM tasker.transition_steps($1, 'cancel')")
        .bind(vec![step_uuid, Uuid::now_v7()])
        .execute(&db.pool)
        .await;
    expect_sqlstate(res, "TK002");
    assert_eq!(step_by_uuid(&db.pool, step_uuid).await.state, "enqueued");
}

/// `tasker._move_steps`, the writer the hot path calls with the steps' locks already held, checks
/// the moves after making them: a list with one step that cannot take the event raises TK001
/// naming that step, and the error undoes the moves of the steps that could.
#[tokio::test]
async fn move_steps_refuses_a_list_with_one_unmovable_step_and_moves_none() {
    let db = test_db().await;
    let pool = &db.pool;
    register(pool, template("demo", "pair", &[("first", &[]), ("second", &["first"])], json!({}))).await;
    let task = create_task(pool, "demo", "pair", json!({})).await;
    let first = step(pool, task, "first").await.step_uuid;
    let second = step(pool, task, "second").await.step_uuid;
    let before = (step_history_len(pool, first).await, step_history_len(pool, second).await);

    // first is enqueued (claim allowed), second pending (claim refused): in either order.
    for steps in [vec![first, second], vec![second, first]] {
        let res = sqlx::query("SELECT tasker._move_steps($1, 'claim')").bind(&steps).execute(pool).await;
        let msg = expect_sqlstate(res, "TK001");
        assert!(
            msg.contains(&second.to_string()) && msg.contains("pending"),
            "names the step that did not move: {msg}"
        );
        assert_eq!(step_by_uuid(pool, first).await.state, "enqueued");
        assert_eq!(step_by_uuid(pool, first).await.attempts, 0);
        assert_eq!((step_history_len(pool, first).await, step_history_len(pool, second).await), before);
    }

    let res =
        sqlx::query("SELECT tasker._move_steps($1, 'claim')").bind(vec![first, Uuid::now_v7()]).execute(pool).await;
    expect_sqlstate(res, "TK002");
    assert_eq!(step_by_uuid(pool, first).await.state, "enqueued");

    // A step listed twice moves once; the count says so.
    let moved: i32 = sqlx::query_scalar("SELECT tasker._move_steps($1, 'claim')")
        .bind(vec![first, first])
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(moved, 1);
    assert_eq!(step_by_uuid(pool, first).await.attempts, 1);
    assert_eq!(step_history_len(pool, first).await, before.0 + 1);
}

#[tokio::test]
async fn step_transition_payloads_must_align_with_steps() {
    let (db, _, step_uuid) = one_step_task().await;
    let res = sqlx::query(
        "SELECT * FROM tasker.transition_steps(ARRAY[$1]::uuid[], 'claim', ARRAY['{}'::jsonb, '{}'::jsonb])",
    )
    .bind(step_uuid)
    .execute(&db.pool)
    .await;
    expect_sqlstate(res, "TK004");
    assert_eq!(step_by_uuid(&db.pool, step_uuid).await.state, "enqueued");
}

#[tokio::test]
async fn step_transition_payload_sets_results_error_and_retry_time() {
    let (db, _, step_uuid) = one_step_task().await;
    let pool = &db.pool;
    put_step_in(pool, step_uuid, "in_progress").await;
    let at = db_now(pool).await + chrono::Duration::seconds(90);
    sqlx::query("SELECT * FROM tasker.transition_steps(ARRAY[$1]::uuid[], 'retry', ARRAY[$2::jsonb])")
        .bind(step_uuid)
        .bind(json!({"error": {"message": "boom"}, "next_retry_at": at}))
        .execute(pool)
        .await
        .unwrap();
    let s = step_by_uuid(pool, step_uuid).await;
    assert_eq!(s.next_retry_at, Some(at));
    assert_eq!(s.ready_at, Some(at));
    assert_eq!(s.last_error, Some(json!({"message": "boom"})));
    let history = step_history(pool, step_uuid).await;
    assert_eq!(history.last().unwrap().3, Some(json!({"error": {"message": "boom"}})));
}

#[tokio::test]
async fn reset_clears_attempts_and_results_and_keeps_the_last_error() {
    let (db, _, step_uuid) = one_step_task().await;
    let pool = &db.pool;
    sqlx::query(
        "UPDATE tasker.workflow_steps SET state = 'error', attempts = 3, ready_at = NULL, \
                results = '{\"partial\": 1}', last_error = '{\"message\": \"boom\"}' WHERE step_uuid = $1",
    )
    .bind(step_uuid)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("SELECT * FROM tasker.transition_steps(ARRAY[$1]::uuid[], 'reset')")
        .bind(step_uuid)
        .execute(pool)
        .await
        .unwrap();
    let s = step_by_uuid(pool, step_uuid).await;
    assert_eq!(s.state, "pending");
    assert_eq!(s.attempts, 0);
    assert_eq!(s.results, None);
    assert_eq!(s.last_error, Some(json!({"message": "boom"})), "reset keeps the last error for reference");
    assert!(s.ready_at.is_some(), "a reset root step is ready at once");
}

#[tokio::test]
async fn pending_step_with_unfinished_parents_is_not_made_ready() {
    let db = test_db().await;
    let pool = &db.pool;
    register(pool, template("demo", "pair", &[("a", &[]), ("b", &["a"])], json!({}))).await;
    let task = create_task(pool, "demo", "pair", json!({})).await;
    let b = step(pool, task, "b").await;
    assert_eq!((b.state.as_str(), b.parents_pending, b.ready_at), ("pending", 1, None));
    // error -> reset -> pending keeps it unready while its parent is unfinished.
    sqlx::query("UPDATE tasker.workflow_steps SET state = 'error' WHERE step_uuid = $1")
        .bind(b.step_uuid)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("SELECT * FROM tasker.transition_steps(ARRAY[$1]::uuid[], 'reset')")
        .bind(b.step_uuid)
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(step(pool, task, "b").await.ready_at, None);
}

#[tokio::test]
async fn transition_functions_are_the_only_history_writers_for_a_run() {
    // Each step state change during a full run appears once in the step history.
    let db = test_db().await;
    let pool = &db.pool;
    load_examples(pool).await;
    let task = create_task(pool, "demo", "diamond", json!({})).await;
    run_until_idle(pool, "demo", None, |_| Outcome::ok()).await;
    assert_eq!(task_state(pool, task).await, "complete");
    for s in steps(pool, task).await {
        let events: Vec<String> = step_history(pool, s.step_uuid).await.into_iter().map(|h| h.2).collect();
        assert_eq!(events, vec!["enqueue", "claim", "complete"], "step {}", s.name);
    }
    let task_path: Vec<String> = task_history(pool, task).await.into_iter().map(|h| h.1).collect();
    let distinct: BTreeSet<&str> = task_path.iter().map(String::as_str).collect();
    assert_eq!(task_path.first().map(String::as_str), Some("pending"));
    assert_eq!(task_path.last().map(String::as_str), Some("complete"));
    assert!(distinct.contains("steps_in_process"), "{task_path:?}");
}
