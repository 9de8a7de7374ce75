//! The read-only pages, one module per area.

pub mod dlq;
pub mod login;
pub mod overview;
pub mod task;
pub mod tasks;
pub mod templates;

/// `?notice=…` left by a redirect after an action.
#[derive(Debug, Default, serde::Deserialize)]
pub struct NoticeQuery {
    /// The text to show once.
    #[serde(default)]
    pub notice: Option<String>,
}
