//! One problem shape for every error: unknown routes, wrong methods, oversized bodies.

use reqwest::Method;
use serde_json::json;

use crate::support::{assert_problem, Api};

#[tokio::test]
async fn unknown_route_is_a_404_problem() {
    let api = Api::plain().await;
    let r = api.get("/v1/nothing/here").await;
    assert_eq!(r.problem(404)["type"], "urn:tasker:problem:no-route");
    assert_eq!(r.body["instance"], "/v1/nothing/here");
    api.send(api.req(Method::POST, "/nope")).await.problem(404);
}

#[tokio::test]
async fn wrong_method_is_a_405_problem_with_allow() {
    let api = Api::plain().await;
    let r = api.send(api.req(Method::PUT, "/v1/tasks")).await;
    assert_eq!(r.problem(405)["type"], "urn:tasker:problem:method-not-allowed");
    let allow = r.header("allow").unwrap_or("").to_uppercase();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let r = api.send(api.req(Method::POST, "/health")).await;
    r.problem(405);
    let r = api.send(api.req(Method::DELETE, "/v1/templates")).await;
    r.problem(405);
}

#[tokio::test]
async fn oversized_body_is_a_413_problem() {
    let api = Api::start(&[("TASKER__ORCHESTRATION__WEB__MAX_BODY_BYTES", "1024")]).await;
    let big = "x".repeat(4096);
    let r = api.post("/v1/tasks", &json!({"namespace": "demo", "name": "diamond", "context": {"blob": big}})).await;
    assert_eq!(r.problem(413)["type"], "urn:tasker:problem:payload-too-large");
    let r = api.post_raw("/v1/templates", "application/yaml", format!("description: {big}\n")).await;
    r.problem(413);
    let r = api.patch("/v1/dlq/entry/1", &json!({"resolution_notes": big})).await;
    r.problem(413);
}

#[tokio::test]
async fn database_failures_do_not_leak_internals() {
    let api = Api::plain().await;
    // Break the engine under the server: the view behind task reads disappears.
    sqlx::query("ALTER VIEW tasker.task_overview RENAME TO task_overview_gone").execute(&api.ts.db.pool).await.unwrap();
    let r = api.get(&format!("/v1/tasks/{}", uuid::Uuid::now_v7())).await;
    let p = r.problem(500);
    assert_eq!(p["type"], "urn:tasker:problem:internal");
    assert!(p["correlation_id"].is_string(), "{p}");
    let text = r.text.to_lowercase();
    for leak in ["task_overview", "select ", "does not exist", "sqlx", "postgres"] {
        assert!(!text.contains(leak), "leaks {leak}: {text}");
    }
}

#[tokio::test]
async fn every_error_body_has_the_problem_shape() {
    let api = Api::plain().await;
    let cases = [
        api.get("/v1/tasks/x").await,
        api.get("/v1/tasks?limit=abc").await,
        api.post_raw("/v1/tasks", "application/json", "[").await,
        api.send(api.req(Method::PATCH, "/v1/tasks")).await,
        api.get("/v1/dlq/entry/1").await,
    ];
    for r in &cases {
        assert!(r.status.is_client_error(), "{} {}", r.status, r.text);
        assert_problem(r);
    }
}
