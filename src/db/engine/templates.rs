//! Templates: `tasker.register_template` (validates and normalizes the definition) and reads of
//! `tasker.template_overview`.

use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::error::EngineResult;
use crate::model::{Template, TemplateSummary};

const TEMPLATE_COLUMNS: &str =
    "template_uuid, namespace, name, version, description, definition, created_at, updated_at";

/// `tasker.register_template`: registers (or replaces) a template; returns its uuid.
/// An invalid definition is `EngineError::InvalidTemplate` (TK003).
pub async fn register_template(pool: &PgPool, definition: &Value) -> EngineResult<Uuid> {
    Ok(sqlx::query_scalar("SELECT tasker.register_template($1)").bind(definition).fetch_one(pool).await?)
}

/// Every registered template (of `namespace`, when given), by namespace, name, version.
pub async fn list_templates(pool: &PgPool, namespace: Option<&str>) -> EngineResult<Vec<TemplateSummary>> {
    Ok(sqlx::query_as(
        "SELECT template_uuid, namespace, name, version, description, step_count, created_at
           FROM tasker.template_overview
          WHERE ($1::text IS NULL OR namespace = $1)
          ORDER BY namespace, name, version",
    )
    .bind(namespace)
    .fetch_all(pool)
    .await?)
}

/// One template by namespace, name and version; `None` when unknown.
pub async fn fetch_template(
    pool: &PgPool,
    namespace: &str,
    name: &str,
    version: &str,
) -> EngineResult<Option<Template>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {TEMPLATE_COLUMNS} FROM tasker.template_overview WHERE namespace = $1 AND name = $2 AND version = $3"
    ))
    .bind(namespace)
    .bind(name)
    .bind(version)
    .fetch_optional(pool)
    .await?)
}

/// One template by uuid; `None` when unknown.
pub async fn fetch_template_by_uuid(pool: &PgPool, template_uuid: Uuid) -> EngineResult<Option<Template>> {
    Ok(sqlx::query_as(&format!("SELECT {TEMPLATE_COLUMNS} FROM tasker.template_overview WHERE template_uuid = $1"))
        .bind(template_uuid)
        .fetch_optional(pool)
        .await?)
}
