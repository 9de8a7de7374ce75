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

/// A server with auth on and metrics, health details and docs private (production's defaults).
async fn private_endpoints() -> Api {
    Api::start(&[
        ("TASKER__AUTH__ENABLED", "true"),
        ("TASKER__AUTH__API_KEYS", r#"[{name="reader",key="reader-key-123",permissions=["tasks:read"]}]"#),
        ("TASKER__ORCHESTRATION__WEB__PUBLIC_METRICS", "false"),
        ("TASKER__ORCHESTRATION__WEB__PUBLIC_HEALTH_DETAILS", "false"),
        ("TASKER__ORCHESTRATION__WEB__PUBLIC_DOCS", "false"),
    ])
    .await
}

#[tokio::test]
async fn private_metrics_health_details_and_docs_need_any_valid_key() {
    let mut api = private_endpoints().await;
    for path in ["/metrics", "/health/detailed", "/docs", "/docs/", "/api-docs/openapi.json"] {
        api.get(path).await.problem(401);
    }
    for path in ["/health/live", "/health/ready", "/health"] {
        api.get(path).await.expect(200);
    }
    api.key = Some("wrong-key-456".into());
    api.get("/metrics").await.problem(401);
    // Any valid key opens them, whatever its permissions.
    api.key = Some("reader-key-123".into());
    assert_eq!(api.get("/metrics").await.status.as_u16(), 200);
    api.get("/health/detailed").await.expect(200);
    api.get("/api-docs/openapi.json").await.expect(200);
    assert_eq!(api.get("/docs/").await.status.as_u16(), 200);
}

#[tokio::test]
async fn unhealthy_health_names_the_failing_check_in_its_problem() {
    use std::sync::Arc;
    use std::time::Duration;
    use tasker_orchestration::api::auth::Auth;
    use tasker_orchestration::api::rest::{router, AppState, Limits};
    use tasker_orchestration::config::AuthConfig;
    use tasker_orchestration::service::Service;

    // A pool on a server that is not there: the database check fails.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy(&format!("postgres://nobody@127.0.0.1:{port}/none"))
        .unwrap();
    let auth = AuthConfig { enabled: false, allow_unauthenticated_public: false, api_keys: Vec::new() };
    let state = AppState {
        service: Service::new(pool, None, None),
        auth: Arc::new(Auth::from_config(&auth).unwrap()),
        metrics: Arc::new(tasker_orchestration::metrics::Metrics::new()),
        public_docs: true,
        public_metrics: true,
        public_health_details: true,
    };
    let app = router(state, Limits { max_body_bytes: 1 << 20, request_timeout: Duration::from_secs(10) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::new();
    for path in ["/health", "/health/ready", "/health/detailed"] {
        let r = client.get(format!("http://{addr}{path}")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 503, "{path}");
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("application/problem+json"), "{path}: {ct}");
        let p: serde_json::Value = r.json().await.unwrap();
        assert_eq!(p["type"], "urn:tasker:problem:unhealthy", "{path}: {p}");
        assert!(p["detail"].as_str().unwrap().contains("database"), "{path}: the detail names the check: {p}");
        let failing: Vec<&str> = p["checks"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: checks listed: {p}"))
            .iter()
            .filter(|c| c["healthy"] == false)
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(failing, vec!["database"], "{path}: {p}");
        assert_eq!(p["instance"], path, "{p}");
    }
}

#[tokio::test]
async fn a_metrics_scrape_reuses_recent_state_counts() {
    let api = Api::plain().await;
    let scans = |text: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with("tasker_state_counts_scans_total"))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no tasker_state_counts_scans_total in {text}"))
    };
    let first = api.get("/metrics").await.text;
    let second = api.get("/metrics").await.text;
    assert_eq!(scans(&first), 1, "the first scrape counts the states");
    assert_eq!(scans(&second), 1, "a scrape within the TTL reuses them");
    assert!(second.contains("tasker_tasks{"), "{second}");
}
