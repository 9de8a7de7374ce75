//! Runs the examples of `docs/sql-api.md`, so they cannot go stale.
//!
//! The page's conventions, which this test enforces:
//! - every ` ```sql ` block runs, in page order, in one `psql` session (variables set with
//!   `\gset` carry over), against a fresh database with the example templates of `config/tasks/`
//!   registered; a block that fails stops the run;
//! - a ` ```text ` block right after a ` ```sql ` block is that block's output. It is compared line
//!   by line, ignoring alignment and blank lines; in the expected text a UUID stands for any UUID,
//!   a timestamp for any timestamp, and `…` for anything. When it starts with `ERROR:` the block
//!   is expected to fail with that error (the only case where a failure does not stop the run);
//! - ` ```sql signature ` blocks show a function's signature and are not run;
//! - a ` ```sql ` block whose first line is `-- not run: <why>` is illustrative only (use sparingly).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::support::{load_examples, test_db};

const DOC: &str = "docs/sql-api.md";

/// A fenced block of the page.
#[derive(Debug)]
struct Block {
    /// Line of the opening fence (1-based).
    line: usize,
    /// The info string (` ```sql signature ` -> `sql signature`).
    info: String,
    body: String,
}

fn blocks(doc: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (n, line) in doc.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block { line: n + 1, info: info.trim().to_string(), body: String::new() });
            }
            (Some(_), Some(_)) => out.extend(open.take()),
            (Some(b), None) => {
                b.body.push_str(line);
                b.body.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "{DOC}: a fenced block is not closed");
    out
}

/// A `sql` block to run, with the output the page shows for it.
struct Example {
    line: usize,
    sql: String,
    expected: Option<String>,
}

impl Example {
    fn expects_error(&self) -> bool {
        self.expected.as_deref().is_some_and(|e| e.trim_start().starts_with("ERROR:"))
    }
}

fn examples(doc: &str) -> Vec<Example> {
    let lines: Vec<&str> = doc.lines().collect();
    let all = blocks(doc);
    let mut out = Vec::new();
    for (i, b) in all.iter().enumerate() {
        if b.info != "sql" || b.body.trim_start().starts_with("-- not run:") {
            continue;
        }
        // The next block is this one's output when only blank lines separate them.
        let end = b.line + b.body.lines().count() + 1; // the closing fence, 1-based
        let expected = all
            .get(i + 1)
            .filter(|next| next.info == "text" && lines[end..next.line - 1].iter().all(|l| l.trim().is_empty()));
        out.push(Example { line: b.line, sql: b.body.clone(), expected: expected.map(|e| e.body.clone()) });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Comparing output
// ---------------------------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
enum Seg {
    Lit(char),
    Uuid,
    Timestamp,
    Any,
}

fn is_uuid(s: &[char]) -> bool {
    s.len() >= 36
        && s[..36].iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Length of the timestamp at the start of `s` (`2026-11-26 04:08:56.862325+00`, also with `T`
/// and `+00:00`), if there is one.
fn timestamp_len(s: &[char]) -> Option<usize> {
    let shape = "dddd-dd-dd?dd:dd:dd";
    if s.len() < shape.len() {
        return None;
    }
    for (c, p) in s.iter().zip(shape.chars()) {
        let ok = match p {
            'd' => c.is_ascii_digit(),
            '?' => *c == ' ' || *c == 'T',
            lit => *c == lit,
        };
        if !ok {
            return None;
        }
    }
    let mut i = shape.len();
    let digits = |from: usize| s[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    if s.get(i) == Some(&'.') && digits(i + 1) > 0 {
        i += 1 + digits(i + 1);
    }
    if matches!(s.get(i), Some('+' | '-')) && digits(i + 1) == 2 {
        i += 3;
        if s.get(i) == Some(&':') && digits(i + 1) == 2 {
            i += 3;
        }
    }
    Some(i)
}

fn pattern(expected: &str) -> Vec<Seg> {
    let chars: Vec<char> = expected.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '…' {
            out.push(Seg::Any);
            i += 1;
        } else if is_uuid(&chars[i..]) {
            out.push(Seg::Uuid);
            i += 36;
        } else if let Some(n) = timestamp_len(&chars[i..]) {
            out.push(Seg::Timestamp);
            i += n;
        } else {
            out.push(Seg::Lit(chars[i]));
            i += 1;
        }
    }
    out
}

fn matches(pat: &[Seg], s: &[char]) -> bool {
    match pat.first() {
        None => s.is_empty(),
        Some(Seg::Lit(c)) => s.first() == Some(c) && matches(&pat[1..], &s[1..]),
        Some(Seg::Uuid) => is_uuid(s) && matches(&pat[1..], &s[36..]),
        Some(Seg::Timestamp) => timestamp_len(s).is_some_and(|n| matches(&pat[1..], &s[n..])),
        Some(Seg::Any) => (0..=s.len()).any(|k| matches(&pat[1..], &s[k..])),
    }
}

/// A line with alignment removed: runs of blanks become one space, runs of `-` in a table's
/// header rule become one.
fn normalise_line(line: &str) -> String {
    let collapsed = line.split_whitespace().collect::<Vec<_>>().join(" ");
    if !collapsed.is_empty() && collapsed.chars().all(|c| c == '-' || c == '+') {
        let mut rule = String::new();
        for c in collapsed.chars() {
            if !(c == '-' && rule.ends_with('-')) {
                rule.push(c);
            }
        }
        return rule;
    }
    collapsed
}

fn normalised_lines(text: &str) -> Vec<String> {
    text.lines().map(normalise_line).filter(|l| !l.is_empty()).collect()
}

/// Why `actual` does not show what `expected` shows, if it does not.
fn mismatch(expected: &str, actual: &str) -> Option<String> {
    let exp = normalised_lines(expected);
    let act = normalised_lines(actual);
    for (i, e) in exp.iter().enumerate() {
        let Some(a) = act.get(i) else {
            return Some(format!("output ends before expected line {}: {e}", i + 1));
        };
        if !matches(&pattern(e), &a.chars().collect::<Vec<_>>()) {
            return Some(format!("line {}:\n    expected: {e}\n    actual:   {a}", i + 1));
        }
    }
    (act.len() > exp.len()).then(|| format!("unexpected output after line {}: {}", exp.len(), act[exp.len()]))
}

// ---------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------

fn psql() -> PathBuf {
    tasker_orchestration::db::embedded::find_bin_dir()
        .map(|dir| dir.join("psql"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("psql"))
}

const MARK: &str = "@@example-at-line ";

/// Runs every example in one psql session (reading stdin, so errors carry no script location);
/// returns the output of each, in order, and psql's exit status.
fn run(url: &str, examples: &[Example]) -> (Vec<(usize, String)>, bool, String) {
    let mut script = String::from("\\set ON_ERROR_STOP 1\n\\pset footer off\n");
    for ex in examples {
        script.push_str(&format!("\\echo '{MARK}{}'\n", ex.line));
        if ex.expects_error() {
            script.push_str("\\set ON_ERROR_STOP 0\n");
        }
        script.push_str(&ex.sql);
        if ex.expects_error() {
            script.push_str("\\set ON_ERROR_STOP 1\n");
        }
    }
    // One file for stdout and stderr keeps errors in place among the results.
    let out_path = std::env::temp_dir().join(format!("tasker-sql-api-examples-{}.out", std::process::id()));
    let out = std::fs::File::create(&out_path).expect("create the psql output file");
    let exe = psql();
    let mut child = Command::new(&exe)
        .args(["-X", "-q", "--no-psqlrc", "-d", url])
        .stdin(Stdio::piped())
        .stdout(out.try_clone().expect("clone the output file"))
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("running {}: {e}", exe.display()));
    child.stdin.take().expect("psql stdin").write_all(script.as_bytes()).expect("write the examples to psql");
    let status = child.wait().expect("wait for psql");
    let text = std::fs::read_to_string(&out_path).expect("read the psql output");
    let _ = std::fs::remove_file(&out_path);

    let mut outputs: Vec<(usize, String)> = Vec::new();
    let mut preamble = String::new();
    for line in text.lines() {
        if let Some(n) = line.strip_prefix(MARK) {
            outputs.push((n.trim().parse().expect("example line"), String::new()));
        } else if let Some((_, o)) = outputs.last_mut() {
            o.push_str(line);
            o.push('\n');
        } else {
            preamble.push_str(line);
            preamble.push('\n');
        }
    }
    (outputs, status.success(), preamble)
}

#[tokio::test]
async fn every_sql_example_in_sql_api_md_runs_and_shows_its_output() {
    let db = test_db().await;
    load_examples(&db.pool).await;
    let doc =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC)).expect("read the doc");
    let examples = examples(&doc);
    assert!(examples.len() > 20, "expected the page's examples, found {}", examples.len());

    let (outputs, ok, preamble) = run(&db.url, &examples);
    assert!(preamble.trim().is_empty(), "psql said before the first example: {preamble}");
    if !ok || outputs.len() < examples.len() {
        let (line, out) = outputs.last().cloned().unwrap_or_default();
        panic!("{DOC}: the example at line {line} failed and stopped the run:\n{out}");
    }

    let mut problems = Vec::new();
    for (ex, (line, actual)) in examples.iter().zip(&outputs) {
        assert_eq!(ex.line, *line, "outputs out of step with the examples");
        match &ex.expected {
            Some(expected) => {
                if let Some(why) = mismatch(expected, actual) {
                    problems.push(format!(
                        "{DOC}:{line}: the output differs from the page: {why}\n  actual output:\n{actual}"
                    ));
                }
            }
            None if actual.contains("ERROR:") => problems.push(format!("{DOC}:{line}: failed:\n{actual}")),
            None => {}
        }
        if ex.expects_error() != actual.contains("ERROR:") && ex.expected.is_some() {
            problems.push(format!("{DOC}:{line}: expected an error: {}", ex.expects_error()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn expected_output_matches_any_uuid_timestamp_and_ellipsis() {
    let expected = " 01a2160a-cef8-7855-b1ee-93b0b53cc59e | charge | 2026-11-26 04:08:56.862325+00 | …";
    assert!(mismatch(expected, "019ae0aa-0000-7000-8000-000000000001 |  charge | 2026-12-02 13:00:01.5+00 | 5 days")
        .is_none());
    assert!(mismatch(expected, "019ae0aa-0000-7000-8000-000000000001 | ship | 2026-12-02 13:00:01+00 | x").is_some());
    assert!(mismatch("a\n----+----\n x | y", "a\n-+-\nx | y\n\n").is_none());
    assert!(mismatch("a", "a\nb").is_some());
}

#[test]
fn a_text_block_after_a_sql_block_is_its_output() {
    let doc = "x\n```sql\nSELECT 1;\n```\n\n```text\n 1\n```\n```sql signature\nf()\n```\n```sql\n-- not run: why\nSELECT;\n```\n```sql\nSELECT 2;\n```\ntext\n```text\nno\n```\n";
    let ex = examples(doc);
    assert_eq!(ex.len(), 2);
    assert_eq!(ex[0].expected.as_deref(), Some(" 1\n"));
    assert_eq!(ex[1].sql, "SELECT 2;\n");
    assert!(ex[1].expected.is_none());
}
