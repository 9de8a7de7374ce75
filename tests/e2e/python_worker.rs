//! The Python worker of `docs/worker-protocol.md`, run as written there (extracted from the page,
//! so the page cannot go stale) under a worker login made by `tasker-server worker-login`,
//! against a `tasker-server` process: a diamond task completes with every step's result from
//! the Python handler. psycopg comes from PyPI into a virtualenv cached under `target/tmp/`;
//! without python3 (venv, pip) or PyPI the test is skipped with a note, except under `CI`.

use std::path::Path;

use serde_json::json;
use tasker_orchestration::testing::{python, test_db, url_with_user};

use super::support::{steps, wait_for_tasks, Process, Scratch, ServerProcess};

/// The psycopg release the example is run with.
const PSYCOPG: &str = "psycopg[binary]==3.3.9";

/// The first ```python block after the "A worker in Python" heading of the page.
fn python_example() -> String {
    let page = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/worker-protocol.md"))
        .expect("read docs/worker-protocol.md");
    let section = page.split_once("## A worker in Python").expect("the page has a Python worker section").1;
    let body = section.split_once("```python\n").expect("the section has a python block").1;
    body.split_once("\n```").expect("the python block is closed").0.to_string()
}

#[tokio::test]
async fn the_python_worker_of_the_protocol_page_runs_a_task_under_a_worker_login() {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let Some(venv) = python::venv(tmp, "psycopg-3.3.9", &[PSYCOPG], |dir| {
        std::process::Command::new(dir.join("bin/python"))
            .args(["-c", "import psycopg"])
            .output()
            .is_ok_and(|o| o.status.success())
    }) else {
        return;
    };
    let scratch = Scratch::new("python-worker");
    let script = scratch.path().join("noop_worker.py");
    std::fs::write(&script, python_example()).expect("write the example");

    let db = test_db().await;
    let server = ServerProcess::start(&scratch, "server", &db.url).await;
    let role = format!("tasker_py_worker_{}", std::process::id());
    let env =
        |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect::<Vec<_>>();
    let login_args: Vec<String> = ["worker-login", &role, "--namespaces", "demo"].map(String::from).to_vec();
    Process::start(
        &scratch,
        "worker-login",
        env!("CARGO_BIN_EXE_tasker-server"),
        &login_args,
        &env(&[("DATABASE_URL", &db.url), ("TASKER_WORKER_PASSWORD", "py-secret")]),
        scratch.path(),
    )
    .expect_success()
    .await;

    let worker_url = url_with_user(&db.url, &role, "py-secret");
    let python = venv.join("bin/python").display().to_string();
    let mut worker = Process::start(
        &scratch,
        "python-worker",
        &python,
        &[script.display().to_string(), "demo".to_string()],
        &env(&[("DATABASE_URL", &worker_url), ("PYTHONUNBUFFERED", "1")]),
        scratch.path(),
    );

    let task = server.api.create_task("demo", "diamond", json!({})).await;
    wait_for_tasks(&db.pool, &[task], "complete").await;
    worker.assert_running();
    for step in steps(&db.pool, task).await {
        assert_eq!(
            step.results,
            Some(json!({"ok": true, "step": step.step_name})),
            "step {} ran in Python",
            step.step_name
        );
    }
    let claimed_by: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT metadata->>'worker' FROM tasker.workflow_step_transitions
          WHERE task_uuid = $1 AND to_state = 'in_progress'",
    )
    .bind(task)
    .fetch_all(&db.pool)
    .await
    .expect("read step history");
    assert!(claimed_by.len() == 1 && claimed_by[0].starts_with("py-"), "claimed by the Python worker: {claimed_by:?}");
    worker.terminate().await;
}
