//! Hostile input over gRPC: NUL characters and hostile template text are INVALID_ARGUMENT, and
//! never pause task creation.

use serde_json::json;
use tasker_orchestration::api::grpc::convert::to_struct;
use tasker_orchestration::api::grpc::proto::register_template_request::Source;
use tasker_orchestration::api::grpc::proto::*;
use tonic::Code;

use crate::support::{expect_code, Grpc};

#[tokio::test]
async fn nul_in_a_request_is_invalid_argument_and_never_pauses_creation() {
    let g = Grpc::start(&[]).await;
    for _ in 0..7 {
        let req = CreateTaskRequest {
            namespace: "demo".into(),
            name: "linear".into(),
            context: to_struct(json!({"note": "a\u{0}b"})),
            ..Default::default()
        };
        let s = expect_code(g.tasks().create_task(req).await, Code::InvalidArgument);
        assert!(s.message().contains("context.note"), "{}", s.message());
    }
    let task = g.create("demo", "linear", json!({})).await;
    let cancel = CancelTaskRequest { task_uuid: task.task_uuid.clone(), reason: Some("\u{0}".into()) };
    expect_code(g.tasks().cancel_task(cancel).await, Code::InvalidArgument);
    let get = GetTemplateRequest { namespace: "demo".into(), name: "li\u{0}near".into(), version: "1.0.0".into() };
    expect_code(g.templates().get_template(get).await, Code::InvalidArgument);
}

#[tokio::test]
async fn hostile_template_text_is_invalid_argument() {
    let g = Grpc::start(&[]).await;
    for text in [format!("steps: {}", "[".repeat(100_000)), format!("{}{}", "[".repeat(5000), "]".repeat(5000))] {
        let req = RegisterTemplateRequest { source: Some(Source::Text(text)) };
        expect_code(g.templates().register_template(req).await, Code::InvalidArgument);
    }
    let def = json!({"namespace": "demo", "name": "bad_schema", "version": "1",
                     "input_schema": {"properties": {"code": {"pattern": "("}}},
                     "steps": [{"name": "a", "handler": "h"}]});
    let req = RegisterTemplateRequest { source: Some(Source::Definition(to_struct(def).unwrap_or_default())) };
    let s = expect_code(g.templates().register_template(req).await, Code::InvalidArgument);
    assert!(s.message().contains("input_schema.properties.code.pattern"), "{}", s.message());
}
