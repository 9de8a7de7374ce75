//! `tasker.v1.DlqService`.

use tonic::{Request, Response, Status};

use super::convert::{page_size, page_token, parse_uuid};
use super::proto::dlq_service_server::DlqService;
use super::proto::{
    DlqEntry, DlqStats, GetDlqEntryByTaskRequest, GetDlqEntryByTaskResponse, GetDlqStatsRequest, ListDlqEntriesRequest,
    ListDlqEntriesResponse, UpdateDlqEntryRequest,
};
use super::GrpcState;
use crate::model::{DlqListQuery, DlqUpdate};

/// The `DlqService` implementation.
pub(super) struct Dlq(pub(super) GrpcState);

#[tonic::async_trait]
impl DlqService for Dlq {
    async fn list_entries(
        &self,
        request: Request<ListDlqEntriesRequest>,
    ) -> Result<Response<ListDlqEntriesResponse>, Status> {
        self.0.require(&request, "dlq:read")?;
        let r = request.into_inner();
        let query = DlqListQuery {
            resolution_status: r.resolution_status,
            namespace: r.namespace,
            limit: page_size(r.page_size),
            cursor: page_token(r.page_token),
        };
        let page = self.0.service.list_dlq(query).await?;
        Ok(Response::new(ListDlqEntriesResponse {
            entries: page.items.into_iter().map(Into::into).collect(),
            next_page_token: page.next_cursor.unwrap_or_default(),
        }))
    }

    async fn get_entry_by_task(
        &self,
        request: Request<GetDlqEntryByTaskRequest>,
    ) -> Result<Response<GetDlqEntryByTaskResponse>, Status> {
        self.0.require(&request, "dlq:read")?;
        let task = parse_uuid("task_uuid", &request.get_ref().task_uuid)?;
        let entries = self.0.service.dlq_for_task(task).await?;
        Ok(Response::new(GetDlqEntryByTaskResponse { entries: entries.into_iter().map(Into::into).collect() }))
    }

    async fn update_entry(&self, request: Request<UpdateDlqEntryRequest>) -> Result<Response<DlqEntry>, Status> {
        self.0.require(&request, "dlq:update")?;
        let r = request.into_inner();
        let update = DlqUpdate {
            resolution_status: r.resolution_status,
            resolution_notes: r.resolution_notes,
            resolved_by: r.resolved_by,
        };
        Ok(Response::new(self.0.service.update_dlq(r.id, update).await?.into()))
    }

    async fn get_stats(&self, request: Request<GetDlqStatsRequest>) -> Result<Response<DlqStats>, Status> {
        self.0.require(&request, "dlq:read")?;
        Ok(Response::new(self.0.service.dlq_stats().await?.into()))
    }
}
