//! The hot path's queue operations (sql/0305_queue_messages.sql) do to a queue table what pgmq's
//! own functions do: a message sent with one is read with the other, a read hides a message for
//! its visibility timeout and counts the read, a held message is skipped, a delete removes exactly
//! the ids given.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn tasker_queue_operations_and_pgmq_see_the_same_messages() {
    let db = test_db().await;
    let pool = &db.pool;
    sqlx::query("SELECT pgmq.create('probe')").execute(pool).await.expect("create queue");

    let sent: Vec<i64> = sqlx::query_scalar("SELECT * FROM tasker._queue_send('probe', $1)")
        .bind(vec![json!({"n": 1}), json!({"n": 2})])
        .fetch_all(pool)
        .await
        .expect("send");
    assert_eq!(sent.len(), 2);
    assert!(sent[0] < sent[1], "ids in input order");
    let by_pgmq: i64 =
        sqlx::query_scalar("SELECT pgmq.send('probe', '{\"n\": 3}'::jsonb)").fetch_one(pool).await.expect("pgmq send");

    // pgmq reads what tasker sent (and hides it for 30 s, counting the read) ...
    let read: Vec<(i64, i32, serde_json::Value)> =
        sqlx::query_as("SELECT msg_id, read_ct, message FROM pgmq.read('probe', 30, 1)")
            .fetch_all(pool)
            .await
            .expect("pgmq read");
    assert_eq!(read, vec![(sent[0], 1, json!({"n": 1}))]);
    // ... and tasker reads the rest in msg_id order, pgmq's message included, skipping the hidden one.
    let read: Vec<(i64, serde_json::Value)> =
        sqlx::query_as("SELECT * FROM tasker._queue_read('probe', 30, 10)").fetch_all(pool).await.expect("read");
    assert_eq!(read, vec![(sent[1], json!({"n": 2})), (by_pgmq, json!({"n": 3}))]);
    let state: Vec<(i64, i32, bool)> =
        sqlx::query_as("SELECT msg_id, read_ct, vt > now() + interval '20 seconds' FROM pgmq.q_probe ORDER BY msg_id")
            .fetch_all(pool)
            .await
            .expect("queue table");
    assert_eq!(state, vec![(sent[0], 1, true), (sent[1], 1, true), (by_pgmq, 1, true)]);

    // A visibility timeout of 0 leaves a read message visible for the next read; a message held by
    // another open transaction is skipped.
    sqlx::query("UPDATE pgmq.q_probe SET vt = now() - interval '1 second'").execute(pool).await.expect("expire");
    let mut holder = pool.begin().await.expect("begin");
    let held: Vec<i64> = sqlx::query_scalar("SELECT msg_id FROM tasker._queue_read('probe', 0, 1)")
        .fetch_all(&mut *holder)
        .await
        .expect("held read");
    assert_eq!(held, vec![sent[0]]);
    let others: Vec<i64> = sqlx::query_scalar("SELECT msg_id FROM tasker._queue_read('probe', 30, 10)")
        .fetch_all(pool)
        .await
        .expect("read");
    assert_eq!(others, vec![sent[1], by_pgmq]);
    holder.commit().await.expect("commit");

    // Delete removes exactly the ids given; unknown ids are ignored.
    let deleted: i32 = sqlx::query_scalar("SELECT tasker._queue_delete('probe', $1)")
        .bind(vec![sent[0], by_pgmq, 999_999])
        .fetch_one(pool)
        .await
        .expect("delete");
    assert_eq!(deleted, 2);
    let left: Vec<i64> =
        sqlx::query_scalar("SELECT msg_id FROM pgmq.q_probe ORDER BY msg_id").fetch_all(pool).await.expect("left");
    assert_eq!(left, vec![sent[1]]);
}
