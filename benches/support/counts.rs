//! Work counts of a benchmark run, read from PostgreSQL itself: WAL bytes
//! (`pg_current_wal_lsn()`), commits (`pg_stat_database.xact_commit`), top-level statements
//! (`pg_stat_statements`, when loaded) and row writes (`pg_stat_user_tables`, split into the
//! engine's tables and pgmq's). Unlike timings, they do not depend on what else the machine runs,
//! so they are the figures to decide by; timings are reported beside them.

use std::time::Duration;

use sqlx::{PgPool, Row};

/// Cumulative counters at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counters {
    /// WAL position in bytes.
    pub wal: i64,
    /// WAL records and full-page images written, cluster-wide (`pg_stat_wal`).
    pub wal_records: i64,
    /// Full-page images among them (the first change of a page after a checkpoint).
    pub wal_fpi: i64,
    /// Committed transactions in the benchmark's database.
    pub commits: i64,
    /// Top-level statements (`pg_stat_statements` calls), when the extension is loaded.
    pub statements: Option<i64>,
    /// Row writes of schema `tasker`: inserts, updates (of which HOT), deletes.
    pub tasker: Rows,
    /// Row writes of schema `pgmq` (the queues).
    pub pgmq: Rows,
}

/// Row writes of a set of tables.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rows {
    /// Rows inserted.
    pub ins: i64,
    /// Rows updated (HOT or not).
    pub upd: i64,
    /// Rows updated in place without index writes (heap-only tuples).
    pub hot: i64,
    /// Rows deleted.
    pub del: i64,
}

impl Rows {
    fn minus(self, o: Rows) -> Rows {
        Rows { ins: self.ins - o.ins, upd: self.upd - o.upd, hot: self.hot - o.hot, del: self.del - o.del }
    }

    /// Inserts + updates + deletes.
    pub fn writes(self) -> i64 {
        self.ins + self.upd + self.del
    }
}

impl Counters {
    /// What happened between `before` and `self`.
    pub fn minus(self, before: Counters) -> Counters {
        Counters {
            wal: self.wal - before.wal,
            wal_records: self.wal_records - before.wal_records,
            wal_fpi: self.wal_fpi - before.wal_fpi,
            commits: self.commits - before.commits,
            statements: self.statements.zip(before.statements).map(|(a, b)| a - b),
            tasker: self.tasker.minus(before.tasker),
            pgmq: self.pgmq.minus(before.pgmq),
        }
    }
}

/// Creates `pg_stat_statements` in the benchmark database when the server preloads it.
pub async fn enable_statements(pool: &PgPool) -> bool {
    let loaded: Option<String> =
        sqlx::query_scalar("SELECT current_setting('shared_preload_libraries', true)").fetch_one(pool).await.ok();
    if !loaded.unwrap_or_default().contains("pg_stat_statements") {
        return false;
    }
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").execute(pool).await.is_ok()
}

/// Reads the counters. Statistics of other sessions reach the shared counters up to a second
/// after their transactions end (PostgreSQL 15 flushes them when a session goes idle), so the
/// caller lets the system settle first (see [`settle`]).
pub async fn read(pool: &PgPool, statements: bool) -> anyhow::Result<Counters> {
    let wal: i64 =
        sqlx::query_scalar("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint").fetch_one(pool).await?;
    let (wal_records, wal_fpi): (i64, i64) =
        sqlx::query_as("SELECT wal_records, wal_fpi FROM pg_stat_wal").fetch_one(pool).await?;
    let commits: i64 =
        sqlx::query_scalar("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
            .fetch_one(pool)
            .await?;
    let statements = if statements {
        Some(
            sqlx::query_scalar::<_, i64>(
                // The dispatch trigger's statement (tasker._notify_step_dispatched) runs at commit as
                // a top-level statement of its own; it is not a round trip, so it is not counted.
                "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements s \
                  JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database() \
                   AND s.query NOT LIKE '%NEW.step_uuid%'",
            )
            .fetch_one(pool)
            .await?,
        )
    } else {
        None
    };
    let mut out = Counters { wal, wal_records, wal_fpi, commits, statements, ..Counters::default() };
    let rows = sqlx::query(
        "SELECT schemaname::text AS schema, sum(n_tup_ins)::bigint AS ins, sum(n_tup_upd)::bigint AS upd, \
                sum(n_tup_hot_upd)::bigint AS hot, sum(n_tup_del)::bigint AS del \
           FROM pg_stat_user_tables WHERE schemaname IN ('tasker', 'pgmq') GROUP BY schemaname",
    )
    .fetch_all(pool)
    .await?;
    for r in rows {
        let v = Rows { ins: r.get("ins"), upd: r.get("upd"), hot: r.get("hot"), del: r.get("del") };
        match r.get::<String, _>("schema").as_str() {
            "tasker" => out.tasker = v,
            _ => out.pgmq = v,
        }
    }
    Ok(out)
}

/// Waits long enough for idle sessions to flush their statistics (PostgreSQL 15 flushes a
/// session's pending counts at most once a second, and an idle session's after a timeout of up to
/// a few seconds: with 1.5 s, runs that ended in a burst still showed fewer deletes than messages).
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(3_000)).await;
}

/// Prints the counts per step of a run of `steps` steps.
pub fn print(label: &str, c: &Counters, steps: usize) {
    let per = |v: i64| v as f64 / steps as f64;
    println!("  {label}: per step (of {steps})");
    println!(
        "    WAL bytes {:>8.0} (records {:.1}, full pages {:.2}) | commits {:>5.2} | statements {:>5} | row writes tasker {:>5.2} (ins {:.2} upd {:.2} of which HOT {:.2} del {:.2}) | pgmq {:>5.2} (ins {:.2} upd {:.2} del {:.2}) | total {:.2}",
        per(c.wal),
        per(c.wal_records),
        per(c.wal_fpi),
        per(c.commits),
        c.statements.map_or_else(|| "-".to_string(), |s| format!("{:.2}", per(s))),
        per(c.tasker.writes()),
        per(c.tasker.ins),
        per(c.tasker.upd),
        per(c.tasker.hot),
        per(c.tasker.del),
        per(c.pgmq.writes()),
        per(c.pgmq.ins),
        per(c.pgmq.upd),
        per(c.pgmq.del),
        per(c.tasker.writes() + c.pgmq.writes()),
    );
}
