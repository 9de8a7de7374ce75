//! Brings a database to the schema this build expects, safely from several processes at once:
//!
//! 0. the group role `tasker_worker` (cluster-wide; created when missing, see
//!    `docs/worker-protocol.md`), which `sql/0990_privileges.sql` grants the worker protocol to;
//! 1. pgmq: `CREATE EXTENSION pgmq` where the server offers it, otherwise pgmq's SQL installed
//!    through the `pgmq` crate's embedded installer (idempotent, under its own advisory lock);
//! 2. `migrations/` through sqlx's migrator (versioned, immutable, advisory-locked);
//! 3. `sql/` (functions, views, triggers; `CREATE OR REPLACE`), in file order, in one transaction
//!    under an advisory lock, recorded in `tasker.sql_applied`. The files are applied when any
//!    checksum differs from what is recorded, so restarts with unchanged SQL change nothing.

use sqlx::{Connection, PgPool};

include!(concat!(env!("OUT_DIR"), "/sql_files.rs"));

/// The schema migrations embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Advisory lock key serializing `sql/` application (`hashtext('tasker.sql')` would do, a
/// constant is clearer in `pg_locks`).
const SQL_LOCK_KEY: i64 = 0x7461_736b_6572_5351; // "taskerSQ"

/// What [`migrate`] did.
#[derive(Debug, Clone, Default)]
pub struct MigrationReport {
    /// `extension` or `embedded`: how pgmq is present.
    pub pgmq: String,
    /// Number of schema migrations known to this build.
    pub migrations: usize,
    /// `sql/` files applied now (0 when all were current).
    pub sql_files_applied: usize,
}

/// Errors while migrating.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// Installing pgmq failed.
    #[error("installing pgmq: {0}")]
    Pgmq(String),
    /// The `tasker_worker` role is missing and could not be created.
    #[error(
        "creating role tasker_worker: {0}; create it once as a role with CREATEROLE: CREATE ROLE tasker_worker NOLOGIN"
    )]
    WorkerRole(sqlx::Error),
    /// A schema migration failed.
    #[error("schema migration: {0}")]
    Migrations(#[from] sqlx::migrate::MigrateError),
    /// A `sql/` file failed.
    #[error("applying sql/{file}: {source}")]
    SqlFile {
        /// File name under `sql/`.
        file: String,
        /// The database error.
        source: sqlx::Error,
    },
    /// Any other database error.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// Applies pgmq, `migrations/` and `sql/` to the database behind `pool`.
pub async fn migrate(pool: &PgPool) -> Result<MigrationReport, MigrateError> {
    ensure_worker_role(pool).await?;
    let pgmq = install_pgmq(pool).await?;
    MIGRATOR.run(pool).await?;
    let applied = apply_sql_files(pool).await?;
    Ok(MigrationReport { pgmq, migrations: MIGRATOR.iter().count(), sql_files_applied: applied })
}

/// Whether every `sql/` file of this build is recorded as applied with its current checksum and
/// every migration has run: what readiness checks call "migrations current".
pub async fn is_current(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let recorded: Vec<(String, String)> =
        match sqlx::query_as("SELECT file_name, checksum FROM tasker.sql_applied").fetch_all(pool).await {
            Ok(rows) => rows,
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => return Ok(false),
            Err(e) => return Err(e),
        };
    let files_current = SQL_FILES.iter().all(|(name, body)| {
        let sum = checksum(body);
        recorded.iter().any(|(n, c)| n == name && *c == sum)
    });
    let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success").fetch_one(pool).await?;
    Ok(files_current && applied.unwrap_or(0) >= latest)
}

/// The NOLOGIN group role workers' login roles are members of. Roles belong to the cluster, not
/// the database: several databases (or servers) migrating at once may race to create it, and
/// the loser's duplicate is ignored.
pub const WORKER_ROLE: &str = "tasker_worker";

async fn ensure_worker_role(pool: &PgPool) -> Result<(), MigrateError> {
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
        .bind(WORKER_ROLE)
        .fetch_one(pool)
        .await?;
    if exists {
        return Ok(());
    }
    sqlx::raw_sql(
        "DO $$ BEGIN
             IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'tasker_worker') THEN
                 CREATE ROLE tasker_worker NOLOGIN;
             END IF;
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
         END $$",
    )
    .execute(pool)
    .await
    .map(|_| ())
    .map_err(MigrateError::WorkerRole)
}

async fn install_pgmq(pool: &PgPool) -> Result<String, MigrateError> {
    let available: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pgmq')")
            .fetch_one(pool)
            .await?;
    let installed_as_extension: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pgmq')").fetch_one(pool).await?;
    if installed_as_extension {
        return Ok("extension".into());
    }
    if available {
        sqlx::query("CREATE EXTENSION IF NOT EXISTS pgmq").execute(pool).await?;
        return Ok("extension".into());
    }
    let ext = pgmq::PGMQueueExt::new_with_pool(pool.clone()).await;
    ext.install_sql_from_embedded().await.map_err(|e| MigrateError::Pgmq(e.to_string()))?;
    Ok("embedded".into())
}

fn checksum(body: &str) -> String {
    // FNV-1a 64: a change detector, not a security measure.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in body.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

async fn apply_sql_files(pool: &PgPool) -> Result<usize, MigrateError> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(SQL_LOCK_KEY).execute(&mut *tx).await?;
    let recorded: Vec<(String, String)> =
        sqlx::query_as("SELECT file_name, checksum FROM tasker.sql_applied").fetch_all(&mut *tx).await?;
    let current = SQL_FILES.iter().all(|(name, body)| {
        let sum = checksum(body);
        recorded.iter().any(|(n, c)| n == name && *c == sum)
    });
    if current {
        tx.commit().await?;
        return Ok(0);
    }
    for (name, body) in SQL_FILES {
        sqlx::raw_sql(body)
            .execute(&mut *tx)
            .await
            .map_err(|source| MigrateError::SqlFile { file: (*name).to_string(), source })?;
        sqlx::query(
            "INSERT INTO tasker.sql_applied (file_name, checksum, applied_at) VALUES ($1, $2, now())
             ON CONFLICT (file_name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now()",
        )
        .bind(name)
        .bind(checksum(body))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(SQL_FILES.len())
}
