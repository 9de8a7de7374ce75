//! Reading and merging the configuration sources.

use std::path::Path;

use super::Config;

/// A configuration that cannot be used; names the key or file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("reading {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// A file is not valid TOML.
    #[error("parsing {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// A key is unknown, mistyped or out of range.
    #[error("invalid configuration key {key}: {message}")]
    Invalid {
        /// The full key path (`orchestration.web.port`).
        key: String,
        /// Why.
        message: String,
    },
}

/// Loads the configuration from `./config/tasker` with the process environment.
pub fn load() -> Result<Config, ConfigError> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    load_from(Path::new("config/tasker"), &env)
}

/// Loads the configuration from `dir` (holding `base/` and `environments/`) with the given
/// environment variables (`TASKER_ENV`, `TASKER__*`, `DATABASE_URL`).
pub fn load_from(dir: &Path, env: &[(String, String)]) -> Result<Config, ConfigError> {
    let get = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let environment = get("TASKER_ENV").filter(|e| !e.is_empty()).unwrap_or_else(|| "development".into());
    if !environment.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(ConfigError::Invalid {
            key: "TASKER_ENV".into(),
            message: format!("'{environment}' is not a name"),
        });
    }

    let mut merged = read_table(&dir.join("base/orchestration.toml"), true)?;
    let overlay = read_table(&dir.join("environments").join(&environment).join("orchestration.toml"), false)?;
    merge(&mut merged, overlay);

    for (name, value) in env {
        let Some(path) = name.strip_prefix("TASKER__") else { continue };
        let keys: Vec<String> = path.split("__").map(|k| k.to_ascii_lowercase()).collect();
        if keys.iter().any(|k| k.is_empty()) {
            return Err(ConfigError::Invalid { key: name.clone(), message: "empty key segment".into() });
        }
        set_path(&mut merged, &keys, parse_env_value(value)).map_err(|message| ConfigError::Invalid {
            key: keys.join("."),
            message: format!("from {name}: {message}"),
        })?;
    }

    let mut config: Config = serde_path_to_error::deserialize(toml::Value::Table(merged)).map_err(|e| {
        let key = e.path().to_string();
        ConfigError::Invalid { key: if key == "." { "(root)".into() } else { key }, message: e.inner().to_string() }
    })?;
    config.environment = environment;
    if let Some(url) = get("DATABASE_URL").filter(|u| !u.is_empty()) {
        config.database.url = url;
    }
    config.validate()?;
    Ok(config)
}

fn read_table(path: &Path, required: bool) -> Result<toml::Table, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Ok(toml::Table::new()),
        Err(e) => return Err(ConfigError::Read { path: path.display().to_string(), message: e.to_string() }),
    };
    text.parse::<toml::Table>()
        .map_err(|e| ConfigError::Parse { path: path.display().to_string(), message: e.to_string() })
}

/// Deep-merges `overlay` into `base`: tables merge key by key, anything else replaces.
fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (k, v) in overlay {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Reads an environment value as TOML (numbers, booleans, arrays, inline tables), else as a string.
fn parse_env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

fn set_path(table: &mut toml::Table, keys: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = keys.split_last().ok_or("empty key")?;
    let mut cur = table;
    for k in parents {
        let entry = cur.entry(k.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = match entry {
            toml::Value::Table(t) => t,
            _ => return Err(format!("'{k}' is a value, not a section")),
        };
    }
    cur.insert(last.clone(), value);
    Ok(())
}
