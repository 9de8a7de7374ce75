//! Templates: list, read, register.

use super::{Service, ServiceError, ServiceResult};
use crate::db::engine;
use crate::model::{Template, TemplateSummary};

impl Service {
    /// Every registered template, by namespace, name, version.
    pub async fn list_templates(&self, namespace: Option<String>) -> ServiceResult<Vec<TemplateSummary>> {
        Ok(engine::templates::list_templates(self.pool(), namespace.as_deref()).await?)
    }

    /// One template with its normalized definition.
    pub async fn get_template(&self, namespace: &str, name: &str, version: &str) -> ServiceResult<Template> {
        engine::templates::fetch_template(self.pool(), namespace, name, version)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("unknown task template {namespace}/{name}/{version}")))
    }

    /// Registers (or replaces) a template from its definition, given as JSON or YAML text.
    pub async fn register_template_text(&self, text: &str) -> ServiceResult<Template> {
        let def = crate::templates::parse_definition(text).map_err(|e| ServiceError::InvalidTemplate(e.to_string()))?;
        self.register_template(def).await
    }

    /// Registers (or replaces) a template from its JSON definition.
    pub async fn register_template(&self, definition: serde_json::Value) -> ServiceResult<Template> {
        let uuid = engine::templates::register_template(self.pool(), &definition).await?;
        engine::templates::fetch_template_by_uuid(self.pool(), uuid)
            .await?
            .ok_or_else(|| ServiceError::internal(format!("template {uuid} vanished right after registration")))
    }
}
