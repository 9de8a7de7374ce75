//! The page shell (head, navigation, notices), the HTML error page, and small rendering helpers
//! shared by every page.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::session::{self, Viewer};
use super::{ASSET_CSS, ASSET_JS};
use crate::service::ServiceError;

/// The navigation entries: (path, label).
const NAV: &[(&str, &str)] = &[
    ("/ui", "Overview"),
    ("/ui/tasks", "Tasks"),
    ("/ui/dlq", "DLQ"),
    ("/ui/templates", "Templates"),
    ("/ui/retries", "Batch retry"),
];

/// A whole page: head with the embedded stylesheet (and the live script when `live` names an
/// event stream), navigation, an optional notice, and `body`.
pub fn shell(title: &str, viewer: &Viewer, current: &str, live: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Tasker" }
                link rel="stylesheet" href=(ASSET_CSS);
                @if live.is_some() {
                    script src=(ASSET_JS) defer {}
                }
            }
            body data-live=[live] {
                a class="skip" href="#main" { "Skip to content" }
                header class="top" {
                    a class="brand" href="/ui" { "Tasker" }
                    nav aria-label="Main" {
                        ul {
                            @for (path, label) in NAV {
                                li {
                                    @if *path == current {
                                        a href=(path) aria-current="page" { (label) }
                                    } @else {
                                        a href=(path) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    @if viewer.auth_enabled && viewer.key().is_some() {
                        form class="logout" method="post" action="/ui/logout" {
                            input type="hidden" name="csrf" value=(viewer.csrf());
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main id="main" {
                    (body)
                }
                footer { "Tasker " (env!("CARGO_PKG_VERSION")) }
            }
        }
    }
}

/// Renders a page as a response, setting the session cookie when the viewer got a new one.
pub fn respond(viewer: &Viewer, markup: Markup) -> Response {
    let mut resp = axum::response::Html(markup.into_string()).into_response();
    if let Some(value) = &viewer.new_cookie {
        resp.headers_mut().append(header::SET_COOKIE, session::set_cookie(value));
    }
    resp
}

/// A redirect after a successful POST (303: the browser follows with GET).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// An error shown as an HTML page (or a redirect to the login page).
#[derive(Debug)]
pub struct UiError {
    status: StatusCode,
    message: String,
    login: bool,
}

impl UiError {
    /// An error page with a status and a message for a person.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), login: false }
    }

    /// Sends the browser to the login page.
    pub fn login() -> Self {
        Self { status: StatusCode::SEE_OTHER, message: String::new(), login: true }
    }

    /// 400 for a malformed form or path.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<ServiceError> for UiError {
    fn from(e: ServiceError) -> Self {
        // The same status as the REST API; internals stay in the log under the correlation id.
        let message = e.to_string();
        Self::new(crate::api::rest::error::ApiError::from(e).status(), message)
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        if self.login {
            return Redirect::to("/ui/login").into_response();
        }
        let title = self.status.canonical_reason().unwrap_or("Error");
        let body = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    title { (title) " · Tasker" }
                    link rel="stylesheet" href=(ASSET_CSS);
                }
                body {
                    main id="main" class="error-page" {
                        h1 { (self.status.as_u16()) " " (title) }
                        p role="alert" { (self.message) }
                        p { a href="/ui" { "Back to the overview" } }
                    }
                }
            }
        };
        let mut resp = (self.status, axum::response::Html(body.into_string())).into_response();
        resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
    }
}

/// A state as a badge: colour by class, and always the state's name as text.
pub fn state_badge(state: &str) -> Markup {
    html! { span class={ "badge state-" (state) } { (state.replace('_', " ")) } }
}

/// A timestamp, UTC, to the second; empty for none.
pub fn time(t: Option<DateTime<Utc>>) -> Markup {
    match t {
        Some(t) => html! { time datetime=(t.to_rfc3339()) { (t.format("%Y-%m-%d %H:%M:%S")) } },
        None => html! { span class="muted" { "—" } },
    }
}

/// A duration between two instants, for people (`1.2 s`, `3 min 4 s`).
pub fn duration(from: DateTime<Utc>, to: Option<DateTime<Utc>>) -> String {
    let Some(to) = to else { return "—".into() };
    let ms = (to - from).num_milliseconds().max(0);
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// A JSON value, pretty-printed in a `pre` block (or a dash for none).
pub fn json_block(v: Option<&serde_json::Value>) -> Markup {
    match v {
        Some(v) if !v.is_null() => {
            html! { pre class="json" { (serde_json::to_string_pretty(v).unwrap_or_default()) } }
        }
        _ => html! { span class="muted" { "—" } },
    }
}

/// A notice from a redirect (`?notice=…`), shown once at the top of the page.
pub fn notice(text: Option<&str>) -> Markup {
    match text.filter(|t| !t.is_empty()) {
        Some(t) => html! { p class="notice" role="status" { (t) } },
        None => PreEscaped(String::new()),
    }
}

/// The hidden CSRF field of a state-changing form.
pub fn csrf_field(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name="csrf" value=(viewer.csrf()); }
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
