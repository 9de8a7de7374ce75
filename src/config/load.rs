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

/// The configuration files compiled into the binary: `config/tasker/base/orchestration.toml` and
/// one overlay per shipped environment. A binary needs no file on disk to start.
pub const BUILTIN_BASE: &str = include_str!("../../config/tasker/base/orchestration.toml");

/// The shipped environment overlays, by environment name.
pub const BUILTIN_ENVIRONMENTS: &[(&str, &str)] = &[
    ("development", include_str!("../../config/tasker/environments/development/orchestration.toml")),
    ("production", include_str!("../../config/tasker/environments/production/orchestration.toml")),
    ("test", include_str!("../../config/tasker/environments/test/orchestration.toml")),
];

/// The overlay directory used when none is named: `./config/tasker`, when it exists.
pub const DEFAULT_CONFIG_DIR: &str = "config/tasker";

/// Loads the configuration with the process environment: the overlay directory is
/// `$TASKER_CONFIG_DIR` when set (it must exist), else `./config/tasker` when it exists, else none.
pub fn load() -> Result<Config, ConfigError> {
    let dir = std::env::var_os("TASKER_CONFIG_DIR").filter(|d| !d.is_empty()).map(std::path::PathBuf::from);
    load_with_dir(dir.as_deref())
}

/// Loads the configuration with the process environment and an explicit overlay directory
/// (`--config-dir`), which must exist; `None` falls back to `./config/tasker` when it exists.
pub fn load_with_dir(dir: Option<&Path>) -> Result<Config, ConfigError> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    match dir {
        Some(d) if !d.is_dir() => Err(ConfigError::Read {
            path: d.display().to_string(),
            message: "the configuration directory does not exist".into(),
        }),
        Some(d) => load_from(d, &env),
        None if Path::new(DEFAULT_CONFIG_DIR).is_dir() => load_from(Path::new(DEFAULT_CONFIG_DIR), &env),
        None => load_builtin(&env),
    }
}

/// Loads the compiled-in configuration only (no directory), with the given environment variables.
pub fn load_builtin(env: &[(String, String)]) -> Result<Config, ConfigError> {
    load_layers(None, env)
}

/// Loads the configuration with the overlays in `dir` (holding `base/` and `environments/`, each
/// file optional) over the compiled-in files, with the given environment variables
/// (`TASKER_ENV`, `TASKER__*`, `DATABASE_URL`).
pub fn load_from(dir: &Path, env: &[(String, String)]) -> Result<Config, ConfigError> {
    load_layers(Some(dir), env)
}

/// Layers, later wins: the compiled-in base; `dir/base/orchestration.toml`; the environment's
/// overlay from `dir/environments/<env>/` when present, else the compiled-in one;
/// `TASKER__*` variables; `DATABASE_URL`.
fn load_layers(dir: Option<&Path>, env: &[(String, String)]) -> Result<Config, ConfigError> {
    let get = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let environment = get("TASKER_ENV").filter(|e| !e.is_empty()).unwrap_or_else(|| "development".into());
    if !environment.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(ConfigError::Invalid {
            key: "TASKER_ENV".into(),
            message: format!("'{environment}' is not a name"),
        });
    }

    let mut merged = parse_table("(built-in) base/orchestration.toml", BUILTIN_BASE)?;
    if let Some(dir) = dir {
        merge(&mut merged, read_table(&dir.join("base/orchestration.toml"))?.unwrap_or_default());
    }
    let on_disk = match dir {
        Some(dir) => read_table(&dir.join("environments").join(&environment).join("orchestration.toml"))?,
        None => None,
    };
    let overlay = match on_disk {
        Some(t) => t,
        None => match BUILTIN_ENVIRONMENTS.iter().find(|(name, _)| *name == environment) {
            Some((name, text)) => parse_table(&format!("(built-in) environments/{name}/orchestration.toml"), text)?,
            None => toml::Table::new(),
        },
    };
    merge(&mut merged, overlay);

    for (name, value) in env {
        let Some(path) = name.strip_prefix("TASKER__") else { continue };
        let keys: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
        if keys.iter().any(std::string::String::is_empty) {
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

/// Reads a TOML file; `None` when it does not exist.
fn read_table(path: &Path) -> Result<Option<toml::Table>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_table(&path.display().to_string(), &text).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ConfigError::Read { path: path.display().to_string(), message: e.to_string() }),
    }
}

fn parse_table(name: &str, text: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>().map_err(|e| ConfigError::Parse { path: name.to_string(), message: e.to_string() })
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
