//! `/v1/analytics/performance` and `/v1/analytics/bottlenecks`.

use serde_json::json;

use crate::support::{Api, WITH_WORKER};

#[tokio::test]
async fn performance_and_bottlenecks_reflect_completed_work() {
    let api = Api::start(WITH_WORKER).await;
    let task = api.create("diamond", json!({})).await;
    api.wait_for_state(task["task_uuid"].as_str().unwrap(), "complete").await;

    let perf = api.get("/v1/analytics/performance").await.expect(200).clone();
    assert_eq!(perf["hours"], 24);
    assert_eq!(perf["tasks_created"], 1);
    assert_eq!(perf["tasks_completed"], 1);
    assert_eq!(perf["steps_completed"], 4);
    assert_eq!(api.get("/v1/analytics/performance?hours=1").await.expect(200)["hours"], 1);

    let b = api.get("/v1/analytics/bottlenecks?limit=2&hours=1").await.expect(200).clone();
    let steps = b["slowest_steps"].as_array().unwrap();
    assert!(!steps.is_empty() && steps.len() <= 2, "{b}");
    assert_eq!(steps[0]["namespace"], "demo");
    assert_eq!(b["slowest_templates"][0]["name"], "diamond");
    api.get("/v1/analytics/bottlenecks").await.expect(200);
}

#[tokio::test]
async fn analytics_reject_bad_parameters() {
    let api = Api::plain().await;
    api.get("/v1/analytics/performance?hours=0").await.problem(422);
    api.get("/v1/analytics/performance?hours=100000").await.problem(422);
    api.get("/v1/analytics/performance?hours=abc").await.problem(400);
    api.get("/v1/analytics/performance?days=2").await.problem(400);
    api.get("/v1/analytics/bottlenecks?limit=0").await.problem(422);
    api.get("/v1/analytics/bottlenecks?limit=101").await.problem(422);
    api.get("/v1/analytics/bottlenecks?limit=-1").await.problem(400);
}
