//! `tasker.v1.HealthService` (public), and the task that keeps the standard
//! `grpc.health.v1.Health` statuses in step with the service's readiness.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use tonic_health::pb::health_server::HealthServer;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

use super::proto::health_service_server::HealthService;
use super::proto::{
    CheckDetailedHealthRequest, CheckHealthRequest, CheckLivenessRequest, CheckReadinessRequest, DetailedHealth,
    HealthReport,
};
use super::{GrpcState, SERVICE_NAMES};
use crate::service::Service;

/// How often the `grpc.health.v1` statuses are refreshed from readiness.
pub const HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// A readiness check slower than this counts as not ready.
const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// The `HealthService` implementation. Every call answers OK; the report says whether the
/// server is healthy.
pub(super) struct Health(pub(super) GrpcState);

#[tonic::async_trait]
impl HealthService for Health {
    async fn check_liveness(&self, _: Request<CheckLivenessRequest>) -> Result<Response<HealthReport>, Status> {
        Ok(Response::new(self.0.service.liveness().into()))
    }

    async fn check_readiness(&self, _: Request<CheckReadinessRequest>) -> Result<Response<HealthReport>, Status> {
        Ok(Response::new(self.0.service.readiness().await.into()))
    }

    async fn check_health(&self, _: Request<CheckHealthRequest>) -> Result<Response<HealthReport>, Status> {
        Ok(Response::new(self.0.service.readiness().await.into()))
    }

    async fn check_detailed_health(
        &self,
        request: Request<CheckDetailedHealthRequest>,
    ) -> Result<Response<DetailedHealth>, Status> {
        if !self.0.public_health_details {
            self.0.require_any_key(&request)?;
        }
        Ok(Response::new(self.0.service.detailed_health().await?.into()))
    }
}

/// Sets every service, the overall status (`""`) last: whoever sees it has the others too.
async fn set_all(reporter: &HealthReporter, status: ServingStatus) {
    for name in SERVICE_NAMES {
        reporter.set_service_status(name, status).await;
    }
    reporter.set_service_status("", status).await;
}

/// The standard `grpc.health.v1.Health` service and its reporter, with the overall status
/// (`""`) and every `tasker.v1` service registered as NOT_SERVING until the first readiness
/// check (see [`spawn_health_updater`]) says otherwise.
pub async fn health_service() -> (HealthReporter, HealthServer<impl tonic_health::pb::health_server::Health>) {
    let (reporter, server) = tonic_health::server::health_reporter();
    set_all(&reporter, ServingStatus::NotServing).await;
    (reporter, server)
}

/// Every [`HEALTH_CHECK_INTERVAL`], sets the overall (`""`) and every `tasker.v1` service's
/// `grpc.health.v1` status: SERVING when readiness passes, NOT_SERVING otherwise (database
/// unreachable, migrations behind, an actor stopped, a circuit breaker open). The first check
/// runs at once; once `shutdown` is cancelled everything is set to NOT_SERVING.
pub fn spawn_health_updater(service: Service, reporter: HealthReporter, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut last = None;
        let mut tick = tokio::time::interval(HEALTH_CHECK_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            let ready = tokio::select! {
                _ = shutdown.cancelled() => break,
                r = tokio::time::timeout(HEALTH_CHECK_TIMEOUT, service.readiness()) => {
                    r.map(|report| report.is_healthy()).unwrap_or(false)
                }
            };
            let status = if ready { ServingStatus::Serving } else { ServingStatus::NotServing };
            if last != Some(ready) {
                tracing::info!(serving = ready, "gRPC health status changed");
                last = Some(ready);
            }
            set_all(&reporter, status).await;
        }
        set_all(&reporter, ServingStatus::NotServing).await;
    })
}
