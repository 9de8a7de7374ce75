//! `tasker-server`: the start-up sequence and graceful shutdown.
//!
//! Order: configuration (given) -> database (embedded PostgreSQL when configured and no URL) ->
//! migrations and `sql/` -> templates (the built-in examples when `[templates] examples`, then the
//! files of `[templates] dir` when it exists) -> the actors -> the in-process worker
//! (when `[worker] embedded`) -> the REST listener -> the gRPC listener. Shutdown runs the other
//! way: stop intake (listeners), stop the worker (running steps finish), drain the actors, close
//! the pool, stop the embedded database.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::actors::Actors;
use crate::config::Config;
use crate::db::{self, EmbeddedOptions, EmbeddedPostgres, PoolOptions};
use crate::metrics::Metrics;
use crate::service::Service;

/// A running server.
pub struct Server {
    /// Where REST listens (when enabled).
    pub rest_addr: Option<SocketAddr>,
    /// Where gRPC listens (when enabled).
    pub grpc_addr: Option<SocketAddr>,
    /// The database URL in use.
    pub database_url: String,
    /// The service layer (for embedding and tests).
    pub service: Service,
    shutdown: CancellationToken,
    listeners: Vec<JoinHandle<()>>,
    worker: Option<(CancellationToken, JoinHandle<()>)>,
    actors: Option<Actors>,
    api_pool: PgPool,
    system_pool: PgPool,
    embedded: Option<EmbeddedPostgres>,
}

/// Where the embedded database lives: `$TASKER_HOME/<dir>` when TASKER_HOME is set, else `<dir>`
/// relative to the working directory.
fn embedded_dir(config: &Config) -> PathBuf {
    let dir = PathBuf::from(&config.database.embedded_data_dir);
    match std::env::var_os("TASKER_HOME") {
        Some(home) if dir.is_relative() => PathBuf::from(home).join(dir),
        _ => dir,
    }
}

/// The database name the embedded server uses.
pub const EMBEDDED_DATABASE: &str = "tasker";

async fn open_database(config: &Config) -> anyhow::Result<(String, Option<EmbeddedPostgres>)> {
    if !config.database.url.is_empty() {
        return Ok((config.database.url.clone(), None));
    }
    if !config.database.embedded {
        anyhow::bail!(
            "no database: set DATABASE_URL (or [database] url), or enable [database] embedded for a local PostgreSQL"
        );
    }
    let dir = embedded_dir(config);
    let mut opts = EmbeddedOptions::new(&dir);
    opts.port = (config.database.embedded_port != 0).then_some(config.database.embedded_port);
    let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&opts))
        .await?
        .context("starting the embedded PostgreSQL")?;
    tracing::info!(
        data_dir = %pg.data_dir().display(),
        url = %pg.url(EMBEDDED_DATABASE),
        "embedded PostgreSQL started (unix socket only)"
    );
    let url = pg.ensure_database(EMBEDDED_DATABASE).await?;
    Ok((url, Some(pg)))
}

impl Server {
    /// Starts everything; returns once both listeners are bound.
    pub async fn start(config: Config) -> anyhow::Result<Server> {
        let (database_url, embedded) = open_database(&config).await?;
        let db = &config.database;
        let acquire_timeout = Duration::from_millis(db.acquire_timeout_ms);
        let millis = |ms: u64| (ms > 0).then(|| Duration::from_millis(ms));
        // Three kinds of connections, each with its own statement_timeout: migrations (a short-lived
        // pool), the system pool (actors, LISTEN, health, worker) and the API pool.
        let pool = db::connect(
            &database_url,
            &PoolOptions {
                max_connections: 2,
                min_connections: 0,
                acquire_timeout,
                application_name: "tasker-server-migrate".into(),
                statement_timeout: millis(db.migration_statement_timeout_ms),
            },
        )
        .await
        .context("connecting to the database")?;
        let report = db::migrate(&pool).await.context("migrating the database")?;
        tracing::info!(pgmq = %report.pgmq, sql_files_applied = report.sql_files_applied, "database ready");
        if config.templates.examples {
            let loaded = crate::templates::load_examples(&pool).await.context("registering the example templates")?;
            tracing::info!(templates = loaded.len(), "built-in example templates registered");
        }
        if !config.templates.dir.is_empty() {
            let loaded = crate::templates::load_dir(&pool, std::path::Path::new(&config.templates.dir))
                .await
                .context("loading task templates")?;
            tracing::info!(templates = loaded.len(), dir = %config.templates.dir, "templates registered");
        }
        pool.close().await;
        let system_pool = db::connect(
            &database_url,
            &PoolOptions {
                max_connections: db.system_max_connections,
                min_connections: 1,
                acquire_timeout,
                application_name: "tasker-server".into(),
                statement_timeout: millis(db.system_statement_timeout_ms),
            },
        )
        .await
        .context("connecting the system pool")?;
        let api_pool = db::connect(
            &database_url,
            &PoolOptions {
                max_connections: db.max_connections,
                min_connections: db.min_connections,
                acquire_timeout,
                application_name: "tasker-server-api".into(),
                statement_timeout: Some(config.api_statement_timeout()),
            },
        )
        .await
        .context("connecting the API pool")?;

        let metrics = Arc::new(Metrics::new());
        let actors = Actors::spawn(system_pool.clone(), &config, metrics.clone()).context("starting the actors")?;
        let service = Service::with_pools(
            api_pool.clone(),
            system_pool.clone(),
            Some(actors.submitter.clone()),
            Some(actors.status.clone()),
        );
        let shutdown = CancellationToken::new();

        let worker = if config.worker.embedded { Some(start_worker(&system_pool, &config)?) } else { None };

        #[cfg_attr(not(any(feature = "web-api", feature = "grpc-api")), allow(unused_mut))]
        let mut listeners = Vec::new();
        #[cfg(any(feature = "web-api", feature = "grpc-api"))]
        let auth = Arc::new(crate::api::auth::Auth::from_config(&config.auth).map_err(anyhow::Error::msg)?);
        #[cfg(feature = "web-api")]
        let rest_addr = if config.orchestration.web.enabled {
            let (addr, handle) = start_rest(&config, &service, &auth, &metrics, &shutdown).await?;
            listeners.push(handle);
            Some(addr)
        } else {
            None
        };
        #[cfg(not(feature = "web-api"))]
        let rest_addr = None;
        #[cfg(feature = "grpc-api")]
        let grpc_addr = if config.orchestration.grpc.enabled {
            let (addr, handles) = start_grpc(&config, &service, &auth, &shutdown).await?;
            listeners.extend(handles);
            Some(addr)
        } else {
            None
        };
        #[cfg(not(feature = "grpc-api"))]
        let grpc_addr = None;
        if rest_addr.is_none() && grpc_addr.is_none() {
            tracing::info!("no API listener: headless server (actors only)");
        }

        Ok(Server {
            rest_addr,
            grpc_addr,
            database_url,
            service,
            shutdown,
            listeners,
            worker,
            actors: Some(actors),
            api_pool,
            system_pool,
            embedded,
        })
    }

    /// Stops intake, lets running work finish (within the configured timeouts) and releases
    /// everything, in reverse start order.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        for l in self.listeners.drain(..) {
            let _ = l.await;
        }
        if let Some((token, handle)) = self.worker.take() {
            token.cancel();
            let _ = handle.await;
        }
        if let Some(actors) = self.actors.take() {
            actors.shutdown().await;
        }
        self.api_pool.close().await;
        self.system_pool.close().await;
        if let Some(mut pg) = self.embedded.take() {
            let _ = tokio::task::spawn_blocking(move || pg.stop()).await;
        }
    }
}

/// Binds the REST listener and serves the router until `shutdown`.
#[cfg(feature = "web-api")]
async fn start_rest(
    config: &Config,
    service: &Service,
    auth: &Arc<crate::api::auth::Auth>,
    metrics: &Arc<Metrics>,
    shutdown: &CancellationToken,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    use crate::api::rest::{self, AppState, Limits};
    let web = &config.orchestration.web;
    let listener = tokio::net::TcpListener::bind((web.host.as_str(), web.port))
        .await
        .with_context(|| format!("binding REST on {}:{}", web.host, web.port))?;
    let addr = listener.local_addr()?;
    let state = AppState {
        service: service.clone(),
        auth: auth.clone(),
        metrics: metrics.clone(),
        public_docs: web.public_docs,
        public_metrics: web.public_metrics,
        public_health_details: web.public_health_details,
    };
    let ui = crate::api::ui::router(crate::api::ui::UiState::new(service.clone(), auth.clone(), shutdown.clone()));
    let app = rest::router(
        state,
        Limits { max_body_bytes: web.max_body_bytes, request_timeout: Duration::from_millis(web.request_timeout_ms) },
    )
    .merge(ui);
    let sd = shutdown.clone();
    let handle = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move { sd.cancelled().await });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "REST server failed");
        }
    });
    tracing::info!(%addr, "REST listening");
    Ok((addr, handle))
}

/// Binds the gRPC listener and serves the `tasker.v1` services, health and reflection until
/// `shutdown`; the second handle keeps `grpc.health.v1` in step with readiness.
#[cfg(feature = "grpc-api")]
async fn start_grpc(
    config: &Config,
    service: &Service,
    auth: &Arc<crate::api::auth::Auth>,
    shutdown: &CancellationToken,
) -> anyhow::Result<(SocketAddr, Vec<JoinHandle<()>>)> {
    use crate::api::grpc;
    let g = &config.orchestration.grpc;
    let listener = tokio::net::TcpListener::bind((g.host.as_str(), g.port))
        .await
        .with_context(|| format!("binding gRPC on {}:{}", g.host, g.port))?;
    let addr = listener.local_addr()?;
    let state = grpc::GrpcState::new(service.clone(), auth.clone(), g.max_concurrent_streams, shutdown.clone())
        .with_public_health_details(config.orchestration.web.public_health_details);
    let (reporter, health) = grpc::health_service().await;
    let routes = grpc::routes(state, grpc::Limits { max_message_bytes: g.max_message_bytes }, health)?;
    let updater = grpc::spawn_health_updater(service.clone(), reporter, shutdown.clone());
    let sd = shutdown.clone();
    let server = tokio::spawn(async move {
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let serve = tonic::transport::Server::builder()
            .add_routes(routes)
            .serve_with_incoming_shutdown(incoming, async move { sd.cancelled().await });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "gRPC server failed");
        }
    });
    tracing::info!(%addr, "gRPC listening");
    Ok((addr, vec![updater, server]))
}

fn start_worker(pool: &PgPool, config: &Config) -> anyhow::Result<(CancellationToken, JoinHandle<()>)> {
    use crate::worker::{builtin_registry, Worker, WorkerConfig};
    let w = &config.worker;
    let vt = Duration::from_secs(u64::from(w.visibility_timeout_seconds));
    let wc = WorkerConfig {
        namespaces: w.namespaces.clone(),
        concurrency: w.concurrency,
        visibility_timeout: vt,
        heartbeat_interval: (vt / 3).max(Duration::from_millis(200)),
        poll_interval: Duration::from_millis(w.poll_interval_ms.max(10)),
        worker_id: format!("{}-embedded", crate::worker::default_worker_id()),
        ..WorkerConfig::default()
    };
    let worker = Worker::new(pool.clone(), builtin_registry(), wc).map_err(|e| anyhow::anyhow!("[worker]: {e}"))?;
    let token = CancellationToken::new();
    let t = token.clone();
    let handle = tokio::spawn(async move {
        if let Err(e) = worker.run(t).await {
            tracing::error!(error = %e, "embedded worker stopped");
        }
    });
    tracing::info!("embedded worker started with the built-in handlers");
    Ok((token, handle))
}
