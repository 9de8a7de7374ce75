//! Analytics, computed by SQL functions over the window asked for.

use super::{Service, ServiceError, ServiceResult};
use crate::db::engine;
use crate::model::{Bottlenecks, PerformanceMetrics, ThroughputBucket};

/// Largest analytics window, in hours (90 days).
pub const MAX_HOURS: u32 = 24 * 90;
/// Analytics window when the caller names none, in hours.
pub const DEFAULT_HOURS: u32 = 24;
/// Number of slowest steps and templates when the caller names none.
pub const DEFAULT_BOTTLENECK_LIMIT: u32 = 10;

fn check_hours(hours: u32) -> ServiceResult<i32> {
    if (1..=MAX_HOURS).contains(&hours) {
        Ok(hours as i32)
    } else {
        Err(ServiceError::InvalidInput(format!("hours must be from 1 to {MAX_HOURS}, got {hours}")))
    }
}

impl Service {
    /// Throughput, completion and error rates, mean durations over the last `hours` hours.
    pub async fn performance_metrics(&self, hours: u32) -> ServiceResult<PerformanceMetrics> {
        let hours = check_hours(hours)?;
        Ok(engine::analytics::performance_metrics(self.pool(), hours).await?)
    }

    /// The slowest steps and templates over the last `hours` hours, `limit` of each.
    pub async fn bottlenecks(&self, limit: u32, hours: u32) -> ServiceResult<Bottlenecks> {
        let hours = check_hours(hours)?;
        if !(1..=100).contains(&limit) {
            return Err(ServiceError::InvalidInput(format!("limit must be from 1 to 100, got {limit}")));
        }
        let slowest_steps = engine::analytics::slowest_steps(self.pool(), limit as i32, hours).await?;
        let slowest_templates = engine::analytics::slowest_templates(self.pool(), limit as i32, hours).await?;
        Ok(Bottlenecks { slowest_steps, slowest_templates })
    }

    /// Tasks created, completed and failed per hour over the last `hours` hours, oldest first.
    pub async fn throughput_series(&self, hours: u32) -> ServiceResult<Vec<ThroughputBucket>> {
        let hours = check_hours(hours)?;
        Ok(engine::analytics::throughput_series(self.pool(), hours).await?)
    }

    /// The number of tasks and of steps in each state, as (`task` or `step`, state, count).
    /// Scans every step: a dashboard call, not one for a tight loop.
    pub async fn state_counts(&self) -> ServiceResult<Vec<(String, String, i64)>> {
        Ok(engine::analytics::state_counts(self.pool()).await?)
    }
}
