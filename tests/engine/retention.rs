//! Retention: tasker.purge_tasks removes old final tasks with everything hanging off them
//! (optionally archiving them first), tasker.purge_queue_archives trims pgmq archive tables, and
//! the hot tables and Tasker's queues carry their autovacuum settings.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use sqlx::{Connection, PgPool};
use std::sync::Arc;

use tasker_orchestration::actors::{housekeeping, ActorContext, ActorError, Housekeeping};
use tasker_orchestration::metrics::Metrics;
use uuid::Uuid;

use crate::support::*;

/// Row counts of everything that hangs off the given tasks, by table.
async fn footprint(pool: &PgPool, tasks: &[Uuid]) -> BTreeMap<&'static str, i64> {
    let queries = [
        ("tasks", "SELECT count(*) FROM tasker.tasks WHERE task_uuid = ANY ($1)"),
        ("steps", "SELECT count(*) FROM tasker.workflow_steps WHERE task_uuid = ANY ($1)"),
        (
            "edges",
            "SELECT count(*) FROM tasker.workflow_step_edges e JOIN tasker.workflow_steps s \
               ON s.step_uuid = e.from_step_uuid WHERE s.task_uuid = ANY ($1)",
        ),
        ("task_transitions", "SELECT count(*) FROM tasker.task_transitions WHERE task_uuid = ANY ($1)"),
        ("step_transitions", "SELECT count(*) FROM tasker.workflow_step_transitions WHERE task_uuid = ANY ($1)"),
        ("dlq", "SELECT count(*) FROM tasker.dlq_entries WHERE task_uuid = ANY ($1)"),
    ];
    let mut out = BTreeMap::new();
    for (name, sql) in queries {
        out.insert(name, sqlx::query_scalar(sql).bind(tasks).fetch_one(pool).await.unwrap());
    }
    out
}

/// Same tables, in schema tasker_archive.
async fn archived(pool: &PgPool, tasks: &[Uuid]) -> BTreeMap<&'static str, i64> {
    let queries = [
        ("tasks", "SELECT count(*) FROM tasker_archive.tasks WHERE task_uuid = ANY ($1)"),
        ("steps", "SELECT count(*) FROM tasker_archive.workflow_steps WHERE task_uuid = ANY ($1)"),
        (
            "edges",
            "SELECT count(*) FROM tasker_archive.workflow_step_edges e JOIN tasker_archive.workflow_steps s \
               ON s.step_uuid = e.from_step_uuid WHERE s.task_uuid = ANY ($1)",
        ),
        ("task_transitions", "SELECT count(*) FROM tasker_archive.task_transitions WHERE task_uuid = ANY ($1)"),
        (
            "step_transitions",
            "SELECT count(*) FROM tasker_archive.workflow_step_transitions WHERE task_uuid = ANY ($1)",
        ),
        ("dlq", "SELECT count(*) FROM tasker_archive.dlq_entries WHERE task_uuid = ANY ($1)"),
    ];
    let mut out = BTreeMap::new();
    for (name, sql) in queries {
        out.insert(name, sqlx::query_scalar(sql).bind(tasks).fetch_one(pool).await.unwrap());
    }
    out
}

/// Moves the finish time of `tasks` `days` into the past.
async fn finished_days_ago(pool: &PgPool, tasks: &[Uuid], days: i32) {
    sqlx::query(
        "UPDATE tasker.tasks SET completed_at = completed_at - make_interval(days => $2) WHERE task_uuid = ANY ($1)",
    )
    .bind(tasks)
    .bind(days)
    .execute(pool)
    .await
    .unwrap();
}

async fn purge(pool: &PgPool, older_than: &str, limit: i32, dry_run: bool, archive: bool) -> i32 {
    sqlx::query_scalar("SELECT tasker.purge_tasks($1::interval, $2, $3, $4)")
        .bind(older_than)
        .bind(limit)
        .bind(dry_run)
        .bind(archive)
        .fetch_one(pool)
        .await
        .expect("purge_tasks")
}

/// A completed diamond.
async fn completed_diamond(pool: &PgPool, i: i32) -> Uuid {
    let task = create_task(pool, "demo", "diamond", json!({"i": i})).await;
    run_until_idle(pool, "demo", None, |_| Outcome::ok()).await;
    assert_eq!(task_state(pool, task).await, "complete");
    task
}

/// The tasks of one scenario: old final tasks in every final state that has a finish time
/// (complete, error with a DLQ entry, cancelled) and tasks that must survive.
struct Scenario {
    old_final: Vec<Uuid>,
    kept: Vec<Uuid>,
}

async fn scenario(pool: &PgPool) -> Scenario {
    load_examples(pool).await;
    register(pool, template("fragile", "one", &[("only", &[])], json!({"max_attempts": 1}))).await;

    let complete_old = completed_diamond(pool, 1).await;
    let error_old = create_task(pool, "fragile", "one", json!({})).await;
    fail_claimed(pool, "fragile", "boom", "Boom", None).await;
    assert_eq!(task_state(pool, error_old).await, "error");
    assert_eq!(dlq_entries(pool, error_old).await.len(), 1);
    let cancelled_old = create_task(pool, "demo", "diamond", json!({"i": 2})).await;
    sqlx::query("SELECT tasker.cancel_task($1)").bind(cancelled_old).execute(pool).await.unwrap();
    let old_final = vec![complete_old, error_old, cancelled_old];
    finished_days_ago(pool, &old_final, 40).await;

    let complete_recent = completed_diamond(pool, 3).await;
    finished_days_ago(pool, &[complete_recent], 10).await;
    // Running, and created long ago: not final, never purged.
    let running = create_task(pool, "demo", "diamond", json!({"i": 4})).await;
    sqlx::query("UPDATE tasker.tasks SET created_at = created_at - interval '90 days' WHERE task_uuid = $1")
        .bind(running)
        .execute(pool)
        .await
        .unwrap();
    Scenario { old_final, kept: vec![complete_recent, running] }
}

#[tokio::test]
async fn purge_removes_old_final_tasks_with_their_steps_edges_history_and_dlq() {
    let db = test_db().await;
    let pool = &db.pool;
    let s = scenario(pool).await;
    let before = footprint(pool, &s.old_final).await;
    assert!(before.values().all(|&n| n > 0), "every table has rows to purge: {before:?}");
    let kept_before = footprint(pool, &s.kept).await;

    assert_eq!(purge(pool, "30 days", 1000, false, false).await, 3);

    let after = footprint(pool, &s.old_final).await;
    assert!(after.values().all(|&n| n == 0), "rows left behind: {after:?}");
    assert_eq!(footprint(pool, &s.kept).await, kept_before, "a kept task lost rows");
    assert_eq!(purge(pool, "30 days", 1000, false, false).await, 0);
    // No archive was asked for.
    assert_eq!(archived(pool, &s.old_final).await.values().sum::<i64>(), 0);
}

#[tokio::test]
async fn purge_dry_run_counts_and_changes_nothing() {
    let db = test_db().await;
    let pool = &db.pool;
    let s = scenario(pool).await;
    let all: Vec<Uuid> = s.old_final.iter().chain(&s.kept).copied().collect();
    let before = footprint(pool, &all).await;

    assert_eq!(purge(pool, "30 days", 1000, true, false).await, 3);
    assert_eq!(purge(pool, "30 days", 2, true, true).await, 2);
    assert_eq!(purge(pool, "5 days", 1000, true, false).await, 4);

    assert_eq!(footprint(pool, &all).await, before);
    assert_eq!(archived(pool, &all).await.values().sum::<i64>(), 0);
}

#[tokio::test]
async fn purge_with_archive_copies_every_row_before_deleting_it() {
    let db = test_db().await;
    let pool = &db.pool;
    let s = scenario(pool).await;
    let before = footprint(pool, &s.old_final).await;
    let task_rows: Vec<Value> =
        sqlx::query_scalar("SELECT to_jsonb(t) FROM tasker.tasks t WHERE task_uuid = ANY ($1) ORDER BY task_uuid")
            .bind(&s.old_final)
            .fetch_all(pool)
            .await
            .unwrap();
    let step_rows: Vec<Value> = sqlx::query_scalar(
        "SELECT to_jsonb(s) FROM tasker.workflow_steps s WHERE task_uuid = ANY ($1) ORDER BY step_uuid",
    )
    .bind(&s.old_final)
    .fetch_all(pool)
    .await
    .unwrap();

    assert_eq!(purge(pool, "30 days", 1000, false, true).await, 3);

    assert_eq!(archived(pool, &s.old_final).await, before, "archive counts differ from the purged rows");
    assert!(footprint(pool, &s.old_final).await.values().all(|&n| n == 0));
    let archived_tasks: Vec<Value> = sqlx::query_scalar(
        "SELECT to_jsonb(t) - 'archived_at' FROM tasker_archive.tasks t WHERE task_uuid = ANY ($1) ORDER BY task_uuid",
    )
    .bind(&s.old_final)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(archived_tasks, task_rows);
    let archived_steps: Vec<Value> = sqlx::query_scalar(
        "SELECT to_jsonb(s) - 'archived_at' FROM tasker_archive.workflow_steps s \
          WHERE task_uuid = ANY ($1) ORDER BY step_uuid",
    )
    .bind(&s.old_final)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(archived_steps, step_rows);
    let stamped = count(pool, "SELECT count(*) FROM tasker_archive.tasks WHERE archived_at IS NOT NULL").await;
    assert_eq!(stamped, 3);
}

#[tokio::test]
async fn purge_honours_the_limit_oldest_first() {
    let db = test_db().await;
    let pool = &db.pool;
    load_examples(pool).await;
    let mut tasks = Vec::new();
    for i in 0..5 {
        tasks.push(completed_diamond(pool, i).await);
    }
    // tasks[0] finished longest ago.
    for (i, t) in tasks.iter().enumerate() {
        finished_days_ago(pool, &[*t], 50 - i as i32).await;
    }

    assert_eq!(purge(pool, "30 days", 2, false, false).await, 2);
    let left: Vec<Uuid> =
        sqlx::query_scalar("SELECT task_uuid FROM tasker.tasks ORDER BY completed_at").fetch_all(pool).await.unwrap();
    assert_eq!(left, tasks[2..].to_vec());
    assert_eq!(purge(pool, "30 days", 2, false, false).await, 2);
    assert_eq!(purge(pool, "30 days", 2, false, false).await, 1);
    assert_eq!(purge(pool, "30 days", 2, false, false).await, 0);
    assert_eq!(count(pool, "SELECT count(*) FROM tasker.tasks").await, 0);
}

#[tokio::test]
async fn purge_skips_a_task_another_transaction_holds_without_waiting() {
    let db = test_db().await;
    let pool = &db.pool;
    let s = scenario(pool).await;
    let held_task = s.old_final[0];
    let held_step = steps(pool, s.old_final[1]).await[0].step_uuid;

    let mut holder = connect(&db).await;
    let mut hold = holder.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM tasker.tasks WHERE task_uuid = $1 FOR UPDATE")
        .bind(held_task)
        .execute(&mut *hold)
        .await
        .unwrap();
    sqlx::query("SELECT 1 FROM tasker.workflow_steps WHERE step_uuid = $1 FOR UPDATE")
        .bind(held_step)
        .execute(&mut *hold)
        .await
        .unwrap();

    // Returns at once (a wait here would hang the test) with only the task nobody holds.
    assert_eq!(purge(pool, "30 days", 1000, false, false).await, 1);
    assert_eq!(footprint(pool, &s.old_final[2..]).await["tasks"], 0);
    assert_eq!(footprint(pool, &s.old_final[..2]).await["tasks"], 2);
    hold.commit().await.unwrap();

    assert_eq!(purge(pool, "30 days", 1000, false, false).await, 2);
    assert!(footprint(pool, &s.old_final).await.values().all(|&n| n == 0));
}

#[tokio::test]
async fn purge_rejects_a_negative_age_and_a_limit_below_one() {
    let db = test_db().await;
    let pool = &db.pool;
    for (age, limit) in [("-1 day", 10), ("1 day", 0)] {
        let res: Result<i32, _> = sqlx::query_scalar("SELECT tasker.purge_tasks($1::interval, $2)")
            .bind(age)
            .bind(limit)
            .fetch_one(pool)
            .await;
        expect_sqlstate(res, "TK004");
    }
    let res: Result<i32, _> = sqlx::query_scalar("SELECT tasker.purge_tasks(NULL)").fetch_one(pool).await;
    expect_sqlstate(res, "TK004");
}

#[tokio::test]
async fn purge_queue_archives_trims_old_archived_messages_of_taskers_queues_only() {
    let db = test_db().await;
    let pool = &db.pool;
    load_examples(pool).await;
    sqlx::query("SELECT pgmq.create('not_tasker')").execute(pool).await.unwrap();
    for queue in ["worker_demo_queue", "orchestration_step_results", "not_tasker"] {
        for i in 0..3 {
            sqlx::query("SELECT pgmq.archive($1, pgmq.send($1, $2))")
                .bind(queue)
                .bind(json!({"i": i}))
                .execute(pool)
                .await
                .unwrap();
        }
        // Two of the three were archived long ago.
        sqlx::query(&format!(
            "UPDATE pgmq.a_{queue} SET archived_at = archived_at - interval '20 days' \
              WHERE msg_id IN (SELECT msg_id FROM pgmq.a_{queue} ORDER BY msg_id LIMIT 2)"
        ))
        .execute(pool)
        .await
        .unwrap();
    }

    let trimmed = |limit: i32| async move {
        sqlx::query_scalar::<_, i32>("SELECT tasker.purge_queue_archives(interval '7 days', $1)")
            .bind(limit)
            .fetch_one(pool)
            .await
            .unwrap()
    };
    assert_eq!(trimmed(3).await, 3, "the limit counts rows across queues");
    assert_eq!(trimmed(100).await, 1);
    assert_eq!(trimmed(100).await, 0);
    for (queue, left) in [("worker_demo_queue", 1), ("orchestration_step_results", 1), ("not_tasker", 3)] {
        assert_eq!(count(pool, &format!("SELECT count(*) FROM pgmq.a_{queue}")).await, left, "{queue}");
    }
}

/// The storage parameters of a table, as "key=value" strings.
async fn reloptions(pool: &PgPool, table: &str) -> Vec<String> {
    sqlx::query_scalar::<_, Option<Vec<String>>>("SELECT reloptions FROM pg_class WHERE oid = $1::regclass")
        .bind(table)
        .fetch_one(pool)
        .await
        .unwrap()
        .unwrap_or_default()
}

#[tokio::test]
async fn hot_tables_and_queues_created_later_carry_autovacuum_settings() {
    let db = test_db().await;
    let pool = &db.pool;
    for table in ["tasker.tasks", "tasker.workflow_steps", "pgmq.q_orchestration_step_results"] {
        let opts = reloptions(pool, table).await;
        assert!(opts.iter().any(|o| o.starts_with("autovacuum_vacuum_scale_factor=")), "{table}: {opts:?}");
        assert!(opts.iter().any(|o| o.starts_with("autovacuum_vacuum_cost_limit=")), "{table}: {opts:?}");
    }
    // A namespace registered after the migrations ran gets its queue tuned when it is created.
    register(pool, template("later", "t", &[("a", &[])], json!({}))).await;
    let queue_opts = reloptions(pool, "pgmq.q_worker_later_queue").await;
    assert_eq!(queue_opts, reloptions(pool, "pgmq.q_orchestration_step_results").await);
}

fn housekeeping(pool: &PgPool, batch_size: u32, max_batches: u32, archive: bool) -> (Housekeeping, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    let mut ctx = ActorContext::new(pool.clone());
    ctx.metrics = metrics.clone();
    let config = housekeeping::Config {
        older_than_days: 30,
        batch_size,
        archive,
        max_batches_per_run: max_batches,
        ..housekeeping::Config::default()
    };
    (Housekeeping::new(&ctx, config).expect("valid config"), metrics)
}

#[tokio::test]
async fn housekeeping_run_once_purges_old_final_tasks_in_batches() {
    let db = test_db().await;
    let pool = &db.pool;
    let s = scenario(pool).await;
    let kept_before = footprint(pool, &s.kept).await;
    let (actor, metrics) = housekeeping(pool, 2, 100, true);

    let outcome = actor.run_once().await.expect("run_once");
    assert_eq!(outcome.tasks_purged, 3);
    assert_eq!(outcome.task_batches, 2, "a full batch of 2, then a short one");
    assert!(!outcome.more, "everything due was purged");
    assert!(footprint(pool, &s.old_final).await.values().all(|&n| n == 0));
    assert_eq!(archived(pool, &s.old_final).await["tasks"], 3, "archive = true copies first");
    assert_eq!(footprint(pool, &s.kept).await, kept_before, "a kept task lost rows");
    assert!(metrics.encode().contains("tasker_retention_tasks_purged_total 3"), "{}", metrics.encode());

    let again = actor.run_once().await.expect("run_once");
    assert_eq!((again.tasks_purged, again.task_batches), (0, 1));
}

#[tokio::test]
async fn housekeeping_run_once_is_bounded_and_leaves_the_rest_for_the_next_run() {
    let db = test_db().await;
    let pool = &db.pool;
    let s = scenario(pool).await;
    let (actor, _) = housekeeping(pool, 1, 2, false);

    let first = actor.run_once().await.expect("run_once");
    assert_eq!((first.tasks_purged, first.task_batches, first.more), (2, 2, true));
    let second = actor.run_once().await.expect("run_once");
    assert_eq!((second.tasks_purged, second.more), (1, false));
    assert!(footprint(pool, &s.old_final).await.values().all(|&n| n == 0));
    assert_eq!(archived(pool, &s.old_final).await.values().sum::<i64>(), 0, "archive = false");
}

#[tokio::test]
async fn housekeeping_config_is_checked_at_construction() {
    let db = test_db().await;
    let ctx = ActorContext::new(db.pool.clone());
    for bad in [
        housekeeping::Config { older_than_days: 0, ..Default::default() },
        housekeeping::Config { batch_size: 0, ..Default::default() },
        housekeeping::Config { batch_size: 100_001, ..Default::default() },
        housekeeping::Config { max_batches_per_run: 0, ..Default::default() },
    ] {
        assert!(matches!(Housekeeping::new(&ctx, bad), Err(ActorError::InvalidConfig { .. })), "{bad:?}");
    }
}
