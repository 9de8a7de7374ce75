//! What the fuzzer (tests/fuzz.rs) found: the OpenAPI document states the ranges and answers the
//! server enforces, and bad input is never a 500.

use serde_json::{json, Value};
use tasker_orchestration::service::{MAX_HOURS, MAX_PAGE_SIZE};

use crate::support::Api;

/// The schema of a query parameter of an operation.
fn param<'a>(doc: &'a Value, method: &str, path: &str, name: &str) -> &'a Value {
    doc["paths"][path][method]["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .map(|p| &p["schema"])
        .unwrap_or_else(|| panic!("no parameter {name} on {method} {path}"))
}

#[tokio::test]
async fn the_document_states_the_query_ranges_the_server_enforces() {
    let api = Api::plain().await;
    let doc = api.get("/api-docs/openapi.json").await.expect(200).clone();
    for (path, name, max) in [
        ("/v1/tasks", "limit", u64::from(MAX_PAGE_SIZE)),
        ("/v1/dlq", "limit", u64::from(MAX_PAGE_SIZE)),
        ("/v1/analytics/performance", "hours", u64::from(MAX_HOURS)),
        ("/v1/analytics/bottlenecks", "hours", u64::from(MAX_HOURS)),
        ("/v1/analytics/bottlenecks", "limit", 100),
    ] {
        let schema = param(&doc, "get", path, name);
        assert_eq!(schema["minimum"], 1, "{path} {name}: {schema}");
        assert_eq!(schema["maximum"], max, "{path} {name}: {schema}");
        let q = format!("{path}?{name}=");
        api.get(&format!("{q}1")).await.expect(200);
        api.get(&format!("{q}{max}")).await.expect(200);
        api.get(&format!("{q}0")).await.problem(422);
        api.get(&format!("{q}{}", max + 1)).await.problem(422);
    }
}

#[tokio::test]
async fn every_operation_with_a_body_documents_413_and_415() {
    let api = Api::plain().await;
    let doc = api.get("/api-docs/openapi.json").await.expect(200).clone();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op.get("requestBody").is_some() {
                for status in ["413", "415"] {
                    assert!(op["responses"].get(status).is_some(), "{method} {path} does not document {status}");
                }
            }
        }
    }
    let r = api.send(api.req(reqwest::Method::PATCH, "/v1/dlq/entry/1")).await;
    r.problem(415);
}

#[tokio::test]
async fn a_cursor_not_in_the_documented_form_is_422() {
    let api = Api::plain().await;
    let simple = uuid::Uuid::now_v7().simple().to_string();
    api.get(&format!("/v1/tasks?cursor={simple}")).await.problem(422);
    api.get(&format!("/v1/tasks?cursor={}", uuid::Uuid::now_v7())).await.expect(200);
    api.get("/v1/dlq?cursor=-1").await.problem(422);
    api.get("/v1/dlq?cursor=%2B5").await.problem(422);
    api.get("/v1/dlq?cursor=12").await.expect(200);
}

#[tokio::test]
async fn a_task_request_with_a_nul_character_is_422_not_500() {
    let api = Api::plain().await;
    for body in [
        json!({"namespace": "demo", "name": "diamond", "source_system": "a\u{0}b"}),
        json!({"namespace": "demo", "name": "diamond", "context": {"k": ["x\u{0}"]}}),
        json!({"namespace": "demo", "name": "diamond", "context": {"\u{0}": 1}}),
        json!({"namespace": "demo", "name": "diamond", "tags": ["\u{0}"]}),
    ] {
        let r = api.post("/v1/tasks", &body).await;
        assert_eq!(r.problem(422)["type"], "urn:tasker:problem:invalid-input", "{body}");
    }
    // The server still creates tasks afterwards.
    api.create("diamond", json!({})).await;
}

#[tokio::test]
async fn a_nul_character_in_a_query_filter_is_422_not_500() {
    let api = Api::plain().await;
    let task = api.create("diamond", json!({})).await;
    let uuid = task["task_uuid"].as_str().unwrap();
    api.get("/v1/dlq?namespace=a%00b").await.problem(422);
    api.get("/v1/tasks?name=a%00b").await.problem(422);
    api.delete(&format!("/v1/tasks/{uuid}?reason=a%00b")).await.problem(422);
}
