//! Retention: the housekeeping actor's calls. Each is one batch in its own transaction (the
//! pool's autocommit), so a round of many batches holds no lock for long.

use sqlx::PgPool;

use super::sql_limit;
use crate::db::error::EngineResult;

/// `tasker.purge_tasks`: removes up to `limit` final tasks finished more than `older_than_days`
/// days ago, with their steps, edges, history and DLQ entries (copied to `tasker_archive` first
/// when `archive`); returns how many tasks it purged.
pub async fn purge_tasks(pool: &PgPool, older_than_days: u32, limit: u32, archive: bool) -> EngineResult<u64> {
    let n: i32 = sqlx::query_scalar("SELECT tasker.purge_tasks(make_interval(days => $1), $2, false, $3)")
        .bind(sql_limit(older_than_days))
        .bind(sql_limit(limit))
        .bind(archive)
        .fetch_one(pool)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// `tasker.purge_queue_archives`: deletes up to `limit` archived pgmq messages of Tasker's queues
/// older than `older_than_days` days; returns how many it deleted.
pub async fn purge_queue_archives(pool: &PgPool, older_than_days: u32, limit: u32) -> EngineResult<u64> {
    let n: i64 = sqlx::query_scalar("SELECT tasker.purge_queue_archives(make_interval(days => $1), $2)::bigint")
        .bind(sql_limit(older_than_days))
        .bind(sql_limit(limit))
        .fetch_one(pool)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}
