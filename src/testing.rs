//! The test harness: real PostgreSQL, isolated per test.
//!
//! Without `DATABASE_URL`, the first test of a process starts one PostgreSQL cluster from the
//! local binaries ([`crate::db::EmbeddedPostgres`], tuned for speed: fsync off) in a temporary
//! directory. A watchdog process stops it and removes the directory when the test process exits,
//! however it exits. With `DATABASE_URL`, that server is used instead.
//!
//! Either way a template database is migrated once per process, and every [`TestDb`] is a fresh
//! database cloned from it (`CREATE DATABASE … TEMPLATE …`): a few milliseconds, full isolation.
//!
//! [`engine::Engine`] is the one simulated orchestrator: the real actors driven by `run_once`.

pub mod engine;
pub mod python;

pub use engine::Engine;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use sqlx::{Connection, PgConnection, PgPool};

use crate::db::{self, EmbeddedOptions, EmbeddedPostgres, PoolOptions};

/// A fresh, migrated database for one test.
pub struct TestDb {
    /// A pool on the database.
    pub pool: PgPool,
    /// Its connection URL, for processes the test starts.
    pub url: String,
    /// Its name.
    pub name: String,
}

struct Shared {
    admin_url: String,
    template: String,
}

static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Replaces the database name in a `postgres://` URL.
pub fn url_with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let prefix = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{prefix}/{database}?{q}"),
        None => format!("{prefix}/{database}"),
    }
}

fn init() -> Result<Shared, String> {
    let pid = std::process::id();
    let admin_url = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            let dir = std::env::temp_dir().join(format!("tasker-test-{pid}-{}", std::process::id() ^ 0x5a5a));
            let _ = std::fs::remove_dir_all(&dir);
            let mut opts = EmbeddedOptions::new(dir.join("pgdata"));
            opts.ephemeral = true;
            let pg = EmbeddedPostgres::start(&opts).map_err(|e| e.to_string())?;
            spawn_watchdog(&pg, &dir)?;
            let url = pg.url("postgres");
            pg.detach();
            url
        }
    };
    let template = format!("tasker_test_tpl_{pid}");
    let admin = admin_url.clone();
    let tpl = template.clone();
    // The template is migrated on a runtime of its own: tests each run on their own runtime,
    // and a pool must not outlive the runtime that made it.
    std::thread::spawn(move || -> Result<(), String> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        rt.block_on(async {
            let mut conn = PgConnection::connect(&admin).await.map_err(|e| format!("connect {admin}: {e}"))?;
            drop_stale_test_databases(&mut conn).await;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {tpl}"))
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            sqlx::query(&format!("CREATE DATABASE {tpl}")).execute(&mut conn).await.map_err(|e| e.to_string())?;
            let pool = db::connect(
                &url_with_database(&admin, &tpl),
                &PoolOptions { max_connections: 2, ..Default::default() },
            )
            .await
            .map_err(|e| e.to_string())?;
            db::migrate(&pool).await.map_err(|e| e.to_string())?;
            pool.close().await;
            conn.close().await.map_err(|e| e.to_string())
        })
    })
    .join()
    .map_err(|_| "template migration panicked".to_string())??;
    Ok(Shared { admin_url, template })
}

/// Drops test databases left by test processes that no longer run (external servers only keep them).
async fn drop_stale_test_databases(conn: &mut PgConnection) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'tasker\\_test\\_%'")
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
    for name in names {
        let pid = name.rsplit('_').nth(if name.starts_with("tasker_test_tpl_") { 0 } else { 1 });
        let alive = pid
            .and_then(|p| p.parse::<u32>().ok())
            .is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut *conn).await;
        }
    }
    // Worker roles of those processes (TestDb::worker_url); a role still referenced somewhere
    // stays, harmlessly.
    let roles: Vec<String> =
        sqlx::query_scalar("SELECT rolname FROM pg_roles WHERE rolname LIKE 'tasker\\_test\\_w\\_%'")
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
    for role in roles {
        let alive = role
            .rsplit('_')
            .next()
            .and_then(|p| p.parse::<u32>().ok())
            .is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let _ = sqlx::query(&format!("DROP ROLE IF EXISTS {role}")).execute(&mut *conn).await;
        }
    }
}

/// Starts a detached shell that waits for this process to exit, then stops the server and
/// removes its directory.
fn spawn_watchdog(pg: &EmbeddedPostgres, dir: &std::path::Path) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let stop = pg.command("pg_ctl");
    let mut stop_line = format!("{:?}", stop.get_program());
    for a in stop.get_args() {
        stop_line.push(' ');
        stop_line.push_str(&format!("{a:?}"));
    }
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop_line} stop -D {data:?} -m immediate -w -t 30; rm -rf {dir:?}",
        pid = std::process::id(),
        data = pg.data_dir(),
        dir = dir,
    );
    std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .map(|_| ())
        .map_err(|e| format!("starting the test database watchdog: {e}"))
}

/// A fresh migrated database for the calling test. Panics with the reason when no PostgreSQL can
/// be had: a test without a database cannot say anything useful.
pub async fn test_db() -> TestDb {
    let shared = match SHARED.get_or_init(init) {
        Ok(s) => s,
        Err(e) => panic!("test database unavailable: {e}"),
    };
    let name = format!("tasker_test_{}_{}", COUNTER.fetch_add(1, Ordering::Relaxed), std::process::id());
    let mut conn = PgConnection::connect(&shared.admin_url).await.expect("connect to the test server");
    let mut tries = 0;
    loop {
        match sqlx::query(&format!("CREATE DATABASE {name} TEMPLATE {}", shared.template)).execute(&mut conn).await {
            Ok(_) => break,
            // 55006: the template is briefly in use by a concurrent clone.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55006") && tries < 100 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("creating test database {name}: {e}"),
        }
    }
    let _ = conn.close().await;
    let url = url_with_database(&shared.admin_url, &name);
    let pool = db::connect(&url, &PoolOptions { max_connections: 10, ..Default::default() })
        .await
        .expect("connect to the test database");
    TestDb { pool, url, name }
}

/// Replaces the user (and password) of a `postgres://` URL.
pub fn url_with_user(url: &str, user: &str, password: &str) -> String {
    let scheme_end = url.find("://").map(|i| i + 3).unwrap_or(0);
    let rest = &url[scheme_end..];
    let host_start = match rest.find('@') {
        Some(at) if rest.find('/').map_or(true, |slash| at < slash) => at + 1,
        _ => 0,
    };
    format!("{}{user}:{password}@{}", &url[..scheme_end], &rest[host_start..])
}

impl TestDb {
    /// Creates a login role for a worker: a member of `tasker_worker` (the only privileges it
    /// has), allowed to serve `namespaces` (`"*"`: every namespace) through
    /// `tasker.set_worker_namespaces`. Returns the URL of this database as that role. Roles are
    /// cluster-wide: each is named after this process and dropped with the stale test databases.
    pub async fn worker_url(&self, namespaces: &[&str]) -> String {
        let role = format!("tasker_test_w_{}_{}", COUNTER.fetch_add(1, Ordering::Relaxed), std::process::id());
        let password = "worker";
        sqlx::query(&format!("CREATE ROLE {role} LOGIN PASSWORD '{password}' IN ROLE tasker_worker"))
            .execute(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("creating worker role {role}: {e}"));
        let namespaces: Vec<String> = namespaces.iter().map(|n| (*n).to_string()).collect();
        sqlx::query("SELECT tasker.set_worker_namespaces($1, $2)")
            .bind(&role)
            .bind(&namespaces)
            .execute(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("allowing worker role {role} its namespaces: {e}"));
        url_with_user(&self.url, &role, password)
    }

    /// A pool on this database as a new worker role (see [`worker_url`](Self::worker_url)).
    pub async fn worker_pool(&self, namespaces: &[&str], max_connections: u32) -> PgPool {
        let url = self.worker_url(namespaces).await;
        db::connect(&url, &PoolOptions { max_connections, ..Default::default() })
            .await
            .expect("connect to the test database as a worker role")
    }
}

/// A server started in this process on a fresh test database, listening on free ports.
pub struct TestServer {
    /// The server (REST and gRPC addresses, service).
    pub server: crate::server::Server,
    /// Its database.
    pub db: TestDb,
}

impl TestServer {
    /// `http://127.0.0.1:<port>` of the REST listener.
    pub fn rest_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.rest_addr.map(|a| a.port()).unwrap_or(0))
    }

    /// `http://127.0.0.1:<port>` of the gRPC listener.
    pub fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.grpc_addr.map(|a| a.port()).unwrap_or(0))
    }
}

/// The configuration a test server uses: the `test` environment, the given database, free
/// ports on 127.0.0.1, plus `overrides` as `TASKER__…` variables (e.g.
/// `("TASKER__AUTH__ENABLED", "true")`). An override replaces a default of the same name, so
/// `("TASKER_ENV", "production")` runs the production configuration.
pub fn test_config(database_url: &str, overrides: &[(&str, &str)]) -> crate::config::Config {
    let mut env: Vec<(String, String)> = vec![
        ("TASKER_ENV".into(), "test".into()),
        ("DATABASE_URL".into(), database_url.into()),
        ("TASKER__ORCHESTRATION__WEB__HOST".into(), "127.0.0.1".into()),
        ("TASKER__ORCHESTRATION__WEB__PORT".into(), "0".into()),
        ("TASKER__ORCHESTRATION__GRPC__HOST".into(), "127.0.0.1".into()),
        ("TASKER__ORCHESTRATION__GRPC__PORT".into(), "0".into()),
    ];
    for (k, v) in overrides {
        env.retain(|(name, _)| name != k);
        env.push(((*k).into(), (*v).into()));
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/tasker");
    let mut config = match crate::config::load_from(&dir, &env) {
        Ok(c) => c,
        Err(e) => panic!("test configuration: {e}"),
    };
    config.templates.dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/tasks").display().to_string();
    config
}

/// Starts a server in this process on a fresh database (templates from `config/tasks/` loaded,
/// actors running, no in-process worker unless overridden).
pub async fn start_server(overrides: &[(&str, &str)]) -> TestServer {
    let db = test_db().await;
    let config = test_config(&db.url, overrides);
    let server = match crate::server::Server::start(config).await {
        Ok(s) => s,
        Err(e) => panic!("starting the test server: {e:#}"),
    };
    TestServer { server, db }
}
