//! The hot path's queue operations (sql/0305_queue_messages.sql) do to a queue table what pgmq's
//! own functions do: a message sent with one is read with the other, a read hides a message for
//! its visibility timeout and counts the read, a held message is skipped, a delete removes exactly
//! the ids given. The queue 'probe' belongs to no namespace, so these go through the dynamic
//! statements; a namespace's queue goes through its compiled branch (the last test).

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

    // A message locked through _queue_lock is skipped by a read until the lock is released.
    sqlx::query("UPDATE pgmq.q_probe SET vt = now() - interval '1 second'").execute(pool).await.expect("expire");
    let mut holder = pool.begin().await.expect("begin");
    sqlx::query("SELECT tasker._queue_lock('probe', $1)")
        .bind(vec![sent[0]])
        .execute(&mut *holder)
        .await
        .expect("lock");
    let unlocked: Vec<i64> = sqlx::query_scalar("SELECT msg_id FROM tasker._queue_read('probe', 0, 10)")
        .fetch_all(pool)
        .await
        .expect("read");
    assert_eq!(unlocked, vec![sent[1], by_pgmq]);
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

/// Registering a namespace compiles its queue into the four queue operations (static SQL, whose
/// plans a session keeps), also when two transactions create namespaces at once; the compiled
/// branch does what the dynamic statement does.
#[tokio::test]
async fn a_new_namespace_is_compiled_into_the_queue_operations() {
    let db = test_db().await;
    let pool = &db.pool;
    let register_in = |ns: &'static str| {
        sqlx::query("SELECT tasker.register_template($1)").bind(template(ns, "t", &[("only", &[])], json!({})))
    };

    // Two registrations of new namespaces in concurrent transactions: the second compiles after
    // the first commits, and sees its namespace.
    let mut first = pool.begin().await.expect("begin");
    register_in("alpha").execute(&mut *first).await.expect("register alpha");
    let mut second = pool.begin().await.expect("begin");
    let racing = tokio::spawn(async move {
        register_in("beta").execute(&mut *second).await.expect("register beta");
        second.commit().await.expect("commit beta");
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!racing.is_finished(), "the second compilation waits for the first transaction");
    first.commit().await.expect("commit alpha");
    racing.await.expect("beta registered");

    for function in ["_queue_send", "_queue_read", "_queue_lock", "_queue_delete"] {
        let def: String = sqlx::query_scalar(&format!("SELECT pg_get_functiondef('tasker.{function}'::regproc)"))
            .fetch_one(pool)
            .await
            .expect("definition");
        for table in ["pgmq.q_worker_alpha_queue", "pgmq.q_worker_beta_queue"] {
            assert!(def.contains(table), "{function} has no compiled branch for {table}:\n{def}");
        }
    }

    // The compiled branch: send, read (hidden and counted), lock, delete.
    let sent: Vec<i64> = sqlx::query_scalar("SELECT * FROM tasker._queue_send('worker_alpha_queue', $1)")
        .bind(vec![json!({"n": 1}), json!({"n": 2})])
        .fetch_all(pool)
        .await
        .expect("send");
    let read: Vec<(i64, serde_json::Value)> =
        sqlx::query_as("SELECT * FROM tasker._queue_read('worker_alpha_queue', 30, 1)")
            .fetch_all(pool)
            .await
            .expect("read");
    assert_eq!(read, vec![(sent[0], json!({"n": 1}))]);
    let read_ct: i32 = sqlx::query_scalar("SELECT read_ct FROM pgmq.q_worker_alpha_queue WHERE msg_id = $1")
        .bind(sent[0])
        .fetch_one(pool)
        .await
        .expect("read_ct");
    assert_eq!(read_ct, 1);
    let mut holder = pool.begin().await.expect("begin");
    sqlx::query("SELECT tasker._queue_lock('worker_alpha_queue', $1)")
        .bind(vec![sent[1]])
        .execute(&mut *holder)
        .await
        .expect("lock");
    let skipped: Vec<i64> = sqlx::query_scalar("SELECT msg_id FROM tasker._queue_read('worker_alpha_queue', 30, 10)")
        .fetch_all(pool)
        .await
        .expect("read past the lock");
    assert!(skipped.is_empty(), "a locked message is skipped, a hidden one not read: {skipped:?}");
    holder.commit().await.expect("commit");
    let deleted: i32 = sqlx::query_scalar("SELECT tasker._queue_delete('worker_alpha_queue', $1)")
        .bind(vec![sent[0], sent[1], 999_999])
        .fetch_one(pool)
        .await
        .expect("delete");
    assert_eq!(deleted, 2);
}
