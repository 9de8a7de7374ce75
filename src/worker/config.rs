//! Worker settings ([`WorkerConfig`]), their defaults and validation, and the runtime's errors.

use std::time::Duration;

use tokio::sync::Semaphore;

/// Default [`WorkerConfig::concurrency`].
pub const DEFAULT_CONCURRENCY: usize = 16;
/// Default [`WorkerConfig::batch_size`].
pub const DEFAULT_BATCH_SIZE: usize = 10;
/// Largest [`WorkerConfig::batch_size`] accepted.
pub const MAX_BATCH_SIZE: usize = 1000;
/// Default [`WorkerConfig::visibility_timeout`].
pub const DEFAULT_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`WorkerConfig::heartbeat_interval`] (a third of the default visibility timeout).
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);
/// Default [`WorkerConfig::poll_interval`].
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Default [`WorkerConfig::namespace_refresh_interval`].
pub const DEFAULT_NAMESPACE_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// Default [`WorkerConfig::report_linger`].
pub const DEFAULT_REPORT_LINGER: Duration = Duration::from_micros(500);
/// Longest [`WorkerConfig::report_linger`] accepted.
pub const MAX_REPORT_LINGER: Duration = Duration::from_secs(1);
/// Default [`WorkerConfig::shutdown_timeout`].
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Errors of the worker runtime.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// A [`WorkerConfig`] field is out of range; the message names it.
    #[error("invalid worker config: {0}")]
    InvalidConfig(String),
    /// A database call failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// Worker settings. Build with struct update syntax over [`Default`]; [`Worker::new`] validates.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Namespaces to serve. Empty means every namespace (`tasker.list_namespaces()`), re-read every
    /// `namespace_refresh_interval` (and when a notification names an unknown queue). A listed
    /// namespace that does not exist yet is served once it appears.
    pub namespaces: Vec<String>,
    /// Most steps running at once in this worker.
    pub concurrency: usize,
    /// Most steps claimed per namespace per `tasker.claim_steps` call (also bounded by free slots).
    pub batch_size: usize,
    /// How long a claimed message stays invisible to other workers without a heartbeat; whole
    /// seconds, at least 1. A worker that dies mid-step loses its steps to others after this long.
    pub visibility_timeout: Duration,
    /// How often the visibility of running steps' messages is extended. Must be shorter than
    /// `visibility_timeout`; a third of it leaves room for a slow round trip.
    pub heartbeat_interval: Duration,
    /// How long a batch of results may wait, at most, for the results of this worker's other
    /// running steps before it is submitted; zero submits what has finished at once. Only while
    /// other steps of this worker are running: a lone step's result never waits. Steps that finish
    /// together are then acknowledged (and their successors claimed) in one call, which costs the
    /// database far less per step than a call each.
    pub report_linger: Duration,
    /// How often the worker claims without being notified: the fallback for lost notifications.
    pub poll_interval: Duration,
    /// How often the namespaces are re-read.
    pub namespace_refresh_interval: Duration,
    /// On shutdown, how long running handlers may take to finish before they are abandoned (their
    /// messages reappear after the visibility timeout).
    pub shutdown_timeout: Duration,
    /// Whether to LISTEN on [`DISPATCH_CHANNEL`](super::DISPATCH_CHANNEL); without it the worker
    /// only polls.
    pub listen: bool,
    /// Identifies this worker in step history and in the execution audit.
    pub worker_id: String,
    /// Record every handler invocation in `tasker_audit.step_executions` (a table of the schema
    /// migrations).
    pub record_executions: bool,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            namespaces: Vec::new(),
            concurrency: DEFAULT_CONCURRENCY,
            batch_size: DEFAULT_BATCH_SIZE,
            visibility_timeout: DEFAULT_VISIBILITY_TIMEOUT,
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            report_linger: DEFAULT_REPORT_LINGER,
            poll_interval: DEFAULT_POLL_INTERVAL,
            namespace_refresh_interval: DEFAULT_NAMESPACE_REFRESH_INTERVAL,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            listen: true,
            worker_id: default_worker_id(),
            record_executions: false,
        }
    }
}

impl WorkerConfig {
    /// Checks every field; the error names the first field out of range.
    pub fn validate(&self) -> Result<(), WorkerError> {
        let bad = |msg: String| Err(WorkerError::InvalidConfig(msg));
        for ns in &self.namespaces {
            let ok = ns.len() <= 34
                && ns.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && ns.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !ok {
                return bad(format!("namespaces: {ns:?} is not a namespace name ([a-z][a-z0-9_]{{0,33}})"));
            }
        }
        if self.concurrency == 0 || self.concurrency > Semaphore::MAX_PERMITS {
            return bad(format!("concurrency must be at least 1, got {}", self.concurrency));
        }
        if self.batch_size == 0 || self.batch_size > MAX_BATCH_SIZE {
            return bad(format!("batch_size must be from 1 to {MAX_BATCH_SIZE}, got {}", self.batch_size));
        }
        if self.visibility_timeout < Duration::from_secs(1) || self.visibility_timeout.as_secs() > i32::MAX as u64 {
            return bad(format!("visibility_timeout must be at least 1s, got {:?}", self.visibility_timeout));
        }
        if self.heartbeat_interval.is_zero() || self.heartbeat_interval >= self.visibility_timeout {
            return bad(format!(
                "heartbeat_interval must be above zero and below visibility_timeout ({:?}), got {:?}",
                self.visibility_timeout, self.heartbeat_interval
            ));
        }
        if self.report_linger > MAX_REPORT_LINGER {
            return bad(format!("report_linger must be at most {MAX_REPORT_LINGER:?}, got {:?}", self.report_linger));
        }
        if self.poll_interval.is_zero() {
            return bad("poll_interval must be above zero".into());
        }
        if self.namespace_refresh_interval.is_zero() {
            return bad("namespace_refresh_interval must be above zero".into());
        }
        if self.worker_id.trim().is_empty() {
            return bad("worker_id must not be empty".into());
        }
        Ok(())
    }

    /// The visibility timeout in whole seconds, rounded up, as `tasker.claim_steps` takes it.
    pub(crate) fn vt_seconds(&self) -> i32 {
        let secs = self.visibility_timeout.as_secs() + u64::from(self.visibility_timeout.subsec_nanos() > 0);
        i32::try_from(secs).unwrap_or(i32::MAX)
    }
}

/// `<hostname>-<pid>`: the default worker id.
pub fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "worker".to_string());
    format!("{host}-{}", std::process::id())
}
