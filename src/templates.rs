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

/// Deepest nesting a YAML template may have (block indentation levels, `- ` sequence entries
/// and open `[` / `{` together). Real templates nest a handful of levels.
pub const MAX_YAML_DEPTH: usize = 64;
/// Most aliases (`*name`) a YAML template may use.
pub const MAX_YAML_ALIASES: usize = 100;

/// Parses a template definition written in YAML or JSON (JSON is YAML) into JSON.
///
/// The text is first checked by [`prescan_yaml`] (depth and alias limits, one linear pass): the
/// YAML parser's cost grows faster than linearly with nesting (100,000 nested `[` took 88 s), so
/// hostile nesting must never reach it. serde_yaml_ng itself also stops at 128 levels and bounds
/// alias expansion (billion laughs). CPU-bound: async callers run it in `spawn_blocking`.
pub fn parse_definition(text: &str) -> Result<serde_json::Value, TemplateError> {
    prescan_yaml(text)?;
    let value: serde_json::Value =
        serde_yaml_ng::from_str(text).map_err(|e| TemplateError::Parse(format!("not valid YAML or JSON: {e}")))?;
    mapping(value)
}

/// Parses a template definition sent as JSON. serde_json stops at 128 levels of nesting
/// ("recursion limit exceeded"), so any body parses in time linear in its size.
pub fn parse_json(bytes: &[u8]) -> Result<serde_json::Value, TemplateError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| TemplateError::Parse(format!("not valid JSON: {e}")))?;
    mapping(value)
}

fn mapping(value: serde_json::Value) -> Result<serde_json::Value, TemplateError> {
    if !value.is_object() {
        return Err(TemplateError::Parse(
            "a template must be a mapping with namespace, name, version and steps".into(),
        ));
    }
    Ok(value)
}

/// Refuses YAML nested deeper than [`MAX_YAML_DEPTH`] or with more than [`MAX_YAML_ALIASES`]
/// aliases, in one pass over the text, before the parser sees it. Deliberately conservative: it
/// does not parse quotes or comments, so brackets inside strings count too (a closing bracket
/// never takes the depth below zero), which can only make it stricter than YAML.
pub fn prescan_yaml(text: &str) -> Result<(), TemplateError> {
    let too_deep = || TemplateError::Parse(format!("the template is nested deeper than {MAX_YAML_DEPTH} levels"));
    let mut flow = 0usize;
    let mut indents: Vec<usize> = Vec::new();
    let mut aliases = 0usize;
    for line in text.lines() {
        let content = line.trim_start_matches([' ', '\t']);
        let mut block = indents.len();
        if flow == 0 && !content.is_empty() && !content.starts_with('#') {
            let indent = line.len() - content.len();
            while indents.last().is_some_and(|&i| i >= indent) {
                indents.pop();
            }
            indents.push(indent);
            // `- - - x` opens one sequence per dash on one line.
            let mut rest = content;
            let mut dashes = 0;
            while let Some(r) = rest.strip_prefix('-').filter(|r| r.is_empty() || r.starts_with([' ', '\t'])) {
                dashes += 1;
                rest = r.trim_start_matches([' ', '\t']);
            }
            block = indents.len() + dashes;
        }
        if block > MAX_YAML_DEPTH {
            return Err(too_deep());
        }
        let mut prev = ' ';
        let mut chars = content.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '[' | '{' => {
                    flow += 1;
                    if flow + block > MAX_YAML_DEPTH {
                        return Err(too_deep());
                    }
                }
                ']' | '}' => flow = flow.saturating_sub(1),
                '*' if matches!(prev, ' ' | '\t' | '[' | '{' | ',' | ':' | '-')
                    && chars.peek().is_some_and(|n| n.is_alphanumeric() || *n == '_') =>
                {
                    aliases += 1;
                    if aliases > MAX_YAML_ALIASES {
                        return Err(TemplateError::Parse(format!(
                            "the template uses more than {MAX_YAML_ALIASES} aliases"
                        )));
                    }
                }
                _ => {}
            }
            prev = c;
        }
    }
    Ok(())
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
    let is_json = path.extension().is_some_and(|x| x == "json");
    let def = if is_json { parse_json(text.as_bytes()) } else { parse_definition(text) }
        .map_err(|e| TemplateError::Parse(format!("{}: {e}", path.display())))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prescan_refuses_deep_nesting_and_alias_floods_and_passes_real_templates() {
        assert!(prescan_yaml(&"[".repeat(100_000)).is_err());
        assert!(prescan_yaml(&format!("a: {}", "{".repeat(65))).is_err());
        let block: String = (0..70).map(|i| format!("{}k{i}:\n", " ".repeat(i))).collect();
        assert!(prescan_yaml(&block).is_err());
        assert!(prescan_yaml(&format!("- {}x", "- ".repeat(70))).is_err());
        let aliases: String = (0..101).map(|i| format!("k{i}: *a\n")).collect();
        assert!(prescan_yaml(&format!("a: &a 1\n{aliases}")).is_err());
        assert!(prescan_yaml("]]]]\n[[[]]]").is_ok(), "closing brackets never go below zero");
        for (name, text) in EXAMPLE_TEMPLATES {
            prescan_yaml(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            parse_definition(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert!(parse_json(format!("{}{}", "[".repeat(200), "]".repeat(200)).as_bytes()).is_err());
        assert!(parse_json(b"{\"namespace\": \"demo\"}").is_ok());
    }
}
