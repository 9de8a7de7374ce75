//! Operator functions: tasker.cancel_task, tasker.resolve_step / complete_step / reset_step,
//! tasker.update_dlq_entry, and the inspection views.

use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::*;

async fn examples() -> TestDb {
    let db = test_db().await;
    load_examples(&db.pool).await;
    db
}

/// Runs the doomed example until its task is in error; returns the task.
async fn doomed_task(pool: &PgPool) -> Uuid {
    let task = create_task(pool, "demo", "doomed", json!({})).await;
    run_until_idle(pool, "demo", None, worker).await;
    assert_eq!(task_state(pool, task).await, "error");
    task
}

/// The demo handlers: fail_permanently fails, everything else succeeds with its name.
fn worker(c: &Claimed) -> Outcome {
    match c.handler.as_str() {
        "fail_permanently" => Outcome::permanent("kaboom", "Boom"),
        _ => Outcome::Success(json!({"from": c.step_name})),
    }
}

async fn operate(pool: &PgPool, sql: &str, step: Uuid) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(sql).bind(step).fetch_one(pool).await
}

async fn cancel(pool: &PgPool, task: Uuid, reason: Option<&str>) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT tasker.cancel_task($1, $2)").bind(task).bind(reason).fetch_one(pool).await
}

// ---------------------------------------------------------------------------------------------
// cancel_task
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn cancel_task_cancels_every_unfinished_step_with_the_reason() {
    let db = examples().await;
    let pool = &db.pool;
    let task = create_task(pool, "demo", "diamond", json!({})).await;
    round(pool, "demo", None, worker).await; // start completes; left and right enqueued
    assert_eq!(cancel(pool, task, Some("customer asked")).await.unwrap(), "cancelled");
    assert_eq!(task_state(pool, task).await, "cancelled");
    let states = step_states(pool, task).await;
    assert_eq!(states["start"], "complete");
    for s in ["left", "right", "finish"] {
        assert_eq!(states[s], "cancelled", "{s}");
        let h = step_history(pool, step(pool, task, s).await.step_uuid).await.pop().unwrap();
        assert_eq!(h.3.unwrap()["reason"], json!("customer asked"));
    }
    let completed_at: Option<Ts> = sqlx::query_scalar("SELECT completed_at FROM tasker.tasks WHERE task_uuid = $1")
        .bind(task)
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(completed_at.is_some());
}

#[tokio::test]
async fn claims_after_cancel_discard_the_messages() {
    let db = examples().await;
    let pool = &db.pool;
    let task = create_task(pool, "demo", "fan_out", json!({})).await;
    round(pool, "demo", None, worker).await;
    assert_eq!(queue_messages(pool, "demo").await.len(), 100);
    cancel(pool, task, None).await.unwrap();
    assert!(claim(pool, "demo", 1000, None).await.is_empty());
    assert!(queue_messages(pool, "demo").await.is_empty());
    assert!(enqueue(pool, 1000, None).await.is_empty());
}

#[tokio::test]
async fn late_result_of_a_cancelled_step_is_ignored() {
    let db = examples().await;
    let pool = &db.pool;
    let task = create_task(pool, "demo", "linear", json!({})).await;
    let c = only(claim(pool, "demo", 10, None).await);
    cancel(pool, task, None).await.unwrap();
    assert!(!submit(pool, &c, &Outcome::ok()).await);
    let applied = apply(pool, json!([result_message(&c, &Outcome::ok())]), None).await;
    assert_eq!((applied.completed, applied.ignored, applied.dispatched), (0, 1, 0));
    assert_eq!(step(pool, task, "step_01").await.state, "cancelled");
    assert_eq!(step(pool, task, "step_02").await.state, "cancelled");
    assert!(finalize(pool, None).await.is_empty());
    assert_eq!(task_state(pool, task).await, "cancelled");
}

#[tokio::test]
async fn cancelling_a_complete_task_raises_tk006() {
    let db = examples().await;
    let pool = &db.pool;
    let task = create_task(pool, "demo", "diamond", json!({})).await;
    run_until_idle(pool, "demo", None, worker).await;
    assert_eq!(task_state(pool, task).await, "complete");
    let msg = expect_sqlstate(cancel(pool, task, None).await, "TK006");
    assert!(msg.contains("complete"), "{msg}");
    assert_eq!(task_state(pool, task).await, "complete");
}

#[tokio::test]
async fn cancelling_a_cancelled_task_changes_nothing() {
    let db = examples().await;
    let pool = &db.pool;
    let task = create_task(pool, "demo", "diamond", json!({})).await;
    cancel(pool, task, None).await.unwrap();
    let history = task_history(pool, task).await.len();
    assert_eq!(cancel(pool, task, None).await.unwrap(), "cancelled");
    assert_eq!(task_history(pool, task).await.len(), history);
}

#[tokio::test]
async fn cancelling_an_unknown_task_raises_tk002() {
    let db = examples().await;
    expect_sqlstate(cancel(&db.pool, Uuid::now_v7(), None).await, "TK002");
}

#[tokio::test]
async fn cancelling_an_errored_task_discards_its_dlq_entry() {
    let db = examples().await;
    let pool = &db.pool;
    let task = doomed_task(pool).await;
    cancel(pool, task, Some("not worth it")).await.unwrap();
    let states = step_states(pool, task).await;
    assert_eq!((states["explode"].as_str(), states["never_runs"].as_str()), ("cancelled", "cancelled"));
    let dlq = dlq_entries(pool, task).await;
    assert_eq!(dlq[0].2, "discarded");
}

// ---------------------------------------------------------------------------------------------
// resolve_step / complete_step / reset_step
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn resolving_the_failed_step_releases_its_children_and_the_task_completes() {
    let db = examples().await;
    let pool = &db.pool;
    let task = doomed_task(pool).await;
    let explode = step(pool, task, "explode").await.step_uuid;
    let state = operate(pool, "SELECT tasker.resolve_step($1, 'known bad data')", explode).await.unwrap();
    assert_eq!(state, "resolved_manually");
    let never = step(pool, task, "never_runs").await;
    assert_eq!((never.parents_pending, never.ready_at.is_some()), (0, true));
    assert_eq!(task_state(pool, task).await, "enqueuing_steps");
    assert_eq!(dlq_entries(pool, task).await[0].2, "retried");
    let h = step_history(pool, explode).await.pop().unwrap();
    assert_eq!(h.3.unwrap(), json!({"reason": "known bad data", "operator": true}));

    enqueue(pool, 100, None).await;
    let rounds = run_until_idle(pool, "demo", None, worker).await;
    assert_eq!(rounds, vec![vec!["never_runs"]]);
    assert_eq!(task_state(pool, task).await, "complete");
}

#[tokio::test]
async fn resolved_parent_gives_its_children_null_results() {
    let db = examples().await;
    let pool = &db.pool;
    let task = doomed_task(pool).await;
    let explode = step(pool, task, "explode").await.step_uuid;
    operate(pool, "SELECT tasker.resolve_step($1)", explode).await.unwrap();
    enqueue(pool, 100, None).await;
    let c = only(claim(pool, "demo", 10, None).await);
    assert_eq!(c.parent_results, json!({"explode": null}));
}

#[tokio::test]
async fn completing_a_step_by_hand_passes_its_result_to_children() {
    let db = examples().await;
    let pool = &db.pool;
    let task = doomed_task(pool).await;
    let explode = step(pool, task, "explode").await.step_uuid;
    let state: String = sqlx::query_scalar("SELECT tasker.complete_step($1, $2, 'patched')")
        .bind(explode)
        .bind(json!({"fixed": true}))
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(state, "complete");
    assert_eq!(step(pool, task, "explode").await.results, Some(json!({"fixed": true})));
    enqueue(pool, 100, None).await;
    let c = only(claim(pool, "demo", 10, None).await);
    assert_eq!((c.step_name.as_str(), &c.parent_results), ("never_runs", &json!({"explode": {"fixed": true}})));
    submit(pool, &c, &Outcome::ok()).await;
    process(pool, None).await;
    finalize(pool, None).await;
    assert_eq!(task_state(pool, task).await, "complete");
}

#[tokio::test]
async fn resetting_the_failed_step_runs_it_again_and_the_task_resumes() {
    let db = examples().await;
    let pool = &db.pool;
    let task = doomed_task(pool).await;
    let explode = step(pool, task, "explode").await.step_uuid;
    assert_eq!(operate(pool, "SELECT tasker.reset_step($1, 'fixed the bug')", explode).await.unwrap(), "pending");
    let s = step(pool, task, "explode").await;
    assert_eq!((s.attempts, s.ready_at.is_some()), (0, true));
    assert_eq!(task_state(pool, task).await, "enqueuing_steps");

    enqueue(pool, 100, None).await;
    let rounds = run_until_idle(pool, "demo", None, |c| Outcome::Success(json!({"from": c.step_name}))).await;
    assert_eq!(rounds, vec![vec!["explode"], vec!["never_runs"]]);
    assert_eq!(task_state(pool, task).await, "complete");
    assert_eq!(step(pool, task, "explode").await.attempts, 1);
    let path: Vec<String> = task_history(pool, task).await.into_iter().map(|h| h.1).collect();
    assert!(path.iter().filter(|s| *s == "error").count() == 1 && path.last().unwrap() == "complete", "{path:?}");
}

#[tokio::test]
async fn resetting_a_complete_step_raises_tk001() {
    let db = examples().await;
    let pool = &db.pool;
    let task = doomed_task(pool).await;
    let prepare = step(pool, task, "prepare").await.step_uuid;
    expect_sqlstate(operate(pool, "SELECT tasker.reset_step($1)", prepare).await, "TK001");
    assert_eq!(step(pool, task, "prepare").await.state, "complete");
    assert_eq!(task_state(pool, task).await, "error");
}

#[tokio::test]
async fn operating_on_a_step_of_a_finished_task_raises_tk006() {
    let db = examples().await;
    let pool = &db.pool;
    let task = create_task(pool, "demo", "diamond", json!({})).await;
    cancel(pool, task, None).await.unwrap();
    let finish = step(pool, task, "finish").await.step_uuid;
    for sql in ["SELECT tasker.resolve_step($1)", "SELECT tasker.complete_step($1)", "SELECT tasker.reset_step($1)"] {
        expect_sqlstate(operate(pool, sql, finish).await, "TK006");
    }
    assert_eq!(step(pool, task, "finish").await.state, "cancelled");
}

#[tokio::test]
async fn operating_on_an_unknown_step_raises_tk002() {
    let db = examples().await;
    expect_sqlstate(operate(&db.pool, "SELECT tasker.resolve_step($1)", Uuid::now_v7()).await, "TK002");
}

#[tokio::test]
async fn resolving_an_already_resolved_step_does_not_release_children_twice() {
    let db = examples().await;
    let pool = &db.pool;
    let task = create_task(pool, "demo", "diamond", json!({})).await;
    let start = step(pool, task, "start").await.step_uuid;
    operate(pool, "SELECT tasker.resolve_step($1)", start).await.unwrap();
    // resolved_manually is final: a second resolve is refused and the counters stay put.
    expect_sqlstate(operate(pool, "SELECT tasker.resolve_step($1)", start).await, "TK001");
    assert_eq!(step(pool, task, "left").await.parents_pending, 0);
    assert_eq!(step(pool, task, "finish").await.parents_pending, 2);
}

// ---------------------------------------------------------------------------------------------
// update_dlq_entry
// ---------------------------------------------------------------------------------------------

#[derive(Debug, sqlx::FromRow)]
struct Dlq {
    resolution_status: String,
    resolution_notes: Option<String>,
    resolved_by: Option<String>,
    resolved_at: Option<Ts>,
}

async fn update_dlq(
    pool: &PgPool,
    id: i64,
    status: Option<&str>,
    notes: Option<&str>,
    by: Option<&str>,
) -> Result<Dlq, sqlx::Error> {
    sqlx::query_as(
        "SELECT resolution_status, resolution_notes, resolved_by, resolved_at \
           FROM tasker.update_dlq_entry($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(status)
    .bind(notes)
    .bind(by)
    .fetch_one(pool)
    .await
}

#[tokio::test]
async fn dlq_investigation_updates_status_notes_and_resolution_time() {
    let db = examples().await;
    let pool = &db.pool;
    let task = doomed_task(pool).await;
    let id = dlq_entries(pool, task).await[0].0;

    let e = update_dlq(pool, id, Some("investigating"), Some("looking"), Some("ana")).await.unwrap();
    assert_eq!(e.resolution_status, "investigating");
    assert_eq!(e.resolution_notes.as_deref(), Some("looking"));
    assert_eq!(e.resolved_by.as_deref(), Some("ana"));
    assert!(e.resolved_at.is_none());

    let e = update_dlq(pool, id, Some("resolved"), Some("fixed upstream"), None).await.unwrap();
    assert_eq!(e.resolution_notes.as_deref(), Some("looking\nfixed upstream"));
    assert_eq!(e.resolved_by.as_deref(), Some("ana"));
    assert!(e.resolved_at.is_some());

    let e = update_dlq(pool, id, Some("pending"), None, None).await.unwrap();
    assert!(e.resolved_at.is_none(), "reopening clears resolved_at");
    assert_eq!(e.resolution_notes.as_deref(), Some("looking\nfixed upstream"));
}

#[tokio::test]
async fn dlq_update_with_unknown_status_raises_tk004_and_unknown_id_tk002() {
    let db = examples().await;
    let pool = &db.pool;
    let task = doomed_task(pool).await;
    let id = dlq_entries(pool, task).await[0].0;
    expect_sqlstate(update_dlq(pool, id, Some("forgotten"), None, None).await, "TK004");
    assert_eq!(dlq_entries(pool, task).await[0].2, "pending");
    expect_sqlstate(update_dlq(pool, id + 1000, Some("resolved"), None, None).await, "TK002");
}

// ---------------------------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn task_overview_counts_steps_per_state() {
    let db = examples().await;
    let pool = &db.pool;
    let task = create_task(pool, "demo", "diamond", json!({})).await;
    round(pool, "demo", None, worker).await;
    let row: (String, i32, i64, i64, i64, f64, Option<Ts>) = sqlx::query_as(
        "SELECT state, steps_total, steps_pending, steps_enqueued, steps_complete, completion_pct::float8, completed_at \
           FROM tasker.task_overview WHERE task_uuid = $1",
    )
    .bind(task)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(row, ("steps_in_process".into(), 4, 1, 2, 1, 25.0, None));

    run_until_idle(pool, "demo", None, worker).await;
    let (pct, done): (f64, i64) =
        sqlx::query_as("SELECT completion_pct::float8, steps_complete FROM tasker.task_overview WHERE task_uuid = $1")
            .bind(task)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!((pct, done), (100.0, 4));
}

#[tokio::test]
async fn task_overview_shows_the_last_error() {
    let db = examples().await;
    let pool = &db.pool;
    let task = doomed_task(pool).await;
    let (state, errors, msg): (String, i64, Option<String>) =
        sqlx::query_as("SELECT state, steps_error, last_error_message FROM tasker.task_overview WHERE task_uuid = $1")
            .bind(task)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!((state.as_str(), errors, msg.as_deref()), ("error", 1, Some("kaboom")));
}

#[tokio::test]
async fn step_overview_shows_dependencies_counters_and_readiness() {
    let db = examples().await;
    let pool = &db.pool;
    let task = create_task(pool, "demo", "diamond", json!({})).await;
    round(pool, "demo", None, worker).await;
    type Row = (String, String, Vec<String>, i32, bool, Option<Value>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT step_name, state, depends_on, parents_pending, ready, results \
           FROM tasker.step_overview WHERE task_uuid = $1 ORDER BY position",
    )
    .bind(task)
    .fetch_all(pool)
    .await
    .unwrap();
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_string()).collect::<Vec<_>>();
    assert_eq!(
        rows,
        vec![
            ("start".into(), "complete".into(), vec![], 0, false, Some(json!({"from": "start"}))),
            ("left".into(), "enqueued".into(), s(&["start"]), 0, false, None),
            ("right".into(), "enqueued".into(), s(&["start"]), 0, false, None),
            ("finish".into(), "pending".into(), s(&["left", "right"]), 2, false, None),
        ]
    );
}

#[tokio::test]
async fn dlq_overview_lists_failed_steps_and_the_current_task_state() {
    let db = examples().await;
    let pool = &db.pool;
    let task = doomed_task(pool).await;
    let row: (Uuid, String, String, String, Vec<String>, String) = sqlx::query_as(
        "SELECT task_uuid, state_at_entry, task_state_now, resolution_status, failed_steps, reason \
           FROM tasker.dlq_overview",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(row.0, task);
    assert_eq!((row.1.as_str(), row.2.as_str(), row.3.as_str()), ("error", "error", "pending"));
    assert_eq!(row.4, vec!["explode".to_string()]);
    assert!(row.5.contains("kaboom"));

    // After a successful operator fix the entry reads as a recovered failure.
    let explode = step(pool, task, "explode").await.step_uuid;
    operate(pool, "SELECT tasker.complete_step($1)", explode).await.unwrap();
    enqueue(pool, 100, None).await;
    run_until_idle(pool, "demo", None, worker).await;
    let (now_state, status): (String, String) =
        sqlx::query_as("SELECT task_state_now, resolution_status FROM tasker.dlq_overview")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!((now_state.as_str(), status.as_str()), ("complete", "retried"));
}
