//! `/ui/login` and `/ui/logout`: with `[auth] enabled`, the API key is asked for once and kept in
//! the session cookie (see [`crate::api::ui::session`]). With auth off there is nothing to log into.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;

use crate::api::ui::page::{respond, see_other, shell, UiError};
use crate::api::ui::session::{clear_cookie, set_cookie, Viewer};
use crate::api::ui::UiState;

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    /// The API key.
    pub api_key: String,
}

/// The CSRF field of the logout form.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf: String,
}

/// The login page (auth off: straight to the overview).
pub async fn login_form(State(state): State<UiState>, viewer: Viewer) -> Response {
    if !state.auth.enabled() {
        return see_other("/ui");
    }
    respond(&viewer, login_page(&viewer, None))
}

fn login_page(viewer: &Viewer, error: Option<&str>) -> maud::Markup {
    let body = html! {
        h1 { "Log in" }
        p { "This server requires an API key. It is kept in a cookie for this browser session only." }
        @if let Some(e) = error { p class="error" role="alert" { (e) } }
        form method="post" action="/ui/login" class="stack" {
            label for="api_key" { "API key" }
            input id="api_key" name="api_key" type="password" autocomplete="current-password" required autofocus;
            button type="submit" { "Log in" }
        }
    };
    shell("Log in", viewer, "", None, body)
}

/// Checks the key; a valid one is stored in the session cookie.
pub async fn login(State(state): State<UiState>, viewer: Viewer, Form(form): Form<LoginForm>) -> Response {
    if !state.auth.enabled() {
        return see_other("/ui");
    }
    let key = form.api_key.trim();
    if key.is_empty() || !state.key_is_valid(key) {
        let mut resp = respond(&viewer, login_page(&viewer, Some("That API key is not valid.")));
        *resp.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
        return resp;
    }
    let mut resp = see_other("/ui");
    resp.headers_mut().append(header::SET_COOKIE, set_cookie(key));
    resp
}

/// Forgets the session (a state change: CSRF-checked).
pub async fn logout(viewer: Viewer, Form(form): Form<CsrfForm>) -> Result<Response, UiError> {
    viewer.check_csrf(&form.csrf)?;
    let mut resp = see_other("/ui/login").into_response();
    resp.headers_mut().append(header::SET_COOKIE, clear_cookie());
    Ok(resp)
}
