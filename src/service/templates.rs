//! Templates: list, read, register.

use super::{Service, ServiceError, ServiceResult};
use crate::model::{Template, TemplateSummary};

impl Service {
    /// Every registered template, by namespace, name, version.
    pub async fn list_templates(&self, namespace: Option<String>) -> ServiceResult<Vec<TemplateSummary>> {
        Ok(sqlx::query_as(
            "SELECT template_uuid, namespace, name, version, description, step_count, created_at
               FROM tasker.template_overview
              WHERE ($1::text IS NULL OR namespace = $1)
              ORDER BY namespace, name, version",
        )
        .bind(namespace)
        .fetch_all(self.pool())
        .await?)
    }

    /// One template with its normalized definition.
    pub async fn get_template(&self, namespace: &str, name: &str, version: &str) -> ServiceResult<Template> {
        let t: Option<Template> = sqlx::query_as(
            "SELECT template_uuid, namespace, name, version, description, definition, created_at, updated_at
               FROM tasker.template_overview WHERE namespace = $1 AND name = $2 AND version = $3",
        )
        .bind(namespace)
        .bind(name)
        .bind(version)
        .fetch_optional(self.pool())
        .await?;
        t.ok_or_else(|| ServiceError::NotFound(format!("unknown task template {namespace}/{name}/{version}")))
    }

    /// Registers (or replaces) a template from its definition, given as JSON or YAML text.
    pub async fn register_template_text(&self, text: &str) -> ServiceResult<Template> {
        let def = crate::templates::parse_definition(text).map_err(|e| ServiceError::InvalidTemplate(e.to_string()))?;
        self.register_template(def).await
    }

    /// Registers (or replaces) a template from its JSON definition.
    pub async fn register_template(&self, definition: serde_json::Value) -> ServiceResult<Template> {
        let uuid: uuid::Uuid =
            sqlx::query_scalar("SELECT tasker.register_template($1)").bind(&definition).fetch_one(self.pool()).await?;
        let t: Template = sqlx::query_as(
            "SELECT template_uuid, namespace, name, version, description, definition, created_at, updated_at
               FROM tasker.template_overview WHERE template_uuid = $1",
        )
        .bind(uuid)
        .fetch_one(self.pool())
        .await?;
        Ok(t)
    }
}
