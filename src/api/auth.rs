//! API keys with permissions, shared by REST (`X-API-Key` or `Authorization: Bearer`) and gRPC
//! (the same names in metadata). Keys are compared in constant time and never logged.

use crate::config::AuthConfig;

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No key, or an unknown key.
    #[error("a valid API key is required (X-API-Key header or Authorization: Bearer)")]
    Unauthenticated,
    /// The key lacks the permission.
    #[error("this API key lacks the permission '{0}'")]
    Forbidden(&'static str),
}

/// A configured key.
#[derive(Clone)]
struct Key {
    name: String,
    secret: Vec<u8>,
    permissions: Vec<String>,
}

/// The key store.
#[derive(Clone, Default)]
pub struct Auth {
    enabled: bool,
    keys: Vec<Key>,
}

/// Who a request is, once authorized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The key's configured name (`anonymous` when auth is off).
    pub name: String,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("enabled", &self.enabled)
            .field("keys", &self.keys.iter().map(|k| k.name.as_str()).collect::<Vec<_>>())
            .finish()
    }
}

impl Auth {
    /// Builds the store from config, reading `key_env` variables now. A missing variable fails.
    pub fn from_config(cfg: &AuthConfig) -> Result<Self, String> {
        let mut keys = Vec::new();
        for (i, k) in cfg.api_keys.iter().enumerate() {
            let secret = match (&k.key, &k.key_env) {
                (Some(s), _) => s.clone(),
                (None, Some(var)) => std::env::var(var)
                    .map_err(|_| format!("auth.api_keys[{i}].key_env: environment variable {var} is not set"))?,
                (None, None) => return Err(format!("auth.api_keys[{i}]: give key or key_env")),
            };
            if secret.len() < 8 {
                return Err(format!("auth.api_keys[{i}]: a key must be at least 8 characters"));
            }
            let name = if k.name.is_empty() { format!("key{i}") } else { k.name.clone() };
            keys.push(Key { name, secret: secret.into_bytes(), permissions: k.permissions.clone() });
        }
        Ok(Self { enabled: cfg.enabled, keys })
    }

    /// Whether keys are required.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Checks a presented key for a permission.
    pub fn authorize(&self, presented: Option<&str>, permission: &'static str) -> Result<Principal, AuthError> {
        if !self.enabled {
            return Ok(Principal { name: "anonymous".into() });
        }
        let presented = presented.ok_or(AuthError::Unauthenticated)?.as_bytes();
        // Compare against every key (no early exit) so timing does not reveal which matched.
        let mut found: Option<&Key> = None;
        for k in &self.keys {
            if constant_time_eq(&k.secret, presented) {
                found = Some(k);
            }
        }
        let key = found.ok_or(AuthError::Unauthenticated)?;
        if key.permissions.iter().any(|p| p == "*" || p == permission) {
            Ok(Principal { name: key.name.clone() })
        } else {
            Err(AuthError::Forbidden(permission))
        }
    }
}

/// Extracts a key from header values: `X-API-Key: k` or `Authorization: Bearer k`.
pub fn key_from_headers<'a>(api_key: Option<&'a str>, authorization: Option<&'a str>) -> Option<&'a str> {
    api_key.map(str::trim).filter(|k| !k.is_empty()).or_else(|| {
        authorization
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|k| !k.is_empty())
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u8 | u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ApiKeyConfig;

    fn auth() -> Auth {
        Auth::from_config(&AuthConfig {
            allow_unauthenticated_public: false,
            enabled: true,
            api_keys: vec![
                ApiKeyConfig {
                    name: "reader".into(),
                    key: Some("reader-key-1".into()),
                    key_env: None,
                    permissions: vec!["tasks:read".into()],
                },
                ApiKeyConfig {
                    name: "admin".into(),
                    key: Some("admin-key-12".into()),
                    key_env: None,
                    permissions: vec!["*".into()],
                },
            ],
        })
        .unwrap()
    }

    #[test]
    fn missing_or_wrong_key_is_unauthenticated() {
        let a = auth();
        assert_eq!(a.authorize(None, "tasks:read"), Err(AuthError::Unauthenticated));
        assert_eq!(a.authorize(Some("reader-key-2"), "tasks:read"), Err(AuthError::Unauthenticated));
        assert_eq!(a.authorize(Some("reader-key-1x"), "tasks:read"), Err(AuthError::Unauthenticated));
    }

    #[test]
    fn permissions_are_checked_and_star_grants_all() {
        let a = auth();
        assert!(a.authorize(Some("reader-key-1"), "tasks:read").is_ok());
        assert_eq!(a.authorize(Some("reader-key-1"), "tasks:create"), Err(AuthError::Forbidden("tasks:create")));
        assert_eq!(a.authorize(Some("admin-key-12"), "dlq:update").unwrap().name, "admin");
    }

    #[test]
    fn bearer_and_header_keys_are_read() {
        assert_eq!(key_from_headers(Some("k1"), None), Some("k1"));
        assert_eq!(key_from_headers(None, Some("Bearer k2")), Some("k2"));
        assert_eq!(key_from_headers(None, Some("Basic xyz")), None);
    }
}
