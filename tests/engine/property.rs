//! Properties over random DAGs (1..=60 steps, edges only from a lower to a higher index, so
//! acyclic), driven only through the SQL API by a simulated worker that moves time with p_now:
//!
//! 1. without failures, every step runs exactly once, never before all its parents completed,
//!    children receive their parents' results, and the tasks end `complete`;
//! 2. with injected retryable and permanent failures, no step runs more than max_attempts times,
//!    no retry is dispatched before its next_retry_at, enqueue_ready_steps takes higher priority
//!    first, and a task ends `error` with one DLQ entry exactly when some step exhausts its
//!    attempts or fails permanently, else `complete`;
//! 3. through chained claims (`submit_and_claim`, which claims released children as they are
//!    released and fills its other slots from the queue) with a random limit, property 1 holds,
//!    and every step is enqueued once and claimed once, in that order.
//!
//! Cases default to 16 per property; PROPTEST_CASES overrides.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::Duration;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use tasker_orchestration::db::worker::{self as worker_sql, ClaimedStep};

use crate::support::*;

const NS: &str = "prop";
const MAX_ROUNDS: usize = 5000;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(16);
    Config { cases, max_shrink_iters: 64, ..Config::default() }
}

fn step_name(i: usize) -> String {
    format!("s{i:02}")
}

/// parents[i] lists indices lower than i.
fn dag() -> impl Strategy<Value = Vec<Vec<usize>>> {
    (1usize..=60).prop_flat_map(|n| {
        (0..n).map(|i| proptest::sample::subsequence((0..i).collect::<Vec<_>>(), 0..=i.min(4))).collect::<Vec<_>>()
    })
}

/// A step's injected behaviour and retry policy.
#[derive(Debug, Clone)]
struct Plan {
    /// Attempts that fail with a retryable error before the step succeeds (or fails permanently).
    retryable_failures: u32,
    /// Whether the first attempt after those fails permanently.
    permanent: bool,
    max_attempts: u32,
    backoff: &'static str,
    base_ms: u32,
}

impl Plan {
    fn outcome(&self, attempt: u32) -> Outcome {
        if attempt <= self.retryable_failures {
            Outcome::retryable("injected")
        } else if self.permanent {
            Outcome::permanent("injected permanent", "Injected")
        } else {
            Outcome::ok()
        }
    }
    /// Whether this step fails for good once it runs.
    fn fails(&self) -> bool {
        self.retryable_failures >= self.max_attempts || self.permanent
    }
    /// How many times it runs when it runs at all.
    fn runs(&self) -> u32 {
        (self.retryable_failures + 1).min(self.max_attempts)
    }
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        prop_oneof![6 => Just(0u32), 2 => Just(1u32), 1 => Just(2u32), 1 => Just(3u32)],
        prop::bool::weighted(0.05),
        1u32..=4,
        prop_oneof![Just("none"), Just("linear"), Just("exponential")],
        prop_oneof![Just(0u32), Just(50u32), Just(300u32), Just(1000u32)],
    )
        .prop_map(|(retryable_failures, permanent, max_attempts, backoff, base_ms)| Plan {
            retryable_failures,
            permanent,
            max_attempts,
            backoff,
            base_ms,
        })
}

/// A DAG with a plan per step; when `fatal` is false, no step is allowed to fail for good.
fn failing_dag() -> impl Strategy<Value = (Vec<Vec<usize>>, Vec<Plan>, bool, i32, i32)> {
    dag().prop_flat_map(|parents| {
        let n = parents.len();
        (Just(parents), proptest::collection::vec(plan(), n), any::<bool>(), -3i32..=3, -3i32..=3)
    })
}

fn definition(parents: &[Vec<usize>], plans: Option<&[Plan]>) -> Value {
    let steps: Vec<Value> = parents
        .iter()
        .enumerate()
        .map(|(i, ps)| {
            let mut s = json!({
                "name": step_name(i),
                "handler": "prop",
                "depends_on": ps.iter().map(|p| step_name(*p)).collect::<Vec<_>>(),
            });
            if let Some(plans) = plans {
                let p = &plans[i];
                s["retry"] = json!({"max_attempts": p.max_attempts, "backoff": p.backoff,
                                    "base_ms": p.base_ms, "max_ms": p.base_ms * 4});
            }
            s
        })
        .collect();
    json!({"namespace": NS, "name": "random", "version": "1", "steps": steps})
}

/// Step uuid by (task, index).
async fn step_ids(pool: &PgPool, tasks: &[Uuid]) -> HashMap<Uuid, (Uuid, usize)> {
    let rows: Vec<(Uuid, Uuid, String)> =
        sqlx::query_as("SELECT step_uuid, task_uuid, name FROM tasker.workflow_steps WHERE task_uuid = ANY($1)")
            .bind(tasks)
            .fetch_all(pool)
            .await
            .unwrap();
    rows.into_iter().map(|(s, t, name)| (s, (t, name[1..].parse().unwrap()))).collect()
}

async fn all_final(pool: &PgPool, tasks: &[Uuid]) -> bool {
    let open: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tasker.tasks WHERE task_uuid = ANY($1) \
            AND state NOT IN ('complete', 'error', 'cancelled', 'resolved_manually')",
    )
    .bind(tasks)
    .fetch_one(pool)
    .await
    .unwrap();
    open == 0
}

/// Submits a batch of outcomes, applied at once as of `now`; every one must be accepted.
async fn submit_all(pool: &PgPool, results: Vec<Value>, now: Ts) {
    if results.is_empty() {
        return;
    }
    let n = results.len();
    let accepted: Vec<bool> = sqlx::query_scalar("SELECT accepted FROM tasker.submit_step_results($1, $2)")
        .bind(Value::Array(results))
        .bind(now)
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(accepted, vec![true; n]);
}

/// No step was enqueued before every parent's completion (history order).
async fn assert_no_early_dispatch(pool: &PgPool, tasks: &[Uuid]) {
    let early: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tasker.workflow_step_edges e \
           JOIN tasker.workflow_steps c ON c.step_uuid = e.to_step_uuid AND c.task_uuid = ANY($1) \
           JOIN tasker.workflow_step_transitions ce ON ce.step_uuid = e.to_step_uuid AND ce.event = 'enqueue' \
          WHERE NOT EXISTS (SELECT 1 FROM tasker.workflow_step_transitions pe \
                             WHERE pe.step_uuid = e.from_step_uuid AND pe.event = 'complete' AND pe.id < ce.id)",
    )
    .bind(tasks)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(early, 0, "steps enqueued before a parent completed");
}

// ---------------------------------------------------------------------------------------------
// Property 1: no failures
// ---------------------------------------------------------------------------------------------

async fn run_without_failures(parents: Vec<Vec<usize>>, priorities: (i32, i32), claim_limit: i32) {
    let db = test_db().await;
    let pool = &db.pool;
    register(pool, definition(&parents, None)).await;
    let mut tasks = Vec::new();
    for (i, p) in [priorities.0, priorities.1].into_iter().enumerate() {
        tasks.push(try_create_task(pool, NS, "random", json!({"i": i}), json!({"priority": p})).await.unwrap());
    }
    let ids = step_ids(pool, &tasks).await;
    let mut clock = db_now(pool).await;
    let mut runs: HashMap<Uuid, u32> = HashMap::new();
    let mut succeeded: HashSet<Uuid> = HashSet::new();
    let by_index: HashMap<(Uuid, usize), Uuid> = ids.iter().map(|(s, k)| (*k, *s)).collect();

    let mut rounds = 0;
    while !all_final(pool, &tasks).await {
        rounds += 1;
        assert!(rounds < MAX_ROUNDS, "no progress");
        let claimed = claim(pool, NS, claim_limit, Some(clock)).await;
        let mut results = Vec::new();
        for c in &claimed {
            let (task, idx) = ids[&c.step_uuid];
            *runs.entry(c.step_uuid).or_default() += 1;
            let mut expected_parents = BTreeMap::new();
            for p in &parents[idx] {
                let parent = by_index[&(task, *p)];
                assert!(succeeded.contains(&parent), "{} ran before its parent {}", step_name(idx), step_name(*p));
                expected_parents.insert(step_name(*p), json!({"step": step_name(*p), "task": task}));
            }
            assert_eq!(c.parent_results, json!(expected_parents), "parent results of {}", step_name(idx));
            let outcome = Outcome::Success(json!({"step": step_name(idx), "task": task}));
            if rounds % 2 == 0 {
                // Every other round through the results queue, as a worker posting to pgmq would.
                post_result(pool, c, &outcome).await;
            } else {
                results.push(result_json(c, &outcome));
            }
        }
        submit_all(pool, results, clock).await;
        process(pool, Some(clock)).await;
        succeeded.extend(claimed.iter().map(|c| c.step_uuid));
        enqueue(pool, 1000, Some(clock)).await;
        finalize(pool, Some(clock)).await;
        clock += Duration::milliseconds(10);
    }

    for t in &tasks {
        assert_eq!(task_state(pool, *t).await, "complete");
    }
    assert_eq!(runs.len(), ids.len(), "every step ran");
    assert!(runs.values().all(|&n| n == 1), "a step ran twice: {runs:?}");
    assert_no_early_dispatch(pool, &tasks).await;
    let per_step: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT step_uuid FROM tasker.workflow_step_transitions \
          WHERE task_uuid = ANY($1) AND event = 'enqueue' GROUP BY step_uuid HAVING count(*) <> 1) x",
    )
    .bind(&tasks)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(per_step, 0, "a step was enqueued more than once");
    drop_db(db).await;
}

#[test]
fn random_dags_run_every_step_once_after_its_parents_and_complete() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut runner = TestRunner::new(config());
    let strategy = (dag(), -5i32..=5, -5i32..=5, 1i32..=20);
    runner
        .run(&strategy, |(parents, p1, p2, limit)| {
            rt.block_on(run_without_failures(parents, (p1, p2), limit));
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Property 2: injected failures
// ---------------------------------------------------------------------------------------------

async fn run_with_failures(parents: Vec<Vec<usize>>, mut plans: Vec<Plan>, fatal: bool, priorities: (i32, i32)) {
    if !fatal {
        for p in &mut plans {
            p.permanent = false;
            p.retryable_failures = p.retryable_failures.min(p.max_attempts - 1);
        }
    }
    let db = test_db().await;
    let pool = &db.pool;
    register(pool, definition(&parents, Some(&plans))).await;
    let mut tasks = Vec::new();
    for (i, p) in [priorities.0, priorities.1].into_iter().enumerate() {
        tasks.push(try_create_task(pool, NS, "random", json!({"i": i}), json!({"priority": p})).await.unwrap());
    }
    let ids = step_ids(pool, &tasks).await;
    let mut clock = db_now(pool).await;
    let mut claims: HashMap<Uuid, u32> = HashMap::new();
    // Steps waiting for a retry: when they are due.
    let mut due: HashMap<Uuid, Ts> = HashMap::new();
    let mut enqueue_limit = 1;

    let mut rounds = 0;
    while !all_final(pool, &tasks).await {
        rounds += 1;
        assert!(rounds < MAX_ROUNDS, "no progress");
        let claimed = claim(pool, NS, 1000, Some(clock)).await;
        let mut results = Vec::new();
        for c in &claimed {
            let (_, idx) = ids[&c.step_uuid];
            let n = claims.entry(c.step_uuid).or_default();
            *n += 1;
            assert_eq!(c.attempt as u32, *n, "attempt numbers count the runs of {}", step_name(idx));
            assert!(
                *n <= plans[idx].max_attempts,
                "{} ran {} times, max_attempts {}",
                step_name(idx),
                n,
                plans[idx].max_attempts
            );
            results.push(result_json(c, &plans[idx].outcome(*n)));
        }
        submit_all(pool, results, clock).await;
        process(pool, Some(clock)).await;

        let waiting: Vec<(Uuid, Ts)> = sqlx::query_as(
            "SELECT step_uuid, next_retry_at FROM tasker.workflow_steps \
              WHERE task_uuid = ANY($1) AND state = 'waiting_for_retry'",
        )
        .bind(&tasks)
        .fetch_all(pool)
        .await
        .unwrap();
        for (s, at) in waiting {
            if let std::collections::hash_map::Entry::Vacant(e) = due.entry(s) {
                assert!(at >= clock, "retry scheduled before the failure was processed");
                e.insert(at);
            }
        }

        // Enqueue with a small, varying limit so both tasks' retries compete for it.
        enqueue_limit = enqueue_limit % 3 + 1;
        let sent = enqueue(pool, enqueue_limit, Some(clock)).await;
        for s in &sent {
            if let Some(at) = due.remove(s) {
                assert!(clock >= at, "step dispatched at {clock} before its next_retry_at {at}");
            }
        }
        let (left, max_left): (i64, Option<i32>) =
            sqlx::query_as("SELECT count(*), max(priority) FROM tasker.workflow_steps WHERE ready_at <= $1")
                .bind(clock)
                .fetch_one(pool)
                .await
                .unwrap();
        if (sent.len() as i32) < enqueue_limit {
            assert_eq!(left, 0, "enqueue left ready steps behind under its limit");
        } else if let Some(max_left) = max_left {
            let min_sent: i32 =
                sqlx::query_scalar("SELECT min(priority) FROM tasker.workflow_steps WHERE step_uuid = ANY($1)")
                    .bind(&sent)
                    .fetch_one(pool)
                    .await
                    .unwrap();
            assert!(max_left <= min_sent, "priority {max_left} left behind while {min_sent} was taken");
        }
        finalize(pool, Some(clock)).await;

        if claimed.is_empty() && sent.is_empty() && left == 0 {
            // Idle: try just before the earliest retry is due (the next round must not dispatch
            // it), then exactly at it.
            let Some(next) = due.values().min().copied() else {
                if all_final(pool, &tasks).await {
                    break;
                }
                panic!("tasks open, nothing in flight and nothing to retry: {:?}", step_states(pool, tasks[0]).await);
            };
            let before = next - Duration::milliseconds(1);
            clock = if before > clock { before } else { next.max(clock) };
        } else {
            clock += Duration::milliseconds(20);
        }
    }

    // Expected outcome per step: a step runs iff no ancestor fails; it fails iff its plan says so.
    let n = parents.len();
    let mut runs_at_all = vec![true; n];
    let mut ok = vec![true; n];
    for i in 0..n {
        runs_at_all[i] = parents[i].iter().all(|&p| ok[p] && runs_at_all[p]);
        ok[i] = runs_at_all[i] && !plans[i].fails();
    }
    let expect_error = plans.iter().any(Plan::fails);
    for t in &tasks {
        let state = task_state(pool, *t).await;
        let dlq = dlq_entries(pool, *t).await;
        if expect_error {
            assert_eq!(state, "error");
            assert_eq!(dlq.len(), 1, "one DLQ entry for an errored task");
        } else {
            assert_eq!(state, "complete");
            assert!(dlq.is_empty());
        }
    }
    for (s, (_, idx)) in &ids {
        let ran = claims.get(s).copied().unwrap_or(0);
        let expected = if runs_at_all[*idx] { plans[*idx].runs() } else { 0 };
        assert_eq!(ran, expected, "runs of {} (plan {:?})", step_name(*idx), plans[*idx]);
        let row = step_by_uuid(pool, *s).await;
        let expected_state = match (runs_at_all[*idx], plans[*idx].fails()) {
            (false, _) => "pending",
            (true, true) => "error",
            (true, false) => "complete",
        };
        assert_eq!(row.state, expected_state, "state of {}", step_name(*idx));
    }
    assert_no_early_dispatch(pool, &tasks).await;
    drop_db(db).await;
}

#[test]
fn random_dags_with_failures_respect_retries_and_end_in_error_exactly_when_a_step_fails() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut runner = TestRunner::new(config());
    runner
        .run(&failing_dag(), |(parents, plans, fatal, p1, p2)| {
            rt.block_on(run_with_failures(parents, plans, fatal, (p1, p2)));
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Property 3: chained claims
// ---------------------------------------------------------------------------------------------

/// A step claimed through the worker runtime's `db::worker::submit_and_claim`, as the tests'
/// own claims are.
fn claimed(step: ClaimedStep) -> Claimed {
    Claimed {
        msg_id: step.msg_id,
        step_uuid: step.step_uuid,
        task_uuid: step.task_uuid,
        attempt: step.attempt,
        max_attempts: step.max_attempts,
        namespace: step.namespace,
        task_name: step.task_name,
        task_version: step.task_version,
        step_name: step.step_name,
        handler: step.handler,
        timeout_seconds: step.timeout_seconds,
        context: step.context,
        inputs: step.inputs,
        parent_results: step.parent_results,
    }
}

async fn run_chained(parents: Vec<Vec<usize>>, limit: i32) {
    let db = test_db().await;
    let pool = &db.pool;
    register(pool, definition(&parents, None)).await;
    let mut tasks = Vec::new();
    for i in 0..2 {
        tasks.push(create_task(pool, NS, "random", json!({"i": i})).await);
    }
    let ids = step_ids(pool, &tasks).await;
    let by_index: HashMap<(Uuid, usize), Uuid> = ids.iter().map(|(s, k)| (*k, *s)).collect();
    let mut runs: HashMap<Uuid, u32> = HashMap::new();
    let mut succeeded: HashSet<Uuid> = HashSet::new();

    let mut held = claim(pool, NS, limit, None).await;
    let mut rounds = 0;
    while !all_final(pool, &tasks).await {
        rounds += 1;
        assert!(rounds < MAX_ROUNDS, "no progress");
        assert!(held.len() <= limit as usize, "claimed {} with a limit of {limit}", held.len());
        let mut results = Vec::new();
        for c in &held {
            let (task, idx) = ids[&c.step_uuid];
            *runs.entry(c.step_uuid).or_default() += 1;
            let mut expected_parents = BTreeMap::new();
            for p in &parents[idx] {
                let parent = by_index[&(task, *p)];
                assert!(succeeded.contains(&parent), "{} ran before its parent {}", step_name(idx), step_name(*p));
                expected_parents.insert(step_name(*p), json!({"step": step_name(*p), "task": task}));
            }
            assert_eq!(c.parent_results, json!(expected_parents), "parent results of {}", step_name(idx));
            results.push(result_json(c, &Outcome::Success(json!({"step": step_name(idx), "task": task}))));
        }
        succeeded.extend(held.iter().map(|c| c.step_uuid));
        let n = results.len();
        // The call the worker runtime makes (its fallback, a plain submission, must not be taken).
        let done = worker_sql::submit_and_claim(pool, &results, NS, limit, 30, "prop").await.expect("submit_and_claim");
        assert_eq!(done.outcomes.iter().map(|o| o.accepted).collect::<Vec<_>>(), vec![true; n]);
        held = done.claimed.expect("the chained claim").into_iter().map(claimed).collect();
        if held.is_empty() {
            held = claim(pool, NS, limit, None).await;
        }
    }

    for t in &tasks {
        assert_eq!(task_state(pool, *t).await, "complete");
    }
    assert_eq!(runs.len(), ids.len(), "every step ran");
    assert!(runs.values().all(|&n| n == 1), "a step ran twice: {runs:?}");
    assert_no_early_dispatch(pool, &tasks).await;
    // Each step: one enqueue, then one claim, whichever way it was claimed.
    let wrong: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT step_uuid FROM tasker.workflow_step_transitions WHERE task_uuid = ANY($1) \
          GROUP BY step_uuid \
         HAVING count(*) FILTER (WHERE event = 'enqueue') <> 1 OR count(*) FILTER (WHERE event = 'claim') <> 1 \
             OR max(id) FILTER (WHERE event = 'enqueue') > max(id) FILTER (WHERE event = 'claim')) x",
    )
    .bind(&tasks)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(wrong, 0, "a step not enqueued once and then claimed once");
    assert_eq!(count(pool, &format!("SELECT count(*) FROM pgmq.q_worker_{NS}_queue")).await, 0, "messages left");
    drop_db(db).await;
}

#[test]
fn random_dags_through_chained_claims_run_every_step_once_after_its_parents() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut runner = TestRunner::new(config());
    runner
        .run(&(dag(), 1i32..=8), |(parents, limit)| {
            rt.block_on(run_chained(parents, limit));
            Ok(())
        })
        .unwrap();
}
