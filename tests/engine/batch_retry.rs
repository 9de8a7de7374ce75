//! tasker.retry_failed_steps(filter): every filter key selects the failed steps it names, dry
//! runs change nothing, a second call finds nothing left, and retried tasks run to completion.

use std::collections::BTreeSet;

use chrono::Duration;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::*;

#[derive(Debug, Clone, sqlx::FromRow)]
struct Retried {
    step_uuid: Uuid,
    task_uuid: Uuid,
    namespace: String,
    task_name: String,
    step_name: String,
    previous_attempts: i32,
    last_error: Option<Value>,
    task_state_before: String,
    task_state_after: String,
}

async fn retry(pool: &PgPool, filter: Value) -> Result<Vec<Retried>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM tasker.retry_failed_steps($1)").bind(filter).fetch_all(pool).await
}

fn tasks_of(rows: &[Retried]) -> BTreeSet<Uuid> {
    rows.iter().map(|r| r.task_uuid).collect()
}

/// A database with alpha/one, alpha/two (two independent steps a and b) and beta/one, each step
/// allowed one attempt.
async fn fixture() -> TestDb {
    let db = test_db().await;
    let once = json!({"max_attempts": 1});
    register(&db.pool, template("alpha", "one", &[("work", &[])], once.clone())).await;
    register(&db.pool, template("alpha", "two", &[("a", &[]), ("b", &[])], once.clone())).await;
    register(&db.pool, template("beta", "one", &[("work", &[])], once)).await;
    db
}

/// Creates a task of ns/name and fails every one of its steps at `now` with the given error;
/// the task ends in error.
async fn failed_task(pool: &PgPool, ns: &str, name: &str, message: &str, class: &str, now: Option<Ts>) -> Uuid {
    let task = create_task(pool, ns, name, json!({"id": Uuid::now_v7()})).await;
    let claimed = fail_claimed(pool, ns, message, class, now).await;
    assert!(claimed.iter().all(|c| c.task_uuid == task));
    assert_eq!(task_state(pool, task).await, "error");
    task
}

#[tokio::test]
async fn retry_by_namespace_resets_only_that_namespace() {
    let db = fixture().await;
    let pool = &db.pool;
    let a = failed_task(pool, "alpha", "one", "boom", "X", None).await;
    let b = failed_task(pool, "beta", "one", "boom", "X", None).await;
    let rows = retry(pool, json!({"namespace": "alpha"})).await.unwrap();
    assert_eq!(tasks_of(&rows), BTreeSet::from([a]));
    assert_eq!(rows[0].namespace, "alpha");
    assert_eq!(step(pool, a, "work").await.state, "pending");
    assert_eq!(step(pool, b, "work").await.state, "error");
    assert_eq!(task_state(pool, b).await, "error");
}

#[tokio::test]
async fn retry_by_template_name_resets_only_that_template() {
    let db = fixture().await;
    let pool = &db.pool;
    let one = failed_task(pool, "alpha", "one", "boom", "X", None).await;
    let two = failed_task(pool, "alpha", "two", "boom", "X", None).await;
    let rows = retry(pool, json!({"name": "two"})).await.unwrap();
    assert_eq!(tasks_of(&rows), BTreeSet::from([two]));
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.task_name == "two"));
    assert_eq!(task_state(pool, one).await, "error");
}

#[tokio::test]
async fn retry_by_task_uuids_resets_only_those_tasks() {
    let db = fixture().await;
    let pool = &db.pool;
    let t1 = failed_task(pool, "alpha", "one", "boom", "X", None).await;
    let t2 = failed_task(pool, "alpha", "one", "boom", "X", None).await;
    let t3 = failed_task(pool, "beta", "one", "boom", "X", None).await;
    let rows = retry(pool, json!({"task_uuids": [t1, t3]})).await.unwrap();
    assert_eq!(tasks_of(&rows), BTreeSet::from([t1, t3]));
    assert_eq!(task_state(pool, t2).await, "error");
}

#[tokio::test]
async fn retry_by_error_text_matches_case_insensitively() {
    let db = fixture().await;
    let pool = &db.pool;
    let net = failed_task(pool, "alpha", "one", "Connection RESET by peer", "Net", None).await;
    let input = failed_task(pool, "alpha", "one", "bad input", "Validation", None).await;
    let rows = retry(pool, json!({"error_contains": "connection reset"})).await.unwrap();
    assert_eq!(tasks_of(&rows), BTreeSet::from([net]));
    assert_eq!(rows[0].last_error.as_ref().unwrap()["message"], json!("Connection RESET by peer"));
    assert_eq!(task_state(pool, input).await, "error");
}

#[tokio::test]
async fn retry_by_error_class_matches_exactly() {
    let db = fixture().await;
    let pool = &db.pool;
    let net = failed_task(pool, "alpha", "one", "timeout", "Net", None).await;
    failed_task(pool, "alpha", "one", "timeout", "Network", None).await;
    let rows = retry(pool, json!({"error_class": "Net"})).await.unwrap();
    assert_eq!(tasks_of(&rows), BTreeSet::from([net]));
}

#[tokio::test]
async fn retry_by_failure_time_window() {
    let db = fixture().await;
    let pool = &db.pool;
    let now = db_now(pool).await;
    let old = failed_task(pool, "alpha", "one", "boom", "X", Some(now - Duration::hours(2))).await;
    let recent = failed_task(pool, "alpha", "one", "boom", "X", Some(now)).await;
    let cut = (now - Duration::hours(1)).to_rfc3339();

    let dry = json!({"failed_before": cut, "dry_run": true});
    assert_eq!(tasks_of(&retry(pool, dry).await.unwrap()), BTreeSet::from([old]));
    let rows = retry(pool, json!({"failed_after": cut})).await.unwrap();
    assert_eq!(tasks_of(&rows), BTreeSet::from([recent]));
    let rows = retry(pool, json!({"failed_before": cut})).await.unwrap();
    assert_eq!(tasks_of(&rows), BTreeSet::from([old]));
}

#[tokio::test]
async fn retry_by_step_names_resets_only_those_steps() {
    let db = fixture().await;
    let pool = &db.pool;
    let task = failed_task(pool, "alpha", "two", "boom", "X", None).await;
    let rows = retry(pool, json!({"step_names": ["b"]})).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.step_name.as_str()).collect::<Vec<_>>(), vec!["b"]);
    let states = step_states(pool, task).await;
    assert_eq!((states["a"].as_str(), states["b"].as_str()), ("error", "pending"));
    // a is still failed and b can run: the task is no longer in error but blocked by a.
    assert_eq!(rows[0].task_state_after, "blocked_by_failures");
}

#[tokio::test]
async fn filters_combine_with_and() {
    let db = fixture().await;
    let pool = &db.pool;
    let hit = failed_task(pool, "alpha", "one", "disk full", "Io", None).await;
    failed_task(pool, "alpha", "one", "disk full", "Other", None).await;
    failed_task(pool, "beta", "one", "disk full", "Io", None).await;
    let rows = retry(pool, json!({"namespace": "alpha", "error_class": "Io", "error_contains": "DISK"})).await.unwrap();
    assert_eq!(tasks_of(&rows), BTreeSet::from([hit]));
}

#[tokio::test]
async fn retry_reports_what_it_changed() {
    let db = fixture().await;
    let pool = &db.pool;
    let task = failed_task(pool, "beta", "one", "boom", "X", None).await;
    let rows = retry(pool, json!({})).await.unwrap();
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r.step_uuid, step(pool, task, "work").await.step_uuid);
    assert_eq!((r.namespace.as_str(), r.task_name.as_str(), r.step_name.as_str()), ("beta", "one", "work"));
    assert_eq!(r.previous_attempts, 1);
    assert_eq!(r.last_error.as_ref().unwrap()["class"], json!("X"));
    assert_eq!((r.task_state_before.as_str(), r.task_state_after.as_str()), ("error", "enqueuing_steps"));
    let s = step(pool, task, "work").await;
    assert_eq!((s.state.as_str(), s.attempts, s.ready_at.is_some()), ("pending", 0, true));
    let h = step_history(pool, s.step_uuid).await.pop().unwrap();
    assert_eq!((h.2.as_str(), h.3.unwrap()["reason"].as_str()), ("reset", Some("batch retry")));
}

#[tokio::test]
async fn dry_run_changes_nothing() {
    let db = fixture().await;
    let pool = &db.pool;
    let task = failed_task(pool, "alpha", "one", "boom", "X", None).await;
    let steps_history = count(pool, "SELECT count(*) FROM tasker.workflow_step_transitions").await;
    let tasks_history = count(pool, "SELECT count(*) FROM tasker.task_transitions").await;
    let rows = retry(pool, json!({"dry_run": true})).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].task_state_before.as_str(), rows[0].task_state_after.as_str()), ("error", "error"));
    assert_eq!(step(pool, task, "work").await.state, "error");
    assert_eq!(task_state(pool, task).await, "error");
    assert_eq!(dlq_entries(pool, task).await[0].2, "pending");
    assert_eq!(count(pool, "SELECT count(*) FROM tasker.workflow_step_transitions").await, steps_history);
    assert_eq!(count(pool, "SELECT count(*) FROM tasker.task_transitions").await, tasks_history);
    assert_eq!(retry(pool, json!({"dry_run": true})).await.unwrap().len(), 1, "a dry run can be repeated");
}

#[tokio::test]
async fn unknown_filter_key_raises_tk004() {
    let db = fixture().await;
    let pool = &db.pool;
    let task = failed_task(pool, "alpha", "one", "boom", "X", None).await;
    let msg = expect_sqlstate(retry(pool, json!({"namespace": "alpha", "namespce": "alpha"})).await, "TK004");
    assert!(msg.contains("unknown retry filter key 'namespce'"), "{msg}");
    assert_eq!(step(pool, task, "work").await.state, "error");
}

#[tokio::test]
async fn mistyped_filter_values_raise_tk004() {
    let db = fixture().await;
    let pool = &db.pool;
    let task = failed_task(pool, "alpha", "one", "boom", "X", None).await;
    for bad in [
        json!([]),
        json!({"namespace": 1}),
        json!({"task_uuids": ["nope"]}),
        json!({"task_uuids": "x"}),
        json!({"step_names": [1]}),
        json!({"limit": 0}),
        json!({"dry_run": "yes"}),
        json!({"failed_after": "yesterday-ish"}),
    ] {
        expect_sqlstate(retry(pool, bad.clone()).await, "TK004");
    }
    assert_eq!(step(pool, task, "work").await.state, "error");
}

#[tokio::test]
async fn second_identical_retry_returns_no_rows() {
    let db = fixture().await;
    let pool = &db.pool;
    failed_task(pool, "alpha", "one", "boom", "X", None).await;
    failed_task(pool, "alpha", "two", "boom", "X", None).await;
    assert_eq!(retry(pool, json!({"namespace": "alpha"})).await.unwrap().len(), 3);
    assert!(retry(pool, json!({"namespace": "alpha"})).await.unwrap().is_empty());
}

#[tokio::test]
async fn limit_caps_the_number_of_steps_reset() {
    let db = fixture().await;
    let pool = &db.pool;
    for _ in 0..3 {
        failed_task(pool, "alpha", "one", "boom", "X", None).await;
    }
    assert_eq!(retry(pool, json!({"limit": 2})).await.unwrap().len(), 2);
    assert_eq!(retry(pool, json!({"limit": 2})).await.unwrap().len(), 1);
}

#[tokio::test]
async fn retried_tasks_run_again_and_complete_with_dlq_entries_marked_retried() {
    let db = fixture().await;
    let pool = &db.pool;
    let one = failed_task(pool, "alpha", "one", "boom", "X", None).await;
    let two = failed_task(pool, "alpha", "two", "boom", "X", None).await;
    let rows = retry(pool, json!({"namespace": "alpha", "reason": "deploy fixed it"})).await.unwrap();
    assert!(rows.iter().all(|r| r.task_state_before == "error" && r.task_state_after == "enqueuing_steps"));
    for t in [one, two] {
        assert_eq!(dlq_entries(pool, t).await[0].2, "retried");
    }
    let h = step_history(pool, rows[0].step_uuid).await.pop().unwrap();
    assert_eq!(h.3.unwrap()["reason"], json!("deploy fixed it"));

    assert_eq!(enqueue(pool, 100, None).await.len(), 3);
    run_until_idle(pool, "alpha", None, |_| Outcome::ok()).await;
    for t in [one, two] {
        assert_eq!(task_state(pool, t).await, "complete");
        assert_eq!(dlq_entries(pool, t).await.len(), 1, "no new DLQ entry");
    }
}

#[tokio::test]
async fn retried_task_that_fails_again_gets_a_new_dlq_entry() {
    let db = fixture().await;
    let pool = &db.pool;
    let task = failed_task(pool, "beta", "one", "boom", "X", None).await;
    retry(pool, json!({})).await.unwrap();
    enqueue(pool, 100, None).await;
    run_until_idle(pool, "beta", None, |_| Outcome::permanent("boom again", "X")).await;
    assert_eq!(task_state(pool, task).await, "error");
    let dlq = dlq_entries(pool, task).await;
    assert_eq!(dlq.iter().map(|d| d.2.as_str()).collect::<Vec<_>>(), vec!["retried", "pending"]);
    assert!(dlq[1].1.contains("boom again"));
}

#[tokio::test]
async fn retry_takes_a_task_out_of_blocked_by_failures() {
    let db = fixture().await;
    let pool = &db.pool;
    let task = create_task(pool, "alpha", "two", json!({})).await;
    let claimed = claim(pool, "alpha", 10, None).await;
    let a = claimed.iter().find(|c| c.step_name == "a").unwrap();
    let b = claimed.iter().find(|c| c.step_name == "b").unwrap();
    submit(pool, a, &Outcome::permanent("boom", "X")).await;
    process(pool, None).await;
    finalize(pool, None).await;
    assert_eq!(task_state(pool, task).await, "blocked_by_failures");

    let rows = retry(pool, json!({"task_uuids": [task]})).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].task_state_before.as_str(), rows[0].task_state_after.as_str()),
        ("blocked_by_failures", "steps_in_process")
    );

    submit(pool, b, &Outcome::ok()).await;
    process(pool, None).await;
    enqueue(pool, 100, None).await;
    run_until_idle(pool, "alpha", None, |_| Outcome::ok()).await;
    assert_eq!(task_state(pool, task).await, "complete");
    assert!(dlq_entries(pool, task).await.is_empty());
}

#[tokio::test]
async fn retry_ignores_cancelled_tasks() {
    let db = fixture().await;
    let pool = &db.pool;
    let task = failed_task(pool, "alpha", "one", "boom", "X", None).await;
    sqlx::query("SELECT tasker.cancel_task($1)").bind(task).execute(pool).await.unwrap();
    assert!(retry(pool, json!({})).await.unwrap().is_empty());
    assert_eq!(task_state(pool, task).await, "cancelled");
}
