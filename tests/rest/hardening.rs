//! Hostile input stays the caller's problem: NUL characters are 422s naming the field (and never
//! pause task creation for everyone), template input schemas are checked when registered,
//! template bodies cannot freeze the process, and health answers while API requests hold every
//! API connection.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::support::Api;

/// Generous wait bound for answers that must not be stuck behind hostile work.
const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn nul_in_the_context_is_a_422_naming_the_field_and_never_pauses_creation() {
    let api = Api::plain().await;
    for _ in 0..7 {
        let r = api
            .post("/v1/tasks", &json!({"namespace": "demo", "name": "linear", "context": {"note": "a\u{0}b"}}))
            .await;
        let p = r.problem(422);
        assert!(p["detail"].as_str().unwrap_or("").contains("context.note"), "{p}");
    }
    api.create("linear", json!({})).await;
    api.get("/health").await.expect(200);
}

#[tokio::test]
async fn nul_in_any_text_parameter_or_field_is_a_422() {
    let api = Api::plain().await;
    let task = api.create("linear", json!({})).await;
    let uuid = task["task_uuid"].as_str().expect("uuid");
    let cases = [
        api.send(api.req(Method::DELETE, &format!("/v1/tasks/{uuid}?reason=%00"))).await,
        api.post("/v1/tasks", &json!({"namespace": "de\u{0}mo", "name": "linear"})).await,
        api.post("/v1/tasks", &json!({"namespace": "demo", "name": "linear", "tags": ["a\u{0}"]})).await,
        api.post("/v1/tasks", &json!({"namespace": "demo", "name": "linear", "context": {"k\u{0}": 1}})).await,
        api.get("/v1/templates/demo/line%00ar/1.0.0").await,
        api.get("/v1/tasks?namespace=%00").await,
        api.get("/v1/dlq?namespace=%00").await,
        api.patch("/v1/dlq/entry/1", &json!({"resolution_notes": "x\u{0}"})).await,
        api.post_raw(
            "/v1/templates",
            "application/json",
            json!({"namespace": "demo", "name": "nul", "version": "1", "description": "\u{0}",
                   "steps": [{"name": "a", "handler": "h"}]})
            .to_string(),
        )
        .await,
    ];
    for r in cases {
        let p = r.problem(422);
        assert!(p["detail"].as_str().unwrap_or("").contains("NUL"), "{p}");
    }
    api.get("/health").await.expect(200);
}

#[tokio::test]
async fn a_template_with_an_invalid_input_schema_is_rejected_when_registered() {
    let api = Api::plain().await;
    for (schema, path) in [
        (json!({"properties": {"code": {"pattern": "("}}}), "input_schema.properties.code.pattern"),
        (json!({"properties": {"name": {"minLength": "ten"}}}), "input_schema.properties.name.minLength"),
    ] {
        let def = json!({"namespace": "demo", "name": "bad_schema", "version": "1", "input_schema": schema,
                         "steps": [{"name": "a", "handler": "h"}]});
        let r = api.post_raw("/v1/templates", "application/json", def.to_string()).await;
        let p = r.problem(422);
        assert!(p["detail"].as_str().unwrap_or("").contains(path), "{p}");
    }
    api.get("/v1/templates/demo/bad_schema/1").await.problem(404);
}

#[tokio::test]
async fn deeply_nested_json_template_is_a_4xx_not_a_yaml_parse() {
    let api = Api::plain().await;
    let body = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let r = tokio::time::timeout(WAIT, api.post_raw("/v1/templates", "application/json", body))
        .await
        .expect("a deep JSON body is refused without parsing it as YAML");
    assert!(r.status.is_client_error(), "{}: {}", r.status, r.text);
}

#[tokio::test]
async fn hostile_yaml_bodies_are_refused_and_liveness_answers_meanwhile() {
    let api = Api::plain().await;
    let deep = format!("steps: {}", "[".repeat(100_000));
    let laughs = {
        let mut s = String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        for i in 1..10 {
            let prev = (b'a' + i - 1) as char;
            let cur = (b'a' + i) as char;
            s.push_str(&format!("{cur}: &{cur} [{}]\n", vec![format!("*{prev}"); 9].join(",")));
        }
        s
    };
    let block: String = (0..1000).map(|i| format!("{}k{i}:\n", " ".repeat(i))).collect();
    for body in [deep, laughs, block] {
        let post = api.post_raw("/v1/templates", "application/yaml", body);
        let live = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            tokio::time::timeout(WAIT, api.get("/health/live")).await
        };
        let (r, live) = tokio::join!(post, live);
        live.expect("/health/live answered while the body was parsed").expect(200);
        let p = r.problem(422);
        assert_eq!(p["type"], "urn:tasker:problem:invalid-template", "{p}");
    }
}

#[tokio::test]
async fn health_answers_while_api_requests_hold_every_api_connection() {
    let api =
        Api::start(&[("TASKER__DATABASE__MAX_CONNECTIONS", "2"), ("TASKER__DATABASE__MIN_CONNECTIONS", "0")]).await;
    let pool = api.ts.server.service.pool().clone();
    let held = [pool.acquire().await.expect("first"), pool.acquire().await.expect("second")];
    let r = tokio::time::timeout(WAIT, api.get("/health")).await.expect("/health answered");
    r.expect(200);
    tokio::time::timeout(WAIT, api.get("/health/live")).await.expect("/health/live answered").expect(200);
    drop(held);
}

#[tokio::test]
async fn api_queries_run_under_the_configured_statement_timeout() {
    let api = Api::start(&[
        ("TASKER__DATABASE__API_STATEMENT_TIMEOUT_MS", "1500"),
        ("TASKER__DATABASE__SYSTEM_STATEMENT_TIMEOUT_MS", "2500"),
    ])
    .await;
    let api_timeout: String =
        sqlx::query_scalar("SHOW statement_timeout").fetch_one(api.ts.server.service.pool()).await.expect("show");
    assert_eq!(api_timeout, "1500ms");
    let system_timeout: String = sqlx::query_scalar("SHOW statement_timeout")
        .fetch_one(api.ts.server.service.system_pool())
        .await
        .expect("show");
    assert_eq!(system_timeout, "2500ms");
}

#[tokio::test]
async fn the_api_statement_timeout_never_outlives_the_request_timeout() {
    let api = Api::start(&[
        ("TASKER__DATABASE__API_STATEMENT_TIMEOUT_MS", "60000"),
        ("TASKER__ORCHESTRATION__WEB__REQUEST_TIMEOUT_MS", "2000"),
    ])
    .await;
    let t: String =
        sqlx::query_scalar("SHOW statement_timeout").fetch_one(api.ts.server.service.pool()).await.expect("show");
    assert_eq!(t, "2s");
}
