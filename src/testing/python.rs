//! Python tools for tests: a virtualenv under the test target's temporary directory with pinned
//! packages from PyPI, made on first use and reused afterwards.
//!
//! Without python3 (venv, pip) or PyPI, [`venv`] returns `None` after printing why, so a test can
//! skip itself on a developer machine; when the `CI` environment variable is set it panics
//! instead, so CI never passes by skipping.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A virtualenv `name` under `tmp_dir` with `requirements` (pip specifiers, pinned) installed;
/// `ready` says whether an existing one is usable (given the venv's directory), so it is made
/// once and reused. `None` (with a note) when it cannot be made outside CI.
///
/// # Panics
/// Under `CI`, when the virtualenv cannot be made or is not ready once made.
pub fn venv(tmp_dir: &Path, name: &str, requirements: &[&str], ready: impl Fn(&Path) -> bool) -> Option<PathBuf> {
    let dir = tmp_dir.join(name);
    if ready(&dir) {
        return Some(dir);
    }
    eprintln!("making the python virtualenv {dir:?} with {requirements:?}");
    let _ = std::fs::remove_dir_all(&dir);
    let pip = dir.join("bin/pip").display().to_string();
    let mut install = vec!["install".to_string(), "--quiet".to_string()];
    install.extend(requirements.iter().map(|r| (*r).to_string()));
    let steps: [(String, Vec<String>); 2] =
        [("python3".into(), vec!["-m".into(), "venv".into(), dir.display().to_string()]), (pip, install)];
    for (program, args) in &steps {
        let result = Command::new(program).args(args).stdin(Stdio::null()).output();
        let failure = match result {
            Ok(o) if o.status.success() => continue,
            Ok(o) => format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)),
            Err(e) => e.to_string(),
        };
        let _ = std::fs::remove_dir_all(&dir);
        let why = format!("cannot make the virtualenv {name} ({program} {}): {failure}", args.join(" "));
        assert!(std::env::var_os("CI").is_none(), "{why}\nthis test needs python3 with venv and pip, and PyPI");
        eprintln!("skipping: {why}");
        return None;
    }
    assert!(ready(&dir), "the virtualenv {dir:?} was made with {requirements:?} but is not usable");
    Some(dir)
}
