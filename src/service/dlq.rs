//! The dead letter queue: list, per task, update, stats.

use uuid::Uuid;

use super::tasks::{paginate, parse_cursor_id};
use super::{page_size, Service, ServiceError, ServiceResult};
use crate::model::{DlqEntry, DlqListQuery, DlqStats, DlqStatusCount, DlqUpdate, Page};

const DLQ_COLUMNS: &str = "id, task_uuid, namespace, name, version, reason, state_at_entry, task_state_now, \
     resolution_status, resolution_notes, resolved_by, failed_steps, snapshot, created_at, updated_at, resolved_at";

/// Statuses a DLQ entry can have.
pub const DLQ_STATUSES: &[&str] = &["pending", "investigating", "resolved", "retried", "discarded"];

impl Service {
    /// DLQ entries, newest first, one page at a time.
    pub async fn list_dlq(&self, q: DlqListQuery) -> ServiceResult<Page<DlqEntry>> {
        let limit = page_size(q.limit)?;
        if let Some(s) = &q.resolution_status {
            check_status(s)?;
        }
        let cursor = parse_cursor_id(q.cursor.as_deref())?;
        let rows: Vec<DlqEntry> = sqlx::query_as(&format!(
            "SELECT {DLQ_COLUMNS} FROM tasker.dlq_overview
              WHERE ($1::text IS NULL OR resolution_status = $1)
                AND ($2::text IS NULL OR namespace = $2)
                AND ($3::bigint IS NULL OR id < $3)
              ORDER BY id DESC LIMIT $4"
        ))
        .bind(&q.resolution_status)
        .bind(&q.namespace)
        .bind(cursor)
        .bind(limit + 1)
        .fetch_all(self.pool())
        .await?;
        Ok(paginate(rows, limit, |e| e.id.to_string()))
    }

    /// The DLQ entries of one task, newest first (empty when it never failed). Unknown task: not found.
    pub async fn dlq_for_task(&self, task_uuid: Uuid) -> ServiceResult<Vec<DlqEntry>> {
        self.get_task(task_uuid).await?;
        Ok(sqlx::query_as(&format!(
            "SELECT {DLQ_COLUMNS} FROM tasker.dlq_overview WHERE task_uuid = $1 ORDER BY id DESC"
        ))
        .bind(task_uuid)
        .fetch_all(self.pool())
        .await?)
    }

    /// Records an investigation step on an entry.
    pub async fn update_dlq(&self, id: i64, update: DlqUpdate) -> ServiceResult<DlqEntry> {
        if let Some(s) = &update.resolution_status {
            check_status(s)?;
        }
        if update.resolution_status.is_none() && update.resolution_notes.is_none() && update.resolved_by.is_none() {
            return Err(ServiceError::InvalidInput(
                "nothing to update: give resolution_status, resolution_notes or resolved_by".into(),
            ));
        }
        sqlx::query("SELECT tasker.update_dlq_entry($1, $2, $3, $4)")
            .bind(id)
            .bind(&update.resolution_status)
            .bind(&update.resolution_notes)
            .bind(&update.resolved_by)
            .execute(self.pool())
            .await?;
        Ok(sqlx::query_as(&format!("SELECT {DLQ_COLUMNS} FROM tasker.dlq_overview WHERE id = $1"))
            .bind(id)
            .fetch_one(self.pool())
            .await?)
    }

    /// Counts per status and the age of the oldest open entry.
    pub async fn dlq_stats(&self) -> ServiceResult<DlqStats> {
        let by_status: Vec<DlqStatusCount> = sqlx::query_as(
            "SELECT resolution_status, count(*) AS count FROM tasker.dlq_overview GROUP BY 1 ORDER BY 1",
        )
        .fetch_all(self.pool())
        .await?;
        let oldest: Option<f64> = sqlx::query_scalar(
            "SELECT extract(epoch FROM max(age))::float8 FROM tasker.dlq_overview
              WHERE resolution_status IN ('pending', 'investigating')",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(DlqStats { total: by_status.iter().map(|s| s.count).sum(), by_status, oldest_open_age_seconds: oldest })
    }
}

fn check_status(s: &str) -> ServiceResult<()> {
    if DLQ_STATUSES.contains(&s) {
        Ok(())
    } else {
        Err(ServiceError::InvalidInput(format!("unknown DLQ status '{s}'; statuses are {}", DLQ_STATUSES.join(", "))))
    }
}
