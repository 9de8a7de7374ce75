//! End-to-end benchmark: real `tasker-server` and `tasker-worker` processes on a local PostgreSQL,
//! driven over REST. Run with `cargo bench --bench e2e`.
//!
//! - W1: the 10-step linear template, `BENCH_W1_RUNS` tasks one after another: end-to-end latency
//!   (POST to the `complete` notification) and per-stage latency read from the step history
//!   (step k `complete` -> step k+1 `claim`: result processing, dispatch and claim), p50/p95.
//! - W2: the fan-out template (1 -> 100 -> 1): wall time of one task.
//! - W3: `BENCH_W3_TASKS` diamond tasks submitted at once by 32 concurrent clients: steps/s from
//!   the first request to the last task complete, and the server's peak RSS (sampled from /proc).
//!
//! The database is a PostgreSQL started from the local binaries in a temporary directory with the
//! server defaults (durable: fsync and synchronous_commit on), or with `BENCH_FAST=1` fsync,
//! synchronous_commit and full_page_writes off. Figures and their reading: `docs/benchmarks.md`.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::PgListener;
use sqlx::{Connection, PgConnection, PgPool};
use tasker_orchestration::db::{self, EmbeddedOptions, EmbeddedPostgres, PoolOptions};
use uuid::Uuid;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

/// A child process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// Clock ticks per second of /proc's CPU times (USER_HZ on Linux).
const USER_HZ: f64 = 100.0;

/// CPU seconds (user + system) used so far by process `pid`.
fn cpu_secs(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / USER_HZ)
        })
        .unwrap_or(0.0)
}

/// Idle and I/O-wait seconds of the whole machine so far (all cores), from /proc/stat.
fn machine_idle_secs() -> (f64, f64) {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            let f: Vec<f64> = s.lines().next()?.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
            Some((f.get(3)? / USER_HZ, f.get(4)? / USER_HZ))
        })
        .unwrap_or((0.0, 0.0))
}

/// The machine's idle share (of its 2 cores) in each tenth of the window `start .. start + wall`,
/// from samples of its cumulative idle seconds.
fn idle_by_tenth(samples: &[(Instant, f64)], start: Instant, wall: Duration) -> String {
    (0..10)
        .map(|k| {
            let (a, b) = (start + wall * k / 10, start + wall * (k + 1) / 10);
            let inside: Vec<&(Instant, f64)> = samples.iter().filter(|(t, _)| *t >= a && *t <= b).collect();
            match (inside.first(), inside.last()) {
                (Some(f), Some(l)) if l.0 > f.0 => {
                    format!("{:.0}%", 100.0 * (l.1 - f.1) / (2.0 * (l.0 - f.0).as_secs_f64()))
                }
                _ => "-".to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// CPU seconds used so far by every PostgreSQL process (backends, walwriter, autovacuum, ...).
fn postgres_cpu_secs() -> f64 {
    postgres_cpu_by_pid().values().sum()
}

/// CPU seconds used so far by each PostgreSQL process, by pid.
fn postgres_cpu_by_pid() -> std::collections::HashMap<u32, f64> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Default::default() };
    dir.filter_map(std::result::Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres"))
        .map(|pid| (pid, cpu_secs(pid)))
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn summary(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    (percentile(&v, 0.5), percentile(&v, 0.95), v.iter().sum::<f64>() / v.len().max(1) as f64)
}

async fn create(client: &reqwest::Client, base: &str, ns: &str, name: &str) -> anyhow::Result<Uuid> {
    let resp = client
        .post(format!("{base}/v1/tasks"))
        .json(&serde_json::json!({"namespace": ns, "name": name, "version": "1.0.0", "context": {}}))
        .send()
        .await?;
    anyhow::ensure!(resp.status().as_u16() == 201, "create answered {}", resp.status());
    let body: serde_json::Value = resp.json().await?;
    Ok(body["task_uuid"].as_str().unwrap_or_default().parse()?)
}

/// Waits for `<uuid>:complete` (or error) on tasker_task_changed.
async fn wait_complete(listener: &mut PgListener, task: Uuid, timeout: Duration) -> anyhow::Result<Instant> {
    let want = task.to_string();
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let n = tokio::time::timeout(left, listener.recv()).await??;
        if let Some((id, state)) = n.payload().split_once(':') {
            if id == want && (state == "complete" || state == "error") {
                anyhow::ensure!(state == "complete", "task {task} ended in {state}");
                return Ok(Instant::now());
            }
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let w1_runs = env_usize("BENCH_W1_RUNS", 50);
    let w3_tasks = env_usize("BENCH_W3_TASKS", 1000);
    let workers = env_usize("BENCH_WORKERS", 2);
    let concurrency = env_usize("BENCH_WORKER_CONCURRENCY", 32);
    let fast = std::env::var("BENCH_FAST").is_ok_and(|v| v == "1");

    let dir = std::env::temp_dir().join(format!("tasker-e2e-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut opts = EmbeddedOptions::new(dir.join("pgdata"));
    opts.ephemeral = fast;
    let profile = std::env::var("BENCH_PROFILE").is_ok_and(|v| v == "1");
    if profile {
        // Where PostgreSQL's time goes during W3: top functions and statements, printed at the end.
        opts.settings.push(("shared_preload_libraries".into(), "'pg_stat_statements,auto_explain'".into()));
        opts.settings
            .push(("auto_explain.log_min_duration".into(), std::env::var("BENCH_EXPLAIN_MS").unwrap_or("5".into())));
        opts.settings.push(("auto_explain.log_nested_statements".into(), "on".into()));
        opts.settings.push(("auto_explain.log_analyze".into(), "on".into()));
        opts.settings.push(("pg_stat_statements.track".into(), "all".into()));
        opts.settings.push(("track_functions".into(), "all".into()));
    }
    let mut pg = EmbeddedPostgres::start(&opts)?;
    let mut admin = PgConnection::connect(&pg.url("postgres")).await?;
    sqlx::query("CREATE DATABASE tasker").execute(&mut admin).await?;
    admin.close().await?;
    let url = pg.url("tasker");
    let pool: PgPool = db::connect(&url, &PoolOptions { max_connections: 4, ..Default::default() }).await?;

    let rest_port = free_port();
    let crate_dir = env!("CARGO_MANIFEST_DIR");
    let log = std::fs::File::create(dir.join("server.log"))?;
    let server = Proc(
        Command::new(env!("CARGO_BIN_EXE_tasker-server"))
            .current_dir(crate_dir)
            .env("TASKER_ENV", "bench")
            .env("DATABASE_URL", &url)
            .env("TASKER__ORCHESTRATION__WEB__HOST", "127.0.0.1")
            .env("TASKER__ORCHESTRATION__WEB__PORT", rest_port.to_string())
            .env("TASKER__ORCHESTRATION__GRPC__HOST", "127.0.0.1")
            .env("TASKER__ORCHESTRATION__GRPC__PORT", free_port().to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?,
    );
    let server_pid = server.0.id();
    let base = format!("http://127.0.0.1:{rest_port}");
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let started = Instant::now();
    loop {
        if client.get(format!("{base}/health")).send().await.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(60), "server did not become healthy");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut worker_procs = Vec::new();
    for i in 0..workers {
        worker_procs.push(Proc(
            Command::new(env!("CARGO_BIN_EXE_tasker-worker"))
                .env("DATABASE_URL", &url)
                .env("RUST_LOG", "warn")
                .args(["--namespaces", "demo", "--concurrency", &concurrency.to_string()])
                .args(["--batch-size", "32", "--worker-id", &format!("bench-{i}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        ));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = rss_kib(server_pid, "VmRSS:");

    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen("tasker_task_changed").await?;

    // W1 -------------------------------------------------------------------------------------
    let mut e2e = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..w1_runs {
        let t0 = Instant::now();
        let task = create(&client, &base, "demo", "linear").await?;
        let done = wait_complete(&mut listener, task, Duration::from_secs(60)).await?;
        e2e.push((done - t0).as_secs_f64() * 1000.0);
        tasks.push(task);
    }
    let stages: Vec<(String, f64, f64)> = sqlx::query_as(
        "WITH h AS (
             SELECT s.task_uuid, s.position, h.event, h.created_at
               FROM tasker.workflow_steps s JOIN tasker.workflow_step_transitions h ON h.step_uuid = s.step_uuid
              WHERE s.task_uuid = ANY ($1))
         SELECT 'dispatch' AS kind,
                extract(epoch FROM c.created_at - p.created_at)::float8 * 1000,
                extract(epoch FROM d.created_at - p.created_at)::float8 * 1000
           FROM h p
           JOIN h c ON c.task_uuid = p.task_uuid AND c.position = p.position + 1 AND c.event = 'claim'
           JOIN h d ON d.task_uuid = p.task_uuid AND d.position = p.position + 1 AND d.event = 'complete'
          WHERE p.event = 'complete'",
    )
    .bind(&tasks)
    .fetch_all(&pool)
    .await?;
    // Claims made in the transaction that acknowledged the parent (the worker's chained claim).
    let (claims, chained): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE EXISTS (
                    SELECT 1 FROM tasker.workflow_step_transitions p
                     WHERE p.task_uuid = c.task_uuid AND p.xid = c.xid AND p.event = 'complete'))
           FROM tasker.workflow_step_transitions c
          WHERE c.task_uuid = ANY ($1) AND c.event = 'claim'",
    )
    .bind(&tasks)
    .fetch_one(&pool)
    .await?;
    // The two ends of a W1 task, in the database's own timestamps: its creation to its first
    // step's claim (commit, dispatch notification, the worker's claim), and its last step's
    // completion to the task's.
    let ends: Vec<(f64, f64)> = sqlx::query_as(
        "SELECT extract(epoch FROM (SELECT min(h.created_at) FROM tasker.workflow_step_transitions h
                                     WHERE h.task_uuid = t.task_uuid AND h.event = 'claim')
                                   - t.created_at)::float8 * 1000,
                extract(epoch FROM t.completed_at
                                   - (SELECT max(h.created_at) FROM tasker.workflow_step_transitions h
                                       WHERE h.task_uuid = t.task_uuid AND h.event = 'complete'))::float8 * 1000
           FROM tasker.tasks t
          WHERE t.task_uuid = ANY ($1)",
    )
    .bind(&tasks)
    .fetch_all(&pool)
    .await?;
    let (first_claim_p50, _, _) = summary(ends.iter().map(|e| e.0).collect());
    let (completion_p50, _, _) = summary(ends.iter().map(|e| e.1).collect());
    let (e2e_p50, e2e_p95, e2e_mean) = summary(e2e);
    let (st_p50, st_p95, _) = summary(stages.iter().map(|s| s.1).collect());
    let (full_p50, full_p95, _) = summary(stages.iter().map(|s| s.2).collect());

    // W2 -------------------------------------------------------------------------------------
    let t0 = Instant::now();
    let task = create(&client, &base, "demo", "fan_out").await?;
    let done = wait_complete(&mut listener, task, Duration::from_secs(120)).await?;
    let w2_ms = (done - t0).as_secs_f64() * 1000.0;

    // W3 -------------------------------------------------------------------------------------
    let peak = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let peak = peak.clone();
        let sampling = sampling.clone();
        tokio::spawn(async move {
            // (when, the machine's idle + I/O-wait seconds so far): its idle time along the run.
            let mut idle = Vec::new();
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(server_pid, "VmRSS:"), Ordering::Relaxed);
                let (i, w) = machine_idle_secs();
                idle.push((Instant::now(), i + w));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            idle
        })
    };
    let worker_pids: Vec<u32> = worker_procs.iter().map(|p| p.0.id()).collect();
    let cpu_before = (cpu_secs(server_pid), worker_pids.iter().map(|p| cpu_secs(*p)).sum::<f64>(), postgres_cpu_secs());
    let (bench_cpu_before, idle_before) = (cpu_secs(std::process::id()), machine_idle_secs());
    let pg_cpu_before = postgres_cpu_by_pid();
    if profile {
        sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").execute(&pool).await?;
        sqlx::query("SELECT pg_stat_statements_reset()").execute(&pool).await?;
        sqlx::query("SELECT pg_stat_reset()").execute(&pool).await?;
    }
    let before: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tasker.tasks WHERE state = 'complete'").fetch_one(&pool).await?;
    let t0 = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    let mut backpressure = 0u64;
    for _ in 0..32 {
        let client = client.clone();
        let base = base.clone();
        let next = next.clone();
        clients.push(tokio::spawn(async move {
            let mut refused = 0u64;
            while next.fetch_add(1, Ordering::Relaxed) < w3_tasks as u64 {
                loop {
                    match create(&client, &base, "demo", "diamond").await {
                        Ok(_) => break,
                        Err(_) => {
                            refused += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            }
            refused
        }));
    }
    for c in clients {
        backpressure += c.await.unwrap_or(0);
    }
    let submitted = t0.elapsed();
    loop {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM tasker.tasks WHERE state = 'complete'").fetch_one(&pool).await?;
        if n - before >= w3_tasks as i64 {
            break;
        }
        anyhow::ensure!(t0.elapsed() < Duration::from_secs(600), "W3 did not finish: {} of {w3_tasks}", n - before);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let w3 = t0.elapsed();
    let pg_cpu_after = postgres_cpu_by_pid();
    let cpu = (
        cpu_secs(server_pid) - cpu_before.0,
        worker_pids.iter().map(|p| cpu_secs(*p)).sum::<f64>() - cpu_before.1,
        postgres_cpu_secs() - cpu_before.2,
    );
    let bench_cpu = cpu_secs(std::process::id()) - bench_cpu_before;
    let idle_after = machine_idle_secs();
    let (idle, iowait) = (idle_after.0 - idle_before.0, idle_after.1 - idle_before.1);
    sampling.store(false, Ordering::Relaxed);
    let idle_samples = sampler.await.unwrap_or_default();
    let peak_rss = peak.load(Ordering::Relaxed).max(rss_kib(server_pid, "VmRSS:"));
    let hwm = rss_kib(server_pid, "VmHWM:");

    println!(
        "tasker end-to-end benchmark ({} PostgreSQL, {workers} worker process(es) x {concurrency})",
        if fast { "fast: fsync off" } else { "durable: server defaults" }
    );
    println!("W1 linear x {w1_runs}: end-to-end p50 {e2e_p50:.1} ms, p95 {e2e_p95:.1} ms, mean {e2e_mean:.1} ms");
    println!("   per stage (step k complete -> step k+1 claimed): p50 {st_p50:.2} ms, p95 {st_p95:.2} ms");
    println!("   per stage (step k complete -> step k+1 complete): p50 {full_p50:.2} ms, p95 {full_p95:.2} ms");
    println!(
        "   task created -> first step claimed: p50 {first_claim_p50:.2} ms; last step complete -> task complete: p50 {completion_p50:.2} ms"
    );
    println!("   claims chained to the parent's acknowledgement: {chained} of {claims}");
    println!("W2 fan-out 1->100->1: {w2_ms:.0} ms");
    println!(
        "W3 {w3_tasks} diamond tasks: submitted in {:.2} s ({} retries after 503), all complete in {:.2} s = {:.0} steps/s",
        submitted.as_secs_f64(),
        backpressure,
        w3.as_secs_f64(),
        (w3_tasks * 4) as f64 / w3.as_secs_f64()
    );
    println!(
        "   CPU seconds during W3 ({:.2} s wall x 2 cores = {:.2}): PostgreSQL {:.2}, tasker-server {:.2}, workers {:.2}, \
         benchmark process (32 HTTP clients) {:.2}, idle {:.2} (of which I/O wait {:.2}), other {:.2}",
        w3.as_secs_f64(),
        w3.as_secs_f64() * 2.0,
        cpu.2,
        cpu.0,
        cpu.1,
        bench_cpu,
        idle + iowait,
        iowait,
        (w3.as_secs_f64() * 2.0 - cpu.0 - cpu.1 - cpu.2 - bench_cpu - idle - iowait).max(0.0)
    );
    println!(
        "   machine idle along W3, per tenth of its wall time (submission ended at {:.0}%): {}",
        100.0 * submitted.as_secs_f64() / w3.as_secs_f64(),
        idle_by_tenth(&idle_samples, t0, w3)
    );
    println!(
        "   server RSS: idle {} MiB, peak during W3 {} MiB (VmHWM {} MiB)",
        rss_idle / 1024,
        peak_rss / 1024,
        hwm / 1024
    );

    if profile {
        let functions: Vec<(String, i64, f64, f64)> = sqlx::query_as(
            "SELECT funcname::text, calls, total_time, self_time FROM pg_stat_user_functions
              ORDER BY self_time DESC LIMIT 15",
        )
        .fetch_all(&pool)
        .await?;
        println!("W3 profile: PL/pgSQL functions by self time (ms)");
        for (name, calls, total, own) in functions {
            println!("   {name:<32} calls {calls:>7}  total {total:>9.1}  self {own:>9.1}");
        }
        let statements: Vec<(String, i64, f64)> = sqlx::query_as(
            "SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 110), calls, total_exec_time
               FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15",
        )
        .fetch_all(&pool)
        .await?;
        // PostgreSQL CPU by connection: which client's backends (application_name, and whether
        // the connection only LISTENs) or which auxiliary process burned it.
        let activity: Vec<(i32, String, String, String)> = sqlx::query_as(
            "SELECT pid, coalesce(backend_type, ''), coalesce(application_name, ''), coalesce(query, '')
               FROM pg_stat_activity",
        )
        .fetch_all(&pool)
        .await?;
        let mut by_kind: std::collections::BTreeMap<String, (usize, f64)> = Default::default();
        for (pid, cpu_after) in &pg_cpu_after {
            let used = cpu_after - pg_cpu_before.get(pid).copied().unwrap_or(0.0);
            let kind = match activity.iter().find(|a| a.0 as u32 == *pid) {
                Some((_, backend, app, query)) if backend == "client backend" => {
                    let listen =
                        if query.trim_start().to_ascii_uppercase().starts_with("LISTEN") { " (listener)" } else { "" };
                    format!("{app}{listen}")
                }
                Some((_, backend, ..)) => backend.clone(),
                None => "postmaster or exited".into(),
            };
            let e = by_kind.entry(kind).or_default();
            e.0 += 1;
            e.1 += used;
        }
        println!("W3 profile: PostgreSQL CPU seconds by connection kind");
        for (kind, (n, used)) in by_kind {
            println!("   {used:>7.2}  {n:>3} process(es)  {kind}");
        }
        println!("W3 profile: statements by total execution time (ms)");
        for (q, calls, total) in statements {
            println!("   {total:>9.1}  {calls:>7}  {q}");
        }
    }
    drop(worker_procs);
    drop(server);
    listener.unlisten_all().await.ok();
    pool.close().await;
    pg.stop()?;
    if std::env::var("BENCH_KEEP_DIR").is_ok_and(|v| v == "1") {
        println!("kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
