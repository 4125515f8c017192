//! A validation failure tied to the input field that caused it, so callers learn
//! *which* field to fix (`payload.owner_email: not an email address`).

use serde::de::DeserializeOwned;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Dotted path of the field, e.g. `payload.resources.cpu`.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error seen from one level up (`x` under `payload` is `payload.x`).
    pub fn under(self, parent: &str) -> Self {
        let field = match (parent.is_empty(), self.field.is_empty()) {
            (true, _) => self.field,
            (false, true) => parent.to_owned(),
            (false, false) => format!("{parent}.{}", self.field),
        };
        FieldError { field, ..self }
    }
}

/// Deserializes `value` as `T`, reporting the path of the first failing field under
/// `root` (serde's own errors only say what failed, not where).
pub fn deserialize_at<T: DeserializeOwned>(
    root: &str,
    value: &serde_json::Value,
) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.inner().to_string();
        let mut field = match path.as_str() {
            "." | "" => String::new(),
            p => p.to_owned(),
        };
        // Serde reports a missing field at the parent's path; name the field itself,
        // which is what the caller has to add.
        if let Some(name) = quoted_field(&message, "missing field `") {
            field = if field.is_empty() {
                name.to_owned()
            } else {
                format!("{field}.{name}")
            };
        }
        FieldError::new(field, message).under(root)
    })
}

fn quoted_field<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?;
    rest.split('`').next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        inner: Inner,
    }

    #[test]
    fn nested_type_errors_name_the_full_path() {
        let err = deserialize_at::<Outer>("payload", &json!({"name": "x", "inner": {"count": -1}}))
            .unwrap_err();
        assert_eq!(err.field, "payload.inner.count");
    }

    #[test]
    fn missing_and_unknown_fields_name_the_field_itself() {
        let err = deserialize_at::<Outer>("payload", &json!({"inner": {"count": 1}})).unwrap_err();
        assert_eq!(err.field, "payload.name");
        let err =
            deserialize_at::<Outer>("", &json!({"name": "x", "inner": {"count": 1, "extra": 2}}))
                .unwrap_err();
        assert_eq!(err.field, "inner.extra");
    }
}
