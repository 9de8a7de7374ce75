//! A browser-like client for the dashboard (a session cookie, forms, no redirects followed) and
//! a REST helper to arrange tasks.

use std::time::{Duration, Instant};

use reqwest::redirect::Policy;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tasker_orchestration::testing::{start_server, TestServer};

/// Overrides that run the built-in handlers in the server, so tasks make progress.
pub const WITH_WORKER: &[(&str, &str)] =
    &[("TASKER__WORKER__EMBEDDED", "true"), ("TASKER__WORKER__POLL_INTERVAL_MS", "100")];

/// An API key with every permission, for the production configuration.
pub const ADMIN_KEY: &str = "ui-admin-0123456789";
/// An API key that may read tasks and steps only.
pub const READER_KEY: &str = "ui-reader-0123456789";

/// The keys of [`production`].
pub fn keys_toml() -> String {
    format!(
        r#"[{{name="admin", key="{ADMIN_KEY}", permissions=["*"]}}, {{name="reader", key="{READER_KEY}", permissions=["tasks:read", "steps:read"]}}]"#
    )
}

/// A running server and a client that keeps the UI's cookie.
pub struct Ui {
    /// The server (kept alive while the client is).
    #[allow(dead_code)]
    pub ts: TestServer,
    pub base: String,
    client: reqwest::Client,
    /// The `tasker_ui` cookie, once the server set one.
    pub cookie: Option<String>,
}

/// An answer: status, headers, body text.
pub struct Page {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Page {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// Asserts the status, with the body in the message.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &str {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        &self.text
    }

    /// The CSRF token of the page's first form.
    #[track_caller]
    pub fn csrf(&self) -> String {
        let at = self.text.find("name=\"csrf\" value=\"").unwrap_or_else(|| panic!("no CSRF field in {}", self.text));
        let rest = &self.text[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').expect("end of the token")].to_string()
    }
}

impl Ui {
    /// A server with `overrides` (development-like: auth off unless overridden).
    pub async fn start(overrides: &[(&str, &str)]) -> Ui {
        let ts = start_server(overrides).await;
        let base = ts.rest_url();
        let client = reqwest::Client::builder().redirect(Policy::none()).build().expect("client");
        Ui { ts, base, client, cookie: None }
    }

    /// A server in the production configuration (auth on) with [`ADMIN_KEY`] and [`READER_KEY`].
    pub async fn production(extra: &[(&str, &str)]) -> Ui {
        let keys = keys_toml();
        let mut o = vec![("TASKER_ENV", "production"), ("TASKER__AUTH__API_KEYS", keys.as_str())];
        o.extend_from_slice(extra);
        Self::start(&o).await
    }

    async fn send(&mut self, rb: reqwest::RequestBuilder) -> Page {
        let rb = match &self.cookie {
            Some(c) => rb.header("cookie", format!("tasker_ui={c}")),
            None => rb,
        };
        let resp = rb.send().await.expect("request");
        for v in resp.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap_or("");
            if let Some(rest) = v.strip_prefix("tasker_ui=") {
                let value = rest.split(';').next().unwrap_or("");
                self.cookie = (!value.is_empty()).then(|| value.to_string());
            }
        }
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        Page { status, headers, text }
    }

    /// GET a UI path.
    pub async fn get(&mut self, path: &str) -> Page {
        let rb = self.client.get(format!("{}{path}", self.base));
        self.send(rb).await
    }

    /// POST a form to a UI path.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let rb = self.client.post(format!("{}{path}", self.base)).form(form);
        self.send(rb).await
    }

    /// Logs in with `key` (auth on).
    pub async fn login(&mut self, key: &str) {
        let p = self.post("/ui/login", &[("api_key", key)]).await;
        p.expect(303);
        assert!(self.cookie.is_some(), "no session cookie after login");
    }

    /// A REST call with the admin key (ignored when auth is off).
    pub async fn rest(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut rb = self.client.request(method, format!("{}{path}", self.base)).header("X-API-Key", ADMIN_KEY);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.expect("REST request");
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }

    /// Creates a task of `namespace/name`; returns its uuid.
    pub async fn create(&self, namespace: &str, name: &str) -> String {
        let context = if name == "order_fulfillment" {
            json!({"order_id": "A-1", "customer_email": "a@example.com", "items": [{"sku": "S-1", "quantity": 2}]})
        } else {
            json!({})
        };
        let t = self
            .rest(
                reqwest::Method::POST,
                "/v1/tasks",
                Some(json!({"namespace": namespace, "name": name, "context": context})),
            )
            .await;
        t["task_uuid"].as_str().expect("task uuid").to_string()
    }

    /// Waits until the task is in `state` (panics after 30 s).
    pub async fn wait_for_state(&self, task_uuid: &str, state: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let t = self.rest(reqwest::Method::GET, &format!("/v1/tasks/{task_uuid}"), None).await;
            if t["state"] == state {
                return t;
            }
            assert!(Instant::now() < deadline, "task {task_uuid} never reached {state}: {t}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The uuid of a task's step.
    pub async fn step_uuid(&self, task_uuid: &str, step: &str) -> String {
        let steps = self.rest(reqwest::Method::GET, &format!("/v1/tasks/{task_uuid}/workflow_steps"), None).await;
        steps
            .as_array()
            .and_then(|a| a.iter().find(|s| s["name"] == step))
            .and_then(|s| s["step_uuid"].as_str())
            .unwrap_or_else(|| panic!("no step {step} in {steps}"))
            .to_string()
    }
}
