//! Database access for workers: the logins that run the worker protocol under the
//! `tasker_worker` role (`docs/worker-protocol.md`, "Database role").

use sqlx::PgPool;

use crate::db::error::EngineResult;

/// `tasker.ensure_worker_login`: creates or updates the login `role` in `tasker_worker` with
/// `password`, allowed `namespaces` (`*` for every one); returns the namespaces now allowed.
/// Idempotent. Refuses a role that can do more than a worker.
pub async fn ensure_worker_login(
    pool: &PgPool,
    role: &str,
    password: &str,
    namespaces: &[String],
) -> EngineResult<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT * FROM tasker.ensure_worker_login($1, $2, $3)")
        .bind(role)
        .bind(password)
        .bind(namespaces)
        .fetch_all(pool)
        .await?)
}
