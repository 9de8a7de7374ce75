//! docs/operations.md runs: every ```` ```sql ```` block of the operator runbook, in order, on one
//! database prepared so that every situation the page talks about exists.
//!
//! Conventions of the page, enforced here:
//! - every ```` ```sql ```` block runs as written, top to bottom, with `sqlx::raw_sql` (a block may
//!   hold several statements); a failing block is reported with its heading and line;
//! - a block holding a line `-- expect: rows` is a block meant to find something: its last
//!   statement must return at least one row;
//! - output samples and anything not meant to run go in ```` ```text ```` blocks.
//!
//! The fixture (`prepare`) builds, with the engine's functions and time passed through `p_now`
//! (`create_task` takes no time, so a task that should look old has its timestamps moved back by
//! `move_task_to`, a fixture-only table write):
//! - `billing/invoice` (`charge` -> `email`, one attempt): invoices Y-1..Y-3 whose `charge` failed
//!   yesterday at noon (GatewayTimeout), T-1 failed today (CardDeclined), all four in `error` with a
//!   DLQ entry; T-2 with a success result waiting in `orchestration_step_results`; T-3 with its
//!   `charge` message visible in the worker queue;
//! - `shipping/parcel` (`label`, `customs` -> `pickup`): order S-1, created three hours ago,
//!   `label` claimed then and never reported, `customs` enqueued with its queue message deleted;
//!   order D-1, fresh, to be cancelled;
//! - `shipping/quote` (`rate`): order Q-1, two hours ago, `rate` failed with a one-minute retry hint
//!   and the finalizer never ran (ready, undispatched, flagged for finalization).
//!
//! After the last block the effects of the state-changing recipes are asserted.

use serde_json::{json, Value};
use sqlx::{Either, PgPool};
use uuid::Uuid;

use crate::support::*;

const DOC: &str = "docs/operations.md";
/// The marker of a block whose last statement must return rows.
const EXPECT_ROWS: &str = "-- expect: rows";

/// One ```` ```sql ```` block of the page.
#[derive(Debug)]
struct Block {
    /// The nearest heading above it.
    heading: String,
    /// 1-based line of the opening fence.
    line: usize,
    sql: String,
    expect_rows: bool,
}

impl Block {
    fn name(&self) -> String {
        format!("{DOC}:{} \"{}\"", self.line, self.heading)
    }
}

/// Every ```` ```sql ```` block of `text`, in order, with its heading.
fn sql_blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut heading = String::from("(top)");
    let mut open: Option<(bool, usize, Vec<&str>)> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        match open.as_mut() {
            Some((is_sql, start, body)) => {
                if fence {
                    if *is_sql {
                        let sql = body.join("\n");
                        let expect_rows = body.iter().any(|l| l.trim() == EXPECT_ROWS);
                        blocks.push(Block { heading: heading.clone(), line: *start, sql, expect_rows });
                    }
                    open = None;
                } else {
                    body.push(line);
                }
            }
            None if fence => open = Some((line.trim() == "```sql", i + 1, Vec::new())),
            None if line.starts_with('#') => heading = line.trim_start_matches('#').trim().to_string(),
            None => {}
        }
    }
    assert!(open.is_none(), "{DOC}: unterminated code block");
    blocks
}

/// Runs a block; returns the number of rows its last statement returned.
async fn run_block(pool: &PgPool, sql: &str) -> Result<usize, sqlx::Error> {
    let mut results = sqlx::raw_sql(sql).fetch_many(pool);
    let (mut current, mut last) = (0, 0);
    while let Some(item) = std::future::poll_fn(|cx| results.as_mut().poll_next(cx)).await {
        match item? {
            // One query result closes each statement, after its rows.
            Either::Left(_) => last = std::mem::take(&mut current),
            Either::Right(_) => current += 1,
        }
    }
    Ok(last)
}

// ---------------------------------------------------------------------------------------------
// The fixture
// ---------------------------------------------------------------------------------------------

/// The tasks the page acts on, by business id.
struct Fixture {
    yesterday: Vec<Uuid>,
    t1: Uuid,
    s1: Uuid,
    q1: Uuid,
    d1: Uuid,
}

async fn ts(pool: &PgPool, expr: &str) -> Ts {
    sqlx::query_scalar(&format!("SELECT {expr}")).fetch_one(pool).await.unwrap()
}

/// Moves every timestamp of a task just created (and its steps and history) back to `at`, as if it
/// had been created then. Fixture only: create_task has no p_now.
async fn move_task_to(pool: &PgPool, task: Uuid, at: Ts) {
    for sql in [
        "UPDATE tasker.tasks SET created_at = $2, updated_at = $2 WHERE task_uuid = $1",
        "UPDATE tasker.workflow_steps SET created_at = $2, updated_at = $2,
                enqueued_at = CASE WHEN enqueued_at IS NOT NULL THEN $2 END WHERE task_uuid = $1",
        "UPDATE tasker.task_transitions SET created_at = $2 WHERE task_uuid = $1",
        "UPDATE tasker.workflow_step_transitions SET created_at = $2 WHERE task_uuid = $1",
    ] {
        sqlx::query(sql).bind(task).bind(at).execute(pool).await.unwrap();
    }
}

async fn prepare(pool: &PgPool) -> Fixture {
    let one_attempt = json!({"max_attempts": 1});
    let three_attempts = json!({"max_attempts": 3});
    register(pool, template("billing", "invoice", &[("charge", &[]), ("email", &["charge"])], one_attempt)).await;
    register(
        pool,
        template(
            "shipping",
            "parcel",
            &[("label", &[]), ("customs", &[]), ("pickup", &["label", "customs"])],
            three_attempts.clone(),
        ),
    )
    .await;
    register(pool, template("shipping", "quote", &[("rate", &[])], three_attempts)).await;

    // Yesterday at noon (session time zone, as the page's "yesterday" / "today"), three charges
    // failed on a gateway timeout.
    let noon_yesterday = ts(pool, "date_trunc('day', now()) - interval '12 hours'").await;
    let mut yesterday = Vec::new();
    for id in ["Y-1", "Y-2", "Y-3"] {
        let task = create_task(pool, "billing", "invoice", json!({"invoice_id": id})).await;
        move_task_to(pool, task, noon_yesterday - chrono::Duration::hours(1)).await;
        yesterday.push(task);
    }
    let failed = fail_claimed(pool, "billing", "payment gateway timeout", "GatewayTimeout", Some(noon_yesterday)).await;
    assert_eq!(failed.len(), 3);

    // Today, a declined card.
    let t1 = create_task(pool, "billing", "invoice", json!({"invoice_id": "T-1"})).await;
    assert_eq!(fail_claimed(pool, "billing", "card declined", "CardDeclined", None).await.len(), 1);
    for task in yesterday.iter().chain([&t1]) {
        assert_eq!(task_state(pool, *task).await, "error");
        assert_eq!(dlq_entries(pool, *task).await.len(), 1);
    }

    // Order S-1, three hours ago: customs' message lost, label claimed by a worker that vanished.
    let now = db_now(pool).await;
    let s1 = create_task(pool, "shipping", "parcel", json!({"order_id": "S-1"})).await;
    move_task_to(pool, s1, now - chrono::Duration::hours(3)).await;
    let customs = step(pool, s1, "customs").await.step_uuid;
    let deleted: bool = sqlx::query_scalar(
        "SELECT pgmq.delete('worker_shipping_queue', msg_id) FROM pgmq.q_worker_shipping_queue
          WHERE message ->> 'step_uuid' = $1::text",
    )
    .bind(customs)
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(deleted);
    let label = only(claim_vt(pool, "shipping", 10, 3600, Some(now - chrono::Duration::minutes(179))).await);
    assert_eq!(label.step_name, "label");

    // Order Q-1, two hours ago: rate failed with a one-minute retry hint; neither the step
    // enqueuer nor the finalizer ran since.
    let two_hours_ago = now - chrono::Duration::hours(2);
    let q1 = create_task(pool, "shipping", "quote", json!({"order_id": "Q-1"})).await;
    move_task_to(pool, q1, two_hours_ago).await;
    let rate = only(claim(pool, "shipping", 10, Some(two_hours_ago)).await);
    let outcome = Outcome::Retryable { message: "carrier API unavailable".into(), retry_after_ms: Some(60_000) };
    assert!(submit_at(pool, &rate, &outcome, Some(two_hours_ago)).await);
    assert_eq!(step(pool, q1, "rate").await.state, "waiting_for_retry");

    // Invoice T-2: a success result not yet processed; invoice T-3: a message waiting for a worker.
    let t2 = create_task(pool, "billing", "invoice", json!({"invoice_id": "T-2"})).await;
    let charge = only(claim(pool, "billing", 10, None).await);
    assert_eq!(charge.task_uuid, t2);
    // Reported through the results queue, as a worker posting to pgmq does (result, then ack).
    post_result(pool, &charge, &Outcome::ok()).await;
    sqlx::query("SELECT pgmq.delete('worker_billing_queue', $1)").bind(charge.msg_id).execute(pool).await.unwrap();
    create_task(pool, "billing", "invoice", json!({"invoice_id": "T-3"})).await;

    // Order D-1: fresh, to be cancelled.
    let d1 = create_task(pool, "shipping", "parcel", json!({"order_id": "D-1"})).await;

    assert_eq!(result_queue_len(pool).await, 1);
    Fixture { yesterday, t1, s1, q1, d1 }
}

/// Checks run right after a block: a dry run changes nothing.
async fn after_block(pool: &PgPool, block: &Block, fx: &Fixture) {
    if block.sql.contains("\"dry_run\": true") {
        for task in &fx.yesterday {
            assert_eq!(
                step(pool, *task, "charge").await.state,
                "error",
                "{}: the dry run changed a step",
                block.name()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_sql_block_of_the_operations_page_runs_and_finds_what_it_describes() {
    let text = std::fs::read_to_string(DOC).expect("read docs/operations.md");
    let blocks = sql_blocks(&text);
    assert!(blocks.len() >= 20, "{DOC}: only {} sql blocks found", blocks.len());

    let db = test_db().await;
    let pool = &db.pool;
    let fx = prepare(pool).await;

    for block in &blocks {
        let rows = match run_block(pool, &block.sql).await {
            Ok(rows) => rows,
            Err(e) => panic!("{} failed: {e}\n{}", block.name(), block.sql),
        };
        if block.expect_rows {
            assert!(rows > 0, "{} returned no rows (it is marked `{EXPECT_ROWS}`)\n{}", block.name(), block.sql);
        }
        after_block(pool, block, &fx).await;
    }

    // §3 batch retry: yesterday's charges are pending again with fresh attempts, their tasks run
    // and their DLQ entries are retried; today's failure was outside the window.
    for task in &fx.yesterday {
        let charge = step(pool, *task, "charge").await;
        assert_eq!((charge.state.as_str(), charge.attempts), ("pending", 0), "batch retry: charge of {task}");
        assert_eq!(task_state(pool, *task).await, "enqueuing_steps", "batch retry: task {task}");
        assert_eq!(dlq_entries(pool, *task).await[0].2, "retried", "batch retry: DLQ entry of {task}");
        let reason = step_history(pool, charge.step_uuid).await.pop().unwrap().3.unwrap()["reason"].clone();
        assert_eq!(reason, json!("gateway back up, INC-4711"), "batch retry: history reason");
    }
    assert_eq!(step(pool, fx.t1, "charge").await.state, "error", "batch retry: today's failure must not be retried");

    // §1 sweep and §4 reset: customs was failed as Stale, then reset.
    let customs = step(pool, fx.s1, "customs").await;
    assert_eq!((customs.state.as_str(), customs.attempts), ("pending", 0), "reset_step: customs");
    assert!(customs.ready_at.is_some(), "reset_step: customs has no parents, it is ready");
    let events: Vec<String> = step_history(pool, customs.step_uuid).await.into_iter().map(|h| h.2).collect();
    assert_eq!(events, ["enqueue", "fail", "reset"], "sweep then reset: customs history");

    // §4 complete_step: label complete with the result; pickup waits for customs only.
    let label = step(pool, fx.s1, "label").await;
    assert_eq!(label.state, "complete", "complete_step: label");
    assert_eq!(label.results, Some(json!({"tracking": "1Z999AA10123456784", "printed_by": "ops"})));
    assert_eq!(step(pool, fx.s1, "pickup").await.parents_pending, 1, "complete_step: pickup's counter");
    let meta: Value = step_history(pool, label.step_uuid).await.pop().unwrap().3.unwrap();
    assert_eq!(meta["operator"], json!(true));
    assert_eq!(task_state(pool, fx.s1).await, "enqueuing_steps");

    // §4 resolve_step: rate resolved, its single-step task complete.
    assert_eq!(step(pool, fx.q1, "rate").await.state, "resolved_manually", "resolve_step: rate");
    assert_eq!(task_state(pool, fx.q1).await, "complete", "resolve_step: task Q-1");

    // §4 cancel_task.
    assert_eq!(task_state(pool, fx.d1).await, "cancelled", "cancel_task: task D-1");
    assert!(steps(pool, fx.d1).await.iter().all(|s| s.state == "cancelled"), "cancel_task: steps of D-1");

    // §5 the DLQ entry of T-1: resolved, with both notes, by alice; the task untouched.
    let (status, notes, by, resolved): (String, String, String, bool) = sqlx::query_as(
        "SELECT resolution_status, resolution_notes, resolved_by, resolved_at IS NOT NULL
           FROM tasker.dlq_entries WHERE task_uuid = $1",
    )
    .bind(fx.t1)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), by.as_str(), resolved), ("resolved", "alice", true), "update_dlq_entry: T-1");
    assert_eq!(
        notes,
        "card declined; billing contacts the customer\ncustomer paid by bank transfer; invoice closed in the ledger"
    );
    assert_eq!(task_state(pool, fx.t1).await, "error", "update_dlq_entry must not touch the task");
}
