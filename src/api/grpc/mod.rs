//! The gRPC API (tonic): `tasker.v1` services -> service layer, plus the standard
//! `grpc.health.v1.Health` service and server reflection (v1 and v1alpha).
//!
//! Like REST, every RPC is a translation to one [`Service`] call: requests are checked and
//! converted in [`convert`], the permission is checked against the same API keys as REST
//! ([`auth`]), and a [`crate::service::ServiceError`] becomes a [`tonic::Status`] in one place
//! ([`status`]). `HealthService`, `grpc.health.v1.Health` and reflection need no key.
//!
//! | file | services |
//! |---|---|
//! | `tasks.rs` | `TaskService` (its `StreamTaskStatus` lives in `stream.rs`) |
//! | `steps.rs` | `StepService`, `RetryService` |
//! | `templates.rs` | `TemplateService` |
//! | `analytics.rs` | `AnalyticsService` |
//! | `dlq.rs` | `DlqService` |
//! | `health.rs` | `HealthService` and the `grpc.health.v1` status updater |

mod analytics;
pub mod auth;
pub mod convert;
mod dlq;
mod health;
pub mod status;
mod steps;
mod stream;
mod tasks;
mod templates;

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

use super::auth::Auth;
use crate::service::Service;

pub use health::{health_service, spawn_health_updater, HEALTH_CHECK_INTERVAL};

/// The code generated from `proto/tasker/v1/*.proto`: messages, server traits and clients
/// (`proto::task_service_client::TaskServiceClient` and so on).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("tasker.v1");
}

/// The encoded `FileDescriptorSet` of `proto/tasker/v1` (with the well-known types it imports),
/// served by reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("tasker_descriptor");

/// The fully qualified names of the `tasker.v1` services.
pub const SERVICE_NAMES: &[&str] = &[
    "tasker.v1.TaskService",
    "tasker.v1.StepService",
    "tasker.v1.RetryService",
    "tasker.v1.TemplateService",
    "tasker.v1.AnalyticsService",
    "tasker.v1.DlqService",
    "tasker.v1.HealthService",
];

/// What every gRPC service can reach.
#[derive(Clone)]
pub struct GrpcState {
    /// The service layer.
    pub service: Service,
    /// API keys (shared with REST).
    pub auth: Arc<Auth>,
    /// Permits for `StreamTaskStatus`: one per open stream.
    pub streams: Arc<Semaphore>,
    /// The number of permits `streams` started with.
    pub max_streams: usize,
    /// Cancelled when the server shuts down: open streams end with UNAVAILABLE.
    pub shutdown: CancellationToken,
    /// `CheckDetailedHealth` without a key (`[orchestration.web] public_health_details`, shared
    /// with REST's `/health/detailed` so neither door leaks what the other guards).
    pub public_health_details: bool,
}

impl GrpcState {
    /// State for a server allowing `max_streams` concurrent `StreamTaskStatus` calls.
    pub fn new(service: Service, auth: Arc<Auth>, max_streams: usize, shutdown: CancellationToken) -> Self {
        Self {
            service,
            auth,
            streams: Arc::new(Semaphore::new(max_streams)),
            max_streams,
            shutdown,
            public_health_details: true,
        }
    }

    /// Whether `CheckDetailedHealth` is served without a key (else any valid key is needed when
    /// auth is on).
    pub fn with_public_health_details(mut self, public: bool) -> Self {
        self.public_health_details = public;
        self
    }
}

/// Limits applied to every service.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest message decoded or encoded.
    pub max_message_bytes: usize,
}

/// Why the routes could not be built.
#[derive(Debug, thiserror::Error)]
#[error("building gRPC reflection: {0}")]
pub struct RoutesError(#[from] tonic_reflection::server::Error);

/// Every service: the `tasker.v1` ones, `grpc.health.v1.Health` (fed by `health`, see
/// [`spawn_health_updater`]) and reflection v1 and v1alpha. A pure constructor.
pub fn routes(
    state: GrpcState,
    limits: Limits,
    health: tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
) -> Result<Routes, RoutesError> {
    use proto::{
        analytics_service_server::AnalyticsServiceServer, dlq_service_server::DlqServiceServer,
        health_service_server::HealthServiceServer, retry_service_server::RetryServiceServer,
        step_service_server::StepServiceServer, task_service_server::TaskServiceServer,
        template_service_server::TemplateServiceServer,
    };
    let n = limits.max_message_bytes;
    macro_rules! limited {
        ($server:ident, $svc:expr) => {
            $server::new($svc).max_decoding_message_size(n).max_encoding_message_size(n)
        };
    }
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    Ok(Routes::new(limited!(TaskServiceServer, tasks::Tasks(state.clone())))
        .add_service(limited!(StepServiceServer, steps::Steps(state.clone())))
        .add_service(limited!(RetryServiceServer, steps::Retries(state.clone())))
        .add_service(limited!(TemplateServiceServer, templates::Templates(state.clone())))
        .add_service(limited!(AnalyticsServiceServer, analytics::Analytics(state.clone())))
        .add_service(limited!(DlqServiceServer, dlq::Dlq(state.clone())))
        .add_service(limited!(HealthServiceServer, health::Health(state)))
        .add_service(health)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?))
}
