//! StreamTaskStatus: snapshot first, then every recorded change in order, ends at the final state.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;
use tasker_orchestration::api::grpc::proto::task_status_update::Update;
use tasker_orchestration::api::grpc::proto::{CancelTaskRequest, StreamTaskStatusRequest, TaskStatusUpdate};
use tonic::Code;
use uuid::Uuid;

use crate::support::{expect_code, Clients, Grpc, WITH_WORKER};

/// Opens a stream and reads it to its end.
async fn follow(c: &Clients, task_uuid: &str) -> Vec<TaskStatusUpdate> {
    let mut stream = c
        .tasks()
        .stream_task_status(StreamTaskStatusRequest { task_uuid: task_uuid.into() })
        .await
        .expect("open stream")
        .into_inner();
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(60), stream.message()).await {
            Ok(Ok(Some(m))) => out.push(m),
            Ok(Ok(None)) => return out,
            Ok(Err(s)) => panic!("stream of {task_uuid} failed: {s:?} after {out:#?}"),
            Err(_) => panic!("stream of {task_uuid} did not end: {out:#?}"),
        }
    }
}

/// The states a task or step went through: the first recorded `from_state`, then every `to_state`.
async fn history(pool: &PgPool, sql: &str, id: &str) -> Vec<String> {
    let id: Uuid = id.parse().expect("uuid");
    let rows: Vec<(Option<String>, String)> = sqlx::query_as(sql).bind(id).fetch_all(pool).await.expect("history");
    let first = rows.first().and_then(|(from, _)| from.clone());
    first.into_iter().chain(rows.into_iter().map(|(_, to)| to)).collect()
}

/// Checks one stream against the task's recorded history and returns the final task state.
async fn check_stream(pool: &PgPool, task_uuid: &str, msgs: &[TaskStatusUpdate], want_final: &str) {
    assert!(!msgs.is_empty());
    let Some(Update::Snapshot(snap)) = &msgs[0].update else {
        panic!("first message is not a snapshot: {:?}", msgs[0])
    };
    for (i, m) in msgs.iter().enumerate() {
        assert_eq!(m.sequence, i as u64 + 1, "sequence numbers are consecutive");
        assert_eq!(m.task_uuid, task_uuid);
        assert_eq!(m.terminal, i + 1 == msgs.len(), "only the last message is terminal");
    }
    let last = msgs.last().expect("a message");
    assert_eq!(last.task_state, want_final);
    let snap_task = snap.task.as_ref().expect("snapshot task");
    if msgs.len() > 1 {
        assert!(matches!(&last.update, Some(Update::TaskStateChange(c)) if c.to_state == want_final), "{last:?}");
    } else {
        assert_eq!(snap_task.state, want_final);
    }

    // Task changes chain from the snapshot and follow the recorded history.
    let mut task_state = snap_task.state.clone();
    let mut task_seen = vec![task_state.clone()];
    // Per step: chained changes, following the recorded history.
    let mut step_state: HashMap<String, String> =
        snap.steps.iter().map(|s| (s.step_uuid.clone(), s.state.clone())).collect();
    let mut step_seen: HashMap<String, Vec<String>> =
        snap.steps.iter().map(|s| (s.step_uuid.clone(), vec![s.state.clone()])).collect();
    let names: HashMap<String, String> = snap.steps.iter().map(|s| (s.step_uuid.clone(), s.name.clone())).collect();
    let mut completed_at: HashMap<String, usize> = HashMap::new();
    for (i, m) in msgs.iter().enumerate().skip(1) {
        match &m.update {
            Some(Update::TaskStateChange(c)) => {
                assert_eq!(c.from_state, task_state, "task changes chain");
                assert_ne!(c.from_state, c.to_state);
                task_state = c.to_state.clone();
                task_seen.push(task_state.clone());
            }
            Some(Update::StepStateChange(c)) => {
                let prev = step_state.get(&c.step_uuid).cloned().unwrap_or_default();
                assert_eq!(c.from_state, prev, "step changes chain ({})", c.step_name);
                assert_ne!(c.from_state, c.to_state);
                assert!(c.step.is_some(), "step changes carry the step");
                assert!(!c.event.is_empty() && c.attempt >= 0);
                step_state.insert(c.step_uuid.clone(), c.to_state.clone());
                step_seen.entry(c.step_uuid.clone()).or_default().push(c.to_state.clone());
                if c.to_state == "complete" {
                    completed_at.insert(names[&c.step_uuid].clone(), i);
                }
            }
            other => panic!("unexpected update {other:?}"),
        }
        assert_eq!(m.task_state, task_state, "task_state is the state after the update");
    }
    let recorded = history(pool, "SELECT from_state, to_state FROM tasker.task_transitions_of($1)", task_uuid).await;
    // Every transition after the snapshot, none skipped, none repeated: what the stream shows is
    // exactly the end of the recorded history.
    assert!(recorded.ends_with(&task_seen), "task states {task_seen:?} are not the end of history {recorded:?}");
    for (step, seen) in &step_seen {
        let recorded = history(pool, "SELECT from_state, to_state FROM tasker.step_transitions($1)", step).await;
        if recorded.is_empty() {
            assert_eq!(seen.len(), 1, "step {} never changed, yet the stream says {seen:?}", names[step]);
            continue;
        }
        assert!(
            recorded.ends_with(seen),
            "step {} states {seen:?} are not the end of history {recorded:?}",
            names[step]
        );
    }
    // In a diamond, `finish` completes after `left` and `right` (when the stream saw all three).
    if let (Some(f), Some(l), Some(r)) =
        (completed_at.get("finish"), completed_at.get("left"), completed_at.get("right"))
    {
        assert!(f > l && f > r, "finish completed before its parents in the stream");
    }
}

#[tokio::test]
async fn a_hundred_concurrent_streams_each_see_their_task_to_the_end() {
    let g = Grpc::start(WITH_WORKER).await;
    let mut handles = Vec::new();
    for i in 0..100 {
        let c = g.clients.clone();
        handles.push(tokio::spawn(async move {
            let t = c.create("demo", "diamond", json!({"i": i})).await;
            let msgs = follow(&c, &t.task_uuid).await;
            (t.task_uuid, msgs)
        }));
    }
    let mut changes = 0;
    for h in handles {
        let (task, msgs) = h.await.expect("stream task");
        changes += msgs.len() - 1;
        check_stream(&g.ts.db.pool, &task, &msgs, "complete").await;
    }
    // Streams opened right after creation see the steps run, not only the end.
    assert!(changes >= 100 * 2, "only {changes} changes over 100 streams");
}

#[tokio::test]
async fn a_failing_task_streams_until_error_and_a_finished_one_only_its_snapshot() {
    let g = Grpc::start(WITH_WORKER).await;
    let t = g.create("demo", "doomed", json!({})).await;
    let msgs = follow(&g, &t.task_uuid).await;
    check_stream(&g.ts.db.pool, &t.task_uuid, &msgs, "error").await;
    let saw_explode = msgs.iter().any(
        |m| matches!(&m.update, Some(Update::StepStateChange(c)) if c.step_name == "explode" && c.to_state == "error"),
    );
    assert!(saw_explode, "{msgs:#?}");

    let again = follow(&g, &t.task_uuid).await;
    assert_eq!(again.len(), 1, "a task already final gives its snapshot only");
    assert!(again[0].terminal);
    let Some(Update::Snapshot(s)) = &again[0].update else { panic!("not a snapshot") };
    assert_eq!(s.steps.len(), 3);
}

#[tokio::test]
async fn cancelling_ends_the_stream_at_cancelled() {
    let g = Grpc::start(&[]).await;
    let t = g.create("demo", "diamond", json!({})).await;
    let c = g.clients.clone();
    let uuid = t.task_uuid.clone();
    let reader = tokio::spawn(async move { follow(&c, &uuid).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    g.tasks().cancel_task(CancelTaskRequest { task_uuid: t.task_uuid.clone(), reason: None }).await.expect("cancel");
    let msgs = reader.await.expect("reader");
    check_stream(&g.ts.db.pool, &t.task_uuid, &msgs, "cancelled").await;
    let cancelled_steps = msgs
        .iter()
        .filter(|m| matches!(&m.update, Some(Update::StepStateChange(c)) if c.to_state == "cancelled"))
        .count();
    assert_eq!(cancelled_steps, 4);
}

#[tokio::test]
async fn streams_beyond_the_limit_are_resource_exhausted() {
    let g = Grpc::start(&[("TASKER__ORCHESTRATION__GRPC__MAX_CONCURRENT_STREAMS", "2")]).await;
    let t = g.create("demo", "diamond", json!({})).await;
    let req = || StreamTaskStatusRequest { task_uuid: t.task_uuid.clone() };
    let s1 = g.tasks().stream_task_status(req()).await.expect("first");
    let s2 = g.tasks().stream_task_status(req()).await.expect("second");
    let s = expect_code(g.tasks().stream_task_status(req()).await, Code::ResourceExhausted);
    assert!(s.message().contains("at most 2"), "{}", s.message());
    drop(s1);
    // The permit comes back once the server sees the stream closed.
    let started = std::time::Instant::now();
    loop {
        match g.tasks().stream_task_status(req()).await {
            Ok(_) => break,
            Err(s) if s.code() == Code::ResourceExhausted && started.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(s) => panic!("the permit did not come back: {s:?}"),
        }
    }
    drop(s2);
}

#[tokio::test]
async fn shutdown_ends_open_streams_and_completes() {
    let g = Grpc::start(&[]).await;
    let t = g.create("demo", "diamond", json!({})).await;
    let mut stream = g
        .tasks()
        .stream_task_status(StreamTaskStatusRequest { task_uuid: t.task_uuid.clone() })
        .await
        .expect("open")
        .into_inner();
    let first = stream.message().await.expect("snapshot").expect("a message");
    assert!(matches!(first.update, Some(Update::Snapshot(_))));
    let Grpc { ts, clients: _clients } = g;
    tokio::time::timeout(Duration::from_secs(30), ts.server.shutdown()).await.expect("shutdown completes");
    match tokio::time::timeout(Duration::from_secs(5), stream.message()).await.expect("stream ends") {
        Ok(None) => {}
        Ok(Some(m)) => panic!("unexpected message after shutdown: {m:?}"),
        Err(s) => assert_eq!(s.code(), Code::Unavailable, "{s:?}"),
    }
}

#[tokio::test]
async fn a_change_committed_after_a_later_one_is_still_streamed() {
    // History ids are handed out at insert time, so a transaction that inserts first and commits
    // last makes a change with a lower id appear after one with a higher id.
    let g = Grpc::start(&[]).await;
    let pool = &g.ts.db.pool;
    sqlx::query("SELECT tasker.register_template($1)")
        .bind(json!({"namespace": "demo", "name": "two_roots", "version": "1.0.0",
                     "steps": [{"name": "first", "handler": "noop"}, {"name": "second", "handler": "noop"}]}))
        .execute(pool)
        .await
        .expect("register");
    let t = g.create("demo", "two_roots", json!({})).await;
    let uuid: Uuid = t.task_uuid.parse().expect("uuid");
    let step_of = |name: &'static str| async move {
        sqlx::query_scalar::<_, Uuid>(
            "SELECT step_uuid FROM tasker.step_overview WHERE task_uuid = $1 AND step_name = $2",
        )
        .bind(uuid)
        .bind(name)
        .fetch_one(pool)
        .await
        .expect("step")
    };
    let (first, second) = (step_of("first").await, step_of("second").await);
    let c = g.clients.clone();
    let task_uuid = t.task_uuid.clone();
    let reader = tokio::spawn(async move { follow(&c, &task_uuid).await });
    tokio::time::sleep(Duration::from_millis(300)).await;

    // `first` is claimed in a transaction left open (lower history id) ...
    let mut slow = pool.begin().await.expect("begin");
    sqlx::query("SELECT tasker.transition_steps(ARRAY[$1]::uuid[], 'claim')")
        .bind(first)
        .execute(&mut *slow)
        .await
        .expect("claim first");
    // ... while `second` is claimed and committed (higher id), and the stream reads it.
    sqlx::query("SELECT tasker.transition_steps(ARRAY[$1]::uuid[], 'claim')")
        .bind(second)
        .execute(pool)
        .await
        .expect("claim second");
    tokio::time::sleep(Duration::from_millis(300)).await;
    slow.commit().await.expect("commit");
    tokio::time::sleep(Duration::from_millis(300)).await;
    g.tasks().cancel_task(CancelTaskRequest { task_uuid: t.task_uuid.clone(), reason: None }).await.expect("cancel");

    let msgs = reader.await.expect("reader");
    check_stream(pool, &t.task_uuid, &msgs, "cancelled").await;
    let claimed: Vec<String> = msgs
        .iter()
        .filter_map(|m| match &m.update {
            Some(Update::StepStateChange(c)) if c.to_state == "in_progress" => Some(c.step_name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(claimed, vec!["second".to_string(), "first".to_string()], "{msgs:#?}");
}
