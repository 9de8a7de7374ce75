//! Which engine calls commit asynchronously, and that what they change stays right when they do:
//! a claim that read messages (as its transaction's first write) and the finalizer's call turn
//! `synchronous_commit` off for their own transaction only (a lost one is re-made:
//! docs/worker-protocol.md), a claim chained to an acknowledgement does not; the finalizer clears a
//! task's flag in the same row write as the task's move.

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::*;

/// `synchronous_commit` as a transaction that starts with it `on` (the server default; the test
/// cluster runs with it off) sees it after running `sql`.
async fn commit_mode_after(pool: &PgPool, sql: &str) -> String {
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("SET LOCAL synchronous_commit = on").execute(&mut *tx).await.expect("set");
    sqlx::query(sql).execute(&mut *tx).await.expect(sql);
    let mode: String = sqlx::query_scalar("SHOW synchronous_commit").fetch_one(&mut *tx).await.expect("show");
    tx.commit().await.expect("commit");
    mode
}

async fn single_task(pool: &PgPool) -> Uuid {
    register(pool, template("demo", "single", &[("only", &[])], json!({"max_attempts": 1}))).await;
    create_task(pool, "demo", "single", json!({})).await
}

#[tokio::test]
async fn a_claim_that_read_messages_commits_asynchronously_and_an_empty_one_changes_nothing() {
    let db = test_db().await;
    let pool = &db.pool;
    let _task = single_task(pool).await;
    let server: String = sqlx::query_scalar("SHOW synchronous_commit").fetch_one(pool).await.expect("show");
    assert_eq!(commit_mode_after(pool, "SELECT * FROM tasker.claim_steps('demo', 10, 30)").await, "off");
    // Nothing left to read: the transaction keeps its setting.
    assert_eq!(commit_mode_after(pool, "SELECT * FROM tasker.claim_steps('demo', 10, 30)").await, "on");
    // The setting was the claim's transaction's alone: the sessions keep the server's.
    for _ in 0..4 {
        let mode: String = sqlx::query_scalar("SHOW synchronous_commit").fetch_one(pool).await.expect("show");
        assert_eq!(mode, server);
    }
}

#[tokio::test]
async fn the_result_is_acknowledged_durably() {
    let db = test_db().await;
    let pool = &db.pool;
    let _task = single_task(pool).await;
    let c = claim(pool, "demo", 1, None).await.remove(0);
    let submit = format!(
        "SELECT * FROM tasker.submit_step_results('[{{\"step_uuid\": \"{}\", \"attempt\": {}, \"msg_id\": {}, \"status\": \"success\"}}]')",
        c.step_uuid, c.attempt, c.msg_id
    );
    assert_eq!(commit_mode_after(pool, &submit).await, "on");
}

#[tokio::test]
async fn a_claim_chained_to_an_acknowledgement_claims_the_released_child_and_commits_durably() {
    let db = test_db().await;
    let pool = &db.pool;
    register(pool, template("demo", "pair", &[("first", &[]), ("second", &["first"])], json!({"max_attempts": 1})))
        .await;
    let task = create_task(pool, "demo", "pair", json!({})).await;
    let c = claim(pool, "demo", 1, None).await.remove(0);

    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("SET LOCAL synchronous_commit = on").execute(&mut *tx).await.expect("set");
    let accepted: Vec<bool> = sqlx::query_scalar("SELECT accepted FROM tasker.submit_step_results($1)")
        .bind(json!([{"step_uuid": c.step_uuid, "attempt": c.attempt, "msg_id": c.msg_id, "status": "success"}]))
        .fetch_all(&mut *tx)
        .await
        .expect("submit");
    let claimed: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT task_uuid, step_name FROM tasker.claim_steps('demo', 10, 30, 'chained')")
            .fetch_all(&mut *tx)
            .await
            .expect("claim");
    let mode: String = sqlx::query_scalar("SHOW synchronous_commit").fetch_one(&mut *tx).await.expect("show");
    tx.commit().await.expect("commit");

    assert_eq!(accepted, vec![true]);
    assert_eq!(claimed, vec![(task, "second".to_string())], "the released child is claimed in the same transaction");
    assert_eq!(mode, "on", "a claim after an acknowledgement leaves its commit durable");
    assert_eq!(step_states(pool, task).await["second"], "in_progress");
}

#[tokio::test]
async fn submit_and_claim_applies_the_results_then_claims_in_one_durable_commit() {
    let db = test_db().await;
    let pool = &db.pool;
    register(pool, template("demo", "pair", &[("first", &[]), ("second", &["first"])], json!({"max_attempts": 1})))
        .await;
    let task = create_task(pool, "demo", "pair", json!({})).await;
    let c = claim(pool, "demo", 1, None).await.remove(0);
    let results = json!([
        {"step_uuid": c.step_uuid, "attempt": c.attempt, "msg_id": c.msg_id, "status": "success", "result": {"n": 1}},
        {"step_uuid": c.step_uuid, "attempt": c.attempt, "msg_id": c.msg_id, "status": "success"}
    ]);

    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("SET LOCAL synchronous_commit = on").execute(&mut *tx).await.expect("set");
    type Row = (Uuid, Option<bool>, Option<i64>, Option<String>, Option<serde_json::Value>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT step_uuid, accepted, msg_id, step_name, parent_results FROM tasker.submit_and_claim($1, 'demo', 10, 30, 'w')",
    )
    .bind(&results)
    .fetch_all(&mut *tx)
    .await
    .expect("submit_and_claim");
    let mode: String = sqlx::query_scalar("SHOW synchronous_commit").fetch_one(&mut *tx).await.expect("show");
    tx.commit().await.expect("commit");

    // The results first, in order (a repeat in the same call is refused), then the claimed child,
    // which already sees its parent's result.
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!((rows[0].0, rows[0].1, rows[0].2), (c.step_uuid, Some(true), None));
    assert_eq!((rows[1].0, rows[1].1), (c.step_uuid, Some(false)));
    assert_eq!(rows[2].1, None);
    assert!(rows[2].2.is_some());
    assert_eq!(rows[2].3.as_deref(), Some("second"));
    assert_eq!(rows[2].4, Some(json!({"first": {"n": 1}})));
    assert_eq!(mode, "on", "the acknowledgement's commit stays durable");
    let states = step_states(pool, task).await;
    assert_eq!((states["first"].as_str(), states["second"].as_str()), ("complete", "in_progress"));

    // A claim that fails undoes the whole call: nothing of the results is applied.
    let d = claim(pool, "demo", 1, None).await;
    assert!(d.is_empty());
    let task2 = create_task(pool, "demo", "pair", json!({})).await;
    let c2 = claim(pool, "demo", 1, None).await.remove(0);
    let err = sqlx::query("SELECT * FROM tasker.submit_and_claim($1, 'no_such_namespace')")
        .bind(json!([{"step_uuid": c2.step_uuid, "attempt": c2.attempt, "msg_id": c2.msg_id, "status": "success"}]))
        .execute(pool)
        .await
        .expect_err("unknown namespace");
    assert!(err.to_string().contains("no_such_namespace"), "{err}");
    assert_eq!(step_states(pool, task2).await["first"], "in_progress");
}

#[tokio::test]
async fn the_finalizer_commits_asynchronously_and_clears_the_flag_with_the_move() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single_task(pool).await;
    let c = claim(pool, "demo", 1, None).await.remove(0);
    assert!(submit(pool, &c, &Outcome::permanent("broken", "Broken")).await);
    assert!(task_flagged(pool, task).await);

    // The session's pending table counts (pg_stat_xact_user_tables) may still hold earlier
    // transactions' until the session flushes them: compare before and after, in one transaction.
    const UPDATES: &str = "SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relid = 'tasker.tasks'::regclass";
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("SET LOCAL synchronous_commit = on").execute(&mut *tx).await.expect("set");
    let before: i64 = sqlx::query_scalar(UPDATES).fetch_one(&mut *tx).await.expect("xact stats");
    let taken: Vec<(Uuid, String, String)> =
        sqlx::query_as("SELECT * FROM tasker.finalize_tasks(10)").fetch_all(&mut *tx).await.expect("finalize");
    let mode: String = sqlx::query_scalar("SHOW synchronous_commit").fetch_one(&mut *tx).await.expect("show");
    let upd = sqlx::query_scalar::<_, i64>(UPDATES).fetch_one(&mut *tx).await.expect("xact stats") - before;
    tx.commit().await.expect("commit");
    assert_eq!(taken, vec![(task, "steps_in_process".to_string(), "error".to_string())]);
    assert_eq!(mode, "off");
    assert_eq!(upd, 1, "the move and the flag's clearing are one row write");
    assert!(!task_flagged(pool, task).await);
}

#[tokio::test]
async fn a_flagged_task_already_in_its_state_loses_its_flag_and_gains_no_history() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single_task(pool).await;
    sqlx::query("UPDATE tasker.tasks SET finalization_requested_at = now() WHERE task_uuid = $1")
        .bind(task)
        .execute(pool)
        .await
        .expect("flag");
    let history = task_history(pool, task).await.len();
    let taken = finalize(pool, None).await;
    assert_eq!(taken, vec![(task, "steps_in_process".to_string(), "steps_in_process".to_string())]);
    assert!(!task_flagged(pool, task).await);
    assert_eq!(task_history(pool, task).await.len(), history);
    // finalize_task (operators) clears it the same way.
    sqlx::query("UPDATE tasker.tasks SET finalization_requested_at = now() WHERE task_uuid = $1")
        .bind(task)
        .execute(pool)
        .await
        .expect("flag");
    let state: String =
        sqlx::query_scalar("SELECT tasker.finalize_task($1)").bind(task).fetch_one(pool).await.expect("finalize_task");
    assert_eq!(state, "steps_in_process");
    assert!(!task_flagged(pool, task).await);
}
