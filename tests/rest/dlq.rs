//! `/v1/dlq`: list, per task, investigation updates, stats.

use serde_json::json;

use crate::support::{Api, WITH_WORKER};

#[tokio::test]
async fn a_failed_task_lands_in_the_dlq_and_can_be_investigated() {
    let api = Api::start(WITH_WORKER).await;
    let doomed = api.create("doomed", json!({})).await;
    let uuid = doomed["task_uuid"].as_str().unwrap();
    api.wait_for_state(uuid, "error").await;
    let ok = api.create("diamond", json!({})).await;
    api.wait_for_state(ok["task_uuid"].as_str().unwrap(), "complete").await;

    let page = api.get("/v1/dlq").await.expect(200).clone();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    let entry = &items[0];
    assert_eq!(entry["task_uuid"], uuid);
    assert_eq!(entry["resolution_status"], "pending");
    assert_eq!(entry["failed_steps"], json!(["explode"]));
    assert!(page["next_cursor"].is_null());
    let id = entry["id"].as_i64().unwrap();

    let for_task = api.get(&format!("/v1/dlq/task/{uuid}")).await.expect(200).clone();
    assert_eq!(for_task.as_array().unwrap().len(), 1);
    let none = api.get(&format!("/v1/dlq/task/{}", ok["task_uuid"].as_str().unwrap())).await.expect(200).clone();
    assert_eq!(none, json!([]));

    let stats = api.get("/v1/dlq/stats").await.expect(200).clone();
    assert_eq!(stats["total"], 1);
    assert!(stats["oldest_open_age_seconds"].as_f64().is_some(), "{stats}");

    let r = api
        .patch(
            &format!("/v1/dlq/entry/{id}"),
            &json!({"resolution_status": "investigating", "resolution_notes": "looking", "resolved_by": "ops"}),
        )
        .await;
    let updated = r.expect(200);
    assert_eq!(updated["resolution_status"], "investigating");
    assert!(updated["resolution_notes"].as_str().unwrap().contains("looking"));
    let filtered = api.get("/v1/dlq?resolution_status=investigating&namespace=demo").await.expect(200).clone();
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);
    let stats = api.get("/v1/dlq/stats").await.expect(200).clone();
    assert_eq!(stats["by_status"], json!([{"resolution_status": "investigating", "count": 1}]));

    // Errors.
    api.patch(&format!("/v1/dlq/entry/{id}"), &json!({"resolution_status": "lost"})).await.problem(422);
    api.patch(&format!("/v1/dlq/entry/{id}"), &json!({})).await.problem(422);
    api.patch(&format!("/v1/dlq/entry/{id}"), &json!({"colour": "red"})).await.problem(422);
    api.patch("/v1/dlq/entry/999999", &json!({"resolution_notes": "x"})).await.problem(404);
    api.patch("/v1/dlq/entry/abc", &json!({"resolution_notes": "x"})).await.problem(400);
    api.get("/v1/dlq?resolution_status=lost").await.problem(422);
    api.get("/v1/dlq?cursor=abc").await.problem(422);
    api.get(&format!("/v1/dlq/task/{}", uuid::Uuid::now_v7())).await.problem(404);
    api.get("/v1/dlq/task/nope").await.problem(400);
}

#[tokio::test]
async fn dlq_pages_follow_the_cursor() {
    let api = Api::start(WITH_WORKER).await;
    let mut uuids = Vec::new();
    for _ in 0..3 {
        uuids.push(api.create("doomed", json!({})).await["task_uuid"].as_str().unwrap().to_string());
    }
    for u in &uuids {
        api.wait_for_state(u, "error").await;
    }
    let first = api.get("/v1/dlq?limit=2").await.expect(200).clone();
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = api.get(&format!("/v1/dlq?limit=2&cursor={cursor}")).await.expect(200).clone();
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert!(second["next_cursor"].is_null());
}

#[tokio::test]
async fn dlq_list_entries_omit_the_task_snapshot() {
    let api = Api::start(WITH_WORKER).await;
    let doomed = api.create("doomed", json!({})).await;
    let uuid = doomed["task_uuid"].as_str().unwrap();
    api.wait_for_state(uuid, "error").await;

    let page = api.get("/v1/dlq").await.expect(200).clone();
    let entry = &page["items"][0];
    assert_eq!(entry["failed_steps"], json!(["explode"]));
    assert!(entry.get("snapshot").is_none(), "a list entry embeds the task snapshot");
    // The entries of one task keep it.
    let for_task = api.get(&format!("/v1/dlq/task/{uuid}")).await.expect(200).clone();
    assert!(for_task[0]["snapshot"]["steps"].is_array(), "{for_task}");
}
