//! The auth matrix: the same keys and permissions as REST, from metadata.

use serde_json::json;
use tasker_orchestration::api::grpc::proto::*;
use tonic::{Code, Status};

use crate::support::{Clients, Grpc, Key, WITH_AUTH};

const UNKNOWN: &str = "01890000-0000-7000-8000-000000000000";

/// Calls every `tasker.v1` RPC once (with arguments that pass validation) and returns
/// (rpc, result code).
async fn call_all(c: &Clients, task: &str) -> Vec<(&'static str, Code)> {
    fn code<T>(r: Result<T, Status>) -> Code {
        match r {
            Ok(_) => Code::Ok,
            Err(s) => s.code(),
        }
    }
    let mut out = Vec::new();
    let t = || task.to_string();
    out.push((
        "TaskService/CreateTask",
        code(
            c.tasks()
                .create_task(CreateTaskRequest {
                    namespace: "demo".into(),
                    name: "diamond".into(),
                    ..Default::default()
                })
                .await,
        ),
    ));
    out.push(("TaskService/GetTask", code(c.tasks().get_task(GetTaskRequest { task_uuid: t() }).await)));
    out.push(("TaskService/ListTasks", code(c.tasks().list_tasks(ListTasksRequest::default()).await)));
    out.push((
        "TaskService/CancelTask",
        code(c.tasks().cancel_task(CancelTaskRequest { task_uuid: UNKNOWN.into(), reason: None }).await),
    ));
    out.push((
        "TaskService/StreamTaskStatus",
        code(c.tasks().stream_task_status(StreamTaskStatusRequest { task_uuid: t() }).await),
    ));
    out.push(("StepService/ListSteps", code(c.steps().list_steps(ListStepsRequest { task_uuid: t() }).await)));
    out.push((
        "StepService/GetStep",
        code(c.steps().get_step(GetStepRequest { task_uuid: t(), step_uuid: UNKNOWN.into() }).await),
    ));
    out.push((
        "StepService/ResolveStep",
        code(
            c.steps()
                .resolve_step(ResolveStepRequest {
                    task_uuid: t(),
                    step_uuid: UNKNOWN.into(),
                    action: StepAction::ResolveManually as i32,
                    reason: None,
                    result: None,
                })
                .await,
        ),
    ));
    out.push((
        "StepService/ListStepTransitions",
        code(
            c.steps()
                .list_step_transitions(ListStepTransitionsRequest { task_uuid: t(), step_uuid: UNKNOWN.into() })
                .await,
        ),
    ));
    out.push((
        "RetryService/RetryFailedSteps",
        code(c.retries().retry_failed_steps(RetryFailedStepsRequest { dry_run: true, ..Default::default() }).await),
    ));
    out.push((
        "TemplateService/ListTemplates",
        code(c.templates().list_templates(ListTemplatesRequest::default()).await),
    ));
    out.push((
        "TemplateService/GetTemplate",
        code(
            c.templates()
                .get_template(GetTemplateRequest {
                    namespace: "demo".into(),
                    name: "diamond".into(),
                    version: "1.0.0".into(),
                })
                .await,
        ),
    ));
    out.push((
        "TemplateService/RegisterTemplate",
        code(
            c.templates()
                .register_template(RegisterTemplateRequest {
                    source: Some(register_template_request::Source::Text(
                        "namespace: auth\nname: t\nversion: 1.0.0\nsteps:\n  - name: a\n    handler: noop\n".into(),
                    )),
                })
                .await,
        ),
    ));
    out.push((
        "AnalyticsService/GetPerformanceMetrics",
        code(c.analytics().get_performance_metrics(GetPerformanceMetricsRequest::default()).await),
    ));
    out.push((
        "AnalyticsService/GetBottlenecks",
        code(c.analytics().get_bottlenecks(GetBottlenecksRequest::default()).await),
    ));
    out.push(("DlqService/ListEntries", code(c.dlq().list_entries(ListDlqEntriesRequest::default()).await)));
    out.push((
        "DlqService/GetEntryByTask",
        code(c.dlq().get_entry_by_task(GetDlqEntryByTaskRequest { task_uuid: t() }).await),
    ));
    out.push((
        "DlqService/UpdateEntry",
        code(
            c.dlq()
                .update_entry(UpdateDlqEntryRequest {
                    id: 999_999,
                    resolution_notes: Some("n".into()),
                    ..Default::default()
                })
                .await,
        ),
    ));
    out.push(("DlqService/GetStats", code(c.dlq().get_stats(GetDlqStatsRequest {}).await)));
    out.push(("HealthService/CheckLiveness", code(c.health().check_liveness(CheckLivenessRequest {}).await)));
    out.push(("HealthService/CheckReadiness", code(c.health().check_readiness(CheckReadinessRequest {}).await)));
    out.push(("HealthService/CheckHealth", code(c.health().check_health(CheckHealthRequest {}).await)));
    out.push((
        "HealthService/CheckDetailedHealth",
        code(c.health().check_detailed_health(CheckDetailedHealthRequest {}).await),
    ));
    out
}

/// What a successful authorization answers for each RPC with the arguments of `call_all`.
fn authorized(rpc: &str) -> Code {
    match rpc {
        "TaskService/CancelTask"
        | "StepService/GetStep"
        | "StepService/ResolveStep"
        | "StepService/ListStepTransitions"
        | "DlqService/UpdateEntry" => Code::NotFound,
        _ => Code::Ok,
    }
}

fn is_public(rpc: &str) -> bool {
    rpc.starts_with("HealthService/")
}

#[tokio::test]
async fn every_rpc_checks_the_key_and_its_permission() {
    let g = Grpc::start(WITH_AUTH).await;
    let admin = g.keyed(Key::api_key("admin-key-123"));
    let task = admin.create("demo", "diamond", json!({})).await.task_uuid;
    // A task known to the reader for the read calls.
    let cases = [
        ("no key", Key::none()),
        ("unknown key", Key::api_key("wrong-key-123")),
        ("reader", Key::api_key("reader-key-123")),
        ("reader bearer", Key::bearer("reader-key-123")),
        ("admin", Key::api_key("admin-key-123")),
        ("admin bearer", Key::bearer("admin-key-123")),
    ];
    for (who, key) in cases {
        let results = call_all(&g.keyed(key), &task).await;
        assert_eq!(results.len(), 23, "every RPC is called");
        for (rpc, got) in results {
            let want = if is_public(rpc) {
                authorized(rpc)
            } else {
                match who {
                    "no key" | "unknown key" => Code::Unauthenticated,
                    "reader" | "reader bearer" => {
                        if rpc.starts_with("TaskService/")
                            && !rpc.ends_with("CreateTask")
                            && !rpc.ends_with("CancelTask")
                        {
                            authorized(rpc)
                        } else {
                            Code::PermissionDenied
                        }
                    }
                    _ => authorized(rpc),
                }
            };
            assert_eq!(got, want, "{who} calling {rpc}");
        }
    }
}

#[tokio::test]
async fn auth_errors_explain_themselves_and_public_services_stay_open() {
    let g = Grpc::start(WITH_AUTH).await;
    let s = g.tasks().list_tasks(ListTasksRequest::default()).await.expect_err("no key");
    assert_eq!(s.code(), Code::Unauthenticated);
    assert!(s.message().contains("x-api-key"), "{}", s.message());
    let reader = g.keyed(Key::api_key("reader-key-123"));
    let s = reader.dlq().get_stats(GetDlqStatsRequest {}).await.expect_err("no permission");
    assert_eq!(s.code(), Code::PermissionDenied);
    assert!(s.message().contains("dlq:read"), "{}", s.message());

    // grpc.health.v1 and reflection need no key.
    let mut health = tonic_health::pb::health_client::HealthClient::new(g.channel.clone());
    let r = health.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await;
    assert!(r.is_ok(), "{r:?}");
    assert!(!crate::health::list_services_v1alpha(g.channel.clone()).await.is_empty());
}
