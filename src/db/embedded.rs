//! A PostgreSQL server started from the local binaries: the development default of
//! `tasker-server` and the database of the test harness.
//!
//! It finds `initdb` and `pg_ctl` (on `PATH`, then under `/usr/lib/postgresql/*/bin`), creates a
//! cluster in a directory if there is none, starts it and stops it. PostgreSQL refuses to run as
//! root, so when this process is root the server runs as the `postgres` OS user through `runuser`
//! (present wherever util-linux is; `sudo` often is not). The server log is
//! `<data_dir>/postgres.log`.
//!
//! **Access.** The server listens on no TCP address (`listen_addresses = ''`): its only door is a
//! unix socket in `<data_dir>/socket`, a directory owned by the server's OS user with mode 0700,
//! so only that user (and root) can connect; `initdb` makes local connections `trust` and TCP
//! ones `reject`. URLs name the socket directory: `postgres://postgres@localhost:<port>/<db>?host=
//! <socket dir>` (the port only names the socket file); sqlx, libpq (`psql`, psycopg) and the
//! spawned `tasker-worker` all read `host=/…` as a socket directory.
//!
//! **Reaching the data directory as root.** The `postgres` user must traverse every directory
//! above the data directory. Nothing is chmod-ed for that: when one of them blocks it (a 0700
//! home directory, say), `postgres` alone is granted search permission on it with an ACL
//! (`setfacl -m u:postgres:x`) when `setfacl` is installed; otherwise the start fails naming the
//! directory and the ways out (install `acl`, or put the data directory where `postgres` can
//! reach it, e.g. `TASKER_HOME=/var/lib/tasker`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Errors starting or stopping the embedded server. Each says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// No PostgreSQL server binaries were found.
    #[error("PostgreSQL server binaries not found (looked for initdb and pg_ctl on PATH and in /usr/lib/postgresql/*/bin); install the postgresql package or set DATABASE_URL")]
    BinariesNotFound,
    /// A command failed; carries its output.
    #[error("{command} failed: {output}")]
    Command {
        /// The command that failed.
        command: String,
        /// Its combined stdout/stderr, or the log tail.
        output: String,
    },
    /// Filesystem or process error.
    #[error("embedded PostgreSQL: {0}")]
    Io(#[from] std::io::Error),
}

/// How to run the embedded server.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// Cluster directory; created with `initdb` when it holds no cluster.
    pub data_dir: PathBuf,
    /// The port the socket file is named after (`.s.PGSQL.<port>`; there is no TCP listener);
    /// `None` picks one no local TCP listener uses, so nothing answers on it over TCP either.
    pub port: Option<u16>,
    /// Trade durability for speed (`fsync=off` etc.): for tests and benchmarks only.
    pub ephemeral: bool,
    /// Extra `-c name=value` server settings.
    pub settings: Vec<(String, String)>,
}

impl EmbeddedOptions {
    /// Options for a durable cluster in `data_dir` on a free port.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self { data_dir: data_dir.into(), port: None, ephemeral: false, settings: Vec::new() }
    }
}

/// A running server started by [`EmbeddedPostgres::start`]. Stop it with [`EmbeddedPostgres::stop`];
/// dropping it also stops it.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    port: u16,
    as_postgres_user: bool,
    stopped: bool,
}

/// The OS user the server runs as when this process is root.
const POSTGRES_USER: &str = "postgres";
/// Superuser created by `initdb`.
pub const SUPERUSER: &str = "postgres";
/// The socket directory, inside the data directory.
pub const SOCKET_DIR: &str = "socket";
/// Longest socket file path the kernel accepts (`sun_path` is 108 bytes with its NUL).
const MAX_SOCKET_PATH: usize = 107;

impl EmbeddedPostgres {
    /// Creates the cluster if needed and starts the server; returns once it accepts connections.
    pub fn start(opts: &EmbeddedOptions) -> Result<Self, EmbeddedError> {
        let bin_dir = find_bin_dir().ok_or(EmbeddedError::BinariesNotFound)?;
        let as_postgres_user = is_root();
        std::fs::create_dir_all(&opts.data_dir)?;
        let data_dir = opts.data_dir.canonicalize()?;
        if as_postgres_user {
            // The cluster directory must be postgres's, and every directory above it traversable
            // by postgres (granted narrowly, never to everyone).
            run(Command::new("chown").arg("-R").arg(format!("{POSTGRES_USER}:")).arg(&data_dir))?;
            grant_traverse_to_postgres(&data_dir)?;
        }
        let socket_dir = data_dir.join(SOCKET_DIR);
        // `.s.PGSQL.65535.lock` is the longest file the server creates there.
        if socket_dir.as_os_str().len() + ".s.PGSQL.65535.lock".len() + 1 > MAX_SOCKET_PATH {
            return Err(EmbeddedError::Command {
                command: "embedded PostgreSQL".into(),
                output: format!(
                    "the socket directory {} is too long for a unix socket path ({MAX_SOCKET_PATH} bytes); \
                     choose a shorter data directory ([database] embedded_data_dir or TASKER_HOME)",
                    socket_dir.display()
                ),
            });
        }
        let mut this = Self { bin_dir, data_dir, socket_dir, port: 0, as_postgres_user, stopped: true };

        if !this.data_dir.join("PG_VERSION").exists() {
            let mut initdb = this.command("initdb");
            initdb.arg("-D").arg(&this.data_dir).args([
                "-U",
                SUPERUSER,
                // Only the unix socket is ever listened on, in a directory private to the
                // server's OS user; should TCP be switched on by hand, it admits no one.
                "--auth-local=trust",
                "--auth-host=reject",
                "--encoding=UTF8",
                "--locale=C",
            ]);
            if opts.ephemeral {
                initdb.arg("--no-sync");
            }
            run(&mut initdb)?;
        }

        // A server left running by a previous process that died: stop it first.
        if this.data_dir.join("postmaster.pid").exists() {
            let _ = this.pg_ctl_stop("immediate");
        }
        this.prepare_socket_dir()?;

        let mut last_err = None;
        for _ in 0..5 {
            let port = match opts.port {
                Some(p) => p,
                None => free_port()?,
            };
            let mut server_opts = format!(
                "-p {port} -c listen_addresses='' -c unix_socket_directories='{}' -c unix_socket_permissions=0700 \
                 -c max_connections=200",
                this.socket_dir.display()
            );
            if opts.ephemeral {
                server_opts.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
            }
            for (k, v) in &opts.settings {
                server_opts.push_str(&format!(" -c {k}={v}"));
            }
            let log = this.data_dir.join("postgres.log");
            let mut pg_ctl = this.command("pg_ctl");
            pg_ctl
                .arg("start")
                .arg("-D")
                .arg(&this.data_dir)
                .arg("-l")
                .arg(&log)
                .arg("-w")
                .args(["-t", "60"])
                .arg("-o")
                .arg(server_opts);
            match run(&mut pg_ctl) {
                Ok(()) => {
                    this.port = port;
                    this.stopped = false;
                    return Ok(this);
                }
                Err(e) => {
                    let tail = std::fs::read_to_string(&log).unwrap_or_default();
                    let tail: String = tail
                        .lines()
                        .rev()
                        .take(10)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect::<Vec<_>>()
                        .join("\n");
                    last_err =
                        Some(EmbeddedError::Command { command: "pg_ctl start".into(), output: format!("{e}\n{tail}") });
                    if opts.port.is_some() {
                        break;
                    }
                }
            }
        }
        Err(last_err.unwrap_or(EmbeddedError::BinariesNotFound))
    }

    /// The port the socket file is named after (`.s.PGSQL.<port>`); nothing listens on it over TCP.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the server's unix socket: owned by the server's OS user, mode 0700.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The cluster directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The directory holding `pg_ctl` and friends.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// A connection URL for `database` as the superuser, through the unix socket
    /// (`postgres://postgres@localhost:<port>/<database>?host=<socket dir>`).
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@localhost:{}/{database}?host={}",
            self.port,
            encode_query_value(&self.socket_dir.display().to_string())
        )
    }

    /// Creates the socket directory (again) as the server's OS user's, mode 0700: a cluster made
    /// by an older version has none, and a hand-loosened mode is tightened.
    fn prepare_socket_dir(&self) -> Result<(), EmbeddedError> {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::symlink_metadata(&self.socket_dir) {
            Ok(meta) if !meta.is_dir() => std::fs::remove_file(&self.socket_dir)?,
            _ => {}
        }
        if !self.socket_dir.exists() {
            std::fs::create_dir(&self.socket_dir)?;
        }
        std::fs::set_permissions(&self.socket_dir, std::fs::Permissions::from_mode(0o700))?;
        if self.as_postgres_user {
            run(Command::new("chown").arg(format!("{POSTGRES_USER}:")).arg(&self.socket_dir))?;
        }
        Ok(())
    }

    /// Creates `database` on this server unless it exists; returns its URL. `database` must be
    /// a plain identifier (it is a constant of the caller, never user input).
    pub async fn ensure_database(&self, database: &str) -> Result<String, sqlx::Error> {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&self.url("postgres")).await?;
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(database)
            .fetch_one(&mut admin)
            .await?;
        if !exists {
            sqlx::query(&format!("CREATE DATABASE {database}")).execute(&mut admin).await?;
        }
        admin.close().await?;
        Ok(self.url(database))
    }

    /// Whether the server runs as the `postgres` OS user (this process is root).
    pub fn runs_as_postgres_user(&self) -> bool {
        self.as_postgres_user
    }

    /// Stops the server (fast shutdown: open transactions are rolled back). Idempotent.
    pub fn stop(&mut self) -> Result<(), EmbeddedError> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        self.pg_ctl_stop("fast")
    }

    /// Leaves the server running after this value is dropped (the caller takes over stopping it).
    pub fn detach(mut self) -> (PathBuf, u16) {
        self.stopped = true;
        (self.data_dir.clone(), self.port)
    }

    fn pg_ctl_stop(&self, mode: &str) -> Result<(), EmbeddedError> {
        run(self.command("pg_ctl").arg("stop").arg("-D").arg(&self.data_dir).args(["-m", mode, "-w", "-t", "60"]))
    }

    /// A command for a PostgreSQL binary, run as `postgres` when this process is root, with no
    /// inherited stdio (a server must not hold the caller's pipes open).
    pub fn command(&self, program: &str) -> Command {
        command_for(&self.bin_dir, program, self.as_postgres_user)
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

fn command_for(bin_dir: &Path, program: &str, as_postgres_user: bool) -> Command {
    let path = bin_dir.join(program);
    let mut cmd = if as_postgres_user {
        let mut c = Command::new("runuser");
        c.args(["-u", POSTGRES_USER, "--"]).arg(path);
        c
    } else {
        Command::new(path)
    };
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.current_dir("/");
    cmd
}

fn run(cmd: &mut Command) -> Result<(), EmbeddedError> {
    let out = cmd.output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(EmbeddedError::Command {
            command: format!("{cmd:?}"),
            output: format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        })
    }
}

/// Finds the directory holding `initdb` and `pg_ctl`: `PATH` first, then the newest
/// `/usr/lib/postgresql/<version>/bin`.
pub fn find_bin_dir() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                // Resolve symlinks so that pg_ctl finds its sibling `postgres`.
                let real = dir.join("pg_ctl").canonicalize().ok()?;
                return real.parent().map(Path::to_path_buf);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(std::result::Result::ok)
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    // SAFETY-free check: `id -u` is everywhere; avoids a libc dependency.
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// Whether the `postgres` OS user can traverse `dir` (and so every directory above it).
fn postgres_can_traverse(dir: &Path) -> bool {
    Command::new("runuser")
        .args(["-u", POSTGRES_USER, "--", "test", "-x"])
        .arg(dir)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Lets the `postgres` OS user reach `data_dir` without widening anything for anyone else: each
/// directory above it that `postgres` cannot traverse gets an ACL entry granting `postgres`
/// (only) search permission, when `setfacl` exists; otherwise the start fails naming the
/// directory. Never adds world permissions.
fn grant_traverse_to_postgres(data_dir: &Path) -> Result<(), EmbeddedError> {
    let Some(parent) = data_dir.parent() else { return Ok(()) };
    if postgres_can_traverse(parent) {
        return Ok(());
    }
    let mut ancestors: Vec<&Path> = parent.ancestors().collect();
    ancestors.reverse(); // from `/` down
    for dir in ancestors {
        if postgres_can_traverse(dir) {
            continue;
        }
        let granted = Command::new("setfacl")
            .args(["-m", &format!("u:{POSTGRES_USER}:x")])
            .arg(dir)
            .stdin(Stdio::null())
            .output()
            .is_ok_and(|o| o.status.success());
        if !granted || !postgres_can_traverse(dir) {
            return Err(EmbeddedError::Command {
                command: "embedded PostgreSQL".into(),
                output: format!(
                    "the postgres OS user cannot traverse {dir} to reach the data directory {data}, and no ACL \
                     could grant it (is `setfacl` installed? Debian package `acl`). Tasker does not open \
                     directories to every user: install acl, or put the data directory where postgres can \
                     reach it (e.g. TASKER_HOME=/var/lib/tasker, or [database] embedded_data_dir)",
                    dir = dir.display(),
                    data = data_dir.display()
                ),
            });
        }
        tracing::info!(dir = %dir.display(), "granted the postgres user search permission (ACL) to reach the embedded data directory");
    }
    Ok(())
}

/// Percent-encodes a URL query value (a socket directory path): unreserved characters and `/`
/// stay as they are.
fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn free_port() -> Result<u16, EmbeddedError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
