//! The plan settings of the engine's functions (docs/sql-api.md, Conventions).
//!
//! A function that turns sequential scans off must turn JIT compilation off too. Under
//! `enable_seqscan = off` a plan that still has to scan a table (the state machine's small
//! tables have no other path) is costed at about 10^10, far above `jit_above_cost`, so without
//! `jit = off` PostgreSQL compiles that statement with LLVM at every execution: 20-150 ms of CPU
//! for a statement that runs in microseconds (the staleness sweep, template registration).

use crate::support::test_db;

#[tokio::test]
async fn every_function_without_seqscans_also_runs_without_jit() {
    let db = test_db().await;
    let rows: Vec<(String, bool)> = sqlx::query_as(
        "SELECT p.oid::regprocedure::text, 'jit=off' = ANY (p.proconfig)
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = 'tasker' AND 'enable_seqscan=off' = ANY (p.proconfig)
          ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(rows.len() >= 30, "the hot functions turn sequential scans off: {rows:?}");
    let missing: Vec<&str> = rows.iter().filter(|(_, jit_off)| !jit_off).map(|(f, _)| f.as_str()).collect();
    assert!(missing.is_empty(), "functions with enable_seqscan = off but without jit = off: {missing:?}");
}
