//! The worker protocol as a trust boundary: the `tasker_worker` role may execute the claim,
//! heartbeat and submit functions for its own namespaces and nothing else; a result counts only
//! for the attempt and dispatch message the claim handed out; heartbeats are bounded and only for
//! the caller's running steps; a handler's retry hint cannot outlast its step's backoff.

use serde_json::json;
use sqlx::PgPool;

use crate::support::*;

/// demo/single (one step `only`) and orders/single, each with a task.
async fn two_namespaces(pool: &PgPool) {
    let retry = json!({"max_attempts": 3, "backoff": "exponential", "base_ms": 100, "max_ms": 1000});
    register(pool, template("demo", "single", &[("only", &[])], retry.clone())).await;
    register(pool, template("orders", "single", &[("only", &[])], retry)).await;
    create_task(pool, "demo", "single", json!({})).await;
    create_task(pool, "orders", "single", json!({})).await;
}

fn claim_sql() -> &'static str {
    "SELECT * FROM tasker.claim_steps($1, 10, 30, 'w')"
}

#[tokio::test]
async fn worker_role_can_read_no_table_and_reach_no_queue() {
    let db = test_db().await;
    two_namespaces(&db.pool).await;
    let worker = db.worker_pool(&["*"], 2).await;

    for sql in [
        "SELECT count(*) FROM tasker.tasks",
        "SELECT count(*) FROM tasker.workflow_steps",
        "SELECT count(*) FROM pgmq.q_orchestration_step_results",
        "SELECT pgmq.send('orchestration_step_results', '{}'::jsonb)",
        "SELECT tasker.apply_step_results('[]'::jsonb)",
        "SELECT tasker.process_step_results()",
        "SELECT tasker.cancel_task(gen_random_uuid())",
        "UPDATE tasker.workflow_steps SET state = 'complete'",
    ] {
        let err = sqlx::query(sql).execute(&worker).await.expect_err(sql);
        assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{sql}: {err}");
    }

    // What it may do: claim, heartbeat, submit, list its namespaces, write its audit.
    let claimed: Vec<Claimed> = sqlx::query_as(claim_sql()).bind("demo").fetch_all(&worker).await.unwrap();
    let c = only(claimed);
    let extended: Vec<i64> = sqlx::query_scalar("SELECT * FROM tasker.extend_visibility('demo', $1, 60)")
        .bind(vec![c.msg_id])
        .fetch_all(&worker)
        .await
        .unwrap();
    assert_eq!(extended, vec![c.msg_id]);
    assert!(submit(&worker, &c, &Outcome::ok()).await);
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM tasker.list_namespaces()").fetch_all(&worker).await.unwrap();
    assert_eq!(names, vec!["demo", "orders"]);
    sqlx::query(
        "INSERT INTO tasker_audit.step_executions
             (step_uuid, task_uuid, attempt, handler, worker_id, started_at, finished_at, outcome)
         VALUES ($1, $2, 1, 'h', 'w', now(), now(), 'success')",
    )
    .bind(c.step_uuid)
    .bind(c.task_uuid)
    .execute(&worker)
    .await
    .expect("the worker role writes its execution audit");
}

#[tokio::test]
async fn a_role_outside_tasker_worker_cannot_call_the_worker_protocol() {
    let db = test_db().await;
    two_namespaces(&db.pool).await;
    let role = format!("tasker_test_w_outsider_{}", std::process::id());
    sqlx::query(&format!("DROP ROLE IF EXISTS {role}")).execute(&db.pool).await.unwrap();
    sqlx::query(&format!("CREATE ROLE {role} LOGIN PASSWORD 'x'")).execute(&db.pool).await.unwrap();
    let url = tasker_orchestration::testing::url_with_user(&db.url, &role, "x");
    let outsider = tasker_orchestration::db::connect(&url, &Default::default()).await.unwrap();

    let err = sqlx::query(claim_sql()).bind("demo").execute(&outsider).await.expect_err("claim as an outsider");
    assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{err}");
    let err = sqlx::query("SELECT pgmq.send('orchestration_step_results', '{}'::jsonb)")
        .execute(&outsider)
        .await
        .expect_err("pgmq.send as an outsider");
    assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{err}");
    outsider.close().await;
    sqlx::query(&format!("DROP ROLE {role}")).execute(&db.pool).await.unwrap();
}

#[tokio::test]
async fn a_worker_serves_only_its_namespaces() {
    let db = test_db().await;
    two_namespaces(&db.pool).await;
    let worker = db.worker_pool(&["demo"], 2).await;

    let err = sqlx::query(claim_sql()).bind("orders").execute(&worker).await.expect_err("claim of orders");
    assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{err}");
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM tasker.list_namespaces()").fetch_all(&worker).await.unwrap();
    assert_eq!(names, vec!["demo"], "list_namespaces shows a worker only its namespaces");

    // A step of orders claimed by someone else: this worker can neither heartbeat nor ack it.
    let other = only(claim(&db.pool, "orders", 10, None).await);
    let err = sqlx::query("SELECT * FROM tasker.extend_visibility('orders', $1, 60)")
        .bind(vec![other.msg_id])
        .execute(&worker)
        .await
        .expect_err("heartbeat in orders");
    assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{err}");
    let err = sqlx::query("SELECT * FROM tasker.submit_step_results($1)")
        .bind(json!([result_json(&other, &Outcome::ok())]))
        .execute(&worker)
        .await
        .expect_err("ack in orders");
    assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{err}");
    // Nor through the chained call (which adds no right), even when it claims from its own namespace.
    let err = sqlx::query("SELECT * FROM tasker.submit_and_claim($1, 'demo')")
        .bind(json!([result_json(&other, &Outcome::ok())]))
        .execute(&worker)
        .await
        .expect_err("chained ack in orders");
    assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{err}");
    assert_eq!(result_queue_len(&db.pool).await, 0);

    // Its own namespace works.
    let mine: Vec<Claimed> = sqlx::query_as(claim_sql()).bind("demo").fetch_all(&worker).await.unwrap();
    assert_eq!(mine.len(), 1);
}

#[tokio::test]
async fn a_forged_result_message_is_not_applied() {
    let db = test_db().await;
    let pool = &db.pool;
    two_namespaces(pool).await;
    let c = only(claim(pool, "demo", 10, None).await);

    // Someone with queue access sends a result the claim never handed out: right step and
    // attempt, but no dispatch message, then a wrong one.
    for forged in [
        json!({"step_uuid": c.step_uuid, "task_uuid": c.task_uuid, "attempt": c.attempt, "status": "success",
               "result": "forged"}),
        json!({"step_uuid": c.step_uuid, "task_uuid": c.task_uuid, "attempt": c.attempt, "msg_id": c.msg_id + 1000,
               "status": "success", "result": "forged"}),
    ] {
        sqlx::query("SELECT pgmq.send('orchestration_step_results', $1)").bind(forged).execute(pool).await.unwrap();
    }
    let applied = process(pool, None).await;
    assert_eq!((applied.completed, applied.ignored), (0, 2), "{applied:?}");
    let s = step_by_uuid(pool, c.step_uuid).await;
    assert_eq!((s.state.as_str(), s.results), ("in_progress", None));

    // The real ack still counts.
    assert!(submit(pool, &c, &Outcome::Success(json!("real"))).await);
    assert_eq!(step_by_uuid(pool, c.step_uuid).await.results, Some(json!("real")));
}

#[tokio::test]
async fn visibility_timeouts_outside_one_second_to_twelve_hours_are_refused() {
    let db = test_db().await;
    let pool = &db.pool;
    two_namespaces(pool).await;
    let c = only(claim(pool, "demo", 10, None).await);
    for vt in [-30, 0, 43_201] {
        let res = sqlx::query_scalar::<_, i64>("SELECT * FROM tasker.extend_visibility('demo', $1, $2)")
            .bind(vec![c.msg_id])
            .bind(vt)
            .fetch_all(pool)
            .await;
        expect_sqlstate(res, "TK004");
        let res = sqlx::query("SELECT * FROM tasker.claim_steps('orders', 10, $1)").bind(vt).fetch_all(pool).await;
        expect_sqlstate(res, "TK004");
    }
}

#[tokio::test]
async fn a_heartbeat_extends_only_messages_of_running_steps() {
    let db = test_db().await;
    let pool = &db.pool;
    two_namespaces(pool).await;
    // A second task: its message waits, unclaimed.
    let waiting_task = create_task(pool, "demo", "single", json!({})).await;
    let c = only(claim_vt(pool, "demo", 1, 30, None).await);
    let waiting = queue_messages(pool, "demo").await.into_iter().map(|m| m.msg_id).find(|m| *m != c.msg_id).unwrap();

    // Hiding the unclaimed message would keep every worker from it.
    let extended: Vec<i64> = sqlx::query_scalar("SELECT * FROM tasker.extend_visibility('demo', $1, 3600)")
        .bind(vec![c.msg_id, waiting])
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(extended, vec![c.msg_id]);
    let next = only(claim(pool, "demo", 10, None).await);
    assert_eq!((next.msg_id, next.task_uuid), (waiting, waiting_task));
}

#[tokio::test]
async fn a_retry_hint_is_capped_by_the_steps_backoff_max() {
    let db = test_db().await;
    let pool = &db.pool;
    two_namespaces(pool).await;
    let c = only(claim(pool, "demo", 10, None).await);
    let hint = Outcome::Retryable { message: "later".into(), retry_after_ms: Some(86_400_000) };
    let now = db_now(pool).await;
    assert!(submit_at(pool, &c, &hint, Some(now)).await);
    let delay_ms: f64 = sqlx::query_scalar(
        "SELECT (extract(epoch FROM next_retry_at - $2) * 1000)::float8 FROM tasker.workflow_steps WHERE step_uuid = $1",
    )
    .bind(c.step_uuid)
    .bind(now)
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(delay_ms <= 1000.0, "retry in {delay_ms} ms, past the backoff max_ms of 1000");
}

#[tokio::test]
async fn ensure_worker_login_makes_a_worker_login_idempotently_and_refuses_a_powerful_role() {
    let db = test_db().await;
    two_namespaces(&db.pool).await;
    let pool = &db.pool;
    let role = format!("tasker_test_login_{}", std::process::id());
    let ensure = |password: &'static str, namespaces: &'static [&'static str]| {
        let role = role.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT * FROM tasker.ensure_worker_login($1, $2, $3)")
                .bind(role)
                .bind(password)
                .bind(namespaces)
                .fetch_all(pool)
                .await
        }
    };
    assert_eq!(ensure("first", &["demo"]).await.unwrap(), ["demo"]);
    // Again, with a new password and namespaces: the same role, updated.
    assert_eq!(ensure("second", &["orders", "demo"]).await.unwrap(), ["demo", "orders"]);
    let url = tasker_orchestration::testing::url_with_user(&db.url, &role, "second");
    let worker = tasker_orchestration::db::connect(&url, &Default::default()).await.expect("the login connects");
    let claimed: Vec<Claimed> = sqlx::query_as(claim_sql()).bind("orders").fetch_all(&worker).await.unwrap();
    assert_eq!(claimed.len(), 1, "the login serves its namespaces");
    let err = sqlx::query("SELECT count(*) FROM tasker.tasks").execute(&worker).await.expect_err("no table access");
    assert_eq!(sqlstate(&err).as_deref(), Some("42501"));
    worker.close().await;

    // The owner (a superuser here) is never turned into a worker login, nor its password changed.
    let owner: String = sqlx::query_scalar("SELECT current_user::text").fetch_one(pool).await.unwrap();
    let res =
        sqlx::query("SELECT * FROM tasker.ensure_worker_login($1, 'x', ARRAY['*'])").bind(&owner).execute(pool).await;
    expect_sqlstate(res, "42501");
    for (name, password, namespaces) in
        [("Bad Name", "pw", vec!["demo"]), ("tasker_ok_name", "", vec!["demo"]), ("tasker_ok_name", "pw", vec!["Bad"])]
    {
        let res = sqlx::query("SELECT * FROM tasker.ensure_worker_login($1, $2, $3)")
            .bind(name)
            .bind(password)
            .bind(namespaces)
            .execute(pool)
            .await;
        expect_sqlstate(res, "TK004");
    }
}

#[tokio::test]
async fn a_worker_role_cannot_date_its_results() {
    let db = test_db().await;
    let pool = &db.pool;
    two_namespaces(pool).await;
    let worker = db.worker_pool(&["demo"], 2).await;
    let c: Claimed = sqlx::query_as(claim_sql()).bind("demo").fetch_one(&worker).await.unwrap();
    let before = db_now(pool).await;
    let long_ago = before - chrono::Duration::days(365);
    let accepted: bool = sqlx::query_scalar("SELECT accepted FROM tasker.submit_step_results($1, $2)")
        .bind(json!([result_json(&c, &Outcome::retryable("later"))]))
        .bind(long_ago)
        .fetch_one(&worker)
        .await
        .unwrap();
    assert!(accepted);
    let s = step_by_uuid(pool, c.step_uuid).await;
    assert_eq!(s.state, "waiting_for_retry");
    assert!(s.next_retry_at.unwrap() >= before, "the retry was dated by the worker's p_now: {:?}", s.next_retry_at);
}
