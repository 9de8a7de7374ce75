//! Shared helpers for the engine suite: templates, SQLSTATE assertions, state readers, direct
//! calls of each SQL function, and a simulated worker (claim, submit) paired with the real
//! orchestration actors (`testing::Engine`) for whole-workflow rounds.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;

pub use tasker_orchestration::testing::{test_db, Engine, TestDb};

/// A point in (database) time, passed to the functions' `p_now` parameters.
pub type Ts = DateTime<Utc>;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// The SQLSTATE of a database error, if the error came from the server.
pub fn sqlstate(err: &sqlx::Error) -> Option<String> {
    match err {
        sqlx::Error::Database(e) => e.code().map(std::borrow::Cow::into_owned),
        _ => None,
    }
}

/// Asserts that `res` failed with SQLSTATE `code`; returns the server's message.
#[track_caller]
pub fn expect_sqlstate<T: std::fmt::Debug>(res: Result<T, sqlx::Error>, code: &str) -> String {
    match res {
        Ok(v) => panic!("expected SQLSTATE {code}, got success: {v:?}"),
        Err(e) => {
            assert_eq!(sqlstate(&e).as_deref(), Some(code), "expected SQLSTATE {code}, got {e}");
            match e {
                sqlx::Error::Database(d) => d.message().to_string(),
                other => other.to_string(),
            }
        }
    }
}

/// The HINT of a PostgreSQL error, if any.
pub fn hint(err: &sqlx::Error) -> Option<String> {
    match err {
        sqlx::Error::Database(d) => {
            d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().and_then(|p| p.hint()).map(str::to_string)
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Templates and tasks
// ---------------------------------------------------------------------------------------------

/// Registers a template given as JSON; panics if the engine rejects it.
pub async fn register(pool: &PgPool, def: Value) -> Uuid {
    try_register(pool, def).await.expect("register_template")
}

/// Registers a template given as JSON.
pub async fn try_register(pool: &PgPool, def: Value) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar("SELECT tasker.register_template($1)").bind(def).fetch_one(pool).await
}

/// Registers every example template under config/tasks.
pub async fn load_examples(pool: &PgPool) {
    tasker_orchestration::templates::load_dir(pool, Path::new("config/tasks")).await.expect("load config/tasks");
}

/// A template in namespace `ns` with one step per `(name, depends_on)`, all with `retry`.
pub fn template(ns: &str, name: &str, steps: &[(&str, &[&str])], retry: Value) -> Value {
    let steps: Vec<Value> = steps
        .iter()
        .map(|(s, deps)| json!({"name": s, "handler": format!("h_{s}"), "depends_on": deps, "retry": retry}))
        .collect();
    json!({"namespace": ns, "name": name, "version": "1.0.0", "steps": steps})
}

/// Creates a task; panics on error.
pub async fn create_task(pool: &PgPool, ns: &str, name: &str, context: Value) -> Uuid {
    try_create_task(pool, ns, name, context, json!({})).await.expect("create_task")
}

/// Creates a task with options.
pub async fn try_create_task(
    pool: &PgPool,
    ns: &str,
    name: &str,
    context: Value,
    options: Value,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar("SELECT tasker.create_task($1, $2, NULL, $3, $4)")
        .bind(ns)
        .bind(name)
        .bind(context)
        .bind(options)
        .fetch_one(pool)
        .await
}

// ---------------------------------------------------------------------------------------------
// Reading state
// ---------------------------------------------------------------------------------------------

/// The database's `now()`.
pub async fn db_now(pool: &PgPool) -> Ts {
    sqlx::query_scalar("SELECT now()").fetch_one(pool).await.unwrap()
}

/// A task's current state.
pub async fn task_state(pool: &PgPool, task: Uuid) -> String {
    sqlx::query_scalar("SELECT state FROM tasker.tasks WHERE task_uuid = $1").bind(task).fetch_one(pool).await.unwrap()
}

/// Each step's state, by step name.
pub async fn step_states(pool: &PgPool, task: Uuid) -> BTreeMap<String, String> {
    sqlx::query_as::<_, (String, String)>("SELECT name, state FROM tasker.workflow_steps WHERE task_uuid = $1")
        .bind(task)
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// Names of a task's steps in `state`.
pub async fn steps_in(pool: &PgPool, task: Uuid, state: &str) -> BTreeSet<String> {
    sqlx::query_scalar("SELECT name FROM tasker.workflow_steps WHERE task_uuid = $1 AND state = $2")
        .bind(task)
        .bind(state)
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// One step row, the columns the tests look at.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StepRow {
    pub step_uuid: Uuid,
    pub task_uuid: Uuid,
    pub name: String,
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub parents_total: i32,
    pub parents_pending: i32,
    pub ready_at: Option<Ts>,
    pub next_retry_at: Option<Ts>,
    pub results: Option<Value>,
    pub last_error: Option<Value>,
    pub enqueued_at: Option<Ts>,
    pub claimed_at: Option<Ts>,
    pub completed_at: Option<Ts>,
    pub dispatch_msg_id: Option<i64>,
}

const STEP_COLUMNS: &str =
    "step_uuid, task_uuid, name, state, attempts, max_attempts, parents_total, parents_pending, \
     ready_at, next_retry_at, results, last_error, enqueued_at, claimed_at, completed_at, dispatch_msg_id";

/// A step of a task, by name.
pub async fn step(pool: &PgPool, task: Uuid, name: &str) -> StepRow {
    sqlx::query_as(&format!("SELECT {STEP_COLUMNS} FROM tasker.workflow_steps WHERE task_uuid = $1 AND name = $2"))
        .bind(task)
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("step {name}: {e}"))
}

/// A step by uuid.
pub async fn step_by_uuid(pool: &PgPool, step_uuid: Uuid) -> StepRow {
    sqlx::query_as(&format!("SELECT {STEP_COLUMNS} FROM tasker.workflow_steps WHERE step_uuid = $1"))
        .bind(step_uuid)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Every step of a task.
pub async fn steps(pool: &PgPool, task: Uuid) -> Vec<StepRow> {
    sqlx::query_as(&format!("SELECT {STEP_COLUMNS} FROM tasker.workflow_steps WHERE task_uuid = $1 ORDER BY position"))
        .bind(task)
        .fetch_all(pool)
        .await
        .unwrap()
}

/// A task's state history as (from_state, to_state, event), oldest first.
pub async fn task_history(pool: &PgPool, task: Uuid) -> Vec<(Option<String>, String, String)> {
    sqlx::query_as("SELECT from_state, to_state, event FROM tasker.task_transitions WHERE task_uuid = $1 ORDER BY id")
        .bind(task)
        .fetch_all(pool)
        .await
        .unwrap()
}

/// A step's state history as (from_state, to_state, event, metadata), oldest first.
pub async fn step_history(pool: &PgPool, step_uuid: Uuid) -> Vec<(Option<String>, String, String, Option<Value>)> {
    sqlx::query_as(
        "SELECT from_state, to_state, event, metadata FROM tasker.workflow_step_transitions \
         WHERE step_uuid = $1 ORDER BY id",
    )
    .bind(step_uuid)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Whether a task is flagged for the finalizer (`finalization_requested_at` set).
pub async fn task_flagged(pool: &PgPool, task: Uuid) -> bool {
    sqlx::query_scalar("SELECT finalization_requested_at IS NOT NULL FROM tasker.tasks WHERE task_uuid = $1")
        .bind(task)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A row count of any query returning `count(*)`.
pub async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A message in a worker queue (visible or not).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QueueMsg {
    pub msg_id: i64,
    pub step_uuid: Uuid,
    pub task_uuid: Uuid,
    pub step_name: String,
    pub attempt: i32,
}

/// Every message currently in `worker_<ns>_queue`, visible or not, by msg_id.
pub async fn queue_messages(pool: &PgPool, ns: &str) -> Vec<QueueMsg> {
    sqlx::query_as(&format!(
        "SELECT msg_id, (message ->> 'step_uuid')::uuid AS step_uuid, (message ->> 'task_uuid')::uuid AS task_uuid, \
                message ->> 'step_name' AS step_name, (message ->> 'attempt')::integer AS attempt \
           FROM pgmq.q_worker_{ns}_queue ORDER BY msg_id"
    ))
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Names of a task's steps with a message in the worker queue.
pub async fn queued_step_names(pool: &PgPool, ns: &str, task: Uuid) -> BTreeSet<String> {
    queue_messages(pool, ns).await.into_iter().filter(|m| m.task_uuid == task).map(|m| m.step_name).collect()
}

/// Number of messages in the results queue.
pub async fn result_queue_len(pool: &PgPool) -> i64 {
    count(pool, "SELECT count(*) FROM pgmq.q_orchestration_step_results").await
}

/// Makes a message of `worker_<ns>_queue` visible again at once, as if its holder had died.
pub async fn expire_message(pool: &PgPool, ns: &str, msg_id: i64) {
    sqlx::query(&format!("SELECT pgmq.set_vt('worker_{ns}_queue', $1, 0)")).bind(msg_id).execute(pool).await.unwrap();
}

/// DLQ entries of a task: (id, reason, resolution_status, snapshot).
pub async fn dlq_entries(pool: &PgPool, task: Uuid) -> Vec<(i64, String, String, Value)> {
    sqlx::query_as(
        "SELECT id, reason, resolution_status, snapshot FROM tasker.dlq_entries WHERE task_uuid = $1 ORDER BY id",
    )
    .bind(task)
    .fetch_all(pool)
    .await
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// The simulated worker and actors
// ---------------------------------------------------------------------------------------------

/// A step claimed by a worker: one row of tasker.claim_steps.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub msg_id: i64,
    pub step_uuid: Uuid,
    pub task_uuid: Uuid,
    pub attempt: i32,
    pub max_attempts: i32,
    pub namespace: String,
    pub task_name: String,
    pub task_version: String,
    pub step_name: String,
    pub handler: String,
    pub timeout_seconds: i32,
    pub context: Value,
    pub inputs: Value,
    pub parent_results: Value,
}

/// What a handler reports.
#[derive(Debug, Clone)]
pub enum Outcome {
    Success(Value),
    Retryable { message: String, retry_after_ms: Option<i64> },
    Permanent { message: String, class: String },
}

impl Outcome {
    pub fn ok() -> Self {
        Outcome::Success(json!({"ok": true}))
    }
    pub fn retryable(message: &str) -> Self {
        Outcome::Retryable { message: message.into(), retry_after_ms: None }
    }
    pub fn permanent(message: &str, class: &str) -> Self {
        Outcome::Permanent { message: message.into(), class: class.into() }
    }
}

/// The result document tasker.submit_step_results expects for a claimed step.
pub fn result_json(c: &Claimed, outcome: &Outcome) -> Value {
    let mut v = json!({"step_uuid": c.step_uuid, "attempt": c.attempt, "msg_id": c.msg_id});
    let o = v.as_object_mut().unwrap();
    match outcome {
        Outcome::Success(r) => {
            o.insert("status".into(), json!("success"));
            o.insert("result".into(), r.clone());
        }
        Outcome::Retryable { message, retry_after_ms } => {
            o.insert("status".into(), json!("retryable_error"));
            o.insert("error".into(), json!({"message": message, "class": "Transient"}));
            if let Some(ms) = retry_after_ms {
                o.insert("retry_after_ms".into(), json!(ms));
            }
        }
        Outcome::Permanent { message, class } => {
            o.insert("status".into(), json!("permanent_error"));
            o.insert("error".into(), json!({"message": message, "class": class}));
        }
    }
    v
}

/// The message tasker.submit_step_results puts on the results queue for this outcome.
pub fn result_message(c: &Claimed, outcome: &Outcome) -> Value {
    let mut v = result_json(c, outcome);
    let o = v.as_object_mut().unwrap();
    o.insert("task_uuid".into(), json!(c.task_uuid));
    v
}

/// tasker.claim_steps.
pub async fn claim(pool: &PgPool, ns: &str, limit: i32, now: Option<Ts>) -> Vec<Claimed> {
    claim_vt(pool, ns, limit, 30, now).await
}

/// tasker.claim_steps with a visibility timeout.
pub async fn claim_vt(pool: &PgPool, ns: &str, limit: i32, vt: i32, now: Option<Ts>) -> Vec<Claimed> {
    sqlx::query_as("SELECT * FROM tasker.claim_steps($1, $2, $3, 'test-worker', $4)")
        .bind(ns)
        .bind(limit)
        .bind(vt)
        .bind(now)
        .fetch_all(pool)
        .await
        .expect("claim_steps")
}

/// Claims exactly one step and returns it.
#[track_caller]
pub fn only(mut claimed: Vec<Claimed>) -> Claimed {
    assert_eq!(claimed.len(), 1, "expected one claimed step, got {claimed:?}");
    claimed.pop().unwrap()
}

/// tasker.submit_step_results for one step (applied at once); returns accepted.
pub async fn submit(pool: &PgPool, c: &Claimed, outcome: &Outcome) -> bool {
    submit_at(pool, c, outcome, None).await
}

/// tasker.submit_step_results for one step, applied as of `now` (time travel); returns accepted.
pub async fn submit_at(pool: &PgPool, c: &Claimed, outcome: &Outcome, now: Option<Ts>) -> bool {
    sqlx::query_scalar("SELECT accepted FROM tasker.submit_step_results($1, $2)")
        .bind(json!([result_json(c, outcome)]))
        .bind(now)
        .fetch_one(pool)
        .await
        .expect("submit_step_results")
}

/// Sends a result message to the results queue as a worker that posts its results to pgmq
/// would (the owning role; tasker_worker may not), for the result processor to apply.
pub async fn post_result(pool: &PgPool, c: &Claimed, outcome: &Outcome) {
    sqlx::query("SELECT pgmq.send('orchestration_step_results', $1)")
        .bind(result_message(c, outcome))
        .execute(pool)
        .await
        .expect("pgmq.send");
}

/// Counts returned by tasker.apply_step_results / tasker.process_step_results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Applied {
    pub results: i32,
    pub completed: i32,
    pub retried: i32,
    pub failed: i32,
    pub ignored: i32,
    pub dispatched: i32,
    pub tasks_flagged: i32,
}

/// tasker.process_step_results.
pub async fn process(pool: &PgPool, now: Option<Ts>) -> Applied {
    sqlx::query_as("SELECT * FROM tasker.process_step_results(1000, $1)")
        .bind(now)
        .fetch_one(pool)
        .await
        .expect("process_step_results")
}

/// tasker.apply_step_results.
pub async fn apply(pool: &PgPool, results: Value, now: Option<Ts>) -> Applied {
    sqlx::query_as("SELECT * FROM tasker.apply_step_results($1, $2)")
        .bind(results)
        .bind(now)
        .fetch_one(pool)
        .await
        .expect("apply_step_results")
}

/// tasker.enqueue_ready_steps; returns the steps dispatched.
pub async fn enqueue(pool: &PgPool, limit: i32, now: Option<Ts>) -> Vec<Uuid> {
    sqlx::query_scalar("SELECT step_uuid FROM tasker.enqueue_ready_steps($1, $2)")
        .bind(limit)
        .bind(now)
        .fetch_all(pool)
        .await
        .expect("enqueue_ready_steps")
}

/// tasker.finalize_tasks; returns (task_uuid, from_state, to_state) per task taken.
pub async fn finalize(pool: &PgPool, now: Option<Ts>) -> Vec<(Uuid, String, String)> {
    sqlx::query_as("SELECT * FROM tasker.finalize_tasks(1000, $1)").bind(now).fetch_all(pool).await.expect("finalize")
}

/// One full round of a worker and the orchestration actors: claim everything visible in the
/// namespace queue, run `handler` on each step and submit its outcome, then one `run_once` of
/// the real result processor, step enqueuer and task finalizer (`testing::Engine`), at `now`.
/// Returns the steps claimed.
pub async fn round<F>(pool: &PgPool, ns: &str, now: Option<Ts>, mut handler: F) -> Vec<Claimed>
where
    F: FnMut(&Claimed) -> Outcome,
{
    let claimed = claim(pool, ns, 1000, now).await;
    for c in &claimed {
        let outcome = handler(c);
        assert!(submit_at(pool, c, &outcome, now).await, "result for {} not accepted", c.step_name);
    }
    Engine::new(pool).run_once_at(now).await.expect("one pass of the orchestration actors");
    claimed
}

/// Runs rounds until one claims nothing; returns the step names claimed per round.
pub async fn run_until_idle<F>(pool: &PgPool, ns: &str, now: Option<Ts>, mut handler: F) -> Vec<Vec<String>>
where
    F: FnMut(&Claimed) -> Outcome,
{
    let mut rounds = Vec::new();
    for _ in 0..500 {
        let claimed = round(pool, ns, now, &mut handler).await;
        if claimed.is_empty() {
            return rounds;
        }
        let mut names: Vec<String> = claimed.into_iter().map(|c| c.step_name).collect();
        names.sort();
        rounds.push(names);
    }
    panic!("workflow did not become idle in 500 rounds");
}

/// Claims the task's only claimable steps and fails them permanently at `now`, then finalizes.
pub async fn fail_claimed(pool: &PgPool, ns: &str, message: &str, class: &str, now: Option<Ts>) -> Vec<Claimed> {
    round(pool, ns, now, |_| Outcome::permanent(message, class)).await
}

// ---------------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------------

/// A dedicated connection to the test database (for explicit transactions in concurrency tests).
pub async fn connect(db: &TestDb) -> PgConnection {
    PgConnection::connect(&db.url).await.expect("connect")
}

/// The backend pid of a connection.
pub async fn backend_pid(conn: &mut PgConnection) -> i32 {
    sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(conn).await.unwrap()
}

/// Waits until backend `pid` is blocked on a lock (it is inside the call we want to overlap).
pub async fn wait_until_blocked(pool: &PgPool, pid: i32) {
    for _ in 0..2000 {
        let waiting: bool = sqlx::query_scalar(
            "SELECT coalesce((SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1), false)",
        )
        .bind(pid)
        .fetch_one(pool)
        .await
        .unwrap();
        if waiting {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("backend {pid} never blocked on a lock");
}

/// Closes the pool and drops the test database (for tests that create many databases).
pub async fn drop_db(db: TestDb) {
    db.pool.close().await;
    let admin = tasker_orchestration::testing::url_with_database(&db.url, "postgres");
    let mut conn = PgConnection::connect(&admin).await.expect("connect admin");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db.name)).execute(&mut conn).await.unwrap();
    let _ = conn.close().await;
}
