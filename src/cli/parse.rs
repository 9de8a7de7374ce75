//! Parsers of argument values: template references and times.

use chrono::{DateTime, Duration, Utc};

/// NAMESPACE/NAME[@VERSION].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRef {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Version; `None` = the most recently registered.
    pub version: Option<String>,
}

impl std::fmt::Display for TemplateRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)?;
        match &self.version {
            Some(v) => write!(f, "@{v}"),
            None => Ok(()),
        }
    }
}

/// Parses NAMESPACE/NAME[@VERSION].
pub fn parse_template_ref(s: &str) -> Result<TemplateRef, String> {
    let usage = || format!("'{s}' is not NAMESPACE/NAME[@VERSION] (e.g. orders/order_fulfillment@1.0.0)");
    let (namespace, rest) = s.split_once('/').ok_or_else(usage)?;
    let (name, version) = match rest.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (rest, None),
    };
    if namespace.is_empty() || name.is_empty() || name.contains('/') || version.is_some_and(str::is_empty) {
        return Err(usage());
    }
    Ok(TemplateRef { namespace: namespace.into(), name: name.into(), version: version.map(Into::into) })
}

/// Parses an RFC 3339 time, or a duration ago (`90s`, `30m`, `24h`, `7d`, `2w`).
pub fn parse_since(s: &str) -> Result<DateTime<Utc>, String> {
    parse_since_at(s, Utc::now())
}

/// [`parse_since`] relative to `now`.
pub fn parse_since_at(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let usage = || format!("'{s}' is neither an RFC 3339 time (2024-05-01T12:00:00Z) nor a duration (30m, 24h, 7d)");
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(usage)?;
    let (digits, unit) = s.split_at(split);
    let n: i64 = digits.parse().map_err(|_| usage())?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(usage()),
    };
    let ago = n.checked_mul(seconds).and_then(Duration::try_seconds).ok_or_else(usage)?;
    now.checked_sub_signed(ago).ok_or_else(usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_refs_parse() {
        let r = parse_template_ref("orders/order_fulfillment@1.0.0").ok();
        assert_eq!(r.as_ref().map(|r| r.version.as_deref()), Some(Some("1.0.0")));
        assert_eq!(parse_template_ref("demo/diamond").ok().map(|r| r.to_string()), Some("demo/diamond".into()));
        for bad in ["demo", "/x", "demo/", "a/b/c", "a/b@"] {
            assert!(parse_template_ref(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn since_takes_times_and_durations() {
        let now = Utc::now();
        assert_eq!(parse_since_at("24h", now), Ok(now - Duration::hours(24)));
        assert_eq!(parse_since_at("7d", now), Ok(now - Duration::days(7)));
        assert_eq!(parse_since_at("30m", now), Ok(now - Duration::minutes(30)));
        let t = parse_since_at("2024-05-01T12:00:00Z", now).map(|t| t.to_rfc3339());
        assert_eq!(t, Ok("2024-05-01T12:00:00+00:00".to_string()));
        for bad in ["", "h", "24", "24y", "-1h", "yesterday", "99999999999999999999d"] {
            assert!(parse_since_at(bad, now).is_err(), "{bad}");
        }
    }
}
