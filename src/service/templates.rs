//! Templates: list, read, register.

use super::{input, Service, ServiceError, ServiceResult};
use crate::db::engine;
use crate::model::{Template, TemplateSummary};

impl Service {
    /// Every registered template, by namespace, name, version.
    pub async fn list_templates(&self, namespace: Option<String>) -> ServiceResult<Vec<TemplateSummary>> {
        input::opt_text("namespace", namespace.as_deref())?;
        Ok(engine::templates::list_templates(self.pool(), namespace.as_deref()).await?)
    }

    /// One template with its normalized definition.
    pub async fn get_template(&self, namespace: &str, name: &str, version: &str) -> ServiceResult<Template> {
        input::text("namespace", namespace)?;
        input::text("name", name)?;
        input::text("version", version)?;
        engine::templates::fetch_template(self.pool(), namespace, name, version)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("unknown task template {namespace}/{name}/{version}")))
    }

    /// Registers (or replaces) a template from its definition, given as YAML text (JSON is YAML).
    /// Parsing runs on the blocking pool, after the depth and alias limits of
    /// [`crate::templates::prescan_yaml`]: a hostile body never holds a runtime thread.
    pub async fn register_template_text(&self, text: &str) -> ServiceResult<Template> {
        let text = text.to_owned();
        let def = tokio::task::spawn_blocking(move || crate::templates::parse_definition(&text))
            .await
            .map_err(ServiceError::internal)?
            .map_err(|e| ServiceError::InvalidTemplate(e.to_string()))?;
        self.register_template(def).await
    }

    /// Registers (or replaces) a template from its definition sent as JSON (serde_json: linear,
    /// at most 128 levels deep).
    pub async fn register_template_json(&self, body: &[u8]) -> ServiceResult<Template> {
        let def = crate::templates::parse_json(body).map_err(|e| ServiceError::InvalidTemplate(e.to_string()))?;
        self.register_template(def).await
    }

    /// Registers (or replaces) a template from its JSON definition.
    pub async fn register_template(&self, definition: serde_json::Value) -> ServiceResult<Template> {
        input::json("template", &definition)?;
        let uuid = engine::templates::register_template(self.pool(), &definition).await?;
        engine::templates::fetch_template_by_uuid(self.pool(), uuid)
            .await?
            .ok_or_else(|| ServiceError::internal(format!("template {uuid} vanished right after registration")))
    }
}
