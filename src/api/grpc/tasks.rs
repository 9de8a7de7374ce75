//! `tasker.v1.TaskService`.

use tonic::{Request, Response, Status};

use super::convert::{parse_uuid, task_list_query, task_request};
use super::proto::task_service_server::TaskService;
use super::proto::{
    CancelTaskRequest, CreateTaskRequest, GetTaskRequest, ListTasksRequest, ListTasksResponse, StreamTaskStatusRequest,
    Task,
};
use super::stream::{self, TaskStatusStream};
use super::GrpcState;

/// The `TaskService` implementation.
pub(super) struct Tasks(pub(super) GrpcState);

#[tonic::async_trait]
impl TaskService for Tasks {
    async fn create_task(&self, request: Request<CreateTaskRequest>) -> Result<Response<Task>, Status> {
        self.0.require(&request, "tasks:create")?;
        let req = task_request(request.into_inner())?;
        Ok(Response::new(self.0.service.create_task(req).await?.into()))
    }

    async fn get_task(&self, request: Request<GetTaskRequest>) -> Result<Response<Task>, Status> {
        self.0.require(&request, "tasks:read")?;
        let uuid = parse_uuid("task_uuid", &request.get_ref().task_uuid)?;
        Ok(Response::new(self.0.service.get_task(uuid).await?.into()))
    }

    async fn list_tasks(&self, request: Request<ListTasksRequest>) -> Result<Response<ListTasksResponse>, Status> {
        self.0.require(&request, "tasks:read")?;
        let page = self.0.service.list_tasks(task_list_query(request.into_inner())?).await?;
        Ok(Response::new(ListTasksResponse {
            tasks: page.items.into_iter().map(Into::into).collect(),
            next_page_token: page.next_cursor.unwrap_or_default(),
        }))
    }

    async fn cancel_task(&self, request: Request<CancelTaskRequest>) -> Result<Response<Task>, Status> {
        self.0.require(&request, "tasks:cancel")?;
        let req = request.into_inner();
        let uuid = parse_uuid("task_uuid", &req.task_uuid)?;
        Ok(Response::new(self.0.service.cancel_task(uuid, req.reason).await?.into()))
    }

    type StreamTaskStatusStream = TaskStatusStream;

    async fn stream_task_status(
        &self,
        request: Request<StreamTaskStatusRequest>,
    ) -> Result<Response<Self::StreamTaskStatusStream>, Status> {
        self.0.require(&request, "tasks:read")?;
        let uuid = parse_uuid("task_uuid", &request.get_ref().task_uuid)?;
        Ok(Response::new(stream::open(&self.0, uuid).await?))
    }
}
