//! The one service layer. REST handlers and gRPC services translate to and from these calls and
//! contain no business logic, so both transports behave the same by construction.
//!
//! Every call is a SQL function or a read of an engine view (`docs/sql-api.md`); creating a
//! task goes through the task request actor, whose bounded channel turns overload into
//! [`ServiceError::Backpressure`] instead of an unbounded wait.

mod analytics;
mod dlq;
mod error;
mod health;
mod history;
mod input;
mod steps;
mod tasks;
mod templates;

use std::sync::Arc;
use std::time::Instant;

use sqlx::PgPool;

/// The health reports, defined in [`crate::model`] (kept here for callers of the service).
pub use crate::model::{ComponentStatus, DetailedHealth, HealthReport, PoolStats, QueueDepth};
pub use analytics::{DEFAULT_BOTTLENECK_LIMIT, DEFAULT_HOURS, MAX_HOURS};
pub use dlq::DLQ_STATUSES;
pub use error::ServiceError;

use crate::actors::{RuntimeStatus, TaskSubmitter};

/// Result of a service call.
pub type ServiceResult<T> = Result<T, ServiceError>;

/// Default page size of list calls.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Largest page size of list calls.
pub const MAX_PAGE_SIZE: u32 = 500;

/// The service layer: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    system_pool: PgPool,
    submitter: Option<TaskSubmitter>,
    status: Option<Arc<RuntimeStatus>>,
    started: Instant,
}

impl Service {
    /// A service over `pool`. `submitter` routes task creation through the task request actor
    /// (when absent, tasks are created with a direct call); `status` exposes the actors to health.
    pub fn new(pool: PgPool, submitter: Option<TaskSubmitter>, status: Option<Arc<RuntimeStatus>>) -> Self {
        Self::with_pools(pool.clone(), pool, submitter, status)
    }

    /// A service whose API calls use `api_pool` and whose health checks and metrics use
    /// `system_pool` (the actors' pool), so health answers while API calls hold every API
    /// connection.
    pub fn with_pools(
        api_pool: PgPool,
        system_pool: PgPool,
        submitter: Option<TaskSubmitter>,
        status: Option<Arc<RuntimeStatus>>,
    ) -> Self {
        Self { inner: Arc::new(Inner { pool: api_pool, system_pool, submitter, status, started: Instant::now() }) }
    }

    /// The pool API calls use.
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// The pool health checks and metrics use (the actors' pool; the same as [`Self::pool`]
    /// when built with [`Self::new`]).
    pub fn system_pool(&self) -> &PgPool {
        &self.inner.system_pool
    }

    /// The actors' status, when running with actors.
    pub fn runtime_status(&self) -> Option<&Arc<RuntimeStatus>> {
        self.inner.status.as_ref()
    }
}

/// Checks a page size: absent -> default, 0 or above the maximum -> invalid.
fn page_size(limit: Option<u32>) -> ServiceResult<i64> {
    match limit {
        None => Ok(i64::from(DEFAULT_PAGE_SIZE)),
        Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(i64::from(n)),
        Some(n) => Err(ServiceError::InvalidInput(format!("limit must be from 1 to {MAX_PAGE_SIZE}, got {n}"))),
    }
}
