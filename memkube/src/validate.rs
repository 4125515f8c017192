//! The minimal validation a real apiserver applies to every object: names and labels.

use serde_json::Value;

use crate::error::{ApiError, Cause, Subject};
use crate::resources::ResourceDef;

fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

fn is_path_segment(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains('/') && !s.contains('%')
}

fn is_label_value(s: &str) -> bool {
    s.is_empty()
        || (s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric())
}

fn is_qualified_name(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    prefix.is_none_or(is_dns1123_subdomain) && !name.is_empty() && is_label_value(name)
}

fn name_rule(def: &ResourceDef) -> (fn(&str) -> bool, &'static str) {
    match (def.group.as_str(), def.plural.as_str()) {
        ("", "namespaces") | ("", "services") => (
            is_dns1123_label,
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
        ),
        ("rbac.authorization.k8s.io", _) => (
            is_path_segment,
            "may not be '.' or '..' and may not contain '/' or '%'",
        ),
        _ => (
            is_dns1123_subdomain,
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        ),
    }
}

/// Checks name and labels; returns an `Invalid` error listing every problem.
pub fn validate_object(def: &ResourceDef, object: &Value) -> Result<(), ApiError> {
    let meta = &object["metadata"];
    let name = meta["name"].as_str().unwrap_or_default();
    let mut causes = Vec::new();
    let (valid_name, rule) = name_rule(def);
    if name.is_empty() {
        causes.push(Cause {
            field: "metadata.name".into(),
            reason: "FieldValueRequired",
            message: "Required value: name or generateName is required".into(),
        });
    } else if !valid_name(name) {
        causes.push(Cause {
            field: "metadata.name".into(),
            reason: "FieldValueInvalid",
            message: format!("Invalid value: \"{name}\": {rule}"),
        });
    }
    if let Some(labels) = meta["labels"].as_object() {
        for (key, value) in labels {
            if !is_qualified_name(key) {
                causes.push(Cause {
                    field: "metadata.labels".into(),
                    reason: "FieldValueInvalid",
                    message: format!("Invalid value: \"{key}\": name part must consist of alphanumeric characters, '-', '_' or '.'"),
                });
            }
            match value.as_str() {
                Some(v) if is_label_value(v) => {}
                _ => causes.push(Cause {
                    field: "metadata.labels".into(),
                    reason: "FieldValueInvalid",
                    message: format!("Invalid value: {value}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.'"),
                }),
            }
        }
    }
    causes.extend(crate::validate_workloads::causes(def, object));
    if causes.is_empty() {
        return Ok(());
    }
    let kind = if def.group.is_empty() {
        def.kind.clone()
    } else {
        format!("{}.{}", def.kind, def.group)
    };
    Err(ApiError::invalid(
        &kind,
        Subject {
            group: &def.group,
            plural: &def.plural,
            name,
        },
        causes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dns_rules() {
        assert!(is_dns1123_subdomain("my-app.v1"));
        assert!(!is_dns1123_subdomain("My_App"));
        assert!(is_dns1123_label("team-a"));
        assert!(!is_dns1123_label("team.a"));
        assert!(is_qualified_name("app.kubernetes.io/name"));
        assert!(!is_label_value("-bad"));
    }
}
