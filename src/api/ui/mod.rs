//! The web dashboard at `/ui`: server-rendered HTML (maud) over the same service layer as REST
//! and gRPC, with a small embedded script for live updates (server-sent events fed by the
//! notification hub). Every asset is embedded in the binary; the Content-Security-Policy allows
//! this origin only. Pages work without JavaScript; only live updates need it.
//!
//! Layout: [`session`] (cookie, login, CSRF, permissions), [`page`] (shell, error page, helpers),
//! [`dag_layout`] (the layered DAG drawing, pure code) and [`dag_svg`] (its SVG), one module per
//! page area under [`pages`], [`actions`] (confirmation pages and the state-changing POSTs) and
//! [`sse`] (event streams). `docs/ui.md` describes the whole.

pub mod actions;
pub mod dag_layout;
pub mod dag_svg;
pub mod page;
pub mod pages;
pub mod session;
pub mod sse;

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::api::auth::Auth;
use crate::service::Service;

/// Path of the stylesheet (versioned: a change of the file changes the name).
pub const ASSET_CSS: &str = "/ui/assets/ui-v1.css";
/// Path of the live-update script (versioned likewise).
pub const ASSET_JS: &str = "/ui/assets/live-v1.js";
/// The Content-Security-Policy of every UI answer: this origin only, no inline script or style.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/// Event streams open at once, over all browsers; more are refused with 503.
pub const MAX_EVENT_STREAMS: usize = 256;

const CSS: &str = include_str!("assets/ui-v1.css");
const JS: &str = include_str!("assets/live-v1.js");

/// What every UI handler can reach.
#[derive(Clone)]
pub struct UiState {
    /// The service layer.
    pub service: Service,
    /// API keys (the same store as REST and gRPC).
    pub auth: Arc<Auth>,
    /// Ends the event streams when the server shuts down.
    pub shutdown: CancellationToken,
    /// Permits for open event streams.
    pub streams: Arc<Semaphore>,
}

impl UiState {
    /// The state for a server's UI.
    pub fn new(service: Service, auth: Arc<Auth>, shutdown: CancellationToken) -> Self {
        Self { service, auth, shutdown, streams: Arc::new(Semaphore::new(MAX_EVENT_STREAMS)) }
    }
}

/// The `/ui` router: a pure constructor. Merge it beside the REST router (it has no fallback).
pub fn router(state: UiState) -> Router {
    Router::new()
        .route("/ui", get(pages::overview::overview))
        .route("/ui/", get(pages::overview::overview))
        .route("/ui/events", get(sse::overview_events))
        .route("/ui/login", get(pages::login::login_form).post(pages::login::login))
        .route("/ui/logout", post(pages::login::logout))
        .route("/ui/tasks", get(pages::tasks::list))
        .route("/ui/tasks/{task_uuid}", get(pages::task::task))
        .route("/ui/tasks/{task_uuid}/events", get(sse::task_events))
        .route("/ui/tasks/{task_uuid}/cancel", get(actions::cancel_form).post(actions::cancel))
        .route(
            "/ui/tasks/{task_uuid}/steps/{step_uuid}/action",
            get(actions::step_action_form).post(actions::step_action),
        )
        .route("/ui/retries", get(actions::retry_form).post(actions::retry))
        .route("/ui/dlq", get(pages::dlq::list))
        .route("/ui/dlq/{id}", get(actions::dlq_form).post(actions::dlq_update))
        .route("/ui/templates", get(pages::templates::list))
        .route("/ui/templates/{namespace}/{name}/{version}", get(pages::templates::template))
        .route(ASSET_CSS, get(css))
        .route(ASSET_JS, get(js))
        // Not a fallback: the REST router beside it keeps the JSON one for every other path.
        .route("/ui/{*rest}", get(not_found).post(not_found))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

async fn not_found() -> page::UiError {
    page::UiError::new(axum::http::StatusCode::NOT_FOUND, "There is no such page.")
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Versioned names: a new file is a new name, so the old one may be cached for good.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    resp
}

/// CSP, no sniffing, no referrer, no framing; pages are not cached (they show live state).
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}
