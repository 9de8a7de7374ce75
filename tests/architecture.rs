//! The shape of the code, checked: every module imports only from the layers below it, SQL is
//! written only under `src/db/`, and no source file grows past 600 lines.
//!
//! Layers, bottom-up: `config`, `model` < `db` < `templates`, `metrics` < `actors` < `service` <
//! `api` < `server` < `testing`, `bin`, `cli` (the top: they may use anything). `worker` is a
//! library beside the orchestration side: it may use `config`, `model`, `db` and `metrics` only,
//! and only `server` and the top use it. (`templates`, the loader of template files, is not
//! named in the design: it sits on `db`, and `service` and `server` use it.)
//!
//! The checks read `crate::` paths (in `use` lines and inline) of every file under `src/`,
//! comments excluded.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Longest a hand-written source file may be.
const MAX_LINES: usize = 600;

/// Files allowed over [`MAX_LINES`], each with its reason (none today).
const LONG_FILES_FOR_NOW: &[(&str, &str)] = &[];

/// Where `sqlx::query*` / `sqlx::raw_sql` may appear: the engine seam (`db::engine`, the
/// worker's `db::worker`) and the test harness (it creates and drops databases).
const SQL_ALLOWED: &[&str] = &["src/db/", "src/testing.rs", "src/testing/"];

/// The layer rank of a top-level module; `None` for the crate root.
fn rank(module: &str) -> Option<u8> {
    Some(match module {
        "config" | "model" => 0,
        "db" => 1,
        "templates" | "metrics" => 2,
        "actors" | "worker" => 3,
        "service" => 4,
        "api" => 5,
        "server" => 6,
        "testing" | "bin" | "cli" => 7,
        "lib" => return None,
        other => panic!("src/{other}: a module the architecture test does not know; give it a layer"),
    })
}

/// Whether `from` may import `to`.
fn allowed(from: &str, to: &str) -> bool {
    if from == to {
        return true;
    }
    let (Some(a), Some(b)) = (rank(from), rank(to)) else { return true };
    if from == "worker" {
        return matches!(to, "config" | "model" | "db" | "metrics");
    }
    if to == "worker" {
        return from == "server" || a == 7;
    }
    b < a
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// Every `src/**/*.rs` file as (path relative to the crate, text).
fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(root).expect("under the crate").to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{rel}: {e}"));
            (rel, text)
        })
        .collect()
}

/// The top-level module a file belongs to (`src/actors/batch.rs` -> `actors`, `src/lib.rs` -> `lib`).
fn module_of(rel: &str) -> String {
    let inner = rel.strip_prefix("src/").expect("under src/");
    let first = inner.split('/').next().expect("a component");
    first.trim_end_matches(".rs").to_string()
}

/// The code of a file with `//` comments (and so doc comments) removed.
fn code(text: &str) -> String {
    text.lines().map(|l| l.split_once("//").map_or(l, |(c, _)| c)).collect::<Vec<_>>().join("\n")
}

/// The leading identifier of `s`.
fn ident(s: &str) -> &str {
    let s = s.trim_start();
    let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules a piece of code names through `crate::`, including grouped imports
/// (`use crate::{db::{engine, EngineError}, model};`).
fn crate_modules(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `tasker_orchestration::…` or another path ending in `crate`
        }
        if let Some(group) = rest.strip_prefix('{') {
            // Split the group at its top-level commas.
            let (mut depth, mut start) = (0usize, 0usize);
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.insert(ident(&group[start..j]).to_string());
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(ident(&group[start..j]).to_string());
                        start = j + 1;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest).to_string());
        }
    }
    out.remove("");
    out.remove("self");
    out
}

#[test]
fn no_module_imports_from_a_layer_above_it() {
    let mut violations = Vec::new();
    for (rel, text) in sources() {
        let from = module_of(&rel);
        for to in crate_modules(&code(&text)) {
            if !allowed(&from, &to) {
                violations.push(format!("{rel}: `{from}` uses `crate::{to}`"));
            }
        }
    }
    assert!(violations.is_empty(), "imports against the layering:\n{}", violations.join("\n"));
}

#[test]
fn sql_is_written_only_under_src_db() {
    let needles = ["sqlx::query", "sqlx::raw_sql", "use sqlx::{query", "use sqlx::raw_sql"];
    let mut violations = Vec::new();
    for (rel, text) in sources() {
        if SQL_ALLOWED.iter().any(|p| rel.starts_with(p)) {
            continue;
        }
        for (n, line) in code(&text).lines().enumerate() {
            if needles.iter().any(|needle| line.contains(needle)) {
                violations.push(format!("{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(violations.is_empty(), "SQL outside src/db/ (add a typed function there):\n{}", violations.join("\n"));
}

#[test]
fn no_source_file_is_over_600_lines() {
    let mut long = Vec::new();
    for (rel, text) in sources() {
        let lines = text.lines().count();
        if lines > MAX_LINES && !LONG_FILES_FOR_NOW.iter().any(|(p, _)| *p == rel) {
            long.push(format!("{rel}: {lines} lines"));
        }
    }
    assert!(long.is_empty(), "files over {MAX_LINES} lines (split them by concern):\n{}", long.join("\n"));
}

#[test]
fn the_checks_see_what_they_look_for() {
    let found =
        crate_modules("use crate::{db::{engine, EngineError}, model};\nlet x = crate::service::Service::new();");
    assert_eq!(found, BTreeSet::from(["db".into(), "model".into(), "service".into()]));
    assert!(crate_modules("use tasker_orchestration::service;").is_empty());
    assert!(!allowed("actors", "service"));
    assert!(!allowed("db", "metrics"));
    assert!(!allowed("worker", "actors"));
    assert!(!allowed("service", "worker"));
    assert!(allowed("server", "worker"));
    assert!(allowed("api", "model"));
    assert_eq!(module_of("src/actors/batch.rs"), "actors");
    assert_eq!(module_of("src/templates.rs"), "templates");
}
