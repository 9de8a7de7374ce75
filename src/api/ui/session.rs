//! Who is looking: the session cookie, the API key it carries, CSRF tokens, permissions.
//!
//! Stateless, so several servers behind one address agree without shared memory:
//! - with `[auth] enabled`, the cookie `tasker_ui` holds the API key given once on the login
//!   page (hex-encoded), `HttpOnly; SameSite=Strict; Path=/ui`. Every request re-checks it against
//!   the configured keys, so a key removed from the config stops working at once;
//! - with auth off (development), the cookie holds a random nonce, set on the first page view,
//!   so that forms still carry a CSRF token.
//!
//! The CSRF token of a form is `HMAC-SHA256(cookie value, "tasker-ui-csrf-v1")`, hex: another
//! site can neither read the cookie nor compute the token, and the browser never sends a
//! SameSite=Strict cookie with a cross-site POST anyway. A state-changing POST without the
//! cookie or with a wrong token is refused with 403.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::page::UiError;
use super::UiState;
use crate::api::auth::AuthError;

/// Name of the session cookie.
pub const COOKIE: &str = "tasker_ui";
/// The message the CSRF token authenticates (versioned: a new scheme changes it).
const CSRF_CONTEXT: &[u8] = b"tasker-ui-csrf-v1";

/// The visitor of a UI page: the session value (API key or nonce) and whether a cookie must be set.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The session value (the API key when auth is on); `None` before login.
    session: Option<String>,
    /// A new session value to set as the cookie on this response (auth off, first visit).
    pub new_cookie: Option<String>,
    /// Whether keys are required.
    pub auth_enabled: bool,
}

impl Viewer {
    /// The API key to authorize with (none when auth is off).
    pub fn key(&self) -> Option<&str> {
        if self.auth_enabled {
            self.session.as_deref()
        } else {
            None
        }
    }

    /// The CSRF token forms of this session carry.
    pub fn csrf(&self) -> String {
        self.session.as_deref().map(csrf_token).unwrap_or_default()
    }

    /// Checks a submitted CSRF token (403 when missing or wrong).
    pub fn check_csrf(&self, submitted: &str) -> Result<(), UiError> {
        match &self.session {
            Some(s) if constant_time_eq(csrf_token(s).as_bytes(), submitted.as_bytes()) => Ok(()),
            _ => Err(UiError::new(
                StatusCode::FORBIDDEN,
                "The form's security token is missing or stale: reload the page and try again.",
            )),
        }
    }
}

impl FromRequestParts<UiState> for Viewer {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &UiState) -> Result<Self, Self::Rejection> {
        let session = cookie_value(&parts.headers).and_then(|v| hex_decode(&v));
        let auth_enabled = state.auth.enabled();
        if auth_enabled {
            return Ok(Viewer { session, new_cookie: None, auth_enabled });
        }
        match session {
            Some(s) => Ok(Viewer { session: Some(s), new_cookie: None, auth_enabled }),
            None => {
                let nonce = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
                Ok(Viewer { session: Some(nonce.clone()), new_cookie: Some(nonce), auth_enabled })
            }
        }
    }
}

impl UiState {
    /// Authorizes the viewer for `permission`: with auth on, no or an unknown key sends the
    /// browser to the login page, a key without the permission is 403.
    pub fn require(&self, viewer: &Viewer, permission: &'static str) -> Result<(), UiError> {
        match self.auth.authorize(viewer.key(), permission) {
            Ok(_) => Ok(()),
            Err(AuthError::Unauthenticated) => Err(UiError::login()),
            Err(AuthError::Forbidden(p)) => Err(UiError::new(
                StatusCode::FORBIDDEN,
                format!("Your API key lacks the permission '{p}' this page or action needs."),
            )),
        }
    }

    /// Accepts any valid key (or anyone when auth is off); else sends the browser to the login page.
    pub fn require_login(&self, viewer: &Viewer) -> Result<(), UiError> {
        match viewer.key() {
            _ if !self.auth.enabled() => Ok(()),
            Some(k) if self.key_is_valid(k) => Ok(()),
            _ => Err(UiError::login()),
        }
    }

    /// Whether the viewer has `permission` (for showing or hiding a panel or a button).
    pub fn allows(&self, viewer: &Viewer, permission: &'static str) -> bool {
        self.auth.authorize(viewer.key(), permission).is_ok()
    }

    /// Whether `key` is a configured key (whatever its permissions).
    pub fn key_is_valid(&self, key: &str) -> bool {
        !matches!(self.auth.authorize(Some(key), "docs:read"), Err(AuthError::Unauthenticated))
    }
}

/// The `Set-Cookie` value that stores `value` for the UI (a browser session cookie).
pub fn set_cookie(value: &str) -> HeaderValue {
    let v = format!("{COOKIE}={}; Path=/ui; HttpOnly; SameSite=Strict", hex_encode(value.as_bytes()));
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("tasker_ui=; Path=/ui"))
}

/// The `Set-Cookie` value that forgets the session.
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("tasker_ui=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, v)| *k == COOKIE && !v.is_empty())
        .map(|(_, v)| v.to_string())
}

/// The CSRF token of a session value.
pub fn csrf_token(session: &str) -> String {
    // HMAC accepts keys of any length: this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(session.as_bytes()) else { return String::new() };
    mac.update(CSRF_CONTEXT);
    hex_encode(&mac.finalize().into_bytes())
}

fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

fn hex_decode(s: &str) -> Option<String> {
    if s.len() % 2 != 0 || s.len() > 2048 {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect();
    String::from_utf8(bytes?).ok()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_values_round_trip_through_hex() {
        let key = "a key; with=odd \"chars\"";
        let set = set_cookie(key);
        let value = set.to_str().unwrap().split(';').next().unwrap().split_once('=').unwrap().1.to_string();
        assert_eq!(hex_decode(&value).as_deref(), Some(key));
        assert_eq!(hex_decode("zz"), None);
        assert_eq!(hex_decode("abc"), None);
    }

    #[test]
    fn csrf_tokens_depend_on_the_session_and_are_checked() {
        assert_ne!(csrf_token("one"), csrf_token("two"));
        assert_eq!(csrf_token("one").len(), 64);
        let v = Viewer { session: Some("one".into()), new_cookie: None, auth_enabled: true };
        assert!(v.check_csrf(&csrf_token("one")).is_ok());
        assert!(v.check_csrf(&csrf_token("two")).is_err());
        assert!(v.check_csrf("").is_err());
        let nobody = Viewer { session: None, new_cookie: None, auth_enabled: true };
        assert!(nobody.check_csrf("").is_err());
    }
}
