//! The subcommands: each runs its client calls and prints the answer, as a table or view for
//! people or as the API's JSON with `--json`.

pub mod admin;
pub mod dlq;
pub mod step;
pub mod task;

use std::io::Read;

use serde_json::Value;

use super::error::{CliError, CliResult};
use super::output::{emit, print_json};

/// Prints `v` as JSON, or the human rendering of it.
pub fn show(json: bool, v: &Value, human: impl FnOnce(&Value) -> String) {
    if json {
        print_json(v);
    } else {
        emit(&human(v));
    }
}

/// Reads the text of `@FILE` (`@-` is stdin); `what` names the flag in errors.
pub fn read_source(what: &str, path: &str) -> CliResult<String> {
    if path == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| CliError::invalid(format!("invalid {what}"), format!("reading stdin: {e}")))?;
        Ok(s)
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| CliError::invalid(format!("invalid {what}"), format!("reading {path}: {e}")))
    }
}

/// A JSON argument: inline JSON, or `@FILE` / `@-` holding it. Bad JSON is invalid input (exit 4).
pub fn json_arg(what: &str, raw: &str) -> CliResult<Value> {
    let text = match raw.strip_prefix('@') {
        Some(path) => read_source(what, path)?,
        None => raw.to_string(),
    };
    serde_json::from_str(&text)
        .map_err(|e| CliError::invalid(format!("invalid {what}"), format!("not JSON ({e}): {}", shorten(&text, 60))))
}

fn shorten(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_args_parse_or_are_invalid_input() {
        assert_eq!(json_arg("--context", r#"{"a": 1}"#).ok(), Some(serde_json::json!({"a": 1})));
        let e = json_arg("--context", "{nope").err();
        assert_eq!(e.as_ref().map(super::super::error::CliError::exit_code), Some(4));
        assert!(e.map(|e| e.to_string()).unwrap_or_default().starts_with("invalid --context: not JSON"));
        assert_eq!(json_arg("--context", "@/no/such/file").err().map(|e| e.exit_code()), Some(4));
    }
}
