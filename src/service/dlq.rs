//! The dead letter queue: list, per task, update, stats.

use uuid::Uuid;

use super::tasks::{paginate, parse_cursor_id};
use super::{input, page_size, Service, ServiceError, ServiceResult};
use crate::db::engine;
use crate::model::{DlqEntry, DlqListQuery, DlqStats, DlqUpdate, Page};

/// Statuses a DLQ entry can have.
pub const DLQ_STATUSES: &[&str] = &["pending", "investigating", "resolved", "retried", "discarded"];

impl Service {
    /// DLQ entries, newest first, one page at a time.
    pub async fn list_dlq(&self, q: DlqListQuery) -> ServiceResult<Page<DlqEntry>> {
        let limit = page_size(q.limit)?;
        input::opt_text("resolution_status", q.resolution_status.as_deref())?;
        input::opt_text("namespace", q.namespace.as_deref())?;
        input::opt_text("cursor", q.cursor.as_deref())?;
        if let Some(s) = &q.resolution_status {
            check_status(s)?;
        }
        let cursor = parse_cursor_id(q.cursor.as_deref())?;
        let rows = engine::dlq::list_entries(
            self.pool(),
            q.resolution_status.as_deref(),
            q.namespace.as_deref(),
            cursor,
            limit + 1,
        )
        .await?;
        Ok(paginate(rows, limit, |e| e.id.to_string()))
    }

    /// The DLQ entries of one task, newest first (empty when it never failed). Unknown task: not found.
    pub async fn dlq_for_task(&self, task_uuid: Uuid) -> ServiceResult<Vec<DlqEntry>> {
        self.get_task(task_uuid).await?;
        Ok(engine::dlq::entries_of_task(self.pool(), task_uuid).await?)
    }

    /// Records an investigation step on an entry.
    pub async fn update_dlq(&self, id: i64, update: DlqUpdate) -> ServiceResult<DlqEntry> {
        input::opt_text("resolution_status", update.resolution_status.as_deref())?;
        input::opt_text("resolution_notes", update.resolution_notes.as_deref())?;
        input::opt_text("resolved_by", update.resolved_by.as_deref())?;
        if let Some(s) = &update.resolution_status {
            check_status(s)?;
        }
        if update.resolution_status.is_none() && update.resolution_notes.is_none() && update.resolved_by.is_none() {
            return Err(ServiceError::InvalidInput(
                "nothing to update: give resolution_status, resolution_notes or resolved_by".into(),
            ));
        }
        Ok(engine::dlq::update_entry(self.pool(), id, &update).await?)
    }

    /// Counts per status and the age of the oldest open entry.
    pub async fn dlq_stats(&self) -> ServiceResult<DlqStats> {
        let by_status = engine::dlq::counts_by_status(self.pool()).await?;
        let oldest = engine::dlq::oldest_open_age_seconds(self.pool()).await?;
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
