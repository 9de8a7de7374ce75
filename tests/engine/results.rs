//! The worker protocol and the result path: claim (and re-claim of lost attempts), submit,
//! apply / process, the retry policy with its backoff, permanent failures, finalization into
//! error with a DLQ entry.

use chrono::Duration;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::*;

/// Registers demo/single (one step named `only`) with `retry` and creates a task of it.
async fn single(pool: &PgPool, retry: Value) -> Uuid {
    register(pool, template("demo", "single", &[("only", &[])], retry)).await;
    create_task(pool, "demo", "single", json!({})).await
}

fn ms(d: Duration) -> i64 {
    d.num_milliseconds()
}

#[tokio::test]
async fn submitted_result_is_applied_at_once_and_deletes_the_dispatch_message() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({})).await;
    let c = only(claim(pool, "demo", 10, None).await);
    assert_eq!(c.msg_id, queue_messages(pool, "demo").await[0].msg_id);
    assert!(submit(pool, &c, &Outcome::Success(json!({"n": 1}))).await);
    assert!(queue_messages(pool, "demo").await.is_empty());
    // Applied in the submit's own transaction: nothing goes through the results queue.
    assert_eq!(result_queue_len(pool).await, 0);
    let s = step(pool, task, "only").await;
    assert_eq!((s.state.as_str(), s.results), ("complete", Some(json!({"n": 1}))));
    assert!(s.completed_at.is_some());
    let events: Vec<String> = step_history(pool, s.step_uuid).await.into_iter().map(|h| h.2).collect();
    assert_eq!(events, ["enqueue", "claim", "complete"]);
    assert_eq!(process(pool, None).await.results, 0, "nothing is left for the result processor");
    // The task's last step is done: the task is finalized by the same transaction, through the
    // state machine's evaluate -> complete path, and is not left flagged for the finalizer.
    assert_eq!(task_state(pool, task).await, "complete");
    assert!(!task_flagged(pool, task).await);
    let path: Vec<String> = task_history(pool, task).await.into_iter().map(|h| h.2).collect();
    assert_eq!(path[path.len() - 2..], ["evaluate", "complete"]);
    assert!(finalize(pool, None).await.is_empty(), "nothing is left for the finalizer");
}

#[tokio::test]
async fn result_posted_to_the_results_queue_is_applied_by_the_result_processor() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({})).await;
    let c = only(claim(pool, "demo", 10, None).await);
    post_result(pool, &c, &Outcome::Success(json!({"n": 2}))).await;
    // Nothing is applied until the result processor runs.
    assert_eq!(step(pool, task, "only").await.state, "in_progress");
    let applied = process(pool, None).await;
    assert_eq!((applied.results, applied.completed, applied.tasks_flagged), (1, 1, 0));
    assert_eq!(task_state(pool, task).await, "complete", "finalized with its last step");
    let s = step(pool, task, "only").await;
    assert_eq!((s.state.as_str(), s.results), ("complete", Some(json!({"n": 2}))));
    assert_eq!(result_queue_len(pool).await, 0);
}

#[tokio::test]
async fn a_step_named_twice_in_one_submission_is_accepted_once() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({})).await;
    let c = only(claim(pool, "demo", 10, None).await);
    let accepted: Vec<bool> = sqlx::query_scalar("SELECT accepted FROM tasker.submit_step_results($1)")
        .bind(json!([result_json(&c, &Outcome::Success(json!("first"))), result_json(&c, &Outcome::ok())]))
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(accepted, [true, false]);
    let s = step(pool, task, "only").await;
    assert_eq!((s.state.as_str(), s.results), ("complete", Some(json!("first"))));
}

#[tokio::test]
async fn claim_moves_the_step_to_in_progress_and_counts_the_attempt() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({})).await;
    let c = only(claim(pool, "demo", 10, None).await);
    let s = step(pool, task, "only").await;
    assert_eq!((s.state.as_str(), s.attempts, c.attempt), ("in_progress", 1, 1));
    assert_eq!(s.dispatch_msg_id, Some(c.msg_id));
    let history = step_history(pool, s.step_uuid).await;
    assert_eq!(history.last().unwrap().3, Some(json!({"worker": "test-worker"})));
    assert!(claim(pool, "demo", 10, None).await.is_empty(), "an invisible message is not claimed again");
}

#[tokio::test]
async fn malformed_submission_is_refused_with_tk004_and_nothing_is_sent() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({})).await;
    let c = only(claim(pool, "demo", 10, None).await);
    let good = result_json(&c, &Outcome::ok());
    let mut no_error = result_json(&c, &Outcome::retryable("x"));
    no_error.as_object_mut().unwrap().remove("error");
    let mut bad_status = good.clone();
    bad_status["status"] = json!("maybe");
    for bad in [json!({"not": "an array"}), json!([good.clone(), bad_status]), json!([no_error])] {
        let res = sqlx::query("SELECT * FROM tasker.submit_step_results($1)").bind(&bad).execute(pool).await;
        expect_sqlstate(res, "TK004");
    }
    assert_eq!(result_queue_len(pool).await, 0);
    assert_eq!(queue_messages(pool, "demo").await.len(), 1);
    assert_eq!(step(pool, task, "only").await.state, "in_progress");
}

#[tokio::test]
async fn result_for_completed_step_is_ignored() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({})).await;
    let c = only(claim(pool, "demo", 10, None).await);
    assert!(submit(pool, &c, &Outcome::Success(json!("first"))).await);
    process(pool, None).await;
    assert!(!submit(pool, &c, &Outcome::Success(json!("second"))).await, "submission after completion accepted");
    let applied = apply(pool, json!([result_message(&c, &Outcome::permanent("late", "X"))]), None).await;
    assert_eq!((applied.completed, applied.failed, applied.ignored), (0, 0, 1));
    let s = step(pool, task, "only").await;
    assert_eq!((s.state.as_str(), s.results), ("complete", Some(json!("first"))));
}

#[tokio::test]
async fn malformed_message_in_results_batch_does_not_poison_the_others() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({})).await;
    let c = only(claim(pool, "demo", 10, None).await);
    let batch = json!([
        "garbage",
        {"step_uuid": "not-a-uuid", "attempt": 1, "status": "success"},
        {"step_uuid": c.step_uuid, "attempt": 1, "status": "exploded"},
        result_message(&c, &Outcome::ok())
    ]);
    let applied = apply(pool, batch, None).await;
    assert_eq!((applied.results, applied.completed, applied.ignored), (4, 1, 3));
    assert_eq!(step(pool, task, "only").await.state, "complete");
}

#[tokio::test]
async fn retryable_error_with_attempts_left_waits_within_the_backoff_window() {
    let db = test_db().await;
    let pool = &db.pool;
    let task =
        single(pool, json!({"max_attempts": 3, "backoff": "exponential", "base_ms": 1000, "max_ms": 60000})).await;
    let t0 = db_now(pool).await;
    let c = only(claim(pool, "demo", 10, Some(t0)).await);
    assert!(submit_at(pool, &c, &Outcome::retryable("flaky"), Some(t0)).await);
    assert!(task_flagged(pool, task).await);

    let s = step(pool, task, "only").await;
    assert_eq!(s.state, "waiting_for_retry");
    let wait = ms(s.next_retry_at.unwrap() - t0);
    assert!((750..=1000).contains(&wait), "first retry after {wait} ms, expected 750..=1000");
    assert_eq!(s.ready_at, s.next_retry_at);
    let err = s.last_error.unwrap();
    assert_eq!(
        (err["message"].as_str(), err["step"].as_str(), err["attempt"].as_i64()),
        (Some("flaky"), Some("only"), Some(1))
    );

    finalize(pool, Some(t0)).await;
    assert_eq!(task_state(pool, task).await, "waiting_for_retry");
}

#[tokio::test]
async fn step_waiting_for_retry_is_not_dispatched_before_next_retry_at() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({"base_ms": 1000})).await;
    let t0 = db_now(pool).await;
    let c = only(claim(pool, "demo", 10, Some(t0)).await);
    submit_at(pool, &c, &Outcome::retryable("flaky"), Some(t0)).await;
    finalize(pool, Some(t0)).await;
    let due = step(pool, task, "only").await.next_retry_at.unwrap();

    assert!(enqueue(pool, 100, Some(due - Duration::milliseconds(1))).await.is_empty());
    assert!(claim(pool, "demo", 10, None).await.is_empty());
    assert_eq!(enqueue(pool, 100, Some(due)).await.len(), 1);
    assert_eq!(task_state(pool, task).await, "steps_in_process");
    let again = only(claim(pool, "demo", 10, Some(due)).await);
    assert_eq!((again.step_uuid, again.attempt), (c.step_uuid, 2));
    let s = step(pool, task, "only").await;
    assert_eq!((s.state.as_str(), s.next_retry_at, s.ready_at), ("in_progress", None, None));
}

#[tokio::test]
async fn later_retries_back_off_exponentially_up_to_the_cap() {
    let db = test_db().await;
    let pool = &db.pool;
    let task =
        single(pool, json!({"max_attempts": 5, "backoff": "exponential", "base_ms": 1000, "max_ms": 3000})).await;
    let mut now = db_now(pool).await;
    let mut windows = Vec::new();
    for _ in 0..4 {
        let c = only(claim(pool, "demo", 10, Some(now)).await);
        submit_at(pool, &c, &Outcome::retryable("flaky"), Some(now)).await;
        let due = step(pool, task, "only").await.next_retry_at.unwrap();
        windows.push(ms(due - now));
        now = due;
        assert_eq!(enqueue(pool, 10, Some(now)).await.len(), 1);
    }
    // Attempts 1..4: 1000, 2000, 4000 -> capped 3000, 8000 -> capped 3000; each jittered down by <= 25%.
    for (w, d) in windows.iter().zip([1000, 2000, 3000, 3000]) {
        assert!(*w <= d && *w >= d * 3 / 4, "delays {windows:?}");
    }
}

#[tokio::test]
async fn retry_after_hint_sets_the_exact_delay() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({"base_ms": 10})).await;
    let t0 = db_now(pool).await;
    let c = only(claim(pool, "demo", 10, Some(t0)).await);
    submit_at(pool, &c, &Outcome::Retryable { message: "slow down".into(), retry_after_ms: Some(5000) }, Some(t0))
        .await;
    assert_eq!(step(pool, task, "only").await.next_retry_at, Some(t0 + Duration::milliseconds(5000)));
}

#[tokio::test]
async fn retry_delay_stays_within_its_documented_bounds() {
    let db = test_db().await;
    let pool = &db.pool;
    // (backoff, base, max, attempt, retry_after, min, max)
    type Case = (&'static str, i32, i32, i32, Option<i64>, i64, i64);
    let cases: [Case; 8] = [
        ("none", 1000, 60000, 3, None, 0, 0),
        ("linear", 100, 60000, 3, None, 225, 300),
        ("exponential", 100, 60000, 1, None, 75, 100),
        ("exponential", 100, 60000, 4, None, 600, 800),
        ("exponential", 1000, 5000, 20, None, 3750, 5000),
        ("exponential", 1000, 60000, 1000, None, 45000, 60000),
        ("exponential", 1000, 5000, 1, Some(1234), 1234, 1234),
        ("linear", 1000, 5000, 1, Some(-5), 0, 0),
    ];
    for (backoff, base, max, attempt, after, lo, hi) in cases {
        let (min, maxv): (i64, i64) = sqlx::query_as(
            "SELECT min(d), max(d) FROM (SELECT tasker.retry_delay_ms($1, $2, $3, $4, $5) AS d \
               FROM generate_series(1, 300)) x",
        )
        .bind(backoff)
        .bind(base)
        .bind(max)
        .bind(attempt)
        .bind(after)
        .fetch_one(pool)
        .await
        .unwrap();
        assert!(min >= lo && maxv <= hi, "{backoff} base {base} max {max} attempt {attempt}: {min}..{maxv}");
    }
}

#[tokio::test]
async fn retryable_error_on_the_last_attempt_fails_the_step() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({"max_attempts": 2, "backoff": "none"})).await;
    let mut claims = 0;
    let now = db_now(pool).await;
    for _ in 0..5 {
        let claimed = round(pool, "demo", Some(now), |_| Outcome::retryable("still flaky")).await;
        claims += claimed.len();
    }
    assert_eq!(claims, 2, "max_attempts 2 allows two runs");
    let s = step(pool, task, "only").await;
    assert_eq!((s.state.as_str(), s.attempts), ("error", 2));
    assert_eq!(s.last_error.as_ref().unwrap()["attempts_exhausted"], json!(true));
    assert_eq!(task_state(pool, task).await, "error");
    let dlq = dlq_entries(pool, task).await;
    assert_eq!(dlq.len(), 1);
    assert!(dlq[0].1.contains("step only failed after 2 attempt(s): still flaky"), "{}", dlq[0].1);
}

#[tokio::test]
async fn permanent_error_fails_the_step_and_the_task_ends_in_error_with_a_dlq_entry() {
    let db = test_db().await;
    let pool = &db.pool;
    load_examples(pool).await;
    let task = create_task(pool, "demo", "doomed", json!({})).await;
    let rounds = run_until_idle(pool, "demo", None, |c| match c.handler.as_str() {
        "fail_permanently" => Outcome::permanent("kaboom", "Boom"),
        _ => Outcome::ok(),
    })
    .await;
    assert_eq!(rounds, vec![vec!["prepare"], vec!["explode"]]);
    let states = step_states(pool, task).await;
    assert_eq!(states["explode"], "error");
    assert_eq!(states["never_runs"], "pending");
    assert_eq!(task_state(pool, task).await, "error");

    let dlq = dlq_entries(pool, task).await;
    assert_eq!(dlq.len(), 1);
    let (_, reason, status, snapshot) = &dlq[0];
    assert_eq!(reason, "step explode failed after 1 attempt(s): kaboom");
    assert_eq!(status, "pending");
    assert_eq!(snapshot["task"]["task_uuid"], json!(task));
    assert_eq!(snapshot["task"]["state"], json!("error"));
    let snap_steps = snapshot["steps"].as_array().unwrap();
    assert_eq!(snap_steps.len(), 3);
    assert_eq!(snap_steps[1]["name"], json!("explode"));
    assert_eq!(snap_steps[1]["state"], json!("error"));
    assert_eq!(snap_steps[1]["last_error"]["class"], json!("Boom"));
    assert_eq!(snap_steps[0]["results"], json!({"ok": true}));
    let last_error: Value = sqlx::query_scalar("SELECT last_error FROM tasker.tasks WHERE task_uuid = $1")
        .bind(task)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(last_error["message"], json!("kaboom"));
}

#[tokio::test]
async fn permanent_error_with_attempts_left_is_not_retried() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({"max_attempts": 5})).await;
    let c = only(claim(pool, "demo", 10, None).await);
    assert!(submit(pool, &c, &Outcome::permanent("bad input", "Validation")).await);
    let s = step(pool, task, "only").await;
    assert_eq!((s.state.as_str(), s.attempts, s.next_retry_at), ("error", 1, None));
}

#[tokio::test]
async fn failure_while_other_steps_run_blocks_the_task_until_they_finish() {
    let db = test_db().await;
    let pool = &db.pool;
    register(pool, template("demo", "twin", &[("a", &[]), ("b", &[])], json!({}))).await;
    let task = create_task(pool, "demo", "twin", json!({})).await;
    let claimed = claim(pool, "demo", 10, None).await;
    let a = claimed.iter().find(|c| c.step_name == "a").unwrap();
    let b = claimed.iter().find(|c| c.step_name == "b").unwrap();
    submit(pool, a, &Outcome::permanent("nope", "X")).await;
    process(pool, None).await;
    finalize(pool, None).await;
    assert_eq!(task_state(pool, task).await, "blocked_by_failures");
    assert!(dlq_entries(pool, task).await.is_empty());

    submit(pool, b, &Outcome::ok()).await;
    process(pool, None).await;
    finalize(pool, None).await;
    assert_eq!(task_state(pool, task).await, "error");
    assert_eq!(step(pool, task, "b").await.state, "complete");
    assert_eq!(dlq_entries(pool, task).await.len(), 1);
}

#[tokio::test]
async fn finalizing_an_errored_task_again_adds_no_dlq_entry() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({"max_attempts": 1})).await;
    round(pool, "demo", None, |_| Outcome::permanent("x", "X")).await;
    assert_eq!(task_state(pool, task).await, "error");
    let state: String = sqlx::query_scalar("SELECT tasker.finalize_task($1)").bind(task).fetch_one(pool).await.unwrap();
    assert_eq!(state, "error");
    assert_eq!(dlq_entries(pool, task).await.len(), 1);
    let res = sqlx::query("SELECT tasker.finalize_task($1)").bind(Uuid::now_v7()).execute(pool).await;
    expect_sqlstate(res, "TK002");
}

#[tokio::test]
async fn redelivered_message_of_in_progress_step_is_reclaimed_as_a_new_attempt() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({"max_attempts": 3})).await;
    let first = only(claim(pool, "demo", 10, None).await);
    expire_message(pool, "demo", first.msg_id).await;
    let second = only(claim(pool, "demo", 10, None).await);
    assert_eq!((second.step_uuid, second.msg_id, second.attempt), (first.step_uuid, first.msg_id, 2));
    let s = step(pool, task, "only").await;
    assert_eq!((s.state.as_str(), s.attempts), ("in_progress", 2));
    let last = step_history(pool, s.step_uuid).await.pop().unwrap();
    assert_eq!((last.1.as_str(), last.2.as_str()), ("in_progress", "reclaim"));
    assert!(last.3.unwrap()["reason"].as_str().unwrap().contains("visibility timeout"));
}

#[tokio::test]
async fn late_result_of_a_lost_attempt_is_not_accepted() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({"max_attempts": 3})).await;
    let first = only(claim(pool, "demo", 10, None).await);
    expire_message(pool, "demo", first.msg_id).await;
    let second = only(claim(pool, "demo", 10, None).await);
    assert!(!submit(pool, &first, &Outcome::Success(json!("stale"))).await);
    assert_eq!(result_queue_len(pool).await, 0);
    assert_eq!(queue_messages(pool, "demo").await.len(), 1, "the late ack must not delete the live message");
    // Even if it reached the results queue, the superseded attempt is ignored.
    let applied = apply(pool, json!([result_message(&first, &Outcome::Success(json!("stale")))]), None).await;
    assert_eq!(applied.ignored, 1);
    assert!(submit(pool, &second, &Outcome::Success(json!("fresh"))).await);
    process(pool, None).await;
    assert_eq!(step(pool, task, "only").await.results, Some(json!("fresh")));
}

#[tokio::test]
async fn redelivered_message_with_no_attempts_left_fails_the_step_at_claim() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({"max_attempts": 2})).await;
    let first = only(claim(pool, "demo", 10, None).await);
    expire_message(pool, "demo", first.msg_id).await;
    only(claim(pool, "demo", 10, None).await);
    expire_message(pool, "demo", first.msg_id).await;
    assert!(claim(pool, "demo", 10, None).await.is_empty(), "an exhausted step is not handed out again");
    assert!(queue_messages(pool, "demo").await.is_empty(), "the exhausted step's message is deleted");
    // Failed by the claim itself (through apply_step_results), not left for the result processor.
    assert_eq!(result_queue_len(pool).await, 0);
    let s = step(pool, task, "only").await;
    assert_eq!((s.state.as_str(), s.attempts), ("error", 2));
    assert_eq!(s.last_error.as_ref().unwrap()["class"], json!("VisibilityTimeout"));
    finalize(pool, None).await;
    assert_eq!(task_state(pool, task).await, "error");
    assert_eq!(dlq_entries(pool, task).await.len(), 1);
}

#[tokio::test]
async fn message_of_a_finished_step_is_discarded_at_claim() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({})).await;
    let c = only(claim(pool, "demo", 10, None).await);
    // The operator completes the step while the worker holds it; the message reappears.
    sqlx::query("SELECT tasker.complete_step($1, '\"by hand\"')").bind(c.step_uuid).execute(pool).await.unwrap();
    expire_message(pool, "demo", c.msg_id).await;
    assert!(claim(pool, "demo", 10, None).await.is_empty());
    assert!(queue_messages(pool, "demo").await.is_empty());
    let s = step(pool, task, "only").await;
    assert_eq!((s.state.as_str(), s.attempts), ("complete", 1));
}

#[tokio::test]
async fn message_naming_no_step_is_discarded_at_claim() {
    let db = test_db().await;
    let pool = &db.pool;
    single(pool, json!({})).await;
    sqlx::query("SELECT pgmq.send('worker_demo_queue', $1)")
        .bind(json!({"step_uuid": Uuid::now_v7()}))
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("SELECT pgmq.send('worker_demo_queue', '{\"junk\": true}')").execute(pool).await.unwrap();
    let claimed = claim(pool, "demo", 10, None).await;
    assert_eq!(claimed.len(), 1, "only the real step is claimed");
    assert_eq!(queue_messages(pool, "demo").await.len(), 1);
}

#[tokio::test]
async fn claim_and_heartbeat_in_unknown_namespace_raise_tk002() {
    let db = test_db().await;
    let res = sqlx::query("SELECT * FROM tasker.claim_steps('nowhere')").execute(&db.pool).await;
    expect_sqlstate(res, "TK002");
    let res =
        sqlx::query("SELECT * FROM tasker.extend_visibility('nowhere', ARRAY[1]::bigint[])").execute(&db.pool).await;
    expect_sqlstate(res, "TK002");
}

#[tokio::test]
async fn claim_with_zero_limit_raises_tk004() {
    let db = test_db().await;
    single(&db.pool, json!({})).await;
    let res = sqlx::query("SELECT * FROM tasker.claim_steps('demo', 0)").execute(&db.pool).await;
    expect_sqlstate(res, "TK004");
}

#[tokio::test]
async fn heartbeat_extends_held_messages_only() {
    let db = test_db().await;
    let pool = &db.pool;
    single(pool, json!({})).await;
    let c = only(claim(pool, "demo", 10, None).await);
    let extended: Vec<i64> = sqlx::query_scalar("SELECT * FROM tasker.extend_visibility('demo', $1, 600)")
        .bind(vec![c.msg_id, c.msg_id + 1000])
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(extended, vec![c.msg_id]);
    let vt_ahead: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM vt - clock_timestamp())::float8 FROM pgmq.q_worker_demo_queue WHERE msg_id = $1",
    )
    .bind(c.msg_id)
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(vt_ahead > 500.0, "{vt_ahead}");
}

#[tokio::test]
async fn a_result_that_cannot_be_applied_is_archived_and_does_not_block_the_others() {
    let db = test_db().await;
    let pool = &db.pool;
    register(pool, template("demo", "pair", &[("left", &[]), ("right", &[])], json!({}))).await;
    let task = create_task(pool, "demo", "pair", json!({})).await;
    let claimed = claim(pool, "demo", 10, None).await;
    assert_eq!(claimed.len(), 2);
    // Simulate an unexpected failure while applying one particular result.
    sqlx::raw_sql(
        "CREATE FUNCTION public.explode() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.results @> '{\"explode\": true}' THEN RAISE EXCEPTION 'cannot store this result'; END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER explode BEFORE UPDATE ON tasker.workflow_steps FOR EACH ROW EXECUTE FUNCTION public.explode();",
    )
    .execute(pool)
    .await
    .unwrap();
    let (poison, good) = (&claimed[0], &claimed[1]);
    post_result(pool, poison, &Outcome::Success(json!({"explode": true}))).await;
    post_result(pool, good, &Outcome::Success(json!({"fine": true}))).await;

    let processed = process(pool, None).await;
    assert_eq!((processed.results, processed.completed, processed.ignored), (2, 1, 1));
    assert_eq!(result_queue_len(pool).await, 0, "the queue is not jammed");
    let archived: i64 = count(pool, "SELECT count(*) FROM pgmq.a_orchestration_step_results").await;
    assert_eq!(archived, 1, "the poison message is kept in the archive");
    let states = step_states(pool, task).await;
    assert_eq!(states.values().filter(|s| *s == "complete").count(), 1, "{states:?}");
    assert_eq!(states.values().filter(|s| *s == "in_progress").count(), 1, "{states:?}");
}

#[tokio::test]
async fn a_submission_that_cannot_be_applied_changes_nothing_and_keeps_the_dispatch_message() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({})).await;
    let c = only(claim(pool, "demo", 10, None).await);
    sqlx::raw_sql(
        "CREATE FUNCTION public.explode() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.results @> '{\"explode\": true}' THEN RAISE EXCEPTION 'cannot store this result'; END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER explode BEFORE UPDATE ON tasker.workflow_steps FOR EACH ROW EXECUTE FUNCTION public.explode();",
    )
    .execute(pool)
    .await
    .unwrap();
    let res = sqlx::query("SELECT * FROM tasker.submit_step_results($1)")
        .bind(json!([result_json(&c, &Outcome::Success(json!({"explode": true})))]))
        .execute(pool)
        .await;
    assert!(res.is_err(), "the call fails as a whole");
    // All or nothing: the step is still in progress and its message will be redelivered.
    assert_eq!(step(pool, task, "only").await.state, "in_progress");
    assert_eq!(queue_messages(pool, "demo").await.len(), 1);
    assert_eq!(result_queue_len(pool).await, 0);
    assert!(submit(pool, &c, &Outcome::Success(json!({"fine": true}))).await, "a later good report is applied");
    assert_eq!(step(pool, task, "only").await.state, "complete");
}

#[tokio::test]
async fn a_claim_in_a_transaction_begun_before_its_parent_completed_is_dated_after_the_parent() {
    use sqlx::Connection;
    let db = test_db().await;
    let pool = &db.pool;
    register(pool, template("demo", "pair", &[("a", &[]), ("b", &["a"])], json!({}))).await;
    let task = create_task(pool, "demo", "pair", json!({})).await;

    // A worker's transaction (and so its now()) begins before a's result is applied.
    let mut worker = connect(&db).await;
    let mut tx = worker.begin().await.unwrap();
    sqlx::query("SELECT now()").execute(&mut *tx).await.unwrap();
    let a = only(claim(pool, "demo", 10, None).await);
    assert!(submit(pool, &a, &Outcome::ok()).await);
    process(pool, None).await;

    let claimed: Vec<Claimed> = sqlx::query_as("SELECT * FROM tasker.claim_steps('demo', 10, 30, 'late-starter')")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "b was dispatched when a completed");
    tx.commit().await.unwrap();
    let (pa, pb) = (step(pool, task, "a").await, step(pool, task, "b").await);
    assert!(
        pb.claimed_at >= pa.completed_at,
        "b claimed at {:?}, before its parent completed at {:?}",
        pb.claimed_at,
        pa.completed_at
    );
}

/// An acknowledgement asks whether its task has anything left in flight; it must ask about its
/// task only. It used to read every in-flight step of every task (a hashed subplan over
/// workflow_steps_in_flight), so its cost grew with the whole system's work in flight.
#[tokio::test]
async fn an_acknowledgement_reads_its_own_tasks_steps_not_everything_in_flight() {
    let db = test_db().await;
    let pool = &db.pool;
    register(pool, template("demo", "pair", &[("a", &[]), ("b", &["a"])], json!({"max_attempts": 1}))).await;
    for i in 0..300 {
        create_task(pool, "demo", "pair", json!({"i": i})).await;
    }
    sqlx::query("ANALYZE tasker.workflow_steps").execute(pool).await.expect("analyze");
    let c = claim(pool, "demo", 1, None).await.remove(0);
    // Differences within one transaction (the session's pending counts may hold earlier ones).
    const FETCHED: &str =
        "SELECT idx_tup_fetch + seq_tup_read FROM pg_stat_xact_user_tables WHERE relid = 'tasker.workflow_steps'::regclass";
    let mut tx = pool.begin().await.expect("begin");
    let before: i64 = sqlx::query_scalar(FETCHED).fetch_one(&mut *tx).await.expect("stats");
    let accepted: bool = sqlx::query_scalar("SELECT accepted FROM tasker.submit_step_results($1)")
        .bind(json!([result_json(&c, &Outcome::ok())]))
        .fetch_one(&mut *tx)
        .await
        .expect("submit");
    let read = sqlx::query_scalar::<_, i64>(FETCHED).fetch_one(&mut *tx).await.expect("stats") - before;
    tx.commit().await.expect("commit");
    assert!(accepted);
    assert!(read < 60, "one acknowledgement read {read} step rows with 300 steps of other tasks in flight");
}

/// `_complete_tasks` completes, in one statement, tasks whose steps are all done, with the
/// history, flag and notification `_evaluate_task` gives them; a done task outside the evaluate
/// path (here evaluating_results) takes `_evaluate_task`'s own path. Tasks not given are untouched.
#[tokio::test]
async fn done_tasks_are_completed_together_and_open_ones_left_alone() {
    let db = test_db().await;
    let pool = &db.pool;
    register(pool, template("demo", "pair", &[("a", &[]), ("b", &["a"])], json!({}))).await;
    let done = create_task(pool, "demo", "pair", json!({"n": 1})).await;
    let open = create_task(pool, "demo", "pair", json!({"n": 2})).await;
    let evaluating = create_task(pool, "demo", "pair", json!({"n": 3})).await;
    // Steps done behind the state machine's back, and one task caught mid-evaluation.
    sqlx::query("UPDATE tasker.workflow_steps SET state = 'complete', completed_at = now(), ready_at = NULL WHERE task_uuid = ANY ($1)")
        .bind(vec![done, evaluating])
        .execute(pool)
        .await
        .expect("steps");
    sqlx::query("UPDATE tasker.workflow_steps SET state = 'complete', completed_at = now(), ready_at = NULL WHERE task_uuid = $1 AND name = 'a'")
        .bind(open)
        .execute(pool)
        .await
        .expect("one step");
    sqlx::query(
        "UPDATE tasker.tasks SET state = 'evaluating_results', finalization_requested_at = now() WHERE task_uuid = $1",
    )
    .bind(evaluating)
    .execute(pool)
    .await
    .expect("task");
    sqlx::query("UPDATE tasker.tasks SET finalization_requested_at = now() WHERE task_uuid = $1")
        .bind(done)
        .execute(pool)
        .await
        .expect("flag");
    let before = |t| async move { task_history(pool, t).await.len() };
    let (h_done, h_open, h_eval) = (before(done).await, before(open).await, before(evaluating).await);

    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await.expect("listener");
    listener.listen("tasker_task_changed").await.expect("listen");
    let mut tasks = vec![done, open, evaluating];
    tasks.sort();
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("SELECT 1 FROM tasker.tasks WHERE task_uuid = ANY ($1) ORDER BY task_uuid FOR UPDATE")
        .bind(&tasks)
        .execute(&mut *tx)
        .await
        .expect("lock");
    let mut given = vec![done, evaluating];
    given.sort();
    sqlx::query("SELECT tasker._complete_tasks($1, now())")
        .bind(&given)
        .execute(&mut *tx)
        .await
        .expect("_complete_tasks");
    tx.commit().await.expect("commit");

    assert_eq!(task_state(pool, done).await, "complete");
    assert_eq!(task_state(pool, evaluating).await, "complete");
    assert_eq!(task_state(pool, open).await, "steps_in_process");
    assert!(!task_flagged(pool, done).await && !task_flagged(pool, evaluating).await);
    let new_rows = |h: Vec<(Option<String>, String, String)>, from: usize| h[from..].to_vec();
    let s = |x: &str| x.to_string();
    assert_eq!(
        new_rows(task_history(pool, done).await, h_done),
        vec![
            (Some(s("steps_in_process")), s("evaluating_results"), s("evaluate")),
            (Some(s("evaluating_results")), s("complete"), s("complete"))
        ]
    );
    assert_eq!(
        new_rows(task_history(pool, evaluating).await, h_eval),
        vec![(Some(s("evaluating_results")), s("complete"), s("complete"))]
    );
    assert_eq!(task_history(pool, open).await.len(), h_open);
    let metadata: Vec<Value> = sqlx::query_scalar(
        "SELECT metadata FROM tasker.task_transitions WHERE task_uuid = $1 ORDER BY id DESC LIMIT 2",
    )
    .bind(done)
    .fetch_all(pool)
    .await
    .expect("metadata");
    let counts = json!({"steps_total": 2, "steps_done": 2, "steps_in_flight": 0, "steps_failed": 0,
                        "steps_retrying": 0, "steps_ready": 0});
    assert_eq!(metadata, vec![counts.clone(), counts]);
    let completed_at: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT completed_at FROM tasker.tasks WHERE task_uuid = $1")
            .bind(done)
            .fetch_one(pool)
            .await
            .expect("completed_at");
    assert!(completed_at.is_some());

    let mut heard = vec![
        listener.recv().await.expect("notification").payload().to_string(),
        listener.recv().await.expect("notification").payload().to_string(),
    ];
    heard.sort();
    let mut want = vec![format!("{done}:complete"), format!("{evaluating}:complete")];
    want.sort();
    assert_eq!(heard, want);
}

/// A step's ordinary transitions (enqueue, claim, complete, its children's counters) are HOT
/// updates: no index of workflow_steps names a column they change, and its pages keep room for
/// the new versions (fillfactor), so they write no index entry.
#[tokio::test]
async fn a_steps_ordinary_transitions_are_hot_updates() {
    let db = test_db().await;
    let pool = &db.pool;
    register(pool, template("demo", "trio", &[("a", &[]), ("b", &["a"]), ("c", &["a", "b"])], json!({}))).await;
    let task = create_task(pool, "demo", "trio", json!({})).await;
    const UPDATES: &str = "SELECT pg_stat_get_xact_tuples_updated('tasker.workflow_steps'::regclass),
                                  pg_stat_get_xact_tuples_hot_updated('tasker.workflow_steps'::regclass)";
    let mut tx = pool.begin().await.expect("begin");
    for _ in 0..3 {
        let claimed: Vec<(i64, uuid::Uuid, i32)> =
            sqlx::query_as("SELECT msg_id, step_uuid, attempt FROM tasker.claim_steps('demo', 10, 30)")
                .fetch_all(&mut *tx)
                .await
                .expect("claim");
        assert_eq!(claimed.len(), 1, "one step ready at a time: {claimed:?}");
        let (msg_id, step_uuid, attempt) = claimed[0];
        let accepted: bool = sqlx::query_scalar("SELECT accepted FROM tasker.submit_step_results($1)")
            .bind(json!([{"step_uuid": step_uuid, "attempt": attempt, "msg_id": msg_id, "status": "success", "result": {}}]))
            .fetch_one(&mut *tx)
            .await
            .expect("submit");
        assert!(accepted);
    }
    let (updated, hot): (i64, i64) = sqlx::query_as(UPDATES).fetch_one(&mut *tx).await.expect("stats");
    tx.commit().await.expect("commit");
    let states: Vec<String> =
        sqlx::query_scalar("SELECT state FROM tasker.workflow_steps WHERE task_uuid = $1 ORDER BY name")
            .bind(task)
            .fetch_all(pool)
            .await
            .expect("states");
    assert_eq!(states, ["complete", "complete", "complete"]);
    // a, b, c claimed and completed; b and c enqueued; c's counter decremented once.
    assert!(updated >= 9, "{updated} step updates");
    assert_eq!(hot, updated, "{hot} of {updated} step updates were HOT");
}

/// One submission may carry results of steps of several namespaces: each queue's dispatch
/// messages are locked and deleted, and every result is applied.
#[tokio::test]
async fn one_submission_applies_results_from_two_namespaces_queues() {
    let db = test_db().await;
    let pool = &db.pool;
    register(pool, template("demo", "single", &[("only", &[])], json!({}))).await;
    register(pool, template("shop", "single", &[("only", &[])], json!({}))).await;
    let a = create_task(pool, "demo", "single", json!({})).await;
    let b = create_task(pool, "shop", "single", json!({})).await;
    let ca = only(claim(pool, "demo", 10, None).await);
    let cb = only(claim(pool, "shop", 10, None).await);
    let rows: Vec<(Uuid, bool)> = sqlx::query_as("SELECT step_uuid, accepted FROM tasker.submit_step_results($1)")
        .bind(json!([result_json(&cb, &Outcome::ok()), result_json(&ca, &Outcome::ok())]))
        .fetch_all(pool)
        .await
        .expect("submit_step_results");
    assert_eq!(rows, vec![(cb.step_uuid, true), (ca.step_uuid, true)]);
    assert!(queue_messages(pool, "demo").await.is_empty());
    assert!(queue_messages(pool, "shop").await.is_empty());
    assert_eq!((task_state(pool, a).await, task_state(pool, b).await), ("complete".into(), "complete".into()));
}

/// A connection prepares the hot functions' plans once, with the statistics of that moment. A
/// chained call (a result applied, its child released and dispatched, the child claimed) whose
/// plans were prepared while the tables were small and analyzed empty must still read its own
/// rows by key once the tables have grown, not whole tables (docs/benchmarks.md, plans prepared
/// on near-empty tables). It read 2,618 step and task rows here before its statements were bounded
/// by their keys.
#[tokio::test]
async fn a_chained_call_planned_on_empty_tables_reads_its_own_rows() {
    let db = test_db().await;
    let pool = &db.pool;
    register(pool, template("demo", "pair", &[("a", &[]), ("b", &["a"])], json!({"max_attempts": 1}))).await;
    register(pool, template("other", "single", &[("only", &[])], json!({}))).await;
    sqlx::query(
        "ANALYZE tasker.tasks, tasker.workflow_steps, tasker.workflow_step_edges, tasker.workflow_step_transitions",
    )
    .execute(pool)
    .await
    .expect("analyze");
    let create_others = |n: usize| async move {
        let requests: Vec<serde_json::Value> =
            (0..n).map(|_| json!({"namespace": "other", "name": "single"})).collect();
        sqlx::query("SELECT count(*) FROM tasker.create_tasks($1)")
            .bind(json!(requests))
            .execute(pool)
            .await
            .expect("create");
    };
    create_others(30).await;

    // One session runs a whole chain now: its plans are made with these statistics.
    type Row = (Uuid, Option<bool>, Option<i64>, Option<i32>);
    let mut conn = pool.acquire().await.expect("connection");
    let chained = |results: serde_json::Value| {
        sqlx::query_as::<_, Row>(
            "SELECT step_uuid, accepted, msg_id, attempt FROM tasker.submit_and_claim($1, 'demo', 1, 30, 'w')",
        )
        .bind(results)
    };
    let ack = |rows: &[Row]| {
        let (step, _, msg, attempt) = rows.iter().find(|r| r.1.is_none()).expect("a claimed step");
        json!([{"step_uuid": step, "attempt": attempt, "msg_id": msg, "status": "success", "result": {}}])
    };
    create_task(pool, "demo", "pair", json!({"n": 1})).await;
    let a = chained(json!([])).fetch_all(&mut *conn).await.expect("claim a");
    let b = chained(ack(&a)).fetch_all(&mut *conn).await.expect("ack a, claim b");
    chained(ack(&b)).fetch_all(&mut *conn).await.expect("ack b");

    // The tables grow; nobody analyzes them. Then the same session runs the same chain.
    create_others(400).await;
    create_task(pool, "demo", "pair", json!({"n": 2})).await;
    let a = chained(json!([])).fetch_all(&mut *conn).await.expect("claim a");
    const FETCHED: &str = "SELECT coalesce(sum(idx_tup_fetch + seq_tup_read), 0)::bigint FROM pg_stat_xact_user_tables
                            WHERE relid IN ('tasker.workflow_steps'::regclass, 'tasker.tasks'::regclass)";
    // Differences within one transaction (the session's pending counts may hold earlier ones).
    sqlx::query("BEGIN").execute(&mut *conn).await.expect("begin");
    let before: i64 = sqlx::query_scalar(FETCHED).fetch_one(&mut *conn).await.expect("stats");
    let b = chained(ack(&a)).fetch_all(&mut *conn).await.expect("ack a, claim b");
    let read = sqlx::query_scalar::<_, i64>(FETCHED).fetch_one(&mut *conn).await.expect("stats") - before;
    sqlx::query("COMMIT").execute(&mut *conn).await.expect("commit");
    assert_eq!(b.iter().filter(|r| r.1 == Some(true)).count(), 1, "a accepted: {b:?}");
    assert_eq!(b.iter().filter(|r| r.1.is_none()).count(), 1, "b claimed: {b:?}");
    assert!(read < 60, "one chained call read {read} step and task rows with 430 other tasks in the tables");
}
