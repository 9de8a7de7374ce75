//! Running the real `tasker` binary against a server started in this process, and reading the
//! same resources through the REST API to compare.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tasker_orchestration::testing::{start_server, TestServer};

/// Overrides that run the built-in handlers in the server, so tasks make progress.
pub const WITH_WORKER: &[(&str, &str)] =
    &[("TASKER__WORKER__EMBEDDED", "true"), ("TASKER__WORKER__POLL_INTERVAL_MS", "100")];

/// Overrides that turn auth on with a reader key and an admin key.
pub const WITH_AUTH: &[(&str, &str)] = &[
    ("TASKER__AUTH__ENABLED", "true"),
    (
        "TASKER__AUTH__API_KEYS",
        r#"[{name="reader",key="reader-key-123",permissions=["tasks:read"]},{name="admin",key="admin-key-123",permissions=["*"]}]"#,
    ),
];

/// Longest a test waits for the engine or for the binary.
pub const WAIT: Duration = Duration::from_secs(60);

/// What one run of the binary did.
#[derive(Debug)]
pub struct Out {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Out {
    /// Asserts the exit code (with both streams in the message) and returns self.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        self.code(0);
        &self.stdout
    }

    /// Asserts success and parses stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        self.code(0);
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    /// Asserts an error line `error: …` on stderr containing `text`, and no Rust debug output.
    #[track_caller]
    pub fn error_mentions(&self, text: &str) -> &Self {
        let first = self.stderr.lines().next().unwrap_or("");
        assert!(first.starts_with("error: "), "stderr: {}", self.stderr);
        assert!(self.stderr.contains(text), "stderr lacks {text:?}: {}", self.stderr);
        assert!(!self.stderr.contains("panicked") && !self.stderr.contains("Error {"), "{}", self.stderr);
        self
    }
}

/// Runs `tasker` with exactly these arguments (no `TASKER_*` variables from the environment).
pub async fn tasker(args: &[&str]) -> Out {
    tasker_with_env(args, &[]).await
}

/// Runs `tasker` with these arguments and environment variables.
pub async fn tasker_with_env(args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = command(args, env);
    cmd.stdin(Stdio::null());
    let out = tokio::time::timeout(WAIT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("tasker {args:?} did not finish in {WAIT:?}"))
        .expect("running tasker");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The command for `tasker args` (stdout and stderr piped, `TASKER_*` client variables removed).
pub fn command(args: &[&str], env: &[(&str, &str)]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tasker"));
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    for var in ["TASKER_URL", "TASKER_API_KEY", "TASKER_GRPC"] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Waits for a spawned `tasker` and collects its output.
pub async fn finish(child: tokio::process::Child) -> Out {
    let out = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("tasker did not finish in {WAIT:?}"))
        .expect("waiting for tasker");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A server, and the binary pointed at it over REST or gRPC.
pub struct Env {
    /// The server.
    pub ts: TestServer,
    /// A REST client for comparisons.
    pub http: reqwest::Client,
}

impl Env {
    /// Starts a server with `overrides`.
    pub async fn start(overrides: &[(&str, &str)]) -> Env {
        Env { ts: start_server(overrides).await, http: reqwest::Client::new() }
    }

    /// Runs `tasker --url <rest> args…`.
    pub async fn rest(&self, args: &[&str]) -> Out {
        let url = self.ts.rest_url();
        let mut all = vec!["--url", url.as_str()];
        all.extend_from_slice(args);
        tasker(&all).await
    }

    /// Runs `tasker --grpc <grpc> args…`.
    pub async fn grpc(&self, args: &[&str]) -> Out {
        let url = self.ts.grpc_url();
        let mut all = vec!["--grpc", url.as_str()];
        all.extend_from_slice(args);
        tasker(&all).await
    }

    /// GET `path` from the REST API as JSON (any status).
    pub async fn get(&self, path: &str) -> Value {
        let r = self.http.get(format!("{}{path}", self.ts.rest_url())).send().await.expect("GET");
        r.json().await.expect("JSON body")
    }

    /// POST `body` to `path` of the REST API and return the JSON answer.
    pub async fn post(&self, path: &str, body: &Value) -> Value {
        let r = self.http.post(format!("{}{path}", self.ts.rest_url())).json(body).send().await.expect("POST");
        r.json().await.expect("JSON body")
    }

    /// Creates a task of `ns/name` with `context` through REST; returns its uuid.
    pub async fn create(&self, ns: &str, name: &str, context: Value) -> String {
        let task =
            self.post("/v1/tasks", &serde_json::json!({"namespace": ns, "name": name, "context": context})).await;
        task["task_uuid"].as_str().unwrap_or_else(|| panic!("no task created: {task}")).to_string()
    }

    /// Polls until the task is in `state` (fails after [`WAIT`] with the task).
    pub async fn wait_for_state(&self, task: &str, state: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let t = self.get(&format!("/v1/tasks/{task}")).await;
            if t["state"] == state {
                return t;
            }
            assert!(Instant::now() < deadline, "task {task} never reached {state}: {t}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The uuid of the named step of a task.
    pub async fn step_uuid(&self, task: &str, step: &str) -> String {
        let steps = self.get(&format!("/v1/tasks/{task}/workflow_steps")).await;
        steps
            .as_array()
            .and_then(|a| a.iter().find(|s| s["name"] == step))
            .and_then(|s| s["step_uuid"].as_str())
            .unwrap_or_else(|| panic!("no step {step} in {steps}"))
            .to_string()
    }
}

/// The context `orders/order_fulfillment` needs.
pub fn order_context() -> Value {
    serde_json::json!({"order_id": "ord-1", "customer_email": "a@example.com", "items": [{"sku": "A", "quantity": 2}]})
}

/// A port nothing listens on.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A file in a temporary directory of its own, removed when dropped; derefs to its path.
pub struct TempFile {
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
}

impl std::ops::Deref for TempFile {
    type Target = std::path::Path;

    fn deref(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Writes `text` to a file named `name` in a fresh temporary directory.
pub fn temp_file(name: &str, text: &str) -> TempFile {
    let dir = std::env::temp_dir().join(format!("tasker-cli-test-{}-{}", std::process::id(), uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write temp file");
    TempFile { dir, path }
}
