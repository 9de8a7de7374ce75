use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// A registered template, with its normalized definition.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Template {
    /// Id.
    pub template_uuid: Uuid,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Description.
    pub description: Option<String>,
    /// The definition with every default filled in (see docs/templates.md).
    #[schema(value_type = Object)]
    pub definition: Value,
    /// First registered.
    pub created_at: DateTime<Utc>,
    /// Definition last changed.
    pub updated_at: DateTime<Utc>,
}

/// A template in a listing.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct TemplateSummary {
    /// Id.
    pub template_uuid: Uuid,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Description.
    pub description: Option<String>,
    /// Number of steps.
    pub step_count: i32,
    /// First registered.
    pub created_at: DateTime<Utc>,
}
