//! The dead letter queue: reads of `tasker.dlq_overview` and `tasker.update_dlq_entry`.

use sqlx::PgPool;
use uuid::Uuid;

use crate::db::error::EngineResult;
use crate::model::{DlqEntry, DlqStatusCount, DlqUpdate};

const DLQ_COLUMNS: &str = "id, task_uuid, namespace, name, version, reason, state_at_entry, task_state_now, \
     resolution_status, resolution_notes, resolved_by, failed_steps, snapshot, created_at, updated_at, resolved_at";

/// [`DLQ_COLUMNS`] without the snapshot: what a list page carries.
const DLQ_SUMMARY_COLUMNS: &str = "id, task_uuid, namespace, name, version, reason, state_at_entry, task_state_now, \
     resolution_status, resolution_notes, resolved_by, failed_steps, NULL::jsonb AS snapshot, created_at, updated_at, \
     resolved_at";

/// Entries with an id below `before`, newest first, at most `limit`, filtered by status and
/// namespace when given; without their snapshots.
pub async fn list_entries(
    pool: &PgPool,
    resolution_status: Option<&str>,
    namespace: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> EngineResult<Vec<DlqEntry>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {DLQ_SUMMARY_COLUMNS} FROM tasker.dlq_overview
          WHERE ($1::text IS NULL OR resolution_status = $1)
            AND ($2::text IS NULL OR namespace = $2)
            AND ($3::bigint IS NULL OR id < $3)
          ORDER BY id DESC LIMIT $4"
    ))
    .bind(resolution_status)
    .bind(namespace)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// The entries of one task, newest first.
pub async fn entries_of_task(pool: &PgPool, task_uuid: Uuid) -> EngineResult<Vec<DlqEntry>> {
    Ok(sqlx::query_as(&format!("SELECT {DLQ_COLUMNS} FROM tasker.dlq_overview WHERE task_uuid = $1 ORDER BY id DESC"))
        .bind(task_uuid)
        .fetch_all(pool)
        .await?)
}

/// `tasker.update_dlq_entry`, then the entry as it is now. Unknown id: `NotFound` (TK002).
pub async fn update_entry(pool: &PgPool, id: i64, update: &DlqUpdate) -> EngineResult<DlqEntry> {
    sqlx::query("SELECT tasker.update_dlq_entry($1, $2, $3, $4)")
        .bind(id)
        .bind(&update.resolution_status)
        .bind(&update.resolution_notes)
        .bind(&update.resolved_by)
        .execute(pool)
        .await?;
    Ok(sqlx::query_as(&format!("SELECT {DLQ_COLUMNS} FROM tasker.dlq_overview WHERE id = $1"))
        .bind(id)
        .fetch_one(pool)
        .await?)
}

/// Entry counts per resolution status.
pub async fn counts_by_status(pool: &PgPool) -> EngineResult<Vec<DlqStatusCount>> {
    Ok(sqlx::query_as("SELECT resolution_status, count(*) AS count FROM tasker.dlq_overview GROUP BY 1 ORDER BY 1")
        .fetch_all(pool)
        .await?)
}

/// Age in seconds of the oldest entry still pending or under investigation.
pub async fn oldest_open_age_seconds(pool: &PgPool) -> EngineResult<Option<f64>> {
    Ok(sqlx::query_scalar(
        "SELECT extract(epoch FROM max(age))::float8 FROM tasker.dlq_overview
          WHERE resolution_status IN ('pending', 'investigating')",
    )
    .fetch_one(pool)
    .await?)
}
