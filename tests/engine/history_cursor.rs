//! `tasker.task_history_after`: a follower's cursor is the snapshot of its last read, so a change
//! that commits late is seen although later-numbered changes were seen before it, and nothing is
//! seen twice. The interleaving is reproduced with explicit transactions on two connections.

use serde_json::json;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::support::*;

/// One follower read: the changes after `cursor` (`None`: a fresh follower's snapshot read)
/// as (kind, id, to_state, event), and the new cursor, in one REPEATABLE READ transaction.
async fn follow(conn: &mut PgConnection, task: Uuid, cursor: Option<&str>) -> (Vec<(String, i64, String)>, String) {
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await.unwrap();
    let next: String = sqlx::query_scalar("SELECT pg_current_snapshot()::text").fetch_one(&mut *tx).await.unwrap();
    let rows = match cursor {
        None => Vec::new(),
        Some(c) => sqlx::query_as::<_, (String, i64, String)>(
            "SELECT kind, id, event FROM tasker.task_history_after($1, $2::pg_snapshot)",
        )
        .bind(task)
        .bind(c)
        .fetch_all(&mut *tx)
        .await
        .unwrap(),
    };
    tx.commit().await.unwrap();
    (rows, next)
}

/// A history row for a step of `task`, written on `conn` (inside whatever transaction it has open).
async fn record(conn: &mut PgConnection, task: Uuid, event: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO tasker.workflow_step_transitions (step_uuid, task_uuid, from_state, to_state, event, attempt)
         SELECT step_uuid, task_uuid, state, state, $2, 0 FROM tasker.workflow_steps WHERE task_uuid = $1 LIMIT 1
         RETURNING id",
    )
    .bind(task)
    .bind(event)
    .fetch_one(conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_change_committed_late_is_followed_once_in_commit_order() {
    let db = test_db().await;
    let pool = &db.pool;
    register(pool, template("demo", "pair", &[("a", &[]), ("b", &["a"])], json!({}))).await;
    let task = create_task(pool, "demo", "pair", json!({})).await;
    let mut reader = connect(&db).await;
    let (_, cursor) = follow(&mut reader, task, None).await;

    // A writes a change and stays open; B writes a later-numbered change and commits.
    let mut a = connect(&db).await;
    let mut tx_a = a.begin().await.unwrap();
    let early = record(&mut tx_a, task, "early_uncommitted").await;
    let mut b = connect(&db).await;
    let late = record(&mut b, task, "later_committed").await;
    assert!(early < late, "ids are handed out in insertion order");

    let (seen, cursor) = follow(&mut reader, task, Some(&cursor)).await;
    let events: Vec<&str> = seen.iter().map(|(_, _, e)| e.as_str()).collect();
    assert_eq!(events, ["later_committed"], "only B's committed change is visible");

    // A commits: its lower-numbered change is the next read's, and B's is not read again.
    tx_a.commit().await.unwrap();
    let (seen, cursor) = follow(&mut reader, task, Some(&cursor)).await;
    assert_eq!(seen, [("step".to_string(), early, "early_uncommitted".to_string())]);

    let (seen, _) = follow(&mut reader, task, Some(&cursor)).await;
    assert!(seen.is_empty(), "a read with nothing new returns nothing: {seen:?}");
}

#[tokio::test]
async fn a_cursor_sees_task_changes_and_rows_written_before_history_carried_xids_as_old() {
    let db = test_db().await;
    let pool = &db.pool;
    register(pool, template("demo", "single", &[("only", &[])], json!({}))).await;
    let task = create_task(pool, "demo", "single", json!({})).await;
    // Rows from before the column existed carry xid 0 (migration 20261207000005): older than any
    // cursor.
    sqlx::query("UPDATE tasker.workflow_step_transitions SET xid = '0' WHERE task_uuid = $1")
        .bind(task)
        .execute(pool)
        .await
        .unwrap();
    let mut reader = connect(&db).await;
    let (seen, cursor) = follow(&mut reader, task, Some("1:1:")).await;
    assert!(seen.iter().all(|(kind, _, _)| kind == "task"), "legacy step rows were returned: {seen:?}");
    assert!(!seen.is_empty(), "the task's creation history has xids and is after the first snapshot");

    sqlx::query("SELECT tasker.cancel_task($1, 'operator')").bind(task).execute(pool).await.unwrap();
    let (seen, _) = follow(&mut reader, task, Some(&cursor)).await;
    assert!(seen.iter().any(|(kind, _, event)| kind == "task" && event == "cancel"), "cancel not followed: {seen:?}");
}
