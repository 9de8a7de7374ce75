//! Task templates on disk: YAML (or JSON) files under `config/tasks/`, converted to JSON and
//! registered with `tasker.register_template`, which validates them (see `docs/templates.md`).
//! The examples of the source tree's `config/tasks/` are also compiled into the binary
//! ([`EXAMPLE_TEMPLATES`], registered by [`load_examples`] when `[templates] examples` is on).

use std::path::{Path, PathBuf};

use sqlx::PgPool;
use uuid::Uuid;

use crate::db::{engine, EngineError};

/// Errors loading templates.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The text is neither valid YAML nor JSON.
    #[error("{0}")]
    Parse(String),
    /// Reading a file or directory failed.
    #[error("reading {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The database rejected the template (invalid DAG etc.).
    #[error("{path}: {source}")]
    Register {
        /// The file.
        path: PathBuf,
        /// The engine's error (`InvalidTemplate`, TK003, for an invalid template).
        source: EngineError,
    },
}

/// Parses a template definition written in YAML or JSON (JSON is YAML) into JSON.
pub fn parse_definition(text: &str) -> Result<serde_json::Value, TemplateError> {
    let value: serde_json::Value =
        serde_yaml_ng::from_str(text).map_err(|e| TemplateError::Parse(format!("not valid YAML or JSON: {e}")))?;
    if !value.is_object() {
        return Err(TemplateError::Parse(
            "a template must be a mapping with namespace, name, version and steps".into(),
        ));
    }
    Ok(value)
}

/// A template registered from a file.
#[derive(Debug, Clone)]
pub struct LoadedTemplate {
    /// The file it came from.
    pub path: PathBuf,
    /// Its template uuid.
    pub template_uuid: Uuid,
}

include!(concat!(env!("OUT_DIR"), "/example_templates.rs"));

/// Registers the example templates compiled into the binary.
pub async fn load_examples(pool: &PgPool) -> Result<Vec<LoadedTemplate>, TemplateError> {
    let mut loaded = Vec::with_capacity(EXAMPLE_TEMPLATES.len());
    for (name, text) in EXAMPLE_TEMPLATES {
        let path = PathBuf::from(format!("(built-in) config/tasks{name}"));
        loaded.push(register_text(pool, path, text).await?);
    }
    Ok(loaded)
}

async fn register_text(pool: &PgPool, path: PathBuf, text: &str) -> Result<LoadedTemplate, TemplateError> {
    let def = parse_definition(text).map_err(|e| TemplateError::Parse(format!("{}: {e}", path.display())))?;
    let template_uuid = engine::templates::register_template(pool, &def)
        .await
        .map_err(|source| TemplateError::Register { path: path.clone(), source })?;
    Ok(LoadedTemplate { path, template_uuid })
}

/// Registers every `*.yaml`, `*.yml` and `*.json` file under `dir` (recursively, in path order).
/// Stops at the first invalid file, naming it. A missing directory loads nothing.
pub async fn load_dir(pool: &PgPool, dir: &Path) -> Result<Vec<LoadedTemplate>, TemplateError> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort();
    let mut loaded = Vec::with_capacity(files.len());
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|source| TemplateError::Io { path: path.clone(), source })?;
        loaded.push(register_text(pool, path, &text).await?);
    }
    Ok(loaded)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), TemplateError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(TemplateError::Io { path: dir.to_path_buf(), source }),
    };
    for entry in entries {
        let path = entry.map_err(|source| TemplateError::Io { path: dir.to_path_buf(), source })?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().and_then(|x| x.to_str()).is_some_and(|x| matches!(x, "yaml" | "yml" | "json")) {
            out.push(path);
        }
    }
    Ok(())
}
