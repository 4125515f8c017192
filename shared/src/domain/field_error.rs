//! A validation failure tied to the input field that caused it, so callers learn
//! *which* field to fix (`payload.owner_email: not an email address`).

use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

/// At most this many errors are reported for one input; a body wrong everywhere says
/// enough with these.
const MAX_REPORTED: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Dotted path of the field, e.g. `payload.resources.cpu`.
    pub field: String,
    pub message: String,
    /// Further errors found in the same input, each in another field, so one answer
    /// names everything there is to fix.
    #[serde(skip)]
    pub also: Vec<FieldError>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
            also: Vec::new(),
        }
    }

    /// The same error seen from one level up (`x` under `payload` is `payload.x`).
    pub fn under(self, parent: &str) -> Self {
        self.map_fields(&|field| match (parent.is_empty(), field.is_empty()) {
            (true, _) => field.to_owned(),
            (false, true) => parent.to_owned(),
            (false, false) => format!("{parent}.{field}"),
        })
    }

    /// The error with every field it names (its own and those of `also`) renamed.
    pub fn map_fields(self, rename: &dyn Fn(&str) -> String) -> Self {
        FieldError {
            field: rename(&self.field),
            message: self.message,
            also: self
                .also
                .into_iter()
                .map(|e| e.map_fields(rename))
                .collect(),
        }
    }

    /// This error and the further ones, in the order they were found.
    pub fn all(&self) -> impl Iterator<Item = &FieldError> {
        std::iter::once(self).chain(self.also.iter())
    }
}

/// Deserializes `value` as `T`, reporting the path of each failing field under `root`
/// (serde's own errors only say what failed, not where). Serde stops at the first bad
/// field; to name the others, the top-level field holding it is taken out and the rest
/// tried again (so a nested object reports its first bad field).
pub fn deserialize_at<T: DeserializeOwned>(
    root: &str,
    value: &serde_json::Value,
) -> Result<T, FieldError> {
    let (mut culprit, mut first) = match attempt::<T>(root, value) {
        Ok(parsed) => return Ok(parsed),
        Err(failure) => failure,
    };
    let mut rest = value.clone();
    let mut removed = Vec::new();
    while first.also.len() < MAX_REPORTED {
        let Some(Culprit::Present(key)) = culprit else {
            break;
        };
        match rest.as_object_mut().and_then(|map| map.remove(&key)) {
            Some(_) => removed.push(key),
            None => break,
        }
        match attempt::<T>(root, &rest) {
            Ok(_) => break,
            Err((next_culprit, next)) => {
                // Missing only because it was taken out: everything else was fine.
                if matches!(&next_culprit, Some(Culprit::Missing(name)) if removed.contains(name))
                    || first.all().any(|e| e.field == next.field)
                {
                    break;
                }
                culprit = next_culprit;
                first.also.push(next);
            }
        }
    }
    Err(first)
}

/// The top-level field an error was found in.
enum Culprit {
    /// A field that is there and wrong.
    Present(String),
    /// A required field that is not there.
    Missing(String),
}

fn attempt<T: DeserializeOwned>(
    root: &str,
    value: &serde_json::Value,
) -> Result<T, (Option<Culprit>, FieldError)> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.inner().to_string();
        let top = match err.path().iter().next() {
            Some(Segment::Map { key }) => Some(key.clone()),
            _ => None,
        };
        let mut culprit = top.clone().map(Culprit::Present);
        let mut field = match path.as_str() {
            "." | "" => String::new(),
            p => p.to_owned(),
        };
        // Serde reports a missing field at the parent's path; name the field itself,
        // which is what the caller has to add.
        if let Some(name) = quoted_field(&message, "missing field `") {
            field = if field.is_empty() {
                culprit = Some(Culprit::Missing(name.to_owned()));
                name.to_owned()
            } else {
                format!("{field}.{name}")
            };
        }
        (culprit, FieldError::new(field, message).under(root))
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
    fn every_bad_field_is_named_not_only_the_first() {
        let err = deserialize_at::<Outer>(
            "payload",
            &json!({"name": 7, "inner": {"count": -1}, "extra": true}),
        )
        .unwrap_err();
        let mut fields: Vec<&str> = err.all().map(|e| e.field.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            ["payload.extra", "payload.inner.count", "payload.name"]
        );
        let err = deserialize_at::<Outer>("", &json!({"inner": {"count": -1}})).unwrap_err();
        let fields: Vec<&str> = err.all().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["inner.count", "name"], "a missing field too");
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
