//! Human output: a column-aligned table printer, key/value blocks and value formatting.

use serde_json::Value;

/// A table: a header row and rows of cells, printed with columns aligned (two spaces apart).
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Self {
        Self { rows: vec![headers.iter().map(|h| (*h).to_string()).collect()] }
    }

    /// Adds a row (missing cells print empty, extra cells are kept).
    pub fn row(&mut self, cells: Vec<String>) -> &mut Self {
        self.rows.push(cells);
        self
    }

    /// Number of rows, the header excluded.
    pub fn len(&self) -> usize {
        self.rows.len().saturating_sub(1)
    }

    /// Whether there is no row but the header.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The table as text, each line ending in a newline; the last column is not padded.
    pub fn render(&self) -> String {
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0; cols];
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                if i + 1 < row.len() {
                    line.push_str(&" ".repeat(widths[i] - cell.chars().count()));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Key/value lines (`key   value`), keys aligned; pairs with an empty value are left out.
pub fn key_values(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().filter(|(_, v)| !v.is_empty()).map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        out.push_str(&format!("{k:<width$}  {v}\n"));
    }
    out
}

/// A JSON value as a cell: strings bare, null empty, anything else compact JSON.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The string field `key` of `v` (empty when absent or not a string).
pub fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The integer field `key` of `v` (0 when absent).
pub fn int_of(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

/// A list of strings (`a, b`), empty for an empty or absent list.
pub fn list_of(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_array).map(|a| a.iter().map(cell).collect::<Vec<_>>().join(", ")).unwrap_or_default()
}

/// A time field shortened for tables: `2024-05-01 12:00:00` (UTC), empty when absent.
pub fn time_of(v: &Value, key: &str) -> String {
    let raw = str_of(v, key);
    match chrono::DateTime::parse_from_rfc3339(raw) {
        Ok(t) => t.with_timezone(&chrono::Utc).format("%Y-%m-%d %H:%M:%S").to_string(),
        Err(_) => raw.to_string(),
    }
}

/// A number of seconds for people: `12s`, `3m 20s`, `2h 05m`, `3d 04h`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// `namespace/name@version` of a task or template.
pub fn template_of(v: &Value) -> String {
    format!("{}/{}@{}", str_of(v, "namespace"), str_of(v, "name"), str_of(v, "version"))
}

/// Writes `text` to stdout. A closed pipe (`tasker task list | head -1`) ends the process
/// quietly with 0 instead of a panic.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

/// Prints a JSON value as the `--json` output (pretty, newline-terminated).
pub fn print_json(v: &Value) {
    emit(&format!("{}\n", serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())));
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn columns_align_and_the_last_is_not_padded() {
        let mut t = Table::new(&["NAME", "STATE"]);
        t.row(vec!["validate_order".into(), "complete".into()]);
        t.row(vec!["ship".into(), "".into()]);
        assert_eq!(t.render(), "NAME            STATE\nvalidate_order  complete\nship\n");
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn wide_characters_count_as_one() {
        let mut t = Table::new(&["A", "B"]);
        t.row(vec!["é".into(), "x".into()]);
        assert_eq!(t.render(), "A  B\né  x\n");
    }

    #[test]
    fn key_values_skip_empty_values() {
        let out = key_values(&[("task", "t1".into()), ("reason", String::new()), ("state", "complete".into())]);
        assert_eq!(out, "task   t1\nstate  complete\n");
    }

    #[test]
    fn cells_of_json_values() {
        assert_eq!(cell(&json!(null)), "");
        assert_eq!(cell(&json!("x")), "x");
        assert_eq!(cell(&json!({"a": 1})), r#"{"a":1}"#);
        assert_eq!(list_of(&json!({"d": ["a", "b"]}), "d"), "a, b");
        assert_eq!(duration(200.0), "3m 20s");
        assert_eq!(duration(7500.0), "2h 05m");
        assert_eq!(time_of(&json!({"t": "2024-05-01T12:00:00.5Z"}), "t"), "2024-05-01 12:00:00");
    }
}
