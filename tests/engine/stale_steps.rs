//! `tasker.stale_steps`: the staleness sweeper's candidates, read only, with whether each one's
//! dispatch message still exists.

use chrono::Duration;
use serde_json::json;

use crate::support::*;

type Row = (String, String, i32, bool);

async fn stale(pool: &sqlx::PgPool, now: Ts) -> Vec<Row> {
    sqlx::query_as("SELECT step_name, state, attempts, message_present FROM tasker.stale_steps(60, 100, $1)")
        .bind(now)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn stale_steps_lists_overdue_steps_with_their_message_and_changes_nothing() {
    let db = test_db().await;
    let pool = &db.pool;
    register(pool, template("demo", "single", &[("only", &[])], json!({}))).await;
    let task = create_task(pool, "demo", "single", json!({})).await;
    let now = db_now(pool).await;
    let later = now + Duration::days(1);
    assert!(stale(pool, later).await.iter().all(|r| r.1 == "enqueued"), "an enqueued step is a candidate too");
    let c = only(claim(pool, "demo", 10, None).await);

    assert_eq!(stale(pool, now).await, Vec::<Row>::new(), "nothing is overdue yet");
    assert_eq!(stale(pool, later).await, [("only".to_string(), "in_progress".to_string(), 1, true)]);

    // The message vanishes: the step is what a sweep would fail. Looking changes nothing.
    sqlx::query("SELECT pgmq.delete('worker_demo_queue', $1)").bind(c.msg_id).execute(pool).await.unwrap();
    assert_eq!(stale(pool, later).await, [("only".to_string(), "in_progress".to_string(), 1, false)]);
    assert_eq!(step(pool, task, "only").await.state, "in_progress");
    assert_eq!(result_queue_len(pool).await, 0);

    for args in ["-1, 100", "60, 0", "NULL, 100"] {
        let res = sqlx::query(&format!("SELECT * FROM tasker.stale_steps({args})")).execute(pool).await;
        expect_sqlstate(res, "TK004");
    }
}
