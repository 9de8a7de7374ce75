//! The embedded PostgreSQL (development server and test harness) is reachable only through a
//! unix socket in a directory private to the server's OS user: no TCP listener, no trust over
//! TCP, and starting it changes no permission of the directories above its data directory.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sqlx::{Connection, PgConnection};
use tasker_orchestration::db::{EmbeddedOptions, EmbeddedPostgres};

use crate::support::*;

/// A scratch directory under the system temporary directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let path = std::env::temp_dir().join(format!("tasker-embedded-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Scratch(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

async fn start(opts: EmbeddedOptions) -> Result<EmbeddedPostgres, String> {
    tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&opts)).await.unwrap().map_err(|e| e.to_string())
}

#[tokio::test]
async fn the_test_harness_cluster_has_no_tcp_listener() {
    if std::env::var("DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        return; // an external server: not ours to judge
    }
    let db = test_db().await;
    let listen: String = sqlx::query_scalar("SHOW listen_addresses").fetch_one(&db.pool).await.unwrap();
    assert_eq!(listen, "", "the harness's PostgreSQL listens on TCP ({listen}); URL {}", db.url);
    assert!(db.url.contains("host=/"), "the harness hands out socket URLs: {}", db.url);
}

#[tokio::test]
async fn an_embedded_cluster_listens_on_a_private_unix_socket_only() {
    let scratch = Scratch::new("socket");
    let ancestors_before: Vec<(PathBuf, u32)> = scratch.0.ancestors().map(|p| (p.to_path_buf(), mode(p))).collect();
    let mut opts = EmbeddedOptions::new(scratch.0.join("pgdata"));
    opts.ephemeral = true;
    let mut pg = start(opts).await.expect("start the embedded cluster");

    // No TCP: nothing accepts on the port the cluster names its socket after, and the server
    // says it listens on no address.
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", pg.port())).is_err(),
        "a TCP connection to 127.0.0.1:{} was accepted",
        pg.port()
    );
    let url = pg.url("postgres");
    assert!(!url.contains("127.0.0.1"), "{url}");
    let mut conn = PgConnection::connect(&url).await.expect("connect through the socket");
    let listen: String = sqlx::query_scalar("SHOW listen_addresses").fetch_one(&mut conn).await.unwrap();
    assert_eq!(listen, "");
    let dirs: String = sqlx::query_scalar("SHOW unix_socket_directories").fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();

    // The socket directory is private to the server's OS user.
    let socket_dir = pg.socket_dir().to_path_buf();
    assert_eq!(dirs, socket_dir.display().to_string());
    assert_eq!(mode(&socket_dir), 0o700, "socket directory {}", socket_dir.display());
    let owner = std::fs::metadata(&socket_dir).unwrap().uid();
    assert_eq!(owner, std::fs::metadata(pg.data_dir()).unwrap().uid(), "owned by the server's OS user");
    if is_root() {
        assert_ne!(owner, 0, "as root the server runs as postgres, which owns the socket directory");
    }

    // No directory above the data directory had its permissions changed.
    let ancestors_after: Vec<(PathBuf, u32)> = scratch.0.ancestors().map(|p| (p.to_path_buf(), mode(p))).collect();
    assert_eq!(ancestors_before, ancestors_after);
    pg.stop().unwrap();
}

#[tokio::test]
async fn starting_under_a_private_directory_adds_no_world_execute() {
    let scratch = Scratch::new("private");
    let private = scratch.0.join("home");
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut opts = EmbeddedOptions::new(private.join("project/.tasker/pgdata"));
    opts.ephemeral = true;
    match start(opts).await {
        Ok(mut pg) => {
            // Reached through a narrower grant (an ACL for the postgres user), or no grant at
            // all (not root): either way others gained nothing.
            assert_eq!(mode(&private), 0o700, "{} gained permission bits", private.display());
            let conn = PgConnection::connect(&pg.url("postgres")).await.expect("connect");
            conn.close().await.unwrap();
            pg.stop().unwrap();
        }
        Err(e) => {
            // Root without setfacl: refused, naming the directory postgres cannot traverse.
            assert!(is_root(), "only root can be refused here: {e}");
            assert!(e.contains(&private.display().to_string()), "{e}");
            assert_eq!(mode(&private), 0o700, "{} gained permission bits", private.display());
        }
    }
}
