//! The SQL API's documentation cannot drift from the schema:
//!
//! - every public function and view of schema `tasker` (name not starting with `_`) carries a
//!   `COMMENT` (written in its `sql/` file, after the function) and has a section in
//!   `docs/sql-api.md`: a Markdown heading naming it as `tasker.<name>` (one heading may name
//!   several, `### tasker.resolve_step, tasker.complete_step, tasker.reset_step`);
//! - every `tasker.<name>` named in a heading of `docs/sql-api.md` exists;
//! - the NOTIFY channel names used in `sql/` are exactly the Rust constants that name channels
//!   (`pub const …CHANNEL…: &str` anywhere under `src/`) and the rows of the channel table in
//!   `docs/sql-api.md`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::support::test_db;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn sql_api_doc() -> String {
    read(&root().join("docs/sql-api.md"))
}

/// The `tasker.<name>` identifiers in `text`.
fn tasker_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("tasker.") {
        let before = rest[..i].chars().last();
        let after = &rest[i + "tasker.".len()..];
        let name: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !name.is_empty() && !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            names.insert(name);
        }
        rest = after;
    }
    names
}

/// Names given a section in docs/sql-api.md: every `tasker.<name>` in a heading line.
fn documented_names(doc: &str) -> BTreeSet<String> {
    let mut in_code = false;
    let mut names = BTreeSet::new();
    for line in doc.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            names.extend(tasker_names(line));
        }
    }
    names
}

#[derive(Debug, sqlx::FromRow)]
struct ApiObject {
    kind: String,
    name: String,
    signature: String,
    comment: Option<String>,
}

/// Every function and view of schema tasker that does not come from an extension.
async fn api_objects(pool: &sqlx::PgPool) -> Vec<ApiObject> {
    sqlx::query_as(
        "SELECT 'function' AS kind, p.proname::text AS name, p.oid::regprocedure::text AS signature,
                obj_description(p.oid, 'pg_proc') AS comment
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = 'tasker'
            AND NOT EXISTS (SELECT 1 FROM pg_depend d
                             WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
         UNION ALL
         SELECT 'view', c.relname::text, 'tasker.' || c.relname, obj_description(c.oid, 'pg_class')
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'tasker' AND c.relkind IN ('v', 'm')
          ORDER BY 2, 3",
    )
    .fetch_all(pool)
    .await
    .expect("list the functions and views of schema tasker")
}

#[tokio::test]
async fn every_public_function_and_view_has_a_comment() {
    let db = test_db().await;
    let objects = api_objects(&db.pool).await;
    assert!(objects.len() > 30, "expected the engine's functions and views, found {}", objects.len());
    let missing: Vec<String> = objects
        .iter()
        .filter(|o| !o.name.starts_with('_'))
        .filter(|o| !o.comment.as_deref().is_some_and(|c| !c.trim().is_empty()))
        .map(|o| format!("{} {}", o.kind, o.signature))
        .collect();
    assert!(
        missing.is_empty(),
        "public SQL API without a COMMENT (add `COMMENT ON FUNCTION … IS '…'` after it in its sql/ file, \
         from its header comment):\n  {}",
        missing.join("\n  ")
    );
}

#[tokio::test]
async fn every_public_function_and_view_has_a_section_in_sql_api_md() {
    let db = test_db().await;
    let documented = documented_names(&sql_api_doc());
    let missing: BTreeSet<String> = api_objects(&db.pool)
        .await
        .into_iter()
        .filter(|o| !o.name.starts_with('_') && !documented.contains(&o.name))
        .map(|o| format!("{} tasker.{}", o.kind, o.name))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/sql-api.md has no section for (a heading naming `tasker.<name>`):\n  {}",
        missing.into_iter().collect::<Vec<_>>().join("\n  ")
    );
}

#[tokio::test]
async fn every_function_named_in_a_sql_api_md_heading_exists() {
    let db = test_db().await;
    let mut existing: BTreeSet<String> = api_objects(&db.pool).await.into_iter().map(|o| o.name).collect();
    // Tables operators are told to read or update (tasker.settings) may have a section too.
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'tasker' AND c.relkind = 'r'",
    )
    .fetch_all(&db.pool)
    .await
    .expect("list the tables of schema tasker");
    existing.extend(tables);
    let stale: Vec<String> = documented_names(&sql_api_doc()).into_iter().filter(|n| !existing.contains(n)).collect();
    assert!(stale.is_empty(), "docs/sql-api.md has sections for what schema tasker does not have: {stale:?}");
}

// ---------------------------------------------------------------------------------------------
// NOTIFY channels
// ---------------------------------------------------------------------------------------------

/// `text` without `--` comments (string literals in sql/ hold no `--`).
fn strip_sql_comments(text: &str) -> String {
    text.lines().map(|l| l.split("--").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

fn files_under(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("reading {}: {e}", d.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == ext) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Every channel notified in `sql/` and `migrations/`: the literal first argument of each
/// `pg_notify(` call. A computed channel name, a `NOTIFY` statement or pgmq's insert-notify hook
/// cannot be checked here, so they fail the test until it learns them.
fn sql_channels() -> BTreeSet<String> {
    let mut channels = BTreeSet::new();
    let mut problems = Vec::new();
    for path in
        files_under(&root().join("sql"), "sql").into_iter().chain(files_under(&root().join("migrations"), "sql"))
    {
        let text = strip_sql_comments(&read(&path));
        let lower = text.to_ascii_lowercase();
        let file = path.strip_prefix(root()).unwrap_or(&path).display().to_string();
        for (i, _) in lower.match_indices("pg_notify(") {
            let arg = text[i + "pg_notify(".len()..].trim_start();
            match arg.strip_prefix('\'').and_then(|a| a.split_once('\'')) {
                Some((name, _)) => {
                    channels.insert(name.to_string());
                }
                None => {
                    problems.push(format!("{file}: pg_notify with a computed channel: {}", &arg[..arg.len().min(40)]));
                }
            }
        }
        for (i, _) in lower.match_indices("notify ") {
            let word_start =
                i == 0 || !lower.as_bytes()[i - 1].is_ascii_alphanumeric() && lower.as_bytes()[i - 1] != b'_';
            if word_start {
                problems.push(format!("{file}: a NOTIFY statement; use pg_notify('channel', payload)"));
            }
        }
        if lower.contains("enable_notify_insert") {
            problems.push(format!("{file}: pgmq's insert-notify hook; teach tests/engine/sql_docs.rs its channel"));
        }
    }
    assert!(problems.is_empty(), "channels that cannot be checked:\n  {}", problems.join("\n  "));
    channels
}

/// Every `pub const <NAME>: &str = "<value>";` under `src/` whose name contains `CHANNEL`:
/// (value, where it is defined).
fn rust_channels() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for path in files_under(&root().join("src"), "rs") {
        for (n, line) in read(&path).lines().enumerate() {
            let Some(decl) = line.trim().strip_prefix("pub const ") else { continue };
            let Some((name, rest)) = decl.split_once(':') else { continue };
            if !name.contains("CHANNEL") {
                continue;
            }
            let Some(value) = rest.trim().strip_prefix("&str").map(str::trim).and_then(|r| r.strip_prefix('=')) else {
                continue;
            };
            let value = value.trim().trim_end_matches(';').trim();
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or_else(|| {
                panic!("{}:{}: {name} is not a string literal", path.display(), n + 1);
            });
            let at = format!("{}:{} {name}", path.strip_prefix(root()).unwrap_or(&path).display(), n + 1);
            out.push((value.to_string(), at));
        }
    }
    out
}

/// The channels in the table of the "NOTIFY channels" section of docs/sql-api.md.
fn documented_channels(doc: &str) -> BTreeSet<String> {
    let section = doc.split("\n## NOTIFY channels").nth(1).expect("a `## NOTIFY channels` section in docs/sql-api.md");
    let section = section.split("\n## ").next().unwrap_or("");
    section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(name, _)| name.to_string()))
        .collect()
}

#[test]
fn notify_channels_in_sql_match_the_rust_constants_and_the_docs() {
    let sql = sql_channels();
    let rust = rust_channels();
    assert!(
        rust.iter().any(|(_, at)| at.contains(" CHANNEL_")),
        "no `pub const CHANNEL_…: &str` found under src/: {rust:?}"
    );
    let rust_set: BTreeSet<String> = rust.iter().map(|(v, _)| v.clone()).collect();
    let docs = documented_channels(&sql_api_doc());

    let mut problems = Vec::new();
    for c in sql.difference(&rust_set) {
        problems.push(format!("`{c}` is notified in sql/ but no Rust constant names it (src/**: pub const …CHANNEL…)"));
    }
    for (c, at) in rust.iter().filter(|(c, _)| !sql.contains(c)) {
        problems.push(format!("`{c}` ({at}) is never notified in sql/: a listener would wait for nothing"));
    }
    for c in sql.symmetric_difference(&docs) {
        let side = if sql.contains(c) { "is missing from" } else { "is not notified in sql/ but listed in" };
        problems.push(format!("`{c}` {side} the NOTIFY channels table of docs/sql-api.md"));
    }
    assert!(problems.is_empty(), "NOTIFY channel names differ:\n  {}", problems.join("\n  "));
    assert!(sql.len() >= 6, "expected the engine's channels in sql/, found {sql:?}");
}
