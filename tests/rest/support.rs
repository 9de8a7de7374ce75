//! A small REST client over a test server, and problem assertions.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tasker_orchestration::testing::{start_server, TestServer};

/// Overrides that run the built-in handlers in the server, so tasks make progress.
pub const WITH_WORKER: &[(&str, &str)] =
    &[("TASKER__WORKER__EMBEDDED", "true"), ("TASKER__WORKER__POLL_INTERVAL_MS", "100")];

/// A test server and a client for it.
pub struct Api {
    pub ts: TestServer,
    pub client: reqwest::Client,
    pub base: String,
    pub key: Option<String>,
}

/// A response: status, headers and the body as JSON (`Null` when not JSON).
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    /// The header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, with the body in the message.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        &self.body
    }

    /// Asserts a JSON problem with this status and returns it.
    #[track_caller]
    pub fn problem(&self, status: u16) -> &Value {
        self.expect(status);
        assert_problem(self);
        &self.body
    }
}

/// Asserts the one problem shape: content type, type, title, status, detail, instance.
#[track_caller]
pub fn assert_problem(r: &Resp) {
    let ct = r.header("content-type").unwrap_or("");
    assert!(ct.starts_with("application/problem+json"), "content-type {ct}, body {}", r.text);
    let p = &r.body;
    assert!(p["type"].as_str().is_some_and(|t| t.starts_with("urn:tasker:problem:")), "{p}");
    assert!(p["title"].as_str().is_some_and(|t| !t.is_empty()), "{p}");
    assert_eq!(p["status"].as_u64(), Some(u64::from(r.status.as_u16())), "{p}");
    assert!(p["detail"].as_str().is_some_and(|t| !t.is_empty()), "{p}");
    assert!(p["instance"].as_str().is_some_and(|t| t.starts_with('/')), "{p}");
}

impl Api {
    /// Starts a server with `overrides`.
    pub async fn start(overrides: &[(&str, &str)]) -> Api {
        let ts = start_server(overrides).await;
        let base = ts.rest_url();
        Api { ts, client: reqwest::Client::new(), base, key: None }
    }

    /// Starts a server without a worker and with auth off.
    pub async fn plain() -> Api {
        Self::start(&[]).await
    }

    /// A request builder with the key, if any.
    pub fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let rb = self.client.request(method, format!("{}{path}", self.base));
        match &self.key {
            Some(k) => rb.header("X-API-Key", k),
            None => rb,
        }
    }

    /// Sends and collects the answer.
    pub async fn send(&self, rb: reqwest::RequestBuilder) -> Resp {
        let resp = rb.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, headers, body, text }
    }

    /// GET.
    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.req(Method::GET, path)).await
    }

    /// DELETE.
    pub async fn delete(&self, path: &str) -> Resp {
        self.send(self.req(Method::DELETE, path)).await
    }

    /// POST a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(self.req(Method::POST, path).json(body)).await
    }

    /// PATCH a JSON body.
    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.send(self.req(Method::PATCH, path).json(body)).await
    }

    /// POST a raw body with a content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: impl Into<reqwest::Body>) -> Resp {
        self.send(self.req(Method::POST, path).header("content-type", content_type).body(body)).await
    }

    /// Creates a task of `demo/<name>` and returns it.
    pub async fn create(&self, name: &str, extra: Value) -> Value {
        let mut body = json!({"namespace": "demo", "name": name, "context": {}});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        self.post("/v1/tasks", &body).await.expect(201).clone()
    }

    /// Polls the task until its state is `state` (panics after 20 s).
    pub async fn wait_for_state(&self, task_uuid: &str, state: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let r = self.get(&format!("/v1/tasks/{task_uuid}")).await;
            let task = r.expect(200).clone();
            if task["state"] == state {
                return task;
            }
            assert!(Instant::now() < deadline, "task {task_uuid} never reached {state}: {task}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The uuid of the named step of a task.
    pub async fn step_uuid(&self, task_uuid: &str, step_name: &str) -> String {
        let steps = self.get(&format!("/v1/tasks/{task_uuid}/workflow_steps")).await.expect(200).clone();
        steps
            .as_array()
            .and_then(|a| a.iter().find(|s| s["name"] == step_name))
            .and_then(|s| s["step_uuid"].as_str())
            .unwrap_or_else(|| panic!("no step {step_name} in {steps}"))
            .to_string()
    }
}
