//! The auth matrix: no key, unknown key, key lacking the permission, key with it — for every
//! protected route, with permissions read from the OpenAPI document.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::Api;

/// Every permission but `*` (which the admin key holds).
fn permissions() -> Vec<&'static str> {
    tasker_orchestration::config::PERMISSIONS.iter().copied().filter(|p| *p != "*").collect()
}

/// A key per permission (`key-<permission>`), plus the reader and admin keys of the issue.
fn keys_toml() -> String {
    let mut keys: Vec<String> =
        permissions().into_iter().map(|p| format!(r#"{{name="{p}",key="key-{p}",permissions=["{p}"]}}"#)).collect();
    keys.push(r#"{name="reader",key="reader-key-123",permissions=["tasks:read"]}"#.into());
    keys.push(r#"{name="admin",key="admin-key-123",permissions=["*"]}"#.into());
    format!("[{}]", keys.join(","))
}

async fn secured(extra: &[(&str, &str)]) -> Api {
    let keys = keys_toml();
    let mut overrides = vec![("TASKER__AUTH__ENABLED", "true"), ("TASKER__AUTH__API_KEYS", keys.as_str())];
    overrides.extend_from_slice(extra);
    Api::start(&overrides).await
}

/// (method, sample path, permission) of every operation with a security requirement.
fn protected_operations(doc: &Value) -> Vec<(Method, String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(sec) = op["security"].as_array().filter(|s| !s.is_empty()) else { continue };
            let perm = sec[0]["api_key"][0].as_str().unwrap().to_string();
            let sample = path
                .replace("{task_uuid}", &uuid::Uuid::now_v7().to_string())
                .replace("{step_uuid}", &uuid::Uuid::now_v7().to_string())
                .replace("{id}", "1")
                .replace("{namespace}", "demo")
                .replace("{name}", "diamond")
                .replace("{version}", "1.0.0");
            out.push((method.to_uppercase().parse().unwrap(), sample, perm));
        }
    }
    out
}

async fn call(api: &Api, method: &Method, path: &str, key: Option<&str>) -> crate::support::Resp {
    let mut rb = api.client.request(method.clone(), format!("{}{path}", api.base));
    if let Some(k) = key {
        rb = rb.header("X-API-Key", k);
    }
    if *method == Method::POST || *method == Method::PATCH {
        rb = rb.json(&json!({}));
    }
    api.send(rb).await
}

#[tokio::test]
async fn every_protected_route_checks_the_key_and_its_permission() {
    let all_permissions = permissions();
    let api = secured(&[]).await;
    let doc = api.get("/api-docs/openapi.json").await.expect(200).clone();
    let ops = protected_operations(&doc);
    assert!(ops.len() >= 18, "{} protected operations", ops.len());
    let mut used: Vec<&str> = Vec::new();
    for (method, path, perm) in &ops {
        assert!(all_permissions.contains(&perm.as_str()), "{method} {path}: unknown permission {perm}");
        used.push(all_permissions.iter().find(|p| **p == perm).unwrap());
        let ctx = format!("{method} {path} ({perm})");

        let r = call(&api, method, path, None).await;
        assert_eq!(r.problem(401)["type"], "urn:tasker:problem:unauthenticated", "{ctx}");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{ctx}");
        call(&api, method, path, Some("wrong-key-123")).await.problem(401);

        let other = all_permissions.iter().find(|p| **p != perm).unwrap();
        let r = call(&api, method, path, Some(&format!("key-{other}"))).await;
        assert_eq!(r.problem(403)["type"], "urn:tasker:problem:forbidden", "{ctx}");
        assert!(r.body["detail"].as_str().unwrap().contains(perm.as_str()), "{ctx}: {}", r.text);

        for key in [format!("key-{perm}"), "admin-key-123".to_string()] {
            let r = call(&api, method, path, Some(&key)).await;
            assert!(
                r.status != StatusCode::UNAUTHORIZED && r.status != StatusCode::FORBIDDEN,
                "{ctx} with {key}: {} {}",
                r.status,
                r.text
            );
        }
    }
    used.sort();
    used.dedup();
    assert_eq!(used.len(), all_permissions.len(), "every permission guards some route");
}

#[tokio::test]
async fn reader_reads_but_cannot_create_and_bearer_works() {
    let api = secured(&[]).await;
    let body = json!({"namespace": "demo", "name": "diamond"});
    let bearer = |key: &str, rb: reqwest::RequestBuilder| rb.header("Authorization", format!("Bearer {key}"));

    let r = api.send(bearer("reader-key-123", api.req(Method::POST, "/v1/tasks").json(&body))).await;
    r.problem(403);
    let r = api.send(bearer("admin-key-123", api.req(Method::POST, "/v1/tasks").json(&body))).await;
    let uuid = r.expect(201)["task_uuid"].as_str().unwrap().to_string();
    let r = api.send(bearer("reader-key-123", api.req(Method::GET, &format!("/v1/tasks/{uuid}")))).await;
    r.expect(200);
    let r = api.send(api.req(Method::GET, &format!("/v1/tasks/{uuid}")).header("X-API-Key", "reader-key-123")).await;
    r.expect(200);
    let r = api.send(bearer("reader-key-123", api.req(Method::GET, "/v1/dlq"))).await;
    r.problem(403);
    // A missing key is 401 before the body is even read.
    api.post_raw("/v1/tasks", "application/json", "{not json").await.problem(401);
    let r = api.send(api.req(Method::GET, "/v1/tasks").header("Authorization", "Basic abc")).await;
    r.problem(401);
}

#[tokio::test]
async fn health_metrics_and_public_docs_need_no_key() {
    let api = secured(&[]).await;
    for path in ["/health", "/health/live", "/health/ready", "/health/detailed", "/metrics", "/api-docs/openapi.json"] {
        assert_eq!(api.get(path).await.status.as_u16(), 200, "{path}");
    }
    assert_eq!(api.get("/docs/").await.status.as_u16(), 200);
}

#[tokio::test]
async fn private_docs_need_any_valid_key() {
    let api = secured(&[("TASKER__ORCHESTRATION__WEB__PUBLIC_DOCS", "false")]).await;
    for path in ["/docs", "/docs/", "/docs/swagger-ui.css", "/api-docs/openapi.json"] {
        api.get(path).await.problem(401);
        let r = api.send(api.req(Method::GET, path).header("X-API-Key", "wrong-key-123")).await;
        r.problem(401);
    }
    // Any valid key will do, whatever its permissions.
    let r = api.send(api.req(Method::GET, "/api-docs/openapi.json").header("X-API-Key", "key-dlq:read")).await;
    assert_eq!(r.expect(200)["openapi"].as_str().map(|v| v.starts_with('3')), Some(true));
    let r = api.send(api.req(Method::GET, "/docs/").header("X-API-Key", "reader-key-123")).await;
    r.expect(200);
    assert_eq!(api.get("/health").await.status.as_u16(), 200);
}

#[tokio::test]
async fn auth_off_accepts_requests_without_a_key() {
    let api = Api::plain().await;
    api.get("/v1/tasks").await.expect(200);
    api.get("/v1/dlq/stats").await.expect(200);
}
