//! Every page and action through HTTP: status, security headers, permissions, CSRF.

use reqwest::Method;
use serde_json::Value;

use crate::support::{Ui, ADMIN_KEY, READER_KEY, WITH_WORKER};

#[track_caller]
fn assert_html_page(p: &crate::support::Page) {
    assert!(p.header("content-type").starts_with("text/html"), "content-type {}", p.header("content-type"));
    let csp = p.header("content-security-policy");
    assert!(csp.contains("default-src 'self'") && csp.contains("script-src 'self'"), "CSP: {csp}");
    assert!(!p.text.contains("http://") || !p.text.contains("<script src=\"http"), "no external script");
    assert!(!p.text.contains("https://"), "a page names another origin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_in_development_with_no_login() {
    let mut ui = Ui::start(WITH_WORKER).await;
    let task = ui.create("orders", "order_fulfillment").await;
    ui.wait_for_state(&task, "complete").await;
    let step = ui.step_uuid(&task, "ship_order").await;
    for path in [
        "/ui".to_string(),
        "/ui/tasks".into(),
        "/ui/tasks?namespace=orders&state=complete&created_after=2020-01-01T00:00".into(),
        format!("/ui/tasks/{task}"),
        format!("/ui/tasks/{task}?step={step}"),
        "/ui/dlq".into(),
        "/ui/templates".into(),
        "/ui/templates/orders/order_fulfillment/1.0.0".into(),
        "/ui/retries".into(),
        "/ui/retries?namespace=demo&preview=1".into(),
        format!("/ui/tasks/{task}/cancel"),
        format!("/ui/tasks/{task}/steps/{step}/action?action=resolve_manually"),
    ] {
        let p = ui.get(&path).await;
        p.expect(200);
        assert_html_page(&p);
    }
    let p = ui.get(&format!("/ui/tasks/{task}")).await;
    assert_eq!(p.text.matches("class=\"node state-complete").count(), 5, "five complete nodes");
    assert!(p.text.contains("data-live=\"/ui/tasks/"), "the task page follows its task live");
    let p = ui.get(&format!("/ui/tasks/{task}?step={step}")).await;
    assert!(p.text.contains("State history") && p.text.contains("Inputs"), "the step's details are shown");
    for (path, ct) in [("/ui/assets/ui-v1.css", "text/css"), ("/ui/assets/live-v1.js", "text/javascript")] {
        let p = ui.get(path).await;
        p.expect(200);
        assert!(p.header("content-type").starts_with(ct));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_paths_and_unknown_objects_are_html_error_pages() {
    let mut ui = Ui::start(&[]).await;
    let unknown = "01890000-0000-7000-8000-000000000000";
    for (path, status) in [
        ("/ui/tasks/not-a-uuid".to_string(), 400),
        (format!("/ui/tasks/{unknown}"), 404),
        ("/ui/no-such-page".into(), 404),
        ("/ui/templates/demo/nope/1.0.0".into(), 404),
        ("/ui/tasks?state=sleeping".into(), 422),
        ("/ui/tasks?created_after=yesterday".into(), 400),
        ("/ui/dlq/abc".into(), 400),
    ] {
        let p = ui.get(&path).await;
        p.expect(status);
        assert_html_page(&p);
    }
    // REST keeps its JSON problems.
    let p = ui.get("/v1/nope").await;
    p.expect(404);
    assert!(p.header("content-type").starts_with("application/problem+json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_without_a_valid_csrf_token_is_refused_and_with_one_the_task_is_cancelled() {
    let mut ui = Ui::start(&[]).await;
    let task = ui.create("demo", "linear").await;
    // No session at all.
    ui.post(&format!("/ui/tasks/{task}/cancel"), &[("reason", "x")]).await.expect(403);
    let form = ui.get(&format!("/ui/tasks/{task}/cancel")).await;
    let token = form.csrf();
    ui.post(&format!("/ui/tasks/{task}/cancel"), &[("csrf", "0".repeat(64).as_str())]).await.expect(403);
    ui.post(&format!("/ui/tasks/{task}/cancel"), &[("csrf", "")]).await.expect(403);
    let t = ui.rest(Method::GET, &format!("/v1/tasks/{task}"), None).await;
    assert_ne!(t["state"], "cancelled", "a refused POST changed nothing");
    let done = ui.post(&format!("/ui/tasks/{task}/cancel"), &[("csrf", token.as_str()), ("reason", "by hand")]).await;
    done.expect(303);
    assert!(done.header("location").starts_with(&format!("/ui/tasks/{task}?notice=")));
    ui.wait_for_state(&task, "cancelled").await;
    // Cancelling again: the state does not allow it, shown as a 409 page.
    ui.post(&format!("/ui/tasks/{task}/cancel"), &[("csrf", token.as_str())]).await;
    let page = ui.get(&format!("/ui/tasks/{task}")).await;
    assert!(!page.text.contains("Cancel this task"), "no cancel button on a final task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_asks_for_a_key_once_and_keeps_it_in_a_strict_http_only_cookie() {
    let mut ui = Ui::production(&[]).await;
    let p = ui.get("/ui").await;
    p.expect(303);
    assert_eq!(p.header("location"), "/ui/login");
    ui.get("/ui/tasks").await.expect(303);
    let login = ui.get("/ui/login").await;
    login.expect(200);
    assert!(login.text.contains("type=\"password\""));
    ui.post("/ui/login", &[("api_key", "wrong-key-123456")]).await.expect(401);
    assert!(ui.cookie.is_none());
    let ok = ui.post("/ui/login", &[("api_key", ADMIN_KEY)]).await;
    ok.expect(303);
    let set = ok.header("set-cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(set.contains(attr), "cookie lacks {attr}: {set}");
    }
    assert!(!set.contains(ADMIN_KEY), "the key is not stored in clear text");
    ui.get("/ui").await.expect(200);
    ui.get("/ui/dlq").await.expect(200);
    // Log out (a CSRF-checked POST): the cookie is cleared and pages ask again.
    let token = ui.get("/ui").await.csrf();
    ui.post("/ui/logout", &[]).await.expect(403);
    let out = ui.post("/ui/logout", &[("csrf", token.as_str())]).await;
    out.expect(303);
    assert!(out.header("set-cookie").contains("Max-Age=0"));
    ui.get("/ui").await.expect(303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_page_and_action_needs_the_permission_of_its_rest_route() {
    let mut ui = Ui::production(&[]).await;
    let task = ui.create("demo", "linear").await;
    ui.login(READER_KEY).await;
    ui.get("/ui/tasks").await.expect(200);
    ui.get(&format!("/ui/tasks/{task}")).await.expect(200);
    let overview = ui.get("/ui").await;
    overview.expect(200);
    assert!(overview.text.contains("analytics:read"), "panels the key may not see say so");
    ui.get("/ui/dlq").await.expect(403);
    ui.get("/ui/templates").await.expect(403);
    ui.get("/ui/retries").await.expect(403);
    ui.get(&format!("/ui/tasks/{task}/cancel")).await.expect(403);
    let page = ui.get(&format!("/ui/tasks/{task}")).await;
    assert!(!page.text.contains("Cancel this task"), "no button for an action the key lacks");
    let token = page.csrf();
    ui.post(&format!("/ui/tasks/{task}/cancel"), &[("csrf", token.as_str())]).await.expect(403);
    let step = ui.step_uuid(&task, "step_01").await;
    let act = format!("/ui/tasks/{task}/steps/{step}/action");
    ui.post(&act, &[("csrf", token.as_str()), ("action", "resolve_manually")]).await.expect(403);
    ui.post("/ui/dlq/1", &[("csrf", token.as_str()), ("resolution_status", "resolved")]).await.expect(403);
    ui.post("/ui/retries", &[("csrf", token.as_str())]).await.expect(403);
    let t = ui.rest(Method::GET, &format!("/v1/tasks/{task}"), None).await;
    assert_ne!(t["state"], "cancelled");
}

/// A doomed task: `explode` fails for good, the task ends in error with a DLQ entry.
async fn doomed(ui: &Ui) -> (String, String) {
    let task = ui.create("demo", "doomed").await;
    ui.wait_for_state(&task, "error").await;
    let step = ui.step_uuid(&task, "explode").await;
    (task, step)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_actions_reset_resolve_and_complete_behind_a_confirmation() {
    let mut ui = Ui::start(&[]).await;
    // No worker: the first step of a linear task stays enqueued and can be completed by hand.
    let task = ui.create("demo", "linear").await;
    let first = ui.step_uuid(&task, "step_01").await;
    let act = format!("/ui/tasks/{task}/steps/{first}/action");
    let confirm = ui.get(&format!("{act}?action=complete_manually")).await;
    confirm.expect(200);
    assert!(confirm.text.contains("name=\"result\""), "complete asks for a result");
    let token = confirm.csrf();
    ui.get(&format!("{act}?action=explode")).await.expect(400);
    let bad = ui.post(&act, &[("csrf", &token), ("action", "complete_manually"), ("result", "{not json")]).await;
    bad.expect(422);
    let done = ui
        .post(
            &act,
            &[("csrf", &token), ("action", "complete_manually"), ("result", r#"{"ok": true}"#), ("reason", "t")],
        )
        .await;
    done.expect(303);
    let s = ui.rest(Method::GET, &format!("/v1/tasks/{task}/workflow_steps/{first}"), None).await;
    assert_eq!(s["state"], "complete");
    assert_eq!(s["results"], serde_json::json!({"ok": true}));
    // An action the step's state does not allow is a 409 page.
    ui.post(&act, &[("csrf", &token), ("action", "reset_for_retry")]).await.expect(409);
    let second = ui.step_uuid(&task, "step_02").await;
    let act2 = format!("/ui/tasks/{task}/steps/{second}/action");
    ui.post(&act2, &[("csrf", &token), ("action", "resolve_manually"), ("reason", "skip")]).await.expect(303);
    let s = ui.rest(Method::GET, &format!("/v1/tasks/{task}/workflow_steps/{second}"), None).await;
    assert_eq!(s["state"], "resolved_manually");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_step_is_retried_from_its_page() {
    let mut ui = Ui::start(WITH_WORKER).await;
    let (task, step) = doomed(&ui).await;
    let page = ui.get(&format!("/ui/tasks/{task}?step={step}")).await;
    assert!(page.text.contains("Retry this step"), "a failed step offers a retry");
    let act = format!("/ui/tasks/{task}/steps/{step}/action");
    let confirm = ui.get(&format!("{act}?action=reset_for_retry")).await;
    confirm.expect(200);
    let token = confirm.csrf();
    ui.post(&act, &[("csrf", &token), ("action", "reset_for_retry")]).await.expect(303);
    let history = ui.rest(Method::GET, &format!("/v1/tasks/{task}/workflow_steps/{step}/transitions"), None).await;
    assert!(
        history.as_array().is_some_and(|h| h.iter().any(|t| t["event"].as_str().is_some_and(|e| e.contains("reset")))),
        "the reset is in the step's history: {history}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_retry_shows_the_dry_run_first_then_resets_on_confirmation() {
    let mut ui = Ui::start(WITH_WORKER).await;
    let (task, step) = doomed(&ui).await;
    let preview = ui.get(&format!("/ui/retries?task_uuid={task}&preview=1")).await;
    preview.expect(200);
    assert!(preview.text.contains("Dry run: 1 step would be retried"), "{}", preview.text);
    let s = ui.rest(Method::GET, &format!("/v1/tasks/{task}/workflow_steps/{step}"), None).await;
    assert_eq!(s["state"], "error", "the dry run changed nothing");
    let token = preview.csrf();
    ui.post("/ui/retries", &[("task_uuid", task.as_str())]).await.expect(403);
    let done = ui.post("/ui/retries", &[("csrf", token.as_str()), ("task_uuid", task.as_str())]).await;
    done.expect(303);
    assert!(done.header("location").contains("1%20step%20reset"), "{}", done.header("location"));
    ui.get("/ui/retries?task_uuid=nope&preview=1").await.expect(400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dlq_entry_is_updated_from_its_form() {
    let mut ui = Ui::start(WITH_WORKER).await;
    let (task, _) = doomed(&ui).await;
    let entries = ui.rest(Method::GET, &format!("/v1/dlq/task/{task}"), None).await;
    let id = entries[0]["id"].as_i64().expect("a DLQ entry");
    let list = ui.get("/ui/dlq?resolution_status=pending").await;
    list.expect(200);
    assert!(list.text.contains(&format!("/ui/dlq/{id}")));
    let form = ui.get(&format!("/ui/dlq/{id}")).await;
    let token = form.csrf();
    ui.post(&format!("/ui/dlq/{id}"), &[("csrf", token.as_str())]).await.expect(422);
    ui.post(&format!("/ui/dlq/{id}"), &[("csrf", "bad"), ("resolution_status", "resolved")]).await.expect(403);
    let done = ui
        .post(
            &format!("/ui/dlq/{id}"),
            &[("csrf", token.as_str()), ("resolution_status", "investigating"), ("resolution_notes", "looking")],
        )
        .await;
    done.expect(303);
    let entries: Value = ui.rest(Method::GET, &format!("/v1/dlq/task/{task}"), None).await;
    assert_eq!(entries[0]["resolution_status"], "investigating");
    ui.post("/ui/dlq/999999", &[("csrf", token.as_str()), ("resolution_status", "resolved")]).await.expect(404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_task_event_stream_reports_a_change_pushed_by_the_notification_hub() {
    let ui = Ui::start(&[]).await;
    let task = ui.create("demo", "linear").await;
    let client = reqwest::Client::new();
    let mut resp = client.get(format!("{}/ui/tasks/{task}/events", ui.base)).send().await.expect("events");
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap_or("").starts_with("text/event-stream"));
    ui.rest(Method::DELETE, &format!("/v1/tasks/{task}"), None).await;
    let mut seen = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !seen.contains("data: cancelled") {
        assert!(std::time::Instant::now() < deadline, "no change event: {seen}");
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(20), resp.chunk()).await;
        match chunk {
            Ok(Ok(Some(bytes))) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            other => panic!("stream ended or failed: {other:?}; seen {seen}"),
        }
    }
    assert!(seen.contains("event: change"), "{seen}");
    let unknown = client
        .get(format!("{}/ui/tasks/01890000-0000-7000-8000-000000000000/events", ui.base))
        .send()
        .await
        .expect("events");
    assert_eq!(unknown.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_stream_opens_for_a_session_and_sends_others_to_the_login_page() {
    let mut ui = Ui::production(&[]).await;
    ui.get("/ui/events").await.expect(303);
    ui.login(READER_KEY).await;
    let client = reqwest::Client::new();
    let cookie = format!("tasker_ui={}", ui.cookie.clone().expect("a session"));
    let resp = client.get(format!("{}/ui/events", ui.base)).header("cookie", cookie).send().await.expect("events");
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap_or("").starts_with("text/event-stream"));
    assert!(resp.headers()["content-security-policy"].to_str().unwrap_or("").contains("default-src 'self'"));
}
