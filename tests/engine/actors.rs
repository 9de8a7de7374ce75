//! The orchestration actors, one `run_once` at a time: each actor's one SQL call with its
//! outcome, configuration checked at construction, backpressure and batching of the task
//! request actor, the coalesced wake-up. Time is passed (`run_once_at`), never slept.

use chrono::Duration;
use serde_json::{json, Value};
use sqlx::PgPool;
use tasker_orchestration::actors::{
    step_enqueuer, task_request, ActorContext, ActorError, StalenessSweeper, StepEnqueuerActor, TaskRequestActor,
};
use tasker_orchestration::db::engine::FinalizedTask;
use tasker_orchestration::db::EngineError;
use tasker_orchestration::model::TaskRequest;
use uuid::Uuid;

use crate::support::*;

/// Registers demo/single (one step named `only`) with `retry` and creates a task of it.
async fn single(pool: &PgPool, retry: Value) -> Uuid {
    register(pool, template("demo", "single", &[("only", &[])], retry)).await;
    create_task(pool, "demo", "single", json!({})).await
}

fn request(name: &str) -> TaskRequest {
    TaskRequest { namespace: "demo".into(), name: name.into(), ..Default::default() }
}

#[tokio::test]
async fn result_processor_run_once_applies_a_queued_result() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({})).await;
    let c = only(claim(pool, "demo", 10, None).await);
    post_result(pool, &c, &Outcome::ok()).await;

    let counts = Engine::new(pool).processor.run_once().await.expect("run_once");
    // The task's last step completed: the task is finalized in the same transaction, not flagged.
    assert_eq!((counts.results, counts.completed, counts.tasks_flagged), (1, 1, 0));
    assert_eq!(step(pool, task, "only").await.state, "complete");
    assert_eq!(task_state(pool, task).await, "complete");
    assert_eq!(result_queue_len(pool).await, 0);
}

#[tokio::test]
async fn task_finalizer_run_once_finalizes_a_flagged_task() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({})).await;
    let c = only(claim(pool, "demo", 10, None).await);
    // A failure is the finalizer's to derive (error, with its DLQ entry): the task is flagged.
    submit(pool, &c, &Outcome::permanent("broken", "Broken")).await;
    assert!(task_flagged(pool, task).await);
    let engine = Engine::new(pool);

    let outcome = engine.finalizer.run_once().await.expect("run_once");
    let want = FinalizedTask { task_uuid: task, from_state: "steps_in_process".into(), to_state: "error".into() };
    assert_eq!(outcome.tasks, vec![want]);
    assert_eq!(task_state(pool, task).await, "error");
    assert!(engine.finalizer.run_once().await.expect("again").tasks.is_empty(), "the flag is cleared");
}

#[tokio::test]
async fn step_enqueuer_run_once_dispatches_a_step_once_its_retry_is_due() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({"base_ms": 1000})).await;
    let t0 = db_now(pool).await;
    let c = only(claim(pool, "demo", 10, Some(t0)).await);
    submit_at(pool, &c, &Outcome::retryable("flaky"), Some(t0)).await;
    let engine = Engine::new(pool);
    engine.run_once_at(Some(t0)).await.expect("pass");
    let due = step(pool, task, "only").await.next_retry_at.expect("a retry is scheduled");

    let early = engine.enqueuer.run_once_at(Some(due - Duration::milliseconds(1))).await.expect("early");
    assert!(early.dispatched.is_empty());
    let on_time = engine.enqueuer.run_once_at(Some(due)).await.expect("on time");
    assert_eq!(on_time.dispatched, vec![c.step_uuid]);
    assert_eq!(step(pool, task, "only").await.state, "enqueued");
    assert_eq!(queued_step_names(pool, "demo", task).await.len(), 1);
}

#[tokio::test]
async fn staleness_sweeper_run_once_fails_an_in_progress_step_whose_message_vanished() {
    let db = test_db().await;
    let pool = &db.pool;
    let task = single(pool, json!({"max_attempts": 1})).await;
    let c = only(claim(pool, "demo", 10, None).await);
    sqlx::query("SELECT pgmq.delete('worker_demo_queue', $1)").bind(c.msg_id).execute(pool).await.unwrap();
    let engine = Engine::new(pool);
    let later = db_now(pool).await + Duration::days(1);

    assert_eq!(engine.sweeper.run_once().await.expect("now").reported, 0, "not stale yet");
    assert_eq!(engine.sweeper.run_once_at(Some(later)).await.expect("later").reported, 1);
    assert_eq!(step(pool, task, "only").await.state, "error", "failed at once, under the sweep's lock");
    assert_eq!(result_queue_len(pool).await, 0, "nothing goes through the results queue");
    assert!(task_flagged(pool, task).await);
    engine.run_until_idle_at(Some(later)).await.expect("engine");
    assert_eq!(step(pool, task, "only").await.state, "error");
    assert_eq!(task_state(pool, task).await, "error");
}

#[tokio::test]
async fn staleness_sweeper_leaves_a_step_whose_message_still_exists() {
    let db = test_db().await;
    let pool = &db.pool;
    single(pool, json!({})).await;
    only(claim(pool, "demo", 10, None).await);
    let later = db_now(pool).await + Duration::days(1);
    let sweeper = Engine::new(pool).sweeper;
    assert_eq!(sweeper.run_once_at(Some(later)).await.expect("sweep").reported, 0);
}

#[tokio::test]
async fn task_request_run_once_creates_the_waiting_requests_in_one_call() {
    let db = test_db().await;
    let pool = &db.pool;
    register(pool, template("demo", "single", &[("only", &[])], json!({}))).await;
    let ctx = ActorContext::new(pool.clone());
    let (actor, submitter) = TaskRequestActor::new(&ctx, task_request::Config::default()).expect("actor");

    // join! polls in order: the three requests are queued before run_once takes them.
    let (a, b, unknown, outcome) = tokio::join!(
        submitter.submit(request("single")),
        submitter.submit(request("single")),
        submitter.submit(request("no_such_template")),
        actor.run_once(),
    );
    let outcome = outcome.expect("run_once");
    assert_eq!((outcome.created, outcome.rejected), (2, 1));
    let (a, b) = (a.expect("a"), b.expect("b"));
    assert_ne!(a, b);
    assert!(matches!(unknown, Err(ActorError::Engine(EngineError::NotFound(_)))), "{unknown:?}");
    assert_eq!(count(pool, "SELECT count(*) FROM tasker.tasks").await, 2);
    assert_eq!(actor.run_once().await.expect("idle"), task_request::Outcome::default());
}

#[tokio::test]
async fn requests_arriving_while_every_create_call_is_in_flight_are_created_together() {
    let db = test_db().await;
    let pool = &db.pool;
    register(pool, template("demo", "single", &[("only", &[])], json!({}))).await;
    let ctx = ActorContext::new(pool.clone());
    let config = task_request::Config { concurrency: 1, ..Default::default() };
    let (actor, submitter) = TaskRequestActor::new(&ctx, config).expect("actor");
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(actor.run(shutdown.clone()));

    // The first call waits for the tasks table, held by another transaction; five more requests
    // arrive one by one meanwhile.
    let mut lock = pool.begin().await.expect("begin");
    sqlx::query("LOCK TABLE tasker.tasks IN EXCLUSIVE MODE").execute(&mut *lock).await.expect("lock");
    let first = tokio::spawn({
        let submitter = submitter.clone();
        async move { submitter.submit(request("single")).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut more = Vec::new();
    for _ in 0..5 {
        let submitter = submitter.clone();
        more.push(tokio::spawn(async move { submitter.submit(request("single")).await }));
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
    }
    lock.commit().await.expect("release");

    first.await.expect("join").expect("first created");
    for r in more {
        r.await.expect("join").expect("created");
    }
    // One call for the first request, one for the five that waited together.
    let calls: i64 =
        count(pool, "SELECT count(DISTINCT xid) FROM tasker.task_transitions WHERE event = 'create'").await;
    assert_eq!(calls, 2);
    shutdown.cancel();
    running.await.expect("actor stops");
}

#[tokio::test]
async fn a_full_task_request_channel_is_backpressure() {
    let db = test_db().await;
    let pool = &db.pool;
    register(pool, template("demo", "single", &[("only", &[])], json!({}))).await;
    let ctx = ActorContext::new(pool.clone());
    let config = task_request::Config { channel_size: 1, ..Default::default() };
    let (actor, submitter) = TaskRequestActor::new(&ctx, config).expect("actor");

    let (first, second, outcome) =
        tokio::join!(submitter.submit(request("single")), submitter.submit(request("single")), actor.run_once());
    assert!(matches!(second, Err(ActorError::Backpressure { .. })), "{second:?}");
    first.expect("the queued request is created");
    assert_eq!(outcome.expect("run_once").created, 1);
}

#[tokio::test]
async fn an_actor_config_out_of_range_is_refused_at_construction() {
    let db = test_db().await;
    let ctx = ActorContext::new(db.pool.clone());
    let zero = step_enqueuer::Config { batch_size: 0, ..Default::default() };
    let err = StepEnqueuerActor::new(&ctx, zero).err().expect("refused");
    assert!(matches!(err, ActorError::InvalidConfig { field: "batch_size", .. }), "{err:?}");
    let config = task_request::Config { channel_size: 0, ..Default::default() };
    assert!(TaskRequestActor::new(&ctx, config).is_err());
    let fast = tasker_orchestration::actors::staleness_sweeper::Config {
        interval: std::time::Duration::ZERO,
        ..Default::default()
    };
    assert!(StalenessSweeper::new(&ctx, fast).is_err());
}

#[tokio::test]
async fn repeated_wake_ups_collapse_into_one_pending_wake_up() {
    let db = test_db().await;
    let enqueuer = Engine::new(&db.pool).enqueuer;
    let wake = enqueuer.wake_up();
    assert!(!wake.pending());
    for _ in 0..2000 {
        wake.wake();
    }
    assert!(wake.pending(), "one wake-up is pending, however many were sent");
}
