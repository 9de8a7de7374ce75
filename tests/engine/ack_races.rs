//! Races at the acknowledgement: a worker's `submit_step_results` against a re-claim of the same
//! dispatch message by `claim_steps`. Each interleaving is reproduced with two connections and
//! explicit transactions: one call is held open, the other is observed blocked on a lock
//! (`pg_stat_activity`), then the first commits.

use serde_json::{json, Value};
use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;

use crate::support::*;

/// Registers demo/single (one step named `only`) with `retry` and creates a task of it.
async fn single(pool: &PgPool, retry: Value) -> Uuid {
    register(pool, template("demo", "single", &[("only", &[])], retry)).await;
    create_task(pool, "demo", "single", json!({})).await
}

/// tasker.claim_steps on a given connection (inside whatever transaction it has open).
async fn claim_on(conn: &mut PgConnection) -> Vec<Claimed> {
    sqlx::query_as("SELECT * FROM tasker.claim_steps('demo', 10, 30, 'worker-b')").fetch_all(conn).await.unwrap()
}

/// Starts `submit_step_results` for `c` on its own connection and returns once that call is
/// blocked on a lock; the handle yields `accepted`.
async fn submit_blocked(
    db: &TestDb,
    c: &Claimed,
    outcome: &Outcome,
) -> tokio::task::JoinHandle<Result<bool, sqlx::Error>> {
    let mut a = connect(db).await;
    let pid = backend_pid(&mut a).await;
    let body = json!([result_json(c, outcome)]);
    let job = tokio::spawn(async move {
        sqlx::query_scalar::<_, bool>("SELECT accepted FROM tasker.submit_step_results($1)")
            .bind(body)
            .fetch_one(&mut a)
            .await
    });
    wait_until_blocked(&db.pool, pid).await;
    job
}

#[tokio::test]
async fn submit_racing_a_reclaim_of_its_message_is_refused_and_keeps_the_message() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({"max_attempts": 3})).await;
    let first = only(claim(pool, "demo", 10, None).await);
    expire_message(pool, "demo", first.msg_id).await;

    // Worker B re-claims the redelivered message and has not committed yet.
    let mut b = connect(&db).await;
    let mut tx_b = b.begin().await.unwrap();
    let second = only(claim_on(&mut tx_b).await);
    assert_eq!((second.msg_id, second.attempt), (first.msg_id, 2));

    // Worker A's late ack of attempt 1 waits for B, then sees attempt 2 and is refused.
    let ack = submit_blocked(&db, &first, &Outcome::Success(json!("late"))).await;
    tx_b.commit().await.unwrap();
    assert!(!ack.await.unwrap().unwrap(), "the ack of a superseded attempt was accepted");

    assert_eq!(result_queue_len(pool).await, 0);
    let queued: Vec<i64> = queue_messages(pool, "demo").await.into_iter().map(|m| m.msg_id).collect();
    assert_eq!(queued, vec![second.msg_id], "the late ack deleted the message attempt 2 holds");
    let s = step(pool, task, "only").await;
    assert_eq!((s.state.as_str(), s.attempts, s.dispatch_msg_id), ("in_progress", 2, Some(second.msg_id)));

    assert!(submit(pool, &second, &Outcome::Success(json!("fresh"))).await);
    assert_eq!(step(pool, task, "only").await.results, Some(json!("fresh")));
}

#[tokio::test]
async fn open_submit_makes_a_concurrent_claim_skip_its_message() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({"max_attempts": 3})).await;
    let first = only(claim(pool, "demo", 10, None).await);
    expire_message(pool, "demo", first.msg_id).await;

    // Worker A acks inside an open transaction; its message is visible but held.
    let mut a = connect(&db).await;
    let mut tx_a = a.begin().await.unwrap();
    let accepted: bool = sqlx::query_scalar("SELECT accepted FROM tasker.submit_step_results($1)")
        .bind(json!([result_json(&first, &Outcome::ok())]))
        .fetch_one(&mut *tx_a)
        .await
        .unwrap();
    assert!(accepted);

    // Worker B does not wait for A and does not re-claim the step.
    assert!(claim(pool, "demo", 10, None).await.is_empty());
    tx_a.commit().await.unwrap();

    assert!(queue_messages(pool, "demo").await.is_empty());
    let s = step(pool, task, "only").await;
    assert_eq!((s.state.as_str(), s.attempts), ("complete", 1));
}

#[tokio::test]
async fn reclaim_with_no_attempts_left_fails_the_step_at_once() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({"max_attempts": 1})).await;
    let first = only(claim(pool, "demo", 10, None).await);
    expire_message(pool, "demo", first.msg_id).await;

    assert!(claim(pool, "demo", 10, None).await.is_empty());
    let s = step(pool, task, "only").await;
    assert_eq!((s.state.as_str(), s.attempts), ("error", 1), "the exhausted step stayed {}", s.state);
    assert_eq!(s.last_error.as_ref().unwrap()["class"], json!("VisibilityTimeout"));
    assert!(queue_messages(pool, "demo").await.is_empty());
    assert_eq!(result_queue_len(pool).await, 0, "nothing is left for the result processor");

    finalize(pool, None).await;
    assert_eq!(task_state(pool, task).await, "error");
    assert_eq!(dlq_entries(pool, task).await.len(), 1);
}

#[tokio::test]
async fn late_success_after_an_exhausted_reclaim_is_refused() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({"max_attempts": 1})).await;
    let first = only(claim(pool, "demo", 10, None).await);
    expire_message(pool, "demo", first.msg_id).await;
    assert!(claim(pool, "demo", 10, None).await.is_empty());

    // The original worker finishes after all: it must be told its result is dropped.
    assert!(
        !submit(pool, &first, &Outcome::Success(json!("late"))).await,
        "a result that will be dropped was accepted"
    );
    process(pool, None).await;
    let s = step(pool, task, "only").await;
    assert_eq!((s.state.as_str(), s.results), ("error", None));
}

#[tokio::test]
async fn submit_racing_an_exhausted_reclaim_waits_for_it_and_is_refused() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({"max_attempts": 1})).await;
    let first = only(claim(pool, "demo", 10, None).await);
    expire_message(pool, "demo", first.msg_id).await;

    // Worker B's claim finds no attempts left and has not committed yet.
    let mut b = connect(&db).await;
    let mut tx_b = b.begin().await.unwrap();
    assert!(claim_on(&mut tx_b).await.is_empty());

    let ack = submit_blocked(&db, &first, &Outcome::Success(json!("late"))).await;
    tx_b.commit().await.unwrap();
    assert!(!ack.await.unwrap().unwrap(), "a result that will be dropped was accepted");

    assert_eq!(result_queue_len(pool).await, 0);
    process(pool, None).await;
    finalize(pool, None).await;
    let s = step(pool, task, "only").await;
    assert_eq!((s.state.as_str(), s.results), ("error", None));
    assert_eq!(task_state(pool, task).await, "error");
}

#[tokio::test]
async fn submit_and_claim_of_one_message_do_not_deadlock_in_either_order() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({"max_attempts": 3})).await;
    let first = only(claim(pool, "demo", 10, None).await);
    expire_message(pool, "demo", first.msg_id).await;

    // A third connection holds the step: both calls queue behind it, the claim holding the
    // message it read and the submit wanting that message.
    let mut holder = connect(&db).await;
    let mut hold = holder.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM tasker.workflow_steps WHERE step_uuid = $1 FOR UPDATE")
        .bind(first.step_uuid)
        .execute(&mut *hold)
        .await
        .unwrap();

    let mut b = connect(&db).await;
    let pid_b = backend_pid(&mut b).await;
    let claim_job = tokio::spawn(async move { claim_on(&mut b).await });
    wait_until_blocked(pool, pid_b).await;
    let ack = submit_blocked(&db, &first, &Outcome::ok()).await;
    hold.commit().await.unwrap();

    let reclaimed = claim_job.await.unwrap();
    let accepted = ack.await.unwrap().unwrap();
    assert_eq!(reclaimed.len(), 1);
    assert!(!accepted, "the re-claim committed first: attempt 1 is superseded");
    let s = step(pool, task, "only").await;
    assert_eq!((s.state.as_str(), s.attempts), ("in_progress", 2));
    assert_eq!(queue_messages(pool, "demo").await.len(), 1);
}
