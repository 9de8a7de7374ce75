//! Every RPC: its success and each error status it can answer.

use serde_json::json;
use tasker_orchestration::api::grpc::convert::{from_struct, to_pvalue, to_struct};
use tasker_orchestration::api::grpc::proto::register_template_request::Source;
use tasker_orchestration::api::grpc::proto::*;
use tonic::Code;

use crate::support::{expect_code, json, Grpc, WITH_WORKER};

const UNKNOWN: &str = "01890000-0000-7000-8000-000000000000";

#[tokio::test]
async fn create_get_list_and_cancel_tasks() {
    let g = Grpc::start(&[]).await;
    let req = CreateTaskRequest {
        namespace: "demo".into(),
        name: "linear".into(),
        context: to_struct(json!({"n": 5, "nested": {"ok": true}})),
        tags: vec!["grpc".into()],
        priority: Some(3),
        initiator: Some("tests".into()),
        idempotency_key: Some("key-1".into()),
        ..Default::default()
    };
    let task = g.tasks().create_task(req.clone()).await.expect("create").into_inner();
    assert_eq!((task.namespace.as_str(), task.name.as_str(), task.version.as_str()), ("demo", "linear", "1.0.0"));
    assert_eq!(from_struct(task.context.clone().unwrap_or_default()), json!({"n": 5, "nested": {"ok": true}}));
    assert_eq!((task.priority, task.tags.clone(), task.steps_total), (3, vec!["grpc".to_string()], 10));
    assert_eq!(task.initiator.as_deref(), Some("tests"));
    assert!(task.created_at.is_some() && task.completed_at.is_none());

    // Same idempotency key, same request: the same task.
    let again = g.tasks().create_task(req.clone()).await.expect("idempotent create").into_inner();
    assert_eq!(again.task_uuid, task.task_uuid);
    // Same key, another request: ALREADY_EXISTS.
    let other = CreateTaskRequest { priority: Some(4), ..req };
    expect_code(g.tasks().create_task(other).await, Code::AlreadyExists);

    let got = g.tasks().get_task(GetTaskRequest { task_uuid: task.task_uuid.clone() }).await.expect("get");
    assert_eq!(got.into_inner().task_uuid, task.task_uuid);

    for _ in 0..2 {
        g.create("demo", "diamond", json!({})).await;
    }
    // Paging: 3 tasks, 2 per page.
    let p1 = g
        .tasks()
        .list_tasks(ListTasksRequest { namespace: Some("demo".into()), page_size: 2, ..Default::default() })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(p1.tasks.len(), 2);
    assert!(!p1.next_page_token.is_empty());
    let p2 = g
        .tasks()
        .list_tasks(ListTasksRequest {
            namespace: Some("demo".into()),
            page_size: 2,
            page_token: p1.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .expect("list page 2")
        .into_inner();
    assert_eq!(p2.tasks.len(), 1);
    assert!(p2.next_page_token.is_empty());
    assert_eq!(p2.tasks[0].task_uuid, task.task_uuid, "newest first: the first task is last");
    let by_name = g
        .tasks()
        .list_tasks(ListTasksRequest { name: Some("diamond".into()), ..Default::default() })
        .await
        .expect("list by name")
        .into_inner();
    assert_eq!(by_name.tasks.len(), 2);
    let future = prost_types::Timestamp { seconds: 4_102_444_800, nanos: 0 };
    let none = g
        .tasks()
        .list_tasks(ListTasksRequest { created_after: Some(future), ..Default::default() })
        .await
        .expect("list by time")
        .into_inner();
    assert!(none.tasks.is_empty());

    let cancelled = g
        .tasks()
        .cancel_task(CancelTaskRequest { task_uuid: task.task_uuid.clone(), reason: Some("test".into()) })
        .await
        .expect("cancel")
        .into_inner();
    assert_eq!(cancelled.state, "cancelled");
    assert!(cancelled.completed_at.is_some() || cancelled.state == "cancelled");
}

#[tokio::test]
async fn task_errors_have_their_codes() {
    let g = Grpc::start(&[]).await;
    expect_code(g.tasks().get_task(GetTaskRequest { task_uuid: UNKNOWN.into() }).await, Code::NotFound);
    expect_code(g.tasks().get_task(GetTaskRequest { task_uuid: "nope".into() }).await, Code::InvalidArgument);
    expect_code(g.tasks().get_task(GetTaskRequest { task_uuid: String::new() }).await, Code::InvalidArgument);
    let unknown_template = CreateTaskRequest { namespace: "demo".into(), name: "nope".into(), ..Default::default() };
    expect_code(g.tasks().create_task(unknown_template).await, Code::NotFound);
    let no_name = CreateTaskRequest { namespace: "demo".into(), ..Default::default() };
    expect_code(g.tasks().create_task(no_name).await, Code::InvalidArgument);
    let bad_priority = CreateTaskRequest {
        namespace: "demo".into(),
        name: "linear".into(),
        priority: Some(5_000_000),
        ..Default::default()
    };
    expect_code(g.tasks().create_task(bad_priority).await, Code::InvalidArgument);
    let bad_correlation = CreateTaskRequest {
        namespace: "demo".into(),
        name: "linear".into(),
        correlation_id: Some("x".into()),
        ..Default::default()
    };
    expect_code(g.tasks().create_task(bad_correlation).await, Code::InvalidArgument);
    let bad_state = ListTasksRequest { state: Some("sleeping".into()), ..Default::default() };
    expect_code(g.tasks().list_tasks(bad_state).await, Code::InvalidArgument);
    let bad_token = ListTasksRequest { page_token: "garbage".into(), ..Default::default() };
    expect_code(g.tasks().list_tasks(bad_token).await, Code::InvalidArgument);
    let big_page = ListTasksRequest { page_size: 501, ..Default::default() };
    expect_code(g.tasks().list_tasks(big_page).await, Code::InvalidArgument);
    let bad_time = ListTasksRequest {
        created_after: Some(prost_types::Timestamp { seconds: 0, nanos: -5 }),
        ..Default::default()
    };
    expect_code(g.tasks().list_tasks(bad_time).await, Code::InvalidArgument);
    expect_code(
        g.tasks().cancel_task(CancelTaskRequest { task_uuid: UNKNOWN.into(), reason: None }).await,
        Code::NotFound,
    );
    expect_code(
        g.tasks().stream_task_status(StreamTaskStatusRequest { task_uuid: UNKNOWN.into() }).await,
        Code::NotFound,
    );
    expect_code(
        g.tasks().stream_task_status(StreamTaskStatusRequest { task_uuid: "x".into() }).await,
        Code::InvalidArgument,
    );
}

#[tokio::test]
async fn cancelling_a_complete_task_is_a_failed_precondition() {
    let g = Grpc::start(WITH_WORKER).await;
    let t = g.create("demo", "diamond", json!({})).await;
    g.wait_for(&t.task_uuid, "complete").await;
    let s = expect_code(
        g.tasks().cancel_task(CancelTaskRequest { task_uuid: t.task_uuid.clone(), reason: None }).await,
        Code::FailedPrecondition,
    );
    assert!(s.message().contains("cannot be cancelled"), "{}", s.message());
}

#[tokio::test]
async fn steps_are_listed_read_operated_and_their_history_kept() {
    let g = Grpc::start(&[]).await;
    let t = g.create("demo", "diamond", json!({})).await;
    let steps = g
        .steps()
        .list_steps(ListStepsRequest { task_uuid: t.task_uuid.clone() })
        .await
        .expect("list steps")
        .into_inner()
        .steps;
    let names: Vec<_> = steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["start", "left", "right", "finish"]);
    let finish = &steps[3];
    assert_eq!(finish.depends_on, ["left", "right"]);
    let one = g
        .steps()
        .get_step(GetStepRequest { task_uuid: t.task_uuid.clone(), step_uuid: finish.step_uuid.clone() })
        .await
        .expect("get step")
        .into_inner();
    assert_eq!(one.name, "finish");

    // No worker: `start` waits in the queue. Complete it by hand with a result.
    let start = &steps[0];
    let done = g
        .steps()
        .resolve_step(ResolveStepRequest {
            task_uuid: t.task_uuid.clone(),
            step_uuid: start.step_uuid.clone(),
            action: StepAction::CompleteManually as i32,
            reason: Some("by hand".into()),
            result: Some(to_pvalue(json!({"answer": 42}))),
        })
        .await
        .expect("complete manually")
        .into_inner();
    assert_eq!(done.state, "complete");
    assert_eq!(json(done.results), json!({"answer": 42}));
    let left = &steps[1];
    let resolved = g
        .steps()
        .resolve_step(ResolveStepRequest {
            task_uuid: t.task_uuid.clone(),
            step_uuid: left.step_uuid.clone(),
            action: StepAction::ResolveManually as i32,
            reason: Some("skip".into()),
            result: None,
        })
        .await
        .expect("resolve manually")
        .into_inner();
    assert_eq!(resolved.state, "resolved_manually");

    let history = g
        .steps()
        .list_step_transitions(ListStepTransitionsRequest {
            task_uuid: t.task_uuid.clone(),
            step_uuid: start.step_uuid.clone(),
        })
        .await
        .expect("transitions")
        .into_inner()
        .transitions;
    assert!(history.len() >= 2, "{history:?}");
    assert_eq!(history.last().map(|h| h.to_state.as_str()), Some("complete"));
    assert!(history.windows(2).all(|w| w[0].id < w[1].id));

    // Errors.
    let base = ResolveStepRequest {
        task_uuid: t.task_uuid.clone(),
        step_uuid: finish.step_uuid.clone(),
        action: StepAction::ResetForRetry as i32,
        reason: None,
        result: None,
    };
    // A pending step cannot be reset.
    expect_code(g.steps().resolve_step(base.clone()).await, Code::FailedPrecondition);
    let unspecified = ResolveStepRequest { action: StepAction::Unspecified as i32, ..base.clone() };
    expect_code(g.steps().resolve_step(unspecified).await, Code::InvalidArgument);
    let unknown_action = ResolveStepRequest { action: 99, ..base.clone() };
    expect_code(g.steps().resolve_step(unknown_action).await, Code::InvalidArgument);
    let result_with_resolve = ResolveStepRequest {
        action: StepAction::ResolveManually as i32,
        result: Some(to_pvalue(json!(1))),
        ..base.clone()
    };
    expect_code(g.steps().resolve_step(result_with_resolve).await, Code::InvalidArgument);
    let other = g.create("demo", "diamond", json!({})).await;
    let wrong_task = ResolveStepRequest { task_uuid: other.task_uuid.clone(), ..base.clone() };
    expect_code(g.steps().resolve_step(wrong_task).await, Code::NotFound);
    expect_code(g.steps().list_steps(ListStepsRequest { task_uuid: UNKNOWN.into() }).await, Code::NotFound);
    expect_code(g.steps().list_steps(ListStepsRequest { task_uuid: "x".into() }).await, Code::InvalidArgument);
    expect_code(
        g.steps()
            .get_step(GetStepRequest { task_uuid: other.task_uuid.clone(), step_uuid: finish.step_uuid.clone() })
            .await,
        Code::NotFound,
    );
    expect_code(
        g.steps().get_step(GetStepRequest { task_uuid: t.task_uuid.clone(), step_uuid: "x".into() }).await,
        Code::InvalidArgument,
    );
    expect_code(
        g.steps()
            .list_step_transitions(ListStepTransitionsRequest {
                task_uuid: t.task_uuid.clone(),
                step_uuid: UNKNOWN.into(),
            })
            .await,
        Code::NotFound,
    );
    // Operating on a step of a cancelled task is not allowed.
    g.tasks()
        .cancel_task(CancelTaskRequest { task_uuid: other.task_uuid.clone(), reason: None })
        .await
        .expect("cancel");
    let other_steps = g
        .steps()
        .list_steps(ListStepsRequest { task_uuid: other.task_uuid.clone() })
        .await
        .expect("steps")
        .into_inner();
    let on_cancelled = ResolveStepRequest {
        task_uuid: other.task_uuid.clone(),
        step_uuid: other_steps.steps[0].step_uuid.clone(),
        action: StepAction::ResolveManually as i32,
        reason: None,
        result: None,
    };
    expect_code(g.steps().resolve_step(on_cancelled).await, Code::FailedPrecondition);
}

#[tokio::test]
async fn failed_steps_are_retried_in_a_batch_with_a_dry_run_first() {
    let g = Grpc::start(WITH_WORKER).await;
    let t = g.create("demo", "doomed", json!({})).await;
    g.wait_for(&t.task_uuid, "error").await;
    let filter = RetryFailedStepsRequest {
        task_uuids: vec![t.task_uuid.clone()],
        dry_run: true,
        reason: Some("try again".into()),
        ..Default::default()
    };
    let dry = g.retries().retry_failed_steps(filter.clone()).await.expect("dry run").into_inner();
    assert!(dry.dry_run);
    assert_eq!(dry.count, 1);
    assert_eq!(dry.steps[0].step_name, "explode");
    assert_eq!(dry.steps[0].task_state_before, "error");
    let steps = g.steps().list_steps(ListStepsRequest { task_uuid: t.task_uuid.clone() }).await.expect("steps");
    assert_eq!(steps.into_inner().steps[1].state, "error", "a dry run changes nothing");

    let real = g
        .retries()
        .retry_failed_steps(RetryFailedStepsRequest { dry_run: false, ..filter })
        .await
        .expect("retry")
        .into_inner();
    assert!(!real.dry_run);
    assert_eq!(real.count, 1);
    assert_eq!(real.steps[0].previous_attempts, 1);
    assert!(json(real.steps[0].last_error.clone()).is_object());

    let nothing = RetryFailedStepsRequest { namespace: Some("orders".into()), dry_run: true, ..Default::default() };
    assert_eq!(g.retries().retry_failed_steps(nothing).await.expect("empty").into_inner().count, 0);
    let bad = RetryFailedStepsRequest { task_uuids: vec!["x".into()], ..Default::default() };
    expect_code(g.retries().retry_failed_steps(bad).await, Code::InvalidArgument);
}

#[tokio::test]
async fn templates_are_listed_read_and_registered() {
    let g = Grpc::start(&[]).await;
    let all = g.templates().list_templates(ListTemplatesRequest::default()).await.expect("list").into_inner();
    assert!(all.templates.iter().any(|t| t.namespace == "demo" && t.name == "diamond" && t.step_count == 4));
    let demo = g
        .templates()
        .list_templates(ListTemplatesRequest { namespace: Some("demo".into()) })
        .await
        .expect("list demo")
        .into_inner();
    assert!(demo.templates.iter().all(|t| t.namespace == "demo"));
    let one = g
        .templates()
        .get_template(GetTemplateRequest { namespace: "demo".into(), name: "diamond".into(), version: "1.0.0".into() })
        .await
        .expect("get")
        .into_inner();
    let def = from_struct(one.definition.unwrap_or_default());
    assert_eq!(def["steps"].as_array().map(Vec::len), Some(4));

    let definition = json!({
        "namespace": "grpc", "name": "pair", "version": "1.0.0",
        "steps": [{"name": "a", "handler": "noop"}, {"name": "b", "handler": "noop", "depends_on": ["a"]}]
    });
    let reg = g
        .templates()
        .register_template(RegisterTemplateRequest {
            source: Some(Source::Definition(to_struct(definition).unwrap_or_default())),
        })
        .await
        .expect("register struct")
        .into_inner();
    assert_eq!((reg.namespace.as_str(), reg.name.as_str()), ("grpc", "pair"));
    let yaml = "namespace: grpc\nname: single\nversion: 2.0.0\nsteps:\n  - name: only\n    handler: noop\n";
    let reg = g
        .templates()
        .register_template(RegisterTemplateRequest { source: Some(Source::Text(yaml.into())) })
        .await
        .expect("register yaml")
        .into_inner();
    assert_eq!(reg.version, "2.0.0");

    expect_code(
        g.templates()
            .get_template(GetTemplateRequest { namespace: "demo".into(), name: "nope".into(), version: "1.0.0".into() })
            .await,
        Code::NotFound,
    );
    let cycle = json!({
        "namespace": "grpc", "name": "cycle", "version": "1.0.0",
        "steps": [{"name": "a", "handler": "noop", "depends_on": ["b"]}, {"name": "b", "handler": "noop", "depends_on": ["a"]}]
    });
    let s = expect_code(
        g.templates()
            .register_template(RegisterTemplateRequest {
                source: Some(Source::Definition(to_struct(cycle).unwrap_or_default())),
            })
            .await,
        Code::InvalidArgument,
    );
    assert!(s.message().contains("cycle"), "{}", s.message());
    expect_code(
        g.templates()
            .register_template(RegisterTemplateRequest { source: Some(Source::Text(": not yaml [".into())) })
            .await,
        Code::InvalidArgument,
    );
    expect_code(g.templates().register_template(RegisterTemplateRequest { source: None }).await, Code::InvalidArgument);
}

#[tokio::test]
async fn analytics_answer_and_check_their_windows() {
    let g = Grpc::start(WITH_WORKER).await;
    let t = g.create("demo", "diamond", json!({})).await;
    g.wait_for(&t.task_uuid, "complete").await;
    let m = g
        .analytics()
        .get_performance_metrics(GetPerformanceMetricsRequest { hours: None })
        .await
        .expect("metrics")
        .into_inner();
    assert_eq!(m.hours, 24);
    assert_eq!((m.tasks_created, m.tasks_completed, m.steps_completed), (1, 1, 4));
    let b = g
        .analytics()
        .get_bottlenecks(GetBottlenecksRequest { limit: Some(2), hours: Some(1) })
        .await
        .expect("bottlenecks")
        .into_inner();
    assert_eq!(b.slowest_steps.len(), 2);
    assert_eq!(b.slowest_templates.len(), 1);
    expect_code(
        g.analytics().get_performance_metrics(GetPerformanceMetricsRequest { hours: Some(0) }).await,
        Code::InvalidArgument,
    );
    expect_code(
        g.analytics().get_bottlenecks(GetBottlenecksRequest { limit: Some(101), hours: None }).await,
        Code::InvalidArgument,
    );
    expect_code(
        g.analytics().get_bottlenecks(GetBottlenecksRequest { limit: None, hours: Some(100_000) }).await,
        Code::InvalidArgument,
    );
}

#[tokio::test]
async fn dlq_entries_are_listed_read_updated_and_counted() {
    let g = Grpc::start(WITH_WORKER).await;
    let ok = g.create("demo", "diamond", json!({})).await;
    let t = g.create("demo", "doomed", json!({})).await;
    g.wait_for(&t.task_uuid, "error").await;
    g.wait_for(&ok.task_uuid, "complete").await;

    let page = g.dlq().list_entries(ListDlqEntriesRequest::default()).await.expect("list").into_inner();
    assert_eq!(page.entries.len(), 1);
    assert!(page.next_page_token.is_empty());
    let entry = &page.entries[0];
    assert_eq!((entry.task_uuid.as_str(), entry.resolution_status.as_str()), (t.task_uuid.as_str(), "pending"));
    assert_eq!(entry.failed_steps, ["explode"]);
    assert!(entry.snapshot.is_none(), "a list entry embeds the task snapshot");

    let by_task = g
        .dlq()
        .get_entry_by_task(GetDlqEntryByTaskRequest { task_uuid: t.task_uuid.clone() })
        .await
        .expect("by task")
        .into_inner();
    assert_eq!(by_task.entries.len(), 1);
    assert!(json(by_task.entries[0].snapshot.clone()).is_object(), "the entries of one task carry the snapshot");
    let none = g
        .dlq()
        .get_entry_by_task(GetDlqEntryByTaskRequest { task_uuid: ok.task_uuid.clone() })
        .await
        .expect("by task, none")
        .into_inner();
    assert!(none.entries.is_empty());

    let updated = g
        .dlq()
        .update_entry(UpdateDlqEntryRequest {
            id: entry.id,
            resolution_status: Some("investigating".into()),
            resolution_notes: Some("looking".into()),
            resolved_by: Some("ops".into()),
        })
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.resolution_status, "investigating");
    assert!(updated.resolution_notes.as_deref().is_some_and(|n| n.contains("looking")));

    let filtered = g
        .dlq()
        .list_entries(ListDlqEntriesRequest { resolution_status: Some("pending".into()), ..Default::default() })
        .await
        .expect("list pending")
        .into_inner();
    assert!(filtered.entries.is_empty());

    let stats = g.dlq().get_stats(GetDlqStatsRequest {}).await.expect("stats").into_inner();
    assert_eq!(stats.total, 1);
    assert_eq!(stats.by_status.len(), 1);
    assert_eq!(stats.by_status[0].resolution_status, "investigating");
    assert!(stats.oldest_open_age_seconds.is_some());

    // Errors.
    let bad_status = ListDlqEntriesRequest { resolution_status: Some("lost".into()), ..Default::default() };
    expect_code(g.dlq().list_entries(bad_status).await, Code::InvalidArgument);
    let bad_token = ListDlqEntriesRequest { page_token: "x".into(), ..Default::default() };
    expect_code(g.dlq().list_entries(bad_token).await, Code::InvalidArgument);
    expect_code(
        g.dlq().get_entry_by_task(GetDlqEntryByTaskRequest { task_uuid: UNKNOWN.into() }).await,
        Code::NotFound,
    );
    expect_code(
        g.dlq().get_entry_by_task(GetDlqEntryByTaskRequest { task_uuid: "x".into() }).await,
        Code::InvalidArgument,
    );
    let empty = UpdateDlqEntryRequest { id: entry.id, ..Default::default() };
    expect_code(g.dlq().update_entry(empty).await, Code::InvalidArgument);
    let unknown = UpdateDlqEntryRequest { id: 999_999, resolution_notes: Some("x".into()), ..Default::default() };
    expect_code(g.dlq().update_entry(unknown).await, Code::NotFound);
    let bad = UpdateDlqEntryRequest { id: entry.id, resolution_status: Some("lost".into()), ..Default::default() };
    expect_code(g.dlq().update_entry(bad).await, Code::InvalidArgument);
}

#[tokio::test]
async fn health_service_reports_liveness_readiness_and_details() {
    let g = Grpc::start(&[]).await;
    let live = g.health().check_liveness(CheckLivenessRequest {}).await.expect("live").into_inner();
    assert_eq!(live.status, "healthy");
    assert_eq!(live.version, env!("CARGO_PKG_VERSION"));
    let ready = g.health().check_readiness(CheckReadinessRequest {}).await.expect("ready").into_inner();
    assert_eq!(ready.status, "healthy");
    let names: Vec<_> = ready.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["database", "migrations", "actors", "circuit_breakers"]);
    let health = g.health().check_health(CheckHealthRequest {}).await.expect("health").into_inner();
    assert_eq!(health.status, "healthy");
    let detailed =
        g.health().check_detailed_health(CheckDetailedHealthRequest {}).await.expect("detailed").into_inner();
    assert_eq!(detailed.status, "healthy");
    assert!(detailed.pool.is_some_and(|p| p.max >= 2));
    assert!(detailed.actors.len() >= 4, "{:?}", detailed.actors);
    assert!(!detailed.circuit_breakers.is_empty());
    assert!(!detailed.queues.is_empty(), "{:?}", detailed.queues);
}

#[tokio::test]
async fn messages_above_the_configured_size_are_refused() {
    let g = Grpc::start(&[("TASKER__ORCHESTRATION__GRPC__MAX_MESSAGE_BYTES", "2048")]).await;
    let big = "x".repeat(4096);
    let req = CreateTaskRequest {
        namespace: "demo".into(),
        name: "diamond".into(),
        context: to_struct(json!({"blob": big})),
        ..Default::default()
    };
    let s = g.tasks().create_task(req).await.expect_err("too large");
    assert!(matches!(s.code(), Code::OutOfRange | Code::ResourceExhausted), "{s:?}");
    // A small one still passes.
    g.create("demo", "diamond", json!({"small": true})).await;
}

#[tokio::test]
async fn list_tasks_returns_summaries_without_context_unless_asked() {
    let g = Grpc::start(&[]).await;
    let big = json!({"blob": "x".repeat(10_000)});
    let task = g.create("demo", "diamond", big.clone()).await;
    let summary = g.tasks().list_tasks(ListTasksRequest::default()).await.expect("list").into_inner();
    assert_eq!(summary.tasks[0].task_uuid, task.task_uuid);
    assert!(summary.tasks[0].context.is_none(), "a list item carries the task context");
    let with = g
        .tasks()
        .list_tasks(ListTasksRequest { include_context: true, ..Default::default() })
        .await
        .expect("list with context")
        .into_inner();
    assert_eq!(with.tasks[0].context.clone().map(from_struct), Some(big));
    let capped = g
        .tasks()
        .list_tasks(ListTasksRequest { include_context: true, page_size: 500, ..Default::default() })
        .await
        .expect("a larger page size with context is capped, not refused")
        .into_inner();
    assert_eq!(capped.tasks.len(), 1);
}
