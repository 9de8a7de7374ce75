//! Real faults: a worker killed mid-step, a server killed mid-flight and restarted, two servers on
//! one database, lost notifications. The work must finish, and finish exactly once.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;
use tasker_orchestration::testing::test_db;
use uuid::Uuid;

use crate::support::*;

/// `a -> (b, c) -> d`, each a `sleep` of `ms`, in namespace `e2e`.
fn sleep_diamond(name: &str, ms: u64) -> serde_json::Value {
    let s = |n: &str, deps: &[&str]| json!({"name": n, "handler": "sleep", "inputs": {"ms": ms}, "depends_on": deps});
    json!({
        "namespace": "e2e",
        "name": name,
        "version": "1.0.0",
        "steps": [s("a", &[]), s("b", &["a"]), s("c", &["a"]), s("d", &["b", "c"])],
    })
}

/// Steps of `tasks` in state `complete`.
async fn complete_steps(pool: &PgPool, tasks: &[Uuid]) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM tasker.step_overview WHERE task_uuid = ANY($1) AND state = 'complete'")
        .bind(tasks)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Tasks of `tasks` not yet in a terminal state.
async fn unfinished_tasks(pool: &PgPool, tasks: &[Uuid]) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM tasker.task_overview WHERE task_uuid = ANY($1)
            AND state NOT IN ('complete', 'error', 'cancelled', 'resolved_manually')",
    )
    .bind(tasks)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Steps of `tasks` that ran more than once, as `task/step: attempts`.
async fn steps_with_several_attempts(pool: &PgPool, tasks: &[Uuid]) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT task_uuid || '/' || step_name || ': ' || attempts FROM tasker.step_overview
          WHERE task_uuid = ANY($1) AND attempts <> 1 ORDER BY 1",
    )
    .bind(tasks)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Asserts the exactly-once outcome: every step ran once, succeeded once, and no execution is
/// missing from or extra to the audit.
async fn assert_each_step_ran_once(pool: &PgPool, tasks: &[Uuid]) {
    let violations = execution_violations(pool, tasks).await;
    assert!(violations.is_empty(), "executions per step:\n{}", violations.join("\n"));
    let repeated = steps_with_several_attempts(pool, tasks).await;
    assert!(repeated.is_empty(), "steps that ran more than once (no worker died):\n{}", repeated.join("\n"));
}

#[tokio::test]
async fn steps_of_a_killed_worker_are_redelivered_to_another_after_the_visibility_timeout() {
    let scratch = Scratch::new("worker-kill");
    let db = test_db().await;
    let long = |n: &str| {
        json!({"name": n, "handler": "sleep", "inputs": {"ms": 2500}, "depends_on": ["start"],
               "retry": {"max_attempts": 3}})
    };
    register_template(
        &db.pool,
        json!({
            "namespace": "e2e",
            "name": "long_steps",
            "version": "1.0.0",
            "steps": [
                {"name": "start", "handler": "noop"},
                long("long_1"), long("long_2"), long("long_3"), long("long_4"),
                {"name": "after", "handler": "noop", "depends_on": ["long_1", "long_2", "long_3", "long_4"]},
            ],
        }),
    )
    .await;
    let server = ServerProcess::start(&scratch, "server", &db.url).await;
    // A 2 s visibility timeout kept alive by 500 ms heartbeats: steps of the surviving worker,
    // which run longer than the timeout, must not be redelivered.
    let options = |id: &str| WorkerOptions {
        visibility_timeout_secs: 2,
        heartbeat_interval_ms: Some(500),
        ..WorkerOptions::new(id)
    };
    let mut workers = [
        WorkerProcess::start(&scratch, options("wa"), &db.worker_url(&["*"]).await),
        WorkerProcess::start(&scratch, options("wb"), &db.worker_url(&["*"]).await),
    ];

    let task = server.api.create_task("e2e", "long_steps", json!({})).await;
    let is_long = |s: &StepRow| s.step_name.starts_with("long_");
    wait_until(
        "the long steps to be in progress",
        || async {
            steps(&db.pool, task).await.iter().filter(|s| is_long(s)).all(|s| s.state == "in_progress").then_some(())
        },
        || describe_task(&db.pool, task),
    )
    .await;
    // (step, event, worker) of every claim, in order.
    let claims = || async {
        sqlx::query_as::<_, (String, String, Option<String>, f64)>(
            "SELECT s.name, t.event, t.metadata ->> 'worker',
                    extract(epoch FROM t.created_at - min(t.created_at) OVER (PARTITION BY t.step_uuid))::float8
               FROM tasker.workflow_step_transitions t JOIN tasker.workflow_steps s USING (step_uuid)
              WHERE t.task_uuid = $1 AND t.to_state = 'in_progress' AND s.name LIKE 'long%'
              ORDER BY t.id",
        )
        .bind(task)
        .fetch_all(&db.pool)
        .await
        .unwrap()
    };
    let first_claims = claims().await;
    let victim_id = first_claims[0].2.clone().expect("claims name their worker");
    let (victim, survivor) = if victim_id == "wa" { (0, 1) } else { (1, 0) };
    workers[victim].kill();
    let held: HashSet<String> =
        first_claims.iter().filter(|c| c.2.as_deref() == Some(&victim_id)).map(|c| c.0.clone()).collect();

    wait_for_tasks(&db.pool, &[task], "complete").await;
    workers[survivor].assert_running();
    let survivor_id = workers[survivor].options.id.clone();

    let all_claims = claims().await;
    for s in steps(&db.pool, task).await.iter().filter(|s| is_long(s)) {
        let mine: Vec<_> = all_claims.iter().filter(|c| c.0 == s.step_name).collect();
        let runs = executions(&db.pool, s.step_uuid).await;
        if held.contains(&s.step_name) {
            // Lost with the killed worker, redelivered once the visibility timeout passed.
            assert_eq!((s.state.as_str(), s.attempts), ("complete", 2), "{s:?} claims {mine:?}");
            assert_eq!(mine.len(), 2, "{mine:?}");
            assert_eq!((mine[0].1.as_str(), mine[0].2.as_deref()), ("claim", Some(victim_id.as_str())), "{mine:?}");
            assert_eq!((mine[1].1.as_str(), mine[1].2.as_deref()), ("reclaim", Some(survivor_id.as_str())), "{mine:?}");
            assert!(
                mine[1].3 >= 1.5,
                "{} redelivered {}s after its claim, before the visibility timeout",
                s.step_name,
                mine[1].3
            );
            assert_eq!(runs, vec![(2, survivor_id.clone(), "success".to_string())], "{}", s.step_name);
        } else {
            // Held by the survivor: heartbeats kept it, it ran once.
            assert_eq!((s.state.as_str(), s.attempts), ("complete", 1), "{s:?} claims {mine:?}");
            assert_eq!(runs, vec![(1, survivor_id.clone(), "success".to_string())], "{}", s.step_name);
        }
    }
    let after = step(&db.pool, task, "after").await;
    assert_eq!((after.state.as_str(), after.attempts), ("complete", 1), "{after:?}");
}

#[tokio::test]
async fn sigterm_stops_a_worker_and_a_server_without_losing_or_repeating_work() {
    let scratch = Scratch::new("sigterm");
    let db = test_db().await;
    register_template(&db.pool, sleep_chain("graceful_chain", 3, 800)).await;
    let mut server = ServerProcess::start(&scratch, "server-1", &db.url).await;
    let mut worker = WorkerProcess::start(&scratch, WorkerOptions::new("wa"), &db.worker_url(&["*"]).await);

    let task = server.api.create_task("e2e", "graceful_chain", json!({})).await;
    wait_until(
        "s1 to be in progress",
        || async { (step(&db.pool, task, "s1").await.state == "in_progress").then_some(()) },
        || describe_task(&db.pool, task),
    )
    .await;
    // The worker stops claiming, lets s1 finish and report, and exits cleanly.
    let status = worker.terminate().await;
    assert!(status.success(), "worker exit after SIGTERM: {status}");
    let s1 = step(&db.pool, task, "s1").await;
    let runs = executions(&db.pool, s1.step_uuid).await;
    assert_eq!(runs, vec![(1, "wa".to_string(), "success".to_string())], "s1 must finish on shutdown");
    wait_until(
        "s1's result to be applied",
        || async { (step(&db.pool, task, "s1").await.state == "complete").then_some(()) },
        || describe_task(&db.pool, task),
    )
    .await;

    // The server drains and exits cleanly; a new server and worker finish the task.
    let status = server.terminate().await;
    assert!(status.success(), "server exit after SIGTERM: {status}");
    let _server = ServerProcess::start(&scratch, "server-2", &db.url).await;
    let _worker = WorkerProcess::start(&scratch, WorkerOptions::new("wb"), &db.worker_url(&["*"]).await);
    wait_for_tasks(&db.pool, &[task], "complete").await;
    assert_each_step_ran_once(&db.pool, &[task]).await;
}

#[tokio::test]
async fn a_server_killed_mid_flight_and_restarted_finishes_every_task_exactly_once() {
    let scratch = Scratch::new("server-kill");
    let db = test_db().await;
    register_template(&db.pool, sleep_diamond("steady", 100)).await;
    let mut first = ServerProcess::start(&scratch, "server-1", &db.url).await;
    let mut workers = vec![
        WorkerProcess::start(&scratch, WorkerOptions::new("w1"), &db.worker_url(&["*"]).await),
        WorkerProcess::start(&scratch, WorkerOptions::new("w2"), &db.worker_url(&["*"]).await),
    ];

    // Tasks keep arriving until the kill, so it lands with creates, dispatches, results and
    // finalizations all in flight.
    let api = first.api.clone();
    let creator = tokio::spawn(async move {
        let mut created = Vec::new();
        for i in 0..200 {
            let (ns, name) = if i % 4 == 3 { ("demo", "linear") } else { ("e2e", "steady") };
            match api.try_create_task(ns, name, json!({})).await {
                Ok(task) => created.push(task),
                Err(_) => break,
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        created
    });
    let all_tasks = || async {
        sqlx::query_scalar::<_, Uuid>("SELECT task_uuid FROM tasker.task_overview").fetch_all(&db.pool).await.unwrap()
    };
    wait_until(
        "tasks to be created and steps to complete",
        || async {
            let tasks = all_tasks().await;
            (tasks.len() >= 30 && complete_steps(&db.pool, &tasks).await >= 30).then_some(())
        },
        || async { describe_tasks(&db.pool, &all_tasks().await, 3).await },
    )
    .await;
    first.kill();
    let created = creator.await.expect("creator task");
    assert!(created.len() < 200, "every create succeeded: the server was not killed while tasks were arriving");
    // Every acknowledged task was committed; every task in the database counts, including one
    // whose 201 the kill swallowed.
    let tasks = all_tasks().await;
    let missing: Vec<&Uuid> = created.iter().filter(|t| !tasks.contains(t)).collect();
    assert!(missing.is_empty(), "tasks answered 201 but not in the database: {missing:?}");
    let in_flight = unfinished_tasks(&db.pool, &tasks).await;
    assert!(in_flight > 0, "every task finished before the kill: the test must kill the server mid-flight");

    // Workers go on finishing what they hold; nothing orchestrates until the restart.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let second = ServerProcess::start(&scratch, "server-2", &db.url).await;
    wait_for_tasks(&db.pool, &tasks, "complete").await;
    for w in &mut workers {
        w.assert_running();
    }
    assert_each_step_ran_once(&db.pool, &tasks).await;
    assert_eq!(second.api.get_task(tasks[0]).await["state"], "complete");
}

#[tokio::test]
async fn two_servers_on_one_database_share_the_work_and_run_each_step_once() {
    let scratch = Scratch::new("two-servers");
    let db = test_db().await;
    register_template(&db.pool, sleep_diamond("steady", 20)).await;
    let one = ServerProcess::start(&scratch, "server-1", &db.url).await;
    let two = ServerProcess::start(&scratch, "server-2", &db.url).await;
    assert_ne!(one.port, two.port);
    let mut workers = vec![
        WorkerProcess::start(&scratch, WorkerOptions::new("w1"), &db.worker_url(&["*"]).await),
        WorkerProcess::start(&scratch, WorkerOptions::new("w2"), &db.worker_url(&["*"]).await),
    ];

    let mut tasks = Vec::new();
    for i in 0..32 {
        let api = if i % 2 == 0 { &one.api } else { &two.api };
        let (ns, name) = match i % 8 {
            0 | 1 => ("demo", "linear"),
            2 | 3 => ("demo", "diamond"),
            4 => ("demo", "fan_out"),
            5 => ("orders", "order_fulfillment"),
            _ => ("e2e", "steady"),
        };
        tasks.push(api.create_task(ns, name, json!({})).await);
    }
    wait_for_tasks(&db.pool, &tasks, "complete").await;
    for w in &mut workers {
        w.assert_running();
    }
    assert_each_step_ran_once(&db.pool, &tasks).await;
    // Both servers answer for every task, whichever created it.
    for t in [tasks[0], tasks[1]] {
        assert_eq!(one.api.get_task(t).await["state"], "complete");
        assert_eq!(two.api.get_task(t).await["state"], "complete");
    }
}

/// Backend pids of the LISTEN connections of processes named `application` on this database.
async fn listeners(pool: &PgPool, application: &str) -> Vec<i32> {
    sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = $1 AND query ILIKE 'LISTEN%'",
    )
    .bind(application)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Terminates the given backends.
async fn terminate(pool: &PgPool, pids: &[i32]) {
    sqlx::query("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) pid").bind(pids).execute(pool).await.unwrap();
}

/// Waits until `application` has a LISTEN connection that is not one of `dead`.
async fn wait_for_listener(pool: &PgPool, application: &str, dead: &HashSet<i32>) -> i32 {
    wait_until(
        &format!("{application} to LISTEN on a live connection"),
        || async { listeners(pool, application).await.into_iter().find(|p| !dead.contains(p)) },
        || async { format!("no LISTEN connection of {application} other than the terminated {dead:?}") },
    )
    .await
}

#[tokio::test]
async fn work_finishes_when_listen_connections_are_killed() {
    let scratch = Scratch::new("lost-notification");
    let db = test_db().await;
    let server = ServerProcess::start(&scratch, "server", &db.url).await;
    let mut worker = WorkerProcess::start(&scratch, WorkerOptions::new("w1"), &db.worker_url(&["*"]).await);
    let mut dead: HashSet<i32> = HashSet::new();
    let first_server = wait_for_listener(&db.pool, "tasker-server", &dead).await;
    let first_worker = wait_for_listener(&db.pool, "tasker-worker", &dead).await;

    // Chains need a notification per stage. Kill the server's and the worker's LISTEN
    // connections over and over while the chains run: notifications sent meanwhile are lost,
    // and the work has to move on the fallback tick, the worker's polling and the reconnects.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        tasks.push(server.api.create_task("demo", "linear", json!({})).await);
    }
    let before = complete_steps(&db.pool, &tasks).await;
    let outage = std::time::Instant::now();
    while outage.elapsed() < Duration::from_secs(3) {
        let mut pids = listeners(&db.pool, "tasker-server").await;
        pids.extend(listeners(&db.pool, "tasker-worker").await);
        terminate(&db.pool, &pids).await;
        dead.extend(pids);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let during = complete_steps(&db.pool, &tasks).await - before;
    assert!(dead.contains(&first_server), "the server's listener {first_server} was never terminated: {dead:?}");
    assert!(dead.contains(&first_worker), "the worker's listener {first_worker} was never terminated: {dead:?}");
    assert!(
        during > 0,
        "no step completed during 3 s without notifications: {}",
        describe_tasks(&db.pool, &tasks, 2).await
    );

    // Tasks created right after the outage finish too.
    for _ in 0..4 {
        tasks.push(server.api.create_task("demo", "diamond", json!({})).await);
    }
    wait_for_tasks(&db.pool, &tasks, "complete").await;
    worker.assert_running();
    assert_each_step_ran_once(&db.pool, &tasks).await;

    // Both came back on new connections, and the server reports healthy again.
    wait_for_listener(&db.pool, "tasker-server", &dead).await;
    wait_for_listener(&db.pool, "tasker-worker", &dead).await;
    wait_until(
        "GET /health to answer 200 after the reconnects",
        || async { server.api.health_ok().await.then_some(()) },
        || async { "the server stays unhealthy".to_string() },
    )
    .await;
}

#[tokio::test]
async fn work_in_flight_survives_a_postgresql_restart() {
    use tasker_orchestration::db::{EmbeddedOptions, EmbeddedPostgres};
    let scratch = Scratch::new("pg-restart");
    // A server of this test's own: the shared test server cannot be restarted under other tests.
    let mut opts = EmbeddedOptions::new(scratch.path().join("pgdata"));
    opts.ephemeral = true;
    let data_dir = opts.data_dir.clone();
    let mut pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&opts)).await.unwrap().unwrap();
    let port = pg.port();
    let admin = pg.url("postgres");
    sqlx::query("CREATE DATABASE tasker")
        .execute(&mut <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await.unwrap())
        .await
        .unwrap();
    let url = pg.url("tasker");
    let server = ServerProcess::start(&scratch, "server", &url).await;
    let pool = tasker_orchestration::db::connect(&url, &Default::default()).await.unwrap();
    register_template(&pool, sleep_diamond("pg_restart", 150)).await;
    let _worker = WorkerProcess::start(&scratch, WorkerOptions::new("w"), &url);

    let mut tasks = Vec::new();
    for _ in 0..8 {
        tasks.push(server.api.create_task("e2e", "pg_restart", json!({})).await);
    }
    wait_until(
        "some steps to complete before the restart",
        || async { (complete_steps(&pool, &tasks).await > 0).then_some(()) },
        || describe_task(&pool, tasks[0]),
    )
    .await;

    // Fast shutdown: every connection of the server and the worker is dropped mid-flight.
    pg.stop().unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut opts = EmbeddedOptions::new(data_dir);
    opts.ephemeral = true;
    opts.port = Some(port);
    let _pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&opts)).await.unwrap().unwrap();

    // The server and the worker reconnect on their own; new work is accepted again.
    let api = &server.api;
    wait_until(
        "the server to be healthy again",
        || async { api.health_ok().await.then_some(()) },
        || async { "GET /health does not answer 200".to_string() },
    )
    .await;
    for _ in 0..4 {
        tasks.push(server.api.create_task("e2e", "pg_restart", json!({})).await);
    }
    wait_until(
        "every task, from before and after the restart, to finish",
        || async { (unfinished_tasks(&pool, &tasks).await == 0).then_some(()) },
        || describe_task(&pool, tasks[0]),
    )
    .await;
    let states: Vec<String> = sqlx::query_scalar("SELECT state FROM tasker.task_overview WHERE task_uuid = ANY($1)")
        .bind(&tasks)
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(states.iter().all(|s| s == "complete"), "task states after the restart: {states:?}");
    assert_eq!(complete_steps(&pool, &tasks).await, 4 * tasks.len() as i64);
}
