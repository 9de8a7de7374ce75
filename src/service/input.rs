//! The one check of text every request carries: PostgreSQL cannot store a NUL character
//! (U+0000) in `text` (SQLSTATE 22021) nor in `jsonb` strings (22P05). Both transports call the
//! service, so checking here answers 422 / INVALID_ARGUMENT naming the field, before any
//! database work, for every text parameter and every JSON document.

use serde_json::Value;

use super::{ServiceError, ServiceResult};

fn nul_error(what: &str) -> ServiceError {
    ServiceError::InvalidInput(format!(
        "{what} contains a NUL character (\\u0000), which cannot be stored: remove it or encode the data"
    ))
}

/// Rejects a text parameter holding a NUL character, naming the field.
pub(crate) fn text(field: &str, value: &str) -> ServiceResult<()> {
    if value.contains('\0') {
        return Err(nul_error(field));
    }
    Ok(())
}

/// [`text`] for an optional parameter.
pub(crate) fn opt_text(field: &str, value: Option<&str>) -> ServiceResult<()> {
    value.map_or(Ok(()), |v| text(field, v))
}

/// [`text`] for each of a list, naming the item (`tags[2]`).
pub(crate) fn texts<'a>(field: &str, values: impl IntoIterator<Item = &'a String>) -> ServiceResult<()> {
    for (i, v) in values.into_iter().enumerate() {
        if v.contains('\0') {
            return Err(nul_error(&format!("{field}[{i}]")));
        }
    }
    Ok(())
}

/// Rejects a JSON document with a NUL character in any string or property name, naming its
/// path (`context.customer.note`, `context.items[3]`). Iterative: a deep document costs no stack.
pub(crate) fn json(field: &str, value: &Value) -> ServiceResult<()> {
    let mut stack: Vec<(String, &Value)> = vec![(field.to_string(), value)];
    while let Some((path, v)) = stack.pop() {
        match v {
            Value::String(s) if s.contains('\0') => return Err(nul_error(&path)),
            Value::Array(items) => {
                stack.extend(items.iter().enumerate().map(|(i, item)| (format!("{path}[{i}]"), item)));
            }
            Value::Object(map) => {
                for (k, item) in map {
                    if k.contains('\0') {
                        return Err(nul_error(&format!("a property name of {path}")));
                    }
                    stack.push((format!("{path}.{k}"), item));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_the_path_of_the_nul() {
        let err = json("context", &json!({"a": [1, {"b": "x\u{0}"}]})).expect_err("nul");
        assert!(err.to_string().starts_with("context.a[1].b contains a NUL"), "{err}");
        let err = json("context", &json!({"k\u{0}": 1})).expect_err("nul key");
        assert!(err.to_string().contains("property name of context"), "{err}");
        assert!(json("context", &json!({"a": ["ok", 1, null]})).is_ok());
        assert!(text("reason", "fine").is_ok());
        assert!(matches!(text("reason", "\u{0}"), Err(ServiceError::InvalidInput(_))));
        assert!(texts("tags", &["a".to_string(), "\u{0}".to_string()])
            .expect_err("nul")
            .to_string()
            .contains("tags[1]"));
    }
}
