//! `/v1/templates`: list, read, register (JSON or YAML).

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{ApiError, Problem};
use super::extract::{ApiBody, ApiQuery};
use super::{api_route, ApiRoute, AppState};
use crate::model::{Template, TemplateSummary};

pub(super) fn routes() -> Vec<ApiRoute> {
    vec![
        api_route::<__path_list_templates, _, _>(list_templates),
        api_route::<__path_get_template, _, _>(get_template),
        api_route::<__path_register_template, _, _>(register_template),
    ]
}

/// Query of `GET /v1/templates`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct TemplateListParams {
    /// Only this namespace.
    namespace: Option<String>,
}

/// Every registered template, by namespace, name and version.
#[utoipa::path(
    get,
    path = "/v1/templates",
    tag = "templates",
    params(TemplateListParams),
    responses(
        (status = 200, description = "The templates", body = Vec<TemplateSummary>),
        (status = 400, description = "Unknown query parameter", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("api_key" = ["templates:read"]), ("bearer" = ["templates:read"]))
)]
pub(super) async fn list_templates(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<ApiQuery<TemplateListParams>, ApiError>,
) -> Result<Json<Vec<TemplateSummary>>, ApiError> {
    state.require(&headers, "templates:read")?;
    let ApiQuery(q) = query?;
    Ok(Json(state.service.list_templates(q.namespace).await?))
}

/// One template with its normalized definition (every default filled in).
#[utoipa::path(
    get,
    path = "/v1/templates/{namespace}/{name}/{version}",
    tag = "templates",
    params(
        ("namespace" = String, Path, description = "Namespace"),
        ("name" = String, Path, description = "Name"),
        ("version" = String, Path, description = "Version"),
    ),
    responses(
        (status = 200, description = "The template", body = Template),
        (status = 404, description = "No such template", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["templates:read"]), ("bearer" = ["templates:read"]))
)]
pub(super) async fn get_template(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((namespace, name, version)): Path<(String, String, String)>,
) -> Result<Json<Template>, ApiError> {
    state.require(&headers, "templates:read")?;
    Ok(Json(state.service.get_template(&namespace, &name, &version).await?))
}

/// Media types a template can be sent as.
const TEMPLATE_MEDIA_TYPES: &[&str] = &["application/json", "application/yaml", "application/x-yaml", "text/yaml"];

/// Registers (or replaces) a template from its definition (format in `docs/templates.md`), sent
/// as JSON or YAML.
#[utoipa::path(
    post,
    path = "/v1/templates",
    tag = "templates",
    request_body(
        description = "The template definition (namespace, name, version, steps…)",
        content(
            (Object = "application/json"),
            (String = "application/yaml"),
            (String = "application/x-yaml"),
            (String = "text/yaml"),
        )
    ),
    responses(
        (status = 201, description = "The registered template", body = Template),
        (status = 400, description = "Body is not UTF-8", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Content-Type is not JSON or YAML", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "Invalid definition: unparsable, nested too deep (JSON: 128 levels, YAML: \
            64) or too many YAML aliases, a NUL character, unknown key, unknown dependency, cycle, duplicate step, \
            an input_schema keyword of the wrong type or an invalid pattern (the detail names it)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["templates:write"]), ("bearer" = ["templates:write"]))
)]
pub(super) async fn register_template(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<ApiBody, ApiError>,
) -> Result<(StatusCode, Json<Template>), ApiError> {
    state.require(&headers, "templates:write")?;
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if !TEMPLATE_MEDIA_TYPES.contains(&media_type.as_str()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!("send the template with Content-Type {}", TEMPLATE_MEDIA_TYPES.join(", ")),
        ));
    }
    let ApiBody(bytes) = body?;
    let text = std::str::from_utf8(&bytes).map_err(|_| ApiError::bad_request("the body is not UTF-8 text"))?;
    // JSON is parsed as JSON (linear, 128 levels at most); only YAML goes to the YAML parser.
    let template = if media_type == "application/json" {
        state.service.register_template_json(text.as_bytes()).await?
    } else {
        state.service.register_template_text(text).await?
    };
    Ok((StatusCode::CREATED, Json(template)))
}
