//! `docker-compose.yml` without Docker: no engine runs in CI, so these tests read the file and run
//! each Tasker service's command line and environment, as written there, as real processes
//! against the test database. Only what cannot hold outside a container is rewritten: the
//! database host (`postgres:5432` → the test server), the listen host (`0.0.0.0` → `127.0.0.1`),
//! the ports (→ free ones) and mounted paths (→ the host directory they mount). An unknown flag, an
//! unknown `TASKER__…` key or a bad value in the file fails the start, so every one is proven real.
//! The processes run from an empty directory, as in the image: the binaries need no files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;
use serde_yaml_ng::Value as Yaml;
use tasker_orchestration::testing::{test_db, url_with_user};

use super::support::{free_ports, wait_for_tasks, Api, Process, Scratch, WAIT};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn compose() -> Yaml {
    let path = root().join("docker-compose.yml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("parsing docker-compose.yml: {e}"))
}

fn service<'a>(file: &'a Yaml, name: &str) -> &'a Yaml {
    file.get("services").and_then(|s| s.get(name)).unwrap_or_else(|| panic!("docker-compose.yml has no service {name}"))
}

fn scalar(v: &Yaml) -> String {
    match v {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Null => String::new(),
        other => panic!("expected a scalar, found {other:?}"),
    }
}

fn strings(v: Option<&Yaml>) -> Vec<String> {
    match v {
        None => Vec::new(),
        Some(Yaml::Sequence(items)) => items.iter().map(scalar).collect(),
        Some(Yaml::String(s)) => s.split_whitespace().map(String::from).collect(),
        Some(other) => panic!("expected a list, found {other:?}"),
    }
}

/// A service's `environment`, as a map or as a list of `KEY=VALUE`.
fn environment(svc: &Yaml) -> BTreeMap<String, String> {
    match svc.get("environment") {
        None => BTreeMap::new(),
        Some(Yaml::Mapping(m)) => m.iter().map(|(k, v)| (scalar(k), scalar(v))).collect(),
        Some(Yaml::Sequence(items)) => items
            .iter()
            .map(|i| {
                let s = scalar(i);
                let (k, v) = s.split_once('=').unwrap_or((s.as_str(), ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
        Some(other) => panic!("environment: expected a map or a list, found {other:?}"),
    }
}

/// `./host:container[:mode]` bind mounts of a service: (container path, host path).
fn bind_mounts(svc: &Yaml) -> Vec<(String, PathBuf)> {
    strings(svc.get("volumes"))
        .into_iter()
        .filter(|v| v.starts_with("./"))
        .map(|v| {
            let mut parts = v.split(':');
            let host = parts.next().unwrap_or_default();
            let container = parts.next().unwrap_or_else(|| panic!("volume {v} names no container path"));
            (container.to_string(), root().join(host))
        })
        .collect()
}

/// The binary cargo built for the program a service's command names.
fn binary(program: &str) -> &'static str {
    match program {
        "tasker-server" => env!("CARGO_BIN_EXE_tasker-server"),
        "tasker-worker" => env!("CARGO_BIN_EXE_tasker-worker"),
        "tasker" => env!("CARGO_BIN_EXE_tasker"),
        other => panic!("docker-compose.yml runs {other}, which this crate does not build"),
    }
}

/// A service's command and environment with the compose network rewritten for this machine.
struct Rewrite {
    /// The test database as its owner.
    database_url: String,
    /// The compose file's owner login (`POSTGRES_USER`).
    owner: String,
    ports: BTreeMap<String, String>,
}

impl Rewrite {
    fn value(&self, svc: &Yaml, key: &str, value: &str) -> String {
        if key == "DATABASE_URL" {
            // The test database, as the login the service names (the owner's, or a worker login).
            let (user, password, ..) = url_parts(value);
            return if user == self.owner {
                self.database_url.clone()
            } else {
                url_with_user(&self.database_url, &user, &password)
            };
        }
        if let Some(port) = self.ports.get(value).filter(|_| key.ends_with("__PORT")) {
            return port.clone();
        }
        if key.ends_with("__HOST") && value == "0.0.0.0" {
            return "127.0.0.1".into();
        }
        let mut out = value.to_string();
        for (container, host) in bind_mounts(svc) {
            if out.starts_with(&container) {
                out = format!("{}{}", host.display(), &out[container.len()..]);
            }
        }
        out
    }

    fn env(&self, svc: &Yaml) -> Vec<(String, String)> {
        environment(svc).into_iter().map(|(k, v)| (k.clone(), self.value(svc, &k, &v))).collect()
    }

    fn url(&self, url: &str) -> String {
        let mut out = url.to_string();
        for (from, to) in &self.ports {
            out = out.replace(&format!(":{from}/"), &format!(":{to}/"));
        }
        out
    }
}

/// The user, password, database, host and port of a `postgres://` URL.
fn url_parts(url: &str) -> (String, String, String, String, String) {
    let rest = url.strip_prefix("postgres://").unwrap_or_else(|| panic!("{url} is not a postgres:// URL"));
    let (auth, rest) = rest.split_once('@').unwrap_or_else(|| panic!("{url} names no user"));
    let (user, password) = auth.split_once(':').unwrap_or((auth, ""));
    let (hostport, db) = rest.split_once('/').unwrap_or_else(|| panic!("{url} names no database"));
    let (host, port) = hostport.split_once(':').unwrap_or((hostport, "5432"));
    (user.into(), password.into(), db.into(), host.into(), port.into())
}

#[test]
fn services_agree_on_names_credentials_and_ports() {
    let file = compose();
    let pg = service(&file, "postgres");
    let pg_env = environment(pg);
    assert!(strings(pg.get("ports")).contains(&"5432:5432".to_string()), "postgres publishes 5432");
    assert!(pg.get("profiles").is_none(), "postgres starts without a profile");
    assert!(pg.get("healthcheck").is_some(), "postgres has a healthcheck");
    // The server and the one-shot worker-login use the owner's login; the worker uses the login
    // that worker-login makes, with the password it sets, and starts only after it succeeded.
    for name in ["tasker-server", "worker-login", "tasker-worker"] {
        let svc = service(&file, name);
        assert_eq!(strings(svc.get("profiles")), vec!["server".to_string()], "{name} is in the server profile");
        let (user, password, db, host, port) = url_parts(&environment(svc)["DATABASE_URL"]);
        if name == "tasker-worker" {
            let login = service(&file, "worker-login");
            let command = strings(login.get("command"));
            assert_eq!(command[..2], ["tasker-server", "worker-login"], "worker-login runs tasker-server worker-login");
            assert_eq!(user, command[2], "the worker connects as the login worker-login makes");
            assert_eq!(password, environment(login)["TASKER_WORKER_PASSWORD"], "the worker's password is the one set");
            assert_ne!(user, pg_env["POSTGRES_USER"], "the worker does not use the owner's login");
            let after = svc.get("depends_on").and_then(|d| d.get("worker-login")).and_then(|d| d.get("condition"));
            assert_eq!(
                after.map(scalar).as_deref(),
                Some("service_completed_successfully"),
                "worker waits for its login"
            );
        } else {
            assert_eq!(user, pg_env["POSTGRES_USER"], "{name}: user");
            assert_eq!(password, pg_env["POSTGRES_PASSWORD"], "{name}: password");
        }
        assert_eq!(db, pg_env["POSTGRES_DB"], "{name}: database");
        assert_eq!((host.as_str(), port.as_str()), ("postgres", "5432"), "{name}: database host");
    }
    let server = service(&file, "tasker-server");
    let env = environment(server);
    let published = strings(server.get("ports"));
    for key in ["TASKER__ORCHESTRATION__WEB__PORT", "TASKER__ORCHESTRATION__GRPC__PORT"] {
        let port = &env[key];
        assert!(published.contains(&format!("{port}:{port}")), "{key}={port} is published: {published:?}");
    }
    let check = strings(server.get("healthcheck").and_then(|h| h.get("test")));
    let web_port = &env["TASKER__ORCHESTRATION__WEB__PORT"];
    assert!(
        check.iter().any(|a| a.contains(&format!(":{web_port}/health/live"))),
        "the server healthcheck probes /health/live on the REST port: {check:?}"
    );
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).expect("read Dockerfile");
    assert!(dockerfile.contains("/health/live"), "the image's HEALTHCHECK probes /health/live");
    for bin in ["tasker-server", "tasker-worker", "tasker"] {
        assert!(dockerfile.contains(&format!("target/release/{bin}")), "the image ships {bin}");
    }
    assert!(dockerfile.contains("\nUSER "), "the runtime stage runs as a non-root user");
}

#[tokio::test]
async fn services_run_as_written_and_complete_a_task() {
    let file = compose();
    let db = test_db().await;
    let scratch = Scratch::new("compose");
    let cwd = scratch.path().join("cwd");
    std::fs::create_dir_all(&cwd).expect("create the working directory");
    let ports = free_ports(2);
    let server = service(&file, "tasker-server");
    let env = environment(server);
    let rewrite = Rewrite {
        database_url: db.url.clone(),
        owner: environment(service(&file, "postgres"))["POSTGRES_USER"].clone(),
        ports: BTreeMap::from([
            (env["TASKER__ORCHESTRATION__WEB__PORT"].clone(), ports[0].to_string()),
            (env["TASKER__ORCHESTRATION__GRPC__PORT"].clone(), ports[1].to_string()),
        ]),
    };

    let command = strings(server.get("command"));
    let mut server_proc =
        Process::start(&scratch, "tasker-server", binary(&command[0]), &command[1..], &rewrite.env(server), &cwd);
    // The healthcheck as written (curl's URL, port rewritten) decides when the server is up.
    let check = strings(server.get("healthcheck").and_then(|h| h.get("test")));
    let probe = rewrite.url(check.iter().find(|a| a.starts_with("http")).expect("the healthcheck names a URL"));
    let http = reqwest::Client::new();
    let deadline = Instant::now() + WAIT;
    loop {
        server_proc.assert_running();
        if http.get(&probe).send().await.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(Instant::now() < deadline, "{probe} did not answer 200 within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The one-shot worker-login, as written, makes the worker's login; then the worker starts.
    let login = service(&file, "worker-login");
    let command = strings(login.get("command"));
    Process::start(&scratch, "worker-login", binary(&command[0]), &command[1..], &rewrite.env(login), &cwd)
        .expect_success()
        .await;
    let worker = service(&file, "tasker-worker");
    let command = strings(worker.get("command"));
    let worker_id = command
        .windows(2)
        .find(|w| w[0] == "--worker-id")
        .map(|w| w[1].clone())
        .expect("the worker's command names its --worker-id");
    let mut worker_proc =
        Process::start(&scratch, "tasker-worker", binary(&command[0]), &command[1..], &rewrite.env(worker), &cwd);

    // The example templates are registered (built in, and from the mounted directory), and the
    // task's steps are run by the worker service, not inside the server.
    let api = Api::new(format!("http://127.0.0.1:{}", ports[0]));
    let task = api.create_task("demo", "diamond", json!({})).await;
    wait_for_tasks(&db.pool, &[task], "complete").await;
    worker_proc.assert_running();
    let claimed_by_worker: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tasker.workflow_step_transitions WHERE task_uuid = $1 AND metadata->>'worker' = $2",
    )
    .bind(task)
    .bind(&worker_id)
    .fetch_one(&db.pool)
    .await
    .expect("read step history");
    assert_eq!(claimed_by_worker, 4, "every diamond step was claimed by {worker_id}");

    assert!(worker_proc.terminate().await.success(), "the worker exits cleanly on SIGTERM");
    assert!(server_proc.terminate().await.success(), "the server exits cleanly on SIGTERM");
}

#[test]
fn server_runs_from_any_directory_and_names_a_missing_config_dir() {
    let dir = std::env::temp_dir().join(format!("tasker-anywhere-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a directory");
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tasker-server"));
        cmd.current_dir(&dir).args(args).env_remove("TASKER_CONFIG_DIR").env_remove("TASKER_ENV");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run tasker-server")
    };
    let ok = run(&["check-config"], &[]);
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "check-config from {}: {}", dir.display(), String::from_utf8_lossy(&ok.stderr));
    assert!(out.contains("environment development") && out.contains("embedded"), "{out}");

    let prod = run(&["check-config"], &[("TASKER_ENV", "production"), ("DATABASE_URL", "postgres://x/y")]);
    assert!(!prod.status.success(), "the built-in production overlay requires API keys");
    assert!(String::from_utf8_lossy(&prod.stderr).contains("auth"), "{}", String::from_utf8_lossy(&prod.stderr));

    let missing = run(&["--config-dir", "/nonexistent/tasker", "check-config"], &[]);
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("/nonexistent/tasker") && err.contains("does not exist"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn worker_login_refuses_the_owners_role_and_says_why() {
    let db = test_db().await;
    let owner: String =
        sqlx::query_scalar("SELECT current_user::text").fetch_one(&db.pool).await.expect("current_user");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tasker-server"))
        .args(["worker-login", &owner, "--namespaces", "demo"])
        .env("DATABASE_URL", &db.url)
        .env("TASKER_WORKER_PASSWORD", "secret-not-printed")
        .env_remove("RUST_LOG")
        .output()
        .await
        .expect("run tasker-server worker-login");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "worker-login accepted the owner's role: {stderr}");
    assert!(stderr.contains("can do more than a worker"), "{stderr}");
    assert!(!stderr.contains("secret-not-printed"), "the password was printed: {stderr}");
}
