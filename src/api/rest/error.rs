//! One JSON problem shape (RFC 9457: type, title, status, detail, instance) for every 4xx/5xx.
//! Internal errors carry only a correlation id; the details are in the server log under it.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::auth::AuthError;
use crate::model::ComponentStatus;
use crate::service::ServiceError;

/// The problem document.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:tasker:problem:not-found`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What went wrong this time, and what to do about it.
    pub detail: String,
    /// The request path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// For internal errors: the id to quote to an operator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// For an unhealthy server (`urn:tasker:problem:unhealthy`): every check made, the failing
    /// ones with `healthy: false` and their reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<ComponentStatus>>,
}

/// An error answer of the REST API.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    detail: String,
    retry_after: Option<Duration>,
    correlation_id: Option<String>,
    instance: Option<String>,
    /// Behind one thin pointer: it is rare, and keeps every `Result<_, ApiError>` small.
    #[allow(clippy::box_collection)]
    checks: Option<Box<Vec<ComponentStatus>>>,
}

impl ApiError {
    /// An error with a status, a kind (the last part of the type URI) and a detail.
    pub fn new(status: StatusCode, kind: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            detail: detail.into(),
            retry_after: None,
            correlation_id: None,
            instance: None,
            checks: None,
        }
    }

    /// 503 `unhealthy`: the detail names each failing check and why; `checks` lists them all.
    pub fn unhealthy(checks: Vec<ComponentStatus>) -> Self {
        let failing: Vec<String> = checks
            .iter()
            .filter(|c| !c.healthy)
            .map(|c| match &c.message {
                Some(m) => format!("{} ({m})", c.name),
                None => c.name.clone(),
            })
            .collect();
        let mut err = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unhealthy",
            format!("failing checks: {}", if failing.is_empty() { "none named".into() } else { failing.join("; ") }),
        );
        err.retry_after = Some(Duration::from_secs(1));
        err.checks = Some(Box::new(checks));
        err
    }

    /// 400 for a malformed request.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", detail)
    }

    /// Sets the `instance` (request path).
    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.instance = Some(path.into());
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let detail = e.to_string();
        let kind = e.kind();
        match e {
            ServiceError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, kind, detail),
            ServiceError::InvalidInput(_) | ServiceError::InvalidTemplate(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, kind, detail)
            }
            ServiceError::IdempotencyConflict(_) | ServiceError::NotAllowed(_) => {
                ApiError::new(StatusCode::CONFLICT, kind, detail)
            }
            ServiceError::Backpressure { retry_after } => {
                let mut err = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, kind, detail);
                err.retry_after = Some(retry_after);
                err
            }
            ServiceError::Unavailable(_) => {
                let mut err = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, kind, detail);
                err.retry_after = Some(Duration::from_secs(1));
                err
            }
            ServiceError::Internal { correlation_id } => {
                let mut err = ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, kind, detail);
                err.correlation_id = Some(correlation_id.to_string());
                err
            }
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unauthenticated => ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", e.to_string()),
            AuthError::Forbidden(_) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = Problem {
            kind: format!("urn:tasker:problem:{}", self.kind),
            title: self.status.canonical_reason().unwrap_or("Error").to_string(),
            status: self.status.as_u16(),
            detail: self.detail,
            instance: self.instance,
            correlation_id: self.correlation_id,
            checks: self.checks.map(|c| *c),
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut resp = (self.status, body).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(after) = self.retry_after {
            let secs = after.as_secs().max(1);
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}
