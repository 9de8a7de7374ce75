//! Analytics and state counts, computed by SQL functions (`sql/0800_analytics.sql`,
//! `sql/0810_state_counts.sql`).

use sqlx::PgPool;

use crate::db::error::EngineResult;
use crate::model::{PerformanceMetrics, SlowStep, SlowTemplate, ThroughputBucket};

/// `tasker.performance_metrics` over the last `hours` hours.
pub async fn performance_metrics(pool: &PgPool, hours: i32) -> EngineResult<PerformanceMetrics> {
    Ok(sqlx::query_as("SELECT * FROM tasker.performance_metrics($1)").bind(hours).fetch_one(pool).await?)
}

/// `tasker.slowest_steps`: the `limit` slowest steps over the last `hours` hours.
pub async fn slowest_steps(pool: &PgPool, limit: i32, hours: i32) -> EngineResult<Vec<SlowStep>> {
    Ok(sqlx::query_as("SELECT * FROM tasker.slowest_steps($1, $2)").bind(limit).bind(hours).fetch_all(pool).await?)
}

/// `tasker.slowest_templates`: the `limit` slowest templates over the last `hours` hours.
pub async fn slowest_templates(pool: &PgPool, limit: i32, hours: i32) -> EngineResult<Vec<SlowTemplate>> {
    Ok(sqlx::query_as("SELECT * FROM tasker.slowest_templates($1, $2)").bind(limit).bind(hours).fetch_all(pool).await?)
}

/// `tasker.state_counts`: (`task` or `step`, state, count) for every state in use.
pub async fn state_counts(pool: &PgPool) -> EngineResult<Vec<(String, String, i64)>> {
    Ok(sqlx::query_as("SELECT kind, state, count FROM tasker.state_counts()").fetch_all(pool).await?)
}

/// `tasker.throughput_series`: (hour, tasks created, completed, failed) over the last `hours`
/// hours, oldest first.
pub async fn throughput_series(pool: &PgPool, hours: i32) -> EngineResult<Vec<ThroughputBucket>> {
    Ok(sqlx::query_as(
        "SELECT bucket_start, tasks_created, tasks_completed, tasks_failed FROM tasker.throughput_series($1)",
    )
    .bind(hours)
    .fetch_all(pool)
    .await?)
}
