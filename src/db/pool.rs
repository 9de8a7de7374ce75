//! The one PostgreSQL pool (sqlx). Limits are explicit: a pool without `acquire_timeout` turns a
//! saturated database into requests that hang.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// Connections kept open when idle.
    pub min_connections: u32,
    /// How long a caller waits for a free connection before failing.
    pub acquire_timeout: Duration,
    /// `application_name` shown in `pg_stat_activity`.
    pub application_name: String,
    /// `statement_timeout` of every connection (`None`: the server's default). A statement
    /// running longer is cancelled by the server (SQLSTATE 57014, `EngineError::Unavailable`).
    pub statement_timeout: Option<Duration>,
}

/// Default `max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;
/// Default `acquire_timeout`.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            min_connections: 0,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            application_name: "tasker".into(),
            statement_timeout: None,
        }
    }
}

/// Opens a pool to `url` with `opts`. Statement logging is at debug level only.
pub async fn connect(url: &str, opts: &PoolOptions) -> Result<PgPool, sqlx::Error> {
    let mut connect: PgConnectOptions = url.parse()?;
    if let Some(t) = opts.statement_timeout.filter(|t| !t.is_zero()) {
        // Sent in the startup packet (`options=-c statement_timeout=…`): every connection of
        // the pool has it from its first statement, with no extra round trip.
        connect = connect.options([("statement_timeout", format!("{}ms", t.as_millis()))]);
    }
    let connect = connect
        .application_name(&opts.application_name)
        .log_statements(log::LevelFilter::Debug)
        .log_slow_statements(log::LevelFilter::Warn, Duration::from_secs(2));
    PgPoolOptions::new()
        .max_connections(opts.max_connections)
        .min_connections(opts.min_connections)
        .acquire_timeout(opts.acquire_timeout)
        .connect_with(connect)
        .await
}
