//! The worker runtime against a real PostgreSQL. The orchestration side is played by a small loop
//! calling the engine's result processor, step enqueuer and task finalizer every few ms.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::PgPool;
use tasker_orchestration::testing::{test_db, Engine, TestDb};
use tasker_orchestration::worker::{
    builtin_registry, HandlerRegistry, StepContext, StepOutcome, Worker, WorkerConfig, WorkerError, WorkerMetrics,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(20);

/// A database with the example templates registered.
async fn setup() -> TestDb {
    let db = test_db().await;
    tasker_orchestration::templates::load_dir(&db.pool, Path::new("config/tasks")).await.expect("load templates");
    db
}

async fn register(pool: &PgPool, def: Value) {
    sqlx::query("SELECT tasker.register_template($1)").bind(def).execute(pool).await.expect("register template");
}

/// Plays the orchestration server: the real result processor, step enqueuer and task finalizer
/// (`testing::Engine`), each `run_once` every few ms.
struct Orchestrator {
    stop: CancellationToken,
    handle: JoinHandle<()>,
}

impl Orchestrator {
    fn start(pool: PgPool) -> Self {
        let stop = CancellationToken::new();
        let token = stop.clone();
        let handle = tokio::spawn(async move {
            let engine = Engine::new(&pool);
            while !token.is_cancelled() {
                if let Err(e) = engine.run_once().await {
                    eprintln!("orchestrator: {e}");
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        Self { stop, handle }
    }

    async fn stop(self) {
        self.stop.cancel();
        let _ = self.handle.await;
    }
}

/// One pass of the real orchestration actors (`testing::Engine::run_once`).
async fn orchestrate_once(pool: &PgPool) {
    if let Err(e) = Engine::new(pool).run_once().await {
        eprintln!("orchestrator: {e}");
    }
}

/// A worker on its own pool, running in the background.
struct Running {
    shutdown: CancellationToken,
    handle: JoinHandle<Result<(), WorkerError>>,
    metrics: Arc<WorkerMetrics>,
}

impl Running {
    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.handle).await.expect("worker stops in time").expect("join").expect("run");
    }
}

/// A pool as a fresh login role in `tasker_worker` allowed every namespace: the worker runs with
/// the rights a deployed worker has (the worker protocol's functions and the execution audit).
async fn worker_pool(db: &TestDb) -> PgPool {
    db.worker_pool(&["*"], 6).await
}

fn config(id: &str) -> WorkerConfig {
    WorkerConfig {
        worker_id: id.into(),
        concurrency: 8,
        poll_interval: Duration::from_millis(50),
        ..WorkerConfig::default()
    }
}

async fn start_worker(db: &TestDb, registry: HandlerRegistry, config: WorkerConfig) -> Running {
    let worker = Worker::new(worker_pool(db).await, registry, config).expect("worker");
    let metrics = worker.metrics();
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(worker.run(shutdown.clone()));
    Running { shutdown, handle, metrics }
}

async fn create_task(pool: &PgPool, namespace: &str, name: &str, context: Value) -> Uuid {
    sqlx::query_scalar("SELECT tasker.create_task($1, $2, NULL, $3)")
        .bind(namespace)
        .bind(name)
        .bind(context)
        .fetch_one(pool)
        .await
        .expect("create task")
}

async fn task_state(pool: &PgPool, task: Uuid) -> String {
    sqlx::query_scalar("SELECT state FROM tasker.tasks WHERE task_uuid = $1").bind(task).fetch_one(pool).await.unwrap()
}

#[derive(Debug, Clone)]
struct StepRow {
    state: String,
    attempts: i32,
    results: Option<Value>,
    last_error: Option<Value>,
}

async fn steps(pool: &PgPool, task: Uuid) -> std::collections::BTreeMap<String, StepRow> {
    type Row = (String, String, i32, Option<Value>, Option<Value>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT name, state, attempts, results, last_error FROM tasker.workflow_steps WHERE task_uuid = $1",
    )
    .bind(task)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(name, state, attempts, results, last_error)| (name, StepRow { state, attempts, results, last_error }))
        .collect()
}

async fn wait_for_task(pool: &PgPool, task: Uuid, want: &str) {
    let start = Instant::now();
    loop {
        let state = task_state(pool, task).await;
        if state == want {
            return;
        }
        let terminal = ["complete", "error", "cancelled", "resolved_manually"].contains(&state.as_str());
        if terminal || start.elapsed() > WAIT {
            panic!("task {task} is {state}, not {want}, after {WAIT:?}; steps: {:#?}", steps(pool, task).await);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_for_step_state(pool: &PgPool, task: Uuid, step: &str, want: &str) {
    let start = Instant::now();
    while steps(pool, task).await.get(step).map(|s| s.state.as_str()) != Some(want) {
        assert!(start.elapsed() < WAIT, "step {step} never reached {want}: {:#?}", steps(pool, task).await);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn executions(pool: &PgPool, task: Uuid) -> Vec<(String, i32, String, String)> {
    sqlx::query_as(
        "SELECT s.name, e.attempt, e.outcome, e.worker_id
           FROM tasker_audit.step_executions e JOIN tasker.workflow_steps s USING (step_uuid)
          WHERE e.task_uuid = $1 ORDER BY s.name, e.attempt",
    )
    .bind(task)
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn queue_depth(pool: &PgPool, queue: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM pgmq.q_{queue}")).fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn diamond_completes_and_children_run_after_parents() {
    let db = setup().await;
    let orch = Orchestrator::start(db.pool.clone());
    let worker = start_worker(&db, builtin_registry(), config("w1")).await;

    let task = create_task(&db.pool, "demo", "diamond", json!({})).await;
    wait_for_task(&db.pool, task, "complete").await;

    let steps = steps(&db.pool, task).await;
    for name in ["start", "left", "right", "finish"] {
        let s = &steps[name];
        assert_eq!(s.state, "complete", "{name}");
        assert_eq!(s.attempts, 1, "{name}");
        assert_eq!(s.results, Some(json!({"ok": true, "step": name})), "{name}");
    }
    let m = worker.metrics.snapshot();
    assert_eq!((m.claimed, m.succeeded, m.failed, m.retried), (4, 4, 0, 0));
    worker.stop().await;
    orch.stop().await;
}

#[tokio::test]
async fn order_fulfillment_passes_parent_results_to_children() {
    let db = setup().await;
    let orch = Orchestrator::start(db.pool.clone());
    let worker = start_worker(&db, builtin_registry(), config("w1")).await;

    let context = json!({
        "order_id": "A-17",
        "customer_email": "ada@example.com",
        "items": [{"sku": "KB-1", "quantity": 2}, {"sku": "MS-3", "quantity": 1, "price_cents": 2500}]
    });
    let task = create_task(&db.pool, "orders", "order_fulfillment", context).await;
    wait_for_task(&db.pool, task, "complete").await;

    let steps = steps(&db.pool, task).await;
    let result = |name: &str| steps[name].results.clone().unwrap_or(Value::Null);
    assert_eq!(result("validate_order")["item_count"], 2);
    assert_eq!(result("validate_order")["amount_cents"], 4500);
    assert_eq!(result("reserve_inventory")["reservation_id"], "RES-A-17");
    assert_eq!(result("charge_payment")["payment_id"], "PAY-A-17");
    assert_eq!(result("charge_payment")["amount_cents"], 4500);
    assert_eq!(result("ship_order")["tracking_number"], "TRK-RES-A-17-PAY-A-17");
    assert_eq!(
        result("notify_customer"),
        json!({"notified": "ada@example.com", "tracking_number": "TRK-RES-A-17-PAY-A-17"})
    );
    worker.stop().await;
    orch.stop().await;
}

#[tokio::test]
async fn fail_first_n_is_retried_then_succeeds() {
    let db = setup().await;
    let orch = Orchestrator::start(db.pool.clone());
    let worker = start_worker(&db, builtin_registry(), WorkerConfig { record_executions: true, ..config("w1") }).await;

    let task = create_task(&db.pool, "demo", "flaky", json!({"fail_times": 1})).await;
    wait_for_task(&db.pool, task, "complete").await;

    let steps = steps(&db.pool, task).await;
    assert_eq!(steps["unreliable"].attempts, 2);
    assert_eq!(steps["unreliable"].results.as_ref().map(|r| r["attempt"].clone()), Some(json!(2)));
    assert_eq!(steps["slow"].state, "complete");
    let runs = executions(&db.pool, task).await;
    let outcomes: Vec<(&str, i32, &str)> = runs.iter().map(|(n, a, o, _)| (n.as_str(), *a, o.as_str())).collect();
    assert_eq!(
        outcomes,
        vec![("slow", 1, "success"), ("unreliable", 1, "retryable_error"), ("unreliable", 2, "success")]
    );
    assert_eq!(worker.metrics.snapshot().retried, 1);
    worker.stop().await;
    orch.stop().await;
}

#[tokio::test]
async fn permanent_failure_ends_the_task_in_error_with_a_dlq_entry() {
    let db = setup().await;
    let orch = Orchestrator::start(db.pool.clone());
    let worker = start_worker(&db, builtin_registry(), config("w1")).await;

    let task = create_task(&db.pool, "demo", "doomed", json!({})).await;
    wait_for_task(&db.pool, task, "error").await;

    let steps = steps(&db.pool, task).await;
    assert_eq!(steps["prepare"].state, "complete");
    assert_eq!(steps["explode"].state, "error");
    assert_eq!(steps["explode"].attempts, 1);
    assert_eq!(steps["explode"].last_error.as_ref().map(|e| e["class"].clone()), Some(json!("InjectedFailure")));
    assert_eq!(steps["never_runs"].state, "pending");
    let dlq: i64 = sqlx::query_scalar("SELECT count(*) FROM tasker.dlq_entries WHERE task_uuid = $1")
        .bind(task)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(dlq, 1);
    assert_eq!(worker.metrics.snapshot().failed, 1);
    worker.stop().await;
    orch.stop().await;
}

#[tokio::test]
async fn unknown_handler_is_a_permanent_error() {
    let db = setup().await;
    register(
        &db.pool,
        json!({"namespace": "demo", "name": "mystery", "version": "1.0.0",
               "steps": [{"name": "only", "handler": "no_such_handler", "retry": {"max_attempts": 3}}]}),
    )
    .await;
    let orch = Orchestrator::start(db.pool.clone());
    let worker = start_worker(&db, builtin_registry(), config("w1")).await;

    let task = create_task(&db.pool, "demo", "mystery", json!({})).await;
    wait_for_task(&db.pool, task, "error").await;

    let only = &steps(&db.pool, task).await["only"];
    assert_eq!(only.attempts, 1, "a permanent error is not retried");
    let err = only.last_error.clone().unwrap_or(Value::Null);
    assert_eq!(err["class"], "UnknownHandler");
    assert!(err["message"].as_str().unwrap_or("").contains("no handler registered for no_such_handler"), "{err}");
    worker.stop().await;
    orch.stop().await;
}

#[tokio::test]
async fn heartbeat_keeps_a_long_step_past_the_visibility_timeout_and_it_runs_once() {
    let db = setup().await;
    let orch = Orchestrator::start(db.pool.clone());
    // Two workers with a 1 s visibility timeout and a step that sleeps 2.5 s: without the
    // heartbeat the message would reappear and be claimed again, by either worker.
    let cfg = |id: &str| WorkerConfig {
        visibility_timeout: Duration::from_secs(1),
        heartbeat_interval: Duration::from_millis(200),
        record_executions: true,
        ..config(id)
    };
    let w1 = start_worker(&db, builtin_registry(), cfg("w1")).await;
    let w2 = start_worker(&db, builtin_registry(), cfg("w2")).await;

    let task = create_task(&db.pool, "demo", "flaky", json!({"fail_times": 0, "ms": 2500})).await;
    wait_for_task(&db.pool, task, "complete").await;

    let steps = steps(&db.pool, task).await;
    assert_eq!(steps["slow"].attempts, 1);
    assert_eq!(steps["slow"].results.as_ref().map(|r| r["slept_ms"].clone()), Some(json!(2500)));
    let runs: Vec<_> = executions(&db.pool, task).await.into_iter().filter(|r| r.0 == "slow").collect();
    assert_eq!(runs.len(), 1, "the slow step ran exactly once: {runs:?}");
    let beats = w1.metrics.snapshot().heartbeats + w2.metrics.snapshot().heartbeats;
    assert!(beats >= 5, "heartbeats: {beats}");
    let m1 = w1.metrics.snapshot();
    let m2 = w2.metrics.snapshot();
    assert_eq!(m1.claimed + m2.claimed, 2);
    assert_eq!(m1.rejected + m2.rejected, 0);
    w1.stop().await;
    w2.stop().await;
    orch.stop().await;
}

#[tokio::test]
async fn shutdown_lets_running_steps_finish_and_report_then_claims_nothing() {
    let db = setup().await;
    let orch = Orchestrator::start(db.pool.clone());
    // `marker` has one other owner: the worker's registry, which every task of the worker reaches.
    let marker = Arc::new(());
    let held = Arc::clone(&marker);
    let registry = builtin_registry().with("marker", move |_: StepContext| {
        let _owner = &held;
        async { StepOutcome::Success(Value::Null) }
    });
    let worker = start_worker(&db, registry, config("w1")).await;

    let task = create_task(&db.pool, "demo", "flaky", json!({"fail_times": 0, "ms": 1500})).await;
    wait_for_step_state(&db.pool, task, "slow", "in_progress").await;
    let metrics = Arc::clone(&worker.metrics);
    let asked = Instant::now();
    worker.stop().await;
    assert!(asked.elapsed() >= Duration::from_millis(500), "run returned before the running step finished");
    let m = metrics.snapshot();
    assert_eq!((m.succeeded, m.in_flight, m.rejected), (2, 0, 0));

    // The result was submitted before run returned: the orchestrator completes the task alone.
    wait_for_task(&db.pool, task, "complete").await;
    assert_eq!(steps(&db.pool, task).await["slow"].attempts, 1);

    // A stopped worker claims nothing more: run returned only once every task it started had
    // ended, so nothing of it is left to claim...
    assert_eq!(Arc::strong_count(&marker), 1, "a task of the stopped worker still holds its handlers");
    // ...and a task created now is run entirely by another worker, while w1's count stays put.
    let later = create_task(&db.pool, "demo", "diamond", json!({})).await;
    let other = start_worker(&db, builtin_registry(), config("w2")).await;
    wait_for_task(&db.pool, later, "complete").await;
    assert_eq!(other.metrics.snapshot().claimed, 4);
    assert_eq!(metrics.snapshot().claimed, 2);
    other.stop().await;
    orch.stop().await;
}

#[tokio::test]
async fn a_worker_claims_only_from_the_namespaces_it_serves() {
    let db = setup().await;
    let worker = Worker::new(
        worker_pool(&db).await,
        builtin_registry(),
        WorkerConfig { namespaces: vec!["demo".into()], ..config("w1") },
    )
    .unwrap();
    let order = create_task(&db.pool, "orders", "order_fulfillment", json!({})).await;
    let diamond = create_task(&db.pool, "demo", "diamond", json!({})).await;

    // One round claims from every namespace served: demo's root step, and nothing of orders.
    let round = worker.run_once().await.unwrap();
    assert_eq!((round.claimed, round.accepted), (1, 1));
    assert_eq!(steps(&db.pool, diamond).await["start"].attempts, 1);
    let order_steps = steps(&db.pool, order).await;
    assert_eq!(order_steps["validate_order"].state, "enqueued");
    assert_eq!(order_steps["validate_order"].attempts, 0);
    assert_eq!(queue_depth(&db.pool, "worker_orders_queue").await, 1);
}

#[tokio::test]
async fn shutdown_timeout_abandons_a_step_without_deleting_its_message() {
    let db = setup().await;
    let orch = Orchestrator::start(db.pool.clone());
    let cfg = WorkerConfig { shutdown_timeout: Duration::from_millis(200), ..config("w1") };
    let worker = start_worker(&db, builtin_registry(), cfg).await;

    let task = create_task(&db.pool, "demo", "flaky", json!({"fail_times": 0, "ms": 60000})).await;
    wait_for_step_state(&db.pool, task, "slow", "in_progress").await;
    let asked = Instant::now();
    worker.stop().await;
    assert!(asked.elapsed() < Duration::from_secs(5));

    // Never acked: the message is still in the queue, to reappear after the visibility timeout.
    assert_eq!(queue_depth(&db.pool, "worker_demo_queue").await, 1);
    orch.stop().await;
    assert_eq!(steps(&db.pool, task).await["slow"].state, "in_progress");
}

#[tokio::test]
async fn notifications_drive_claims_without_polling() {
    let db = setup().await;
    let orch = Orchestrator::start(db.pool.clone());
    let cfg = WorkerConfig { poll_interval: Duration::from_secs(3600), ..config("w1") };
    let worker = start_worker(&db, builtin_registry(), cfg).await;
    // Let the worker finish its start-up round, so only notifications can wake it afterwards.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let task = create_task(&db.pool, "demo", "linear", json!({})).await;
    let start = Instant::now();
    wait_for_task(&db.pool, task, "complete").await;
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(worker.metrics.snapshot().succeeded, 10);
    worker.stop().await;
    orch.stop().await;
}

/// A worker that neither listens nor polls (ticks an hour long) claims once, at start-up: only
/// the claims it chains to its acknowledgements can carry a task past its root.
#[tokio::test]
async fn chained_claims_alone_carry_a_linear_task_to_its_end() {
    let db = setup().await;
    let orch = Orchestrator::start(db.pool.clone());
    let task = create_task(&db.pool, "demo", "linear", json!({})).await;
    let cfg = WorkerConfig { poll_interval: Duration::from_secs(3600), listen: false, ..config("w1") };
    let worker = start_worker(&db, builtin_registry(), cfg).await;
    wait_for_task(&db.pool, task, "complete").await;
    let snapshot = worker.metrics.snapshot();
    assert_eq!(snapshot.succeeded, 10);
    assert_eq!(snapshot.claimed, 10);
    // Each step after the first was claimed in the transaction that acknowledged its parent.
    let chained: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tasker.workflow_step_transitions c
           JOIN tasker.workflow_step_transitions p ON p.task_uuid = c.task_uuid AND p.xid = c.xid
          WHERE c.task_uuid = $1 AND c.event = 'claim' AND p.event = 'complete'",
    )
    .bind(task)
    .fetch_one(&db.pool)
    .await
    .expect("history");
    assert_eq!(chained, 9);
    worker.stop().await;
    orch.stop().await;
}

/// Two root steps, `quick` (no sleep) and `slow` (sleeps `slow_ms`), claimed together.
async fn quick_and_slow(db: &TestDb, slow_ms: u64) -> Uuid {
    register(
        &db.pool,
        json!({"namespace": "linger", "name": "two", "version": "1.0.0", "steps": [
            {"name": "quick", "handler": "sleep", "inputs": {"ms": 0}},
            {"name": "slow", "handler": "sleep", "inputs": {"ms": slow_ms}}]}),
    )
    .await;
    create_task(&db.pool, "linger", "two", json!({})).await
}

/// How many transactions acknowledged the task's steps (their `complete` history rows).
async fn acknowledging_transactions(pool: &PgPool, task: Uuid) -> i64 {
    sqlx::query_scalar(
        "SELECT count(DISTINCT xid) FROM tasker.workflow_step_transitions WHERE task_uuid = $1 AND event = 'complete'",
    )
    .bind(task)
    .fetch_one(pool)
    .await
    .expect("history")
}

/// A result waits up to the report linger for the results of the worker's other running steps,
/// so steps that finish close together are acknowledged in one call; without a linger each is
/// acknowledged as it finishes.
#[tokio::test]
async fn results_finishing_within_the_report_linger_are_acknowledged_together() {
    let db = setup().await;
    let task = quick_and_slow(&db, 100).await;
    let worker = start_worker(
        &db,
        builtin_registry(),
        WorkerConfig { report_linger: Duration::from_millis(900), ..config("w1") },
    )
    .await;
    wait_for_task(&db.pool, task, "complete").await;
    worker.stop().await;
    assert_eq!(acknowledging_transactions(&db.pool, task).await, 1, "one call for both results");

    let db = setup().await;
    let task = quick_and_slow(&db, 300).await;
    let worker =
        start_worker(&db, builtin_registry(), WorkerConfig { report_linger: Duration::ZERO, ..config("w1") }).await;
    wait_for_task(&db.pool, task, "complete").await;
    worker.stop().await;
    assert_eq!(acknowledging_transactions(&db.pool, task).await, 2, "one call per result");
}

/// A chained claim that fails never costs the acknowledgement: the results are submitted alone
/// and the claim's error is reported beside them.
#[tokio::test]
async fn a_failing_chained_claim_leaves_the_results_applied() {
    use tasker_orchestration::db::worker as sql;
    let db = setup().await;
    let pool = worker_pool(&db).await;
    let task = create_task(&db.pool, "demo", "linear", json!({})).await;
    let step = sql::claim_steps(&pool, "demo", 1, 30, "w1").await.expect("claim").remove(0);
    let result = json!([{"step_uuid": step.step_uuid, "attempt": step.attempt, "msg_id": step.msg_id,
                         "status": "success", "result": {"ok": true}}]);
    let results = result.as_array().cloned().unwrap_or_default();
    let done = sql::submit_and_claim(&pool, &results, "no_such_namespace", 5, 30, "w1").await.expect("submit");
    assert_eq!(done.outcomes.len(), 1);
    assert!(done.outcomes[0].accepted);
    let err = done.claimed.expect_err("the claim of an unknown namespace fails");
    assert!(err.to_string().contains("no_such_namespace"), "{err}");
    assert_eq!(steps(&db.pool, task).await[&step.step_name].state, "complete");
}

#[tokio::test]
async fn record_executions_writes_one_row_per_invocation() {
    let db = setup().await;
    let orch = Orchestrator::start(db.pool.clone());
    let worker =
        start_worker(&db, builtin_registry(), WorkerConfig { record_executions: true, ..config("auditor") }).await;

    let task = create_task(&db.pool, "demo", "diamond", json!({})).await;
    wait_for_task(&db.pool, task, "complete").await;

    let runs = executions(&db.pool, task).await;
    let got: Vec<(&str, i32, &str, &str)> =
        runs.iter().map(|(n, a, o, w)| (n.as_str(), *a, o.as_str(), w.as_str())).collect();
    assert_eq!(
        got,
        vec![
            ("finish", 1, "success", "auditor"),
            ("left", 1, "success", "auditor"),
            ("right", 1, "success", "auditor"),
            ("start", 1, "success", "auditor"),
        ]
    );
    let ordered: bool = sqlx::query_scalar(
        "SELECT bool_and(started_at <= finished_at) FROM tasker_audit.step_executions WHERE task_uuid = $1",
    )
    .bind(task)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(ordered);
    worker.stop().await;
    orch.stop().await;
}

#[tokio::test]
async fn run_once_claims_runs_and_submits_one_round() {
    let db = setup().await;
    let worker = Worker::new(worker_pool(&db).await, builtin_registry(), config("w1")).unwrap();
    let task = create_task(&db.pool, "demo", "diamond", json!({})).await;

    let mut claimed_per_round = Vec::new();
    for _ in 0..3 {
        let round = worker.run_once().await.unwrap();
        assert_eq!(round.accepted, round.claimed);
        claimed_per_round.push(round.claimed);
        orchestrate_once(&db.pool).await;
    }
    assert_eq!(claimed_per_round, vec![1, 2, 1]);
    orchestrate_once(&db.pool).await;
    assert_eq!(task_state(&db.pool, task).await, "complete");
    assert_eq!(worker.run_once().await.unwrap().claimed, 0);
}

#[tokio::test]
async fn step_timeout_is_a_retryable_timeout_error() {
    let db = setup().await;
    register(
        &db.pool,
        json!({"namespace": "slowpoke", "name": "hang", "version": "1.0.0",
               "steps": [{"name": "hang", "handler": "hang", "timeout_seconds": 1, "retry": {"max_attempts": 2}}]}),
    )
    .await;
    let registry = HandlerRegistry::new().with("hang", |_ctx: StepContext| async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        StepOutcome::Success(Value::Null)
    });
    let worker = Worker::new(worker_pool(&db).await, registry, config("w1")).unwrap();
    let task = create_task(&db.pool, "slowpoke", "hang", json!({})).await;

    let started = Instant::now();
    let round = worker.run_once().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!((round.claimed, round.accepted), (1, 1));
    orchestrate_once(&db.pool).await;

    let hang = &steps(&db.pool, task).await["hang"];
    assert_eq!(hang.state, "waiting_for_retry");
    assert_eq!(hang.last_error.as_ref().map(|e| e["class"].clone()), Some(json!("Timeout")));
    assert_eq!(worker.metrics().snapshot().retried, 1);
}

#[tokio::test]
async fn panicking_handler_is_a_retryable_error() {
    let db = setup().await;
    register(
        &db.pool,
        json!({"namespace": "demo", "name": "boom", "version": "1.0.0",
               "steps": [{"name": "boom", "handler": "boom", "retry": {"max_attempts": 2}}]}),
    )
    .await;
    let registry = HandlerRegistry::new().with("boom", |ctx: StepContext| async move {
        if ctx.attempt > 0 {
            panic!("handler exploded on attempt {}", ctx.attempt);
        }
        StepOutcome::Success(Value::Null)
    });
    let worker = Worker::new(worker_pool(&db).await, registry, config("w1")).unwrap();
    let task = create_task(&db.pool, "demo", "boom", json!({})).await;

    assert_eq!(worker.run_once().await.unwrap().accepted, 1);
    orchestrate_once(&db.pool).await;
    let boom = &steps(&db.pool, task).await["boom"];
    assert_eq!(boom.state, "waiting_for_retry");
    let err = boom.last_error.clone().unwrap_or(Value::Null);
    assert_eq!(err["class"], "Panic");
    assert!(err["message"].as_str().unwrap_or("").contains("handler exploded on attempt 1"), "{err}");
}

#[tokio::test]
async fn invalid_config_is_rejected_naming_the_field() {
    let db = test_db().await;
    let bad = |cfg: WorkerConfig| match Worker::new(db.pool.clone(), builtin_registry(), cfg) {
        Err(WorkerError::InvalidConfig(msg)) => msg,
        other => panic!("expected InvalidConfig, got {other:?}"),
    };
    assert!(bad(WorkerConfig { concurrency: 0, ..Default::default() }).contains("concurrency"));
    assert!(bad(WorkerConfig { batch_size: 0, ..Default::default() }).contains("batch_size"));
    assert!(bad(WorkerConfig { report_linger: Duration::from_secs(2), ..Default::default() }).contains("report_linger"));
    assert!(bad(WorkerConfig { visibility_timeout: Duration::from_millis(500), ..Default::default() })
        .contains("visibility_timeout"));
    assert!(bad(WorkerConfig { heartbeat_interval: Duration::from_secs(30), ..Default::default() })
        .contains("heartbeat_interval"));
    assert!(bad(WorkerConfig { namespaces: vec!["Bad-Name".into()], ..Default::default() }).contains("namespaces"));
}

/// The server's actors and a worker whose polling ticks are an hour long: only LISTEN/NOTIFY can
/// move the work, so a task finishes only if every hop notifies a channel someone listens to
/// (dispatch -> worker, result applied by the worker's submit -> finalizer; a result posted to
/// the results queue -> result processor).
#[tokio::test]
async fn notifications_alone_move_a_task_to_complete_with_hour_long_ticks() {
    let db = setup().await;
    let hour = "3600000";
    let server_config = tasker_orchestration::testing::test_config(
        &db.url,
        &[
            ("TASKER__ORCHESTRATION__ACTORS__FALLBACK_TICK_MS", hour),
            ("TASKER__ORCHESTRATION__STALENESS__ENABLED", "false"),
        ],
    );
    assert_eq!(server_config.orchestration.actors.fallback_tick_ms, 3_600_000);
    let metrics = Arc::new(tasker_orchestration::metrics::Metrics::new());
    let actors = tasker_orchestration::actors::Actors::spawn(db.pool.clone(), &server_config, metrics).expect("actors");
    let cfg = WorkerConfig { poll_interval: Duration::from_secs(3600), ..config("w1") };
    let worker = start_worker(&db, builtin_registry(), cfg).await;
    // Let the start-up rounds (every loop runs once when it starts) pass.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let task = create_task(&db.pool, "demo", "diamond", json!({})).await;
    wait_for_task(&db.pool, task, "complete").await;
    assert_eq!(worker.metrics.snapshot().succeeded, 4);
    worker.stop().await;

    // A result posted to the results queue (by a process with queue access) wakes the result
    // processor through the queue table's trigger.
    let task = create_task(&db.pool, "demo", "linear", json!({})).await;
    let claimed: (i64, Uuid, i32) =
        sqlx::query_as("SELECT msg_id, step_uuid, attempt FROM tasker.claim_steps('demo', 1, 30, 'poster')")
            .fetch_one(&db.pool)
            .await
            .expect("claim");
    let message = json!({"step_uuid": claimed.1, "task_uuid": task, "attempt": claimed.2, "msg_id": claimed.0,
                         "status": "success", "result": {"posted": true}});
    sqlx::query("SELECT pgmq.send('orchestration_step_results', $1)").bind(message).execute(&db.pool).await.unwrap();
    let first: String = sqlx::query_scalar("SELECT name FROM tasker.workflow_steps WHERE step_uuid = $1")
        .bind(claimed.1)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    wait_for_step_state(&db.pool, task, &first, "complete").await;
    actors.shutdown().await;
}
