//! Engine benchmark: the SQL API under load, with every role played in this process.
//!
//! Run with `cargo bench --bench engine`. Nothing but SQL is exercised: no HTTP, no gRPC.
//! One sqlx pool serves concurrent tokio tasks:
//! - the actors: the server's own result processor (`tasker.process_step_results`), step
//!   enqueuer (`tasker.enqueue_ready_steps`) and task finalizer (`tasker.finalize_tasks`), each
//!   driven by a loop here that calls its `run_once` (one batch);
//! - N simulated workers: `tasker.claim_steps` in batches, then `tasker.submit_step_results`
//!   reporting success for every claimed step (no-op handlers);
//! - task creators calling `tasker.create_task`.
//!
//! Wake-ups are LISTEN/NOTIFY (one listener connection fans out `tasker_step_dispatched`,
//! `tasker_step_results`, `tasker_task_finalize` and `tasker_steps_ready`), with a slow polling
//! fallback (`BENCH_POLL_MS`). A loop whose call returned a full batch calls again at once; a
//! partial batch waits for a notification (or the poll tick).
//!
//! Workloads, per server configuration:
//! - B1: `BENCH_TASKS` diamond tasks (4 steps) created at once; creation rate, and steps/s from
//!   the first create to the last task reported `complete` by the finalizer.
//! - B2: the 10-step linear template, one task at a time, `BENCH_RUNS` runs: per-stage latency
//!   (submit of step k to claim of step k+1) and end-to-end latency per task.
//! - B3: latency of each SQL call during B1, on an empty database and again after
//!   `BENCH_PRELOAD` more tasks have run to completion (O(steps touched) check).
//!
//! The server: a PostgreSQL started from the local binaries in a temporary directory (`durable`:
//! the server defaults, fsync and synchronous_commit on; `fast`: fsync, synchronous_commit and
//! full_page_writes off), or the server at `DATABASE_URL` (a fresh database is created on it and
//! dropped afterwards). See `docs/benchmarks.md` for figures and their reading.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::{Connection, PgConnection, PgPool, Row};
use tasker_orchestration::actors::{
    result_processor, step_enqueuer, task_finalizer, ActorContext, ResultProcessorActor, StepEnqueuerActor,
    TaskFinalizerActor,
};
use tasker_orchestration::db::{self, EmbeddedOptions, EmbeddedPostgres, PoolOptions};
use tasker_orchestration::testing::url_with_database;
use tokio::sync::{mpsc, Notify};
use uuid::Uuid;

#[path = "support/counts.rs"]
mod counts;

const NAMESPACE: &str = "demo";
const VISIBILITY_TIMEOUT_S: i32 = 30;
/// The SQL calls measured, in the order they are reported.
const CALLS: [(&str, &str); 6] = [
    ("create_task", "steps"),
    ("claim_steps", "steps"),
    ("submit_step_results", "steps"),
    ("process_step_results", "results"),
    ("finalize_tasks", "tasks"),
    ("enqueue_ready_steps", "steps"),
];

// ------------------------------------------------------------------------------------------------
// Parameters
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Config {
    tasks: usize,
    workers: usize,
    runs: usize,
    preload: usize,
    creators: usize,
    processors: usize,
    claim_batch: i32,
    process_batch: i32,
    finalize_batch: i32,
    enqueue_batch: i32,
    poll: Duration,
    modes: Vec<Mode>,
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Embedded server with the PostgreSQL defaults: fsync, synchronous_commit, full_page_writes on.
    Durable,
    /// Embedded server with fsync, synchronous_commit and full_page_writes off.
    Fast,
    /// The server at DATABASE_URL, as configured.
    External,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Durable => "durable",
            Mode::Fast => "fast",
            Mode::External => "external",
        }
    }
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => {
            v.trim().parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a valid number"))
        }
        _ => default,
    }
}

impl Config {
    fn from_env() -> Self {
        let external = std::env::var("DATABASE_URL").map(|u| !u.is_empty()).unwrap_or(false);
        let modes = if external {
            vec![Mode::External]
        } else {
            match std::env::var("BENCH_MODE").unwrap_or_default().trim() {
                "" | "both" => vec![Mode::Durable, Mode::Fast],
                "durable" => vec![Mode::Durable],
                "fast" => vec![Mode::Fast],
                other => panic!("BENCH_MODE={other:?}: expected durable, fast or both"),
            }
        };
        Self {
            tasks: env_num("BENCH_TASKS", 1000),
            workers: env_num("BENCH_WORKERS", 4).max(1),
            runs: env_num("BENCH_RUNS", 50),
            preload: env_num("BENCH_PRELOAD", 5_000),
            creators: env_num("BENCH_CREATORS", 2).max(1),
            processors: env_num("BENCH_PROCESSORS", 1).max(1),
            claim_batch: env_num("BENCH_CLAIM_BATCH", 10).max(1),
            process_batch: env_num("BENCH_PROCESS_BATCH", 200).max(1),
            finalize_batch: env_num("BENCH_FINALIZE_BATCH", 200).max(1),
            enqueue_batch: env_num("BENCH_ENQUEUE_BATCH", 200).max(1),
            poll: Duration::from_millis(env_num("BENCH_POLL_MS", 250).max(1)),
            modes,
            data_dir: std::env::var_os("BENCH_DATA_DIR").map(PathBuf::from),
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Measurements
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Sample {
    ms: f64,
    rows: u32,
}

type CallSamples = HashMap<&'static str, Vec<Sample>>;

#[derive(Default)]
struct Stats {
    samples: Mutex<CallSamples>,
    errors: Mutex<HashMap<&'static str, (u64, String)>>,
}

impl Stats {
    fn record(&self, call: &'static str, started: Instant, rows: usize) {
        let ms = started.elapsed().as_secs_f64() * 1e3;
        self.samples.lock().unwrap().entry(call).or_default().push(Sample { ms, rows: rows as u32 });
    }

    fn error(&self, call: &'static str, e: &dyn std::fmt::Display) {
        let mut errors = self.errors.lock().unwrap();
        let entry = errors.entry(call).or_insert((0, String::new()));
        entry.0 += 1;
        entry.1 = e.to_string();
    }

    fn take(&self) -> CallSamples {
        std::mem::take(&mut *self.samples.lock().unwrap())
    }
}

/// One claimed step as seen by a worker (B2 only).
#[derive(Debug, Clone)]
struct StepEvent {
    task: Uuid,
    step: String,
    claimed: Instant,
    submit_started: Instant,
}

/// A task the finalizer moved to a final state.
#[derive(Debug)]
struct Finalized {
    task: Uuid,
    to_state: String,
    at: Instant,
}

struct Shared {
    pool: PgPool,
    cfg: Config,
    stats: Stats,
    stop: AtomicBool,
    wake_workers: Vec<Arc<Notify>>,
    wake_results: Arc<Notify>,
    wake_finalize: Arc<Notify>,
    wake_enqueue: Arc<Notify>,
    notifications: AtomicU64,
    record_events: AtomicBool,
    events: Mutex<Vec<StepEvent>>,
    finalized: mpsc::UnboundedSender<Finalized>,
    /// The real actors, driven by hand: each role loop calls its actor's `run_once`.
    processor: ResultProcessorActor,
    enqueuer: StepEnqueuerActor,
    finalizer: TaskFinalizerActor,
    /// Whether `pg_stat_statements` is loaded (statements are then counted).
    statements: bool,
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Waits for a notification on `wake`, the poll tick, or shutdown.
    async fn wait(&self, wake: &Notify) {
        if self.stopped() {
            return;
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(self.cfg.poll) => {}
        }
    }

    fn wake_all(&self) {
        for w in &self.wake_workers {
            w.notify_one();
        }
        self.wake_results.notify_one();
        self.wake_finalize.notify_one();
        self.wake_enqueue.notify_one();
    }
}

// ------------------------------------------------------------------------------------------------
// Roles
// ------------------------------------------------------------------------------------------------

async fn listener(sh: Arc<Shared>) -> Result<(), sqlx::Error> {
    let mut l = sqlx::postgres::PgListener::connect_with(&sh.pool).await?;
    l.listen_all(["tasker_step_dispatched", "tasker_step_results", "tasker_task_finalize", "tasker_steps_ready"])
        .await?;
    loop {
        let n = l.recv().await?;
        sh.notifications.fetch_add(1, Ordering::Relaxed);
        match n.channel() {
            "tasker_step_dispatched" => {
                for w in &sh.wake_workers {
                    w.notify_one();
                }
            }
            "tasker_step_results" => sh.wake_results.notify_one(),
            "tasker_task_finalize" => sh.wake_finalize.notify_one(),
            "tasker_steps_ready" => sh.wake_enqueue.notify_one(),
            _ => {}
        }
    }
}

async fn worker(sh: Arc<Shared>, idx: usize) {
    let name = format!("bench-worker-{idx}");
    let wake = sh.wake_workers[idx].clone();
    let batch = sh.cfg.claim_batch;
    while !sh.stopped() {
        let t = Instant::now();
        let claimed = sqlx::query(
            "SELECT msg_id, step_uuid, task_uuid, attempt, step_name FROM tasker.claim_steps($1, $2, $3, $4)",
        )
        .bind(NAMESPACE)
        .bind(batch)
        .bind(VISIBILITY_TIMEOUT_S)
        .bind(&name)
        .fetch_all(&sh.pool)
        .await;
        let claimed_at = Instant::now();
        let rows = match claimed {
            Ok(rows) => rows,
            Err(e) => {
                sh.stats.error("claim_steps", &e);
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        sh.stats.record("claim_steps", t, rows.len());
        if rows.is_empty() {
            sh.wait(&wake).await;
            continue;
        }
        let results: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "step_uuid": r.get::<Uuid, _>("step_uuid"),
                    "attempt": r.get::<i32, _>("attempt"),
                    "msg_id": r.get::<i64, _>("msg_id"),
                    "status": "success",
                    "result": {"ok": true, "worker": idx},
                })
            })
            .collect();
        let t = Instant::now();
        if sh.record_events.load(Ordering::Relaxed) {
            let mut events = sh.events.lock().unwrap();
            for r in &rows {
                events.push(StepEvent {
                    task: r.get("task_uuid"),
                    step: r.get("step_name"),
                    claimed: claimed_at,
                    submit_started: t,
                });
            }
        }
        let mut attempt = 0;
        loop {
            let submitted = sqlx::query("SELECT accepted FROM tasker.submit_step_results($1)")
                .bind(serde_json::Value::Array(results.clone()))
                .fetch_all(&sh.pool)
                .await;
            match submitted {
                Ok(acc) => {
                    let accepted = acc.iter().filter(|r| r.get::<bool, _>("accepted")).count();
                    sh.stats.record("submit_step_results", t, accepted);
                    break;
                }
                Err(e) => {
                    sh.stats.error("submit_step_results", &e);
                    attempt += 1;
                    if attempt > 5 || sh.stopped() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        if rows.len() < batch as usize {
            sh.wait(&wake).await;
        }
    }
}

async fn result_processor(sh: Arc<Shared>) {
    while !sh.stopped() {
        let t = Instant::now();
        match sh.processor.run_once().await {
            Ok(counts) => {
                let n = counts.results as usize;
                sh.stats.record("process_step_results", t, n);
                if n < sh.cfg.process_batch as usize {
                    sh.wait(&sh.wake_results).await;
                }
            }
            Err(e) => {
                sh.stats.error("process_step_results", &e);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn step_enqueuer(sh: Arc<Shared>) {
    while !sh.stopped() {
        let t = Instant::now();
        match sh.enqueuer.run_once().await {
            Ok(outcome) => {
                let n = outcome.dispatched.len();
                sh.stats.record("enqueue_ready_steps", t, n);
                if n < sh.cfg.enqueue_batch as usize {
                    sh.wait(&sh.wake_enqueue).await;
                }
            }
            Err(e) => {
                sh.stats.error("enqueue_ready_steps", &e);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn task_finalizer(sh: Arc<Shared>) {
    while !sh.stopped() {
        let t = Instant::now();
        match sh.finalizer.run_once().await {
            Ok(outcome) => {
                let at = Instant::now();
                let n = outcome.tasks.len();
                sh.stats.record("finalize_tasks", t, n);
                for task in outcome.tasks {
                    if matches!(task.to_state.as_str(), "complete" | "error" | "cancelled" | "resolved_manually") {
                        let _ = sh.finalized.send(Finalized { task: task.task_uuid, to_state: task.to_state, at });
                    }
                }
                if n < sh.cfg.finalize_batch as usize {
                    sh.wait(&sh.wake_finalize).await;
                }
            }
            Err(e) => {
                sh.stats.error("finalize_tasks", &e);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn create_task(sh: &Shared, name: &str, n: usize, steps: usize) -> Result<Uuid, sqlx::Error> {
    let t = Instant::now();
    let r = sqlx::query_scalar::<_, Uuid>("SELECT tasker.create_task($1, $2, NULL, $3, '{}'::jsonb)")
        .bind(NAMESPACE)
        .bind(name)
        .bind(json!({"n": n}))
        .fetch_one(&sh.pool)
        .await;
    match &r {
        Ok(_) => sh.stats.record("create_task", t, steps),
        Err(e) => sh.stats.error("create_task", e),
    }
    r
}

// ------------------------------------------------------------------------------------------------
// Workloads
// ------------------------------------------------------------------------------------------------

struct Throughput {
    tasks: usize,
    steps: usize,
    create_secs: f64,
    total_secs: f64,
    failed: usize,
    calls: CallSamples,
    /// WAL bytes, commits, statements and row writes of the run.
    counts: counts::Counters,
}

/// Creates `n` diamond tasks with `cfg.creators` concurrent creators while workers and actors run,
/// and waits until the finalizer has reported every one of them final.
async fn run_diamonds(
    sh: &Arc<Shared>,
    done: &mut mpsc::UnboundedReceiver<Finalized>,
    n: usize,
) -> anyhow::Result<Throughput> {
    while done.try_recv().is_ok() {}
    counts::settle().await;
    let before = counts::read(&sh.pool, sh.statements).await?;
    sh.stats.take();
    let start = Instant::now();
    let mut creators = Vec::new();
    for c in 0..sh.cfg.creators {
        let sh = sh.clone();
        creators.push(tokio::spawn(async move {
            let mut i = c;
            while i < n {
                let mut tries = 0;
                while let Err(e) = create_task(&sh, "diamond", i, 4).await {
                    tries += 1;
                    if tries > 5 {
                        return Err(anyhow::anyhow!("create_task failed: {e}"));
                    }
                }
                i += sh.cfg.creators;
            }
            Ok(())
        }));
    }
    for c in creators {
        c.await??;
    }
    let create_secs = start.elapsed().as_secs_f64();
    let mut finished = 0;
    let mut failed = 0;
    let deadline = Duration::from_secs(600 + n as u64 / 10);
    while finished < n {
        match tokio::time::timeout(deadline.saturating_sub(start.elapsed()), done.recv()).await {
            Ok(Some(f)) => {
                finished += 1;
                if f.to_state != "complete" {
                    failed += 1;
                }
            }
            Ok(None) => anyhow::bail!("finalizer stopped"),
            Err(_) => anyhow::bail!("timed out: {finished} of {n} tasks final after {:?}", start.elapsed()),
        }
    }
    let total_secs = start.elapsed().as_secs_f64();
    let calls = sh.stats.take();
    counts::settle().await;
    let counts = counts::read(&sh.pool, sh.statements).await?.minus(before);
    Ok(Throughput { tasks: n, steps: n * 4, create_secs, total_secs, failed, calls, counts })
}

struct Latency {
    stages_ms: Vec<f64>,
    first_claim_ms: Vec<f64>,
    last_submit_to_complete_ms: Vec<f64>,
    end_to_end_ms: Vec<f64>,
    calls: CallSamples,
}

/// Runs the linear template `runs` times, one task at a time.
async fn run_linear(
    sh: &Arc<Shared>,
    done: &mut mpsc::UnboundedReceiver<Finalized>,
    runs: usize,
) -> anyhow::Result<Latency> {
    while done.try_recv().is_ok() {}
    sh.stats.take();
    sh.events.lock().unwrap().clear();
    sh.record_events.store(true, Ordering::Relaxed);
    let mut tasks = Vec::new();
    for i in 0..runs {
        let t0 = Instant::now();
        let task = create_task(sh, "linear", i, 10).await?;
        let end = loop {
            match tokio::time::timeout(Duration::from_secs(60), done.recv()).await {
                Ok(Some(f)) if f.task == task => {
                    anyhow::ensure!(f.to_state == "complete", "linear task {task} ended {}", f.to_state);
                    break f.at;
                }
                Ok(Some(_)) => continue,
                Ok(None) => anyhow::bail!("finalizer stopped"),
                Err(_) => anyhow::bail!("linear task {task} not final after 60 s"),
            }
        };
        tasks.push((task, t0, end));
    }
    sh.record_events.store(false, Ordering::Relaxed);
    let events = std::mem::take(&mut *sh.events.lock().unwrap());
    let mut by_task: HashMap<Uuid, Vec<StepEvent>> = HashMap::new();
    for e in events {
        by_task.entry(e.task).or_default().push(e);
    }
    let ms = |a: Instant, b: Instant| b.saturating_duration_since(a).as_secs_f64() * 1e3;
    let mut out = Latency {
        stages_ms: Vec::new(),
        first_claim_ms: Vec::new(),
        last_submit_to_complete_ms: Vec::new(),
        end_to_end_ms: Vec::new(),
        calls: sh.stats.take(),
    };
    for (task, t0, end) in tasks {
        let mut steps = by_task.remove(&task).unwrap_or_default();
        steps.sort_by(|a, b| a.step.cmp(&b.step));
        anyhow::ensure!(steps.len() == 10, "linear task {task}: {} step claims recorded", steps.len());
        out.first_claim_ms.push(ms(t0, steps[0].claimed));
        for pair in steps.windows(2) {
            out.stages_ms.push(ms(pair[0].submit_started, pair[1].claimed));
        }
        out.last_submit_to_complete_ms.push(ms(steps[9].submit_started, end));
        out.end_to_end_ms.push(ms(t0, end));
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------------------
// One configuration
// ------------------------------------------------------------------------------------------------

struct ModeReport {
    mode: Mode,
    settings: Vec<(String, String)>,
    b1: Throughput,
    b2: Option<Latency>,
    preload: Option<Throughput>,
    b1_loaded: Option<Throughput>,
    loaded_tasks: i64,
    errors: HashMap<&'static str, (u64, String)>,
    notifications: u64,
}

async fn run_mode(cfg: &Config, mode: Mode) -> anyhow::Result<ModeReport> {
    // Server.
    let mut server = None;
    let mut scratch = None;
    let admin_url = match mode {
        Mode::External => std::env::var("DATABASE_URL")?,
        Mode::Durable | Mode::Fast => {
            let base = cfg.data_dir.clone().unwrap_or_else(std::env::temp_dir);
            let dir = base.join(format!("tasker-bench-{}-{}", std::process::id(), mode.name()));
            let _ = std::fs::remove_dir_all(&dir);
            let mut opts = EmbeddedOptions::new(dir.join("pgdata"));
            opts.ephemeral = mode == Mode::Fast;
            opts.settings.push(("shared_preload_libraries".into(), "pg_stat_statements".into()));
            let pg = EmbeddedPostgres::start(&opts)?;
            let url = pg.url("postgres");
            server = Some(pg);
            scratch = Some(dir);
            url
        }
    };
    let dbname = format!("tasker_bench_{}", std::process::id());
    let mut admin = PgConnection::connect(&admin_url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {dbname}")).execute(&mut admin).await?;
    sqlx::query(&format!("CREATE DATABASE {dbname}")).execute(&mut admin).await?;
    let url = url_with_database(&admin_url, &dbname);

    let result = run_suite(cfg, mode, &url).await;

    if std::env::var("BENCH_KEEP_DB").map(|v| v == "1").unwrap_or(false) && mode == Mode::External {
        eprintln!("keeping database {dbname} (BENCH_KEEP_DB=1)");
    } else {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")).execute(&mut admin).await;
    }
    let _ = admin.close().await;
    if let Some(mut pg) = server {
        let _ = pg.stop();
    }
    if let Some(dir) = scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

async fn run_suite(cfg: &Config, mode: Mode, url: &str) -> anyhow::Result<ModeReport> {
    let conns = (cfg.workers + cfg.processors + cfg.creators + 4) as u32;
    let pool = db::connect(
        url,
        &PoolOptions {
            max_connections: conns,
            min_connections: conns,
            acquire_timeout: Duration::from_secs(30),
            application_name: "tasker-bench".into(),
            statement_timeout: None,
        },
    )
    .await?;
    db::migrate(&pool).await?;
    tasker_orchestration::templates::load_dir(&pool, std::path::Path::new("config/tasks/demo")).await?;
    let statements = counts::enable_statements(&pool).await;

    let mut settings = Vec::new();
    for name in [
        "server_version",
        "fsync",
        "synchronous_commit",
        "full_page_writes",
        "wal_level",
        "shared_buffers",
        "work_mem",
        "max_wal_size",
        "checkpoint_timeout",
        "autovacuum",
    ] {
        let v: String = sqlx::query_scalar(&format!("SHOW {name}")).fetch_one(&pool).await?;
        settings.push((name.to_string(), v));
    }

    let (tx, mut done) = mpsc::unbounded_channel();
    let ctx = ActorContext::new(pool.clone());
    let sh = Arc::new(Shared {
        pool: pool.clone(),
        cfg: cfg.clone(),
        stats: Stats::default(),
        stop: AtomicBool::new(false),
        wake_workers: (0..cfg.workers).map(|_| Arc::new(Notify::new())).collect(),
        wake_results: Arc::new(Notify::new()),
        wake_finalize: Arc::new(Notify::new()),
        wake_enqueue: Arc::new(Notify::new()),
        notifications: AtomicU64::new(0),
        record_events: AtomicBool::new(false),
        events: Mutex::new(Vec::new()),
        finalized: tx,
        processor: ResultProcessorActor::new(
            &ctx,
            result_processor::Config { batch_size: cfg.process_batch as u32, tick: cfg.poll },
        )?,
        enqueuer: StepEnqueuerActor::new(
            &ctx,
            step_enqueuer::Config { batch_size: cfg.enqueue_batch as u32, tick: cfg.poll },
        )?,
        finalizer: TaskFinalizerActor::new(
            &ctx,
            task_finalizer::Config { batch_size: cfg.finalize_batch as u32, tick: cfg.poll },
        )?,
        statements,
    });

    let listen = tokio::spawn(listener(sh.clone()));
    // Let LISTEN take effect before anything is sent.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut roles = Vec::new();
    for i in 0..cfg.workers {
        roles.push(tokio::spawn(worker(sh.clone(), i)));
    }
    for _ in 0..cfg.processors {
        roles.push(tokio::spawn(result_processor(sh.clone())));
    }
    roles.push(tokio::spawn(step_enqueuer(sh.clone())));
    roles.push(tokio::spawn(task_finalizer(sh.clone())));

    let outcome = async {
        eprintln!("[{}] B1: {} diamond tasks", mode.name(), cfg.tasks);
        let b1 = run_diamonds(&sh, &mut done, cfg.tasks).await?;
        let b2 = if cfg.runs > 0 {
            eprintln!("[{}] B2: {} linear tasks, one at a time", mode.name(), cfg.runs);
            Some(run_linear(&sh, &mut done, cfg.runs).await?)
        } else {
            None
        };
        let (preload, b1_loaded) = if cfg.preload > 0 {
            eprintln!("[{}] B3: preloading {} diamond tasks through the engine", mode.name(), cfg.preload);
            let preload = run_diamonds(&sh, &mut done, cfg.preload).await?;
            eprintln!("[{}] B3: B1 again on the loaded database", mode.name());
            let again = run_diamonds(&sh, &mut done, cfg.tasks).await?;
            (Some(preload), Some(again))
        } else {
            (None, None)
        };
        anyhow::Ok((b1, b2, preload, b1_loaded))
    }
    .await;

    sh.stop.store(true, Ordering::Relaxed);
    sh.wake_all();
    for r in roles {
        let _ = tokio::time::timeout(Duration::from_secs(10), r).await;
    }
    listen.abort();
    let (b1, b2, preload, b1_loaded) = outcome?;

    let loaded_tasks: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tasker.tasks WHERE state = 'complete'").fetch_one(&pool).await?;
    let not_complete: i64 = sqlx::query_scalar("SELECT count(*) FROM tasker.workflow_steps WHERE state <> 'complete'")
        .fetch_one(&pool)
        .await?;
    anyhow::ensure!(not_complete == 0, "{not_complete} steps are not complete at the end");
    pool.close().await;

    let errors = std::mem::take(&mut *sh.stats.errors.lock().unwrap());
    Ok(ModeReport {
        mode,
        settings,
        b1,
        b2,
        preload,
        b1_loaded,
        loaded_tasks,
        errors,
        notifications: sh.notifications.load(Ordering::Relaxed),
    })
}

// ------------------------------------------------------------------------------------------------
// Reporting
// ------------------------------------------------------------------------------------------------

fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx]
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

struct CallSummary {
    calls: usize,
    rows_per_call: f64,
    mean_ms: f64,
    p50_ms: f64,
    p95_ms: f64,
    us_per_row: f64,
    empty_calls: usize,
    empty_mean_ms: f64,
}

fn summarize(samples: &[Sample]) -> CallSummary {
    let busy: Vec<&Sample> = samples.iter().filter(|s| s.rows > 0).collect();
    let empty: Vec<f64> = samples.iter().filter(|s| s.rows == 0).map(|s| s.ms).collect();
    let ms: Vec<f64> = busy.iter().map(|s| s.ms).collect();
    let rows: f64 = busy.iter().map(|s| f64::from(s.rows)).sum();
    let s = sorted(&ms);
    CallSummary {
        calls: busy.len(),
        rows_per_call: if busy.is_empty() { f64::NAN } else { rows / busy.len() as f64 },
        mean_ms: mean(&ms),
        p50_ms: pct(&s, 0.50),
        p95_ms: pct(&s, 0.95),
        us_per_row: if rows > 0.0 { ms.iter().sum::<f64>() * 1e3 / rows } else { f64::NAN },
        empty_calls: empty.len(),
        empty_mean_ms: mean(&empty),
    }
}

fn f(v: f64, digits: usize) -> String {
    if v.is_nan() {
        "-".into()
    } else {
        format!("{v:.digits$}")
    }
}

fn print_calls(title: &str, calls: &CallSamples) {
    println!("  {title}");
    println!(
        "    {:<22} {:>7} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "call (non-empty)", "calls", "rows", "mean ms", "p50 ms", "p95 ms", "us/row", "empty n", "empty ms"
    );
    for (name, unit) in CALLS {
        let s = summarize(calls.get(name).map(Vec::as_slice).unwrap_or(&[]));
        println!(
            "    {:<22} {:>7} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            name,
            s.calls,
            f(s.rows_per_call, 1),
            f(s.mean_ms, 2),
            f(s.p50_ms, 2),
            f(s.p95_ms, 2),
            f(s.us_per_row, 0),
            s.empty_calls,
            f(s.empty_mean_ms, 2),
        );
        let _ = unit;
    }
    println!("    (rows: steps for create/claim/submit/enqueue, results for process, tasks for finalize)");
}

fn print_throughput(label: &str, t: &Throughput) {
    println!(
        "  {label:<34} {:>6} tasks {:>7} steps | create {:>7.0} tasks/s ({:>5.2} s) | {:>7.0} steps/s ({:>6.2} s){}",
        t.tasks,
        t.steps,
        t.tasks as f64 / t.create_secs,
        t.create_secs,
        t.steps as f64 / t.total_secs,
        t.total_secs,
        if t.failed > 0 { format!(" | {} NOT complete", t.failed) } else { String::new() },
    );
    counts::print(&format!("{label}, work"), &t.counts, t.steps);
}

fn print_report(cfg: &Config, r: &ModeReport) {
    println!();
    println!("== server: {} ==", r.mode.name());
    let settings: Vec<String> = r.settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("  {}", settings.join("  "));
    println!();
    println!("B1 throughput (create -> last task complete; creators run concurrently with the workers)");
    print_throughput("B1, empty database", &r.b1);
    if let Some(p) = &r.preload {
        print_throughput("preload (B1 shape, larger)", p);
    }
    if let Some(b) = &r.b1_loaded {
        print_throughput(&format!("B1, {} tasks already complete", r.loaded_tasks - b.tasks as i64), b);
    }
    if let Some(l) = &r.b2 {
        println!();
        println!("B2 latency, linear template (10 steps), {} runs one at a time", cfg.runs);
        println!("    {:<44} {:>7} {:>9} {:>9} {:>9} {:>9}", "", "n", "p50 ms", "p95 ms", "max ms", "mean ms");
        for (name, v) in [
            ("stage: submit(k) -> claim(k+1)", &l.stages_ms),
            ("create_task start -> claim(step 1)", &l.first_claim_ms),
            ("submit(step 10) -> finalizer says complete", &l.last_submit_to_complete_ms),
            ("end to end: create -> complete", &l.end_to_end_ms),
        ] {
            let s = sorted(v);
            println!(
                "    {:<44} {:>7} {:>9} {:>9} {:>9} {:>9}",
                name,
                v.len(),
                f(pct(&s, 0.5), 2),
                f(pct(&s, 0.95), 2),
                f(s.last().copied().unwrap_or(f64::NAN), 2),
                f(mean(v), 2)
            );
        }
        print_calls("SQL calls during B2 (one task in flight)", &l.calls);
    }
    println!();
    println!("B3 cost of each SQL call");
    print_calls("during B1, empty database", &r.b1.calls);
    if let Some(b) = &r.b1_loaded {
        print_calls(&format!("during B1 with {} tasks already complete", r.loaded_tasks - b.tasks as i64), &b.calls);
        println!("  O(steps touched) check: us per row, empty database vs loaded");
        println!(
            "    {:<22} {:>12} {:>12} {:>8} {:>14} {:>14}",
            "call", "us/row @0", "us/row @N", "ratio", "empty ms @0", "empty ms @N"
        );
        for (name, _) in CALLS {
            let a = summarize(r.b1.calls.get(name).map(Vec::as_slice).unwrap_or(&[]));
            let c = summarize(b.calls.get(name).map(Vec::as_slice).unwrap_or(&[]));
            println!(
                "    {:<22} {:>12} {:>12} {:>8} {:>14} {:>14}",
                name,
                f(a.us_per_row, 0),
                f(c.us_per_row, 0),
                f(c.us_per_row / a.us_per_row, 2),
                f(a.empty_mean_ms, 2),
                f(c.empty_mean_ms, 2)
            );
        }
    }
    if !r.errors.is_empty() {
        println!();
        println!("Errors (retried):");
        for (call, (n, last)) in &r.errors {
            println!("  {call}: {n} (last: {last})");
        }
    }
    println!("  notifications received: {}", r.notifications);
}

/// `/proc/loadavg`: other work on the machine skews every figure, so it is printed.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map(|s| s.trim().to_string()).unwrap_or_else(|_| "-".into())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cfg = Config::from_env();
    println!("Tasker engine benchmark");
    println!(
        "  tasks={} workers={} runs={} preload={} creators={} processors={} batches: claim={} process={} finalize={} enqueue={} poll={:?} wake=LISTEN/NOTIFY",
        cfg.tasks,
        cfg.workers,
        cfg.runs,
        cfg.preload,
        cfg.creators,
        cfg.processors,
        cfg.claim_batch,
        cfg.process_batch,
        cfg.finalize_batch,
        cfg.enqueue_batch,
        cfg.poll,
    );
    let cores = std::thread::available_parallelism().map(std::num::NonZero::get).unwrap_or(0);
    println!("  cores={cores} (client and server share them)");
    let mut reports = Vec::new();
    for &mode in &cfg.modes {
        println!("  load average before {}: {}", mode.name(), loadavg());
        let r = run_mode(&cfg, mode).await?;
        println!("  load average after {}: {}", mode.name(), loadavg());
        print_report(&cfg, &r);
        reports.push(r);
    }
    if reports.len() > 1 {
        println!();
        println!("Summary");
        for r in &reports {
            let b2 = r.b2.as_ref().map(|l| {
                let s = sorted(&l.stages_ms);
                let e = sorted(&l.end_to_end_ms);
                format!(
                    "stage p50/p95 {}/{} ms, end-to-end p50/p95 {}/{} ms",
                    f(pct(&s, 0.5), 2),
                    f(pct(&s, 0.95), 2),
                    f(pct(&e, 0.5), 1),
                    f(pct(&e, 0.95), 1)
                )
            });
            println!(
                "  {:<8} B1 {:>6.0} steps/s, create {:>6.0} tasks/s | {}",
                r.mode.name(),
                r.b1.steps as f64 / r.b1.total_secs,
                r.b1.tasks as f64 / r.b1.create_secs,
                b2.unwrap_or_default()
            );
        }
    }
    Ok(())
}
