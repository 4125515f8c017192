//! The JSONPath subset CRD printer columns are written in: `.a.b`, `['a']`, `[index]`, `[*]`
//! and `[?(@.type=='Ready')]` filters. Like client-go's `jsonpath` with missing keys
//! allowed, a path that leads nowhere selects nothing rather than failing.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    All,
    Filter {
        path: Vec<Step>,
        equal: bool,
        value: Value,
    },
}

/// The values `path` selects in `object`, in document order; `None` when the path is
/// outside the subset.
pub fn find<'a>(object: &'a Value, path: &str) -> Option<Vec<&'a Value>> {
    let path = path.trim();
    let path = path
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or(path);
    let steps = parse(path.trim())?;
    Some(select(vec![object], &steps))
}

fn parse(path: &str) -> Option<Vec<Step>> {
    let mut rest = path.strip_prefix('$').unwrap_or(path);
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            match &after[..end] {
                "" => return None,
                "*" => steps.push(Step::All),
                name => steps.push(Step::Field(name.to_string())),
            }
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let close = closing_bracket(after)?;
            steps.push(bracket(after[..close].trim())?);
            rest = &after[close + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

/// Where the bracket opened just before `text` closes, skipping quoted text and nested
/// brackets (a filter may index too).
fn closing_bracket(text: &str) -> Option<usize> {
    let mut depth = 0;
    let mut quote = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') if depth == 0 => return Some(i),
            (None, ']') => depth -= 1,
            _ => {}
        }
    }
    None
}

fn bracket(inner: &str) -> Option<Step> {
    if inner == "*" {
        return Some(Step::All);
    }
    if let Some(expression) = inner.strip_prefix("?(").and_then(|e| e.strip_suffix(')')) {
        return filter(expression.trim());
    }
    if let Some(text) = quoted(inner) {
        return Some(Step::Field(text.to_string()));
    }
    inner.parse().ok().map(Step::Index)
}

fn filter(expression: &str) -> Option<Step> {
    let (left, equal, right) = if let Some((l, r)) = expression.split_once("==") {
        (l, true, r)
    } else {
        let (l, r) = expression.split_once("!=")?;
        (l, false, r)
    };
    let path = parse(left.trim().strip_prefix('@')?)?;
    let right = right.trim();
    let value = match quoted(right) {
        Some(text) => Value::String(text.to_string()),
        None => serde_json::from_str(right).ok()?,
    };
    Some(Step::Filter { path, equal, value })
}

fn quoted(text: &str) -> Option<&str> {
    ['\'', '"'].iter().find_map(|q| {
        text.strip_prefix(*q)
            .and_then(|t| t.strip_suffix(*q))
            .filter(|t| !t.contains(*q))
    })
}

fn select<'a>(mut current: Vec<&'a Value>, steps: &[Step]) -> Vec<&'a Value> {
    for step in steps {
        current = current.into_iter().flat_map(|v| apply(v, step)).collect();
    }
    current
}

fn apply<'a>(value: &'a Value, step: &Step) -> Vec<&'a Value> {
    match (step, value) {
        (Step::Field(name), Value::Object(map)) => map.get(name).into_iter().collect(),
        (Step::Index(i), Value::Array(items)) => {
            let index = if *i < 0 { items.len() as i64 + i } else { *i };
            usize::try_from(index)
                .ok()
                .and_then(|i| items.get(i))
                .into_iter()
                .collect()
        }
        (Step::All, Value::Array(items)) => items.iter().collect(),
        (Step::All, Value::Object(map)) => map.values().collect(),
        (Step::Filter { path, equal, value }, Value::Array(items)) => items
            .iter()
            .filter(|item| {
                select(vec![item], path)
                    .first()
                    .is_some_and(|found| (*found == value) == *equal)
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn condition_filters_pick_the_matching_entry() {
        let vmi = json!({ "status": {
            "conditions": [
                { "type": "LiveMigratable", "status": "False" },
                { "type": "Ready", "status": "True" },
            ],
            "interfaces": [{ "ipAddress": "10.244.0.7" }],
        }});
        let ready = find(&vmi, ".status.conditions[?(@.type=='Ready')].status").unwrap();
        assert_eq!(ready, [&json!("True")]);
        let ip = find(&vmi, "{.status.interfaces[0].ipAddress}").unwrap();
        assert_eq!(ip, [&json!("10.244.0.7")]);
        assert!(
            find(&vmi, ".status.nodeName").unwrap().is_empty(),
            "a missing key selects nothing"
        );
        assert!(find(&vmi, "status").is_none(), "paths start with a dot");
    }
}
