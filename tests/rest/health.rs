//! `/health…` and `/metrics`.

use serde_json::json;

use crate::support::Api;

#[tokio::test]
async fn health_endpoints_report_every_check() {
    let api = Api::plain().await;
    for path in ["/health", "/health/ready"] {
        let r = api.get(path).await;
        let h = r.expect(200);
        assert_eq!(h["status"], "healthy");
        let checks: Vec<&str> = h["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        for c in ["database", "migrations", "actors", "circuit_breakers"] {
            assert!(checks.contains(&c), "{path}: {checks:?}");
        }
    }
    assert_eq!(api.get("/health/live").await.expect(200)["status"], "healthy");
    let d = api.get("/health/detailed").await.expect(200).clone();
    assert!(d["pool"]["max"].as_u64().unwrap() > 0);
    assert!(d["queues"].is_array());
    assert!(!d["actors"].as_array().unwrap().is_empty());
    assert!(d["circuit_breakers"].is_array());
}

#[tokio::test]
async fn metrics_are_prometheus_text_and_count_http_requests() {
    let api = Api::plain().await;
    api.post("/v1/tasks", &json!({"namespace": "demo", "name": "diamond"})).await.expect(201);
    api.get("/v1/tasks/not-a-uuid").await.problem(400);
    let r = api.get("/metrics").await;
    assert_eq!(r.status.as_u16(), 200);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let text = &r.text;
    let has = |needle: &str| {
        text.lines().any(|l| l.starts_with("tasker_requests") || l.starts_with("requests")) && text.contains(needle)
    };
    assert!(has("route=\"/v1/tasks\""), "HTTP requests by route: {text}");
    assert!(has("route=\"/v1/tasks/{task_uuid}\""), "HTTP requests by route: {text}");
    assert!(has("status=\"201\"") && has("status=\"400\""), "HTTP requests by status: {text}");
    assert!(text.lines().any(|l| l.starts_with("# TYPE")), "{text}");
}
