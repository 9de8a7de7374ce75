//! `tasker-worker`: the reference worker. Serves the built-in handlers (`noop`, `sleep`,
//! `fail_first_n`, `fail_permanently`, `orders.*`) over the worker protocol until SIGINT or
//! SIGTERM, then shuts down gracefully: no new claims, running steps finish and report.

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tasker_orchestration::db::{self, PoolOptions};
use tasker_orchestration::worker::{builtin_registry, default_worker_id, Worker, WorkerConfig};
use tokio_util::sync::CancellationToken;

#[derive(Parser, Debug)]
#[command(name = "tasker-worker", version, about = "Tasker reference worker (built-in handlers)")]
struct Cli {
    /// Database URL.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// Namespaces to serve, comma-separated; empty serves every namespace.
    #[arg(long, env = "TASKER_WORKER_NAMESPACES", value_delimiter = ',', default_value = "")]
    namespaces: Vec<String>,
    /// Most steps running at once.
    #[arg(long, env = "TASKER_WORKER_CONCURRENCY", default_value_t = 16)]
    concurrency: usize,
    /// Most steps claimed per namespace per call.
    #[arg(long, env = "TASKER_WORKER_BATCH_SIZE", default_value_t = 10)]
    batch_size: usize,
    /// Seconds a claimed message stays invisible without a heartbeat.
    #[arg(long, env = "TASKER_WORKER_VISIBILITY_TIMEOUT_SECS", default_value_t = 30)]
    visibility_timeout_secs: u64,
    /// Milliseconds between heartbeats; defaults to a third of the visibility timeout.
    #[arg(long, env = "TASKER_WORKER_HEARTBEAT_INTERVAL_MS")]
    heartbeat_interval_ms: Option<u64>,
    /// Microseconds a batch of results may wait for the results of other running steps (0: none).
    #[arg(long, env = "TASKER_WORKER_REPORT_LINGER_US", default_value_t = 500)]
    report_linger_us: u64,
    /// Milliseconds between polls when no notification arrives.
    #[arg(long, env = "TASKER_WORKER_POLL_INTERVAL_MS", default_value_t = 1000)]
    poll_interval_ms: u64,
    /// Seconds running steps get to finish on shutdown.
    #[arg(long, env = "TASKER_WORKER_SHUTDOWN_TIMEOUT_SECS", default_value_t = 30)]
    shutdown_timeout_secs: u64,
    /// Worker id shown in step history (default: <hostname>-<pid>).
    #[arg(long, env = "TASKER_WORKER_ID")]
    worker_id: Option<String>,
    /// Record every handler invocation in tasker_audit.step_executions.
    #[arg(long, env = "TASKER_WORKER_RECORD_EXECUTIONS")]
    record_executions: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let cli = Cli::parse();

    let visibility_timeout = Duration::from_secs(cli.visibility_timeout_secs);
    let config = WorkerConfig {
        namespaces: cli.namespaces.iter().map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect(),
        concurrency: cli.concurrency,
        batch_size: cli.batch_size,
        visibility_timeout,
        heartbeat_interval: cli.heartbeat_interval_ms.map(Duration::from_millis).unwrap_or(visibility_timeout / 3),
        report_linger: Duration::from_micros(cli.report_linger_us),
        poll_interval: Duration::from_millis(cli.poll_interval_ms),
        shutdown_timeout: Duration::from_secs(cli.shutdown_timeout_secs),
        worker_id: cli.worker_id.unwrap_or_else(default_worker_id),
        record_executions: cli.record_executions,
        ..WorkerConfig::default()
    };
    config.validate()?;

    // LISTEN holds one connection; claims, heartbeats, submissions and audit rows share the rest.
    let pool_opts = PoolOptions {
        max_connections: (cli.concurrency as u32).clamp(2, 16) + 2,
        application_name: "tasker-worker".into(),
        ..PoolOptions::default()
    };
    let pool = db::connect(&cli.database_url, &pool_opts).await.context("connecting to the database")?;
    let worker = Worker::new(pool.clone(), builtin_registry(), config)?;

    let shutdown = CancellationToken::new();
    tokio::spawn(forward_signals(shutdown.clone()));
    worker.run(shutdown).await?;
    pool.close().await;
    Ok(())
}

/// Cancels `shutdown` on the first SIGINT or SIGTERM.
async fn forward_signals(shutdown: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot install the SIGTERM handler; only SIGINT stops the worker");
            let _ = tokio::signal::ctrl_c().await;
            shutdown.cancel();
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        _ = term.recv() => tracing::info!("SIGTERM received"),
    }
    shutdown.cancel();
}
