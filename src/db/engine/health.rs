//! What health and metrics read from the database: reachability and pgmq queue depths.

use sqlx::PgPool;

use crate::db::error::EngineResult;
use crate::model::QueueDepth;

/// One round trip: whether the database answers.
pub async fn ping(pool: &PgPool) -> EngineResult<()> {
    sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(pool).await?;
    Ok(())
}

/// Every pgmq queue's depth (`pgmq.metrics_all()`), by queue name.
pub async fn queue_depths(pool: &PgPool) -> EngineResult<Vec<QueueDepth>> {
    Ok(sqlx::query_as(
        "SELECT queue_name, queue_length AS length, queue_visible_length AS visible,
                oldest_msg_age_sec AS oldest_msg_age_seconds
           FROM pgmq.metrics_all() ORDER BY queue_name",
    )
    .fetch_all(pool)
    .await?)
}
