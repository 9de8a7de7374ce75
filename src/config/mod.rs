//! Typed configuration.
//!
//! Sources, later wins: `config/tasker/base/orchestration.toml` (compiled into the binary), then
//! `base/orchestration.toml` of the overlay directory (`--config-dir` / `TASKER_CONFIG_DIR`, else
//! `./config/tasker` when it exists), then the environment's overlay
//! `environments/$TASKER_ENV/orchestration.toml` (`development` when unset; from the overlay
//! directory when there, else the compiled-in copy of the shipped environments), then
//! `TASKER__SECTION__KEY` environment variables (`TASKER__ORCHESTRATION__WEB__PORT=8081`; values are
//! read as TOML — numbers, booleans, arrays — or else as strings), and `DATABASE_URL` for the
//! database. Every key is known: an unknown key or a value of the wrong type fails the start with
//! the key's full path.

mod load;

pub use load::{
    load, load_builtin, load_from, load_with_dir, ConfigError, BUILTIN_BASE, BUILTIN_ENVIRONMENTS, DEFAULT_CONFIG_DIR,
};

use serde::Deserialize;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Environment name the overlay came from.
    #[serde(skip)]
    pub environment: String,
    /// PostgreSQL.
    pub database: DatabaseConfig,
    /// Task templates loaded at start.
    pub templates: TemplatesConfig,
    /// The orchestration server.
    pub orchestration: OrchestrationConfig,
    /// API keys.
    pub auth: AuthConfig,
    /// The in-process worker.
    pub worker: WorkerSection,
    /// Purging old finished tasks (the housekeeping actor).
    pub retention: RetentionConfig,
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Connection URL; empty = `DATABASE_URL`, else the embedded server.
    pub url: String,
    /// Start a local PostgreSQL when no URL is given.
    pub embedded: bool,
    /// The embedded server's data directory (relative to `$TASKER_HOME` or the working directory).
    pub embedded_data_dir: String,
    /// The embedded server's port; 0 picks a free one.
    pub embedded_port: u16,
    /// Size of the API pool: the connections REST and gRPC requests use.
    pub max_connections: u32,
    /// API pool connections kept open.
    pub min_connections: u32,
    /// Wait for a free connection at most this long.
    pub acquire_timeout_ms: u64,
    /// Size of the system pool, which API requests never use: the actors, the LISTEN
    /// connection, health checks and metrics, and the in-process worker. Health and the actors
    /// keep working while API requests hold every API connection.
    pub system_max_connections: u32,
    /// `statement_timeout` of API connections, in ms; never longer than
    /// `[orchestration.web] request_timeout_ms` (a request that timed out leaves no query running
    /// past it); 0 means the request timeout.
    pub api_statement_timeout_ms: u64,
    /// `statement_timeout` of system connections (actors, health, worker), in ms; 0 = none.
    pub system_statement_timeout_ms: u64,
    /// `statement_timeout` of the migration connection (migrations, `sql/`, template loading at
    /// start), in ms; 0 = none.
    pub migration_statement_timeout_ms: u64,
}

impl Config {
    /// The API pool's statement timeout: `[database] api_statement_timeout_ms`, bounded by the
    /// REST request timeout.
    pub fn api_statement_timeout(&self) -> std::time::Duration {
        let request = self.orchestration.web.request_timeout_ms;
        let ms = match self.database.api_statement_timeout_ms {
            0 => request,
            n => n.min(request),
        };
        std::time::Duration::from_millis(ms)
    }
}

/// `[templates]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplatesConfig {
    /// Directory of template files, registered at start when it exists (relative to the working
    /// directory); empty for none.
    pub dir: String,
    /// Also register the example templates compiled into the binary (`config/tasks/` of the
    /// source tree), before the directory's, so a file there wins over an example of the same
    /// namespace, name and version.
    pub examples: bool,
}

/// `[orchestration]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrchestrationConfig {
    /// REST listener.
    pub web: WebConfig,
    /// gRPC listener.
    pub grpc: GrpcConfig,
    /// The four actors.
    pub actors: ActorsConfig,
    /// The staleness sweeper.
    pub staleness: StalenessConfig,
    /// Circuit breakers around database calls.
    pub circuit_breaker: CircuitBreakerConfig,
}

/// `[orchestration.web]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Serve REST.
    pub enabled: bool,
    /// Bind address.
    pub host: String,
    /// Port (0 = any free port).
    pub port: u16,
    /// Requests taking longer fail with 503.
    pub request_timeout_ms: u64,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Serve the API docs (`/docs`, `/api-docs/openapi.json`) without a key even when auth is on.
    pub public_docs: bool,
    /// Serve `/metrics` without a key even when auth is on (else any valid key opens it).
    pub public_metrics: bool,
    /// Serve `/health/detailed` (and gRPC `CheckDetailedHealth`) without a key even when auth is
    /// on. `/health`, `/health/live` and `/health/ready` are always public.
    pub public_health_details: bool,
}

/// `[orchestration.grpc]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcConfig {
    /// Serve gRPC.
    pub enabled: bool,
    /// Bind address.
    pub host: String,
    /// Port (0 = any free port).
    pub port: u16,
    /// Largest message decoded or encoded.
    pub max_message_bytes: usize,
    /// Most concurrent `StreamTaskStatus` streams.
    pub max_concurrent_streams: usize,
}

/// `[orchestration.actors]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorsConfig {
    /// Bounded channel of the task request actor: create requests that may wait; one more is
    /// backpressure.
    pub task_request_channel_size: usize,
    /// The seed's key for the result processor's channel. It sizes nothing: the actor's wake-up
    /// is coalesced (`actors::WakeUp`); kept so the seed's configuration stays valid.
    pub result_processor_channel_size: usize,
    /// The seed's key for the step enqueuer's channel; sizes nothing (coalesced wake-up).
    pub step_enqueuer_channel_size: usize,
    /// The seed's key for the task finalizer's channel; sizes nothing (coalesced wake-up).
    pub task_finalizer_channel_size: usize,
    /// Steps per `enqueue_ready_steps` call.
    pub enqueue_batch_size: u32,
    /// Results per `process_step_results` call.
    pub result_batch_size: u32,
    /// Tasks per `finalize_tasks` call.
    pub finalize_batch_size: u32,
    /// Concurrent create calls.
    pub task_request_concurrency: usize,
    /// Most requests created together in one `tasker.create_tasks` call.
    pub task_request_batch_size: usize,
    /// Fallback wake-up period.
    pub fallback_tick_ms: u64,
    /// Drain limit at shutdown.
    pub shutdown_timeout_ms: u64,
}

/// `[orchestration.staleness]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StalenessConfig {
    /// Run the sweeper.
    pub enabled: bool,
    /// How often.
    pub interval_ms: u64,
    /// Grace beyond a step's timeout.
    pub grace_seconds: u32,
}

/// `[orchestration.circuit_breaker]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreakerConfig {
    /// Consecutive failures that open a breaker.
    pub failure_threshold: u32,
    /// Open period before a probe.
    pub open_duration_ms: u64,
}

/// `[auth]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Require API keys (`/health`, `/health/live`, `/health/ready` stay public; metrics, health
    /// details and docs as `[orchestration.web] public_*` say).
    pub enabled: bool,
    /// Allow `enabled = false` with a listener on a non-loopback address. Without it such a
    /// configuration fails at start: an open API on the network must be a decision.
    #[serde(default)]
    pub allow_unauthenticated_public: bool,
    /// The keys.
    #[serde(default)]
    pub api_keys: Vec<ApiKeyConfig>,
}

/// One `[[auth.api_keys]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// A label for logs (the key itself is never logged).
    #[serde(default)]
    pub name: String,
    /// The key, inline.
    #[serde(default)]
    pub key: Option<String>,
    /// Or the name of an environment variable holding it.
    #[serde(default)]
    pub key_env: Option<String>,
    /// Permissions (`tasks:create`, …, or `*`).
    pub permissions: Vec<String>,
}

/// `[worker]`: the in-process worker.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSection {
    /// Run it.
    pub embedded: bool,
    /// Namespaces served; empty = all.
    pub namespaces: Vec<String>,
    /// Concurrent handlers.
    pub concurrency: usize,
    /// Visibility timeout of claimed messages.
    pub visibility_timeout_seconds: u32,
    /// Polling fallback period.
    pub poll_interval_ms: u64,
}

/// `[retention]`: the housekeeping actor purging old final tasks (`tasker.purge_tasks`) and
/// trimming pgmq archives (`tasker.purge_queue_archives`). See `docs/reliability.md`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Run the housekeeping actor (purging deletes data: off unless turned on).
    pub enabled: bool,
    /// Purge final tasks finished more than this many days ago (at least 1).
    pub older_than_days: u32,
    /// How often a purge round starts.
    pub interval_ms: u64,
    /// Tasks (or archived messages) per purge call, one transaction each (1..=100000).
    pub batch_size: u32,
    /// Copy purged rows to schema `tasker_archive` before deleting them.
    pub archive: bool,
}

/// Whether `host` names only the loopback interface (`127.0.0.0/8`, `::1`, `localhost`).
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Every permission an API key can hold.
pub const PERMISSIONS: &[&str] = &[
    "tasks:create",
    "tasks:read",
    "tasks:cancel",
    "steps:read",
    "steps:resolve",
    "retries:create",
    "templates:read",
    "templates:write",
    "dlq:read",
    "dlq:update",
    "analytics:read",
    "*",
];

impl Config {
    /// Checks values serde cannot: ranges and cross-field rules. Names the key on failure.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError::Invalid { key: key.into(), message: why.into() });
        let a = &self.orchestration.actors;
        for (key, v) in [
            ("orchestration.actors.task_request_channel_size", a.task_request_channel_size),
            ("orchestration.actors.result_processor_channel_size", a.result_processor_channel_size),
            ("orchestration.actors.step_enqueuer_channel_size", a.step_enqueuer_channel_size),
            ("orchestration.actors.task_finalizer_channel_size", a.task_finalizer_channel_size),
            ("orchestration.actors.task_request_concurrency", a.task_request_concurrency),
            ("orchestration.actors.task_request_batch_size", a.task_request_batch_size),
        ] {
            if v == 0 {
                return bad(key, "must be at least 1");
            }
        }
        for (key, v) in [
            ("orchestration.actors.enqueue_batch_size", a.enqueue_batch_size),
            ("orchestration.actors.result_batch_size", a.result_batch_size),
            ("orchestration.actors.finalize_batch_size", a.finalize_batch_size),
        ] {
            if v == 0 || v > 10_000 {
                return bad(key, "must be from 1 to 10000");
            }
        }
        if a.fallback_tick_ms == 0 {
            return bad("orchestration.actors.fallback_tick_ms", "must be at least 1");
        }
        if self.database.max_connections < 1 {
            return bad("database.max_connections", "must be at least 1");
        }
        if self.database.system_max_connections < 3 {
            return bad(
                "database.system_max_connections",
                "must be at least 3 (the LISTEN connection, the actors, health)",
            );
        }
        if self.database.min_connections > self.database.max_connections {
            return bad("database.min_connections", "must not exceed database.max_connections");
        }
        if self.worker.concurrency == 0 {
            return bad("worker.concurrency", "must be at least 1");
        }
        if self.worker.visibility_timeout_seconds == 0 {
            return bad("worker.visibility_timeout_seconds", "must be at least 1");
        }
        if self.orchestration.circuit_breaker.failure_threshold == 0 {
            return bad("orchestration.circuit_breaker.failure_threshold", "must be at least 1");
        }
        if self.orchestration.grpc.max_message_bytes < 1024 {
            return bad("orchestration.grpc.max_message_bytes", "must be at least 1024");
        }
        for (i, k) in self.auth.api_keys.iter().enumerate() {
            if k.key.is_none() == k.key_env.is_none() {
                return bad(&format!("auth.api_keys[{i}]"), "give exactly one of key or key_env");
            }
            for p in &k.permissions {
                if !PERMISSIONS.contains(&p.as_str()) {
                    return bad(
                        &format!("auth.api_keys[{i}].permissions"),
                        &format!("unknown permission '{p}'; known: {}", PERMISSIONS.join(", ")),
                    );
                }
            }
        }
        if !self.auth.enabled && !self.auth.allow_unauthenticated_public {
            let web = &self.orchestration.web;
            let grpc = &self.orchestration.grpc;
            for (key, enabled, host) in [
                ("orchestration.web.host", web.enabled, &web.host),
                ("orchestration.grpc.host", grpc.enabled, &grpc.host),
            ] {
                if enabled && !is_loopback_host(host) {
                    return bad(
                        key,
                        &format!(
                            "'{host}' is not a loopback address and auth.enabled = false: anyone who can reach it \
                             could use the API. Turn auth on (auth.enabled = true with auth.api_keys), bind \
                             127.0.0.1, or say so explicitly with auth.allow_unauthenticated_public = true"
                        ),
                    );
                }
            }
        }
        let r = &self.retention;
        if r.older_than_days == 0 {
            return bad("retention.older_than_days", "must be at least 1");
        }
        if r.batch_size == 0 || r.batch_size > 100_000 {
            return bad("retention.batch_size", "must be from 1 to 100000");
        }
        if r.interval_ms == 0 {
            return bad("retention.interval_ms", "must be at least 1");
        }
        if self.auth.enabled && self.auth.api_keys.is_empty() {
            return bad("auth.api_keys", "auth is enabled but no API key is configured");
        }
        Ok(())
    }
}
