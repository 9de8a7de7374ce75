//! A full task request channel answers 503 with Retry-After, never blocks or drops silently.

use std::collections::HashSet;

use serde_json::json;

use crate::support::Api;

#[tokio::test]
async fn many_concurrent_creates_get_201_or_503_with_retry_after() {
    let api = Api::start(&[
        ("TASKER__ORCHESTRATION__ACTORS__TASK_REQUEST_CHANNEL_SIZE", "1"),
        ("TASKER__ORCHESTRATION__ACTORS__TASK_REQUEST_CONCURRENCY", "1"),
    ])
    .await;
    let mut handles = Vec::new();
    for i in 0..200 {
        let client = api.client.clone();
        let url = format!("{}/v1/tasks", api.base);
        handles.push(tokio::spawn(async move {
            let body = json!({"namespace": "demo", "name": "fan_out", "context": {"i": i}});
            let r = client.post(url).json(&body).send().await.expect("request");
            let status = r.status().as_u16();
            let retry_after = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
            let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            (status, retry_after, ct, body)
        }));
    }
    let mut created = HashSet::new();
    let mut busy = 0;
    for h in handles {
        let (status, retry_after, ct, body) = h.await.unwrap();
        match status {
            201 => {
                created.insert(body["task_uuid"].as_str().unwrap().to_string());
            }
            503 => {
                busy += 1;
                let secs: u64 = retry_after.expect("Retry-After").parse().expect("seconds");
                assert!(secs >= 1);
                assert!(ct.starts_with("application/problem+json"));
                assert_eq!(body["type"], "urn:tasker:problem:backpressure");
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(busy > 0, "a channel of one must refuse some of 200 concurrent creates");
    assert!(!created.is_empty());
    // Nothing dropped silently: every 201 is a real task, and only those exist.
    let page = api.get("/v1/tasks?limit=500").await.expect(200).clone();
    let listed: HashSet<String> =
        page["items"].as_array().unwrap().iter().map(|t| t["task_uuid"].as_str().unwrap().to_string()).collect();
    assert_eq!(listed, created);
}
