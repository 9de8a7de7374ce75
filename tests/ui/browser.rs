//! The dashboard in a real headless Chromium: the DAG as the browser sees it, live updates
//! without a reload, and a screenshot of each page under `target/ui-screenshots/`.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::cdp::{chromium, dump_dom, screenshot, Browser};
use crate::support::{Ui, WITH_WORKER};

/// `data-state` of every DAG node in a dumped DOM.
fn node_states(dom: &str) -> Vec<String> {
    dom.match_indices("<g class=\"node state-")
        .filter_map(|(at, _)| {
            let rest = &dom[at..];
            let tag = &rest[..rest.find('>')?];
            let v = tag.split("data-state=\"").nth(1)?;
            Some(v[..v.find('"')?].to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_order_fulfillment_shows_five_svg_nodes_with_their_states() {
    let Some(chromium) = chromium() else { return };
    let ui = Ui::start(WITH_WORKER).await;
    let task = ui.create("orders", "order_fulfillment").await;
    ui.wait_for_state(&task, "complete").await;
    let url = format!("{}/ui/tasks/{task}", ui.base);
    let dom = dump_dom(&chromium, &url).await;
    assert!(dom.contains("<svg"), "no SVG in the page");
    let states = node_states(&dom);
    assert_eq!(states, vec!["complete"; 5], "nodes: {states:?}");
    for step in ["validate_order", "reserve_inventory", "charge_payment", "ship_order", "notify_customer"] {
        assert!(dom.contains(&format!("data-step=\"{step}\"")), "no node for {step}");
    }
    // The state is written as text in each node, not shown by colour alone.
    assert!(dom.matches("class=\"node-state\">complete</text>").count() == 5);
    screenshot(&chromium, &url, "task-order-fulfillment", 1000).await;
    let step = ui.step_uuid(&task, "charge_payment").await;
    screenshot(&chromium, &format!("{url}?step={step}"), "task-step-detail", 1600).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fan_out_task_renders_102_nodes() {
    let Some(chromium) = chromium() else { return };
    let ui = Ui::start(WITH_WORKER).await;
    let task = ui.create("demo", "fan_out").await;
    ui.wait_for_state(&task, "complete").await;
    let url = format!("{}/ui/tasks/{task}", ui.base);
    let dom = dump_dom(&chromium, &url).await;
    let states = node_states(&dom);
    assert_eq!(states.len(), 102, "nodes: {}", states.len());
    assert!(states.iter().all(|s| s == "complete"));
    assert_eq!(dom.matches("class=\"edge\"").count(), 200, "100 edges out of split, 100 into the join");
    screenshot(&chromium, &url, "task-fan-out", 1400).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_task_page_changes_state_without_a_reload() {
    let Some(chromium) = chromium() else { return };
    // No worker: the task stays in progress until the test cancels it.
    let ui = Ui::start(&[]).await;
    let task = ui.create("orders", "order_fulfillment").await;
    let mut b = Browser::launch(&chromium).await;
    b.call("Page.enable", json!({})).await;
    b.call("Page.navigate", json!({"url": format!("{}/ui/tasks/{task}", ui.base)})).await;
    let state = "document.getElementById('task-state') && document.getElementById('task-state').dataset.state";
    b.wait_for(state, &json!("steps_in_process"), Duration::from_secs(30)).await;
    b.wait_for("document.body.dataset.liveStatus", &json!("open"), Duration::from_secs(30)).await;
    // A mark that a reload would erase.
    b.eval("window.__notReloaded = 'yes'").await;
    ui.rest(Method::DELETE, &format!("/v1/tasks/{task}"), None).await;
    b.wait_for(state, &json!("cancelled"), Duration::from_secs(30)).await;
    assert_eq!(b.eval("window.__notReloaded").await, json!("yes"), "the page was reloaded");
    let cancelled = b.eval("document.querySelectorAll('g.node.state-cancelled').length").await;
    assert!(cancelled.as_u64().is_some_and(|n| n >= 1), "the DAG shows cancelled steps: {cancelled}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_gets_a_screenshot() {
    let Some(chromium) = chromium() else { return };
    let ui = Ui::start(WITH_WORKER).await;
    for name in ["diamond", "linear", "doomed"] {
        ui.create("demo", name).await;
    }
    let task = ui.create("orders", "order_fulfillment").await;
    ui.wait_for_state(&task, "complete").await;
    let doomed = ui.create("demo", "doomed").await;
    ui.wait_for_state(&doomed, "error").await;
    for (path, name) in [
        ("/ui".to_string(), "overview"),
        ("/ui/tasks".into(), "tasks"),
        ("/ui/dlq".into(), "dlq"),
        ("/ui/templates".into(), "templates"),
        ("/ui/templates/orders/order_fulfillment/1.0.0".into(), "template"),
        (format!("/ui/retries?task_uuid={doomed}&preview=1"), "batch-retry"),
        (format!("/ui/tasks/{doomed}"), "task-doomed"),
    ] {
        screenshot(&chromium, &format!("{}{path}", ui.base), name, 1000).await;
    }
}
