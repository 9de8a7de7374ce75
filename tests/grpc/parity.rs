//! Parity with REST: one scenario over both transports gives the same states, counts and
//! results; and every REST route has a declared gRPC counterpart.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use prost::Message;
use serde_json::{json, Value};
use tasker_orchestration::api::grpc::convert::{from_struct, to_struct};
use tasker_orchestration::api::grpc::proto::task_status_update::Update;
use tasker_orchestration::api::grpc::proto::*;
use tasker_orchestration::api::grpc::FILE_DESCRIPTOR_SET;
use tasker_orchestration::testing::start_server;

use crate::support::{json, Clients, Grpc, WAIT, WITH_WORKER};

/// REST route -> gRPC method (`package.Service/Method`), or `None` with why it has none.
const ROUTE_TO_RPC: &[(&str, &str, Result<&str, &str>)] = &[
    ("POST", "/v1/tasks", Ok("tasker.v1.TaskService/CreateTask")),
    ("GET", "/v1/tasks", Ok("tasker.v1.TaskService/ListTasks")),
    ("GET", "/v1/tasks/{task_uuid}", Ok("tasker.v1.TaskService/GetTask")),
    ("DELETE", "/v1/tasks/{task_uuid}", Ok("tasker.v1.TaskService/CancelTask")),
    ("GET", "/v1/tasks/{task_uuid}/workflow_steps", Ok("tasker.v1.StepService/ListSteps")),
    ("GET", "/v1/tasks/{task_uuid}/workflow_steps/{step_uuid}", Ok("tasker.v1.StepService/GetStep")),
    ("PATCH", "/v1/tasks/{task_uuid}/workflow_steps/{step_uuid}", Ok("tasker.v1.StepService/ResolveStep")),
    (
        "GET",
        "/v1/tasks/{task_uuid}/workflow_steps/{step_uuid}/transitions",
        Ok("tasker.v1.StepService/ListStepTransitions"),
    ),
    ("POST", "/v1/retries", Ok("tasker.v1.RetryService/RetryFailedSteps")),
    ("GET", "/v1/templates", Ok("tasker.v1.TemplateService/ListTemplates")),
    ("POST", "/v1/templates", Ok("tasker.v1.TemplateService/RegisterTemplate")),
    ("GET", "/v1/templates/{namespace}/{name}/{version}", Ok("tasker.v1.TemplateService/GetTemplate")),
    ("GET", "/v1/analytics/performance", Ok("tasker.v1.AnalyticsService/GetPerformanceMetrics")),
    ("GET", "/v1/analytics/bottlenecks", Ok("tasker.v1.AnalyticsService/GetBottlenecks")),
    ("GET", "/v1/dlq", Ok("tasker.v1.DlqService/ListEntries")),
    ("GET", "/v1/dlq/task/{task_uuid}", Ok("tasker.v1.DlqService/GetEntryByTask")),
    ("PATCH", "/v1/dlq/entry/{id}", Ok("tasker.v1.DlqService/UpdateEntry")),
    ("GET", "/v1/dlq/stats", Ok("tasker.v1.DlqService/GetStats")),
    ("GET", "/health", Ok("tasker.v1.HealthService/CheckHealth")),
    ("GET", "/health/live", Ok("tasker.v1.HealthService/CheckLiveness")),
    ("GET", "/health/ready", Ok("tasker.v1.HealthService/CheckReadiness")),
    ("GET", "/health/detailed", Ok("tasker.v1.HealthService/CheckDetailedHealth")),
    ("GET", "/metrics", Err("Prometheus scrape endpoint, HTTP by design")),
    ("GET", "/docs", Err("HTTP documentation UI")),
    ("GET", "/docs/", Err("HTTP documentation UI")),
    ("GET", "/docs/{file}", Err("HTTP documentation UI assets")),
    ("GET", "/api-docs/openapi.json", Err("the REST description itself; gRPC has reflection")),
];

/// RPCs with no REST route, and why.
const GRPC_ONLY: &[(&str, &str)] =
    &[("tasker.v1.TaskService/StreamTaskStatus", "server streaming; REST clients poll GET /v1/tasks/{task_uuid}")];

/// Every `package.Service/Method` in our descriptor set.
fn rpcs_in_descriptor_set() -> BTreeSet<String> {
    let fds = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("descriptor set");
    let mut out = BTreeSet::new();
    for file in fds.file {
        let package = file.package().to_string();
        for service in &file.service {
            for method in &service.method {
                out.insert(format!("{package}.{}/{}", service.name(), method.name()));
            }
        }
    }
    out
}

#[tokio::test]
async fn every_rest_route_has_a_grpc_counterpart() {
    let ts = start_server(&[]).await;
    let doc: Value = reqwest::get(format!("{}/api-docs/openapi.json", ts.rest_url()))
        .await
        .expect("GET /api-docs/openapi.json")
        .json()
        .await
        .expect("OpenAPI JSON");
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    assert!(routes.len() >= 20, "the OpenAPI document lists too few routes: {routes:?}");
    let table: BTreeSet<(String, String)> =
        ROUTE_TO_RPC.iter().map(|(m, p, _)| ((*m).to_string(), (*p).to_string())).collect();
    let missing: Vec<_> = routes.difference(&table).collect();
    assert!(missing.is_empty(), "REST routes without a declared gRPC counterpart: {missing:?}");
    let rpcs = rpcs_in_descriptor_set();
    for (method, path, target) in ROUTE_TO_RPC {
        if let Ok(rpc) = target {
            assert!(rpcs.contains(*rpc), "{method} {path} maps to {rpc}, which the descriptor set lacks");
        }
        // Non-API routes may be left out of the document; API routes must be in it.
        if path.starts_with("/v1/") || path.starts_with("/health") {
            assert!(routes.contains(&((*method).to_string(), (*path).to_string())), "{method} {path} is not served");
        }
    }
    let mapped: BTreeSet<String> = ROUTE_TO_RPC
        .iter()
        .filter_map(|(_, _, t)| t.ok().map(str::to_string))
        .chain(GRPC_ONLY.iter().map(|(r, _)| (*r).to_string()))
        .collect();
    let unmapped: Vec<_> = rpcs.difference(&mapped).collect();
    assert!(unmapped.is_empty(), "RPCs neither mapped to a REST route nor declared gRPC-only: {unmapped:?}");
    ts.server.shutdown().await;
}

/// The comparable part of a task: state and counts.
fn task_summary(t: &Value) -> Value {
    json!({
        "namespace": t["namespace"], "name": t["name"], "version": t["version"], "state": t["state"],
        "steps_total": t["steps_total"], "step_counts": t["step_counts"], "completion_pct": t["completion_pct"],
        "context": t["context"], "tags": t["tags"],
    })
}

/// The comparable part of steps: names, states, attempts, results, error messages.
fn steps_summary(steps: &Value) -> Value {
    Value::Array(
        steps
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| {
                        json!({
                            "name": s["name"], "state": s["state"], "attempts": s["attempts"],
                            "results": s["results"], "error": s["last_error"].get("message").cloned(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default(),
    )
}

fn retry_summary(r: &Value) -> Value {
    let names: Vec<_> =
        r["steps"].as_array().map(|a| a.iter().map(|s| s["step_name"].clone()).collect()).unwrap_or_default();
    json!({"dry_run": r["dry_run"], "count": r["count"], "steps": names})
}

fn dlq_summary(entries: &Value, stats: &Value) -> Value {
    let entries: Vec<_> = entries
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| json!({"status": e["resolution_status"], "failed_steps": e["failed_steps"], "state": e["state_at_entry"]}))
                .collect()
        })
        .unwrap_or_default();
    json!({"entries": entries, "total": stats["total"], "by_status": stats["by_status"]})
}

/// The scenario over REST.
async fn scenario_rest() -> Value {
    let ts = start_server(WITH_WORKER).await;
    let http = reqwest::Client::new();
    let base = ts.rest_url();
    let get = |path: String| {
        let http = http.clone();
        let base = base.clone();
        async move { http.get(format!("{base}{path}")).send().await.expect("GET").json::<Value>().await.expect("JSON") }
    };
    let post = |path: &'static str, body: Value| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let r = http.post(format!("{base}{path}")).json(&body).send().await.expect("POST");
            assert!(r.status().is_success(), "POST {path}: {}", r.status());
            r.json::<Value>().await.expect("JSON")
        }
    };
    let wait = |uuid: String, want: &'static str| async move {
        let started = Instant::now();
        loop {
            let t = get(format!("/v1/tasks/{uuid}")).await;
            if t["state"] == want {
                return t;
            }
            assert!(started.elapsed() < WAIT, "task {uuid} is {}, not {want}", t["state"]);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let diamond =
        post("/v1/tasks", json!({"namespace": "demo", "name": "diamond", "context": {"order": 7}, "tags": ["p"]}))
            .await;
    let uuid = diamond["task_uuid"].as_str().expect("uuid").to_string();
    let done = wait(uuid.clone(), "complete").await;
    let steps = get(format!("/v1/tasks/{uuid}/workflow_steps")).await;

    let doomed = post("/v1/tasks", json!({"namespace": "demo", "name": "doomed", "context": {}})).await;
    let d = doomed["task_uuid"].as_str().expect("uuid").to_string();
    let failed = wait(d.clone(), "error").await;
    let filter = json!({"task_uuids": [d], "step_names": ["explode"], "dry_run": true});
    let dry = post("/v1/retries", filter.clone()).await;
    let mut real_filter = filter;
    real_filter["dry_run"] = json!(false);
    let real = post("/v1/retries", real_filter).await;
    let failed_again = wait(d.clone(), "error").await;
    let doomed_steps = get(format!("/v1/tasks/{d}/workflow_steps")).await;
    let entries = get(format!("/v1/dlq/task/{d}")).await;
    let stats = get("/v1/dlq/stats".to_string()).await;
    let listed = get("/v1/dlq".to_string()).await;
    let out = json!({
        "diamond": task_summary(&done), "diamond_steps": steps_summary(&steps),
        "doomed": task_summary(&failed), "dry": retry_summary(&dry), "retry": retry_summary(&real),
        "doomed_again": task_summary(&failed_again), "doomed_steps": steps_summary(&doomed_steps),
        "dlq": dlq_summary(&entries, &stats), "dlq_listed": listed["items"].as_array().map(Vec::len),
    });
    ts.server.shutdown().await;
    out
}

/// A proto task as the REST JSON of its comparable fields.
fn task_json(t: &Task) -> Value {
    let c = t.step_counts.unwrap_or_default();
    json!({
        "namespace": t.namespace, "name": t.name, "version": t.version, "state": t.state,
        "steps_total": t.steps_total,
        "step_counts": {"pending": c.pending, "enqueued": c.enqueued, "in_progress": c.in_progress,
            "waiting_for_retry": c.waiting_for_retry, "complete": c.complete, "error": c.error,
            "cancelled": c.cancelled, "resolved_manually": c.resolved_manually},
        "completion_pct": t.completion_pct,
        "context": from_struct(t.context.clone().unwrap_or_default()), "tags": t.tags,
    })
}

fn steps_json(steps: &[Step]) -> Value {
    Value::Array(
        steps
            .iter()
            .map(|s| {
                json!({"name": s.name, "state": s.state, "attempts": s.attempts,
                       "results": json(s.results.clone()), "last_error": json(s.last_error.clone())})
            })
            .collect(),
    )
}

/// Follows a task's stream to its end and returns the final task.
async fn stream_to_end(c: &Clients, uuid: &str) -> Task {
    let mut stream = c
        .tasks()
        .stream_task_status(StreamTaskStatusRequest { task_uuid: uuid.into() })
        .await
        .expect("stream")
        .into_inner();
    let mut last = None;
    while let Some(m) = tokio::time::timeout(WAIT, stream.message()).await.expect("in time").expect("stream ok") {
        last = Some(m);
    }
    let last = last.expect("a message");
    assert!(last.terminal);
    match last.update {
        Some(Update::TaskStateChange(c)) => c.task.expect("task"),
        Some(Update::Snapshot(s)) => s.task.expect("task"),
        other => panic!("last message {other:?}"),
    }
}

/// The scenario over gRPC.
async fn scenario_grpc() -> Value {
    let g = Grpc::start(WITH_WORKER).await;
    let req = CreateTaskRequest {
        namespace: "demo".into(),
        name: "diamond".into(),
        context: to_struct(json!({"order": 7})),
        tags: vec!["p".into()],
        ..Default::default()
    };
    let diamond = g.tasks().create_task(req).await.expect("create").into_inner();
    let done = stream_to_end(&g, &diamond.task_uuid).await;
    assert_eq!(done.state, "complete");
    let steps = g
        .steps()
        .list_steps(ListStepsRequest { task_uuid: diamond.task_uuid.clone() })
        .await
        .expect("steps")
        .into_inner()
        .steps;

    let doomed = g.create("demo", "doomed", json!({})).await;
    let d = doomed.task_uuid.clone();
    let failed = stream_to_end(&g, &d).await;
    let filter = RetryFailedStepsRequest {
        task_uuids: vec![d.clone()],
        step_names: vec!["explode".into()],
        dry_run: true,
        ..Default::default()
    };
    let dry = g.retries().retry_failed_steps(filter.clone()).await.expect("dry").into_inner();
    let real = g
        .retries()
        .retry_failed_steps(RetryFailedStepsRequest { dry_run: false, ..filter })
        .await
        .expect("retry")
        .into_inner();
    let failed_again = stream_to_end(&g, &d).await;
    let doomed_steps =
        g.steps().list_steps(ListStepsRequest { task_uuid: d.clone() }).await.expect("steps").into_inner().steps;
    let entries =
        g.dlq().get_entry_by_task(GetDlqEntryByTaskRequest { task_uuid: d.clone() }).await.expect("dlq").into_inner();
    let stats = g.dlq().get_stats(GetDlqStatsRequest {}).await.expect("stats").into_inner();
    let listed = g.dlq().list_entries(ListDlqEntriesRequest::default()).await.expect("list").into_inner();

    let retry = |r: &RetryFailedStepsResponse| json!({"dry_run": r.dry_run, "count": r.count, "steps": r.steps.iter().map(|s| s.step_name.clone()).collect::<Vec<_>>()});
    let entries_json = Value::Array(
        entries
            .entries
            .iter()
            .map(|e| json!({"resolution_status": e.resolution_status, "failed_steps": e.failed_steps, "state_at_entry": e.state_at_entry}))
            .collect(),
    );
    let by_status: Vec<Value> =
        stats.by_status.iter().map(|s| json!({"resolution_status": s.resolution_status, "count": s.count})).collect();
    let stats_json = json!({"total": stats.total, "by_status": by_status});
    let out = json!({
        "diamond": task_summary(&task_json(&done)), "diamond_steps": steps_summary(&steps_json(&steps)),
        "doomed": task_summary(&task_json(&failed)), "dry": retry(&dry), "retry": retry(&real),
        "doomed_again": task_summary(&task_json(&failed_again)), "doomed_steps": steps_summary(&steps_json(&doomed_steps)),
        "dlq": dlq_summary(&entries_json, &stats_json), "dlq_listed": Some(listed.entries.len()),
    });
    let Grpc { ts, .. } = g;
    ts.server.shutdown().await;
    out
}

#[tokio::test]
async fn one_scenario_gives_the_same_answers_over_rest_and_grpc() {
    let (rest, grpc) = tokio::join!(scenario_rest(), scenario_grpc());
    assert_eq!(rest["diamond"]["state"], "complete");
    assert_eq!(rest["doomed_again"]["state"], "error");
    assert_eq!(rest["retry"]["count"], 1);
    assert_eq!(rest, grpc, "REST:\n{rest:#}\ngRPC:\n{grpc:#}");
}
