//! `/v1/tasks`: create, read, list (filters, pagination), cancel.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{Api, WITH_WORKER};

#[tokio::test]
async fn create_task_answers_201_with_the_task_and_its_step_counts() {
    let api = Api::plain().await;
    let r = api
        .post(
            "/v1/tasks",
            &json!({"namespace": "demo", "name": "diamond", "version": "1.0.0", "context": {"a": 1},
                    "initiator": "tester", "source_system": "ci", "reason": "test", "tags": ["x", "y"],
                    "priority": 5}),
        )
        .await;
    let task = r.expect(201);
    assert_eq!(task["namespace"], "demo");
    assert_eq!(task["name"], "diamond");
    assert_eq!(task["version"], "1.0.0");
    assert_eq!(task["context"], json!({"a": 1}));
    assert_eq!(task["priority"], 5);
    assert_eq!(task["tags"], json!(["x", "y"]));
    assert_eq!(task["initiator"], "tester");
    assert_eq!(task["steps_total"], 4);
    let counts = &task["step_counts"];
    let sum: i64 = counts.as_object().map(|o| o.values().filter_map(Value::as_i64).sum()).unwrap_or(0);
    assert_eq!(sum, 4, "{counts}");
    assert_eq!(task["completion_pct"].as_f64(), Some(0.0));

    let uuid = task["task_uuid"].as_str().unwrap();
    let got = api.get(&format!("/v1/tasks/{uuid}")).await;
    assert_eq!(got.expect(200)["task_uuid"], uuid);
}

#[tokio::test]
async fn a_task_runs_to_completion_and_shows_100_percent() {
    let api = Api::start(WITH_WORKER).await;
    let task = api.create("diamond", json!({})).await;
    let done = api.wait_for_state(task["task_uuid"].as_str().unwrap(), "complete").await;
    assert_eq!(done["completion_pct"].as_f64(), Some(100.0));
    assert_eq!(done["step_counts"]["complete"], 4);
    assert!(done["completed_at"].is_string());
    assert!(done["last_error"].is_null());
}

#[tokio::test]
async fn a_failed_task_shows_its_last_error() {
    let api = Api::start(WITH_WORKER).await;
    let task = api.create("doomed", json!({})).await;
    let failed = api.wait_for_state(task["task_uuid"].as_str().unwrap(), "error").await;
    assert!(failed["last_error"].to_string().contains("fails permanently"), "{failed}");
    assert_eq!(failed["step_counts"]["error"], 1);
}

#[tokio::test]
async fn create_task_errors_are_problems() {
    let api = Api::plain().await;
    // Unknown template: 404.
    let r = api.post("/v1/tasks", &json!({"namespace": "demo", "name": "nope", "context": {}})).await;
    assert_eq!(r.problem(404)["type"], "urn:tasker:problem:not-found");
    // Unknown version: 404.
    api.post("/v1/tasks", &json!({"namespace": "demo", "name": "diamond", "version": "9.9.9"})).await.problem(404);
    // Malformed JSON: 400.
    let r = api.post_raw("/v1/tasks", "application/json", "{\"namespace\": ").await;
    r.problem(400);
    // Wrong type: 422.
    let r = api.post("/v1/tasks", &json!({"namespace": "demo", "name": 7})).await;
    r.problem(422);
    // Unknown field: 422, naming it.
    let r = api.post("/v1/tasks", &json!({"namespace": "demo", "name": "diamond", "colour": "red"})).await;
    assert!(r.problem(422)["detail"].as_str().unwrap().contains("colour"), "{}", r.text);
    // Missing required field: 422.
    api.post("/v1/tasks", &json!({"namespace": "demo"})).await.problem(422);
    // Context not an object: 422.
    api.post("/v1/tasks", &json!({"namespace": "demo", "name": "diamond", "context": [1]})).await.problem(422);
    // Not JSON: 415.
    api.post_raw("/v1/tasks", "text/plain", "hello").await.problem(415);
    // Context failing the template's input_schema: 422.
    let r = api
        .post("/v1/tasks", &json!({"namespace": "orders", "name": "order_fulfillment", "context": {"order_id": 5}}))
        .await;
    let p = r.problem(422);
    assert!(p["detail"].as_str().unwrap().contains("order_id"), "{p}");
}

#[tokio::test]
async fn idempotency_key_returns_the_same_task_or_409_for_a_different_body() {
    let api = Api::plain().await;
    let body = json!({"namespace": "demo", "name": "linear", "context": {"n": 1}, "idempotency_key": "k-1"});
    let first = api.post("/v1/tasks", &body).await.expect(201).clone();
    let second = api.post("/v1/tasks", &body).await.expect(201).clone();
    assert_eq!(first["task_uuid"], second["task_uuid"]);
    let different = json!({"namespace": "demo", "name": "linear", "context": {"n": 2}, "idempotency_key": "k-1"});
    let r = api.post("/v1/tasks", &different).await;
    assert_eq!(r.problem(409)["type"], "urn:tasker:problem:idempotency-conflict");
}

#[tokio::test]
async fn get_task_unknown_is_404_and_bad_uuid_is_400() {
    let api = Api::plain().await;
    api.get(&format!("/v1/tasks/{}", uuid::Uuid::now_v7())).await.problem(404);
    let r = api.get("/v1/tasks/not-a-uuid").await;
    assert!(r.problem(400)["detail"].as_str().unwrap().contains("not-a-uuid"));
}

#[tokio::test]
async fn list_tasks_filters_by_namespace_name_state_and_time() {
    let api = Api::plain().await;
    let a = api.create("diamond", json!({})).await;
    let b = api.create("linear", json!({})).await;
    let ids = |v: &Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|t| t["task_uuid"].as_str().unwrap().to_string()).collect()
    };
    let all = api.get("/v1/tasks").await.expect(200).clone();
    assert_eq!(ids(&all), vec![b["task_uuid"].as_str().unwrap(), a["task_uuid"].as_str().unwrap()]);
    assert!(all["next_cursor"].is_null());

    let by_name = api.get("/v1/tasks?namespace=demo&name=diamond").await.expect(200).clone();
    assert_eq!(ids(&by_name), vec![a["task_uuid"].as_str().unwrap()]);
    let other_ns = api.get("/v1/tasks?namespace=orders").await.expect(200).clone();
    assert!(ids(&other_ns).is_empty());

    let state = a["state"].as_str().unwrap();
    let by_state = api.get(&format!("/v1/tasks?state={state}")).await.expect(200).clone();
    assert!(ids(&by_state).contains(&a["task_uuid"].as_str().unwrap().to_string()));
    assert!(ids(&api.get("/v1/tasks?state=cancelled").await.expect(200).clone()).is_empty());

    let created = a["created_at"].as_str().unwrap();
    let after = api.send(api.req(Method::GET, "/v1/tasks").query(&[("created_after", created)])).await;
    assert_eq!(ids(after.expect(200)).len(), 2);
    let before = api.send(api.req(Method::GET, "/v1/tasks").query(&[("created_before", created)])).await;
    assert!(ids(before.expect(200)).is_empty());
    let future = api.send(api.req(Method::GET, "/v1/tasks").query(&[("created_after", "2999-01-01T00:00:00Z")])).await;
    assert!(ids(future.expect(200)).is_empty());

    // Invalid filters: unknown state 422, bad limit 422, bad cursor 422, bad date 400, unknown parameter 400.
    api.get("/v1/tasks?state=sleeping").await.problem(422);
    api.get("/v1/tasks?limit=0").await.problem(422);
    api.get("/v1/tasks?limit=501").await.problem(422);
    api.get("/v1/tasks?cursor=xyz").await.problem(422);
    api.get("/v1/tasks?created_after=yesterday").await.problem(400);
    api.get("/v1/tasks?limit=-1").await.problem(400);
    api.get("/v1/tasks?colour=red").await.problem(400);
}

#[tokio::test]
async fn list_tasks_pages_are_stable_under_inserts() {
    let api = Api::plain().await;
    let mut original = Vec::new();
    for _ in 0..7 {
        original.push(api.create("linear", json!({})).await["task_uuid"].as_str().unwrap().to_string());
    }
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/tasks?limit=3&cursor={c}"),
            None => "/v1/tasks?limit=3".to_string(),
        };
        let page = api.get(&path).await.expect(200).clone();
        pages += 1;
        for t in page["items"].as_array().unwrap() {
            seen.push(t["task_uuid"].as_str().unwrap().to_string());
        }
        // New tasks arrive between pages: they must not shift the pages still to come.
        api.create("linear", json!({})).await;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let newest_first: Vec<String> = original.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first, "every original task exactly once, newest first");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 7);
    let everything = api.get("/v1/tasks?limit=500").await.expect(200).clone();
    assert_eq!(everything["items"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn delete_cancels_a_task_and_a_finished_task_cannot_be_cancelled() {
    let api = Api::plain().await;
    let task = api.create("diamond", json!({})).await;
    let uuid = task["task_uuid"].as_str().unwrap();
    let r = api.delete(&format!("/v1/tasks/{uuid}?reason=no%20longer%20needed")).await;
    let cancelled = r.expect(200);
    assert_eq!(cancelled["state"], "cancelled");
    assert_eq!(cancelled["step_counts"]["cancelled"], 4);
    api.delete(&format!("/v1/tasks/{}", uuid::Uuid::now_v7())).await.problem(404);
    api.delete("/v1/tasks/123").await.problem(400);
    api.delete(&format!("/v1/tasks/{uuid}?colour=red")).await.problem(400);

    let api = Api::start(WITH_WORKER).await;
    let task = api.create("linear", json!({})).await;
    let uuid = task["task_uuid"].as_str().unwrap();
    api.wait_for_state(uuid, "complete").await;
    api.delete(&format!("/v1/tasks/{uuid}")).await.problem(409);
}

#[tokio::test]
async fn list_tasks_returns_summaries_without_context_unless_asked() {
    let api = Api::plain().await;
    let big = json!({"blob": "x".repeat(10_000)});
    let a = api.create("diamond", json!({"context": big})).await;
    let uuid = a["task_uuid"].as_str().unwrap();

    let page = api.get("/v1/tasks").await.expect(200).clone();
    let item = &page["items"][0];
    assert_eq!(item["task_uuid"], uuid);
    assert!(item.get("context").is_none(), "a list item carries the task context: {}", item["context"]);
    assert!(item["step_counts"].is_object());

    let with = api.get("/v1/tasks?include=context").await.expect(200).clone();
    assert_eq!(with["items"][0]["context"], big);
    assert_eq!(api.get(&format!("/v1/tasks/{uuid}")).await.expect(200)["context"], big);

    // With context a page holds at most 100 tasks: a larger limit is accepted and capped.
    api.get("/v1/tasks?include=context&limit=100").await.expect(200);
    api.get("/v1/tasks?include=context&limit=500").await.expect(200);
    api.get("/v1/tasks?include=steps").await.problem(422);
}
