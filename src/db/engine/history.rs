//! A task's history for followers: a consistent snapshot with a commit-ordered cursor, then
//! the changes committed after that cursor (`tasker.task_history_after`).

use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;

use super::steps::{fetch_steps, fetch_steps_by_uuid};
use super::tasks::fetch_task;
use crate::db::error::EngineResult;
use crate::model::{FollowCursor, Step, Task, TaskChanges, TaskEvent};

/// Begins the REPEATABLE READ, READ ONLY transaction a follower reads in and returns the
/// snapshot it reads from, as the cursor of the next read.
async fn begin_follow(conn: &mut PgConnection) -> EngineResult<(sqlx::Transaction<'_, sqlx::Postgres>, FollowCursor)> {
    let mut tx = conn.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
    let snapshot: String =
        sqlx::query_scalar("SELECT pg_catalog.pg_current_snapshot()::text").fetch_one(&mut *tx).await?;
    Ok((tx, FollowCursor(snapshot)))
}

/// The task (`None` when unknown), its steps and the cursor after which a follower reads the
/// changes the snapshot does not show, read in one transaction so that they agree.
pub async fn task_snapshot(pool: &PgPool, task_uuid: Uuid) -> EngineResult<Option<(Task, Vec<Step>, FollowCursor)>> {
    let mut conn = pool.acquire().await?;
    let (mut tx, cursor) = begin_follow(&mut conn).await?;
    let Some(task) = fetch_task(&mut *tx, task_uuid).await? else { return Ok(None) };
    let steps = fetch_steps(&mut *tx, task_uuid).await?;
    tx.commit().await?;
    Ok(Some((task, steps, cursor)))
}

/// The changes of a task committed after `after`, with the task (when it changed) and the steps
/// that changed as they stand at the new cursor, all read in one transaction.
pub async fn task_changes_after(pool: &PgPool, task_uuid: Uuid, after: &FollowCursor) -> EngineResult<TaskChanges> {
    let mut conn = pool.acquire().await?;
    let (mut tx, cursor) = begin_follow(&mut conn).await?;
    let events: Vec<TaskEvent> = sqlx::query_as("SELECT * FROM tasker.task_history_after($1, $2::pg_snapshot)")
        .bind(task_uuid)
        .bind(&after.0)
        .fetch_all(&mut *tx)
        .await?;
    let task = if events.iter().any(|e| e.kind == "task") { fetch_task(&mut *tx, task_uuid).await? } else { None };
    let mut changed: Vec<Uuid> = events.iter().filter(|e| e.kind == "step").filter_map(|e| e.step_uuid).collect();
    changed.sort_unstable();
    changed.dedup();
    let steps =
        if changed.is_empty() { Vec::new() } else { fetch_steps_by_uuid(&mut *tx, task_uuid, &changed).await? };
    tx.commit().await?;
    Ok(TaskChanges { events, task, steps, cursor })
}
