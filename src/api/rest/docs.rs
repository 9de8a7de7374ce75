//! `/docs` (Swagger UI, served from assets built into the binary: works offline) and
//! `/api-docs/openapi.json`. Public unless `[orchestration.web] public_docs = false`, in which
//! case any valid API key is needed.

use std::sync::{Arc, OnceLock};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use utoipa::OpenApi;
use utoipa_swagger_ui::Config;

use super::error::ApiError;
use super::openapi::ApiDoc;
use super::{api_route, ApiRoute, AppState};

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/api-docs/openapi.json";

pub(super) fn routes() -> Vec<ApiRoute> {
    vec![
        api_route::<__path_docs_redirect, _, _>(docs_redirect),
        api_route::<__path_docs_index, _, _>(docs_index),
        api_route::<__path_docs_asset, _, _>(docs_asset),
        api_route::<__path_openapi_json, _, _>(openapi_json),
    ]
}

fn check(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if state.public_docs {
        Ok(())
    } else {
        state.require_any_key(headers)
    }
}

/// The serialized document, built once.
fn openapi_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| ApiDoc::openapi().to_pretty_json().unwrap_or_default())
}

/// Swagger UI's configuration: our document, and no online validator (no outbound call).
fn ui_config() -> Arc<Config<'static>> {
    static CONFIG: OnceLock<Arc<Config<'static>>> = OnceLock::new();
    CONFIG.get_or_init(|| Arc::new(Config::from(OPENAPI_PATH).validator_url("none").try_it_out_enabled(true))).clone()
}

fn serve_ui_file(file: &str, path: &str) -> Response {
    match utoipa_swagger_ui::serve(file, ui_config()) {
        Ok(Some(f)) => {
            let mut resp = (StatusCode::OK, f.bytes.into_owned()).into_response();
            if let Ok(ct) = HeaderValue::from_str(&f.content_type) {
                resp.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            if f.gzpipped {
                resp.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            resp
        }
        Ok(None) => ApiError::new(StatusCode::NOT_FOUND, "not-found", format!("no documentation file '{file}'"))
            .at(path)
            .into_response(),
        Err(e) => ApiError::from(crate::service::ServiceError::internal(e)).at(path).into_response(),
    }
}

/// Redirects to `/docs/` (the UI loads its assets relative to it).
#[utoipa::path(
    get,
    path = "/docs",
    tag = "docs",
    responses((status = 303, description = "To /docs/"))
)]
pub(super) async fn docs_redirect(State(state): State<AppState>, headers: HeaderMap) -> Result<Redirect, ApiError> {
    check(&state, &headers)?;
    Ok(Redirect::to("/docs/"))
}

/// The interactive API documentation (Swagger UI).
#[utoipa::path(
    get,
    path = "/docs/",
    tag = "docs",
    responses((status = 200, description = "The UI", body = String, content_type = "text/html"))
)]
pub(super) async fn docs_index(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    check(&state, &headers)?;
    Ok(serve_ui_file("", "/docs/"))
}

/// An asset of the UI (scripts, styles, icons), built into the binary.
#[utoipa::path(
    get,
    path = "/docs/{file}",
    tag = "docs",
    params(("file" = String, Path, description = "Asset name")),
    responses(
        (status = 200, description = "The asset", body = String),
        (status = 404, description = "No such asset", body = super::error::Problem,
            content_type = "application/problem+json"),
    )
)]
pub(super) async fn docs_asset(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    check(&state, &headers)?;
    Ok(serve_ui_file(&file, &format!("/docs/{file}")))
}

/// This OpenAPI document, generated from the code.
#[utoipa::path(
    get,
    path = "/api-docs/openapi.json",
    tag = "docs",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object))
)]
pub(super) async fn openapi_json(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    check(&state, &headers)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], openapi_text()).into_response())
}
