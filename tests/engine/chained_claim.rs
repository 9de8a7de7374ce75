//! The chained claim of `tasker.submit_and_claim`: the children an acknowledgement releases are
//! claimed for the acknowledging worker as they are released (their dispatch message inserted as
//! already read, one row write from pending to in_progress with both history rows), before the
//! slots left are filled from the queue; children beyond the limit or of another namespace are
//! dispatched for anyone; such a claim comes back like any other when its holder dies; and a
//! worker role cannot claim this way outside its namespaces.

use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::*;

/// root -> (a, b) -> end, in namespace `ns`.
async fn diamond(pool: &PgPool, ns: &str) {
    register(
        pool,
        template(
            ns,
            "diamond",
            &[("root", &[]), ("a", &["root"]), ("b", &["root"]), ("end", &["a", "b"])],
            json!({"max_attempts": 2}),
        ),
    )
    .await;
}

/// first -> second, in namespace `ns`.
async fn pair(pool: &PgPool, ns: &str) {
    register(pool, template(ns, "pair", &[("first", &[]), ("second", &["first"])], json!({"max_attempts": 2}))).await;
}

/// One row of `tasker.submit_and_claim`, the columns these tests read.
#[derive(Debug, sqlx::FromRow)]
struct Row {
    step_uuid: Uuid,
    accepted: Option<bool>,
    msg_id: Option<i64>,
    task_uuid: Option<Uuid>,
    attempt: Option<i32>,
    step_name: Option<String>,
}

async fn submit_and_claim(pool: &PgPool, results: Value, ns: &str, limit: i32) -> Vec<Row> {
    sqlx::query_as(
        "SELECT step_uuid, accepted, msg_id, task_uuid, attempt, step_name \
           FROM tasker.submit_and_claim($1, $2, $3, 30, 'w1')",
    )
    .bind(results)
    .bind(ns)
    .bind(limit)
    .fetch_all(pool)
    .await
    .expect("submit_and_claim")
}

/// (read_ct, seconds until visible) of a message of `worker_<ns>_queue`.
async fn message_state(pool: &PgPool, ns: &str, msg_id: i64) -> (i32, f64) {
    sqlx::query_as(&format!(
        "SELECT read_ct, extract(epoch FROM vt - clock_timestamp())::float8 FROM pgmq.q_worker_{ns}_queue WHERE msg_id = $1"
    ))
    .bind(msg_id)
    .fetch_one(pool)
    .await
    .expect("message")
}

/// The msg_id of a step's message in `worker_<ns>_queue` (an enqueued step names none yet).
async fn message_of(pool: &PgPool, ns: &str, step_uuid: Uuid) -> i64 {
    only_message(queue_messages(pool, ns).await.into_iter().filter(|m| m.step_uuid == step_uuid).collect())
}

fn only_message(mut messages: Vec<QueueMsg>) -> i64 {
    assert_eq!(messages.len(), 1, "{messages:?}");
    messages.remove(0).msg_id
}

/// A diamond task whose root is claimed, and another diamond task created after it, whose root
/// waits in the queue, older than any child the first root's result releases.
async fn claimed_root_and_a_waiting_task(pool: &PgPool) -> (Uuid, Claimed, Uuid) {
    diamond(pool, "demo").await;
    let task = create_task(pool, "demo", "diamond", json!({})).await;
    let root = only(claim(pool, "demo", 1, None).await);
    let waiting = create_task(pool, "demo", "diamond", json!({})).await;
    (task, root, waiting)
}

#[tokio::test]
async fn released_children_are_claimed_first_as_they_are_released_and_the_rest_dispatched() {
    let db = test_db().await;
    let pool = &db.pool;
    let (task, root, waiting) = claimed_root_and_a_waiting_task(pool).await;

    let rows = submit_and_claim(pool, json!([result_json(&root, &Outcome::ok())]), "demo", 1).await;

    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!((rows[0].step_uuid, rows[0].accepted), (root.step_uuid, Some(true)));
    let claimed = &rows[1];
    let (a, b) = (step(pool, task, "a").await, step(pool, task, "b").await);
    let (first, second) = if a.step_uuid < b.step_uuid { (a, b) } else { (b, a) };
    assert_eq!(claimed.accepted, None);
    assert_eq!(claimed.step_uuid, first.step_uuid, "the released child first, in step_uuid order");
    assert_eq!((claimed.task_uuid, claimed.attempt), (Some(task), Some(1)));

    // The claimed child: in progress on its first attempt, its message already read and hidden.
    let row = step_by_uuid(pool, first.step_uuid).await;
    assert_eq!((row.state.as_str(), row.attempts, row.parents_pending), ("in_progress", 1, 0));
    assert_eq!(row.dispatch_msg_id, claimed.msg_id);
    assert!(row.enqueued_at.is_some() && row.enqueued_at == row.claimed_at, "{row:?}");
    let (read_ct, hidden_for) = message_state(pool, "demo", row.dispatch_msg_id.expect("msg")).await;
    assert_eq!(read_ct, 1);
    assert!(hidden_for > 20.0, "hidden for the visibility timeout, {hidden_for} s left");
    assert_eq!(
        step_history(pool, first.step_uuid).await,
        vec![
            (Some("pending".to_string()), "enqueued".to_string(), "enqueue".to_string(), None),
            (
                Some("enqueued".to_string()),
                "in_progress".to_string(),
                "claim".to_string(),
                Some(json!({"worker": "w1"}))
            ),
        ]
    );

    // The child beyond the limit is dispatched for anyone; the waiting root was not taken.
    let other = step_by_uuid(pool, second.step_uuid).await;
    assert_eq!(other.state, "enqueued");
    let (read_ct, hidden_for) = message_state(pool, "demo", message_of(pool, "demo", other.step_uuid).await).await;
    assert_eq!(read_ct, 0);
    assert!(hidden_for <= 0.0, "visible at once");
    assert_eq!(step(pool, waiting, "root").await.state, "enqueued");
    assert_eq!(queued_step_names(pool, "demo", waiting).await, ["root".to_string()].into());

    // A plain claim now takes the waiting root, then the other child: both visible messages.
    let next: std::collections::BTreeSet<(Uuid, String)> =
        claim(pool, "demo", 10, None).await.into_iter().map(|c| (c.task_uuid, c.step_name)).collect();
    assert_eq!(next, [(waiting, "root".to_string()), (task, second.name.clone())].into());
}

#[tokio::test]
async fn slots_the_released_children_leave_are_filled_from_the_queue() {
    let db = test_db().await;
    let pool = &db.pool;
    let (task, root, waiting) = claimed_root_and_a_waiting_task(pool).await;

    let rows = submit_and_claim(pool, json!([result_json(&root, &Outcome::ok())]), "demo", 3).await;

    let mut claimed: Vec<(Uuid, String)> = rows
        .iter()
        .filter(|r| r.accepted.is_none())
        .map(|r| (r.task_uuid.expect("task"), r.step_name.clone().expect("name")))
        .collect();
    claimed.sort();
    let mut expected = vec![(task, "a".to_string()), (task, "b".to_string()), (waiting, "root".to_string())];
    expected.sort();
    assert_eq!(claimed, expected);
    // The root came from the queue (a read: read_ct 1), the children as they were released.
    for name in ["a", "b"] {
        assert_eq!(step(pool, task, name).await.state, "in_progress");
    }
    let root2 = step(pool, waiting, "root").await;
    assert_eq!((root2.state.as_str(), root2.attempts), ("in_progress", 1));
    assert_eq!(message_state(pool, "demo", root2.dispatch_msg_id.expect("msg")).await.0, 1);
    assert_eq!(count(pool, "SELECT count(*) FROM pgmq.q_worker_demo_queue WHERE vt <= clock_timestamp()").await, 0);
}

#[tokio::test]
async fn a_child_claimed_as_it_was_released_comes_back_when_its_holder_dies() {
    let db = test_db().await;
    let pool = &db.pool;
    pair(pool, "demo").await;
    let task = create_task(pool, "demo", "pair", json!({})).await;
    let first = only(claim(pool, "demo", 1, None).await);
    let rows = submit_and_claim(pool, json!([result_json(&first, &Outcome::ok())]), "demo", 1).await;
    let held = rows.iter().find(|r| r.accepted.is_none()).expect("claimed child");
    let msg_id = held.msg_id.expect("msg");

    // Nobody else sees it while its holder runs it, and its holder's heartbeat extends it.
    assert!(claim(pool, "demo", 10, None).await.is_empty());
    let extended: Vec<i64> = sqlx::query_scalar("SELECT * FROM tasker.extend_visibility('demo', $1, 60)")
        .bind(vec![msg_id])
        .fetch_all(pool)
        .await
        .expect("heartbeat");
    assert_eq!(extended, vec![msg_id]);
    assert!(message_state(pool, "demo", msg_id).await.1 > 50.0);

    // Its holder dies: the message comes back and the step is re-claimed as a new attempt.
    expire_message(pool, "demo", msg_id).await;
    let again = only(claim(pool, "demo", 10, None).await);
    assert_eq!((again.step_uuid, again.msg_id, again.attempt), (held.step_uuid, msg_id, 2));
    assert_eq!(message_state(pool, "demo", msg_id).await.0, 2);

    // The late result of the lost attempt is refused; the new attempt's is applied.
    let lost = Claimed { attempt: 1, ..again.clone() };
    assert!(!submit(pool, &lost, &Outcome::ok()).await);
    assert!(submit(pool, &again, &Outcome::ok()).await);
    assert_eq!(step(pool, task, "second").await.state, "complete");
    assert!(queue_messages(pool, "demo").await.is_empty());
}

#[tokio::test]
async fn children_of_a_namespace_other_than_the_claimed_one_are_dispatched_for_anyone() {
    let db = test_db().await;
    let pool = &db.pool;
    pair(pool, "alpha").await;
    pair(pool, "beta").await;
    let task = create_task(pool, "alpha", "pair", json!({})).await;
    let first = only(claim(pool, "alpha", 1, None).await);

    let rows = submit_and_claim(pool, json!([result_json(&first, &Outcome::ok())]), "beta", 5).await;

    assert_eq!(rows.len(), 1, "only the result's row: {rows:?}");
    assert_eq!(rows[0].accepted, Some(true));
    let second = step(pool, task, "second").await;
    assert_eq!(second.state, "enqueued");
    assert_eq!(message_state(pool, "alpha", message_of(pool, "alpha", second.step_uuid).await).await.0, 0);
    assert_eq!(only(claim(pool, "alpha", 10, None).await).step_uuid, second.step_uuid);
}

#[tokio::test]
async fn a_worker_role_cannot_claim_released_children_outside_its_namespaces() {
    let db = test_db().await;
    pair(&db.pool, "alpha").await;
    pair(&db.pool, "beta").await;
    let worker = db.worker_pool(&["alpha"], 2).await;
    let task = create_task(&db.pool, "alpha", "pair", json!({})).await;
    let first = only(claim(&db.pool, "alpha", 1, None).await);

    // Results of its own namespace, a claim from one it may not serve: refused, nothing applied.
    let err = sqlx::query("SELECT * FROM tasker.submit_and_claim($1, 'beta', 5)")
        .bind(json!([result_json(&first, &Outcome::ok())]))
        .execute(&worker)
        .await
        .expect_err("claim of beta");
    assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{err}");
    let states = step_states(&db.pool, task).await;
    assert_eq!((states["first"].as_str(), states["second"].as_str()), ("in_progress", "pending"));
    assert_eq!(queue_messages(&db.pool, "alpha").await.len(), 1, "only the first step's message");

    // Its own namespace: the child is claimed for it as it is released.
    let rows: Vec<(Uuid, Option<bool>, Option<String>)> =
        sqlx::query_as("SELECT step_uuid, accepted, step_name FROM tasker.submit_and_claim($1, 'alpha', 5)")
            .bind(json!([result_json(&first, &Outcome::ok())]))
            .fetch_all(&worker)
            .await
            .expect("own namespace");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!((rows[1].1, rows[1].2.as_deref()), (None, Some("second")));
    assert_eq!(step(&db.pool, task, "second").await.state, "in_progress");
}

#[tokio::test]
async fn a_chained_call_with_a_claim_it_cannot_make_applies_nothing() {
    let db = test_db().await;
    let pool = &db.pool;
    pair(pool, "demo").await;
    let task = create_task(pool, "demo", "pair", json!({})).await;
    let first = only(claim(pool, "demo", 1, None).await);
    let results = json!([result_json(&first, &Outcome::ok())]);

    // A visibility timeout the claim refuses (none, or out of range), or a limit below 1: TK004,
    // and neither the result nor any claim of the released child is kept.
    for (limit, vt) in
        [(Some(5), None), (Some(5), Some(0)), (Some(5), Some(43_201)), (Some(0), Some(30)), (None, Some(30))]
    {
        let err = sqlx::query("SELECT * FROM tasker.submit_and_claim($1, 'demo', $2, $3)")
            .bind(&results)
            .bind(limit)
            .bind(vt)
            .execute(pool)
            .await
            .expect_err("refused claim");
        assert_eq!(sqlstate(&err).as_deref(), Some("TK004"), "limit {limit:?}, vt {vt:?}: {err}");
        let states = step_states(pool, task).await;
        assert_eq!((states["first"].as_str(), states["second"].as_str()), ("in_progress", "pending"));
        assert_eq!(queue_messages(pool, "demo").await.len(), 1, "only the first step's message");
    }
}
