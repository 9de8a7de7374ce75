//! The REST backend: reqwest over plain HTTP, JSON in and out, problem documents as errors.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Url};
use serde::Serialize;
use serde_json::Value;

use crate::cli::error::{root_cause, CliError, CliResult, Kind};

/// How long to wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for an answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A REST client for one server.
#[derive(Debug, Clone)]
pub struct Rest {
    http: reqwest::Client,
    base: Url,
    key: Option<String>,
}

impl Rest {
    /// A client for the API at `url` (plain `http://` only), sending `key` as `X-API-Key`.
    pub fn new(url: &str, key: Option<String>) -> CliResult<Self> {
        let base = Url::parse(url).map_err(|e| CliError::new(Kind::Usage, "invalid --url", format!("'{url}': {e}")))?;
        if base.scheme() != "http" || base.cannot_be_a_base() {
            return Err(CliError::new(
                Kind::Usage,
                "invalid --url",
                format!("'{url}': this client speaks plain http:// only (put TLS in a proxy in front of it)"),
            ));
        }
        if let Some(k) = &key {
            if reqwest::header::HeaderValue::from_str(k).is_err() {
                return Err(CliError::new(
                    Kind::Usage,
                    "invalid --api-key",
                    "the key has characters a header cannot carry",
                ));
            }
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("tasker-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CliError::new(Kind::Other, "http client", root_cause(&e)))?;
        Ok(Self { http, base, key })
    }

    /// The URL of `segments` under the base URL (each segment percent-encoded).
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    fn request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        let rb = self.http.request(method, self.url(segments));
        match &self.key {
            Some(k) => rb.header("X-API-Key", k),
            None => rb,
        }
    }

    /// Sends and returns the status and the JSON body (`Null` when empty).
    async fn exchange(&self, rb: RequestBuilder) -> CliResult<(u16, Value, String)> {
        let resp = rb.send().await.map_err(|e| transport_error(&self.base, &e))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| transport_error(&self.base, &e))?;
        let body =
            if text.trim().is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::Null) };
        Ok((status, body, text))
    }

    /// Sends; a 2xx answer is its JSON body, anything else an error from its problem document.
    async fn send(&self, rb: RequestBuilder) -> CliResult<Value> {
        let (status, body, text) = self.exchange(rb).await?;
        if (200..300).contains(&status) {
            if body.is_null() && !text.trim().is_empty() {
                return Err(CliError::unexpected(format!("HTTP {status} with a body that is not JSON")));
            }
            Ok(body)
        } else {
            Err(problem_error(status, &body, &text))
        }
    }

    /// GET with query pairs (pairs without a value are left out).
    pub async fn get(&self, segments: &[&str], query: &[(&str, Option<String>)]) -> CliResult<Value> {
        let pairs: Vec<(&str, &str)> = query.iter().filter_map(|(k, v)| v.as_deref().map(|v| (*k, v))).collect();
        self.send(self.request(Method::GET, segments).query(&pairs)).await
    }

    /// GET that returns the status and body whatever the status (health answers 503 with a report).
    pub async fn get_any(&self, segments: &[&str]) -> CliResult<(u16, Value)> {
        let (status, body, text) = self.exchange(self.request(Method::GET, segments)).await?;
        if body.is_null() && !(200..300).contains(&status) {
            return Err(problem_error(status, &body, &text));
        }
        Ok((status, body))
    }

    /// POST a JSON body.
    pub async fn post<B: Serialize + ?Sized>(&self, segments: &[&str], body: &B) -> CliResult<Value> {
        self.send(self.request(Method::POST, segments).json(body)).await
    }

    /// POST a raw body with a content type.
    pub async fn post_raw(&self, segments: &[&str], content_type: &str, body: String) -> CliResult<Value> {
        self.send(self.request(Method::POST, segments).header("Content-Type", content_type).body(body)).await
    }

    /// PATCH a JSON body.
    pub async fn patch<B: Serialize + ?Sized>(&self, segments: &[&str], body: &B) -> CliResult<Value> {
        self.send(self.request(Method::PATCH, segments).json(body)).await
    }

    /// DELETE with query pairs.
    pub async fn delete(&self, segments: &[&str], query: &[(&str, Option<String>)]) -> CliResult<Value> {
        let pairs: Vec<(&str, &str)> = query.iter().filter_map(|(k, v)| v.as_deref().map(|v| (*k, v))).collect();
        self.send(self.request(Method::DELETE, segments).query(&pairs)).await
    }
}

/// A failure to talk to the server at all.
fn transport_error(base: &Url, e: &reqwest::Error) -> CliError {
    let cause = root_cause(e);
    if e.is_connect() || e.is_timeout() {
        let what = if e.is_timeout() { "timed out talking to" } else { "cannot reach" };
        CliError::unavailable(format!("{what} {}: {cause}", base.as_str().trim_end_matches('/')))
    } else if e.is_request() || e.is_body() {
        CliError::unavailable(format!("request to {} failed: {cause}", base.as_str().trim_end_matches('/')))
    } else {
        CliError::new(Kind::Other, "request failed", cause)
    }
}

/// The error of a non-2xx answer: the problem document's title and detail when there is one.
pub fn problem_error(status: u16, body: &Value, text: &str) -> CliError {
    let reason = reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("HTTP error");
    let title = body.get("title").and_then(Value::as_str).unwrap_or(reason).to_string();
    let detail = match body.get("detail").and_then(Value::as_str) {
        Some(d) => d.to_string(),
        None if !text.trim().is_empty() && body.is_null() => text.trim().chars().take(300).collect(),
        None => format!("HTTP {status}"),
    };
    CliError::new(Kind::from_http(status), title, detail)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn urls_keep_a_base_path_and_encode_segments() {
        let r = Rest::new("http://h:1/prefix/", None).ok();
        let u = r.map(|r| r.url(&["v1", "templates", "a b", "x/y"]).to_string());
        assert_eq!(u.as_deref(), Some("http://h:1/prefix/v1/templates/a%20b/x%2Fy"));
    }

    #[test]
    fn bad_urls_are_usage_errors() {
        for bad in ["nope", "https://h", "mailto:x@y"] {
            assert_eq!(Rest::new(bad, None).err().map(|e| e.exit_code()), Some(2), "{bad}");
        }
    }

    #[test]
    fn problems_give_title_detail_and_code() {
        let p =
            json!({"type": "urn:tasker:problem:not-found", "title": "Not Found", "status": 404, "detail": "no task"});
        let e = problem_error(404, &p, "");
        assert_eq!((e.to_string(), e.exit_code()), ("Not Found: no task".into(), 3));
        let e = problem_error(502, &Value::Null, "<html>bad gateway</html>");
        assert_eq!((e.to_string(), e.exit_code()), ("Bad Gateway: <html>bad gateway</html>".into(), 6));
    }
}
