//! Real processes for the end-to-end tests: `tasker-server` and `tasker-worker` started from the
//! binaries cargo built, on the test's own database and ports, logging to a per-test directory.
//!
//! Every guard kills its process when dropped; when the test is failing it first prints the tail
//! of the process's log, so a failure shows what the server and workers were doing. Every wait is
//! bounded ([`WAIT`]) and fails with the state of the tasks and steps it waited for.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::{Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

/// Longest any single wait of a test may take.
pub const WAIT: Duration = Duration::from_secs(60);
/// How often waits poll.
pub const POLL: Duration = Duration::from_millis(50);
/// Bytes of a process log printed when a test fails.
const LOG_TAIL_BYTES: u64 = 12 * 1024;

/// States a task does not leave by itself.
pub const TERMINAL_TASK_STATES: &[&str] = &["complete", "error", "cancelled", "resolved_manually"];

/// A directory for one test's process logs: kept when the test fails (or `TASKER_E2E_KEEP_LOGS`
/// is set), removed when it passes.
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// `$TMPDIR/tasker-e2e-<pid>-<test>`, emptied.
    pub fn new(test: &str) -> Scratch {
        let path = std::env::temp_dir().join(format!("tasker-e2e-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        Scratch { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("TASKER_E2E_KEEP_LOGS").is_some() {
            eprintln!("e2e: process logs kept in {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// `n` distinct free TCP ports on 127.0.0.1 (all bound at once, then released).
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> =
        (0..n).map(|_| TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port")).collect();
    listeners.iter().map(|l| l.local_addr().expect("local addr").port()).collect()
}

/// The last [`LOG_TAIL_BYTES`] of a log file.
pub fn log_tail(path: &Path) -> String {
    let Ok(mut f) = File::open(path) else {
        return format!("(no log at {})", path.display());
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// A command for one of the crate's binaries: run from the crate root (so `config/` is found),
/// with no `TASKER*` or `DATABASE_URL` variables inherited from the test's environment, and its
/// output appended to `log`.
fn command(binary: &str, log: &Path) -> Command {
    command_in(binary, log, Path::new(env!("CARGO_MANIFEST_DIR")))
}

/// [`command`] run from `dir` instead of the crate root.
fn command_in(binary: &str, log: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(binary);
    cmd.current_dir(dir);
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("TASKER") || k == "DATABASE_URL" || k == "RUST_LOG" {
            cmd.env_remove(&key);
        }
    }
    cmd.env("RUST_LOG", "info,sqlx=warn").env("NO_COLOR", "1");
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("opening {}: {e}", log.display()));
    let err = out.try_clone().expect("clone the log handle");
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    cmd
}

/// A child process that is killed when dropped, printing its log tail if the test is failing.
struct Guarded {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Guarded {
    fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> Guarded {
        let child = cmd.spawn().unwrap_or_else(|e| panic!("starting {name} ({:?}): {e}", cmd.get_program()));
        Guarded { name: name.to_string(), child: Some(child), log }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// `Some(description)` when the process has exited.
    fn exited(&mut self) -> Option<String> {
        match self.child.as_mut().map(Child::try_wait) {
            None => Some("killed by the test".into()),
            Some(Ok(Some(status))) => Some(status.to_string()),
            Some(Ok(None)) => None,
            Some(Err(e)) => Some(format!("unknown ({e})")),
        }
    }

    /// SIGKILL, then reap.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits (at most [`WAIT`]) for the process to exit; returns how it exited.
    async fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.pid().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} ({}) failed", self.name);
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return status;
                }
            }
            if Instant::now() > deadline {
                let report = self.report();
                panic!("{} did not exit within {WAIT:?} of SIGTERM:\n{report}", self.name);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn report(&mut self) -> String {
        let status = self.exited().map(|s| format!("exited: {s}")).unwrap_or_else(|| "running".into());
        format!(
            "----- {} (pid {}, {status}) log tail: {} -----\n{}\n----- end of {} -----",
            self.name,
            self.pid(),
            self.log.display(),
            log_tail(&self.log),
            self.name
        )
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.report());
        }
        self.kill();
    }
}

/// Any process the test starts with its own arguments and environment (on top of a clean one:
/// no `TASKER*`, `DATABASE_URL` or `RUST_LOG` inherited), from `dir`, killed when dropped.
pub struct Process {
    proc: Guarded,
}

impl Process {
    /// Starts `binary` with `args` and `env` in `dir`, logging to `<scratch>/<name>.log`.
    pub fn start(
        scratch: &Scratch,
        name: &str,
        binary: &str,
        args: &[String],
        env: &[(String, String)],
        dir: &Path,
    ) -> Process {
        let log = scratch.path().join(format!("{name}.log"));
        let mut cmd = command_in(binary, &log, dir);
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Process { proc: Guarded::spawn(name, cmd, log) }
    }

    /// Panics with the log tail when the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.proc.exited() {
            let report = self.proc.report();
            panic!("{} exited unexpectedly ({status}):\n{report}", self.proc.name);
        }
    }

    /// SIGTERM, then waits for the exit; returns how it exited.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        self.proc.terminate().await
    }

    /// Waits (up to [`WAIT`]) for a one-shot process to exit on its own; panics with its log
    /// tail unless it exited successfully.
    pub async fn expect_success(&mut self) {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(child) = self.proc.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.proc.child = None;
                    if status.success() {
                        return;
                    }
                    let report = self.proc.report();
                    panic!("{} failed ({status}):\n{report}", self.proc.name);
                }
            }
            if Instant::now() > deadline {
                let report = self.proc.report();
                panic!("{} did not exit within {WAIT:?}:\n{report}", self.proc.name);
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// A `tasker-server` process on a test database.
pub struct ServerProcess {
    proc: Guarded,
    /// Its REST port on 127.0.0.1.
    pub port: u16,
    /// A client of its REST API.
    pub api: Api,
}

impl ServerProcess {
    /// Starts `tasker-server` (`TASKER_ENV=test`) on `database_url` with free REST and gRPC ports
    /// and no embedded worker; returns once `GET /health` answers 200.
    pub async fn start(scratch: &Scratch, name: &str, database_url: &str) -> ServerProcess {
        Self::start_with(scratch, name, database_url, &[]).await
    }

    /// [`ServerProcess::start`] with extra `TASKER__…` variables.
    pub async fn start_with(scratch: &Scratch, name: &str, database_url: &str, env: &[(&str, &str)]) -> ServerProcess {
        let log = scratch.path().join(format!("{name}.log"));
        // A port taken between picking and binding makes the start fail: try again on new ports.
        for attempt in 1..=3 {
            let ports = free_ports(2);
            let (port, grpc_port) = (ports[0], ports[1]);
            let mut cmd = command(env!("CARGO_BIN_EXE_tasker-server"), &log);
            cmd.env("TASKER_ENV", "test")
                .env("DATABASE_URL", database_url)
                .env("TASKER__ORCHESTRATION__WEB__HOST", "127.0.0.1")
                .env("TASKER__ORCHESTRATION__WEB__PORT", port.to_string())
                .env("TASKER__ORCHESTRATION__GRPC__HOST", "127.0.0.1")
                .env("TASKER__ORCHESTRATION__GRPC__PORT", grpc_port.to_string())
                .env("TASKER__WORKER__EMBEDDED", "false");
            for (k, v) in env {
                cmd.env(k, v);
            }
            let mut proc = Guarded::spawn(name, cmd, log.clone());
            let api = Api::new(format!("http://127.0.0.1:{port}"));
            let deadline = Instant::now() + WAIT;
            loop {
                if let Some(status) = proc.exited() {
                    let tail = log_tail(&log);
                    if attempt < 3 && (tail.contains("binding") || tail.contains("Address already in use")) {
                        break;
                    }
                    panic!("{name} exited ({status}) before answering /health:\n{}", proc.report());
                }
                if api.health_ok().await {
                    return ServerProcess { proc, port, api };
                }
                if Instant::now() > deadline {
                    panic!("{name} did not answer GET /health with 200 within {WAIT:?}:\n{}", proc.report());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        unreachable!("the third attempt either returns or panics")
    }

    /// SIGKILL: no shutdown, no draining, connections dropped mid-transaction.
    pub fn kill(&mut self) {
        self.proc.kill();
    }

    /// SIGTERM (graceful shutdown); returns the exit status.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        self.proc.terminate().await
    }
}

/// Options of a `tasker-worker` process.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// `--worker-id`.
    pub id: String,
    /// `--concurrency`.
    pub concurrency: usize,
    /// `--visibility-timeout-secs`.
    pub visibility_timeout_secs: u64,
    /// `--heartbeat-interval-ms` (the binary's default: a third of the visibility timeout).
    pub heartbeat_interval_ms: Option<u64>,
    /// `--poll-interval-ms`.
    pub poll_interval_ms: u64,
    /// `--record-executions`.
    pub record_executions: bool,
}

impl WorkerOptions {
    /// Concurrency 8, visibility timeout 30 s, polling every 100 ms, executions recorded.
    pub fn new(id: &str) -> WorkerOptions {
        WorkerOptions {
            id: id.to_string(),
            concurrency: 8,
            visibility_timeout_secs: 30,
            heartbeat_interval_ms: None,
            poll_interval_ms: 100,
            record_executions: true,
        }
    }
}

/// A `tasker-worker` process serving every namespace with the built-in handlers.
pub struct WorkerProcess {
    proc: Guarded,
    /// Its options (the id appears in step history and the execution audit).
    pub options: WorkerOptions,
}

impl WorkerProcess {
    /// Starts `tasker-worker` on `database_url`. Returns at once: a worker has no readiness
    /// endpoint, and steps wait in their queue until it claims them.
    pub fn start(scratch: &Scratch, options: WorkerOptions, database_url: &str) -> WorkerProcess {
        let log = scratch.path().join(format!("{}.log", options.id));
        let mut cmd = command(env!("CARGO_BIN_EXE_tasker-worker"), &log);
        cmd.arg("--database-url")
            .arg(database_url)
            .arg("--worker-id")
            .arg(&options.id)
            .arg("--concurrency")
            .arg(options.concurrency.to_string())
            .arg("--visibility-timeout-secs")
            .arg(options.visibility_timeout_secs.to_string())
            .arg("--poll-interval-ms")
            .arg(options.poll_interval_ms.to_string());
        if let Some(ms) = options.heartbeat_interval_ms {
            cmd.arg("--heartbeat-interval-ms").arg(ms.to_string());
        }
        if options.record_executions {
            cmd.arg("--record-executions");
        }
        let proc = Guarded::spawn(&options.id, cmd, log);
        WorkerProcess { proc, options }
    }

    /// SIGKILL: running handlers die with the process, their results are never reported.
    pub fn kill(&mut self) {
        self.proc.kill();
    }

    /// SIGTERM (graceful shutdown: running steps finish and report); returns the exit status.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        self.proc.terminate().await
    }

    /// Panics with the log tail when the worker has exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.proc.exited() {
            panic!("worker {} exited unexpectedly ({status}):\n{}", self.options.id, self.proc.report());
        }
    }
}

/// A small client of the REST API.
#[derive(Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    /// A client of `base` (`http://host:port`).
    pub fn new(base: String) -> Api {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(15)).build().expect("http client");
        Api { base, http }
    }

    /// Whether `GET /health` answers 200.
    pub async fn health_ok(&self) -> bool {
        let probe = self.http.get(format!("{}/health", self.base)).timeout(Duration::from_secs(2)).send().await;
        matches!(probe, Ok(r) if r.status() == reqwest::StatusCode::OK)
    }

    /// `POST /v1/tasks`; panics unless the answer is 201. Returns the task uuid.
    pub async fn create_task(&self, namespace: &str, name: &str, context: Value) -> Uuid {
        self.try_create_task(namespace, name, context).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// `POST /v1/tasks`: the task uuid, or what went wrong (no answer, or not 201).
    pub async fn try_create_task(&self, namespace: &str, name: &str, context: Value) -> Result<Uuid, String> {
        let body = json!({"namespace": namespace, "name": name, "context": context});
        let what = format!("POST /v1/tasks {body} on {}", self.base);
        let resp = self.http.post(format!("{}/v1/tasks", self.base)).json(&body).send().await;
        let resp = resp.map_err(|e| format!("{what}: {e}"))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if status != reqwest::StatusCode::CREATED {
            return Err(format!("{what}: {status} {text}"));
        }
        let task: Value = serde_json::from_str(&text).map_err(|e| format!("{what}: task JSON {text}: {e}"))?;
        task["task_uuid"].as_str().and_then(|s| s.parse().ok()).ok_or_else(|| format!("{what}: no task_uuid in {text}"))
    }

    /// `GET /v1/tasks/{uuid}`; panics unless the answer is 200.
    pub async fn get_task(&self, task: Uuid) -> Value {
        let resp = self
            .http
            .get(format!("{}/v1/tasks/{task}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /v1/tasks/{task}: {e}"));
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert_eq!(status, reqwest::StatusCode::OK, "GET /v1/tasks/{task}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("task JSON {text}: {e}"))
    }

    /// `DELETE /v1/tasks/{uuid}?reason=…`. Returns the status and body.
    pub async fn cancel_task(&self, task: Uuid, reason: &str) -> (reqwest::StatusCode, Value) {
        let resp = self
            .http
            .delete(format!("{}/v1/tasks/{task}", self.base))
            .query(&[("reason", reason)])
            .send()
            .await
            .unwrap_or_else(|e| panic!("DELETE /v1/tasks/{task}: {e}"));
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

/// Registers a template given as JSON.
pub async fn register_template(pool: &PgPool, definition: Value) {
    sqlx::query("SELECT tasker.register_template($1)")
        .bind(&definition)
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("registering {definition}: {e}"));
}

/// A chain of `sleep` steps `s1 -> s2 -> …`, each sleeping `ms`, in namespace `e2e`.
pub fn sleep_chain(name: &str, steps: usize, ms: u64) -> Value {
    let steps: Vec<Value> = (1..=steps)
        .map(|i| {
            let mut step = json!({"name": format!("s{i}"), "handler": "sleep", "inputs": {"ms": ms}});
            if i > 1 {
                step["depends_on"] = json!([format!("s{}", i - 1)]);
            }
            step
        })
        .collect();
    json!({"namespace": "e2e", "name": name, "version": "1.0.0", "steps": steps})
}

/// Polls `probe` every [`POLL`] until it returns `Some`, for at most [`WAIT`]; on timeout panics
/// with `what` and the description `explain` gives of the current state.
pub async fn wait_until<T, P, PF, E, EF>(what: &str, mut probe: P, explain: E) -> T
where
    P: FnMut() -> PF,
    PF: Future<Output = Option<T>>,
    E: FnOnce() -> EF,
    EF: Future<Output = String>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        if Instant::now() > deadline {
            let state = explain().await;
            panic!("timed out after {WAIT:?} waiting for {what}\n{state}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// One step, as `tasker.step_overview` shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StepRow {
    pub step_uuid: Uuid,
    pub step_name: String,
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub results: Option<Value>,
    pub last_error_message: Option<String>,
    pub enqueued_at: Option<chrono::DateTime<chrono::Utc>>,
    pub claimed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub completed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The steps of a task in template order.
pub async fn steps(pool: &PgPool, task: Uuid) -> Vec<StepRow> {
    sqlx::query_as(
        "SELECT step_uuid, step_name, state, attempts, max_attempts, results, last_error_message,
                enqueued_at, claimed_at, completed_at
           FROM tasker.step_overview WHERE task_uuid = $1 ORDER BY position",
    )
    .bind(task)
    .fetch_all(pool)
    .await
    .expect("read step_overview")
}

/// The step of a task named `name`.
pub async fn step(pool: &PgPool, task: Uuid, name: &str) -> StepRow {
    steps(pool, task)
        .await
        .into_iter()
        .find(|s| s.step_name == name)
        .unwrap_or_else(|| panic!("task {task} has no step {name}"))
}

/// A task's state.
pub async fn task_state(pool: &PgPool, task: Uuid) -> String {
    sqlx::query_scalar("SELECT state FROM tasker.task_overview WHERE task_uuid = $1")
        .bind(task)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("state of task {task}: {e}"))
}

/// A readable account of a task and its steps (steps beyond the first 30 are summarized).
pub async fn describe_task(pool: &PgPool, task: Uuid) -> String {
    let head: Option<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT namespace, name, state, last_error_message FROM tasker.task_overview WHERE task_uuid = $1",
    )
    .bind(task)
    .fetch_optional(pool)
    .await
    .unwrap_or(None);
    let Some((ns, name, state, err)) = head else {
        return format!("task {task}: not found\n");
    };
    let mut out = format!("task {task} ({ns}/{name}): {state}");
    if let Some(e) = err {
        let _ = write!(out, " (last error: {e})");
    }
    out.push('\n');
    let rows = steps(pool, task).await;
    for s in rows.iter().take(30) {
        let _ = write!(out, "  {:<20} {:<18} attempts {}/{}", s.step_name, s.state, s.attempts, s.max_attempts);
        if let Some(e) = &s.last_error_message {
            let _ = write!(out, " error: {e}");
        }
        out.push('\n');
    }
    if rows.len() > 30 {
        let mut counts = std::collections::BTreeMap::<&str, usize>::new();
        for s in &rows[30..] {
            *counts.entry(s.state.as_str()).or_default() += 1;
        }
        let _ = writeln!(out, "  … {} more steps: {counts:?}", rows.len() - 30);
    }
    out
}

/// Accounts of the given tasks (at most `limit` of them).
pub async fn describe_tasks(pool: &PgPool, tasks: &[Uuid], limit: usize) -> String {
    let mut out = String::new();
    for t in tasks.iter().take(limit) {
        out.push_str(&describe_task(pool, *t).await);
    }
    if tasks.len() > limit {
        let _ = writeln!(out, "… and {} more", tasks.len() - limit);
    }
    out
}

/// Waits until every task is in a terminal state, then asserts each is in `expected`. On timeout
/// or mismatch, panics with the state of the tasks (and steps) that are not.
pub async fn wait_for_tasks(pool: &PgPool, tasks: &[Uuid], expected: &str) {
    let ids = tasks.to_vec();
    let deadline = Instant::now() + WAIT;
    loop {
        let rows: Vec<(Uuid, String)> =
            sqlx::query_as("SELECT task_uuid, state FROM tasker.task_overview WHERE task_uuid = ANY($1)")
                .bind(&ids)
                .fetch_all(pool)
                .await
                .expect("read task states");
        assert_eq!(rows.len(), ids.len(), "some tasks do not exist: {rows:?} of {ids:?}");
        let open: Vec<Uuid> =
            rows.iter().filter(|(_, s)| !TERMINAL_TASK_STATES.contains(&s.as_str())).map(|(t, _)| *t).collect();
        if open.is_empty() {
            let wrong: Vec<Uuid> = rows.iter().filter(|(_, s)| s != expected).map(|(t, _)| *t).collect();
            if !wrong.is_empty() {
                panic!(
                    "{} of {} tasks ended other than {expected}:\n{}",
                    wrong.len(),
                    ids.len(),
                    describe_tasks(pool, &wrong, 5).await
                );
            }
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "{} of {} tasks still not finished after {WAIT:?} (expected {expected}):\n{}",
                open.len(),
                ids.len(),
                describe_tasks(pool, &open, 5).await
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Steps of the given tasks whose recorded executions (`tasker_audit.step_executions`, written by
/// workers started with `--record-executions`) break "executed exactly once per attempt, one
/// success": one line per offending step. Empty when every complete step succeeded exactly once
/// and ran exactly as many times as it has attempts.
pub async fn execution_violations(pool: &PgPool, tasks: &[Uuid]) -> Vec<String> {
    let rows: Vec<(Uuid, String, String, i32, i64, i64)> = sqlx::query_as(
        "SELECT s.task_uuid, s.step_name, s.state, s.attempts,
                count(e.id) AS executions,
                count(e.id) FILTER (WHERE e.outcome = 'success') AS successes
           FROM tasker.step_overview s
           LEFT JOIN tasker_audit.step_executions e ON e.step_uuid = s.step_uuid
          WHERE s.task_uuid = ANY($1)
          GROUP BY s.step_uuid, s.task_uuid, s.step_name, s.state, s.attempts
         HAVING count(e.id) <> s.attempts
             OR count(e.id) FILTER (WHERE e.outcome = 'success') <> (s.state = 'complete')::int
          ORDER BY s.task_uuid, s.step_name",
    )
    .bind(tasks)
    .fetch_all(pool)
    .await
    .expect("read the execution audit");
    rows.into_iter()
        .map(|(task, name, state, attempts, executions, successes)| {
            format!(
                "task {task} step {name}: {state}, attempts {attempts}, executions {executions}, successes {successes}"
            )
        })
        .collect()
}

/// Recorded executions of one step: (attempt, worker id, outcome), in attempt order.
pub async fn executions(pool: &PgPool, step_uuid: Uuid) -> Vec<(i32, String, String)> {
    sqlx::query_as(
        "SELECT attempt, worker_id, outcome FROM tasker_audit.step_executions WHERE step_uuid = $1 ORDER BY attempt, id",
    )
    .bind(step_uuid)
    .fetch_all(pool)
    .await
    .expect("read the execution audit")
}
