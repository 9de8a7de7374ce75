//! Clients over a test server, with an optional API key, and waiting helpers.

use std::time::{Duration, Instant};

use serde_json::Value;
use tasker_orchestration::api::grpc::convert::{from_pvalue, to_struct};
use tasker_orchestration::api::grpc::proto::analytics_service_client::AnalyticsServiceClient;
use tasker_orchestration::api::grpc::proto::dlq_service_client::DlqServiceClient;
use tasker_orchestration::api::grpc::proto::health_service_client::HealthServiceClient;
use tasker_orchestration::api::grpc::proto::retry_service_client::RetryServiceClient;
use tasker_orchestration::api::grpc::proto::step_service_client::StepServiceClient;
use tasker_orchestration::api::grpc::proto::task_service_client::TaskServiceClient;
use tasker_orchestration::api::grpc::proto::template_service_client::TemplateServiceClient;
use tasker_orchestration::api::grpc::proto::{CreateTaskRequest, GetTaskRequest, Task};
use tasker_orchestration::testing::{start_server, TestServer};
use tonic::metadata::{AsciiMetadataValue, MetadataKey};
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

/// Overrides that run the built-in handlers in the server, so tasks make progress.
pub const WITH_WORKER: &[(&str, &str)] =
    &[("TASKER__WORKER__EMBEDDED", "true"), ("TASKER__WORKER__POLL_INTERVAL_MS", "100")];

/// Overrides that turn auth on with a reader and an admin key.
pub const WITH_AUTH: &[(&str, &str)] = &[
    ("TASKER__AUTH__ENABLED", "true"),
    (
        "TASKER__AUTH__API_KEYS",
        r#"[{name="reader",key="reader-key-123",permissions=["tasks:read"]},{name="admin",key="admin-key-123",permissions=["*"]}]"#,
    ),
];

/// How long a test waits for the engine.
pub const WAIT: Duration = Duration::from_secs(30);

/// Adds an API key to every call, as `x-api-key` or `authorization: Bearer`.
#[derive(Clone, Default)]
pub struct Key {
    header: Option<(MetadataKey<tonic::metadata::Ascii>, AsciiMetadataValue)>,
}

impl Key {
    /// No key.
    pub fn none() -> Key {
        Key::default()
    }

    /// `x-api-key: key`.
    pub fn api_key(key: &str) -> Key {
        Key { header: Some((MetadataKey::from_static("x-api-key"), key.parse().expect("ascii key"))) }
    }

    /// `authorization: Bearer key`.
    pub fn bearer(key: &str) -> Key {
        Key {
            header: Some((MetadataKey::from_static("authorization"), format!("Bearer {key}").parse().expect("ascii"))),
        }
    }
}

impl Interceptor for Key {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some((k, v)) = &self.header {
            request.metadata_mut().insert(k.clone(), v.clone());
        }
        Ok(request)
    }
}

/// A channel with a key.
pub type Ch = InterceptedService<Channel, Key>;

/// A test server and clients for it (without a key; see [`Grpc::keyed`]).
pub struct Grpc {
    pub ts: TestServer,
    pub clients: Clients,
}

impl std::ops::Deref for Grpc {
    type Target = Clients;
    fn deref(&self) -> &Clients {
        &self.clients
    }
}

impl Grpc {
    /// Starts a server with `overrides` and connects.
    pub async fn start(overrides: &[(&str, &str)]) -> Grpc {
        let ts = start_server(overrides).await;
        let channel = connect(&ts).await;
        Grpc { ts, clients: Clients { channel, key: Key::none() } }
    }

    /// Clients of this server sending `key`.
    pub fn keyed(&self, key: Key) -> Clients {
        Clients { channel: self.clients.channel.clone(), key }
    }
}

/// Clients of every service over one channel, with one key.
#[derive(Clone)]
pub struct Clients {
    pub channel: Channel,
    pub key: Key,
}

impl Clients {
    pub fn tasks(&self) -> TaskServiceClient<Ch> {
        TaskServiceClient::with_interceptor(self.channel.clone(), self.key.clone())
    }
    pub fn steps(&self) -> StepServiceClient<Ch> {
        StepServiceClient::with_interceptor(self.channel.clone(), self.key.clone())
    }
    pub fn retries(&self) -> RetryServiceClient<Ch> {
        RetryServiceClient::with_interceptor(self.channel.clone(), self.key.clone())
    }
    pub fn templates(&self) -> TemplateServiceClient<Ch> {
        TemplateServiceClient::with_interceptor(self.channel.clone(), self.key.clone())
    }
    pub fn analytics(&self) -> AnalyticsServiceClient<Ch> {
        AnalyticsServiceClient::with_interceptor(self.channel.clone(), self.key.clone())
    }
    pub fn dlq(&self) -> DlqServiceClient<Ch> {
        DlqServiceClient::with_interceptor(self.channel.clone(), self.key.clone())
    }
    pub fn health(&self) -> HealthServiceClient<Ch> {
        HealthServiceClient::with_interceptor(self.channel.clone(), self.key.clone())
    }

    /// Creates a task of `namespace/name` with `context`.
    pub async fn create(&self, namespace: &str, name: &str, context: Value) -> Task {
        let req = CreateTaskRequest {
            namespace: namespace.into(),
            name: name.into(),
            context: to_struct(context),
            ..Default::default()
        };
        self.tasks().create_task(req).await.expect("create task").into_inner()
    }

    /// Waits until the task is in `want`.
    pub async fn wait_for(&self, task_uuid: &str, want: &str) -> Task {
        let started = Instant::now();
        loop {
            let t = self
                .tasks()
                .get_task(GetTaskRequest { task_uuid: task_uuid.into() })
                .await
                .expect("get task")
                .into_inner();
            if t.state == want {
                return t;
            }
            assert!(started.elapsed() < WAIT, "task {task_uuid} is {}, not {want}, after {WAIT:?}", t.state);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Connects to the server's gRPC port.
pub async fn connect(ts: &TestServer) -> Channel {
    tonic::transport::Endpoint::from_shared(ts.grpc_url()).expect("grpc url").connect().await.expect("connect gRPC")
}

/// Asserts a call failed with `code`, and returns the status.
#[track_caller]
pub fn expect_code<T: std::fmt::Debug>(r: Result<T, Status>, code: Code) -> Status {
    match r {
        Ok(v) => panic!("expected {code:?}, got OK: {v:?}"),
        Err(s) => {
            assert_eq!(s.code(), code, "message: {}", s.message());
            assert!(!s.message().is_empty(), "a status carries a message");
            s
        }
    }
}

/// A protobuf value as JSON (null when absent).
pub fn json(v: Option<prost_types::Value>) -> Value {
    v.map(from_pvalue).unwrap_or(Value::Null)
}
