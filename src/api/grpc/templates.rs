//! `tasker.v1.TemplateService`.

use tonic::{Request, Response, Status};

use super::convert::from_struct;
use super::proto::register_template_request::Source;
use super::proto::template_service_server::TemplateService;
use super::proto::{
    GetTemplateRequest, ListTemplatesRequest, ListTemplatesResponse, RegisterTemplateRequest, Template,
};
use super::GrpcState;

/// The `TemplateService` implementation.
pub(super) struct Templates(pub(super) GrpcState);

#[tonic::async_trait]
impl TemplateService for Templates {
    async fn list_templates(
        &self,
        request: Request<ListTemplatesRequest>,
    ) -> Result<Response<ListTemplatesResponse>, Status> {
        self.0.require(&request, "templates:read")?;
        let templates = self.0.service.list_templates(request.into_inner().namespace).await?;
        Ok(Response::new(ListTemplatesResponse { templates: templates.into_iter().map(Into::into).collect() }))
    }

    async fn get_template(&self, request: Request<GetTemplateRequest>) -> Result<Response<Template>, Status> {
        self.0.require(&request, "templates:read")?;
        let r = request.get_ref();
        Ok(Response::new(self.0.service.get_template(&r.namespace, &r.name, &r.version).await?.into()))
    }

    async fn register_template(&self, request: Request<RegisterTemplateRequest>) -> Result<Response<Template>, Status> {
        self.0.require(&request, "templates:write")?;
        let template = match request.into_inner().source {
            Some(Source::Definition(def)) => self.0.service.register_template(from_struct(def)).await?,
            Some(Source::Text(text)) => self.0.service.register_template_text(&text).await?,
            None => return Err(Status::invalid_argument("give the template as definition or as text")),
        };
        Ok(Response::new(template.into()))
    }
}
