//! `/v1/tasks/{uuid}/workflow_steps…` and `/v1/retries`.

use serde_json::json;

use crate::support::{Api, WITH_WORKER};

#[tokio::test]
async fn steps_are_listed_in_template_order_with_their_parents() {
    let api = Api::plain().await;
    let task = api.create("diamond", json!({})).await;
    let uuid = task["task_uuid"].as_str().unwrap();
    let steps = api.get(&format!("/v1/tasks/{uuid}/workflow_steps")).await.expect(200).clone();
    let names: Vec<&str> = steps.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["start", "left", "right", "finish"]);

    let finish = api.step_uuid(uuid, "finish").await;
    let step = api.get(&format!("/v1/tasks/{uuid}/workflow_steps/{finish}")).await.expect(200).clone();
    assert_eq!(step["depends_on"], json!(["left", "right"]));
    assert_eq!(step["parents_pending"], 2);
    assert_eq!(step["state"], "pending");
    assert!(step["results"].is_null() && step["last_error"].is_null());
}

#[tokio::test]
async fn step_errors_are_problems() {
    let api = Api::plain().await;
    let a = api.create("diamond", json!({})).await;
    let b = api.create("diamond", json!({})).await;
    let a_uuid = a["task_uuid"].as_str().unwrap();
    let b_start = api.step_uuid(b["task_uuid"].as_str().unwrap(), "start").await;
    let unknown = uuid::Uuid::now_v7();
    api.get(&format!("/v1/tasks/{unknown}/workflow_steps")).await.problem(404);
    api.get("/v1/tasks/zzz/workflow_steps").await.problem(400);
    // A step of another task is not found under this one.
    api.get(&format!("/v1/tasks/{a_uuid}/workflow_steps/{b_start}")).await.problem(404);
    api.get(&format!("/v1/tasks/{a_uuid}/workflow_steps/{unknown}")).await.problem(404);
    api.get(&format!("/v1/tasks/{a_uuid}/workflow_steps/nope")).await.problem(400);
    api.get(&format!("/v1/tasks/{a_uuid}/workflow_steps/{unknown}/transitions")).await.problem(404);
    api.patch(&format!("/v1/tasks/{a_uuid}/workflow_steps/{unknown}"), &json!({"action": "resolve_manually"}))
        .await
        .problem(404);

    let start = api.step_uuid(a_uuid, "start").await;
    let path = format!("/v1/tasks/{a_uuid}/workflow_steps/{start}");
    // Unknown action, unknown field, missing action: 422.
    api.patch(&path, &json!({"action": "explode"})).await.problem(422);
    api.patch(&path, &json!({"action": "resolve_manually", "colour": "red"})).await.problem(422);
    api.patch(&path, &json!({"reason": "x"})).await.problem(422);
    // A result only goes with complete_manually.
    api.patch(&path, &json!({"action": "resolve_manually", "result": {"x": 1}})).await.problem(422);
    // Resetting a step that has not failed: 409, the state machine refuses.
    let r = api.patch(&path, &json!({"action": "reset_for_retry", "reason": "why not"})).await;
    r.problem(409);
    // Malformed JSON: 400.
    api.post_raw("/v1/retries", "application/json", "{").await.problem(400);
}

#[tokio::test]
async fn complete_manually_completes_a_step_with_its_result_and_records_history() {
    let api = Api::plain().await;
    let task = api.create("diamond", json!({})).await;
    let uuid = task["task_uuid"].as_str().unwrap();
    let start = api.step_uuid(uuid, "start").await;
    let path = format!("/v1/tasks/{uuid}/workflow_steps/{start}");
    let r = api
        .patch(&path, &json!({"action": "complete_manually", "reason": "done by hand", "result": {"answer": 42}}))
        .await;
    let step = r.expect(200);
    assert_eq!(step["state"], "complete");
    assert_eq!(step["results"], json!({"answer": 42}));

    let history = api.get(&format!("{path}/transitions")).await.expect(200).clone();
    let h = history.as_array().unwrap();
    assert!(h.len() >= 2, "{history}");
    let last = h.last().unwrap();
    assert_eq!(last["to_state"], "complete");
    assert!(last["metadata"].to_string().contains("done by hand"), "{last}");
    assert!(h[0]["from_state"].is_null() || h[0]["from_state"].is_string());

    // Its children are no longer waiting for it.
    let left = api.step_uuid(uuid, "left").await;
    let left = api.get(&format!("/v1/tasks/{uuid}/workflow_steps/{left}")).await.expect(200).clone();
    assert_eq!(left["parents_pending"], 0);

    // resolve_manually on another step.
    let right = api.step_uuid(uuid, "right").await;
    let r =
        api.patch(&format!("/v1/tasks/{uuid}/workflow_steps/{right}"), &json!({"action": "resolve_manually"})).await;
    assert_eq!(r.expect(200)["state"], "resolved_manually");
}

#[tokio::test]
async fn reset_for_retry_puts_a_failed_step_back_to_pending() {
    let api = Api::start(WITH_WORKER).await;
    let task = api.create("doomed", json!({})).await;
    let uuid = task["task_uuid"].as_str().unwrap();
    api.wait_for_state(uuid, "error").await;
    let explode = api.step_uuid(uuid, "explode").await;
    let path = format!("/v1/tasks/{uuid}/workflow_steps/{explode}");
    let step = api.get(&path).await.expect(200).clone();
    assert_eq!(step["state"], "error");
    assert!(step["last_error"].to_string().contains("fails permanently"));
    let r = api.patch(&path, &json!({"action": "reset_for_retry", "reason": "try again"})).await;
    let after = r.expect(200);
    assert_ne!(after["state"], "error", "{after}");
    assert_eq!(after["attempts"], 0, "{after}");
    // The worker fails it again; resolving it lets the rest of the task run to the end.
    api.wait_for_state(uuid, "error").await;
    api.patch(&path, &json!({"action": "resolve_manually", "reason": "skip it"})).await.expect(200);
    api.wait_for_state(uuid, "complete").await;
}

#[tokio::test]
async fn batch_retry_dry_run_lists_and_real_run_resets() {
    let api = Api::start(WITH_WORKER).await;
    let doomed = api.create("doomed", json!({})).await;
    let uuid = doomed["task_uuid"].as_str().unwrap();
    api.wait_for_state(uuid, "error").await;

    let dry = api.post("/v1/retries", &json!({"namespace": "demo", "name": "doomed", "dry_run": true})).await;
    let dry = dry.expect(200).clone();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["count"], 1);
    assert_eq!(dry["steps"][0]["step_name"], "explode");
    assert_eq!(dry["steps"][0]["task_uuid"], uuid);
    // Nothing changed.
    assert_eq!(api.get(&format!("/v1/tasks/{uuid}")).await.expect(200)["state"], "error");

    // A filter that matches nothing.
    let none = api.post("/v1/retries", &json!({"namespace": "orders"})).await;
    assert_eq!(none.expect(200)["count"], 0);

    let real = api
        .post("/v1/retries", &json!({"task_uuids": [uuid], "error_contains": "PERMANENTLY", "reason": "batch"}))
        .await;
    let real = real.expect(200).clone();
    assert_eq!(real["dry_run"], false);
    assert_eq!(real["count"], 1);
    assert_eq!(real["steps"][0]["task_state_before"], "error");
    assert_ne!(real["steps"][0]["task_state_after"], "error");

    // Invalid filters.
    api.post("/v1/retries", &json!({"colour": "red"})).await.problem(422);
    api.post("/v1/retries", &json!({"task_uuids": ["nope"]})).await.problem(422);
    api.post("/v1/retries", &json!({"limit": -3})).await.problem(422);
}
