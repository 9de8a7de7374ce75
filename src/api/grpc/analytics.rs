//! `tasker.v1.AnalyticsService`.

use tonic::{Request, Response, Status};

use super::proto::analytics_service_server::AnalyticsService;
use super::proto::{Bottlenecks, GetBottlenecksRequest, GetPerformanceMetricsRequest, PerformanceMetrics};
use super::GrpcState;
use crate::service::{DEFAULT_BOTTLENECK_LIMIT, DEFAULT_HOURS};

/// The `AnalyticsService` implementation.
pub(super) struct Analytics(pub(super) GrpcState);

#[tonic::async_trait]
impl AnalyticsService for Analytics {
    async fn get_performance_metrics(
        &self,
        request: Request<GetPerformanceMetricsRequest>,
    ) -> Result<Response<PerformanceMetrics>, Status> {
        self.0.require(&request, "analytics:read")?;
        let hours = request.get_ref().hours.unwrap_or(DEFAULT_HOURS);
        Ok(Response::new(self.0.service.performance_metrics(hours).await?.into()))
    }

    async fn get_bottlenecks(&self, request: Request<GetBottlenecksRequest>) -> Result<Response<Bottlenecks>, Status> {
        self.0.require(&request, "analytics:read")?;
        let r = request.get_ref();
        let limit = r.limit.unwrap_or(DEFAULT_BOTTLENECK_LIMIT);
        let hours = r.hours.unwrap_or(DEFAULT_HOURS);
        Ok(Response::new(self.0.service.bottlenecks(limit, hours).await?.into()))
    }
}
