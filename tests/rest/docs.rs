//! `/docs` and `/api-docs/openapi.json`: the document matches the router, both ways.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;
use tasker_orchestration::api::rest::routes;

use crate::support::Api;

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "put", "post", "delete", "options", "head", "patch", "trace"].contains(&method.as_str()) {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn every_served_route_is_documented_and_every_documented_route_is_served() {
    let api = Api::plain().await;
    let doc = api.get("/api-docs/openapi.json").await.expect(200).clone();
    let served: BTreeSet<(String, String)> = routes().into_iter().map(|r| (r.method.to_string(), r.path)).collect();
    let documented = documented(&doc);
    assert_eq!(
        served.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "served but not documented"
    );
    assert_eq!(
        documented.difference(&served).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "documented but not served"
    );
    for expected in [
        ("POST", "/v1/tasks"),
        ("GET", "/v1/tasks"),
        ("GET", "/v1/tasks/{task_uuid}"),
        ("DELETE", "/v1/tasks/{task_uuid}"),
        ("GET", "/v1/tasks/{task_uuid}/workflow_steps"),
        ("GET", "/v1/tasks/{task_uuid}/workflow_steps/{step_uuid}"),
        ("PATCH", "/v1/tasks/{task_uuid}/workflow_steps/{step_uuid}"),
        ("GET", "/v1/tasks/{task_uuid}/workflow_steps/{step_uuid}/transitions"),
        ("POST", "/v1/retries"),
        ("GET", "/v1/templates"),
        ("GET", "/v1/templates/{namespace}/{name}/{version}"),
        ("POST", "/v1/templates"),
        ("GET", "/v1/analytics/performance"),
        ("GET", "/v1/analytics/bottlenecks"),
        ("GET", "/v1/dlq"),
        ("GET", "/v1/dlq/task/{task_uuid}"),
        ("PATCH", "/v1/dlq/entry/{id}"),
        ("GET", "/v1/dlq/stats"),
        ("GET", "/health"),
        ("GET", "/health/live"),
        ("GET", "/health/ready"),
        ("GET", "/health/detailed"),
        ("GET", "/metrics"),
        ("GET", "/docs"),
        ("GET", "/api-docs/openapi.json"),
    ] {
        assert!(served.contains(&(expected.0.to_string(), expected.1.to_string())), "{expected:?} is not served");
    }

    // The router really answers each listed route (never the no-route fallback nor a 405).
    for (method, path) in &served {
        let sample = path
            .replace("{task_uuid}", &uuid::Uuid::now_v7().to_string())
            .replace("{step_uuid}", &uuid::Uuid::now_v7().to_string())
            .replace("{id}", "1")
            .replace("{namespace}", "demo")
            .replace("{name}", "diamond")
            .replace("{version}", "1.0.0")
            .replace("{file}", "swagger-ui.css");
        let r = api.send(api.req(method.parse::<Method>().unwrap(), &sample)).await;
        assert_ne!(r.status.as_u16(), 405, "{method} {sample}");
        assert_ne!(r.body["type"], "urn:tasker:problem:no-route", "{method} {sample}");
    }
}

#[tokio::test]
async fn the_document_is_complete_and_its_references_resolve() {
    let api = Api::plain().await;
    let doc = api.get("/api-docs/openapi.json").await.expect(200).clone();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert!(schemes.contains_key("api_key") && schemes.contains_key("bearer"));
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for s in ["Task", "TaskRequest", "Step", "RetryFilter", "RetryOutcome", "Template", "DlqEntry", "Problem"] {
        assert!(schemas.contains_key(s), "schema {s} missing");
    }
    // Every $ref points at an existing component.
    let text = doc.to_string();
    let mut refs = 0;
    for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = part.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "dangling $ref {name}");
        refs += 1;
    }
    assert!(refs > 20);
    // Every operation documents its answers, with problems for errors.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.keys().any(|k| k.starts_with('2') || k.starts_with('3')), "{method} {path}");
            assert!(responses.contains_key("500"), "{method} {path}");
            assert!(op["summary"].is_string() || op["description"].is_string(), "{method} {path}");
        }
    }
    let create = &doc["paths"]["/v1/tasks"]["post"]["responses"];
    for code in ["201", "400", "401", "403", "404", "409", "422", "503"] {
        assert!(create.get(code).is_some(), "POST /v1/tasks lacks {code}");
    }
}

#[tokio::test]
async fn swagger_ui_is_served_offline() {
    let api = Api::plain().await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = client.get(format!("{}/docs", api.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/docs/");

    let index = api.get("/docs/").await;
    assert_eq!(index.status.as_u16(), 200);
    assert!(index.header("content-type").unwrap().starts_with("text/html"));
    assert!(index.text.contains("swagger"), "{}", index.text);
    assert!(!index.text.contains("https://"), "the page loads nothing from the internet");

    let init = api.get("/docs/swagger-initializer.js").await;
    assert_eq!(init.status.as_u16(), 200);
    assert!(init.text.contains("/api-docs/openapi.json"), "{}", init.text);
    assert!(init.text.contains("\"validatorUrl\": \"none\""), "{}", init.text);

    for asset in ["swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"] {
        let r = api.send(api.req(Method::GET, &format!("/docs/{asset}"))).await;
        assert_eq!(r.status.as_u16(), 200, "{asset}");
    }
    api.get("/docs/nothing.js").await.problem(404);
}
