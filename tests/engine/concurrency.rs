//! Concurrency: enqueuers, claimers and result processors on separate connections never dispatch,
//! claim or apply anything twice.

use std::collections::{BTreeMap, HashSet};

use serde_json::json;
use sqlx::{Connection, PgPool};
use uuid::Uuid;

use crate::support::*;

/// A fan_out task whose split was completed by an operator: its 100 work steps are ready and
/// not yet dispatched.
async fn hundred_ready_steps(pool: &PgPool) -> Uuid {
    let task = create_task(pool, "demo", "fan_out", json!({})).await;
    let split = step(pool, task, "split").await.step_uuid;
    sqlx::query("SELECT tasker.complete_step($1, '{}')").bind(split).execute(pool).await.unwrap();
    let ready = count(
        pool,
        &format!("SELECT count(*) FROM tasker.workflow_steps WHERE task_uuid = '{task}' AND ready_at IS NOT NULL"),
    )
    .await;
    assert_eq!(ready, 100);
    task
}

/// Messages per step of the work steps in the demo queue.
async fn messages_per_work_step(pool: &PgPool) -> BTreeMap<Uuid, usize> {
    let mut per = BTreeMap::new();
    for m in queue_messages(pool, "demo").await {
        if m.step_name.starts_with("work_") {
            *per.entry(m.step_uuid).or_insert(0) += 1;
        }
    }
    per
}

async fn examples() -> TestDb {
    let db = test_db().await;
    load_examples(&db.pool).await;
    db
}

#[tokio::test]
async fn overlapping_enqueue_transactions_split_the_ready_steps() {
    let db = examples().await;
    let task = hundred_ready_steps(&db.pool).await;

    let mut a = connect(&db).await;
    let mut tx_a = a.begin().await.unwrap();
    let taken_a: Vec<Uuid> =
        sqlx::query_scalar("SELECT step_uuid FROM tasker.enqueue_ready_steps(60)").fetch_all(&mut *tx_a).await.unwrap();
    assert_eq!(taken_a.len(), 60);

    // B runs while A's transaction is open: it must skip A's steps, not take them again.
    let mut b = connect(&db).await;
    let pid_b = backend_pid(&mut b).await;
    let b_job = tokio::spawn(async move {
        let mut tx = b.begin().await.unwrap();
        let taken: Vec<Uuid> = sqlx::query_scalar("SELECT step_uuid FROM tasker.enqueue_ready_steps(1000)")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        taken
    });
    // B has picked its steps (SKIP LOCKED) and waits for the task row A holds.
    wait_until_blocked(&db.pool, pid_b).await;
    tx_a.commit().await.unwrap();
    let taken_b = b_job.await.unwrap();

    assert_eq!(taken_b.len(), 40);
    let a_set: HashSet<Uuid> = taken_a.into_iter().collect();
    assert!(taken_b.iter().all(|s| !a_set.contains(s)), "a step was taken by both enqueuers");
    let per = messages_per_work_step(&db.pool).await;
    assert_eq!(per.len(), 100);
    assert!(per.values().all(|&n| n == 1), "{per:?}");
    assert_eq!(task_state(&db.pool, task).await, "steps_in_process");
}

#[tokio::test]
async fn many_concurrent_enqueuers_dispatch_every_step_exactly_once() {
    let db = examples().await;
    for _ in 0..3 {
        hundred_ready_steps(&db.pool).await;
    }
    let mut jobs = Vec::new();
    for _ in 0..6 {
        let pool = db.pool.clone();
        jobs.push(tokio::spawn(async move {
            let mut taken = Vec::new();
            loop {
                let batch = enqueue(&pool, 7, None).await;
                if batch.is_empty() {
                    return taken;
                }
                taken.extend(batch);
            }
        }));
    }
    let mut all = Vec::new();
    for j in jobs {
        all.extend(j.await.unwrap());
    }
    // Whatever an enqueuer skipped while another held it is picked up now, once.
    all.extend(enqueue(&db.pool, 1000, None).await);
    let distinct: HashSet<Uuid> = all.iter().copied().collect();
    assert_eq!(all.len(), 300, "steps returned by the enqueuers");
    assert_eq!(distinct.len(), 300);
    let per = messages_per_work_step(&db.pool).await;
    assert_eq!(per.len(), 300);
    assert!(per.values().all(|&n| n == 1));
}

#[tokio::test]
async fn concurrent_claimers_never_claim_a_step_twice() {
    let db = examples().await;
    let task = hundred_ready_steps(&db.pool).await;
    enqueue(&db.pool, 1000, None).await;
    let mut jobs = Vec::new();
    for _ in 0..4 {
        let pool = db.pool.clone();
        jobs.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = claim(&pool, "demo", 9, None).await;
                if batch.is_empty() {
                    return got;
                }
                got.extend(batch.into_iter().map(|c| (c.step_uuid, c.attempt)));
            }
        }));
    }
    let mut all = Vec::new();
    for j in jobs {
        all.extend(j.await.unwrap());
    }
    let distinct: HashSet<Uuid> = all.iter().map(|(s, _)| *s).collect();
    assert_eq!(all.len(), 100);
    assert_eq!(distinct.len(), 100);
    assert!(all.iter().all(|(_, attempt)| *attempt == 1));
    assert_eq!(steps_in(&db.pool, task, "in_progress").await.len(), 100);
}

/// A diamond whose start step is claimed; returns (task, claimed start).
async fn diamond_with_claimed_start(pool: &PgPool) -> (Uuid, Claimed) {
    let task = create_task(pool, "demo", "diamond", json!({})).await;
    let start = only(claim(pool, "demo", 10, None).await);
    (task, start)
}

async fn completes_of(pool: &PgPool, step_uuid: Uuid) -> usize {
    step_history(pool, step_uuid).await.iter().filter(|h| h.2 == "complete").count()
}

#[tokio::test]
async fn same_result_batch_applied_twice_changes_nothing_the_second_time() {
    let db = examples().await;
    let pool = &db.pool;
    let (task, start) = diamond_with_claimed_start(pool).await;
    let batch = json!([result_message(&start, &Outcome::Success(json!({"v": 1})))]);

    let first = apply(pool, batch.clone(), None).await;
    assert_eq!((first.completed, first.ignored, first.dispatched), (1, 0, 2));
    let second = apply(pool, batch, None).await;
    assert_eq!((second.completed, second.ignored, second.dispatched), (0, 1, 0));

    assert_eq!(completes_of(pool, start.step_uuid).await, 1);
    for child in ["left", "right"] {
        let s = step(pool, task, child).await;
        assert_eq!((s.state.as_str(), s.parents_pending), ("enqueued", 0), "{child}");
    }
    assert_eq!(step(pool, task, "finish").await.parents_pending, 2);
    let queued: Vec<String> = queue_messages(pool, "demo").await.into_iter().map(|m| m.step_name).collect();
    assert_eq!(queued.iter().filter(|n| *n == "left").count(), 1);
    assert_eq!(queued.iter().filter(|n| *n == "right").count(), 1);
}

#[tokio::test]
async fn duplicate_results_in_one_batch_are_applied_once() {
    let db = examples().await;
    let pool = &db.pool;
    let (_, start) = diamond_with_claimed_start(pool).await;
    let m = result_message(&start, &Outcome::ok());
    let applied = apply(pool, json!([m.clone(), m]), None).await;
    assert_eq!((applied.results, applied.completed, applied.ignored, applied.dispatched), (2, 1, 1, 2));
    assert_eq!(completes_of(pool, start.step_uuid).await, 1);
}

#[tokio::test]
async fn same_result_submitted_twice_is_applied_once() {
    let db = examples().await;
    let pool = &db.pool;
    let (task, start) = diamond_with_claimed_start(pool).await;
    assert!(submit(pool, &start, &Outcome::ok()).await);
    assert!(!submit(pool, &start, &Outcome::ok()).await, "the second submission was accepted");
    assert_eq!(completes_of(pool, start.step_uuid).await, 1);
    assert_eq!(result_queue_len(pool).await, 0);
    assert_eq!(queued_step_names(pool, "demo", task).await.len(), 2);
}

#[tokio::test]
async fn identical_result_messages_processed_concurrently_are_applied_once() {
    let db = examples().await;
    let pool = &db.pool;
    let (task, start) = diamond_with_claimed_start(pool).await;
    let m = result_message(&start, &Outcome::Success(json!({"v": 1})));
    for _ in 0..2 {
        sqlx::query("SELECT pgmq.send('orchestration_step_results', $1)").bind(&m).execute(pool).await.unwrap();
    }

    let mut a = connect(&db).await;
    let mut tx_a = a.begin().await.unwrap();
    let first: Applied =
        sqlx::query_as("SELECT * FROM tasker.process_step_results(1)").fetch_one(&mut *tx_a).await.unwrap();
    assert_eq!((first.results, first.completed), (1, 1));

    let mut b = connect(&db).await;
    let pid_b = backend_pid(&mut b).await;
    let b_job = tokio::spawn(async move {
        let mut tx = b.begin().await.unwrap();
        let applied: Applied =
            sqlx::query_as("SELECT * FROM tasker.process_step_results(1)").fetch_one(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        applied
    });
    // B read the second message and waits for the step row A holds.
    wait_until_blocked(pool, pid_b).await;
    tx_a.commit().await.unwrap();
    let second = b_job.await.unwrap();
    assert_eq!((second.results, second.completed, second.ignored, second.dispatched), (1, 0, 1, 0));

    assert_eq!(completes_of(pool, start.step_uuid).await, 1);
    assert_eq!(result_queue_len(pool).await, 0);
    assert_eq!(step(pool, task, "left").await.parents_pending, 0);
    // The start step's own dispatch message was never acked (its results were sent directly).
    let mut queued: Vec<String> =
        queue_messages(pool, "demo").await.into_iter().map(|m| m.step_name).filter(|n| n != "start").collect();
    queued.sort();
    assert_eq!(queued, vec!["left", "right"]);
}

#[tokio::test]
async fn concurrent_finalizers_take_each_task_once() {
    let db = examples().await;
    let pool = &db.pool;
    let mut tasks = Vec::new();
    for i in 0..20 {
        tasks.push(create_task(pool, "demo", "diamond", json!({"i": i})).await);
    }
    // Run every step, the last one failing, without finalizing: all 20 tasks are flagged at once
    // (a failure is the finalizer's to derive; a task whose steps all complete would be finalized
    // by its last acknowledgement).
    loop {
        let claimed = claim(pool, "demo", 1000, None).await;
        if claimed.is_empty() {
            break;
        }
        for c in &claimed {
            let outcome = if c.step_name == "finish" { Outcome::permanent("broken", "Broken") } else { Outcome::ok() };
            submit(pool, c, &outcome).await;
        }
        process(pool, None).await;
    }
    let mut jobs = Vec::new();
    for _ in 0..4 {
        let pool = pool.clone();
        jobs.push(tokio::spawn(async move {
            let mut taken = Vec::new();
            loop {
                let batch: Vec<(Uuid, String, String)> =
                    sqlx::query_as("SELECT * FROM tasker.finalize_tasks(3)").fetch_all(&pool).await.unwrap();
                if batch.is_empty() {
                    return taken;
                }
                taken.extend(batch.into_iter().map(|r| r.0));
            }
        }));
    }
    let mut all = Vec::new();
    for j in jobs {
        all.extend(j.await.unwrap());
    }
    all.extend(finalize(pool, None).await.into_iter().map(|r| r.0));
    let distinct: HashSet<Uuid> = all.iter().copied().collect();
    assert_eq!(all.len(), 20);
    assert_eq!(distinct.len(), 20);
    for t in tasks {
        assert_eq!(task_state(pool, t).await, "error");
        let fails = task_history(pool, t).await.iter().filter(|h| h.2 == "fail").count();
        assert_eq!(fails, 1);
    }
    assert_eq!(count(pool, "SELECT count(*) FROM tasker.dlq_entries").await, 20, "one DLQ entry per task");
}

#[tokio::test]
async fn cancel_racing_a_result_batch_does_not_deadlock() {
    let db = examples().await;
    let pool = &db.pool;
    // A diamond whose start step sorts after one of its children, so the canceller (which locks
    // every step of the task in step_uuid order) and the result processor (the result's step,
    // then its children) want the same rows in different orders.
    let mut found = None;
    for i in 0..100 {
        let task = create_task(pool, "demo", "diamond", json!({"i": i})).await;
        let start = step(pool, task, "start").await.step_uuid;
        let child = [step(pool, task, "left").await.step_uuid, step(pool, task, "right").await.step_uuid]
            .into_iter()
            .find(|c| *c < start);
        if let Some(child) = child {
            found = Some((task, child));
            break;
        }
        sqlx::query("SELECT tasker.cancel_task($1)").bind(task).execute(pool).await.unwrap();
    }
    let (task, child) = found.expect("a diamond with a child sorting before its parent");
    let start = claim(pool, "demo", 100, None).await.into_iter().find(|c| c.task_uuid == task).unwrap();

    // Make both calls wait on the child row, the canceller first; then release it.
    let mut holder = connect(&db).await;
    let mut hold = holder.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM tasker.workflow_steps WHERE step_uuid = $1 FOR UPDATE")
        .bind(child)
        .execute(&mut *hold)
        .await
        .unwrap();

    let mut canceller = connect(&db).await;
    let pid_cancel = backend_pid(&mut canceller).await;
    let cancel_job = tokio::spawn(async move {
        sqlx::query_scalar::<_, String>("SELECT tasker.cancel_task($1)").bind(task).fetch_one(&mut canceller).await
    });
    wait_until_blocked(pool, pid_cancel).await;

    let mut processor = connect(&db).await;
    let pid_apply = backend_pid(&mut processor).await;
    let batch = json!([result_message(&start, &Outcome::ok())]);
    let apply_job = tokio::spawn(async move {
        sqlx::query_as::<_, Applied>("SELECT * FROM tasker.apply_step_results($1)")
            .bind(batch)
            .fetch_one(&mut processor)
            .await
    });
    wait_until_blocked(pool, pid_apply).await;
    hold.commit().await.unwrap();

    let cancelled = cancel_job.await.unwrap();
    let applied = apply_job.await.unwrap();
    assert!(cancelled.is_ok(), "cancel_task failed: {cancelled:?}");
    assert!(applied.is_ok(), "apply_step_results failed: {applied:?}");
    assert_eq!(task_state(pool, task).await, "cancelled");
    assert_eq!(applied.unwrap().completed, 0, "the result arrived after the cancel and is ignored");
}
