//! The schema as a freshly migrated database has it (`migrations/` then `sql/`), committed as
//! `tests/snapshots/schema.sql`, so every change to tables, functions, views, comments and
//! grants shows in review as a diff of one file.
//!
//! The snapshot is `pg_dump --schema-only --no-owner` of schemas `tasker` and `tasker_audit` (when
//! it exists). pgmq is left out: its objects belong to the pgmq installer and its version, not to
//! this repository. The dump is normalised: no header or version comments, no `SET` lines, no
//! `\restrict` lines, no runs of blank lines.
//!
//! Regenerate after an intended change with
//! `TASKER_UPDATE_SNAPSHOT=1 cargo test --test engine schema_snapshot`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::test_db;

const SNAPSHOT: &str = "tests/snapshots/schema.sql";
const REGENERATE: &str = "TASKER_UPDATE_SNAPSHOT=1 cargo test --test engine schema_snapshot";

/// `pg_dump` next to the server binaries the harness uses, else the first on `PATH`.
fn pg_dump() -> PathBuf {
    tasker_orchestration::db::embedded::find_bin_dir()
        .map(|dir| dir.join("pg_dump"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("pg_dump"))
}

/// Drops what differs between runs and machines and is not schema.
fn normalise(dump: &str) -> String {
    let is_noise = |line: &str| {
        line.starts_with("SET ")
            || line.starts_with("SELECT pg_catalog.set_config('search_path'")
            || line.starts_with("\\restrict")
            || line.starts_with("\\unrestrict")
            || line.starts_with("-- Dumped from database version")
            || line.starts_with("-- Dumped by pg_dump version")
            || line == "-- PostgreSQL database dump"
            || line == "-- PostgreSQL database dump complete"
    };
    let lines: Vec<&str> = dump.lines().map(str::trim_end).collect();
    let mut out: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        // pg_dump's comment blocks are `--`, `-- text`, `--`: a noise block goes as a whole.
        if lines[i] == "--" && lines.get(i + 2) == Some(&"--") && lines.get(i + 1).is_some_and(|l| is_noise(l)) {
            i += 3;
            continue;
        }
        let line = lines[i];
        i += 1;
        if is_noise(line) || (line.is_empty() && !out.last().is_some_and(|l| !l.is_empty())) {
            continue;
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// A short line diff of `old` -> `new` (longest common subsequence), at most `max` changed lines
/// with a line of context each side.
fn diff(old: &str, new: &str, max: usize) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    // (kind, old line number, text)
    let mut ops: Vec<(char, usize, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push((' ', i + 1, a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', i + 1, a[i]));
            i += 1;
        } else {
            ops.push(('+', i + 1, b[j]));
            j += 1;
        }
    }
    let changed: Vec<usize> = ops.iter().enumerate().filter(|(_, o)| o.0 != ' ').map(|(k, _)| k).collect();
    let mut out = String::new();
    let mut last_shown: Option<usize> = None;
    for &k in changed.iter().take(max) {
        let from = k.saturating_sub(1);
        for (idx, (kind, line_no, text)) in ops.iter().enumerate().take(k + 2).skip(from) {
            if last_shown.is_some_and(|l| idx <= l) {
                continue;
            }
            if !last_shown.is_some_and(|l| idx <= l + 1) {
                out.push_str(&format!("@@ {SNAPSHOT} near line {line_no}\n"));
            }
            out.push_str(&format!("{kind} {text}\n"));
            last_shown = Some(idx);
        }
    }
    if changed.len() > max {
        out.push_str(&format!("… and {} more changed lines\n", changed.len() - max));
    }
    out
}

#[tokio::test]
async fn schema_snapshot_matches_a_freshly_migrated_database() {
    let db = test_db().await;
    let exe = pg_dump();
    let out = Command::new(&exe)
        .args(["--schema-only", "--no-owner", "--schema=tasker", "--schema=tasker_audit", "--dbname"])
        .arg(&db.url)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", exe.display()));
    assert!(out.status.success(), "{} failed: {}", exe.display(), String::from_utf8_lossy(&out.stderr));
    let actual = normalise(&String::from_utf8(out.stdout).expect("pg_dump writes UTF-8"));
    assert!(actual.contains("CREATE TABLE tasker.tasks"), "the dump has no tasker.tasks table:\n{actual}");

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT);
    if std::env::var("TASKER_UPDATE_SNAPSHOT").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("snapshot directory")).expect("create tests/snapshots");
        std::fs::write(&path, &actual).expect("write the schema snapshot");
        eprintln!("wrote {SNAPSHOT}");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {SNAPSHOT}: {e}; create it with `{REGENERATE}`"));
    if expected != actual {
        let version = Command::new(&exe)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        panic!(
            "the migrated schema differs from {SNAPSHOT} (- snapshot, + database; dumped with {version}):\n\n{}\n\
             If the change is intended, regenerate the snapshot and commit it:\n    {REGENERATE}",
            diff(&expected, &actual, 40)
        );
    }
}

#[test]
fn normalise_drops_session_settings_versions_and_blank_runs() {
    let dump = "--\n-- PostgreSQL database dump\n--\n\n\\restrict abc\n-- Dumped from database version 15.14\n\
                -- Dumped by pg_dump version 15.14\n\nSET statement_timeout = 0;\n\
                SELECT pg_catalog.set_config('search_path', '', false);\n\n\n--\n-- Name: tasker; Type: SCHEMA\n--\n\n\
                CREATE SCHEMA tasker;\n\n\n\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc\n";
    assert_eq!(normalise(dump), "--\n-- Name: tasker; Type: SCHEMA\n--\n\nCREATE SCHEMA tasker;\n");
}

#[test]
fn diff_shows_changed_lines_with_context() {
    let d = diff("a\nb\nc\nd\n", "a\nB\nc\nd\n", 10);
    assert!(d.contains("- b\n+ B\n"), "{d}");
    assert!(d.contains("  a\n") && d.contains("  c\n"), "{d}");
}
