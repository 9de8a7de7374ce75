//! The REST API's contract under a fuzzer: schemathesis (from PyPI, in a virtualenv cached under
//! `target/tmp/`) runs every phase (examples, coverage, fuzzing, stateful) against a server in
//! the production configuration, with an API key granting every permission. It fails on any 5xx,
//! any response that does not match its documented status or schema, and any request valid by
//! the document that the server rejects. The OpenAPI document is the contract: a finding is fixed
//! in the annotations (ranges, statuses, media types) or in the server. `tests/fuzz/schemathesis.toml`
//! adjusts a check only where its assumption is not the documented behaviour, with the reason.
//!
//! Bounded: a fixed seed, a fixed number of examples per operation, one worker and a hard
//! timeout. Without python3 (venv, pip) or PyPI the test is skipped with a note, unless `CI` is
//! set, where it fails. `TASKER_FUZZ_MAX_EXAMPLES` and `TASKER_FUZZ_SEED` change the budget and the
//! seed for a longer run by hand.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tasker_orchestration::testing::{python, start_server};

/// The schemathesis release the contract is checked with (a new one may add checks: bump on purpose).
const SCHEMATHESIS_VERSION: &str = "4.32.5";
/// The API key the fuzzer sends; it grants every permission.
const KEY: &str = "fuzz-0123456789abcdef";
/// Seed of the run, so a failure reproduces.
const DEFAULT_SEED: &str = "20251204";
/// Test cases per operation and phase.
const DEFAULT_MAX_EXAMPLES: &str = "40";
/// The whole schemathesis run is killed after this long.
const RUN_TIMEOUT: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rest_api_keeps_its_openapi_contract_under_schemathesis() {
    let Some(schemathesis) = tokio::task::spawn_blocking(install_schemathesis).await.expect("installer thread") else {
        return;
    };
    let keys = format!(r#"[{{name="fuzz", key="{KEY}", permissions=["*"]}}]"#);
    let ts = start_server(&[("TASKER_ENV", "production"), ("TASKER__AUTH__API_KEYS", keys.as_str())]).await;
    let base = ts.rest_url();
    let client = reqwest::Client::new();
    let anonymous = client.get(format!("{base}/v1/templates")).send().await.expect("anonymous request");
    assert_eq!(anonymous.status(), 401, "the production configuration requires API keys");

    // Stateful links need data: the templates of config/tasks are loaded, and one task exists.
    let templates = client.get(format!("{base}/v1/templates")).header("X-API-Key", KEY).send().await.expect("list");
    assert_eq!(templates.status(), 200);
    let templates: serde_json::Value = templates.json().await.expect("templates");
    assert!(templates.as_array().is_some_and(|t| !t.is_empty()), "no templates loaded: {templates}");
    let created = client
        .post(format!("{base}/v1/tasks"))
        .header("X-API-Key", KEY)
        .json(&serde_json::json!({"namespace": "demo", "name": "diamond", "context": {}}))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), 201);

    let seed = std::env::var("TASKER_FUZZ_SEED").unwrap_or_else(|_| DEFAULT_SEED.into());
    let max_examples = std::env::var("TASKER_FUZZ_MAX_EXAMPLES").unwrap_or_else(|_| DEFAULT_MAX_EXAMPLES.into());
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-run");
    std::fs::create_dir_all(&work).expect("work dir");
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/schemathesis.toml");
    let mut cmd = tokio::process::Command::new(&schemathesis);
    cmd.current_dir(&work)
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("{base}/api-docs/openapi.json")])
        .args(["--header", &format!("X-API-Key: {KEY}")])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--checks", "all"])
        .args(["--max-examples", &max_examples])
        .args(["--seed", &seed])
        .args(["--workers", "1"])
        .args(["--generation-database", "none"])
        .args(["--request-timeout", "10"])
        .args(["--no-color"])
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let started = Instant::now();
    let out = match tokio::time::timeout(RUN_TIMEOUT, cmd.output()).await {
        Ok(out) => out.expect("running schemathesis"),
        Err(_) => panic!("schemathesis did not finish within {RUN_TIMEOUT:?} (seed {seed}, {max_examples} examples)"),
    };
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let took = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "schemathesis found contract violations (seed {seed}, {max_examples} examples; exit {:?}):\n{text}",
        out.status.code()
    );
    eprintln!("{text}\nschemathesis took {took:.1} s");
}

/// The schemathesis executable of a virtualenv under `target/tmp/`, made on first use. `None`
/// (with a note) when python3, venv or PyPI are unavailable outside CI; a panic in CI.
fn install_schemathesis() -> Option<PathBuf> {
    let requirement = format!("schemathesis=={SCHEMATHESIS_VERSION}");
    let venv = python::venv(
        Path::new(env!("CARGO_TARGET_TMPDIR")),
        &format!("schemathesis-{SCHEMATHESIS_VERSION}"),
        &[&requirement],
        |dir| reports_version(&dir.join("bin/schemathesis")),
    )?;
    Some(venv.join("bin/schemathesis"))
}

/// Whether `exe` runs and is the pinned version.
fn reports_version(exe: &Path) -> bool {
    Command::new(exe)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains(SCHEMATHESIS_VERSION))
}
