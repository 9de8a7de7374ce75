//! The NOTIFY channels the SQL sends on and the ones the Rust side LISTENs to are the same fixed
//! names: a channel renamed on one side only would leave its listener waiting for the polling
//! tick, which no other test would notice (work still gets done, only late).

use std::collections::BTreeSet;
use std::path::Path;

use tasker_orchestration::actors::listener::CHANNELS;
use tasker_orchestration::worker::DISPATCH_CHANNEL;

/// Every `pg_notify('<channel>'` literal in `sql/*.sql`.
fn notified_in_sql() -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("sql/") {
        let path = entry.expect("sql/ entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("sql") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read sql file");
        for (at, _) in text.match_indices("pg_notify(") {
            let rest = text[at + "pg_notify(".len()..].trim_start();
            let name = rest.strip_prefix('\'').and_then(|r| r.split('\'').next());
            let name = name.unwrap_or_else(|| panic!("{}: pg_notify without a literal channel name", path.display()));
            found.insert(name.to_string());
        }
    }
    found
}

/// Every channel the server's notification hub or the worker runtime LISTENs to.
fn listened_in_rust() -> BTreeSet<String> {
    CHANNELS.iter().chain(std::iter::once(&DISPATCH_CHANNEL)).map(|c| (*c).to_string()).collect()
}

#[test]
fn every_channel_notified_in_sql_is_listened_to_in_rust_and_back() {
    let sql = notified_in_sql();
    let rust = listened_in_rust();
    assert!(sql.len() >= 5, "the parser found too few channels: {sql:?}");
    assert_eq!(sql, rust, "channels notified in sql/ and channels the Rust side listens to differ");
}

/// `tasker_step_dispatched` is sent at commit for the steps still enqueued then: children claimed
/// in the acknowledgement's own transaction (the chained claim) wake nobody, a rolled-back
/// dispatch wakes nobody, and a step left waiting does. Notifications arrive in commit order, so
/// the first one heard after the quiet transactions is the later, waiting one's.
#[tokio::test]
async fn a_dispatch_notifies_at_commit_only_for_steps_still_waiting() {
    use serde_json::json;

    use crate::support::*;

    let db = test_db().await;
    let pool = &db.pool;
    let retry = json!({"max_attempts": 1});
    register(pool, template("demo", "pair", &[("first", &[]), ("second", &["first"])], retry.clone())).await;
    register(pool, template("other", "single", &[("only", &[])], retry)).await;
    let _task = create_task(pool, "demo", "pair", json!({})).await;
    let first = claim(pool, "demo", 1, None).await.remove(0);

    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await.expect("listener");
    listener.listen(DISPATCH_CHANNEL).await.expect("listen");

    // A dispatch that rolls back.
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("SELECT tasker.create_task('demo', 'pair')").execute(&mut *tx).await.expect("create");
    tx.rollback().await.expect("rollback");

    // The acknowledgement releases `second`, and the chained claim takes it before the commit.
    let mut tx = pool.begin().await.expect("begin");
    let accepted: bool = sqlx::query_scalar("SELECT accepted FROM tasker.submit_step_results($1)")
        .bind(json!([{"step_uuid": first.step_uuid, "attempt": first.attempt, "msg_id": first.msg_id, "status": "success"}]))
        .fetch_one(&mut *tx)
        .await
        .expect("submit");
    assert!(accepted);
    let claimed: Vec<String> = sqlx::query_scalar("SELECT step_name FROM tasker.claim_steps('demo', 10, 30)")
        .fetch_all(&mut *tx)
        .await
        .expect("claim");
    assert_eq!(claimed, vec!["second".to_string()]);
    tx.commit().await.expect("commit");

    // A root nobody claims: its queue is notified.
    let _other = create_task(pool, "other", "single", json!({})).await;
    let heard = listener.recv().await.expect("notification");
    assert_eq!(heard.payload(), "worker_other_queue", "the chained and the rolled-back dispatches notified nobody");
}

/// `transition_steps` notifies `tasker_steps_changed` once per call with the comma-separated uuids
/// of the tasks whose steps it moved (each once), and a call that moves nothing sends nothing.
#[tokio::test]
async fn a_step_transition_notifies_the_tasks_it_touched() {
    use serde_json::json;
    use uuid::Uuid;

    use crate::support::*;

    let db = test_db().await;
    let pool = &db.pool;
    register(pool, template("demo", "pair", &[("first", &[]), ("second", &[])], json!({"max_attempts": 1}))).await;
    let a = create_task(pool, "demo", "pair", json!({})).await;
    let b = create_task(pool, "demo", "pair", json!({})).await;
    let claimed = claim(pool, "demo", 10, None).await;
    assert_eq!(claimed.len(), 4);

    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await.expect("listener");
    listener.listen("tasker_steps_changed").await.expect("listen");

    // Nothing moved (an empty list): no notification. Then all four steps of the two tasks in
    // one call: one notification naming both tasks once.
    sqlx::query("SELECT * FROM tasker.transition_steps('{}'::uuid[], 'complete')")
        .execute(pool)
        .await
        .expect("empty transition");
    let steps: Vec<Uuid> = claimed.iter().map(|c| c.step_uuid).collect();
    sqlx::query("SELECT * FROM tasker.transition_steps($1, 'complete')")
        .bind(&steps)
        .execute(pool)
        .await
        .expect("transition");
    let heard = listener.recv().await.expect("notification");
    let mut named: Vec<Uuid> = heard.payload().split(',').map(|u| u.parse().expect("uuid")).collect();
    named.sort();
    let mut expected = vec![a, b];
    expected.sort();
    assert_eq!(named, expected, "one notification, each task once: {}", heard.payload());
}

/// A move touching more than 200 tasks notifies `tasker_steps_changed` in parts of at most 200
/// uuids, each task named once across them.
#[tokio::test]
async fn a_step_transition_touching_many_tasks_notifies_in_parts_of_200() {
    use std::collections::BTreeSet;

    use serde_json::json;
    use uuid::Uuid;

    use crate::support::*;

    let db = test_db().await;
    let pool = &db.pool;
    register(pool, template("demo", "single", &[("only", &[])], json!({}))).await;
    let requests: Vec<serde_json::Value> = (0..250).map(|_| json!({"namespace": "demo", "name": "single"})).collect();
    let tasks: BTreeSet<Uuid> = sqlx::query_scalar("SELECT task_uuid FROM tasker.create_tasks($1)")
        .bind(json!(requests))
        .fetch_all(pool)
        .await
        .expect("create_tasks")
        .into_iter()
        .collect();
    assert_eq!(tasks.len(), 250);

    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await.expect("listener");
    listener.listen("tasker_steps_changed").await.expect("listen");
    let moved: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tasker.transition_steps(
             ARRAY(SELECT s.step_uuid FROM tasker.workflow_steps s WHERE s.task_uuid = ANY ($1)), 'claim')",
    )
    .bind(tasks.iter().copied().collect::<Vec<_>>())
    .fetch_one(pool)
    .await
    .expect("transition");
    assert_eq!(moved, 250);

    let mut sizes = Vec::new();
    let mut named = BTreeSet::new();
    while named.len() < tasks.len() {
        let heard = listener.recv().await.expect("notification");
        let part: Vec<Uuid> = heard.payload().split(',').map(|u| u.parse().expect("uuid")).collect();
        sizes.push(part.len());
        for uuid in part {
            assert!(named.insert(uuid), "{uuid} named twice");
        }
    }
    sizes.sort();
    assert_eq!(sizes, [50, 200], "two notifications");
    assert_eq!(named, tasks);
}
