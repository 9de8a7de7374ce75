//! `tasker-server`: the orchestration server.
//!
//! `tasker-server` (or `tasker-server serve`) runs it; `tasker-server migrate` applies the schema
//! to DATABASE_URL and exits (a deploy step); `tasker-server worker-login NAME` applies the schema
//! too, then creates or updates a worker's database login; `tasker-server check-config` prints the effective
//! configuration's validation result. It runs from any directory: the base configuration is
//! built in, and `--config-dir` (or `TASKER_CONFIG_DIR`, else `./config/tasker` when it exists)
//! names a directory of overlays.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tasker_orchestration::config;
use tasker_orchestration::server::Server;

#[derive(Parser)]
#[command(name = "tasker-server", version, about = "Tasker orchestration server")]
struct Cli {
    /// Directory of configuration overlays (`base/` and `environments/<env>/orchestration.toml`);
    /// default `./config/tasker` when it exists, else the built-in configuration alone.
    #[arg(long, global = true, env = "TASKER_CONFIG_DIR")]
    config_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server (the default).
    Serve,
    /// Apply pgmq, migrations/ and sql/ to the database, then exit.
    Migrate {
        /// Database URL (defaults to $DATABASE_URL).
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: String,
    },
    /// Apply the schema, then create or update a worker login: a database role in `tasker_worker`
    /// that may only claim, heartbeat and acknowledge steps of its namespaces. Idempotent.
    WorkerLogin {
        /// The login's role name (lower-case letters, digits and `_`).
        name: String,
        /// Its password.
        #[arg(long, env = "TASKER_WORKER_PASSWORD", hide_env_values = true)]
        password: String,
        /// Namespaces it may serve, comma-separated; `*` for every namespace.
        #[arg(long, default_value = "*", value_delimiter = ',')]
        namespaces: Vec<String>,
        /// Database URL of a role that may create roles (defaults to $DATABASE_URL).
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: String,
    },
    /// Load and validate the configuration, print a summary, exit.
    CheckConfig,
}

/// Logs to stderr (`RUST_LOG`, default `info,sqlx=warn`); with the `tokio-console` feature (built
/// with `RUSTFLAGS="--cfg tokio_unstable"`), also serves tokio-console on 127.0.0.1:6669.
fn init_tracing() {
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let registry = tracing_subscriber::registry().with(tracing_subscriber::fmt::layer().with_filter(filter));
    #[cfg(feature = "tokio-console")]
    let registry = registry.with(console_subscriber::spawn());
    registry.init();
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_tracing();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Cmd::Serve) {
        Cmd::Migrate { database_url } => {
            let pool = tasker_orchestration::db::connect(&database_url, &Default::default()).await?;
            let report = tasker_orchestration::db::migrate(&pool).await?;
            println!(
                "migrated: pgmq {}, {} migrations, {} sql files applied",
                report.pgmq, report.migrations, report.sql_files_applied
            );
            Ok(())
        }
        Cmd::WorkerLogin { name, password, namespaces, database_url } => {
            let pool = tasker_orchestration::db::connect(&database_url, &Default::default()).await?;
            tasker_orchestration::db::migrate(&pool).await?;
            let allowed =
                tasker_orchestration::db::access::ensure_worker_login(&pool, &name, &password, &namespaces).await?;
            println!(
                "worker login {name}: may serve {}",
                if allowed.is_empty() { "nothing".into() } else { allowed.join(", ") }
            );
            Ok(())
        }
        Cmd::CheckConfig => {
            let cfg = config::load_with_dir(cli.config_dir.as_deref())?;
            println!(
                "configuration ok: environment {}, REST {}:{} ({}), gRPC {}:{} ({}), database {}",
                cfg.environment,
                cfg.orchestration.web.host,
                cfg.orchestration.web.port,
                if cfg.orchestration.web.enabled { "on" } else { "off" },
                cfg.orchestration.grpc.host,
                cfg.orchestration.grpc.port,
                if cfg.orchestration.grpc.enabled { "on" } else { "off" },
                if !cfg.database.url.is_empty() {
                    "from URL"
                } else if cfg.database.embedded {
                    "embedded"
                } else {
                    "none"
                }
            );
            Ok(())
        }
        Cmd::Serve => {
            let cfg = config::load_with_dir(cli.config_dir.as_deref())?;
            let shutdown_timeout = Duration::from_millis(cfg.orchestration.actors.shutdown_timeout_ms);
            tracing::info!(environment = %cfg.environment, "starting tasker-server");
            let server = Server::start(cfg).await?;
            if let Some(a) = server.rest_addr {
                println!("tasker-server: REST on http://{a}");
            }
            if let Some(a) = server.grpc_addr {
                println!("tasker-server: gRPC on {a}");
            }
            println!("tasker-server: database {}", redact_password(&server.database_url));
            wait_for_signal().await;
            tracing::info!("shutting down");
            if tokio::time::timeout(shutdown_timeout + Duration::from_secs(5), server.shutdown()).await.is_err() {
                tracing::warn!("shutdown timed out");
            }
            Ok(())
        }
    }
}

/// SIGINT or SIGTERM.
async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// The URL with its password (if any) replaced by `***`, for printing.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let Some((auth, host)) = rest.rsplit_once('@') else { return url.to_string() };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}
