//! Label selectors (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`) and field selectors
//! (`metadata.name=x`, `status.phase!=Running`, ...).

use serde_json::Value;

use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<Requirement>);

/// Splits on commas that are not inside a `( … )` value set.
fn split_top_level(input: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in input.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&input[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

fn value_set(raw: &str) -> Option<Vec<String>> {
    let inner = raw.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(
        inner
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect(),
    )
}

fn parse_requirement(part: &str) -> Option<Requirement> {
    if let Some(key) = part.strip_prefix('!') {
        return Some(Requirement::DoesNotExist(key.trim().to_string()));
    }
    if let Some((key, value)) = part.split_once("!=") {
        return Some(Requirement::NotEquals(
            key.trim().into(),
            value.trim().into(),
        ));
    }
    if let Some((key, value)) = part.split_once("==") {
        return Some(Requirement::Equals(key.trim().into(), value.trim().into()));
    }
    if let Some((key, value)) = part.split_once('=') {
        return Some(Requirement::Equals(key.trim().into(), value.trim().into()));
    }
    let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    if let [key, rest] = words[..] {
        let rest = rest.trim();
        if let Some(set) = rest.strip_prefix("notin") {
            return Some(Requirement::NotIn(key.into(), value_set(set)?));
        }
        if let Some(set) = rest.strip_prefix("in") {
            return Some(Requirement::In(key.into(), value_set(set)?));
        }
        return None;
    }
    Some(Requirement::Exists(part.trim().to_string()))
}

impl LabelSelector {
    pub fn parse(input: &str) -> Result<Self, ApiError> {
        split_top_level(input)
            .into_iter()
            .map(|part| {
                parse_requirement(part).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "unable to parse requirement: found '{part}', expected: in, notin, =, ==, !=, gt, lt"
                    ))
                })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn matches(&self, labels: &Value) -> bool {
        let get = |key: &str| labels.get(key).and_then(Value::as_str);
        self.0.iter().all(|req| match req {
            Requirement::Equals(k, v) => get(k) == Some(v),
            Requirement::NotEquals(k, v) => get(k) != Some(v),
            Requirement::In(k, vs) => get(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|l| vs.iter().all(|v| v != l)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    pub fn parse(input: &str) -> Result<Self, ApiError> {
        split_top_level(input)
            .into_iter()
            .map(|part| {
                let (path, equal, value) = if let Some((p, v)) = part.split_once("!=") {
                    (p, false, v)
                } else if let Some((p, v)) = part.split_once("==") {
                    (p, true, v)
                } else if let Some((p, v)) = part.split_once('=') {
                    (p, true, v)
                } else {
                    return Err(ApiError::bad_request(format!(
                        "invalid selector: '{part}'; can't understand '{part}'"
                    )));
                };
                Ok((path.trim().to_string(), equal, value.trim().to_string()))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether every term holds for `object`; missing fields compare as empty, like the apiserver.
    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(path, equal, value)| {
            let found = path
                .split('.')
                .try_fold(object, |v, segment| v.get(segment))
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                })
                .unwrap_or_default();
            (found == *value) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_based_label_requirements_match() {
        let labels = json!({"app": "web", "tier": "front"});
        let yes = [
            "app=web",
            "app==web,tier",
            "app in (web, api)",
            "env notin (prod)",
            "!env",
            "tier!=back",
        ];
        for selector in yes {
            assert!(
                LabelSelector::parse(selector).unwrap().matches(&labels),
                "{selector}"
            );
        }
        let no = [
            "app=api",
            "env",
            "!app",
            "app notin (web)",
            "tier in (back)",
        ];
        for selector in no {
            assert!(
                !LabelSelector::parse(selector).unwrap().matches(&labels),
                "{selector}"
            );
        }
    }

    #[test]
    fn field_selectors_read_dotted_paths() {
        let object =
            json!({"metadata": {"name": "a", "namespace": "ns"}, "status": {"phase": "Running"}});
        assert!(
            FieldSelector::parse("metadata.name=a,metadata.namespace==ns")
                .unwrap()
                .matches(&object)
        );
        assert!(
            !FieldSelector::parse("status.phase!=Running")
                .unwrap()
                .matches(&object)
        );
    }
}
