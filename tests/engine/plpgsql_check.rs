//! Static checks of every PL/pgSQL function in schema `tasker` with the `plpgsql_check`
//! extension (Debian: `postgresql-15-plpgsql-check`; `.ci/run` installs it).
//!
//! Every warning class is on (other, extra, security, performance). Errors fail the test.
//! Warnings fail it too unless they are listed in [`ACCEPTED`] with the
//! reason they are harmless, so a new warning is looked at once: fixed in `sql/`, or accepted here.
//! Without the extension the test prints a note and passes, unless `CI` is set: CI always checks.

use crate::support::test_db;

/// Warnings reviewed and accepted: (function name, start of the message, why it is harmless).
const ACCEPTED: &[(&str, &str, &str)] = &[
    (
        "tasker.purge_queue_archives",
        "routine is marked as VOLATILE, should be STABLE",
        "it deletes from pgmq archive tables through dynamic SQL, which plpgsql_check cannot see into",
    ),
    (
        "tasker._queue_send",
        "routine is marked as VOLATILE, should be STABLE",
        "it inserts into a namespace's pgmq queue table through dynamic SQL, which plpgsql_check cannot see into",
    ),
    (
        "tasker._queue_read",
        "routine is marked as VOLATILE, should be STABLE",
        "it updates a namespace's pgmq queue table through dynamic SQL, which plpgsql_check cannot see into",
    ),
    (
        "tasker._queue_read",
        "OUT variable",
        "its rows come from RETURN QUERY EXECUTE (dynamic SQL), which sets both OUT columns; \
         plpgsql_check cannot see into dynamic SQL",
    ),
    (
        "tasker._queue_send_read",
        "routine is marked as VOLATILE, should be STABLE",
        "it inserts into a namespace's pgmq queue table through dynamic SQL, which plpgsql_check cannot see into",
    ),
    (
        "tasker._queue_send_read",
        "OUT variable",
        "its rows come from RETURN QUERY EXECUTE (dynamic SQL), which sets both OUT columns; \
         plpgsql_check cannot see into dynamic SQL",
    ),
    (
        "tasker._compile_queue_statements",
        "text type variable is not sanitized",
        "it writes functions: the text it executes is its own statement templates, with every queue name \
         quoted by format's %L (the branch test) or %I (the table)",
    ),
    (
        "tasker._queue_delete",
        "routine is marked as VOLATILE, should be STABLE",
        "it deletes from a namespace's pgmq queue table through dynamic SQL, which plpgsql_check cannot see into",
    ),
    (
        "tasker.stale_steps",
        "OUT variable",
        "its rows come from RETURN QUERY EXECUTE over each namespace's queue table (dynamic SQL), \
         which sets every OUT column; plpgsql_check cannot see into dynamic SQL",
    ),
];

/// One finding of `plpgsql_check_function_tb`.
#[derive(Debug, sqlx::FromRow)]
struct Finding {
    function: String,
    lineno: Option<i32>,
    statement: Option<String>,
    sqlstate: Option<String>,
    message: Option<String>,
    detail: Option<String>,
    hint: Option<String>,
    level: Option<String>,
    query: Option<String>,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} line {} ({}), {}: {}",
            self.level.as_deref().unwrap_or("?"),
            self.function,
            self.lineno.map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
            self.statement.as_deref().unwrap_or("-"),
            self.sqlstate.as_deref().unwrap_or("-"),
            self.message.as_deref().unwrap_or(""),
        )?;
        if let Some(d) = &self.detail {
            write!(f, "\n    detail: {d}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n    hint: {h}")?;
        }
        if let Some(q) = &self.query {
            write!(f, "\n    query: {}", q.split_whitespace().collect::<Vec<_>>().join(" "))?;
        }
        Ok(())
    }
}

fn accepted(f: &Finding) -> bool {
    let name = f.function.split('(').next().unwrap_or("");
    ACCEPTED.iter().any(|(func, msg, _why)| name == *func && f.message.as_deref().is_some_and(|m| m.starts_with(msg)))
}

#[tokio::test]
async fn every_plpgsql_function_in_tasker_passes_plpgsql_check() {
    let db = test_db().await;
    let available: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'plpgsql_check')")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    if !available {
        let msg = "the plpgsql_check extension is not installed (Debian: apt-get install postgresql-15-plpgsql-check)";
        if std::env::var_os("CI").is_some() {
            panic!("{msg}; CI must run this check");
        }
        eprintln!("note: {msg}; skipping the static check of sql/");
        return;
    }
    sqlx::query("CREATE EXTENSION plpgsql_check").execute(&db.pool).await.unwrap();

    let checked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_proc p
           JOIN pg_namespace n ON n.oid = p.pronamespace
           JOIN pg_language l ON l.oid = p.prolang
          WHERE n.nspname = 'tasker' AND l.lanname = 'plpgsql'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(checked > 20, "expected the engine's PL/pgSQL functions in schema tasker, found {checked}");

    let findings: Vec<Finding> = sqlx::query_as(
        "SELECT p.oid::regprocedure::text AS function, r.lineno, r.statement, r.sqlstate, r.message,
                r.detail, r.hint, r.level, r.query
           FROM pg_proc p
           JOIN pg_namespace n ON n.oid = p.pronamespace
           JOIN pg_language l ON l.oid = p.prolang
          -- A trigger function is checked against the table of its trigger.
          CROSS JOIN LATERAL plpgsql_check_function_tb(p.oid,
                                                       relid => coalesce((SELECT t.tgrelid FROM pg_trigger t
                                                                           WHERE t.tgfoid = p.oid LIMIT 1), 0),
                                                       fatal_errors => false, other_warnings => true,
                                                       extra_warnings => true, security_warnings => true,
                                                       performance_warnings => true) r
          WHERE n.nspname = 'tasker' AND l.lanname = 'plpgsql'
          ORDER BY p.proname, r.lineno",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();

    let failing: Vec<String> = findings.iter().filter(|f| !accepted(f)).map(std::string::ToString::to_string).collect();
    assert!(
        failing.is_empty(),
        "plpgsql_check reports {} finding(s) in sql/ (fix them, or accept a harmless warning in \
         tests/engine/plpgsql_check.rs with the reason):\n{}",
        failing.len(),
        failing.join("\n")
    );
}

#[test]
fn every_accepted_warning_names_a_reason() {
    for (func, msg, why) in ACCEPTED {
        assert!(!func.is_empty() && !msg.is_empty() && why.len() > 20, "{func}: {msg}: give the reason");
    }
}
