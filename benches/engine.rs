//! Engine benchmark: the product's own loops in one process, on a local PostgreSQL, no HTTP.
//!
//! Run with `cargo bench --bench engine`. Nothing is re-implemented here:
//! - the server's actors run as the server runs them (`actors::Actors::spawn`: task request,
//!   step enqueuer, result processor, task finalizer, their LISTEN/NOTIFY hub and fallback ticks);
//! - `BENCH_WORKERS` workers run the real worker runtime (`worker::Worker`, each on its own pool
//!   as a separate process would be) with the built-in `noop` handler;
//! - the benchmark only creates tasks and waits for the hub to report them final.
//!
//! Workloads, per server configuration:
//! - B1 `create_task`: `BENCH_TASKS` diamond tasks (4 steps) created at once by `BENCH_CREATORS`
//!   clients, each calling `tasker.create_task`; steps/s from the first create to the last task
//!   complete.
//! - B1 `create_tasks`: the same through the task request actor (`TaskSubmitter`, as the REST and
//!   gRPC front doors do) from `BENCH_CLIENTS` concurrent clients: requests waiting together are
//!   created by one `tasker.create_tasks` call.
//! - B2: the 10-step linear template, one task at a time, `BENCH_RUNS` runs: end to end, and per
//!   stage from the step history (PostgreSQL's clock): step k `complete` -> step k+1 `claim`, and
//!   step k `complete` -> step k+1 `complete` (the full stage: dispatch, claim, run, result).
//!
//! Every workload reports its work counts (WAL bytes, commits, statements, row writes per step;
//! see `support/counts.rs`) and the statements that took the time (`pg_stat_statements`).
//!
//! The server: a PostgreSQL started from the local binaries in a temporary directory (`durable`:
//! the server defaults, fsync and synchronous_commit on; `fast`: fsync, synchronous_commit and
//! full_page_writes off), or the server at `DATABASE_URL` (a fresh database is created on it and
//! dropped afterwards). See `docs/benchmarks.md` for figures and their reading.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::{Connection, PgConnection, PgPool, Row};
use tasker_orchestration::actors::{Actors, Event};
use tasker_orchestration::db::{self, EmbeddedOptions, EmbeddedPostgres, PoolOptions};
use tasker_orchestration::metrics::Metrics;
use tasker_orchestration::model::TaskRequest;
use tasker_orchestration::testing::{test_config, url_with_database};
use tasker_orchestration::worker::{builtin_registry, Worker, WorkerConfig};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[path = "support/counts.rs"]
mod counts;

const NAMESPACE: &str = "demo";
const FINAL: [&str; 4] = ["complete", "error", "cancelled", "resolved_manually"];

// ------------------------------------------------------------------------------------------------
// Parameters
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Config {
    tasks: usize,
    workers: usize,
    concurrency: usize,
    claim_batch: usize,
    runs: usize,
    creators: usize,
    clients: usize,
    poll_ms: u64,
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
            workers: env_num("BENCH_WORKERS", 2).max(1),
            concurrency: env_num("BENCH_WORKER_CONCURRENCY", 32).max(1),
            claim_batch: env_num("BENCH_CLAIM_BATCH", 32).max(1),
            runs: env_num("BENCH_RUNS", 50),
            creators: env_num("BENCH_CREATORS", 2).max(1),
            clients: env_num("BENCH_CLIENTS", 32).max(1),
            poll_ms: env_num("BENCH_POLL_MS", 1000).max(1),
            modes,
            data_dir: std::env::var_os("BENCH_DATA_DIR").map(PathBuf::from),
        }
    }
}

// ------------------------------------------------------------------------------------------------
// The system under test
// ------------------------------------------------------------------------------------------------

struct System {
    pool: PgPool,
    actors: Option<Actors>,
    workers: Vec<(CancellationToken, JoinHandle<()>)>,
    statements: bool,
}

impl System {
    async fn start(cfg: &Config, url: &str) -> anyhow::Result<Self> {
        let pool = pool(url, 8 + cfg.creators as u32, "tasker-bench").await?;
        db::migrate(&pool).await?;
        tasker_orchestration::templates::load_dir(&pool, std::path::Path::new("config/tasks/demo")).await?;
        let statements = counts::enable_statements(&pool).await;

        let tick = cfg.poll_ms.to_string();
        let config = test_config(
            url,
            &[("TASKER_ENV", "bench"), ("TASKER__ORCHESTRATION__ACTORS__FALLBACK_TICK_MS", tick.as_str())],
        );
        let actors = Actors::spawn(pool.clone(), &config, Arc::new(Metrics::new()))?;

        let mut workers = Vec::new();
        for i in 0..cfg.workers {
            let worker_pool = self::pool(url, 4, "tasker-bench-worker").await?;
            let wc = WorkerConfig {
                namespaces: vec![NAMESPACE.into()],
                concurrency: cfg.concurrency,
                batch_size: cfg.claim_batch,
                poll_interval: Duration::from_millis(cfg.poll_ms),
                worker_id: format!("bench-{i}"),
                ..WorkerConfig::default()
            };
            let worker = Worker::new(worker_pool, builtin_registry(), wc)?;
            let stop = CancellationToken::new();
            let token = stop.clone();
            workers.push((
                stop,
                tokio::spawn(async move {
                    if let Err(e) = worker.run(token).await {
                        eprintln!("worker stopped: {e}");
                    }
                }),
            ));
        }
        // Let every loop finish its start-up round.
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(Self { pool, actors: Some(actors), workers, statements })
    }

    fn actors(&self) -> &Actors {
        self.actors.as_ref().expect("running")
    }

    async fn stop(mut self) {
        for (stop, handle) in self.workers.drain(..) {
            stop.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(10), handle).await;
        }
        if let Some(actors) = self.actors.take() {
            actors.shutdown().await;
        }
        self.pool.close().await;
    }
}

async fn pool(url: &str, n: u32, name: &str) -> anyhow::Result<PgPool> {
    Ok(db::connect(
        url,
        &PoolOptions {
            max_connections: n,
            min_connections: n,
            acquire_timeout: Duration::from_secs(30),
            application_name: name.into(),
            statement_timeout: None,
        },
    )
    .await?)
}

/// Collects the final states the notification hub reports (`tasker_task_changed`).
struct Finals {
    rx: broadcast::Receiver<Event>,
    done: HashMap<Uuid, (String, Instant)>,
}

impl Finals {
    fn new(sys: &System) -> Self {
        Self { rx: sys.actors().status.hub.subscribe(), done: HashMap::new() }
    }

    /// Waits until every task of `tasks` is final; returns when the last one was reported.
    async fn wait(&mut self, pool: &PgPool, tasks: &HashSet<Uuid>, limit: Duration) -> anyhow::Result<Instant> {
        let start = Instant::now();
        loop {
            if tasks.iter().all(|t| self.done.contains_key(t)) {
                return Ok(tasks.iter().map(|t| self.done[t].1).max().unwrap_or_else(Instant::now));
            }
            anyhow::ensure!(
                start.elapsed() < limit,
                "{} of {} tasks final after {limit:?}",
                self.final_of(tasks),
                tasks.len()
            );
            match tokio::time::timeout(Duration::from_secs(1), self.rx.recv()).await {
                Ok(Ok(Event::Notification { channel, payload })) if channel == "tasker_task_changed" => {
                    if let Some((id, state)) = payload.split_once(':') {
                        if FINAL.contains(&state) {
                            if let Ok(id) = id.parse() {
                                self.done.insert(id, (state.to_string(), Instant::now()));
                            }
                        }
                    }
                }
                Ok(Ok(_)) => {}
                // Missed notifications (lagged) or a quiet second: read the states instead.
                Ok(Err(_)) | Err(_) => self.read(pool, tasks).await?,
            }
        }
    }

    async fn read(&mut self, pool: &PgPool, tasks: &HashSet<Uuid>) -> anyhow::Result<()> {
        let ids: Vec<Uuid> = tasks.iter().filter(|t| !self.done.contains_key(t)).copied().collect();
        let rows: Vec<(Uuid, String)> =
            sqlx::query_as("SELECT task_uuid, state FROM tasker.tasks WHERE task_uuid = ANY ($1) AND state = ANY ($2)")
                .bind(&ids)
                .bind(FINAL.iter().map(|s| (*s).to_string()).collect::<Vec<_>>())
                .fetch_all(pool)
                .await?;
        for (id, state) in rows {
            self.done.insert(id, (state, Instant::now()));
        }
        Ok(())
    }

    fn final_of(&self, tasks: &HashSet<Uuid>) -> usize {
        tasks.iter().filter(|t| self.done.contains_key(t)).count()
    }

    fn failed_of(&self, tasks: &HashSet<Uuid>) -> usize {
        tasks.iter().filter(|t| self.done.get(t).is_some_and(|(s, _)| s != "complete")).count()
    }
}

// ------------------------------------------------------------------------------------------------
// Workloads
// ------------------------------------------------------------------------------------------------

struct Throughput {
    label: &'static str,
    tasks: usize,
    steps: usize,
    create_secs: f64,
    total_secs: f64,
    failed: usize,
    counts: counts::Counters,
    top: Vec<Statement>,
}

/// Creates `n` diamonds, by direct `tasker.create_task` calls (`via_actor` false) or through the
/// task request actor, and waits until every one is final.
async fn run_diamonds(sys: &System, cfg: &Config, n: usize, via_actor: bool) -> anyhow::Result<Throughput> {
    let mut finals = Finals::new(sys);
    counts::settle().await;
    let before = counts::read(&sys.pool, sys.statements).await?;
    let stmts_before = statements(&sys.pool, sys.statements).await?;
    let start = Instant::now();
    let clients = if via_actor { cfg.clients } else { cfg.creators };
    let mut jobs = Vec::new();
    for c in 0..clients {
        let pool = sys.pool.clone();
        let submitter = sys.actors().submitter.clone();
        jobs.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            let mut i = c;
            while i < n {
                let id = if via_actor {
                    let req = TaskRequest {
                        namespace: NAMESPACE.into(),
                        name: "diamond".into(),
                        context: Some(json!({"n": i})),
                        ..Default::default()
                    };
                    submitter.submit(req).await.map_err(|e| anyhow::anyhow!("submit: {e}"))?
                } else {
                    sqlx::query_scalar::<_, Uuid>("SELECT tasker.create_task($1, 'diamond', NULL, $2, '{}'::jsonb)")
                        .bind(NAMESPACE)
                        .bind(json!({"n": i}))
                        .fetch_one(&pool)
                        .await?
                };
                ids.push(id);
                i += clients;
            }
            anyhow::Ok(ids)
        }));
    }
    let mut tasks = HashSet::new();
    for j in jobs {
        tasks.extend(j.await??);
    }
    let create_secs = start.elapsed().as_secs_f64();
    let last = finals.wait(&sys.pool, &tasks, Duration::from_secs(600 + n as u64 / 10)).await?;
    let total_secs = last.saturating_duration_since(start).as_secs_f64();
    counts::settle().await;
    let counts = counts::read(&sys.pool, sys.statements).await?.minus(before);
    let top = top_statements(&stmts_before, &statements(&sys.pool, sys.statements).await?);
    Ok(Throughput {
        label: if via_actor { "create_tasks" } else { "create_task" },
        tasks: n,
        steps: n * 4,
        create_secs,
        total_secs,
        failed: finals.failed_of(&tasks),
        counts,
        top,
    })
}

struct Latency {
    end_to_end_ms: Vec<f64>,
    dispatch_ms: Vec<f64>,
    stage_ms: Vec<f64>,
    counts: counts::Counters,
}

/// Runs the linear template `runs` times, one task at a time.
async fn run_linear(sys: &System, runs: usize) -> anyhow::Result<Latency> {
    let mut finals = Finals::new(sys);
    counts::settle().await;
    let before = counts::read(&sys.pool, sys.statements).await?;
    let mut tasks = Vec::new();
    let mut end_to_end_ms = Vec::new();
    for i in 0..runs {
        let t0 = Instant::now();
        let task: Uuid = sqlx::query_scalar("SELECT tasker.create_task($1, 'linear', NULL, $2, '{}'::jsonb)")
            .bind(NAMESPACE)
            .bind(json!({"n": i}))
            .fetch_one(&sys.pool)
            .await?;
        let end = finals.wait(&sys.pool, &HashSet::from([task]), Duration::from_secs(60)).await?;
        end_to_end_ms.push(end.saturating_duration_since(t0).as_secs_f64() * 1e3);
        tasks.push(task);
    }
    counts::settle().await;
    let counts = counts::read(&sys.pool, sys.statements).await?.minus(before);
    let stages: Vec<(f64, f64)> = sqlx::query_as(
        "WITH h AS (
             SELECT s.task_uuid, s.position, h.event, h.created_at
               FROM tasker.workflow_steps s JOIN tasker.workflow_step_transitions h ON h.step_uuid = s.step_uuid
              WHERE s.task_uuid = ANY ($1))
         SELECT extract(epoch FROM c.created_at - p.created_at)::float8 * 1000,
                extract(epoch FROM d.created_at - p.created_at)::float8 * 1000
           FROM h p
           JOIN h c ON c.task_uuid = p.task_uuid AND c.position = p.position + 1 AND c.event = 'claim'
           JOIN h d ON d.task_uuid = p.task_uuid AND d.position = p.position + 1 AND d.event = 'complete'
          WHERE p.event = 'complete'",
    )
    .bind(&tasks)
    .fetch_all(&sys.pool)
    .await?;
    Ok(Latency {
        end_to_end_ms,
        dispatch_ms: stages.iter().map(|s| s.0).collect(),
        stage_ms: stages.iter().map(|s| s.1).collect(),
        counts,
    })
}

// ------------------------------------------------------------------------------------------------
// Statements (pg_stat_statements)
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Statement {
    query: String,
    calls: i64,
    rows: i64,
    ms: f64,
}

async fn statements(pool: &PgPool, enabled: bool) -> anyhow::Result<HashMap<i64, Statement>> {
    if !enabled {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query(
        "SELECT s.queryid, s.query, s.calls, s.rows, s.total_exec_time FROM pg_stat_statements s \
           JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database() AND s.queryid IS NOT NULL",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let st = Statement {
                query: r.get::<String, _>("query"),
                calls: r.get("calls"),
                rows: r.get("rows"),
                ms: r.get("total_exec_time"),
            };
            (r.get::<i64, _>("queryid"), st)
        })
        .collect())
}

/// The statements that took the most time between two snapshots.
fn top_statements(before: &HashMap<i64, Statement>, after: &HashMap<i64, Statement>) -> Vec<Statement> {
    let mut out: Vec<Statement> = after
        .iter()
        .map(|(id, a)| {
            let b = before.get(id);
            Statement {
                query: a.query.split_whitespace().collect::<Vec<_>>().join(" "),
                calls: a.calls - b.map_or(0, |b| b.calls),
                rows: a.rows - b.map_or(0, |b| b.rows),
                ms: a.ms - b.map_or(0.0, |b| b.ms),
            }
        })
        .filter(|s| s.calls > 0)
        .collect();
    out.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    out.truncate(8);
    out
}

// ------------------------------------------------------------------------------------------------
// One configuration
// ------------------------------------------------------------------------------------------------

struct ModeReport {
    mode: Mode,
    settings: Vec<(String, String)>,
    b1: Vec<Throughput>,
    b2: Option<Latency>,
    rss_kib: Option<u64>,
}

async fn run_mode(cfg: &Config, mode: Mode) -> anyhow::Result<ModeReport> {
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
    let sys = System::start(cfg, url).await?;
    let mut settings = Vec::new();
    for name in [
        "server_version",
        "fsync",
        "synchronous_commit",
        "full_page_writes",
        "shared_buffers",
        "max_wal_size",
        "autovacuum",
    ] {
        let v: String = sqlx::query_scalar(&format!("SHOW {name}")).fetch_one(&sys.pool).await?;
        settings.push((name.to_string(), v));
    }
    let outcome = async {
        let mut b1 = Vec::new();
        for via_actor in [false, true] {
            eprintln!("[{}] B1: {} diamond tasks (actor: {via_actor})", mode.name(), cfg.tasks);
            b1.push(run_diamonds(&sys, cfg, cfg.tasks, via_actor).await?);
        }
        let b2 = if cfg.runs > 0 {
            eprintln!("[{}] B2: {} linear tasks, one at a time", mode.name(), cfg.runs);
            Some(run_linear(&sys, cfg.runs).await?)
        } else {
            None
        };
        anyhow::Ok((b1, b2))
    }
    .await;
    let rss_kib = rss_kib();
    sys.stop().await;
    let (b1, b2) = outcome?;
    Ok(ModeReport { mode, settings, b1, b2, rss_kib })
}

/// Peak resident set of this process (server actors, workers and the benchmark together).
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

// ------------------------------------------------------------------------------------------------
// Reporting
// ------------------------------------------------------------------------------------------------

fn pct(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return f64::NAN;
    }
    let idx = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1;
    s[idx]
}

fn print_report(cfg: &Config, r: &ModeReport) {
    println!();
    println!("== server: {} ==", r.mode.name());
    let settings: Vec<String> = r.settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("  {}", settings.join("  "));
    for t in &r.b1 {
        println!();
        println!(
            "B1 {:<12} {:>6} tasks {:>6} steps | created in {:>5.2} s ({:>6.0} tasks/s) | {:>6.0} steps/s ({:.2} s){}",
            t.label,
            t.tasks,
            t.steps,
            t.create_secs,
            t.tasks as f64 / t.create_secs,
            t.steps as f64 / t.total_secs,
            t.total_secs,
            if t.failed > 0 { format!(" | {} NOT complete", t.failed) } else { String::new() },
        );
        counts::print(&format!("B1 {}", t.label), &t.counts, t.steps);
        if !t.top.is_empty() {
            println!("    statements by total time: calls/step, rows/call, mean ms, share of the run's ms");
            let total: f64 = t.top.iter().map(|s| s.ms).sum();
            for s in &t.top {
                println!(
                    "      {:>6.2} {:>7.1} {:>8.3} {:>5.1}%  {}",
                    s.calls as f64 / t.steps as f64,
                    s.rows as f64 / s.calls as f64,
                    s.ms / s.calls as f64,
                    100.0 * s.ms / total,
                    s.query.chars().take(110).collect::<String>()
                );
            }
        }
    }
    if let Some(l) = &r.b2 {
        println!();
        println!("B2 linear template (10 steps), {} runs one at a time: p50 / p95 ms", cfg.runs);
        for (name, v) in [
            ("end to end (create -> hub reports complete)", &l.end_to_end_ms),
            ("stage: complete(k) -> claim(k+1)", &l.dispatch_ms),
            ("full stage: complete(k) -> complete(k+1)", &l.stage_ms),
        ] {
            println!("    {:<46} {:>8.2} {:>8.2}  (n={})", name, pct(v, 0.5), pct(v, 0.95), v.len());
        }
        counts::print("B2", &l.counts, cfg.runs * 10);
    }
    if let Some(kib) = r.rss_kib {
        println!();
        println!("  peak RSS of the benchmark process (actors, workers, clients): {} MiB", kib / 1024);
    }
}

/// `/proc/loadavg`: other work on the machine skews every timing, so it is printed.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map(|s| s.trim().to_string()).unwrap_or_else(|_| "-".into())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cfg = Config::from_env();
    println!("Tasker engine benchmark (the server's actors and the worker runtime, noop handlers)");
    println!(
        "  tasks={} workers={} x concurrency {} (claim batch {}) runs={} creators={} clients={} poll={} ms",
        cfg.tasks, cfg.workers, cfg.concurrency, cfg.claim_batch, cfg.runs, cfg.creators, cfg.clients, cfg.poll_ms,
    );
    let cores = std::thread::available_parallelism().map(std::num::NonZero::get).unwrap_or(0);
    println!("  cores={cores} (client and server share them)");
    for &mode in &cfg.modes {
        println!("  load average before {}: {}", mode.name(), loadavg());
        let r = run_mode(&cfg, mode).await?;
        println!("  load average after {}: {}", mode.name(), loadavg());
        print_report(&cfg, &r);
    }
    Ok(())
}
